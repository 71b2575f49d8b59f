/*
 * Small helpers shared by every program: clocks, run ids, durations,
 * strict number parsing. No state.
 */
#ifndef AGENTD_UTIL_H
#define AGENTD_UTIL_H

#include <stddef.h>
#include <stdint.h>

#define AGENTD_VERSION "0.1.0"

int64_t	 util_now_ms(void);		/* wall clock, unix ms */
int64_t	 util_mono_ms(void);		/* CLOCK_MONOTONIC ms */
int64_t	 util_mono_us(void);		/* CLOCK_MONOTONIC us */
void	 util_run_id(char *buf, size_t len);	/* "r_" + 16 hex chars */
int	 util_parse_int(const char *s, long long min, long long max,
	    long long *out);
int	 util_parse_duration(const char *s, long long *seconds);
void	 util_fmt_age(int64_t ms, char *buf, size_t len);
int	 util_hexval(int c);		/* a hex digit's value, or -1 */



/*
 * The default socket path: $AGENTD_SOCKET, else $XDG_RUNTIME_DIR/agentd.sock,
 * else /run/agentd/agentd.sock. Writes into buf.
 */
void	 util_default_socket(char *buf, size_t len);
#endif
