/*
 * Worker counters: recording, JSON on the heartbeat frame, summing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

static const double write_bounds[STATS_WRITE_BUCKETS] = {
	0.5, 1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 5000
};

/* Upper bound of bucket i in ms. */
double
stats_write_bound(int i)
{
	return write_bounds[i];
}

/* Count one HTTP answer (0: none, a network error). */
void
stats_http(struct wstats *s, long status)
{
	if (status <= 0)
		s->net_errors++;
	else if (status < STATS_HTTP_MAX)
		s->http[status]++;
}

/* Observe one store write transaction of ms milliseconds. */
void
stats_write(struct wstats *s, double ms)
{
	int	i;

	for (i = 0; i < STATS_WRITE_BUCKETS; i++)
		if (ms <= write_bounds[i])
			break;
	s->write_bucket[i]++;
	s->write_count++;
	s->write_sum_ms += ms;
}

/* Counters as JSON (a new reference). */
json_t *
stats_json(const struct wstats *s)
{
	json_t	*o, *http, *b;
	char	 code[8];
	int	 i;

	http = json_object();
	for (i = 0; i < STATS_HTTP_MAX; i++)
		if (s->http[i] != 0) {
			snprintf(code, sizeof code, "%d", i);
			json_object_set_new(http, code,
			    json_integer((json_int_t)s->http[i]));
		}
	b = json_array();
	for (i = 0; i <= STATS_WRITE_BUCKETS; i++)
		json_array_append_new(b,
		    json_integer((json_int_t)s->write_bucket[i]));
	o = json_pack("{sI sI sI sI sI sI sI sI so so sI sf}",
	    "creates", (json_int_t)s->creates,
	    "resumes", (json_int_t)s->resumes,
	    "polls", (json_int_t)s->polls,
	    "net_errors", (json_int_t)s->net_errors,
	    "events", (json_int_t)s->events,
	    "pauses", (json_int_t)s->pauses,
	    "yields", (json_int_t)s->yields,
	    "lean", (json_int_t)s->lean,
	    "http", http, "write_buckets", b,
	    "write_count", (json_int_t)s->write_count,
	    "write_sum_ms", s->write_sum_ms);
	return o;
}

static uint64_t
u64(json_t *j, const char *k)
{
	json_int_t	v = json_integer_value(json_object_get(j, k));

	return v > 0 ? (uint64_t)v : 0;
}

/* Read counters sent by a worker; unknown or bad fields count as zero. */
void
stats_from_json(struct wstats *s, json_t *j)
{
	json_t		*http, *b, *v;
	const char	*k;
	long		 code;
	char		*end;
	size_t		 i;

	memset(s, 0, sizeof *s);
	s->creates = u64(j, "creates");
	s->resumes = u64(j, "resumes");
	s->polls = u64(j, "polls");
	s->net_errors = u64(j, "net_errors");
	s->events = u64(j, "events");
	s->pauses = u64(j, "pauses");
	s->yields = u64(j, "yields");
	s->lean = u64(j, "lean");
	s->write_count = u64(j, "write_count");
	v = json_object_get(j, "write_sum_ms");
	s->write_sum_ms = json_is_number(v) ? json_number_value(v) : 0;
	http = json_object_get(j, "http");
	json_object_foreach(http, k, v) {
		code = strtol(k, &end, 10);
		if (*end == '\0' && code > 0 && code < STATS_HTTP_MAX &&
		    json_integer_value(v) > 0)
			s->http[code] = (uint64_t)json_integer_value(v);
	}
	b = json_object_get(j, "write_buckets");
	for (i = 0; i < json_array_size(b) && i <= STATS_WRITE_BUCKETS; i++)
		if (json_integer_value(json_array_get(b, i)) > 0)
			s->write_bucket[i] =
			    (uint64_t)json_integer_value(json_array_get(b, i));
}

/* acc += s. */
void
stats_add(struct wstats *acc, const struct wstats *s)
{
	int	i;

	acc->creates += s->creates;
	acc->resumes += s->resumes;
	acc->polls += s->polls;
	acc->net_errors += s->net_errors;
	acc->events += s->events;
	acc->pauses += s->pauses;
	acc->yields += s->yields;
	acc->lean += s->lean;
	for (i = 0; i < STATS_HTTP_MAX; i++)
		acc->http[i] += s->http[i];
	for (i = 0; i <= STATS_WRITE_BUCKETS; i++)
		acc->write_bucket[i] += s->write_bucket[i];
	acc->write_count += s->write_count;
	acc->write_sum_ms += s->write_sum_ms;
}
