/*
 * Log lines to stderr with a UTC millisecond timestamp, pid and role.
 * The role and verbosity are per process (set once after fork/exec), so this
 * is process state, not state shared between runs.
 */
#include <sys/time.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"

static char	log_role[32] = "main";
static int	log_level = 1;

/* Set the role tag and verbosity (0 warnings, 1 info, 2 debug). */
void
log_init(const char *role, int verbosity)
{
	log_setrole(role);
	log_level = verbosity;
}

/* Change the role tag, e.g. after a worker is exec'd. */
void
log_setrole(const char *role)
{
	snprintf(log_role, sizeof log_role, "%s", role);
}

/* Return the verbosity set by log_init. */
int
log_verbosity(void)
{
	return log_level;
}

static void
log_vwrite(const char *level, const char *fmt, va_list ap, const char *err)
{
	struct timeval	 tv;
	struct tm	 tm;
	char		 ts[32], msg[4096];

	gettimeofday(&tv, NULL);
	gmtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	vsnprintf(msg, sizeof msg, fmt, ap);
	if (err != NULL)
		fprintf(stderr, "%s.%03ldZ agentd[%ld] %s %s: %s: %s\n", ts,
		    (long)(tv.tv_usec / 1000), (long)getpid(), log_role, level,
		    msg, err);
	else
		fprintf(stderr, "%s.%03ldZ agentd[%ld] %s %s: %s\n", ts,
		    (long)(tv.tv_usec / 1000), (long)getpid(), log_role, level,
		    msg);
}

void
log_warn(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite("warn", fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void
log_warnx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("warn", fmt, ap, NULL);
	va_end(ap);
}

void
log_info(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < 1)
		return;
	va_start(ap, fmt);
	log_vwrite("info", fmt, ap, NULL);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list	ap;

	if (log_level < 2)
		return;
	va_start(ap, fmt);
	log_vwrite("debug", fmt, ap, NULL);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, strerror(saved));
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vwrite("fatal", fmt, ap, NULL);
	va_end(ap);
	exit(1);
}
