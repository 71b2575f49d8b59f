/*
 * Batches and queues on the PostgreSQL store, each the port of its SQLite
 * namesake in batch.c with the same results and JSON. A batch's lines go
 * in with one INSERT per chunk of lines (unnest of arrays), all in one
 * transaction; a line's idempotency key "batch:<name>:<custom_id>" is
 * unique in the table, so ON CONFLICT DO NOTHING decides "already present"
 * race-free: a second submitter of the same line waits for the first's
 * transaction and then skips it. Submitters of one batch name also take a
 * transaction-scoped advisory lock on it first, so two of them never
 * interleave (nor deadlock over lines given in different orders).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "batch-pg.h"
#include "log.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

#define DEFAULT_ATTEMPTS	3
#define ACTIVE_SQL		"('pending','starting','running')"
/* Lines per INSERT, and about the bytes of their requests. */
#define CHUNK_ROWS		2000
#define CHUNK_BYTES		(8 * 1024 * 1024)
/* Rows per page of a batch's results. */
#define RESULTS_PAGE		500

/* Integer type OIDs (pg_type.h), for columns that become JSON numbers. */
#define OID_INT8	20
#define OID_INT2	21
#define OID_INT4	23

/* Column col as a JSON value (new reference), as store_col_json gives it. */
static json_t *
col_json(const PGresult *r, int row, int col)
{
	Oid	t;

	if (PQgetisnull(r, row, col))
		return json_null();
	t = PQftype(r, col);
	if (t == OID_INT8 || t == OID_INT4 || t == OID_INT2)
		return json_integer(pgs_int(r, row, col, 0));
	return json_stringn(PQgetvalue(r, row, col),
	    (size_t)PQgetlength(r, row, col));
}

/* Text of a column, or NULL for SQL NULL (sqlite3_column_text's way). */
static const char *
col_text(const PGresult *r, int row, int col)
{
	return PQgetisnull(r, row, col) ? NULL : PQgetvalue(r, row, col);
}

/* max_attempts for a batch: its own, else the queue's, else 3; -1 error. */
static int
batch_attempts(struct pgstore *ps, const struct batch_new *b)
{
	PGresult	*r;
	const char	*pv[1];
	int		 v = DEFAULT_ATTEMPTS;

	if (b->max_attempts > 0)
		return b->max_attempts;
	pv[0] = b->queue != NULL ? b->queue : "default";
	if ((r = pgs_exec(ps, "batch submit", "SELECT max_attempts FROM queues "
	    "WHERE name = $1 AND max_attempts IS NOT NULL", 1, pv)) == NULL)
		return -1;
	if (PQntuples(r) > 0)
		v = (int)pgs_int(r, 0, 0, DEFAULT_ATTEMPTS);
	PQclear(r);
	return v;
}

/* The end of the chunk of items starting at from. */
static size_t
chunk_end(const struct batch_item *items, size_t n, size_t from)
{
	size_t	to, bytes = 0;

	for (to = from; to < n && to - from < CHUNK_ROWS; to++) {
		if (items[to].request != NULL)
			bytes += strlen(items[to].request);
		if (to > from && bytes > CHUNK_BYTES)
			break;
	}
	return to;
}

/*
 * Insert items [from, to) of batch b, in submission order (so their n
 * follow the file), skipping lines whose key exists; *created counts the
 * new runs. Two random ids alike fail the statement: it is undone to a
 * savepoint and the chunk drawn again. 0 or -1 (the caller rolls back).
 */
static int
insert_chunk(struct pgstore *ps, const struct batch_new *b,
    const struct batch_item *items, size_t from, size_t to, int attempts,
    const char *now, int *created)
{
	struct pgs_arr	 ids = { NULL, 0, 0 }, cids = { NULL, 0, 0 };
	struct pgs_arr	 reqs = { NULL, 0, 0 };
	PGresult	*r = NULL;
	const char	*pv[10];
	char		 id[32], att[24];
	size_t		 i;
	int		 tries, ret = -1;

	pgs_arr_open(&cids);
	pgs_arr_open(&reqs);
	for (i = from; i < to; i++) {
		pgs_arr_text(&cids, items[i].custom_id, items[i].custom_id != NULL ? strlen(items[i].custom_id) : 0);
		pgs_arr_text(&reqs, items[i].request, items[i].request != NULL ? strlen(items[i].request) : 0);
	}
	pv[1] = pgs_arr_close(&cids);
	pv[2] = pgs_arr_close(&reqs);
	pv[3] = b->name;
	pv[4] = b->queue != NULL ? b->queue : "default";
	pv[5] = b->endpoint != NULL ? b->endpoint : "";
	/* Empty: the dispatching agentd's --dialect applies. */
	pv[6] = b->dialect != NULL ? b->dialect : "";
	pv[7] = b->mode != NULL ? b->mode : "auto";
	pv[8] = now;
	pv[9] = pgs_i64(att, attempts > 0 ? attempts : 1);
	for (tries = 0; tries < 3; tries++) {
		pgs_arr_open(&ids);
		for (i = from; i < to; i++) {
			util_run_id(id, sizeof id);
			pgs_arr_text(&ids, id, strlen(id));
		}
		pv[0] = pgs_arr_close(&ids);
		if (pgs_cmd(ps, "batch submit", "SAVEPOINT batch_chunk", 0,
		    NULL) < 0)
			goto out;
		/*
		 * The key as batch.c's xasprintf makes it ("(null)" for a
		 * missing custom_id); identity values are never reused
		 * (invariant 3).
		 */
		r = pgs_exec(ps, "batch submit", "INSERT INTO runs (id, "
		    "idempotency_key, queue, priority, endpoint, dialect, "
		    "request, mode, status, created_at, updated_at, batch, "
		    "custom_id, max_attempts) SELECT u.id, 'batch:' || $4 || "
		    "':' || coalesce(u.cid, '(null)'), $5, 0, $6, $7, u.req, "
		    "$8, 'pending', $9, $9, $4, u.cid, $10 FROM unnest("
		    "$1::text[], $2::text[], $3::text[]) WITH ORDINALITY AS "
		    "u(id, cid, req, ord) ORDER BY u.ord ON CONFLICT "
		    "(idempotency_key) DO NOTHING RETURNING id", 10, pv);
		if (r != NULL)
			break;
		if (strcmp(pgs_sqlstate(ps), "23505") != 0)
			goto out;
		if (pgs_cmd(ps, "batch submit", "ROLLBACK TO SAVEPOINT "
		    "batch_chunk", 0, NULL) < 0)
			goto out;
	}
	if (r == NULL) {
		log_warnx("store: batch submit: no ids after %d tries", tries);
		goto out;
	}
	*created = PQntuples(r);
	PQclear(r);
	ret = pgs_cmd(ps, "batch submit", "RELEASE SAVEPOINT batch_chunk", 0,
	    NULL) < 0 ? -1 : 0;
out:
	free(ids.p);
	free(cids.p);
	free(reqs.p);
	return ret;
}

/* Submit a batch's items in one transaction. */
int
bpg_submit(struct pgstore *ps, const struct batch_new *b,
    const struct batch_item *items, size_t n, int *submitted, int *present,
    char **cause)
{
	const char	*pv[4];
	char		 now[24], att[24];
	size_t		 from, to;
	int		 attempts, created;

	*submitted = *present = 0;
	pgs_i64(now, util_now_ms());
	if (pgs_begin(ps) != 0) {
		pgs_cause(ps, "begin", cause);
		return -1;
	}
	pv[0] = b->name;
	if (pgs_cmd(ps, "batch submit", "SELECT pg_advisory_xact_lock("
	    "hashtextextended('agentd.batch.' || $1, 0))", 1, pv) < 0)
		goto fail;
	if ((attempts = batch_attempts(ps, b)) < 0)
		goto fail;
	pv[1] = b->queue != NULL ? b->queue : "default";
	pv[2] = pgs_i64(att, attempts);
	pv[3] = now;
	if (pgs_cmd(ps, "batch submit", "INSERT INTO batches (name, queue, "
	    "max_attempts, created_at, updated_at) VALUES ($1, $2, $3, $4, $4) "
	    "ON CONFLICT (name) DO UPDATE SET updated_at = $4", 4, pv) < 0)
		goto fail;
	for (from = 0; from < n; from = to) {
		to = chunk_end(items, n, from);
		if (insert_chunk(ps, b, items, from, to, attempts, now,
		    &created) != 0)
			goto fail;
		*submitted += created;
		*present += (int)(to - from) - created;
	}
	if (pgs_commit(ps) != 0) {
		pgs_cause(ps, "commit", cause);
		*submitted = *present = 0;
		return -1;
	}
	return 0;
fail:
	pgs_cause(ps, "insert", cause);
	pgs_rollback(ps);
	*submitted = *present = 0;
	return -1;
}

/*
 * Status of the batch in row `row` of r (name, queue, max_attempts,
 * created_at, cancelled_at), with counts and rate.
 */
static json_t *
batch_row_status(struct pgstore *ps, const PGresult *r, int row)
{
	PGresult	*s;
	json_t		*o, *counts;
	const char	*name = PQgetvalue(r, row, 0), *pv[2];
	char		 since[24];
	int64_t		 total = 0, done = 0, recent = 0, c, last;
	int64_t		 last_done = 0, now = util_now_ms();
	double		 rate = 0;
	int		 i;

	counts = json_object();
	pv[0] = name;
	pv[1] = pgs_i64(since, now - BATCH_RATE_WINDOW_MS);
	/* In SQLite's order: its GROUP BY sorts, by bytes. */
	s = pgs_exec(ps, "batch status", "SELECT status, count(*), "
	    "max(finished_at), count(*) FILTER (WHERE finished_at >= $2) FROM "
	    "runs WHERE batch = $1 GROUP BY status ORDER BY status COLLATE "
	    "\"C\"", 2, pv);
	for (i = 0; s != NULL && i < PQntuples(s); i++) {
		const char	*st = PQgetvalue(s, i, 0);

		c = pgs_int(s, i, 1, 0);
		json_object_set_new(counts, st, json_integer(c));
		total += c;
		if (store_status_terminal(st)) {
			done += c;
			recent += pgs_int(s, i, 3, 0);
			if ((last = pgs_int(s, i, 2, 0)) > last_done)
				last_done = last;
		}
	}
	PQclear(s);
	rate = batch_rate_per_min(recent, pgs_int(r, row, 3, 0), now);
	o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "queue", col_json(r, row, 1));
	json_object_set_new(o, "max_attempts", col_json(r, row, 2));
	json_object_set_new(o, "created_at", col_json(r, row, 3));
	json_object_set_new(o, "cancelled_at", col_json(r, row, 4));
	json_object_set_new(o, "total", json_integer(total));
	json_object_set_new(o, "finished", json_integer(done));
	json_object_set_new(o, "counts", counts);
	json_object_set_new(o, "rate_per_min", json_real(rate));
	json_object_set_new(o, "eta_s", rate > 0 && done < total ?
	    json_integer((json_int_t)((double)(total - done) / rate * 60)) :
	    json_null());
	json_object_set_new(o, "last_finished_at", last_done > 0 ?
	    json_integer(last_done) : json_null());
	return o;
}

/* Progress of one batch. */
json_t *
bpg_status_json(struct pgstore *ps, const char *name)
{
	PGresult	*r;
	const char	*pv[1];
	json_t		*o = NULL;

	pv[0] = name;
	if ((r = pgs_exec(ps, "batch status", "SELECT name, queue, "
	    "max_attempts, created_at, cancelled_at FROM batches WHERE name = "
	    "$1", 1, pv)) == NULL)
		return NULL;
	if (PQntuples(r) > 0)
		o = batch_row_status(ps, r, 0);
	PQclear(r);
	return o;
}

/* Every batch, newest first. */
json_t *
bpg_list_json(struct pgstore *ps)
{
	PGresult	*r;
	json_t		*arr = json_array();
	int		 i;

	r = pgs_exec(ps, "batch list", "SELECT name, queue, max_attempts, "
	    "created_at, cancelled_at FROM batches ORDER BY created_at DESC, "
	    "name COLLATE \"C\"", 0, NULL);
	for (i = 0; r != NULL && i < PQntuples(r); i++)
		json_array_append_new(arr, batch_row_status(ps, r, i));
	PQclear(r);
	return json_pack("{so}", "batches", arr);
}

/*
 * One output line in the OpenAI Batch API format, from a row of (n, id,
 * custom_id, status, response, error_status, error_message, error_body).
 */
static json_t *
result_line(const PGresult *r, int row)
{
	const char	*status = PQgetvalue(r, row, 3);
	const char	*resp = col_text(r, row, 4);
	const char	*ebody = col_text(r, row, 7);
	json_t		*body = NULL, *response, *error, *line;
	char		 rid[64];
	int		 code;

	snprintf(rid, sizeof rid, "batch_req_%s", PQgetvalue(r, row, 1) + 2);
	if (strcmp(status, "completed") == 0) {
		body = resp != NULL ? json_loads(resp, 0, NULL) : NULL;
		response = json_pack("{si ss so}", "status_code", 200,
		    "request_id", rid, "body", body != NULL ? body :
		    json_null());
		error = json_null();
	} else {
		code = (int)pgs_int(r, row, 5, 0);
		if (code != 0) {
			body = ebody != NULL ? json_loads(ebody, 0, NULL) :
			    NULL;
			if (body == NULL && ebody != NULL)
				body = json_string(ebody);
			response = json_pack("{si ss so}", "status_code", code,
			    "request_id", rid, "body", body != NULL ? body :
			    json_null());
		} else if (resp != NULL &&
		    (body = json_loads(resp, 0, NULL)) != NULL)
			response = json_pack("{si ss so}", "status_code", 200,
			    "request_id", rid, "body", body);
		else
			response = json_null();
		error = json_pack("{ss ss}", "code", status, "message",
		    col_text(r, row, 6) != NULL ? col_text(r, row, 6) :
		    status);
	}
	line = json_pack("{ss so so so}", "id", rid, "custom_id",
	    col_json(r, row, 2), "response", response, "error", error);
	return line;
}

/*
 * Export a batch's results, one line per run, page by page in one
 * read-only snapshot (as SQLite's single statement reads one).
 */
int
bpg_results(struct pgstore *ps, const char *name, int errors_only,
    batch_line_cb cb, void *arg)
{
	PGresult	*r;
	json_t		*line;
	const char	*pv[4];
	char		 after[24], page[24];
	int64_t		 last = 0;
	int		 i, rows, count = 0, stop = 0, own = !ps->in_txn;

	if (own && (pgs_begin(ps) != 0 || pgs_cmd(ps, "batch results",
	    "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", 0,
	    NULL) < 0))
		goto fail;
	pv[0] = name;
	if ((r = pgs_exec(ps, "batch results", "SELECT 1 FROM batches WHERE "
	    "name = $1", 1, pv)) == NULL)
		goto fail;
	rows = PQntuples(r);
	PQclear(r);
	if (rows == 0) {
		if (own)
			pgs_rollback(ps);
		return -2;
	}
	pv[2] = errors_only ? "true" : "false";
	pv[3] = pgs_i64(page, RESULTS_PAGE);
	do {
		pv[1] = pgs_i64(after, last);
		if ((r = pgs_exec(ps, "batch results", "SELECT n, id, "
		    "custom_id, status, response, error_status, error_message, "
		    "error_body FROM runs WHERE batch = $1 AND n > $2 AND NOT "
		    "($3::boolean AND status = 'completed') ORDER BY n LIMIT $4",
		    4, pv)) == NULL)
			goto fail;
		rows = PQntuples(r);
		for (i = 0; !stop && i < rows; i++) {
			last = pgs_int(r, i, 0, 0);
			line = result_line(r, i);
			stop = cb(arg, line);
			json_decref(line);
			count++;
		}
		PQclear(r);
	} while (!stop && rows == RESULTS_PAGE);
	if (own && pgs_commit(ps) != 0)
		return -1;
	return count;
fail:
	if (own)
		pgs_rollback(ps);
	return -1;
}

/*
 * Cancel a batch's unfinished runs: the runs are locked, each current
 * attempt recorded as cancelled and the runs fenced, in one transaction.
 * A run leased by another host is not this process's to tell (its owner
 * is reported NULL, as pgs_cancel does): that host's worker is fenced.
 */
int
bpg_cancel(struct pgstore *ps, const char *name, batch_cancel_cb cb,
    void *arg)
{
	struct pgs_arr	 ns = { NULL, 0, 0 };
	PGresult	*r = NULL;
	const char	*pv[2];
	char		 now[24];
	int		 count = 0, nv = 0, i;
	int64_t		 rows;

	pgs_i64(now, util_now_ms());
	if (pgs_begin(ps) != 0)
		return -1;
	pv[0] = name;
	pv[1] = now;
	if ((rows = pgs_cmd(ps, "batch cancel", "UPDATE batches SET "
	    "cancelled_at = $2, updated_at = $2 WHERE name = $1", 2, pv)) < 0)
		goto fail;
	if (rows == 0) {
		pgs_rollback(ps);
		return -2;
	}
	pv[1] = ps->host_id;
	if ((r = pgs_exec(ps, "batch cancel", "SELECT n, id, CASE WHEN "
	    "$2::text IS NULL OR lease_host = $2 THEN lease_owner END, "
	    "backend_id FROM runs WHERE batch = $1 AND status IN " ACTIVE_SQL
	    " ORDER BY n FOR NO KEY UPDATE", 2, pv)) == NULL)
		goto fail;
	nv = PQntuples(r);
	if (nv > 0) {
		pgs_arr_open(&ns);
		for (i = 0; i < nv; i++)
			pgs_arr_int(&ns, pgs_int(r, i, 0, 0));
		pv[0] = pgs_arr_close(&ns);
		pv[1] = now;
		/* The attempt as pgs_attempt_end records it, then the run. */
		if (pgs_cmd(ps, "batch cancel", "WITH a AS (INSERT INTO "
		    "attempts (run_n, attempt, status, backend_id, "
		    "error_status, error_message, events, started_at, "
		    "ended_at) SELECT n, attempt, 'cancelled', backend_id, "
		    "NULL, 'batch cancelled', event_count, attached_at, $2 "
		    "FROM runs WHERE n = ANY($1::bigint[]) ON CONFLICT (run_n, "
		    "attempt) DO UPDATE SET status = EXCLUDED.status, "
		    "backend_id = EXCLUDED.backend_id, error_status = "
		    "EXCLUDED.error_status, error_message = "
		    "EXCLUDED.error_message, events = EXCLUDED.events, "
		    "started_at = EXCLUDED.started_at, ended_at = "
		    "EXCLUDED.ended_at) UPDATE runs SET status = 'cancelled', "
		    "lease_owner = NULL, lease_host = NULL, lease_epoch = NULL, "
		    "lease_gen = lease_gen + 1, finished_at = $2, updated_at = "
		    "$2, error_message = 'batch cancelled' WHERE n = "
		    "ANY($1::bigint[])", 2, pv) < 0)
			goto fail;
	}
	if (pgs_commit(ps) != 0) {
		count = -1;
		goto out;
	}
	for (i = 0; i < nv; i++) {
		if (cb != NULL && (!PQgetisnull(r, i, 2) ||
		    !PQgetisnull(r, i, 3)))
			cb(arg, pgs_int(r, i, 0, 0), PQgetvalue(r, i, 1),
			    col_text(r, i, 2), col_text(r, i, 3));
		count++;
	}
	goto out;
fail:
	log_warnx("store: batch cancel of %s failed", name);
	pgs_rollback(ps);
	count = -1;
out:
	PQclear(r);
	free(ns.p);
	return count;
}

/*
 * Create or change a queue's settings: one upsert, a new queue starting
 * from the table's defaults as SQLite's insert-then-update does.
 */
int
bpg_queue_set(struct pgstore *ps, const char *name, const struct queue_set *q,
    char **cause)
{
	const char	*pv[6];
	char		 mi[24], pa[24], pr[24], ma[24], now[24];

	pv[0] = name;
	pv[1] = pgs_i64(mi, q->max_inflight);
	pv[2] = pgs_i64(pa, q->paused);
	pv[3] = pgs_i64(pr, q->priority);
	pv[4] = pgs_i64(ma, q->max_attempts);
	pv[5] = pgs_i64(now, util_now_ms());
	if (pgs_cmd(ps, "queue set", "INSERT INTO queues AS q (name, "
	    "max_inflight, paused, priority, max_attempts, updated_at) VALUES "
	    "($1, CASE WHEN $2::integer < 0 THEN NULL ELSE $2::integer END, "
	    "CASE WHEN $3::integer = -1000000 THEN 0 ELSE $3::integer END, "
	    "CASE WHEN $4::integer = -1000000 THEN 0 ELSE $4::integer END, "
	    "CASE WHEN $5::integer = -1000000 THEN NULL ELSE $5::integer END, "
	    "$6) ON CONFLICT (name) DO UPDATE SET "
	    "max_inflight = CASE WHEN $2::integer = -1000000 THEN "
	    "q.max_inflight WHEN $2::integer < 0 THEN NULL ELSE $2::integer "
	    "END, "
	    "paused = CASE WHEN $3::integer = -1000000 THEN q.paused ELSE "
	    "$3::integer END, "
	    "priority = CASE WHEN $4::integer = -1000000 THEN q.priority ELSE "
	    "$4::integer END, "
	    "max_attempts = CASE WHEN $5::integer = -1000000 THEN "
	    "q.max_attempts ELSE $5::integer END, updated_at = $6", 6, pv) < 0) {
		pgs_cause(ps, "queue set", cause);
		return -1;
	}
	return 0;
}

/* Every queue with settings or runs, with counts. */
json_t *
bpg_queue_list_json(struct pgstore *ps)
{
	PGresult	*r;
	json_t		*arr = json_array(), *o;
	int		 i;

	r = pgs_exec(ps, "queue list", "WITH c AS (SELECT queue, "
	    "count(*) FILTER (WHERE status IN " ACTIVE_SQL " AND lease_owner "
	    "IS NULL) AS queued, count(*) FILTER (WHERE status IN " ACTIVE_SQL
	    " AND lease_owner IS NOT NULL) AS inflight, count(*) FILTER "
	    "(WHERE status = 'completed') AS completed, count(*) FILTER "
	    "(WHERE status IN ('failed','cancelled','incomplete','abandoned')) "
	    "AS failed FROM runs GROUP BY queue), names AS (SELECT name FROM "
	    "queues UNION SELECT queue FROM c) SELECT n.name, q.max_inflight, "
	    "coalesce(q.paused, 0), coalesce(q.priority, 0), q.max_attempts, "
	    "coalesce(c.queued, 0), coalesce(c.inflight, 0), "
	    "coalesce(c.completed, 0), coalesce(c.failed, 0) FROM names n LEFT "
	    "JOIN queues q ON q.name = n.name LEFT JOIN c ON c.queue = n.name "
	    "ORDER BY n.name COLLATE \"C\"", 0, NULL);
	for (i = 0; r != NULL && i < PQntuples(r); i++) {
		o = json_object();
		json_object_set_new(o, "name", col_json(r, i, 0));
		json_object_set_new(o, "max_inflight", col_json(r, i, 1));
		json_object_set_new(o, "paused",
		    json_boolean(pgs_int(r, i, 2, 0)));
		json_object_set_new(o, "priority", col_json(r, i, 3));
		json_object_set_new(o, "max_attempts", col_json(r, i, 4));
		json_object_set_new(o, "queued", col_json(r, i, 5));
		json_object_set_new(o, "inflight", col_json(r, i, 6));
		json_object_set_new(o, "completed", col_json(r, i, 7));
		json_object_set_new(o, "failed", col_json(r, i, 8));
		json_array_append_new(arr, o);
	}
	PQclear(r);
	return json_pack("{so}", "queues", arr);
}
