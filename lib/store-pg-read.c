/*
 * The PostgreSQL store: the API's reads.
 * Not written yet: every call fails with a message saying so.
 */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "store-pg.h"

json_t *
pgs_run_json(struct pgstore *ps, const char *id)
{
	(void)ps;
	(void)id;
	log_warnx("store: pgs_run_json is not implemented on PostgreSQL yet");
	return NULL;
}

int64_t
pgs_run_n(struct pgstore *ps, const char *id)
{
	(void)ps;
	(void)id;
	log_warnx("store: pgs_run_n is not implemented on PostgreSQL yet");
	return -1;
}

char *
pgs_run_list(struct pgstore *ps, const char *status,  const char *queue, int64_t
    since, const char *after, int limit,  size_t *len, char **cause)
{
	(void)ps;
	(void)status;
	(void)queue;
	(void)since;
	(void)after;
	(void)limit;
	(void)len;
	(void)cause;
	log_warnx("store: pgs_run_list is not implemented on PostgreSQL yet");
	return NULL;
}

int
pgs_events_each(struct pgstore *ps, int64_t n, int64_t after,  int limit,
    store_event_cb cb, void *arg)
{
	(void)ps;
	(void)n;
	(void)after;
	(void)limit;
	(void)cb;
	(void)arg;
	log_warnx("store: pgs_events_each is not implemented on PostgreSQL yet");
	return -1;
}

json_t *
pgs_events_json(struct pgstore *ps, const char *id, int64_t after,  int limit, int
    raw, int64_t *next)
{
	(void)ps;
	(void)id;
	(void)after;
	(void)limit;
	(void)raw;
	(void)next;
	log_warnx("store: pgs_events_json is not implemented on PostgreSQL yet");
	return NULL;
}

json_t *
pgs_result_json(struct pgstore *ps, const char *id)
{
	(void)ps;
	(void)id;
	log_warnx("store: pgs_result_json is not implemented on PostgreSQL yet");
	return NULL;
}

json_t *
pgs_counts_json(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_counts_json is not implemented on PostgreSQL yet");
	return NULL;
}

int
pgs_run_state(struct pgstore *ps, int64_t n, char *status, size_t len,  int64_t
    *last_seq)
{
	(void)ps;
	(void)n;
	(void)status;
	(void)len;
	(void)last_seq;
	log_warnx("store: pgs_run_state is not implemented on PostgreSQL yet");
	return -1;
}

int64_t
pgs_count_events(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_count_events is not implemented on PostgreSQL yet");
	return -1;
}

json_t *
pgs_waiting_json(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_waiting_json is not implemented on PostgreSQL yet");
	return NULL;
}

int
pgs_run_view(struct pgstore *ps, const char *id, struct run_view *v)
{
	(void)ps;
	(void)id;
	(void)v;
	log_warnx("store: pgs_run_view is not implemented on PostgreSQL yet");
	return -1;
}
