/*
 * Logging for every agentd process: one line per event of note, to stderr
 * (the daemon runs in the foreground; systemd or the caller keeps the log).
 * Format: "<UTC ms> agentd[pid] <role> <level>: <message>".
 * Rule: log_warn appends strerror(errno); log_warnx does not. Use log_warn
 * only right after a failed system call. fatal/fatalx are for start-up and
 * broken internal invariants, never for outside input (invariant 6).
 */
#ifndef AGENTD_LOG_H
#define AGENTD_LOG_H

#include <stdarg.h>

void	log_init(const char *role, int verbosity);
void	log_setrole(const char *role);
int	log_verbosity(void);
void	log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void	fatal(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));
void	fatalx(const char *fmt, ...)
	    __attribute__((format(printf, 1, 2), noreturn));

#endif
