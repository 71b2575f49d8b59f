/*
 * Batches and queues on top of the run store. A batch is a name plus runs
 * tagged with it; each line's idempotency key is "batch:<name>:<custom_id>",
 * so submitting the same file twice, or from two racing processes, adds
 * nothing. Queues are optional rows: a queue without one is unlimited.
 * On a PostgreSQL store each call goes to its bpg_* port in batch-pg.c.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "batch.h"
#include "batch-pg.h"
#include "log.h"
#include "store-internal.h"
#include "util.h"
#include "xmalloc.h"

#define DEFAULT_ATTEMPTS	3

/* max_attempts for a batch: its own, else the queue's, else 3. */
static int
batch_attempts(sqlite3 *db, const struct batch_new *b)
{
	sqlite3_stmt	*s = NULL;
	int		 v = DEFAULT_ATTEMPTS;

	if (b->max_attempts > 0)
		return b->max_attempts;
	if (sqlite3_prepare_v2(db, "SELECT max_attempts FROM queues WHERE "
	    "name = ? AND max_attempts IS NOT NULL", -1, &s,
	    NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, b->queue != NULL ? b->queue : "default",
		    -1, SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW)
			v = sqlite3_column_int(s, 0);
	}
	sqlite3_finalize(s);
	return v;
}

/* Submit a batch's items in one transaction. */
int
batch_submit(struct store *st, const struct batch_new *b,
    const struct batch_item *items, size_t n, int *submitted, int *present,
    char **cause)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	struct run_new	 rn;
	char		 id[32], *key = NULL;
	int		 created, attempts;
	int64_t		 now = util_now_ms();
	size_t		 i;

	*submitted = *present = 0;
	if (store_pg(st) != NULL)
		return bpg_submit(store_pg(st), b, items, n, submitted,
		    present, cause);
	if (store_begin(st) != 0) {
		xasprintf(cause, "store busy: %s", sqlite3_errmsg(db));
		return -1;
	}
	attempts = batch_attempts(db, b);
	if (sqlite3_prepare_v2(db, "INSERT INTO batches (name, queue, "
	    "max_attempts, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?4) "
	    "ON CONFLICT (name) DO UPDATE SET updated_at = ?4", -1, &s,
	    NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, b->name, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 2, b->queue != NULL ? b->queue : "default", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int(s, 3, attempts);
	sqlite3_bind_int64(s, 4, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	s = NULL;
	for (i = 0; i < n; i++) {
		memset(&rn, 0, sizeof rn);
		xasprintf(&key, "batch:%s:%s", b->name, items[i].custom_id);
		rn.request = items[i].request;
		rn.mode = b->mode != NULL ? b->mode : "auto";
		rn.idempotency_key = key;
		rn.queue = b->queue != NULL ? b->queue : "default";
		rn.endpoint = b->endpoint;
		rn.dialect = b->dialect;
		rn.batch = b->name;
		rn.custom_id = items[i].custom_id;
		rn.max_attempts = attempts;
		if (store_run_insert_txn(st, &rn, id, sizeof id,
		    &created) != 0)
			goto fail;
		free(key);
		key = NULL;
		if (created)
			(*submitted)++;
		else
			(*present)++;
	}
	if (store_commit(st) != 0) {
		xasprintf(cause, "store commit failed: %s", sqlite3_errmsg(db));
		*submitted = *present = 0;
		return -1;
	}
	return 0;
fail:
	xasprintf(cause, "store: %s", sqlite3_errmsg(db));
	free(key);
	sqlite3_finalize(s);
	store_rollback(st);
	*submitted = *present = 0;
	return -1;
}

/*
 * Over five minutes, a batch's life when it is younger: a batch of
 * 3,000 runs 35 s old with 287 finished went at 492 a minute, not at
 * 57 (287 over five minutes), and its time left was 5 min, not 47.
 */
double
batch_rate_per_min(int64_t recent, int64_t created_at, int64_t now)
{
	int64_t	 window = BATCH_RATE_WINDOW_MS;

	if (created_at > now - window)
		window = now - created_at;	/* may be <= 0: clock skew */
	if (window < 1000)
		window = 1000;
	return (double)recent * 60000.0 / (double)window;
}

/* Status of the batch in row s (name, queue, max_attempts, created_at,
 * cancelled_at), with counts and rate. */
static json_t *
batch_row_status(sqlite3 *db, sqlite3_stmt *row)
{
	sqlite3_stmt	*s = NULL;
	json_t		*o, *counts;
	const char	*name = (const char *)sqlite3_column_text(row, 0);
	int64_t		 total = 0, done = 0, recent = 0, now = util_now_ms();
	int64_t		 first_done = 0, last_done = 0;
	double		 rate = 0;

	counts = json_object();
	if (sqlite3_prepare_v2(db, "SELECT status, count(*), min(finished_at), "
	    "max(finished_at), sum(finished_at >= ?2) FROM runs WHERE batch = "
	    "?1 GROUP BY status", -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
		sqlite3_bind_int64(s, 2, now - BATCH_RATE_WINDOW_MS);
		while (sqlite3_step(s) == SQLITE_ROW) {
			const char	*st = (const char *)
			    sqlite3_column_text(s, 0);
			int64_t		 c = sqlite3_column_int64(s, 1);

			json_object_set_new(counts, st, json_integer(c));
			total += c;
			if (store_status_terminal(st)) {
				done += c;
				recent += sqlite3_column_int64(s, 4);
				if (first_done == 0 || (sqlite3_column_int64(s,
				    2) != 0 && sqlite3_column_int64(s, 2) <
				    first_done))
					first_done = sqlite3_column_int64(s, 2);
				if (sqlite3_column_int64(s, 3) > last_done)
					last_done = sqlite3_column_int64(s, 3);
			}
		}
	}
	sqlite3_finalize(s);
	rate = batch_rate_per_min(recent, sqlite3_column_int64(row, 3), now);
	o = json_object();
	json_object_set_new(o, "name", json_string(name));
	json_object_set_new(o, "queue", store_col_json(row, 1));
	json_object_set_new(o, "max_attempts", store_col_json(row, 2));
	json_object_set_new(o, "created_at", store_col_json(row, 3));
	json_object_set_new(o, "cancelled_at", store_col_json(row, 4));
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
batch_status_json(struct store *st, const char *name)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	json_t		*o = NULL;

	if (store_pg(st) != NULL)
		return bpg_status_json(store_pg(st), name);
	if (sqlite3_prepare_v2(db, "SELECT name, queue, max_attempts, "
	    "created_at, cancelled_at FROM batches WHERE name = ?", -1, &s,
	    NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		o = batch_row_status(db, s);
	sqlite3_finalize(s);
	return o;
}

/* Every batch, newest first. */
json_t *
batch_list_json(struct store *st)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	json_t		*arr = json_array();

	if (store_pg(st) != NULL) {
		json_decref(arr);
		return bpg_list_json(store_pg(st));
	}
	if (sqlite3_prepare_v2(db, "SELECT name, queue, max_attempts, "
	    "created_at, cancelled_at FROM batches ORDER BY created_at DESC, "
	    "name", -1, &s, NULL) == SQLITE_OK)
		while (sqlite3_step(s) == SQLITE_ROW)
			json_array_append_new(arr, batch_row_status(db, s));
	sqlite3_finalize(s);
	return json_pack("{so}", "batches", arr);
}

/* One output line in the OpenAI Batch API format. */
static json_t *
result_line(sqlite3_stmt *s)
{
	const char	*status = (const char *)sqlite3_column_text(s, 2);
	const char	*resp = (const char *)sqlite3_column_text(s, 3);
	const char	*ebody = (const char *)sqlite3_column_text(s, 6);
	json_t		*body = NULL, *response, *error, *line;
	char		 rid[64];
	int		 code;

	snprintf(rid, sizeof rid, "batch_req_%s",
	    (const char *)sqlite3_column_text(s, 0) + 2);
	if (strcmp(status, "completed") == 0) {
		body = resp != NULL ? json_loads(resp, 0, NULL) : NULL;
		response = json_pack("{si ss so}", "status_code", 200,
		    "request_id", rid, "body", body != NULL ? body :
		    json_null());
		error = json_null();
	} else {
		code = sqlite3_column_type(s, 4) == SQLITE_NULL ? 0 :
		    sqlite3_column_int(s, 4);
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
		    sqlite3_column_type(s, 5) != SQLITE_NULL ?
		    (const char *)sqlite3_column_text(s, 5) : status);
	}
	line = json_pack("{ss so so so}", "id", rid, "custom_id",
	    store_col_json(s, 1), "response", response, "error", error);
	return line;
}

/* Export a batch's results, one line per run. */
int
batch_results(struct store *st, const char *name, int errors_only,
    batch_line_cb cb, void *arg)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	json_t		*line;
	int		 rc, count = 0, stop = 0;

	if (store_pg(st) != NULL)
		return bpg_results(store_pg(st), name, errors_only, cb, arg);
	if (sqlite3_prepare_v2(db, "SELECT 1 FROM batches WHERE name = ?", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc == SQLITE_DONE)
		return -2;
	if (sqlite3_prepare_v2(db, "SELECT r.id, r.custom_id, r.status, "
	    "x.response, r.error_status, r.error_message, r.error_body FROM "
	    "runs r LEFT JOIN run_results x ON x.n = r.n WHERE r.batch = ? "
	    "ORDER BY r.n", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while (!stop && (rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (errors_only && strcmp((const char *)sqlite3_column_text(s,
		    2), "completed") == 0)
			continue;
		line = result_line(s);
		stop = cb(arg, line);
		json_decref(line);
		count++;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : -1;
}

/* Cancel a batch's unfinished runs. */
int
batch_cancel(struct store *st, const char *name, batch_cancel_cb cb,
    void *arg)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL, *u = NULL;
	int64_t		 now = util_now_ms();
	int		 rc, count = 0;
	struct victim {
		int64_t	 n;
		char	 id[32];
		char	*owner, *backend_id;
	}		*v = NULL;
	size_t		 nv = 0, i;

	if (store_pg(st) != NULL)
		return bpg_cancel(store_pg(st), name, cb, arg);
	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(db, "UPDATE batches SET cancelled_at = ?2, "
	    "updated_at = ?2 WHERE name = ?1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, now);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto fail;
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_changes(db) == 0) {
		store_rollback(st);
		return -2;
	}
	if (sqlite3_prepare_v2(db, "SELECT n, id, lease_owner, backend_id "
	    "FROM runs WHERE batch = ? AND status IN ('pending','starting',"
	    "'running')", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		v = xreallocarray(v, nv + 1, sizeof *v);
		v[nv].n = sqlite3_column_int64(s, 0);
		snprintf(v[nv].id, sizeof v[nv].id, "%s",
		    sqlite3_column_text(s, 1));
		v[nv].owner = sqlite3_column_type(s, 2) == SQLITE_NULL ? NULL :
		    xstrdup((const char *)sqlite3_column_text(s, 2));
		v[nv].backend_id = sqlite3_column_type(s, 3) == SQLITE_NULL ?
		    NULL : xstrdup((const char *)sqlite3_column_text(s, 3));
		nv++;
	}
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	if (sqlite3_prepare_v2(db, "UPDATE runs SET status = 'cancelled', "
	    "lease_owner = NULL, lease_gen = lease_gen + 1, finished_at = ?2, "
	    "updated_at = ?2, error_message = 'batch cancelled' WHERE n = ?1",
	    -1, &u, NULL) != SQLITE_OK)
		goto fail;
	for (i = 0; i < nv; i++) {
		if (store_attempt_end(st, v[i].n, "cancelled", 0,
		    "batch cancelled") != 0)
			goto fail;
		sqlite3_bind_int64(u, 1, v[i].n);
		sqlite3_bind_int64(u, 2, now);
		if (sqlite3_step(u) != SQLITE_DONE)
			goto fail;
		sqlite3_reset(u);
	}
	sqlite3_finalize(u);
	u = NULL;
	if (store_commit(st) != 0)
		goto fail;
	for (i = 0; i < nv; i++) {
		if (cb != NULL && (v[i].owner != NULL ||
		    v[i].backend_id != NULL))
			cb(arg, v[i].n, v[i].id, v[i].owner, v[i].backend_id);
		count++;
	}
	goto out;
fail:
	log_warnx("store: batch cancel: %s", sqlite3_errmsg(db));
	sqlite3_finalize(s);
	sqlite3_finalize(u);
	store_rollback(st);
	count = -1;
out:
	for (i = 0; i < nv; i++) {
		free(v[i].owner);
		free(v[i].backend_id);
	}
	free(v);
	return count;
}

/* Create or change a queue's settings. */
int
queue_set(struct store *st, const char *name, const struct queue_set *q,
    char **cause)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (store_pg(st) != NULL)
		return bpg_queue_set(store_pg(st), name, q, cause);
	if (store_begin(st) != 0) {
		xasprintf(cause, "store busy");
		return -1;
	}
	if (sqlite3_prepare_v2(db, "INSERT INTO queues (name, updated_at) "
	    "VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET updated_at = ?2",
	    -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(s, 2, util_now_ms());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	s = NULL;
	if (rc != SQLITE_DONE)
		goto fail;
	if (sqlite3_prepare_v2(db, "UPDATE queues SET "
	    "max_inflight = CASE WHEN ?2 = -1000000 THEN max_inflight "
	    "WHEN ?2 < 0 THEN NULL ELSE ?2 END, "
	    "paused = CASE WHEN ?3 = -1000000 THEN paused ELSE ?3 END, "
	    "priority = CASE WHEN ?4 = -1000000 THEN priority ELSE ?4 END, "
	    "max_attempts = CASE WHEN ?5 = -1000000 THEN max_attempts "
	    "ELSE ?5 END WHERE name = ?1", -1, &s, NULL) != SQLITE_OK)
		goto fail;
	sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, q->max_inflight);
	sqlite3_bind_int(s, 3, q->paused);
	sqlite3_bind_int(s, 4, q->priority);
	sqlite3_bind_int(s, 5, q->max_attempts);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		goto fail;
	if (store_commit(st) != 0) {
		xasprintf(cause, "store commit failed");
		return -1;
	}
	return 0;
fail:
	xasprintf(cause, "store: %s", sqlite3_errmsg(db));
	store_rollback(st);
	return -1;
}

/* Every queue with settings or runs, with counts. */
json_t *
queue_list_json(struct store *st)
{
	sqlite3		*db = store_db(st);
	sqlite3_stmt	*s = NULL;
	json_t		*arr = json_array(), *o;

	if (store_pg(st) != NULL) {
		json_decref(arr);
		return bpg_queue_list_json(store_pg(st));
	}
	if (sqlite3_prepare_v2(db, "WITH names AS (SELECT name FROM queues "
	    "UNION SELECT DISTINCT queue FROM runs) SELECT n.name, "
	    "q.max_inflight, coalesce(q.paused, 0), coalesce(q.priority, 0), "
	    "q.max_attempts, (SELECT count(*) FROM runs WHERE queue = n.name "
	    "AND status IN ('pending','starting','running') AND lease_owner IS "
	    "NULL), (SELECT count(*) FROM runs WHERE queue = n.name AND "
	    "status IN ('pending','starting','running') AND lease_owner IS "
	    "NOT NULL), (SELECT count(*) FROM runs WHERE queue = n.name AND "
	    "status = 'completed'), (SELECT count(*) FROM runs WHERE queue = "
	    "n.name AND status IN ('failed','cancelled','incomplete',"
	    "'abandoned')) FROM names n LEFT JOIN queues q ON q.name = n.name "
	    "ORDER BY n.name", -1, &s, NULL) == SQLITE_OK)
		while (sqlite3_step(s) == SQLITE_ROW) {
			o = json_object();
			json_object_set_new(o, "name", store_col_json(s, 0));
			json_object_set_new(o, "max_inflight",
			    store_col_json(s, 1));
			json_object_set_new(o, "paused",
			    json_boolean(sqlite3_column_int(s, 2)));
			json_object_set_new(o, "priority", store_col_json(s, 3));
			json_object_set_new(o, "max_attempts",
			    store_col_json(s, 4));
			json_object_set_new(o, "queued", store_col_json(s, 5));
			json_object_set_new(o, "inflight", store_col_json(s, 6));
			json_object_set_new(o, "completed",
			    store_col_json(s, 7));
			json_object_set_new(o, "failed", store_col_json(s, 8));
			json_array_append_new(arr, o);
		}
	sqlite3_finalize(s);
	return json_pack("{so}", "queues", arr);
}
