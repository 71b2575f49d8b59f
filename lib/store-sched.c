/*
 * The store's scheduling writes, the supervisor's: leases (assign, renew,
 * re-arm, release), run-level attempts and retries, stale runs, and the
 * API's state changes (resume, cancel, prune). SQLite; see store.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "log.h"
#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

static int
exec_changes(struct store *st, const char *sql, const char *text)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		store_err(st, "prepare");
		return -1;
	}
	if (text != NULL)
		sqlite3_bind_text(s, 1, text, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE) {
		store_err(st, "update");
		return -1;
	}
	return sqlite3_changes(store_db(st));
}

/* Fence every lease: called once at supervisor start (invariant 3). */
int
store_rearm(struct store *st)
{
	if (store_pg(st) != NULL)
		return pgs_rearm(store_pg(st));
	/* A worker's record of why the run waited ends with its lease. */
	return exec_changes(st, "UPDATE runs SET lease_owner = NULL, "
	    "lease_gen = lease_gen + 1, lease_expires = NULL, wait_reason = "
	    "NULL, wait_until = NULL, wait_tries = 0 WHERE lease_owner IS NOT "
	    "NULL OR status IN " ACTIVE_SQL, NULL);
}

/* Release and fence the leases of a dead worker. */
int
store_release_owner(struct store *st, const char *owner)
{
	if (store_pg(st) != NULL)
		return pgs_release_owner(store_pg(st), owner);
	return exec_changes(st, "UPDATE runs SET lease_owner = NULL, "
	    "lease_gen = lease_gen + 1, lease_expires = NULL, wait_reason = "
	    "NULL, wait_until = NULL, wait_tries = 0 WHERE lease_owner = ?",
	    owner);
}

/*
 * Lease unowned active runs to owner: paused queues and runs waiting for a
 * retry are skipped, a queue's max_inflight is respected, and runs go by
 * queue priority, run priority, then age (FIFO).
 */
int
store_assign(struct store *st, const char *owner, int64_t expires,
    struct store_assign *out, int max)
{
	sqlite3_stmt	*sel = NULL, *upd = NULL;
	int		 count = 0, rc;
	int64_t		 now = util_now_ms();

	if (store_pg(st) != NULL)
		return pgs_assign(store_pg(st), owner, expires, out, max);

	if (max <= 0)
		return 0;
	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(store_db(st),
	    "WITH busy AS (SELECT queue, count(*) AS c FROM runs WHERE "
	    "lease_owner IS NOT NULL AND status IN " ACTIVE_SQL
	    " GROUP BY queue) "
	    "SELECT n, id, lease_gen FROM (SELECT r.n, r.id, r.lease_gen, "
	    "r.priority AS rp, coalesce(q.priority, 0) AS qp, q.max_inflight "
	    "AS mi, coalesce(b.c, 0) AS bc, row_number() OVER (PARTITION BY "
	    "r.queue ORDER BY r.priority DESC, r.n) AS k FROM runs r LEFT "
	    "JOIN queues q ON q.name = r.queue LEFT JOIN busy b ON b.queue = "
	    "r.queue WHERE r.status IN " ACTIVE_SQL " AND r.lease_owner IS "
	    "NULL AND coalesce(q.paused, 0) = 0 AND coalesce(r.not_before, 0) "
	    "<= ?1) WHERE mi IS NULL OR k <= mi - bc ORDER BY qp DESC, rp "
	    "DESC, n LIMIT ?2", -1, &sel, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v2(store_db(st), "UPDATE runs SET lease_owner = ?, "
	    "lease_gen = lease_gen + 1, lease_expires = ?, attached_at = ?, "
	    "wait_reason = NULL, wait_until = NULL, wait_tries = 0, "
	    "endpoint = CASE WHEN endpoint = '' THEN ? ELSE endpoint END "
	    "WHERE n = ?", -1, &upd, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(sel, 1, now);
	sqlite3_bind_int(sel, 2, max);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		out[count].n = sqlite3_column_int64(sel, 0);
		snprintf(out[count].id, sizeof out[count].id, "%s",
		    sqlite3_column_text(sel, 1));
		out[count].gen = sqlite3_column_int64(sel, 2) + 1;
		count++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	for (int i = 0; i < count; i++) {
		sqlite3_bind_text(upd, 1, owner, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, expires);
		sqlite3_bind_int64(upd, 3, now);
		sqlite3_bind_text(upd, 4, store_endpoint(st) != NULL ? store_endpoint(st) :
		    "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 5, out[i].n);
		if (sqlite3_step(upd) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(upd);
	}
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	if (store_commit(st) != 0)
		return -1;
	return count;
fail:
	store_err(st, "assign");
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	store_rollback(st);
	return -1;
}

/* Runs leased to workers and not finished: in flight. */
int
store_inflight(struct store *st)
{
	sqlite3_stmt	*s = NULL;
	int		 c = -1;

	if (store_pg(st) != NULL)
		return pgs_inflight(store_pg(st));

	if (sqlite3_prepare_v2(store_db(st), "SELECT count(*) FROM runs WHERE "
	    "lease_owner IS NOT NULL AND status IN " ACTIVE_SQL, -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return c;
}

/*
 * Inside a transaction: record the current attempt of run n as ended with
 * status (and error), in the attempts table.
 */
static int
attempt_record(struct store *st, int64_t n, const char *status,
    int error_status, const char *error_message, int64_t now)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(store_db(st), "INSERT OR REPLACE INTO attempts "
	    "(run_n, attempt, status, backend_id, error_status, "
	    "error_message, events, started_at, ended_at) SELECT n, attempt, "
	    "?2, backend_id, ?3, ?4, event_count, attached_at, ?5 FROM runs "
	    "WHERE n = ?1", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	sqlite3_bind_text(s, 2, status, -1, SQLITE_STATIC);
	if (error_status != 0)
		sqlite3_bind_int(s, 3, error_status);
	if (error_message != NULL)
		sqlite3_bind_text(s, 4, error_message, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/* Record the end of run n's current attempt (in a transaction). */
int
store_attempt_end(struct store *st, int64_t n, const char *status,
    int error_status, const char *error_message)
{
	if (store_pg(st) != NULL)
		return pgs_attempt_end(store_pg(st), n, status, error_status,
		    error_message);
	return attempt_record(st, n, status, error_status, error_message,
	    util_now_ms());
}

/*
 * Inside a transaction: end run n's current attempt with status and queue
 * the next one after delay_ms: a fresh create, the old attempt's events
 * removed (they belong to a response that will not finish). Fenced by gen
 * unless gen is -1. 1 done, 0 fenced, -1 error.
 */
int
store_run_retry(struct store *st, int64_t n, int64_t gen, const char *status,
    int error_status, const char *error_message, int64_t delay_ms)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 now = util_now_ms();
	char		*msg;
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_run_retry(store_pg(st), n, gen, status,
		    error_status, error_message, delay_ms);

	if (sqlite3_prepare_v2(store_db(st), "SELECT 1 FROM runs WHERE n = ?1 AND "
	    "(?2 < 0 OR lease_gen = ?2)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	sqlite3_bind_int64(s, 2, gen);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return 0;
	if (rc != SQLITE_ROW ||
	    attempt_record(st, n, status, error_status, error_message,
	    now) != 0)
		return -1;
	if (sqlite3_prepare_v2(store_db(st), "DELETE FROM events WHERE run_n = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	if (sqlite3_prepare_v2(store_db(st), "DELETE FROM run_results WHERE "
	    "n = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	xasprintf(&msg, "previous attempt %s: %s; retrying", status,
	    error_message != NULL ? error_message : "no reason given");
	if (sqlite3_prepare_v2(store_db(st), "UPDATE runs SET status = 'pending', "
	    "attempt = attempt + 1, not_before = ?2, backend_id = NULL, "
	    "backend_status = NULL, last_seq = -1, event_count = 0, "
	    "last_event_at = NULL, resolved_mode = NULL, resumable = 1, "
	    "error_status = ?3, "
	    "error_message = ?4, error_body = NULL, lease_owner = NULL, "
	    "wait_reason = NULL, wait_until = NULL, wait_tries = 0, "
	    "lease_gen = lease_gen + 1, finished_at = NULL, updated_at = ?5 "
	    "WHERE n = ?1", -1, &s, NULL) != SQLITE_OK) {
		free(msg);
		return -1;
	}
	sqlite3_bind_int64(s, 1, n);
	sqlite3_bind_int64(s, 2, now + delay_ms);
	if (error_status != 0)
		sqlite3_bind_int(s, 3, error_status);
	sqlite3_bind_text(s, 4, msg, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 5, now);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	free(msg);
	return rc == SQLITE_DONE ? 1 : -1;
}

/* Extend the lease expiry of owner's runs. */
int
store_renew(struct store *st, const char *owner, int64_t expires)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_renew(store_pg(st), owner, expires);

	if (sqlite3_prepare_v2(store_db(st), "UPDATE runs SET lease_expires = ? "
	    "WHERE lease_owner = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, expires);
	sqlite3_bind_text(s, 2, owner, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Abandon runs without progress for stale_ms; a run with attempts left is
 * queued for its next attempt instead (after retry_ms). Calls cb for each.
 */
int
store_abandon_stale(struct store *st, int64_t now, int64_t stale_ms,
    int64_t retry_ms, store_abandon_cb cb, void *arg)
{
	sqlite3_stmt	*sel = NULL, *upd = NULL;
	int		 count = 0, rc;
	struct victim {
		int64_t	 n;
		char	 id[32];
		char	*owner, *backend_id;
		int	 retry;
	}		*v = NULL;
	size_t		 nv = 0, i;
	char		 reason[128];

	if (store_pg(st) != NULL)
		return pgs_abandon_stale(store_pg(st), now, stale_ms,
		    retry_ms, cb, arg);

	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT n, id, lease_owner, backend_id, "
	    "attempt < max_attempts FROM runs WHERE status IN ('starting',"
	    "'running') AND max(coalesce(last_event_at, 0), "
	    "coalesce(attached_at, 0), coalesce(released_at, 0), created_at) "
	    "< ?", -1, &sel,
	    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_int64(sel, 1, now - stale_ms);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof *v);
		v[nv].n = sqlite3_column_int64(sel, 0);
		snprintf(v[nv].id, sizeof v[nv].id, "%s",
		    sqlite3_column_text(sel, 1));
		v[nv].owner = store_col_dup(sel, 2);
		v[nv].backend_id = store_col_dup(sel, 3);
		v[nv].retry = sqlite3_column_int(sel, 4);
		nv++;
	}
	if (rc != SQLITE_DONE)
		goto fail;
	if (nv == 0) {
		sqlite3_finalize(sel);
		store_rollback(st);
		return 0;
	}
	snprintf(reason, sizeof reason, "stale: no progress from the backend "
	    "for %llds", (long long)(stale_ms / 1000));
	if (sqlite3_prepare_v2(store_db(st), "UPDATE runs SET status = 'abandoned', "
	    "lease_owner = NULL, lease_gen = lease_gen + 1, error_status = "
	    "NULL, error_body = NULL, error_message = ?, finished_at = ?, "
	    "updated_at = ? WHERE n = ?", -1, &upd, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < nv; i++) {
		if (v[i].retry) {
			if (store_run_retry(st, v[i].n, -1, RUN_ABANDONED, 0,
			    reason, retry_ms) < 0)
				goto fail;
			continue;
		}
		if (attempt_record(st, v[i].n, RUN_ABANDONED, 0, reason,
		    now) != 0)
			goto fail;
		sqlite3_bind_text(upd, 1, reason, -1, SQLITE_STATIC);
		sqlite3_bind_int64(upd, 2, now);
		sqlite3_bind_int64(upd, 3, now);
		sqlite3_bind_int64(upd, 4, v[i].n);
		if (sqlite3_step(upd) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(upd);
	}
	if (store_commit(st) != 0)
		goto fail;
	for (i = 0; i < nv; i++) {
		if (cb != NULL)
			cb(arg, v[i].n, v[i].id, v[i].owner, v[i].backend_id,
			    v[i].retry);
		count++;
	}
	goto done;
fail:
	store_err(st, "abandon stale");
	store_rollback(st);
	count = -1;
done:
	for (i = 0; i < nv; i++) {
		free(v[i].owner);
		free(v[i].backend_id);
	}
	free(v);
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	return count;
}

/* Bring an abandoned or failed run back to the active set. */
int
store_resume(struct store *st, const char *id, const char **msg)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, ret = STORE_ERR;
	char		 status[32];
	int		 has_backend;

	if (store_pg(st) != NULL)
		return pgs_resume(store_pg(st), id, msg);

	if (store_begin(st) != 0)
		return STORE_ERR;
	if (sqlite3_prepare_v2(store_db(st), "SELECT status, backend_id IS NOT NULL "
	    "FROM runs WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = STORE_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	snprintf(status, sizeof status, "%s", sqlite3_column_text(s, 0));
	has_backend = sqlite3_column_int(s, 1);
	sqlite3_finalize(s);
	s = NULL;
	if (strcmp(status, RUN_ABANDONED) != 0 &&
	    strcmp(status, RUN_FAILED) != 0) {
		*msg = store_status_terminal(status) ?
		    "only abandoned or failed runs can be resumed" :
		    "run is already active";
		ret = STORE_CONFLICT;
		goto out;
	}
	if (sqlite3_prepare_v2(store_db(st), "UPDATE runs SET status = ?, "
	    "lease_owner = NULL, lease_gen = lease_gen + 1, finished_at = NULL, "
	    "error_status = NULL, error_message = NULL, error_body = NULL, "
	    "attached_at = NULL, updated_at = ? WHERE id = ?", -1, &s,
	    NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, has_backend ? RUN_RUNNING : RUN_PENDING, -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, util_now_ms());
	sqlite3_bind_text(s, 3, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	s = NULL;
	if (store_commit(st) != 0)
		return STORE_ERR;
	return STORE_OK;
out:
	if (ret == STORE_ERR)
		store_err(st, "resume");
	sqlite3_finalize(s);
	store_rollback(st);
	return ret;
}

/* Resume every abandoned run; returns the ids. */
json_t *
store_resume_stale(struct store *st)
{
	sqlite3_stmt	*s = NULL;
	json_t		*ids;
	const char	*msg;
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_resume_stale(store_pg(st));

	ids = json_array();
	if (sqlite3_prepare_v2(store_db(st), "SELECT id FROM runs WHERE status = "
	    "'abandoned' ORDER BY n", -1, &s, NULL) != SQLITE_OK) {
		json_decref(ids);
		return NULL;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW)
		json_array_append_new(ids,
		    json_string((const char *)sqlite3_column_text(s, 0)));
	sqlite3_finalize(s);
	for (size_t i = 0; i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));

		if (store_resume(st, id, &msg) != STORE_OK)
			log_warnx("store: resume %s failed", id);
	}
	return ids;
}

/* Cancel a run locally and report who to tell. */
int
store_cancel(struct store *st, const char *id, int64_t *n, char **owner,
    char **backend_id, char **endpoint, const char **msg)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, ret = STORE_ERR;
	int64_t		 now = util_now_ms();

	if (store_pg(st) != NULL)
		return pgs_cancel(store_pg(st), id, n, owner, backend_id,
		    endpoint, msg);

	*owner = *backend_id = *endpoint = NULL;
	if (store_begin(st) != 0)
		return STORE_ERR;
	if (sqlite3_prepare_v2(store_db(st), "SELECT n, status, lease_owner, "
	    "backend_id, endpoint FROM runs WHERE id = ?", -1, &s,
	    NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = STORE_NOTFOUND;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	*n = sqlite3_column_int64(s, 0);
	if (store_status_terminal((const char *)sqlite3_column_text(s, 1)) &&
	    strcmp((const char *)sqlite3_column_text(s, 1), RUN_ABANDONED)
	    != 0) {
		*msg = "run is already finished";
		ret = STORE_CONFLICT;
		goto out;
	}
	*owner = store_col_dup(s, 2);
	*backend_id = store_col_dup(s, 3);
	*endpoint = store_col_dup(s, 4);
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(store_db(st), "UPDATE runs SET status = 'cancelled', "
	    "lease_owner = NULL, lease_gen = lease_gen + 1, finished_at = ?1, "
	    "updated_at = ?1, error_message = 'cancelled by request' WHERE "
	    "n = ?2", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, now);
	sqlite3_bind_int64(s, 2, *n);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	if (store_commit(st) != 0)
		return STORE_ERR;
	return STORE_OK;
out:
	if (ret == STORE_ERR)
		store_err(st, "cancel");
	sqlite3_finalize(s);
	store_rollback(st);
	if (ret != STORE_OK) {
		free(*owner);
		free(*backend_id);
		free(*endpoint);
		*owner = *backend_id = *endpoint = NULL;
	}
	return ret;
}

/* The runs of a prune slice (?1..?2) that go: finished before ?3. */
#define PRUNE_GONE "n BETWEEN ?1 AND ?2 AND finished_at IS NOT NULL AND " \
	"finished_at < ?3 AND status NOT IN " ACTIVE_SQL

/*
 * One slice of a prune, one transaction: of the next max runs by key from
 * *from, delete those finished before cutoff, with their events, attempts
 * and result. *from moves past the slice, to -1 once no run is left.
 * Returns the runs deleted, or -1. A slice is bounded by keys, not by what
 * matches, so it never scans the whole table.
 */
int
store_prune_slice(struct store *st, int64_t cutoff, int64_t *from, int max)
{
	static const char *const del[] = {
		"DELETE FROM events WHERE run_n IN (SELECT n FROM runs WHERE "
		    PRUNE_GONE ")",
		"DELETE FROM attempts WHERE run_n IN (SELECT n FROM runs WHERE "
		    PRUNE_GONE ")",
		"DELETE FROM run_results WHERE n IN (SELECT n FROM runs WHERE "
		    PRUNE_GONE ")",
		"DELETE FROM runs WHERE " PRUNE_GONE
	};
	sqlite3_stmt	*s = NULL;
	int64_t		 hi;
	size_t		 i;
	int		 count = -1;

	if (store_pg(st) != NULL)
		return pgs_prune_slice(store_pg(st), cutoff, from, max);
	if (*from < 0)
		return 0;
	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT max(n) FROM (SELECT n "
	    "FROM runs WHERE n >= ?1 ORDER BY n LIMIT ?2)", -1, &s, NULL) !=
	    SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, *from);
	sqlite3_bind_int(s, 2, max > 0 ? max : 1);
	if (sqlite3_step(s) != SQLITE_ROW)
		goto out;
	if (sqlite3_column_type(s, 0) == SQLITE_NULL) {
		sqlite3_finalize(s);
		store_rollback(st);
		*from = -1;
		return 0;
	}
	hi = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	s = NULL;
	for (i = 0; i < sizeof del / sizeof del[0]; i++) {
		if (sqlite3_prepare_v2(store_db(st), del[i], -1, &s, NULL) !=
		    SQLITE_OK)
			goto out;
		sqlite3_bind_int64(s, 1, *from);
		sqlite3_bind_int64(s, 2, hi);
		sqlite3_bind_int64(s, 3, cutoff);
		if (sqlite3_step(s) != SQLITE_DONE)
			goto out;
		sqlite3_finalize(s);
		s = NULL;
	}
	count = sqlite3_changes(store_db(st));
	if (store_commit(st) != 0)
		return -1;
	*from = hi + 1;
	return count;
out:
	store_err(st, "prune");
	sqlite3_finalize(s);
	store_rollback(st);
	return -1;
}

/* Delete finished runs (and what they own) older than cutoff, slice by
 * slice (the API's prune gives the loop a turn between slices). */
int
store_prune(struct store *st, int64_t cutoff)
{
	int64_t	 from = 0;
	int	 n, count = 0;

	while (from >= 0) {
		if ((n = store_prune_slice(st, cutoff, &from,
		    STORE_PRUNE_SLICE)) < 0)
			return -1;
		count += n;
	}
	return count;
}

/* Delete finished run id with its events and attempts. */
int
store_run_delete(struct store *st, const char *id)
{
	if (store_pg(st) != NULL)
		return pgs_run_delete(store_pg(st), id);
	static const char *const del[] = {
		"DELETE FROM events WHERE run_n = ?1",
		"DELETE FROM attempts WHERE run_n = ?1",
		"DELETE FROM run_results WHERE n = ?1",
		"DELETE FROM runs WHERE n = ?1"
	};
	sqlite3_stmt	*s = NULL;
	int64_t		 n = -1;
	size_t		 i;
	int		 active = 0, ret = STORE_ERR;

	if (store_begin(st) != 0)
		return STORE_ERR;
	if (sqlite3_prepare_v2(store_db(st), "SELECT n, status IN " ACTIVE_SQL
	    " FROM runs WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		n = sqlite3_column_int64(s, 0);
		active = sqlite3_column_int(s, 1);
	}
	sqlite3_finalize(s);
	s = NULL;
	if (n < 0 || active) {
		ret = n < 0 ? STORE_NOTFOUND : STORE_CONFLICT;
		goto out;
	}
	for (i = 0; i < sizeof del / sizeof del[0]; i++) {
		if (sqlite3_prepare_v2(store_db(st), del[i], -1, &s, NULL) !=
		    SQLITE_OK)
			goto out;
		sqlite3_bind_int64(s, 1, n);
		if (store_step_done(s) != 0)
			goto out;
		sqlite3_finalize(s);
	}
	s = NULL;
	if (store_commit(st) != 0)
		return STORE_ERR;
	return STORE_OK;
out:
	if (ret == STORE_ERR)
		store_err(st, "delete run");
	sqlite3_finalize(s);
	store_rollback(st);
	return ret;
}

/* Read what is known about an endpoint. */
int
store_caps_get(struct store *st, const char *endpoint, struct endpoint_caps *c)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_caps_get(store_pg(st), endpoint, c);

	c->background = c->stream = c->resume = -1;
	if (sqlite3_prepare_v2(store_db(st), "SELECT coalesce(background, -1), "
	    "coalesce(stream, -1), coalesce(resume, -1) FROM endpoints WHERE "
	    "endpoint = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, endpoint, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		c->background = sqlite3_column_int(s, 0);
		c->stream = sqlite3_column_int(s, 1);
		c->resume = sqlite3_column_int(s, 2);
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

/* Remember one capability (what: background|stream|resume). */
int
store_caps_set(struct store *st, const char *endpoint, const char *what,
    int value)
{
	sqlite3_stmt	*s = NULL;
	char		 sql[256];
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_caps_set(store_pg(st), endpoint, what, value);

	if (strcmp(what, "background") != 0 && strcmp(what, "stream") != 0 &&
	    strcmp(what, "resume") != 0)
		return -1;
	snprintf(sql, sizeof sql, "INSERT INTO endpoints (endpoint, %s, "
	    "updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (endpoint) DO UPDATE "
	    "SET %s = ?2, updated_at = ?3", what, what);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, value);
	sqlite3_bind_int64(s, 3, util_now_ms());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}
