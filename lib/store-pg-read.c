/*
 * The PostgreSQL store: the API's reads, as store-read.c does them for
 * SQLite, and the same JSON byte for byte for the same data: a run's
 * object (with why a waiting run waits), pages of runs, events, results
 * and counts. The column-to-JSON code mirrors store-read.c's; a column's
 * JSON type comes from its PostgreSQL type where SQLite's comes from the
 * value's storage class (the schemas declare the same columns).
 *
 * Several hosts may share the database: a queue's max_inflight counts
 * every host's runs in flight, agentd's --max-inflight only this host's
 * (as pgs_inflight does), or all of them in a process that is no host.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
#include "log.h"
#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/* PostgreSQL's integer type OIDs (catalog/pg_type_d.h). */
#define PG_INT8OID	20
#define PG_INT2OID	21
#define PG_INT4OID	23

/*
 * A run's columns (r), then what says why a pending one waits, in the
 * order of store-read.c's RUN_COLS. Parameters: $1 this host's id (NULL
 * when not a host), $2 agentd's --max-inflight (0 for none). The counts
 * walk the runs in flight by the partial index runs_lease (runs_host).
 */
#define PG_RUN_COLS "r.id, r.status, r.mode, r.resolved_mode, " \
	"r.backend_id, r.backend_status, r.endpoint, r.queue, r.priority, " \
	"r.creates, r.last_seq, r.event_count, r.last_event_at, " \
	"r.created_at, r.updated_at, r.finished_at, r.resumable, " \
	"r.idempotency_key, r.error_status, r.error_message, r.error_body, " \
	"r.lease_owner, r.dialect, r.attempt, r.max_attempts, r.batch, " \
	"r.custom_id, r.not_before, r.wait_reason, r.wait_until, " \
	"r.wait_tries, coalesce(q.paused, 0) AS q_paused, q.max_inflight " \
	"AS q_max, CASE WHEN r.status = 'pending' AND q.max_inflight IS NOT " \
	"NULL THEN (SELECT count(*) FROM runs b WHERE b.lease_owner IS NOT " \
	"NULL AND b.queue = r.queue AND b.status IN " ACTIVE_SQL ") END AS " \
	"q_busy, CASE WHEN r.status = 'pending' AND $2::integer > 0 THEN " \
	"(SELECT count(*) FROM runs b WHERE b.lease_owner IS NOT NULL AND " \
	"b.status IN " ACTIVE_SQL " AND ($1::text IS NULL OR b.lease_host = " \
	"$1)) END AS busy"
#define PG_RUN_FROM " FROM runs r LEFT JOIN queues q ON q.name = r.queue"
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
	COL_BUSY,
	COL_N		/* columns of PG_RUN_COLS */
};

/* Text of a column, or NULL for SQL NULL (sqlite3_column_text's way). */
static const char *
pg_text(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return PQgetvalue(r, row, col);
}

static int
pg_col_is_int(const PGresult *r, int col)
{
	Oid	t = PQftype(r, col);

	return t == PG_INT8OID || t == PG_INT4OID || t == PG_INT2OID;
}

/* Column col of a row as a JSON value (new reference): store_col_json. */
static json_t *
pg_col_json(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return json_null();
	if (pg_col_is_int(r, col))
		return json_integer(pgs_int(r, row, col, 0));
	return json_stringn(PQgetvalue(r, row, col),
	    (size_t)PQgetlength(r, row, col));
}

/*
 * The API's error object from columns col (error_status), col + 1
 * (message), col + 2 (body): null when there is neither status nor message.
 */
static json_t *
pg_error_json(const PGresult *r, int row, int col)
{
	json_t	*err;

	if (PQgetisnull(r, row, col) && PQgetisnull(r, row, col + 1))
		return json_null();
	err = json_object();
	json_object_set_new(err, "http_status", pg_col_json(r, row, col));
	json_object_set_new(err, "message", pg_col_json(r, row, col + 1));
	json_object_set_new(err, "body", pg_col_json(r, row, col + 2));
	return err;
}

/* Append column col of a row to b, as pg_col_json would give it. */
static void
pg_col_write(struct jsonbuf *b, const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		jsonbuf_raw(b, "null");
	else if (pg_col_is_int(r, col))
		jsonbuf_int(b, pgs_int(r, row, col, 0));
	else
		jsonbuf_str(b, PQgetvalue(r, row, col),
		    (size_t)PQgetlength(r, row, col));
}

/*
 * Append the reason a run that is not moving waits, for a row selected
 * with PG_RUN_COLS, as store-read.c's wait_write: {"reason","until",
 * "tries","message"} (+ "queue", "limit"), or null when it is not
 * waiting. An unleased pending run's reason is derived here, in the order
 * the scheduler checks them; a leased run's is what its worker recorded.
 */
static void
pg_wait_write(struct jsonbuf *b, const PGresult *r, int row,
    int max_inflight)
{
	const char	*status, *reason, *queue;
	char		 msg[256];
	int64_t		 until = 0, limit = 0, now = util_now_ms();
	int		 tries, leased;

	status = pg_text(r, row, COL_STATUS);
	reason = pg_text(r, row, COL_WAIT_REASON);
	queue = pg_text(r, row, COL_QUEUE);
	tries = (int)pgs_int(r, row, COL_WAIT_TRIES, 0);
	leased = !PQgetisnull(r, row, COL_LEASE_OWNER);
	if (status == NULL || store_status_terminal(status)) {
		jsonbuf_raw(b, "null");
		return;
	}
	if (queue == NULL)
		queue = "";
	msg[0] = '\0';
	if (!leased)
		reason = NULL;	/* a worker's record outlives no lease */
	if (strcmp(status, RUN_PENDING) == 0 && !leased) {
		if (pgs_int(r, row, COL_Q_PAUSED, 0) != 0) {
			reason = WAIT_QUEUE_PAUSED;
			snprintf(msg, sizeof msg, "queue %.64s is paused",
			    queue);
		} else if (pgs_int(r, row, COL_NOT_BEFORE, 0) > now) {
			reason = WAIT_ATTEMPT;
			until = pgs_int(r, row, COL_NOT_BEFORE, 0);
			snprintf(msg, sizeof msg, "attempt %d of %d, after the "
			    "last one failed", (int)pgs_int(r, row,
			    COL_ATTEMPT, 0), (int)pgs_int(r, row,
			    COL_MAX_ATTEMPTS, 0));
		} else if (!PQgetisnull(r, row, COL_Q_BUSY) &&
		    pgs_int(r, row, COL_Q_BUSY, 0) >=
		    pgs_int(r, row, COL_Q_MAX, 0)) {
			reason = WAIT_QUEUE_FULL;
			limit = pgs_int(r, row, COL_Q_MAX, 0);
			snprintf(msg, sizeof msg, "queue %.64s has its "
			    "max_inflight (%lld) runs in flight", queue,
			    (long long)limit);
		} else if (!PQgetisnull(r, row, COL_BUSY) &&
		    pgs_int(r, row, COL_BUSY, 0) >= max_inflight) {
			reason = WAIT_MAX_INFLIGHT;
			limit = max_inflight;
			snprintf(msg, sizeof msg, "agentd has its "
			    "--max-inflight (%d) runs in flight", max_inflight);
		}
	} else if (reason != NULL) {
		until = pgs_int(r, row, COL_WAIT_UNTIL, 0);
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
 * Append the API's run object for a row selected with PG_RUN_COLS to b,
 * as store-read.c's run_row_write: the same keys in the same order.
 */
static void
pg_run_row_write(struct jsonbuf *b, const PGresult *r, int row,
    int max_inflight)
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
		pg_col_write(b, r, row, (int)i);
	}
	jsonbuf_raw(b, pgs_int(r, row, 16, 0) != 0 ? ",\"resumable\":true" :
	    ",\"resumable\":false");
	jsonbuf_raw(b, ",\"idempotency_key\":");
	pg_col_write(b, r, row, 17);
	/* As pg_error_json: null unless there is a status or a message. */
	jsonbuf_raw(b, ",\"error\":");
	if (PQgetisnull(r, row, 18) && PQgetisnull(r, row, 19))
		jsonbuf_raw(b, "null");
	else {
		jsonbuf_raw(b, "{\"http_status\":");
		pg_col_write(b, r, row, 18);
		jsonbuf_raw(b, ",\"message\":");
		pg_col_write(b, r, row, 19);
		jsonbuf_raw(b, ",\"body\":");
		pg_col_write(b, r, row, 20);
		jsonbuf_raw(b, "}");
	}
	/* Columns 21 (lease_owner, shown as worker) to 27. */
	for (i = 0; i < sizeof tail / sizeof tail[0]; i++) {
		jsonbuf_raw(b, tail[i]);
		pg_col_write(b, r, row, 21 + (int)i);
	}
	jsonbuf_raw(b, ",\"retries\":");
	pg_col_write(b, r, row, COL_WAIT_TRIES);
	jsonbuf_raw(b, ",\"wait\":");
	pg_wait_write(b, r, row, max_inflight);
	jsonbuf_raw(b, "}");
}

/* The API's run object for a row selected with PG_RUN_COLS (new ref). */
static json_t *
pg_run_row_json(const PGresult *r, int row, int max_inflight)
{
	struct jsonbuf	*b = jsonbuf_new();
	json_error_t	 jerr;
	const char	*text;
	json_t		*o;
	size_t		 len;

	pg_run_row_write(b, r, row, max_inflight);
	text = jsonbuf_text(b, &len);
	if ((o = json_loadb(text, len, JSON_ALLOW_NUL, &jerr)) == NULL)
		fatalx("store: run JSON does not parse: %s", jerr.text);
	jsonbuf_free(b);
	return o;
}

/* One run as JSON, or NULL if absent. */
json_t *
pgs_run_json(struct pgstore *ps, const char *id)
{
	PGresult	*r;
	json_t		*o = NULL;
	char		 mi[24];
	const char	*p[3];

	p[0] = ps->host_id;
	p[1] = pgs_i64(mi, ps->max_inflight);
	p[2] = id;
	if ((r = pgs_exec(ps, "run", "SELECT " PG_RUN_COLS PG_RUN_FROM
	    " WHERE r.id = $3", 3, p)) == NULL)
		return NULL;
	if (PQntuples(r) > 0)
		o = pg_run_row_json(r, 0, ps->max_inflight);
	PQclear(r);
	return o;
}

/* Internal key of run id, or -1. */
int64_t
pgs_run_n(struct pgstore *ps, const char *id)
{
	PGresult	*r;
	int64_t		 n = -1;
	const char	*p[1] = { id };

	if ((r = pgs_exec(ps, "run key", "SELECT n FROM runs WHERE id = $1",
	    1, p)) == NULL)
		return -1;
	if (PQntuples(r) > 0)
		n = pgs_int(r, 0, 0, -1);
	PQclear(r);
	return n;
}

/*
 * A page of runs, newest first, as the JSON text {"runs":[...],"next":id
 * or null}; allocated, *len its length. NULL with *cause for an unknown
 * cursor or a store error. One statement: the cursor's key is looked up
 * in it (column COL_N of every row says it was not found), and the page
 * walks the primary key or a (status|queue, n) index backwards from it.
 */
char *
pgs_run_list(struct pgstore *ps, const char *status, const char *queue,
    int64_t since, const char *after, int limit, size_t *len, char **cause)
{
	PGresult	*r;
	struct jsonbuf	*b;
	const char	*p[7];
	char		 sql[2560], w[160], mi[24], lim[24], sn[24];
	int		 np = 0, row, rows, count = 0;
	size_t		 wl = 0;

	p[np++] = ps->host_id;
	p[np++] = pgs_i64(mi, ps->max_inflight);
	p[np++] = after != NULL && *after != '\0' ? after : NULL;
	p[np++] = pgs_i64(lim, (int64_t)limit + 1);
	w[0] = '\0';
	if (status != NULL) {
		p[np++] = status;
		wl += (size_t)snprintf(w + wl, sizeof w - wl,
		    " AND r.status = $%d", np);
	}
	if (queue != NULL) {
		p[np++] = queue;
		wl += (size_t)snprintf(w + wl, sizeof w - wl,
		    " AND r.queue = $%d", np);
	}
	if (since > 0) {
		p[np++] = pgs_i64(sn, since);
		snprintf(w + wl, sizeof w - wl, " AND r.created_at >= $%d", np);
	}
	snprintf(sql, sizeof sql, "SELECT p.*, c.n IS NULL FROM (SELECT "
	    "CASE WHEN $3::text IS NULL THEN 9223372036854775807 ELSE "
	    "(SELECT n FROM runs WHERE id = $3) END AS n) c LEFT JOIN "
	    "LATERAL (SELECT " PG_RUN_COLS PG_RUN_FROM " WHERE r.n < c.n%s "
	    "ORDER BY r.n DESC LIMIT $4) p ON true", w);
	if ((r = pgs_exec(ps, "run list", sql, np, p)) == NULL) {
		xasprintf(cause, "store: cannot list runs (SQLSTATE %s)",
		    pgs_sqlstate(ps));
		return NULL;
	}
	rows = PQntuples(r);
	if (rows > 0 && strcmp(PQgetvalue(r, 0, COL_N), "t") == 0) {
		xasprintf(cause, "unknown run id in after: %s", after);
		PQclear(r);
		return NULL;
	}
	b = jsonbuf_new();
	jsonbuf_raw(b, "{\"runs\":[");
	for (row = 0; row < rows && count < limit; row++) {
		if (PQgetisnull(r, row, 0))
			break;	/* the cursor's row alone: an empty page */
		if (count++ > 0)
			jsonbuf_raw(b, ",");
		pg_run_row_write(b, r, row, ps->max_inflight);
	}
	jsonbuf_raw(b, "],\"next\":");
	/* One more row than the page: there is a next page. */
	if (count > 0 && rows > count && !PQgetisnull(r, count, 0))
		jsonbuf_str(b, PQgetvalue(r, count - 1, 0),
		    (size_t)PQgetlength(r, count - 1, 0));
	else
		jsonbuf_raw(b, "null");
	jsonbuf_raw(b, "}");
	PQclear(r);
	return jsonbuf_steal(b, len);
}

/*
 * Iterate stored events of run n with seq > after, by the primary key
 * (run_n, seq): up to limit of them (a follower's batch).
 */
int
pgs_events_each(struct pgstore *ps, int64_t n, int64_t after, int limit,
    store_event_cb cb, void *arg)
{
	PGresult	*r;
	char		 nb[24], ab[24], lb[24];
	const char	*p[3];
	int		 row, rows, count = 0;

	p[0] = pgs_i64(nb, n);
	p[1] = pgs_i64(ab, after);
	/* SQLite's negative LIMIT is none; PostgreSQL's is LIMIT NULL. */
	p[2] = limit >= 0 ? pgs_i64(lb, limit) : NULL;
	if ((r = pgs_exec(ps, "events", "SELECT seq, type, data FROM events "
	    "WHERE run_n = $1 AND seq > $2 ORDER BY seq LIMIT $3", 3,
	    p)) == NULL)
		return -1;
	rows = PQntuples(r);
	for (row = 0; row < rows; row++) {
		count++;
		if (cb(arg, pgs_int(r, row, 0, 0), PQgetvalue(r, row, 1),
		    PQgetvalue(r, row, 2)) != 0)
			break;
	}
	PQclear(r);
	return count;
}

struct pg_events_json_arg {
	json_t	*arr;
	int	 raw;
	int64_t	 last;
};

static int
pg_events_json_cb(void *arg, int64_t seq, const char *type, const char *data)
{
	struct pg_events_json_arg	*a = arg;
	json_t				*e = json_object(), *d;

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
pgs_events_json(struct pgstore *ps, const char *id, int64_t after,
    int limit, int raw, int64_t *next)
{
	struct pg_events_json_arg	 a;
	int64_t				 n;
	json_t				*o;
	int				 count;

	if ((n = pgs_run_n(ps, id)) < 0)
		return NULL;
	a.arr = json_array();
	a.raw = raw;
	a.last = -1;
	count = pgs_events_each(ps, n, after, limit, pg_events_json_cb, &a);
	*next = count == limit ? a.last : -1;
	o = json_object();
	json_object_set_new(o, "events", a.arr);
	json_object_set_new(o, "next_after", *next >= 0 ?
	    json_integer(*next) : json_null());
	return o;
}

/* Result object of run id, or NULL. */
json_t *
pgs_result_json(struct pgstore *ps, const char *id)
{
	PGresult	*r;
	json_t		*o = NULL, *resp;
	const char	*p[1] = { id };

	if ((r = pgs_exec(ps, "result", "SELECT id, status, output_text, "
	    "response, error_status, error_message, error_body FROM runs "
	    "WHERE id = $1", 1, p)) == NULL)
		return NULL;
	if (PQntuples(r) > 0) {
		o = json_object();
		json_object_set_new(o, "id", pg_col_json(r, 0, 0));
		json_object_set_new(o, "status", pg_col_json(r, 0, 1));
		json_object_set_new(o, "output_text", pg_col_json(r, 0, 2));
		resp = pgs_json(r, 0, 3);
		json_object_set_new(o, "response", resp != NULL ? resp :
		    json_null());
		json_object_set_new(o, "error", pg_error_json(r, 0, 4));
	}
	PQclear(r);
	return o;
}

/* {"pending":N, ...} for every status present. */
json_t *
pgs_counts_json(struct pgstore *ps)
{
	PGresult	*r;
	json_t		*o = json_object();
	int		 row;

	/* In SQLite's order: its GROUP BY sorts, by bytes. */
	if ((r = pgs_exec(ps, "counts", "SELECT status, count(*) FROM runs "
	    "GROUP BY status ORDER BY status COLLATE \"C\"", 0, NULL)) == NULL)
		return o;
	for (row = 0; row < PQntuples(r); row++)
		json_object_set_new(o, PQgetvalue(r, row, 0),
		    json_integer(pgs_int(r, row, 1, 0)));
	PQclear(r);
	return o;
}

/* Status and cursor of run n; 0, or -1 if absent. */
int
pgs_run_state(struct pgstore *ps, int64_t n, char *status, size_t len,
    int64_t *last_seq)
{
	PGresult	*r;
	char		 nb[24];
	const char	*p[1];
	int		 ret = -1;

	p[0] = pgs_i64(nb, n);
	if ((r = pgs_exec(ps, "run state", "SELECT status, last_seq FROM "
	    "runs WHERE n = $1", 1, p)) == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		snprintf(status, len, "%s", PQgetvalue(r, 0, 0));
		*last_seq = pgs_int(r, 0, 1, 0);
		ret = 0;
	}
	PQclear(r);
	return ret;
}

/* Total events stored (for metrics); 0 on error, as SQLite's. */
int64_t
pgs_count_events(struct pgstore *ps)
{
	PGresult	*r;
	int64_t		 c = 0;

	if ((r = pgs_exec(ps, "count events", "SELECT "
	    "coalesce(sum(event_count), 0)::bigint FROM runs", 0,
	    NULL)) == NULL)
		return 0;
	if (PQntuples(r) > 0)
		c = pgs_int(r, 0, 0, 0);
	PQclear(r);
	return c;
}

/*
 * Runs not moving, by why they wait (as a run's "wait" says), and how many
 * of them wait to retry after a failure: {"retrying":N,"reasons":{...}}.
 * Scans the active runs; for /metrics. A new reference, never NULL.
 */
json_t *
pgs_waiting_json(struct pgstore *ps)
{
	PGresult	*r;
	json_t		*o = json_object(), *reasons = json_object();
	char		 now[24], mi[24];
	const char	*p[3];
	int64_t		 retrying = 0;
	int		 row;

	json_object_set_new(o, "reasons", reasons);
	/* Both in SQLite's order (its GROUP BY sorts), so the same JSON. */
	if ((r = pgs_exec(ps, "waiting", "SELECT wait_reason, count(*), "
	    "sum((wait_tries > 0)::integer)::bigint FROM runs WHERE status "
	    "IN " ACTIVE_SQL " AND wait_reason IS NOT NULL AND lease_owner "
	    "IS NOT NULL GROUP BY 1 ORDER BY wait_reason COLLATE \"C\"", 0,
	    NULL)) != NULL) {
		for (row = 0; row < PQntuples(r); row++) {
			json_object_set_new(reasons, PQgetvalue(r, row, 0),
			    json_integer(pgs_int(r, row, 1, 0)));
			retrying += pgs_int(r, row, 2, 0);
		}
		PQclear(r);
	}
	/* The order of pg_wait_write's checks for a pending run. */
	p[0] = pgs_i64(now, util_now_ms());
	p[1] = pgs_i64(mi, ps->max_inflight);
	p[2] = ps->host_id;
	if ((r = pgs_exec(ps, "waiting", "WITH busy AS (SELECT queue, "
	    "count(*) AS c FROM runs WHERE lease_owner IS NOT NULL AND "
	    "status IN " ACTIVE_SQL " GROUP BY queue), total AS (SELECT "
	    "count(*) AS c FROM runs WHERE lease_owner IS NOT NULL AND "
	    "status IN " ACTIVE_SQL " AND ($3::text IS NULL OR lease_host = "
	    "$3)) SELECT CASE WHEN coalesce(q.paused, 0) != 0 THEN '"
	    WAIT_QUEUE_PAUSED "' WHEN coalesce(r.not_before, 0) > $1::bigint "
	    "THEN '" WAIT_ATTEMPT "' WHEN q.max_inflight IS NOT NULL AND "
	    "coalesce(b.c, 0) >= q.max_inflight THEN '" WAIT_QUEUE_FULL "' "
	    "WHEN $2::integer > 0 AND (SELECT c FROM total) >= $2::integer "
	    "THEN '" WAIT_MAX_INFLIGHT "' END COLLATE \"C\" AS why, "
	    "count(*) FROM runs r LEFT JOIN queues q ON q.name = r.queue "
	    "LEFT JOIN busy b ON b.queue = r.queue WHERE r.status = 'pending' "
	    "AND r.lease_owner IS NULL GROUP BY why ORDER BY why", 3,
	    p)) != NULL) {
		for (row = 0; row < PQntuples(r); row++) {
			if (PQgetisnull(r, row, 0))
				continue;
			json_object_set_new(reasons, PQgetvalue(r, row, 0),
			    json_integer(pgs_int(r, row, 1, 0)));
		}
		PQclear(r);
	}
	json_object_set_new(o, "retrying", json_integer(retrying));
	return o;
}

/* Load what the front needs of run id: 1 found, 0 absent, -1 error. */
int
pgs_run_view(struct pgstore *ps, const char *id, struct run_view *v)
{
	PGresult	*r;
	const char	*p[1] = { id };
	int		 ret = 0;

	memset(v, 0, sizeof *v);
	if ((r = pgs_exec(ps, "run view", "SELECT n, id, status, request, "
	    "dialect, backend_id, resolved_mode, response, output_text, "
	    "error_message, resumable, last_seq, created_at, "
	    "coalesce(finished_at, 0) FROM runs WHERE id = $1", 1,
	    p)) == NULL)
		return -1;
	if (PQntuples(r) > 0) {
		v->n = pgs_int(r, 0, 0, 0);
		snprintf(v->id, sizeof v->id, "%s", PQgetvalue(r, 0, 1));
		snprintf(v->status, sizeof v->status, "%s",
		    PQgetvalue(r, 0, 2));
		v->request = pgs_dup(r, 0, 3);
		v->dialect = pgs_dup(r, 0, 4);
		v->backend_id = pgs_dup(r, 0, 5);
		v->resolved_mode = pgs_dup(r, 0, 6);
		v->response = pgs_dup(r, 0, 7);
		v->output_text = pgs_dup(r, 0, 8);
		v->error_message = pgs_dup(r, 0, 9);
		v->resumable = (int)pgs_int(r, 0, 10, 0);
		v->last_seq = pgs_int(r, 0, 11, 0);
		v->created_at = pgs_int(r, 0, 12, 0);
		v->finished_at = pgs_int(r, 0, 13, 0);
		ret = 1;
	}
	PQclear(r);
	return ret;
}
