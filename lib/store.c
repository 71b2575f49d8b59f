/*
 * SQLite run store. One connection per process (supervisor and each worker
 * open their own). WAL mode, a busy timeout, explicit BEGIN IMMEDIATE for
 * writes. Schema migrations are embedded (schema.h) and applied in order;
 * a database written by a newer agentd is refused.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "jsonbuf.h"
#include "log.h"
#include "schema.h"
#include "store.h"
#include "store-internal.h"
#include "util.h"
#include "xmalloc.h"

#define ACTIVE_SQL	"('pending','starting','running')"

struct store {
	sqlite3		*db;
	char		*endpoint;
	sqlite3_stmt	*ins_event;
	sqlite3_stmt	*upd_cursor;
	sqlite3_stmt	*sel_gen;
	sqlite3_stmt	*begin;
	sqlite3_stmt	*commit;
	int		 in_txn;
};

static const char *const terminal_statuses[] = {
	RUN_COMPLETED, RUN_FAILED, RUN_CANCELLED, RUN_INCOMPLETE,
	RUN_ABANDONED, NULL
};

/* Return 1 if status is terminal for agentd. */
int
store_status_terminal(const char *status)
{
	int	i;

	if (status == NULL)
		return 0;
	for (i = 0; terminal_statuses[i] != NULL; i++)
		if (strcmp(status, terminal_statuses[i]) == 0)
			return 1;
	return 0;
}

/* Return the newest schema version embedded in this build. */
int
store_schema_version(void)
{
	int	i, v = 0;

	for (i = 0; schema_migrations[i].sql != NULL; i++)
		if (schema_migrations[i].version > v)
			v = schema_migrations[i].version;
	return v;
}

static int
exec_sql(sqlite3 *db, const char *sql, char **cause)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "%s", err != NULL ? err :
			    sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Apply the missing migrations in one transaction each. */
static int
store_migrate(sqlite3 *db, const char *path, char **cause)
{
	int	 i, have = 0, want = store_schema_version();
	char	*err = NULL, *set;

	if (pragma_int(db, "PRAGMA user_version", &have) != 0) {
		xasprintf(cause, "%s: not an agentd database: %s", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	if (have > want) {
		xasprintf(cause, "%s: database schema version %d is newer than "
		    "this agentd supports (%d); upgrade agentd", path, have,
		    want);
		return -1;
	}
	if (have == 0) {
		int tables = 0;

		/* A non-empty database we did not create is not ours. */
		if (pragma_int(db, "SELECT count(*) FROM sqlite_master",
		    &tables) != 0 || tables != 0) {
			xasprintf(cause, "%s: not an agentd database (it has "
			    "tables but no agentd schema version)", path);
			return -1;
		}
	}
	for (i = 0; schema_migrations[i].sql != NULL; i++) {
		if (schema_migrations[i].version <= have)
			continue;
		if (exec_sql(db, "BEGIN IMMEDIATE", cause) != 0)
			return -1;
		/* Another process (agentctl batch, agentd) may have won. */
		if (pragma_int(db, "PRAGMA user_version", &have) != 0 ||
		    schema_migrations[i].version <= have) {
			exec_sql(db, "ROLLBACK", NULL);
			continue;
		}
		if (exec_sql(db, schema_migrations[i].sql, &err) != 0) {
			xasprintf(cause, "%s: migration %s: %s", path,
			    schema_migrations[i].name, err);
			free(err);
			exec_sql(db, "ROLLBACK", NULL);
			return -1;
		}
		xasprintf(&set, "PRAGMA user_version = %d",
		    schema_migrations[i].version);
		if (exec_sql(db, set, cause) != 0 ||
		    exec_sql(db, "COMMIT", cause) != 0) {
			free(set);
			exec_sql(db, "ROLLBACK", NULL);
			return -1;
		}
		free(set);
		log_info("store: applied migration %s", schema_migrations[i].name);
	}
	return 0;
}

/* Open the store at path; NULL with an allocated *cause on failure. */
struct store *
store_open(const char *path, char **cause)
{
	struct store	*st;
	sqlite3		*db = NULL;
	char		*err = NULL;
	int		 rc;

	rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		xasprintf(cause, "%s: %s", path, db != NULL ?
		    sqlite3_errmsg(db) : sqlite3_errstr(rc));
		sqlite3_close(db);
		return NULL;
	}
	sqlite3_busy_timeout(db, 10000);
	sqlite3_extended_result_codes(db, 1);
	/* Refuse a file that is not SQLite before changing anything. */
	if (exec_sql(db, "SELECT count(*) FROM sqlite_master", &err) != 0) {
		xasprintf(cause, "%s: not a usable SQLite database: %s", path,
		    err);
		free(err);
		sqlite3_close(db);
		return NULL;
	}
	if (exec_sql(db, "PRAGMA journal_mode=WAL", &err) != 0 ||
	    exec_sql(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
	    "PRAGMA temp_store=MEMORY", &err) != 0) {
		xasprintf(cause, "%s: %s", path, err);
		free(err);
		sqlite3_close(db);
		return NULL;
	}
	if (store_migrate(db, path, cause) != 0) {
		sqlite3_close(db);
		return NULL;
	}
	st = xcalloc(1, sizeof *st);
	st->db = db;
	if (sqlite3_prepare_v3(db, "INSERT OR IGNORE INTO events "
	    "(run_n, seq, type, data, at) VALUES (?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ins_event, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "UPDATE runs SET last_seq = max(last_seq, "
	    "?), event_count = event_count + ?, last_event_at = ?, "
	    "updated_at = ? WHERE n = ? AND lease_gen = ?", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->upd_cursor, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "SELECT lease_gen FROM runs WHERE n = ?", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->sel_gen, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "BEGIN IMMEDIATE", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->begin, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "COMMIT", -1, SQLITE_PREPARE_PERSISTENT,
	    &st->commit, NULL) != SQLITE_OK) {
		xasprintf(cause, "%s: prepare: %s", path, sqlite3_errmsg(db));
		store_close(st);
		return NULL;
	}
	return st;
}

/* How long a write waits for another process's lock, in ms. */
void
store_set_busy_timeout(struct store *st, int ms)
{
	sqlite3_busy_timeout(st->db, ms);
}

/* The database handle, for store extensions (batch.c). */
sqlite3 *
store_db(struct store *st)
{
	return st->db;
}

/* Close the store; accepts NULL. */
void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_finalize(st->ins_event);
	sqlite3_finalize(st->upd_cursor);
	sqlite3_finalize(st->sel_gen);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_close(st->db);
	free(st->endpoint);
	free(st);
}

static void
store_err(struct store *st, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(st->db));
}

/* Step a prepared statement that returns no rows; 0 or -1. */
static int
step_done(sqlite3_stmt *s)
{
	int	rc = sqlite3_step(s);

	sqlite3_reset(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

/*
 * Begin a write transaction (BEGIN IMMEDIATE); 0 or -1. BEGIN and COMMIT
 * are prepared once: a worker runs them every loop turn.
 */
int
store_begin(struct store *st)
{
	if (step_done(st->begin) != 0) {
		store_err(st, "begin");
		return -1;
	}
	st->in_txn = 1;
	return 0;
}

/* Commit; on failure the transaction is rolled back and -1 returned. */
int
store_commit(struct store *st)
{
	if (step_done(st->commit) != 0) {
		store_err(st, "commit");
		store_rollback(st);
		return -1;
	}
	st->in_txn = 0;
	return 0;
}

/* Roll back the open transaction, if any. */
void
store_rollback(struct store *st)
{
	if (sqlite3_get_autocommit(st->db) == 0)
		exec_sql(st->db, "ROLLBACK", NULL);
	st->in_txn = 0;
}

static char *
col_dup(sqlite3_stmt *s, int i)
{
	const unsigned char	*t = sqlite3_column_text(s, i);

	return t != NULL ? xstrdup((const char *)t) : NULL;
}

/* Free the strings of a row and zero it. */
void
store_row_clear(struct run_row *r)
{
	free(r->endpoint);
	free(r->dialect);
	free(r->request);
	free(r->mode);
	free(r->resolved_mode);
	free(r->status);
	free(r->backend_id);
	memset(r, 0, sizeof *r);
}

/* Load run n for a worker holding generation gen. */
int
store_row_load(struct store *st, int64_t n, int64_t gen, struct run_row *r)
{
	sqlite3_stmt	*s = NULL;
	int		 rc, ret = -1;

	memset(r, 0, sizeof *r);
	if (sqlite3_prepare_v2(st->db, "SELECT id, endpoint, dialect, "
	    "request, mode, resolved_mode, status, backend_id, resumable, "
	    "creates, last_seq, lease_gen, coalesce(last_event_at, 0), "
	    "attempt, max_attempts FROM runs WHERE n = ?", -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE) {
		ret = 0;
		goto out;
	}
	if (rc != SQLITE_ROW)
		goto out;
	if (sqlite3_column_int64(s, 11) != gen) {
		ret = 0;
		goto out;
	}
	r->n = n;
	snprintf(r->id, sizeof r->id, "%s", sqlite3_column_text(s, 0));
	r->endpoint = col_dup(s, 1);
	r->dialect = col_dup(s, 2);
	r->request = col_dup(s, 3);
	r->mode = col_dup(s, 4);
	r->resolved_mode = col_dup(s, 5);
	r->status = col_dup(s, 6);
	r->backend_id = col_dup(s, 7);
	r->resumable = sqlite3_column_int(s, 8);
	r->creates = sqlite3_column_int(s, 9);
	r->last_seq = sqlite3_column_int64(s, 10);
	r->lease_gen = gen;
	r->last_event_at = sqlite3_column_int64(s, 12);
	r->attempt = sqlite3_column_int(s, 13);
	r->max_attempts = sqlite3_column_int(s, 14);
	ret = 1;
out:
	if (ret < 0)
		store_err(st, "load run");
	sqlite3_finalize(s);
	return ret;
}

/*
 * Inside a write transaction: insert a run, or find the run with the same
 * idempotency key (*created 0). Return 0 or -1 (rolled back by caller).
 */
int
store_run_insert_txn(struct store *st, const struct run_new *rn, char *id,
    size_t idlen, int *created)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 now = util_now_ms();
	int		 rc;

	*created = 0;
	if (rn->idempotency_key != NULL) {
		if (sqlite3_prepare_v2(st->db, "SELECT id FROM runs WHERE "
		    "idempotency_key = ?", -1, &s, NULL) != SQLITE_OK)
			return -1;
		sqlite3_bind_text(s, 1, rn->idempotency_key, -1,
		    SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			snprintf(id, idlen, "%s", sqlite3_column_text(s, 0));
		sqlite3_finalize(s);
		if (rc == SQLITE_ROW)
			return 0;
		if (rc != SQLITE_DONE)
			return -1;
	}
	util_run_id(id, idlen);
	if (sqlite3_prepare_v2(st->db, "INSERT INTO runs (id, "
	    "idempotency_key, queue, priority, endpoint, dialect, request, "
	    "mode, status, created_at, updated_at, batch, custom_id, "
	    "max_attempts) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, "
	    "?, ?, ?)", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (rn->idempotency_key != NULL)
		sqlite3_bind_text(s, 2, rn->idempotency_key, -1,
		    SQLITE_STATIC);
	sqlite3_bind_text(s, 3, rn->queue != NULL ? rn->queue : "default",
	    -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 4, rn->priority);
	sqlite3_bind_text(s, 5, rn->endpoint != NULL ? rn->endpoint : "", -1,
	    SQLITE_STATIC);
	/* Empty: the dispatching agentd's --dialect applies. */
	sqlite3_bind_text(s, 6, rn->dialect != NULL ? rn->dialect : "", -1,
	    SQLITE_STATIC);
	sqlite3_bind_text(s, 7, rn->request, -1, SQLITE_STATIC);
	sqlite3_bind_text(s, 8, rn->mode != NULL ? rn->mode : "auto", -1,
	    SQLITE_STATIC);
	sqlite3_bind_int64(s, 9, now);
	sqlite3_bind_int64(s, 10, now);
	if (rn->batch != NULL)
		sqlite3_bind_text(s, 11, rn->batch, -1, SQLITE_STATIC);
	if (rn->custom_id != NULL)
		sqlite3_bind_text(s, 12, rn->custom_id, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 13, rn->max_attempts > 0 ? rn->max_attempts : 1);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	*created = 1;
	return 0;
}

/* Insert a new run, or find the existing one with the same key. */
int
store_run_insert(struct store *st, const struct run_new *rn, char *id,
    size_t idlen, int *created, char **cause)
{
	if (store_begin(st) != 0) {
		xasprintf(cause, "store busy: %s", sqlite3_errmsg(st->db));
		return -1;
	}
	if (store_run_insert_txn(st, rn, id, idlen, created) != 0) {
		xasprintf(cause, "store: %s", sqlite3_errmsg(st->db));
		store_rollback(st);
		return -1;
	}
	if (!*created) {
		store_rollback(st);
		return 0;
	}
	if (store_commit(st) != 0) {
		xasprintf(cause, "store commit failed");
		*created = 0;
		return -1;
	}
	return 0;
}

/*
 * Insert events and move the cursor, fenced by generation. Inside the
 * caller's write transaction: the generation is checked first, and since
 * the transaction holds the write lock it cannot change before the
 * cursor update, so a fenced run writes nothing and needs no savepoint.
 * -1 means the caller must roll the whole transaction back.
 */
int
store_events_append(struct store *st, int64_t n, int64_t gen,
    const struct store_event *ev, size_t nev, int64_t last_seq, int64_t now)
{
	sqlite3_stmt	*s;
	size_t		 i;
	int		 added = 0, rc;

	s = st->sel_gen;
	sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		store_err(st, "lease check");
		sqlite3_reset(s);
		return -1;
	}
	rc = rc == SQLITE_ROW && sqlite3_column_int64(s, 0) == gen;
	sqlite3_reset(s);
	if (!rc)
		return -2;	/* Invariant 3: a fenced worker writes nothing. */
	s = st->ins_event;
	for (i = 0; i < nev; i++) {
		sqlite3_bind_int64(s, 1, n);
		sqlite3_bind_int64(s, 2, ev[i].seq);
		sqlite3_bind_text(s, 3, ev[i].type, -1, SQLITE_STATIC);
		sqlite3_bind_text(s, 4, ev[i].data, (int)ev[i].data_len,
		    SQLITE_STATIC);
		sqlite3_bind_int64(s, 5, now);
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_err(st, "insert event");
			sqlite3_reset(s);
			return -1;
		}
		added += sqlite3_changes(st->db);
		sqlite3_reset(s);
	}
	s = st->upd_cursor;
	sqlite3_bind_int64(s, 1, last_seq);
	sqlite3_bind_int(s, 2, added);
	sqlite3_bind_int64(s, 3, now);
	sqlite3_bind_int64(s, 4, now);
	sqlite3_bind_int64(s, 5, n);
	sqlite3_bind_int64(s, 6, gen);
	if (sqlite3_step(s) != SQLITE_DONE) {
		store_err(st, "advance cursor");
		sqlite3_reset(s);
		return -1;
	}
	sqlite3_reset(s);
	if (sqlite3_changes(st->db) == 0) {
		log_warnx("store: run %lld: lease changed inside a write "
		    "transaction", (long long)n);
		return -1;
	}
	return added;
}

/* Append ", col = ?" for a patch field. */
static void
patch_col(char *sql, size_t len, const char *col)
{
	strncat(sql, ", ", len - strlen(sql) - 1);
	strncat(sql, col, len - strlen(sql) - 1);
	strncat(sql, " = ?", len - strlen(sql) - 1);
}

/* Apply a run patch conditioned on the lease generation. */
int
store_run_patch(struct store *st, int64_t n, int64_t gen,
    const struct run_patch *p)
{
	char		 sql[1024] = "UPDATE runs SET updated_at = ?";
	sqlite3_stmt	*s = NULL;
	int		 i = 1, ret = -1;

	if (p->status != NULL)
		patch_col(sql, sizeof sql, "status");
	if (p->backend_id != NULL)
		patch_col(sql, sizeof sql, "backend_id");
	if (p->backend_status != NULL)
		patch_col(sql, sizeof sql, "backend_status");
	if (p->resolved_mode != NULL)
		patch_col(sql, sizeof sql, "resolved_mode");
	if (p->response != NULL)
		patch_col(sql, sizeof sql, "response");
	if (p->output_text != NULL)
		patch_col(sql, sizeof sql, "output_text");
	if (p->set_error != 0) {
		patch_col(sql, sizeof sql, "error_status");
		patch_col(sql, sizeof sql, "error_message");
		patch_col(sql, sizeof sql, "error_body");
	}
	if (p->resumable >= 0)
		patch_col(sql, sizeof sql, "resumable");
	if (p->last_event_at != 0)
		patch_col(sql, sizeof sql, "last_event_at");
	if (p->creates_inc)
		strncat(sql, ", creates = creates + 1",
		    sizeof sql - strlen(sql) - 1);
	if (p->finished)
		strncat(sql, ", finished_at = ?1, lease_owner = NULL",
		    sizeof sql - strlen(sql) - 1);
	strncat(sql, " WHERE n = ? AND lease_gen = ?",
	    sizeof sql - strlen(sql) - 1);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, i++, util_now_ms());
#define BIND_TEXT(v) sqlite3_bind_text(s, i++, (v), -1, SQLITE_STATIC)
	if (p->status != NULL)
		BIND_TEXT(p->status);
	if (p->backend_id != NULL)
		BIND_TEXT(p->backend_id);
	if (p->backend_status != NULL)
		BIND_TEXT(p->backend_status);
	if (p->resolved_mode != NULL)
		BIND_TEXT(p->resolved_mode);
	if (p->response != NULL)
		BIND_TEXT(p->response);
	if (p->output_text != NULL)
		BIND_TEXT(p->output_text);
	if (p->set_error > 0) {
		if (p->error_status != 0)
			sqlite3_bind_int(s, i, p->error_status);
		i++;
		BIND_TEXT(p->error_message);
		BIND_TEXT(p->error_body);
	} else if (p->set_error < 0)
		i += 3;		/* bound as NULL */
#undef BIND_TEXT
	if (p->resumable >= 0)
		sqlite3_bind_int(s, i++, p->resumable);
	if (p->last_event_at != 0)
		sqlite3_bind_int64(s, i++, p->last_event_at);
	sqlite3_bind_int64(s, i++, n);
	sqlite3_bind_int64(s, i++, gen);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	ret = sqlite3_changes(st->db) > 0 ? 1 : 0;
out:
	if (ret < 0)
		store_err(st, "patch run");
	sqlite3_finalize(s);
	return ret;
}

/*
 * agentd let run n go after holding it back itself: restart its staleness
 * clock (invariant 4). Fenced by gen. 1, 0 fenced, -1 error.
 */
int
store_run_released(struct store *st, int64_t n, int64_t gen)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET released_at = ? WHERE "
	    "n = ? AND lease_gen = ?", -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, util_now_ms());
	sqlite3_bind_int64(s, 2, n);
	sqlite3_bind_int64(s, 3, gen);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	return sqlite3_changes(st->db) > 0 ? 1 : 0;
}

/* Concatenate the text deltas stored for run n. */
char *
store_delta_text(struct store *st, int64_t n)
{
	sqlite3_stmt	*s = NULL;
	char		*text = NULL;

	if (sqlite3_prepare_v2(st->db, "SELECT group_concat(d, '') FROM "
	    "(SELECT json_extract(data, '$.delta') AS d FROM events WHERE "
	    "run_n = ? AND type = 'response.output_text.delta' ORDER BY seq)",
	    -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, n);
		if (sqlite3_step(s) == SQLITE_ROW)
			text = col_dup(s, 0);
	}
	sqlite3_finalize(s);
	return text != NULL ? text : xstrdup("");
}

/* Read what is known about an endpoint. */
int
store_caps_get(struct store *st, const char *endpoint, struct endpoint_caps *c)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	c->background = c->stream = c->resume = -1;
	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(background, -1), "
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

	if (strcmp(what, "background") != 0 && strcmp(what, "stream") != 0 &&
	    strcmp(what, "resume") != 0)
		return -1;
	snprintf(sql, sizeof sql, "INSERT INTO endpoints (endpoint, %s, "
	    "updated_at) VALUES (?1, ?2, ?3) ON CONFLICT (endpoint) DO UPDATE "
	    "SET %s = ?2, updated_at = ?3", what, what);
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(s, 1, endpoint, -1, SQLITE_STATIC);
	sqlite3_bind_int(s, 2, value);
	sqlite3_bind_int64(s, 3, util_now_ms());
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	return rc == SQLITE_DONE ? 0 : -1;
}

static int
exec_changes(struct store *st, const char *sql, const char *text)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
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
	return sqlite3_changes(st->db);
}

/* Fence every lease: called once at supervisor start (invariant 3). */
int
store_rearm(struct store *st)
{
	return exec_changes(st, "UPDATE runs SET lease_owner = NULL, "
	    "lease_gen = lease_gen + 1, lease_expires = NULL WHERE "
	    "lease_owner IS NOT NULL OR status IN " ACTIVE_SQL, NULL);
}

/* Release and fence the leases of a dead worker. */
int
store_release_owner(struct store *st, const char *owner)
{
	return exec_changes(st, "UPDATE runs SET lease_owner = NULL, "
	    "lease_gen = lease_gen + 1, lease_expires = NULL WHERE "
	    "lease_owner = ?", owner);
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

	if (max <= 0)
		return 0;
	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(st->db,
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
	    sqlite3_prepare_v2(st->db, "UPDATE runs SET lease_owner = ?, "
	    "lease_gen = lease_gen + 1, lease_expires = ?, attached_at = ?, "
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
		sqlite3_bind_text(upd, 4, st->endpoint != NULL ? st->endpoint :
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

	if (sqlite3_prepare_v2(st->db, "SELECT count(*) FROM runs WHERE "
	    "lease_owner IS NOT NULL AND status IN " ACTIVE_SQL, -1, &s,
	    NULL) != SQLITE_OK)
		return -1;
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return c;
}

/* The endpoint recorded on runs enqueued without one (offline batches). */
void
store_set_endpoint(struct store *st, const char *endpoint)
{
	free(st->endpoint);
	st->endpoint = endpoint != NULL ? xstrdup(endpoint) : NULL;
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

	if (sqlite3_prepare_v2(st->db, "INSERT OR REPLACE INTO attempts "
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

	if (sqlite3_prepare_v2(st->db, "SELECT 1 FROM runs WHERE n = ?1 AND "
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
	if (sqlite3_prepare_v2(st->db, "DELETE FROM events WHERE run_n = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, n);
	rc = sqlite3_step(s);
	sqlite3_finalize(s);
	if (rc != SQLITE_DONE)
		return -1;
	xasprintf(&msg, "previous attempt %s: %s; retrying", status,
	    error_message != NULL ? error_message : "no reason given");
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status = 'pending', "
	    "attempt = attempt + 1, not_before = ?2, backend_id = NULL, "
	    "backend_status = NULL, last_seq = -1, event_count = 0, "
	    "last_event_at = NULL, resolved_mode = NULL, resumable = 1, "
	    "response = NULL, output_text = NULL, error_status = ?3, "
	    "error_message = ?4, error_body = NULL, lease_owner = NULL, "
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

	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET lease_expires = ? "
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

	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "SELECT n, id, lease_owner, backend_id, "
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
		v[nv].owner = col_dup(sel, 2);
		v[nv].backend_id = col_dup(sel, 3);
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
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status = 'abandoned', "
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

	if (store_begin(st) != 0)
		return STORE_ERR;
	if (sqlite3_prepare_v2(st->db, "SELECT status, backend_id IS NOT NULL "
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
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status = ?, "
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
	json_t		*ids = json_array();
	const char	*msg;
	int		 rc;

	if (sqlite3_prepare_v2(st->db, "SELECT id FROM runs WHERE status = "
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

	*owner = *backend_id = *endpoint = NULL;
	if (store_begin(st) != 0)
		return STORE_ERR;
	if (sqlite3_prepare_v2(st->db, "SELECT n, status, lease_owner, "
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
	*owner = col_dup(s, 2);
	*backend_id = col_dup(s, 3);
	*endpoint = col_dup(s, 4);
	sqlite3_finalize(s);
	s = NULL;
	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET status = 'cancelled', "
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

/* Delete finished runs (and their events) older than cutoff. */
int
store_prune(struct store *st, int64_t cutoff)
{
	sqlite3_stmt	*s = NULL;
	int		 count = -1;

	if (store_begin(st) != 0)
		return -1;
	if (sqlite3_prepare_v2(st->db, "DELETE FROM events WHERE run_n IN "
	    "(SELECT n FROM runs WHERE finished_at IS NOT NULL AND "
	    "finished_at < ?1 AND status NOT IN " ACTIVE_SQL ")", -1, &s,
	    NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, cutoff);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	sqlite3_finalize(s);
	if (sqlite3_prepare_v2(st->db, "DELETE FROM runs WHERE finished_at IS "
	    "NOT NULL AND finished_at < ?1 AND status NOT IN " ACTIVE_SQL, -1,
	    &s, NULL) != SQLITE_OK)
		goto out;
	sqlite3_bind_int64(s, 1, cutoff);
	if (sqlite3_step(s) != SQLITE_DONE)
		goto out;
	count = sqlite3_changes(st->db);
	sqlite3_finalize(s);
	s = NULL;
	if (store_commit(st) != 0)
		return -1;
	return count;
out:
	store_err(st, "prune");
	sqlite3_finalize(s);
	store_rollback(st);
	return -1;
}

#define RUN_COLS "id, status, mode, resolved_mode, backend_id, " \
	"backend_status, endpoint, queue, priority, creates, last_seq, " \
	"event_count, last_event_at, created_at, updated_at, finished_at, " \
	"resumable, idempotency_key, error_status, error_message, " \
	"error_body, lease_owner, dialect, attempt, max_attempts, batch, " \
	"custom_id, not_before"

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
 * Append the API's run object for a row selected with RUN_COLS to b. The
 * one definition of a run's JSON: run_row_json parses what this writes,
 * and a page of runs is written with it directly, since building and
 * dumping 100 jansson objects was most of the time of GET /v1/runs.
 */
static void
run_row_write(struct jsonbuf *b, sqlite3_stmt *s)
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
	jsonbuf_raw(b, "}");
}

/* The API's run object for a row selected with RUN_COLS (new reference). */
static json_t *
run_row_json(sqlite3_stmt *s)
{
	struct jsonbuf	*b = jsonbuf_new();
	json_error_t	 jerr;
	const char	*text;
	json_t		*o;
	size_t		 len;

	run_row_write(b, s);
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

	if (sqlite3_prepare_v2(st->db, "SELECT " RUN_COLS " FROM runs WHERE "
	    "id = ?", -1, &s, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW)
		o = run_row_json(s);
	sqlite3_finalize(s);
	return o;
}

/* Internal key of run id, or -1. */
int64_t
store_run_n(struct store *st, const char *id)
{
	sqlite3_stmt	*s = NULL;
	int64_t		 n = -1;

	if (sqlite3_prepare_v2(st->db, "SELECT n FROM runs WHERE id = ?", -1,
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
	char		*last = NULL, sql[512];
	int64_t		 after_n = INT64_MAX;
	int		 rc, count = 0, i = 1;

	if (after != NULL && *after != '\0') {
		if ((after_n = store_run_n(st, after)) < 0) {
			xasprintf(cause, "unknown run id in after: %s", after);
			return NULL;
		}
	}
	/* The rowid or a (status|queue, n) index; never a scan or a count. */
	snprintf(sql, sizeof sql, "SELECT " RUN_COLS " FROM runs WHERE n < ?"
	    "%s%s%s ORDER BY n DESC LIMIT ?",
	    status != NULL ? " AND status = ?" : "",
	    queue != NULL ? " AND queue = ?" : "",
	    since > 0 ? " AND created_at >= ?" : "");
	if (sqlite3_prepare_v2(st->db, sql, -1, &s, NULL) != SQLITE_OK) {
		xasprintf(cause, "store: %s", sqlite3_errmsg(st->db));
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
		run_row_write(b, s);
		free(last);
		last = xstrdup((const char *)sqlite3_column_text(s, 0));
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		xasprintf(cause, "store: %s", sqlite3_errmsg(st->db));
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

	if (sqlite3_prepare_v2(st->db, "SELECT seq, type, data FROM events "
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

	if (sqlite3_prepare_v2(st->db, "SELECT id, status, output_text, "
	    "response, error_status, error_message, error_body FROM runs "
	    "WHERE id = ?", -1, &s, NULL) != SQLITE_OK)
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
	json_t		*o = json_object();

	if (sqlite3_prepare_v2(st->db, "SELECT status, count(*) FROM runs "
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

	if (sqlite3_prepare_v2(st->db, "SELECT status, last_seq FROM runs "
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

	if (sqlite3_prepare_v2(st->db, "SELECT coalesce(sum(event_count), 0) "
	    "FROM runs", -1, &s, NULL) != SQLITE_OK)
		return 0;
	if (sqlite3_step(s) == SQLITE_ROW)
		c = sqlite3_column_int64(s, 0);
	sqlite3_finalize(s);
	return c;
}
