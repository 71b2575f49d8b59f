/*
 * Counters a worker keeps about its backend traffic and store writes, sent
 * cumulatively on every heartbeat and summed by the supervisor for
 * /metrics. Plain data; no I/O.
 */
#ifndef AGENTD_STATS_H
#define AGENTD_STATS_H

#include <stdint.h>

#include <jansson.h>

#define STATS_WRITE_BUCKETS	12
#define STATS_HTTP_MAX		600

struct wstats {
	uint64_t	creates;
	uint64_t	resumes;
	uint64_t	polls;
	uint64_t	net_errors;	/* no HTTP answer */
	uint64_t	events;		/* events committed */
	uint64_t	pauses;		/* reads paused: backpressure */
	uint64_t	yields;		/* flushes cut for the supervisor */
	uint64_t	lean;		/* requests by the own HTTP client */
	uint64_t	http[STATS_HTTP_MAX];
	uint64_t	write_bucket[STATS_WRITE_BUCKETS + 1];	/* +Inf last */
	uint64_t	write_count;
	double		write_sum_ms;
};

/* Upper bounds (ms) of the store write latency histogram buckets. */
double	 stats_write_bound(int i);
void	 stats_http(struct wstats *s, long status);
void	 stats_write(struct wstats *s, double ms);
json_t	*stats_json(const struct wstats *s);
/* Replace *s with the counters in j (missing fields are zero). */
void	 stats_from_json(struct wstats *s, json_t *j);
void	 stats_add(struct wstats *acc, const struct wstats *s);

#endif
