/*
 * The PostgreSQL store: leases, claims, retries, cancel, resume, prune.
 * Not written yet: every call fails with a message saying so.
 */
#include <stdint.h>
#include <stdlib.h>

#include "log.h"
#include "store-pg.h"

int
pgs_rearm(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_rearm is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_release_owner(struct pgstore *ps, const char *owner)
{
	(void)ps;
	(void)owner;
	log_warnx("store: pgs_release_owner is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_assign(struct pgstore *ps, const char *owner, int64_t expires,  struct
    store_assign *out, int max)
{
	(void)ps;
	(void)owner;
	(void)expires;
	(void)out;
	(void)max;
	log_warnx("store: pgs_assign is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_inflight(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_inflight is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_attempt_end(struct pgstore *ps, int64_t n, const char *status,  int error_status,
    const char *error_message)
{
	(void)ps;
	(void)n;
	(void)status;
	(void)error_status;
	(void)error_message;
	log_warnx("store: pgs_attempt_end is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_run_retry(struct pgstore *ps, int64_t n, int64_t gen,  const char *status, int
    error_status, const char *error_message,  int64_t delay_ms)
{
	(void)ps;
	(void)n;
	(void)gen;
	(void)status;
	(void)error_status;
	(void)error_message;
	(void)delay_ms;
	log_warnx("store: pgs_run_retry is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_renew(struct pgstore *ps, const char *owner, int64_t expires)
{
	(void)ps;
	(void)owner;
	(void)expires;
	log_warnx("store: pgs_renew is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_abandon_stale(struct pgstore *ps, int64_t now, int64_t stale_ms,  int64_t retry_ms,
    store_abandon_cb cb, void *arg)
{
	(void)ps;
	(void)now;
	(void)stale_ms;
	(void)retry_ms;
	(void)cb;
	(void)arg;
	log_warnx("store: pgs_abandon_stale is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_resume(struct pgstore *ps, const char *id, const char **msg)
{
	(void)ps;
	(void)id;
	(void)msg;
	log_warnx("store: pgs_resume is not implemented on PostgreSQL yet");
	return -1;
}

json_t *
pgs_resume_stale(struct pgstore *ps)
{
	(void)ps;
	log_warnx("store: pgs_resume_stale is not implemented on PostgreSQL yet");
	return NULL;
}

int
pgs_cancel(struct pgstore *ps, const char *id, int64_t *n,  char **owner, char
    **backend_id, char **endpoint,  const char **msg)
{
	(void)ps;
	(void)id;
	(void)n;
	(void)owner;
	(void)backend_id;
	(void)endpoint;
	(void)msg;
	log_warnx("store: pgs_cancel is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_prune(struct pgstore *ps, int64_t cutoff)
{
	(void)ps;
	(void)cutoff;
	log_warnx("store: pgs_prune is not implemented on PostgreSQL yet");
	return -1;
}

int
pgs_run_delete(struct pgstore *ps, const char *id)
{
	(void)ps;
	(void)id;
	log_warnx("store: pgs_run_delete is not implemented on PostgreSQL yet");
	return -1;
}
