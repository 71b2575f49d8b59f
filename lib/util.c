/*
 * Clocks, identifiers and strict parsers used by agentd, agentctl and
 * agent-mock.
 */
#include <sys/random.h>

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util.h"

/* Return wall-clock time in unix milliseconds. */
int64_t
util_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Return CLOCK_MONOTONIC milliseconds, for elapsed time and leases. */
int64_t
util_mono_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Return CLOCK_MONOTONIC microseconds, for short durations. */
int64_t
util_mono_us(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* The value of a hex digit (either case), or -1. */
int
util_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Write a new random run id "r_<16 hex>" into buf (at least 19 bytes). */
void
util_run_id(char *buf, size_t len)
{
	unsigned char	r[8];
	size_t		i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		for (i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)((ts.tv_nsec >> (i * 3)) ^
			    (rand() & 0xff));
	}
	snprintf(buf, len, "r_%02x%02x%02x%02x%02x%02x%02x%02x", r[0], r[1],
	    r[2], r[3], r[4], r[5], r[6], r[7]);
}

/*
 * Parse a whole decimal integer in [min, max]. Return 0, or -1 for empty
 * input, trailing junk or out of range.
 */
int
util_parse_int(const char *s, long long min, long long max, long long *out)
{
	char		*end;
	long long	 v;

	if (s == NULL || *s == '\0' || isspace((unsigned char)*s))
		return -1;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

/*
 * Parse a duration like "90", "90s", "15m", "2h", "7d" into seconds.
 * Return 0, or -1 if malformed.
 */
int
util_parse_duration(const char *s, long long *seconds)
{
	char		 num[32];
	size_t		 n;
	long long	 v, mult = 1;

	if (s == NULL || (n = strlen(s)) == 0 || n >= sizeof num)
		return -1;
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; num[n - 1] = '\0'; break;
	case 'm': mult = 60; num[n - 1] = '\0'; break;
	case 'h': mult = 3600; num[n - 1] = '\0'; break;
	case 'd': mult = 86400; num[n - 1] = '\0'; break;
	case 'w': mult = 604800; num[n - 1] = '\0'; break;
	default: break;
	}
	if (util_parse_int(num, 0, 100LL * 365 * 86400, &v) != 0)
		return -1;
	*seconds = v * mult;
	return 0;
}

/* Format a millisecond span as "3s", "5m", "2h", "4d". */
void
util_fmt_age(int64_t ms, char *buf, size_t len)
{
	int64_t	s = ms / 1000;

	if (s < 0)
		s = 0;
	if (s < 60)
		snprintf(buf, len, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, len, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, len, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, len, "%lldd", (long long)(s / 86400));
}

/* Write the default API socket path into buf. */
void
util_default_socket(char *buf, size_t len)
{
	const char	*s;

	if ((s = getenv("AGENTD_SOCKET")) != NULL && *s != '\0')
		snprintf(buf, len, "%s", s);
	else if ((s = getenv("XDG_RUNTIME_DIR")) != NULL && *s != '\0')
		snprintf(buf, len, "%s/agentd.sock", s);
	else
		snprintf(buf, len, "/run/agentd/agentd.sock");
}
