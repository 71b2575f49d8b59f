/*
 * The PostgreSQL store: leases, claims, retries, cancel, resume, prune,
 * each the port of its SQLite namesake in store-sched.c. Several hosts
 * share the database: claims take rows with FOR NO KEY UPDATE SKIP LOCKED
 * (one run is never leased twice) and serialize per queue on an advisory
 * lock where the queue has a max_inflight (counted over every host);
 * worker labels (lease_owner) are host-local, so everything that goes by
 * owner, and the re-arm at start, is confined to this host's runs
 * (lease_host) when the store serves a host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

#define ACTIVE_SQL	"('pending','starting','running')"

/* Begin a transaction of our own; refused inside the caller's. */
static int
txn_begin(struct pgstore *ps, const char *what)
{
	if (ps->in_txn) {
		log_warnx("store: %s: called inside a transaction", what);
		return -1;
	}
	return pgs_begin(ps);
}

/* Fence this host's leases (every lease without a host): at start. */
int
pgs_rearm(struct pgstore *ps)
{
	const char	*pv[1];

	pv[0] = ps->host_id;
	/* A worker's record of why the run waited ends with its lease. */
	return (int)pgs_cmd(ps, "rearm", "UPDATE runs SET lease_owner = NULL, "
	    "lease_host = NULL, lease_epoch = NULL, lease_gen = lease_gen + 1, "
	    "lease_expires = NULL, wait_reason = NULL, wait_until = NULL, "
	    "wait_tries = 0 WHERE (lease_owner IS NOT NULL OR status IN "
	    ACTIVE_SQL ") AND ($1::text IS NULL OR lease_host = $1)", 1, pv);
}

/* Release and fence the leases of a dead worker of this host. */
int
pgs_release_owner(struct pgstore *ps, const char *owner)
{
	const char	*pv[2];

	pv[0] = owner;
	pv[1] = ps->host_id;
	return (int)pgs_cmd(ps, "release owner", "UPDATE runs SET "
	    "lease_owner = NULL, lease_host = NULL, lease_epoch = NULL, "
	    "lease_gen = lease_gen + 1, lease_expires = NULL, wait_reason = "
	    "NULL, wait_until = NULL, wait_tries = 0 WHERE lease_owner = $1 "
	    "AND ($2::text IS NULL OR lease_host = $2)", 2, pv);
}

/*
 * Lease unowned active runs to owner: paused queues and runs waiting for a
 * retry are skipped, a queue's max_inflight is respected over every host,
 * and runs go by queue priority, run priority, then age (FIFO).
 *
 * First the queues with a max_inflight that have claimable runs are
 * locked (advisory, transaction-scoped, in one order so that claimers
 * never deadlock); the claim statement that follows has a snapshot taken
 * after those locks, so it counts the runs every earlier claimer of those
 * queues committed. Runs of limited queues not locked here (a queue that
 * got runs in between) are left for the next call. Rows are taken with
 * SKIP LOCKED and re-checked as unowned, so a run is leased once. A
 * host claims only while its term is live in hosts.
 */
int
pgs_assign(struct pgstore *ps, const char *owner, int64_t expires,
    struct store_assign *out, int max)
{
	PGresult	*res;
	json_t		*locked;
	const char	*pv[8];
	char		 now[24], mb[24], eb[24], epb[24], *lq;
	int		 i, count;
	static int	 notlive_said;

	if (max <= 0)
		return 0;
	pgs_i64(now, pgs_now(ps));
	if (txn_begin(ps, "assign") != 0)
		return -1;
	if (ps->host_id != NULL) {
		/*
		 * Only a live term claims, and it stays live until this
		 * commits: the key-share lock holds off the reaper's delete
		 * (not the heartbeat's update).
		 */
		pv[0] = ps->host_id;
		pv[1] = pgs_i64(epb, ps->epoch);
		res = pgs_exec(ps, "assign: host", "SELECT 1 FROM hosts WHERE "
		    "host_id = $1 AND epoch = $2 AND expires_at > "
		    "clock_timestamp() FOR KEY SHARE", 2, pv);
		if (res == NULL)
			goto fail;
		i = PQntuples(res);
		PQclear(res);
		if (i == 0) {
			/* Said once until the term is live again. */
			if (!notlive_said)
				log_warnx("store: host %s (term %lld) is not "
				    "live: no claims", ps->host_id,
				    (long long)ps->epoch);
			notlive_said = 1;
			pgs_rollback(ps);
			return 0;
		}
		notlive_said = 0;
	}
	pv[0] = now;
	res = pgs_exec(ps, "assign: queue locks", "SELECT s.queue, "
	    "pg_advisory_xact_lock(s.k) FROM (SELECT DISTINCT r.queue, "
	    "hashtextextended('agentd.queue.' || r.queue, 0) AS k FROM runs r "
	    "JOIN queues q ON q.name = r.queue WHERE q.max_inflight IS NOT "
	    "NULL AND q.paused = 0 AND r.status IN " ACTIVE_SQL " AND "
	    "r.lease_owner IS NULL AND coalesce(r.not_before, 0) <= $1 "
	    "ORDER BY k, r.queue) s", 1, pv);
	if (res == NULL)
		goto fail;
	locked = json_array();
	for (i = 0; i < PQntuples(res); i++)
		json_array_append_new(locked,
		    json_string(PQgetvalue(res, i, 0)));
	PQclear(res);
	lq = json_dumps(locked, JSON_COMPACT);
	json_decref(locked);
	if (lq == NULL)
		goto fail;
	pv[1] = pgs_i64(mb, max);
	pv[2] = lq;
	pv[3] = owner;
	pv[4] = pgs_i64(eb, expires);
	pv[5] = ps->endpoint != NULL ? ps->endpoint : "";
	pv[6] = ps->host_id;
	pv[7] = ps->host_id != NULL ? pgs_i64(epb, ps->epoch) : NULL;
	res = pgs_exec(ps, "assign", "WITH busy AS (SELECT queue, count(*) "
	    "AS c FROM runs WHERE lease_owner IS NOT NULL AND status IN "
	    ACTIVE_SQL " GROUP BY queue), "
	    "cand AS MATERIALIZED (SELECT n, qp, rp FROM (SELECT r.n, "
	    "r.priority AS rp, coalesce(q.priority, 0) AS qp, q.max_inflight "
	    "AS mi, coalesce(b.c, 0) AS bc, row_number() OVER (PARTITION BY "
	    "r.queue ORDER BY r.priority DESC, r.n) AS k FROM runs r LEFT JOIN "
	    "queues q ON q.name = r.queue LEFT JOIN busy b ON b.queue = "
	    "r.queue WHERE r.status IN " ACTIVE_SQL " AND r.lease_owner IS "
	    "NULL AND coalesce(q.paused, 0) = 0 AND coalesce(r.not_before, 0) "
	    "<= $1 AND (q.max_inflight IS NULL OR r.queue IN (SELECT "
	    "json_array_elements_text($3::json)))) s WHERE mi IS NULL OR "
	    "k <= mi - bc ORDER BY qp DESC, rp DESC, n LIMIT $2), "
	    "picked AS MATERIALIZED (SELECT r.n FROM runs r WHERE r.n IN "
	    "(SELECT n FROM cand) AND r.lease_owner IS NULL AND r.status IN "
	    ACTIVE_SQL " FOR NO KEY UPDATE OF r SKIP LOCKED), "
	    "upd AS (UPDATE runs r SET lease_owner = $4, lease_gen = "
	    "r.lease_gen + 1, lease_expires = $5, attached_at = $1, "
	    "wait_reason = NULL, wait_until = NULL, wait_tries = 0, "
	    "endpoint = CASE WHEN r.endpoint = '' THEN $6 ELSE r.endpoint "
	    "END, lease_host = $7, lease_epoch = $8 FROM picked p WHERE "
	    "r.n = p.n RETURNING r.n, r.id, r.lease_gen) "
	    "SELECT u.n, u.id, u.lease_gen FROM upd u JOIN cand c ON "
	    "c.n = u.n ORDER BY c.qp DESC, c.rp DESC, u.n", 8, pv);
	free(lq);
	if (res == NULL)
		goto fail;
	count = PQntuples(res) < max ? PQntuples(res) : max;
	for (i = 0; i < count; i++) {
		out[i].n = pgs_int(res, i, 0, -1);
		snprintf(out[i].id, sizeof out[i].id, "%s",
		    PQgetvalue(res, i, 1));
		out[i].gen = pgs_int(res, i, 2, -1);
	}
	PQclear(res);
	if (pgs_commit(ps) != 0)
		return -1;
	return count;
fail:
	pgs_rollback(ps);
	return -1;
}

/* This host's runs leased to workers and not finished: in flight. */
int
pgs_inflight(struct pgstore *ps)
{
	PGresult	*res;
	const char	*pv[1];
	int		 c;

	pv[0] = ps->host_id;
	res = pgs_exec(ps, "inflight", "SELECT count(*) FROM runs WHERE "
	    "lease_owner IS NOT NULL AND status IN " ACTIVE_SQL " AND "
	    "($1::text IS NULL OR lease_host = $1)", 1, pv);
	if (res == NULL)
		return -1;
	c = (int)pgs_int(res, 0, 0, -1);
	PQclear(res);
	return c;
}

/*
 * Inside a transaction: record the current attempt of run n as ended with
 * status (and error), in the attempts table (replacing a row of the same
 * attempt, as SQLite's INSERT OR REPLACE).
 */
static int
attempt_record(struct pgstore *ps, int64_t n, const char *status,
    int error_status, const char *error_message, int64_t now)
{
	const char	*pv[5];
	char		 nb[24], eb[24], tb[24];

	pv[0] = pgs_i64(nb, n);
	pv[1] = status;
	pv[2] = error_status != 0 ? pgs_i64(eb, error_status) : NULL;
	pv[3] = error_message;
	pv[4] = pgs_i64(tb, now);
	return pgs_cmd(ps, "attempt end", "INSERT INTO attempts (run_n, "
	    "attempt, status, backend_id, error_status, error_message, "
	    "events, started_at, ended_at) SELECT n, attempt, $2, backend_id, "
	    "$3::integer, $4, event_count, attached_at, $5 FROM runs WHERE "
	    "n = $1 ON CONFLICT (run_n, attempt) DO UPDATE SET status = "
	    "EXCLUDED.status, backend_id = EXCLUDED.backend_id, error_status "
	    "= EXCLUDED.error_status, error_message = EXCLUDED.error_message, "
	    "events = EXCLUDED.events, started_at = EXCLUDED.started_at, "
	    "ended_at = EXCLUDED.ended_at", 5, pv) < 0 ? -1 : 0;
}

/* Record the end of run n's current attempt (in a transaction). */
int
pgs_attempt_end(struct pgstore *ps, int64_t n, const char *status,
    int error_status, const char *error_message)
{
	return attempt_record(ps, n, status, error_status, error_message,
	    pgs_now(ps));
}

/*
 * Inside a transaction: end run n's current attempt with status and queue
 * the next one after delay_ms: a fresh create, the old attempt's events
 * removed. Fenced by gen unless gen is -1; the row stays locked from the
 * check to the update. 1 done, 0 fenced, -1 error.
 */
int
pgs_run_retry(struct pgstore *ps, int64_t n, int64_t gen, const char *status,
    int error_status, const char *error_message, int64_t delay_ms)
{
	PGresult	*res;
	const char	*pv[5];
	char		 nb[24], gb[24], nbf[24], eb[24], tb[24], *msg;
	int64_t		 now = pgs_now(ps), rows;
	int		 found;

	pv[0] = pgs_i64(nb, n);
	pv[1] = pgs_i64(gb, gen);
	res = pgs_exec(ps, "retry", "SELECT 1 FROM runs WHERE n = $1 AND "
	    "($2::bigint < 0 OR lease_gen = $2) FOR NO KEY UPDATE", 2, pv);
	if (res == NULL)
		return -1;
	found = PQntuples(res) > 0;
	PQclear(res);
	if (!found)
		return 0;
	if (attempt_record(ps, n, status, error_status, error_message,
	    now) != 0)
		return -1;
	if (pgs_cmd(ps, "retry", "DELETE FROM events WHERE run_n = $1", 1,
	    pv) < 0)
		return -1;
	xasprintf(&msg, "previous attempt %s: %s; retrying", status,
	    error_message != NULL ? error_message : "no reason given");
	pv[1] = pgs_i64(nbf, now + delay_ms);
	pv[2] = error_status != 0 ? pgs_i64(eb, error_status) : NULL;
	pv[3] = msg;
	pv[4] = pgs_i64(tb, now);
	rows = pgs_cmd(ps, "retry", "UPDATE runs SET status = 'pending', "
	    "attempt = attempt + 1, not_before = $2, backend_id = NULL, "
	    "backend_status = NULL, last_seq = -1, event_count = 0, "
	    "last_event_at = NULL, resolved_mode = NULL, resumable = 1, "
	    "response = NULL, output_text = NULL, error_status = $3, "
	    "error_message = $4, error_body = NULL, lease_owner = NULL, "
	    "lease_host = NULL, lease_epoch = NULL, "
	    "wait_reason = NULL, wait_until = NULL, wait_tries = 0, "
	    "lease_gen = lease_gen + 1, finished_at = NULL, updated_at = $5 "
	    "WHERE n = $1", 5, pv);
	free(msg);
	return rows < 0 ? -1 : 1;
}

/* A run's lease on a shared store is its host's (see the body). */
int
pgs_renew(struct pgstore *ps, const char *owner, int64_t expires)
{
	/*
	 * Nothing to write: on a shared store a run's lease is its host's,
	 * and the others judge the host's heartbeat (hosts.expires_at).
	 * Renewing every run's row each second wrote N rows a second and
	 * deadlocked with the workers' appends, which lock the same rows in
	 * another order (measured: up to 35 deadlocks a bench scenario, each
	 * a 1 s stall of the supervisor's loop).
	 */
	(void)ps;
	(void)owner;
	(void)expires;
	return 0;
}

/*
 * Abandon runs without progress for stale_ms, on any host (the bump of
 * lease_gen fences the holder); a run with attempts left is queued for its
 * next attempt instead (after retry_ms). The rows are locked as they are
 * picked (SKIP LOCKED: another host abandoning at the same time takes
 * the others, a run being written to is not stale) and the staleness is
 * re-checked on their latest version. cb gets the owner only for runs of
 * this host: worker labels mean nothing elsewhere.
 */
int
pgs_abandon_stale(struct pgstore *ps, int64_t now, int64_t stale_ms,
    int64_t retry_ms, store_abandon_cb cb, void *arg)
{
	PGresult	*res;
	struct victim {
		int64_t	 n;
		char	 id[32];
		char	*owner, *backend_id;
		int	 retry;
	}		*v = NULL;
	size_t		 nv = 0, i;
	const char	*pv[4];
	char		 reason[128], cb_[24], nowb[24], nb[24];
	int		 count = 0;

	/* The database's clock, not the caller's (store-pg.h). */
	now = pgs_now(ps);
	if (txn_begin(ps, "abandon stale") != 0)
		return -1;
	pv[0] = pgs_i64(cb_, now - stale_ms);
	pv[1] = ps->host_id;
	res = pgs_exec(ps, "abandon stale", "SELECT n, id, CASE WHEN "
	    "$2::text IS NULL OR lease_host = $2 THEN lease_owner END, "
	    "backend_id, attempt < max_attempts FROM runs WHERE status IN "
	    "('starting','running') AND greatest(coalesce(last_event_at, 0), "
	    "coalesce(attached_at, 0), coalesce(released_at, 0), created_at) "
	    "< $1 ORDER BY n FOR NO KEY UPDATE SKIP LOCKED", 2, pv);
	if (res == NULL)
		goto fail;
	nv = (size_t)PQntuples(res);
	if (nv == 0) {
		PQclear(res);
		pgs_rollback(ps);
		return 0;
	}
	v = xcalloc(nv, sizeof *v);
	for (i = 0; i < nv; i++) {
		v[i].n = pgs_int(res, (int)i, 0, -1);
		snprintf(v[i].id, sizeof v[i].id, "%s",
		    PQgetvalue(res, (int)i, 1));
		v[i].owner = pgs_dup(res, (int)i, 2);
		v[i].backend_id = pgs_dup(res, (int)i, 3);
		v[i].retry = strcmp(PQgetvalue(res, (int)i, 4), "t") == 0;
	}
	PQclear(res);
	snprintf(reason, sizeof reason, "stale: no progress from the backend "
	    "for %llds", (long long)(stale_ms / 1000));
	for (i = 0; i < nv; i++) {
		if (v[i].retry) {
			if (pgs_run_retry(ps, v[i].n, -1, RUN_ABANDONED, 0,
			    reason, retry_ms) < 0)
				goto fail;
			continue;
		}
		if (attempt_record(ps, v[i].n, RUN_ABANDONED, 0, reason,
		    now) != 0)
			goto fail;
		pv[0] = reason;
		pv[1] = pgs_i64(nowb, now);
		pv[2] = pgs_i64(nb, v[i].n);
		if (pgs_cmd(ps, "abandon stale", "UPDATE runs SET status = "
		    "'abandoned', lease_owner = NULL, lease_host = NULL, "
		    "lease_epoch = NULL, lease_gen = lease_gen + 1, "
		    "error_status = NULL, error_body = NULL, error_message = "
		    "$1, finished_at = $2, updated_at = $2 WHERE n = $3", 3,
		    pv) < 0)
			goto fail;
	}
	if (pgs_commit(ps) != 0)
		goto fail;
	for (i = 0; i < nv; i++) {
		if (cb != NULL)
			cb(arg, v[i].n, v[i].id, v[i].owner, v[i].backend_id,
			    v[i].retry);
		count++;
	}
	goto done;
fail:
	pgs_rollback(ps);
	count = -1;
done:
	for (i = 0; i < nv; i++) {
		free(v[i].owner);
		free(v[i].backend_id);
	}
	free(v);
	return count;
}

/* Bring an abandoned or failed run back to the active set. */
int
pgs_resume(struct pgstore *ps, const char *id, const char **msg)
{
	PGresult	*res;
	const char	*pv[3];
	char		 status[32], now[24];
	int		 has_backend, ret = STORE_ERR;

	if (txn_begin(ps, "resume") != 0)
		return STORE_ERR;
	pv[0] = id;
	res = pgs_exec(ps, "resume", "SELECT status, backend_id IS NOT NULL "
	    "FROM runs WHERE id = $1 FOR NO KEY UPDATE", 1, pv);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		ret = STORE_NOTFOUND;
		goto out;
	}
	snprintf(status, sizeof status, "%s", PQgetvalue(res, 0, 0));
	has_backend = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	PQclear(res);
	if (strcmp(status, RUN_ABANDONED) != 0 &&
	    strcmp(status, RUN_FAILED) != 0) {
		*msg = store_status_terminal(status) ?
		    "only abandoned or failed runs can be resumed" :
		    "run is already active";
		ret = STORE_CONFLICT;
		goto out;
	}
	pv[0] = has_backend ? RUN_RUNNING : RUN_PENDING;
	pv[1] = pgs_i64(now, pgs_now(ps));
	pv[2] = id;
	if (pgs_cmd(ps, "resume", "UPDATE runs SET status = $1, lease_owner "
	    "= NULL, lease_host = NULL, lease_epoch = NULL, lease_gen = "
	    "lease_gen + 1, finished_at = NULL, error_status = NULL, "
	    "error_message = NULL, error_body = NULL, attached_at = NULL, "
	    "updated_at = $2 WHERE id = $3", 3, pv) < 0)
		goto out;
	if (pgs_commit(ps) != 0)
		return STORE_ERR;
	return STORE_OK;
out:
	pgs_rollback(ps);
	return ret;
}

/* Resume every abandoned run; returns the ids. */
json_t *
pgs_resume_stale(struct pgstore *ps)
{
	PGresult	*res;
	json_t		*ids;
	const char	*msg;
	size_t		 i;
	int		 k;

	res = pgs_exec(ps, "resume stale", "SELECT id FROM runs WHERE status "
	    "= 'abandoned' ORDER BY n", 0, NULL);
	if (res == NULL)
		return NULL;
	ids = json_array();
	for (k = 0; k < PQntuples(res); k++)
		json_array_append_new(ids, json_string(PQgetvalue(res, k, 0)));
	PQclear(res);
	for (i = 0; i < json_array_size(ids); i++) {
		const char *id = json_string_value(json_array_get(ids, i));

		if (pgs_resume(ps, id, &msg) != STORE_OK)
			log_warnx("store: resume %s failed", id);
	}
	return ids;
}

/*
 * Cancel a run locally and report who to tell: the owner only when this
 * host holds the run (another host's worker labels are not ours; its
 * worker is fenced by the lease_gen bump).
 */
int
pgs_cancel(struct pgstore *ps, const char *id, int64_t *n, char **owner,
    char **backend_id, char **endpoint, const char **msg)
{
	PGresult	*res;
	const char	*pv[2];
	char		 now[24], nb[24];
	int		 ret = STORE_ERR;

	*owner = *backend_id = *endpoint = NULL;
	if (txn_begin(ps, "cancel") != 0)
		return STORE_ERR;
	pv[0] = id;
	pv[1] = ps->host_id;
	res = pgs_exec(ps, "cancel", "SELECT n, status, CASE WHEN $2::text IS "
	    "NULL OR lease_host = $2 THEN lease_owner END, backend_id, "
	    "endpoint FROM runs WHERE id = $1 FOR NO KEY UPDATE", 2, pv);
	if (res == NULL)
		goto out;
	if (PQntuples(res) == 0) {
		PQclear(res);
		ret = STORE_NOTFOUND;
		goto out;
	}
	*n = pgs_int(res, 0, 0, -1);
	if (store_status_terminal(PQgetvalue(res, 0, 1)) &&
	    strcmp(PQgetvalue(res, 0, 1), RUN_ABANDONED) != 0) {
		PQclear(res);
		*msg = "run is already finished";
		ret = STORE_CONFLICT;
		goto out;
	}
	*owner = pgs_dup(res, 0, 2);
	*backend_id = pgs_dup(res, 0, 3);
	*endpoint = pgs_dup(res, 0, 4);
	PQclear(res);
	pv[0] = pgs_i64(now, pgs_now(ps));
	pv[1] = pgs_i64(nb, *n);
	if (pgs_cmd(ps, "cancel", "UPDATE runs SET status = 'cancelled', "
	    "lease_owner = NULL, lease_host = NULL, lease_epoch = NULL, "
	    "lease_gen = lease_gen + 1, finished_at = $1, updated_at = $1, "
	    "error_message = 'cancelled by request' WHERE n = $2", 2, pv) < 0)
		goto out;
	if (pgs_commit(ps) != 0)
		goto err;
	return STORE_OK;
out:
	pgs_rollback(ps);
err:
	free(*owner);
	free(*backend_id);
	free(*endpoint);
	*owner = *backend_id = *endpoint = NULL;
	return ret;
}

/*
 * One slice of a prune (store_prune_slice), one statement: of the next max
 * runs by key from *from, delete those finished before cutoff with their
 * events and attempts.
 */
int
pgs_prune_slice(struct pgstore *ps, int64_t cutoff, int64_t *from, int max)
{
	PGresult	*res;
	const char	*pv[3];
	char		 cb[24], fb[24], mb[24];
	int		 count;

	if (*from < 0)
		return 0;
	pv[0] = pgs_i64(fb, *from);
	pv[1] = pgs_i64(mb, max > 0 ? max : 1);
	pv[2] = pgs_i64(cb, cutoff);
	res = pgs_exec(ps, "prune", "WITH s AS (SELECT max(n) AS hi FROM "
	    "(SELECT n FROM runs WHERE n >= $1 ORDER BY n LIMIT $2) k), "
	    "gone AS (DELETE FROM runs WHERE n BETWEEN $1 AND (SELECT hi FROM "
	    "s) AND finished_at IS NOT NULL AND finished_at < $3 AND status "
	    "NOT IN " ACTIVE_SQL " RETURNING n), ev AS (DELETE FROM events "
	    "WHERE run_n IN (SELECT n FROM gone)), at AS (DELETE FROM attempts "
	    "WHERE run_n IN (SELECT n FROM gone)) SELECT (SELECT hi FROM s), "
	    "(SELECT count(*) FROM gone)", 3, pv);
	if (res == NULL)
		return -1;
	if (PQgetisnull(res, 0, 0))
		*from = -1;
	else
		*from = pgs_int(res, 0, 0, -1) + 1;
	count = (int)pgs_int(res, 0, 1, -1);
	PQclear(res);
	return count;
}

/* Delete finished run id with its events and attempts. */
int
pgs_run_delete(struct pgstore *ps, const char *id)
{
	static const char *const del[] = {
		"DELETE FROM events WHERE run_n = $1",
		"DELETE FROM attempts WHERE run_n = $1",
		"DELETE FROM runs WHERE n = $1"
	};
	PGresult	*res;
	const char	*pv[1];
	char		 nb[24];
	int64_t		 n = -1;
	size_t		 i;
	int		 active = 0, ret = STORE_ERR;

	if (txn_begin(ps, "delete run") != 0)
		return STORE_ERR;
	pv[0] = id;
	res = pgs_exec(ps, "delete run", "SELECT n, status IN " ACTIVE_SQL
	    " FROM runs WHERE id = $1 FOR UPDATE", 1, pv);
	if (res == NULL)
		goto out;
	if (PQntuples(res) > 0) {
		n = pgs_int(res, 0, 0, -1);
		active = strcmp(PQgetvalue(res, 0, 1), "t") == 0;
	}
	PQclear(res);
	if (n < 0 || active) {
		ret = n < 0 ? STORE_NOTFOUND : STORE_CONFLICT;
		goto out;
	}
	pv[0] = pgs_i64(nb, n);
	for (i = 0; i < sizeof del / sizeof del[0]; i++)
		if (pgs_cmd(ps, "delete run", del[i], 1, pv) < 0)
			goto out;
	if (pgs_commit(ps) != 0)
		return STORE_ERR;
	return STORE_OK;
out:
	pgs_rollback(ps);
	return ret;
}
