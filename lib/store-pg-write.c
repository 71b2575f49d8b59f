/*
 * The PostgreSQL store: a run's insert and the workers' writes.
 * Not written yet: every call fails with a message saying so.
 */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "store-pg.h"

int
pgs_row_load(struct pgstore *ps, int64_t n, int64_t gen,  struct run_row *r)
{
	(void)ps;
	(void)n;
	(void)gen;
	(void)r;
	log_warnx("store: pgs_row_load is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_run_insert(struct pgstore *ps, const struct run_new *rn, char *id,  size_t idlen,
    int *created, char **cause)
{
	(void)ps;
	(void)rn;
	(void)id;
	(void)idlen;
	(void)created;
	(void)cause;
	log_warnx("store: pgs_run_insert is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_events_append(struct pgstore *ps, int64_t n, int64_t gen,  const struct store_event
    *ev, size_t nev, int64_t last_seq,  int64_t now)
{
	(void)ps;
	(void)n;
	(void)gen;
	(void)ev;
	(void)nev;
	(void)last_seq;
	(void)now;
	log_warnx("store: pgs_events_append is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_run_patch(struct pgstore *ps, int64_t n, int64_t gen,  const struct run_patch *p)
{
	(void)ps;
	(void)n;
	(void)gen;
	(void)p;
	log_warnx("store: pgs_run_patch is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_run_released(struct pgstore *ps, int64_t n, int64_t gen,  const char *reason,
    int64_t until)
{
	(void)ps;
	(void)n;
	(void)gen;
	(void)reason;
	(void)until;
	log_warnx("store: pgs_run_released is not implemented on PostgreSQL yet");
	return -1;
}

char *
pgs_delta_text(struct pgstore *ps, int64_t n)
{
	(void)ps;
	(void)n;
	log_warnx("store: pgs_delta_text is not implemented on PostgreSQL yet");
	return NULL;
}

int
pgs_caps_get(struct pgstore *ps, const char *endpoint,  struct endpoint_caps *c)
{
	(void)ps;
	(void)endpoint;
	(void)c;
	log_warnx("store: pgs_caps_get is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_caps_set(struct pgstore *ps, const char *endpoint,  const char *what, int value)
{
	(void)ps;
	(void)endpoint;
	(void)what;
	(void)value;
	log_warnx("store: pgs_caps_set is not implemented on PostgreSQL yet");
	return -1;
}
