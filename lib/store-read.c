/*
 * The store's reads for the API: a run's JSON (the one definition of its
 * shape, including why a waiting run waits), pages of runs, events, results
 * and counts. Writes live in store.c; both share store-internal.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jsonbuf.h"
#include "log.h"
#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/*
 * A run's columns (r), then what says why a pending one waits: its queue
 * (q) and, only for pending runs, the runs in flight in its queue and in
 * all (%d: agentd's --max-inflight, 0 for none). Use with RUN_FROM. The
 * counts walk the runs in flight by their partial index: without ANALYZE,
 * SQLite chose runs_queue and walked a whole queue for each pending row
 * (13 s for a page of a million-run queue).
 */
#define RUN_COLS "r.id, r.status, r.mode, r.resolved_mode, r.backend_id, " \
	"r.backend_status, r.endpoint, r.queue, r.priority, r.creates, " \
	"r.last_seq, r.event_count, r.last_event_at, r.created_at, " \
	"r.updated_at, r.finished_at, r.resumable, r.idempotency_key, " \
	"r.error_status, r.error_message, r.error_body, r.lease_owner, " \
	"r.dialect, r.attempt, r.max_attempts, r.batch, r.custom_id, " \
	"r.not_before, r.wait_reason, r.wait_until, r.wait_tries, " \
	"coalesce(q.paused, 0), q.max_inflight, CASE WHEN r.status = " \
	"'pending' AND q.max_inflight IS NOT NULL THEN (SELECT count(*) " \
	"FROM runs b INDEXED BY runs_lease WHERE b.lease_owner IS NOT NULL " \
	"AND b.queue = r.queue AND b.status IN " ACTIVE_SQL ") END, CASE " \
	"WHEN r.status = 'pending' AND %d > 0 THEN (SELECT count(*) FROM " \
	"runs b INDEXED BY runs_lease WHERE b.lease_owner IS NOT NULL AND " \
	"b.status IN " ACTIVE_SQL ") END"
#define RUN_FROM " FROM runs r LEFT JOIN queues q ON q.name = r.queue"
enum {
	COL_STATUS = 1,
	COL_QUEUE = 7,
	COL_LEASE_OWNER = 21,
	COL_ATTEMPT = 23,
	COL_MAX_ATTEMPTS = 24,
	COL_NOT_BEFORE = 27,
	COL_WAIT_REASON,
	COL_WAIT_UNTIL,
	COL_WAIT_TRIES,
	COL_Q_PAUSED,
	COL_Q_MAX,
	COL_Q_BUSY,
	COL_BUSY
};

/* Column i of a row as a JSON value (new reference). */
json_t *
store_col_json(sqlite3_stmt *s, int i)
{
	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		return json_null();
	case SQLITE_INTEGER:
		return json_integer(sqlite3_column_int64(s, i));
	default:
		return json_stringn((const char *)sqlite3_column_text(s, i),
		    (size_t)sqlite3_column_bytes(s, i));
	}
}

/*
 * The API's error object from columns i (error_status), i + 1 (message),
 * i + 2 (body): null when there is neither status nor message.
 */
static json_t *
error_json(sqlite3_stmt *s, int i)
{
	json_t	*err;

	if (sqlite3_column_type(s, i) == SQLITE_NULL &&
	    sqlite3_column_type(s, i + 1) == SQLITE_NULL)
		return json_null();
	err = json_object();
	json_object_set_new(err, "http_status", store_col_json(s, i));
	json_object_set_new(err, "message", store_col_json(s, i + 1));
	json_object_set_new(err, "body", store_col_json(s, i + 2));
	return err;
}

/* Append column i of a row to b, as store_col_json would give it. */
static void
col_write(struct jsonbuf *b, sqlite3_stmt *s, int i)
{
	const char	*text;

	switch (sqlite3_column_type(s, i)) {
	case SQLITE_NULL:
		jsonbuf_raw(b, "null");
		break;
	case SQLITE_INTEGER:
		jsonbuf_int(b, sqlite3_column_int64(s, i));
		break;
	default:
		text = (const char *)sqlite3_column_text(s, i);
		jsonbuf_str(b, text, (size_t)sqlite3_column_bytes(s, i));
		break;
	}
}

/*
 * Append the reason a run that is not moving waits, for a row selected with
 * RUN_COLS: {"reason","until","tries","message"} (+ "queue", "limit"), or
 * null when it is not waiting. An unleased pending run's reason is derived
 * here, in the order the scheduler checks them; a leased run's is what its
 * worker recorded. Finished runs never wait.
 */
static void
wait_write(struct jsonbuf *b, sqlite3_stmt *s, int max_inflight)
{
	const char	*status, *reason, *queue;
	char		 msg[256];
	int64_t		 until = 0, limit = 0, now = util_now_ms();
	int		 tries;

	status = (const char *)sqlite3_column_text(s, COL_STATUS);
	reason = (const char *)sqlite3_column_text(s, COL_WAIT_REASON);
	queue = (const char *)sqlite3_column_text(s, COL_QUEUE);
	tries = sqlite3_column_int(s, COL_WAIT_TRIES);
	if (status == NULL || store_status_terminal(status)) {
		jsonbuf_raw(b, "null");
		return;
	}
	if (queue == NULL)
		queue = "";
	msg[0] = '\0';
	if (sqlite3_column_type(s, COL_LEASE_OWNER) == SQLITE_NULL)
		reason = NULL;	/* a worker's record outlives no lease */
	if (strcmp(status, RUN_PENDING) == 0 &&
	    sqlite3_column_type(s, COL_LEASE_OWNER) == SQLITE_NULL) {
		if (sqlite3_column_int(s, COL_Q_PAUSED) != 0) {
			reason = WAIT_QUEUE_PAUSED;
			snprintf(msg, sizeof msg, "queue %.64s is paused",
			    queue);
		} else if (sqlite3_column_int64(s, COL_NOT_BEFORE) > now) {
			reason = WAIT_ATTEMPT;
			until = sqlite3_column_int64(s, COL_NOT_BEFORE);
			snprintf(msg, sizeof msg, "attempt %d of %d, after the "
			    "last one failed", sqlite3_column_int(s,
			    COL_ATTEMPT), sqlite3_column_int(s,
			    COL_MAX_ATTEMPTS));
		} else if (sqlite3_column_type(s, COL_Q_BUSY) != SQLITE_NULL &&
		    sqlite3_column_int64(s, COL_Q_BUSY) >=
		    sqlite3_column_int64(s, COL_Q_MAX)) {
			reason = WAIT_QUEUE_FULL;
			limit = sqlite3_column_int64(s, COL_Q_MAX);
			snprintf(msg, sizeof msg, "queue %.64s has its "
			    "max_inflight (%lld) runs in flight", queue,
			    (long long)limit);
		} else if (sqlite3_column_type(s, COL_BUSY) != SQLITE_NULL &&
		    sqlite3_column_int64(s, COL_BUSY) >= max_inflight) {
			reason = WAIT_MAX_INFLIGHT;
			limit = max_inflight;
			snprintf(msg, sizeof msg, "agentd has its "
			    "--max-inflight (%d) runs in flight", max_inflight);
		}
	} else if (reason != NULL) {
		until = sqlite3_column_int64(s, COL_WAIT_UNTIL);
		if (strcmp(reason, WAIT_RETRY_AFTER) == 0)
			snprintf(msg, sizeof msg, "retry %d, when the "
			    "backend's Retry-After said", tries);
		else if (strcmp(reason, WAIT_RATELIMIT_RESET) == 0)
			snprintf(msg, sizeof msg, "retry %d, when the "
			    "backend's rate limit resets", tries);
		else if (strcmp(reason, WAIT_BACKOFF) == 0)
			snprintf(msg, sizeof msg, "retry %d, after agentd's "
			    "backoff", tries);
		else if (strcmp(reason, WAIT_ENDPOINT_PAUSED) == 0)
			snprintf(msg, sizeof msg, "held: the endpoint is "
			    "paused after an HTTP 429");
		else if (strcmp(reason, WAIT_RPM) == 0)
			snprintf(msg, sizeof msg, "held: "
			    "--requests-per-minute");
		else if (strcmp(reason, WAIT_STORE) == 0)
			snprintf(msg, sizeof msg, "held: the store refuses "
			    "writes");
		else
			snprintf(msg, sizeof msg, "%.64s", reason);
	}
	if (reason == NULL) {
		jsonbuf_raw(b, "null");
		return;
	}
	jsonbuf_raw(b, "{\"reason\":");
	jsonbuf_str(b, reason, strlen(reason));
	jsonbuf_raw(b, ",\"until\":");
	if (until > 0)
		jsonbuf_int(b, until);
	else
		jsonbuf_raw(b, "null");
	jsonbuf_raw(b, ",\"tries\":");
	jsonbuf_int(b, tries);
	if (limit > 0) {
		jsonbuf_raw(b, ",\"limit\":");
		jsonbuf_int(b, limit);
	}
	if (strcmp(reason, WAIT_QUEUE_PAUSED) == 0 ||
	    strcmp(reason, WAIT_QUEUE_FULL) == 0) {
		jsonbuf_raw(b, ",\"queue\":");
		jsonbuf_str(b, queue, strlen(queue));
	}
	jsonbuf_raw(b, ",\"message\":");
	jsonbuf_str(b, msg, strlen(msg));
	jsonbuf_raw(b, "}");
}

/*
 * Append the API's run object for a row selected with RUN_COLS to b. The
 * one definition of a run's JSON: run_row_json parses what this writes,
 * and a page of runs is written with it directly, since building and
 * dumping 100 jansson objects was most of the time of GET /v1/runs.
 */
static void
run_row_write(struct jsonbuf *b, sqlite3_stmt *s, int max_inflight)
{
	static const char *const names[] = {
		"{\"id\":", ",\"status\":", ",\"mode\":",
		",\"resolved_mode\":", ",\"backend_id\":",
		",\"backend_status\":", ",\"endpoint\":", ",\"queue\":",
		",\"priority\":", ",\"creates\":", ",\"last_seq\":",
		",\"event_count\":", ",\"last_event_at\":",
		",\"created_at\":", ",\"updated_at\":", ",\"finished_at\":"
	};
	static const char *const tail[] = {
		",\"worker\":", ",\"dialect\":", ",\"attempt\":",
		",\"max_attempts\":", ",\"batch\":", ",\"custom_id\":",
		",\"not_before\":"
	};
	size_t	 i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		jsonbuf_raw(b, names[i]);
		col_write(b, s, (int)i);
	}
	jsonbuf_raw(b, sqlite3_column_int(s, 16) ? ",\"resumable\":true" :
	    ",\"resumable\":false");
	jsonbuf_raw(b, ",\"idempotency_key\":");
	col_write(b, s, 17);
	/* As error_json: null unless there is a status or a message. */
	jsonbuf_raw(b, ",\"error\":");
	if (sqlite3_column_type(s, 18) == SQLITE_NULL &&
	    sqlite3_column_type(s, 19) == SQLITE_NULL)
		jsonbuf_raw(b, "null");
	else {
		jsonbuf_raw(b, "{\"http_status\":");
		col_write(b, s, 18);
		jsonbuf_raw(b, ",\"message\":");
		col_write(b, s, 19);
		jsonbuf_raw(b, ",\"body\":");
		col_write(b, s, 20);
		jsonbuf_raw(b, "}");
	}
	/* Columns 21 (lease_owner, shown as worker) to 27. */
	for (i = 0; i < sizeof tail / sizeof tail[0]; i++) {
		jsonbuf_raw(b, tail[i]);
		col_write(b, s, 21 + (int)i);
	}
	jsonbuf_raw(b, ",\"retries\":");
	col_write(b, s, COL_WAIT_TRIES);
	jsonbuf_raw(b, ",\"wait\":");
	wait_write(b, s, max_inflight);
	jsonbuf_raw(b, "}");
}

/* The API's run object for a row selected with RUN_COLS (new reference). */
static json_t *
run_row_json(sqlite3_stmt *s, int max_inflight)
{
	struct jsonbuf	*b = jsonbuf_new();
	json_error_t	 jerr;
	const char	*text;
	json_t		*o;
	size_t		 len;

	run_row_write(b, s, max_inflight);
	text = jsonbuf_text(b, &len);
	/* JSON_ALLOW_NUL: a column may hold a NUL, written as \u0000. */
	if ((o = json_loadb(text, len, JSON_ALLOW_NUL, &jerr)) == NULL)
		fatalx("store: run JSON does not parse: %s", jerr.text);
	jsonbuf_free(b);
	return o;
}

/* One run as JSON, or NULL if absent. */
json_t *
store_run_json(struct store *st, const char *id)
{
	sqlite3_stmt	*s = NULL;
	json_t		*o = NULL;
	char		 sql[2048];
	int		 mi = store_max_inflight(st);

	if (store_pg(st) != NULL)
		return pgs_run_json(store_pg(st), id);

	snprintf(sql, sizeof sql, "SELECT " RUN_COLS RUN_FROM " WHERE r.id = ?",
	    mi);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		o = run_row_json(s, mi);
	sqlite3_finalize(s);
	return o;
}

/* Internal key of run id, or -1. */
int64_t
store_run_n(struct store *st, const char *id)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 n = -1;

	if (store_pg(st) != NULL)
		return pgs_run_n(store_pg(st), id);

	if (sqlite3_prepare_v2(store_db(st), "SELECT n FROM runs WHERE id = ?", -1,
	    &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		n = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return n;
}

/*
 * A page of runs, newest first, as the JSON text {"runs":[...],"next":id
 * or null}, written directly (run_row_write); allocated, *len is its
 * length. NULL with *cause for an unknown cursor or a store error.
 */
char *
store_run_list(struct store *st, const char *status, const char *queue,
    int64_t since, const char *after, int limit, size_t *len, char **cause)
{
	sqlite3_stmt	*s = NULL;
	struct jsonbuf	*b;
	char		*last = NULL, sql[2048];
	int64_t		 after_n = INT64_MAX;
	int		 rc, count = 0, i = 1, mi = store_max_inflight(st);

	if (store_pg(st) != NULL)
		return pgs_run_list(store_pg(st), status, queue, since, after,
		    limit, len, cause);

	if (after != NULL && *after != '\0') {
		if ((after_n = store_run_n(st, after)) < 0) {
			xasprintf(cause, "unknown run id in after: %s", after);
			return NULL;
		}
	}
	/* The rowid or a (status|queue, n) index; never a scan or a count. */
	snprintf(sql, sizeof sql, "SELECT " RUN_COLS RUN_FROM " WHERE r.n < ?"
	    "%s%s%s ORDER BY r.n DESC LIMIT ?", mi,
	    status != NULL ? " AND r.status = ?" : "",
	    queue != NULL ? " AND r.queue = ?" : "",
	    since > 0 ? " AND r.created_at >= ?" : "");
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) != SQLITE_OK) {
		xasprintf(cause, "store: %s", sqlite3_errmsg(store_db(st)));
		return NULL;
	}
	sqlite3_bind_int64(s, i++, after_n);
	if (status != NULL)
		sqlite3_bind_text(s, i++, status, -1, SQLITE_STATIC);
	if (queue != NULL)
		sqlite3_bind_text(s, i++, queue, -1, SQLITE_STATIC);
	if (since > 0)
		sqlite3_bind_int64(s, i++, since);
	sqlite3_bind_int(s, i++, limit + 1);
	b = jsonbuf_new();
	jsonbuf_raw(b, "{\"runs\":[");
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		if (count == limit)
			break;	/* one more row: there is a next page */
		if (count++ > 0)
			jsonbuf_raw(b, ",");
		run_row_write(b, s, mi);
		free(last);
		last = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		xasprintf(cause, "store: %s", sqlite3_errmsg(store_db(st)));
		sqlite3_finalize(s);
		jsonbuf_free(b);
		free(last);
		return NULL;
	}
	jsonbuf_raw(b, "],\"next\":");
	if (rc == SQLITE_ROW && last != NULL)
		jsonbuf_str(b, last, strlen(last));
	else
		jsonbuf_raw(b, "null");
	jsonbuf_raw(b, "}");
	sqlite3_finalize(s);
	free(last);
	return jsonbuf_steal(b, len);
}

/* Iterate stored events of run n with seq > after. */
int
store_events_each(struct store *st, int64_t n, int64_t after, int limit,
    store_event_cb cb, void *arg)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, count = 0;

	if (store_pg(st) != NULL)
		return pgs_events_each(store_pg(st), n, after, limit, cb, arg);

	if (sqlite3_prepare_v2(store_db(st), "SELECT seq, type, data FROM events "
	    "WHERE run_n = ? AND seq > ? ORDER BY seq LIMIT ?", -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	sqlite3_bind_int64(s, 2, after);
	sqlite3_bind_int(s, 3, limit);
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		count++;
		if (cb(arg, sqlite3_column_int64(s, 0),
		    (const char *)sqlite3_column_text(s, 1),
		    (const char *)sqlite3_column_text(s, 2)) != 0)
			break;
	}
	sqlite3_finalize(s);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? count : -1;
}

struct events_json_arg {
	json_t	*arr;
	int	 raw;
	int64_t	 last;
};

static int
events_json_cb(void *arg, int64_t seq, const char *type, const char *data)
{
	struct events_json_arg	*a = arg;
	json_t			*e = json_object(), *d;

	json_object_set_new(e, "seq", json_integer(seq));
	json_object_set_new(e, "type", json_string(type));
	if (a->raw || (d = json_loads(data, 0, NULL)) == NULL)
		d = json_string(data);
	json_object_set_new(e, "data", d);
	json_array_append_new(a->arr, e);
	a->last = seq;
	return 0;
}

/* Events of run id after seq as {"events":[...]}; NULL if no such run. */
json_t *
store_events_json(struct store *st, const char *id, int64_t after,
    int limit, int raw, int64_t *next)
{
	struct events_json_arg	 a;
	int64_t			 n;
	json_t			*o;
	int			 count;

	if (store_pg(st) != NULL)
		return pgs_events_json(store_pg(st), id, after, limit, raw,
		    next);

	if ((n = store_run_n(st, id)) < 0)
		return NULL;
	a.arr = json_array();
	a.raw = raw;
	a.last = -1;
	count = store_events_each(st, n, after, limit, events_json_cb, &a);
	*next = count == limit ? a.last : -1;
	o = json_object();
	json_object_set_new(o, "events", a.arr);
	json_object_set_new(o, "next_after", *next >= 0 ?
	    json_integer(*next) : json_null());
	return o;
}

/* Result object of run id, or NULL. */
json_t *
store_result_json(struct store *st, const char *id)
{
	sqlite3_stmt	*s = NULL;
	json_t		*o = NULL, *resp = NULL;

	if (store_pg(st) != NULL)
		return pgs_result_json(store_pg(st), id);

	if (sqlite3_prepare_v2(store_db(st), "SELECT r.id, r.status, "
	    "x.output_text, x.response, r.error_status, r.error_message, "
	    "r.error_body FROM runs r LEFT JOIN run_results x ON x.n = r.n "
	    "WHERE r.id = ?", -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		o = json_object();
		json_object_set_new(o, "id", store_col_json(s, 0));
		json_object_set_new(o, "status", store_col_json(s, 1));
		json_object_set_new(o, "output_text", store_col_json(s, 2));
		if (sqlite3_column_type(s, 3) != SQLITE_NULL)
			resp = json_loads((const char *)
			    sqlite3_column_text(s, 3), 0, NULL);
		json_object_set_new(o, "response", resp != NULL ? resp :
		    json_null());
		json_object_set_new(o, "error", error_json(s, 4));
	}
	sqlite3_finalize(s);
	return o;
}

/* {"pending":N, ...} for every status present. */
json_t *
store_counts_json(struct store *st)
{
	sqlite3_stmt	*s = NULL;
	json_t		*o;

	if (store_pg(st) != NULL)
		return pgs_counts_json(store_pg(st));

	o = json_object();

	if (sqlite3_prepare_v2(store_db(st), "SELECT status, count(*) FROM runs "
	    "GROUP BY status", -1, &s, NULL) != SQLITE_OK)
		return o;
	while (sqlite3_step(s) == SQLITE_ROW)
		json_object_set_new(o, (const char *)sqlite3_column_text(s, 0),
		    json_integer(sqlite3_column_int64(s, 1)));
	sqlite3_finalize(s);
	return o;
}

/* Status and cursor of run n. */
int
store_run_state(struct store *st, int64_t n, char *status, size_t len,
    int64_t *last_seq)
{
	sqlite3_stmt	*s = NULL;
	int		 ret = -1;

	if (store_pg(st) != NULL)
		return pgs_run_state(store_pg(st), n, status, len, last_seq);

	if (sqlite3_prepare_v2(store_db(st), "SELECT status, last_seq FROM runs "
	    "WHERE n = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	if (sqlite3_step(s) == SQLITE_ROW) {
		snprintf(status, len, "%s", sqlite3_column_text(s, 0));
		*last_seq = sqlite3_column_int64(s, 1);
		ret = 0;
	}
	sqlite3_finalize(s);
	return ret;
}

/* Total events stored (for metrics). */
int64_t
store_count_events(struct store *st)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 c = 0;

	if (store_pg(st) != NULL)
		return pgs_count_events(store_pg(st));

	if (sqlite3_prepare_v2(store_db(st), "SELECT coalesce(sum(event_count), 0) "
	    "FROM runs", -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return c;
}

/*
 * Runs not moving, by why they wait (as a run's "wait" says), and how many
 * of them wait to retry after a failure: {"retrying":N,"reasons":{...}}.
 * Scans the active runs; for /metrics. A new reference, never NULL.
 */
json_t *
store_waiting_json(struct store *st)
{
	sqlite3_stmt	*s = NULL;
	json_t		*o, *reasons;
	char		 sql[1600];
	int64_t		 retrying = 0;
	int		 mi = store_max_inflight(st);

	if (store_pg(st) != NULL)
		return pgs_waiting_json(store_pg(st));

	o = json_object();
	reasons = json_object();
	json_object_set_new(o, "reasons", reasons);
	if (sqlite3_prepare_v2(store_db(st), "SELECT wait_reason, count(*), "
	    "sum(wait_tries > 0) FROM runs WHERE status IN " ACTIVE_SQL " AND wait_reason IS "
	    "NOT NULL AND lease_owner IS NOT NULL GROUP BY 1", -1, &s,
	    NULL) == SQLITE_OK) {
		while (sqlite3_step(s) == SQLITE_ROW) {
			json_object_set_new(reasons, (const char *)
			    sqlite3_column_text(s, 0), json_integer(
			    sqlite3_column_int64(s, 1)));
			retrying += sqlite3_column_int64(s, 2);
		}
	}
	sqlite3_finalize(s);
	s = NULL;
	/* The order of wait_write's checks for a pending run. */
	snprintf(sql, sizeof sql, "WITH busy AS (SELECT queue, count(*) AS c "
	    "FROM runs WHERE lease_owner IS NOT NULL AND status IN "
	    ACTIVE_SQL " GROUP BY queue), total AS (SELECT coalesce(sum(c), "
	    "0) AS c FROM busy) SELECT CASE WHEN coalesce(q.paused, 0) != 0 "
	    "THEN '" WAIT_QUEUE_PAUSED "' WHEN coalesce(r.not_before, 0) > ?1 "
	    "THEN '" WAIT_ATTEMPT "' WHEN q.max_inflight IS NOT NULL AND "
	    "coalesce(b.c, 0) >= q.max_inflight THEN '" WAIT_QUEUE_FULL "' "
	    "WHEN %d > 0 AND (SELECT c FROM total) >= %d THEN '"
	    WAIT_MAX_INFLIGHT "' END AS why, count(*) FROM runs r LEFT JOIN "
	    "queues q ON q.name = r.queue LEFT JOIN busy b ON b.queue = "
	    "r.queue WHERE r.status = 'pending' AND r.lease_owner IS NULL "
	    "GROUP BY why", mi, mi);
	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, util_now_ms());
		while (sqlite3_step(s) == SQLITE_ROW) {
			if (sqlite3_column_type(s, 0) == SQLITE_NULL)
				continue;
			json_object_set_new(reasons, (const char *)
			    sqlite3_column_text(s, 0), json_integer(
			    sqlite3_column_int64(s, 1)));
		}
	}
	sqlite3_finalize(s);
	json_object_set_new(o, "retrying", json_integer(retrying));
	return o;
}

/* Load what the front needs of run id. */
int
store_run_view(struct store *st, const char *id, struct run_view *v)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, ret = -1;

	if (store_pg(st) != NULL)
		return pgs_run_view(store_pg(st), id, v);

	memset(v, 0, sizeof *v);
	if (sqlite3_prepare_v2(store_db(st), "SELECT r.n, r.id, r.status, "
	    "r.request, r.dialect, r.backend_id, r.resolved_mode, x.response, "
	    "x.output_text, r.error_message, r.resumable, r.last_seq, "
	    "r.created_at, coalesce(r.finished_at, 0) FROM runs r LEFT JOIN "
	    "run_results x ON x.n = r.n WHERE r.id = ?", -1, &s, NULL) !=
	    SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		ret = 0;
	else if (rc == SQLITE_ROW) {
		v->n = sqlite3_column_int64(s, 0);
		snprintf(v->id, sizeof v->id, "%s", sqlite3_column_text(s, 1));
		snprintf(v->status, sizeof v->status, "%s",
		    sqlite3_column_text(s, 2));
		v->request = store_col_dup(s, 3);
		v->dialect = store_col_dup(s, 4);
		v->backend_id = store_col_dup(s, 5);
		v->resolved_mode = store_col_dup(s, 6);
		v->response = store_col_dup(s, 7);
		v->output_text = store_col_dup(s, 8);
		v->error_message = store_col_dup(s, 9);
		v->resumable = sqlite3_column_int(s, 10);
		v->last_seq = sqlite3_column_int64(s, 11);
		v->created_at = sqlite3_column_int64(s, 12);
		v->finished_at = sqlite3_column_int64(s, 13);
		ret = 1;
	}
	sqlite3_finalize(s);
	return ret;
}

/* Free the strings of a view. */
void
store_run_view_clear(struct run_view *v)
{
	free(v->request);
	free(v->dialect);
	free(v->backend_id);
	free(v->resolved_mode);
	free(v->response);
	free(v->output_text);
	free(v->error_message);
	memset(v, 0, sizeof *v);
}
