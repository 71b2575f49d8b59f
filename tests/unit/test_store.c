/*
 * Unit tests for lib/store.c: migrations and refusals, idempotent insert,
 * batched events with dedupe (invariant 2), cursor in the same transaction
 * (invariant 1), generation fencing and re-arming (invariant 3), stale
 * abandonment, resume, cancel, prune, a run's JSON, pagination, and the
 * reads' exact bytes for rows written with raw SQL.
 *
 * One suite for both engines: with AGENTD_TEST_PG set to a libpq conninfo
 * (tests/integration/test_store_pg.sh) every test opens the store on that
 * PostgreSQL database, emptied first, and checks it with raw SQL through
 * libpq; the group is then "store-pg". The tests of SQLite's own machinery
 * (its file refusals, PRAGMA user_version, its busy handler) check their
 * PostgreSQL counterparts there instead.
 */
#include <sys/stat.h>
#include <sys/wait.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "harness.h"

#include "batch.h"
#include "log.h"
#include "schema.h"
#include "store.h"
#include "util.h"

/* AGENTD_TEST_PG: run every test on this PostgreSQL database. */
static const char	*pg_conninfo;

struct fx {
	char		*dir;
	char		*db;	/* the SQLite file, or the conninfo */
	struct store	*st;
	PGconn		*pg;	/* raw SQL on PostgreSQL, another session */
};

static PGconn *
pg_connect(void)
{
	PGconn	*c = PQconnectdb(pg_conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("PostgreSQL: %s", PQerrorMessage(c));
	return c;
}

/* Run sql (one or more statements) on c; fails the test on an error. */
static void
pg_exec(PGconn *c, const char *sql)
{
	PGresult	*r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("PostgreSQL: %s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

/* An empty database, as a fresh SQLite file is: agentd's role owns it. */
static void
pg_clean(PGconn *c)
{
	pg_exec(c, "SET client_min_messages = warning; "
	    "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
}

static int
setup(void **state)
{
	struct fx	*f = calloc(1, sizeof *f);
	char		*cause = NULL;

	f->dir = harness_tmpdir();
	if (pg_conninfo != NULL) {
		f->db = strdup(pg_conninfo);
		f->pg = pg_connect();
		pg_clean(f->pg);
	} else
		f->db = harness_path(f->dir, "t.db");
	f->st = store_open(f->db, &cause);
	if (f->st == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx	*f = *state;

	store_close(f->st);
	PQfinish(f->pg);
	free(f->db);
	harness_rmdir(f->dir);
	free(f);
	return 0;
}

static void
new_run(struct store *st, const char *key, char *id, size_t len, int *created)
{
	struct run_new	 rn;
	char		*cause = NULL;

	memset(&rn, 0, sizeof rn);
	rn.request = "{\"model\":\"m\",\"input\":\"hi\"}";
	rn.mode = "auto";
	rn.idempotency_key = key;
	rn.endpoint = "http://127.0.0.1:1/v1";
	rn.dialect = "openai";
	assert_int_equal(store_run_insert(st, &rn, id, len, created, &cause),
	    0);
}

/* Lease every unowned run to owner; return how many. */
static int
lease_all(struct store *st, const char *owner, struct store_assign *a,
    int max)
{
	return store_assign(st, owner, util_mono_ms() + 30000, a, max);
}

/* The first column of the first row of sql on SQLite file db, or -1. */
static int
lite_int(const char *db, const char *sql)
{
	sqlite3		*h;
	sqlite3_stmt	*s;
	int		 v = -1;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_prepare_v2(h, sql, -1, &s, NULL), SQLITE_OK);
	if (sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	sqlite3_close(h);
	return v;
}

static void
lite_exec(const char *db, const char *sql)
{
	sqlite3	*h;

	assert_int_equal(sqlite3_open(db, &h), SQLITE_OK);
	assert_int_equal(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
}

/*
 * The first column of the first row of sql on the test's database, from
 * another connection than the store's: -1 without a row, 0 for NULL.
 */
static int
sql_int(struct fx *f, const char *sql)
{
	PGresult	*r;
	int		 v = -1;

	if (f->pg == NULL)
		return lite_int(f->db, sql);
	r = PQexec(f->pg, sql);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail_msg("PostgreSQL: %s: %s", sql, PQerrorMessage(f->pg));
	if (PQntuples(r) > 0)
		v = PQgetisnull(r, 0, 0) ? 0 : atoi(PQgetvalue(r, 0, 0));
	PQclear(r);
	return v;
}

static void
sql_exec(struct fx *f, const char *sql)
{
	if (f->pg == NULL)
		lite_exec(f->db, sql);
	else
		pg_exec(f->pg, sql);
}

/* The highest version of schema/pg/, as store-pg.c wants it. */
static int
pg_schema_want(void)
{
	int	i, v = 0;

	for (i = 0; schema_pg_migrations[i].sql != NULL; i++)
		if (schema_pg_migrations[i].version > v)
			v = schema_pg_migrations[i].version;
	return v;
}

/*
 * Migrations: the schema version is this build's (SQLite's PRAGMA
 * user_version, PostgreSQL's agentd_schema), reopening applies nothing,
 * and a database from a newer agentd is refused.
 */
static void
test_store_migrations(void **state)
{
	struct fx	*f = *state;
	struct store	*st;
	char		*cause = NULL;

	if (f->pg != NULL) {
		assert_int_equal(sql_int(f, "SELECT max(version) FROM "
		    "agentd_schema"), pg_schema_want());
		assert_int_equal(sql_int(f, "SELECT count(*) FROM "
		    "agentd_schema"), 1);
	} else {
		assert_int_equal(sql_int(f, "PRAGMA user_version"),
		    store_schema_version());
		assert_int_equal(sql_int(f, "SELECT journal_mode = 'wal' "
		    "FROM pragma_journal_mode"), 1);
	}
	/* Reopening applies nothing and works. */
	st = store_open(f->db, &cause);
	assert_non_null(st);
	store_close(st);
	if (f->pg != NULL)
		assert_int_equal(sql_int(f, "SELECT count(*) FROM "
		    "agentd_schema"), 1);
	/* A database from a newer agentd is refused. */
	sql_exec(f, f->pg != NULL ? "UPDATE agentd_schema SET version = 999" :
	    "PRAGMA user_version = 999");
	st = store_open(f->db, &cause);
	assert_null(st);
	assert_non_null(strstr(cause, "newer than this agentd supports"));
	free(cause);
}

/*
 * Version 5 moves a run's response and text out of its row: a store of
 * version 4 keeps every result (now in run_results, read through the
 * same calls), loses the columns, and drops the attempts prune had left.
 */
static void
test_store_migrate_results(void **state)
{
	struct fx	*f = *state;
	struct store	*st;
	sqlite3		*db;
	char		*path, *cause = NULL, *err = NULL;
	json_t		*o;
	int		 i;

	if (f->pg != NULL)
		skip();
	path = harness_path(f->dir, "v4.db");
	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	for (i = 0; schema_migrations[i].sql != NULL &&
	    schema_migrations[i].version <= 4; i++)
		assert_int_equal(sqlite3_exec(db, schema_migrations[i].sql,
		    NULL, NULL, &err), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 4; "
	    "INSERT INTO runs (id, endpoint, request, status, response, "
	    "output_text, created_at, updated_at) VALUES ('r_done', 'e', '{}', "
	    "'completed', '{\"id\":\"resp_1\"}', 'the answer', 1, 1), "
	    "('r_open', 'e', '{}', 'running', NULL, NULL, 2, 2); "
	    "INSERT INTO attempts (run_n, attempt, status, ended_at) VALUES "
	    "(1, 1, 'failed', 1), (99, 1, 'failed', 1)", NULL, NULL, &err),
	    SQLITE_OK);
	sqlite3_close(db);

	st = store_open(path, &cause);
	assert_non_null(st);
	o = store_result_json(st, "r_done");
	assert_non_null(o);
	assert_string_equal(json_string_value(json_object_get(o,
	    "output_text")), "the answer");
	assert_string_equal(json_string_value(json_object_get(
	    json_object_get(o, "response"), "id")), "resp_1");
	json_decref(o);
	o = store_result_json(st, "r_open");
	assert_non_null(o);
	assert_true(json_is_null(json_object_get(o, "output_text")));
	assert_true(json_is_null(json_object_get(o, "response")));
	json_decref(o);
	store_close(st);

	assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt	*s;

		assert_int_equal(sqlite3_prepare_v2(db, "SELECT (SELECT count(*) "
		    "FROM pragma_table_info('runs') WHERE name IN ('response', "
		    "'output_text')), (SELECT count(*) FROM run_results), "
		    "(SELECT count(*) FROM attempts), (SELECT user_version FROM "
		    "pragma_user_version)", -1, &s, NULL), SQLITE_OK);
		assert_int_equal(sqlite3_step(s), SQLITE_ROW);
		assert_int_equal(sqlite3_column_int(s, 0), 0);
		assert_int_equal(sqlite3_column_int(s, 1), 1);
		assert_int_equal(sqlite3_column_int(s, 2), 1);
		assert_int_equal(sqlite3_column_int(s, 3),
		    store_schema_version());
		sqlite3_finalize(s);
	}
	sqlite3_close(db);
	free(path);
}

/*
 * PostgreSQL's counterpart of the foreign files: a database whose schema
 * holds another program's tables is not agentd's, and is left alone.
 */
static void
refuses_foreign_pg(struct fx *f)
{
	struct store	*st;
	char		*cause = NULL;

	pg_clean(f->pg);
	sql_exec(f, "CREATE TABLE t (x integer); INSERT INTO t VALUES (1)");
	st = store_open(f->db, &cause);
	assert_null(st);
	assert_non_null(strstr(cause, "not an agentd database"));
	free(cause);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM t"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM pg_tables WHERE "
	    "schemaname = current_schema()"), 1);
}

static void
test_store_refuses_foreign_files(void **state)
{
	struct fx	*f = *state;
	struct store	*st;
	char		*cause = NULL, *junk, *other, buf[64];
	FILE		*fp;
	struct stat	 before, after;

	if (f->pg != NULL) {
		refuses_foreign_pg(f);
		return;
	}
	junk = harness_path(f->dir, "junk.db");
	fp = fopen(junk, "w");
	fputs("this is not a database, just some text that is long enough "
	    "to look like a header of something", fp);
	fclose(fp);
	stat(junk, &before);
	st = store_open(junk, &cause);
	assert_null(st);
	assert_non_null(strstr(cause, "not"));
	free(cause);
	cause = NULL;
	stat(junk, &after);
	assert_int_equal(before.st_size, after.st_size);
	fp = fopen(junk, "r");
	assert_non_null(fgets(buf, sizeof buf, fp));
	fclose(fp);
	assert_int_equal(strncmp(buf, "this is not", 11), 0);
	/* Another program's SQLite database is not ours either. */
	other = harness_path(f->dir, "other.db");
	lite_exec(other, "CREATE TABLE t (x); INSERT INTO t VALUES (1)");
	st = store_open(other, &cause);
	assert_null(st);
	assert_non_null(strstr(cause, "not an agentd database"));
	assert_int_equal(lite_int(other, "SELECT count(*) FROM t"), 1);
	free(cause);
	free(junk);
	free(other);
}

static void
test_store_idempotent_insert(void **state)
{
	struct fx	*f = *state;
	char		 a[32], b[32], c[32];
	int		 created;

	new_run(f->st, "k1", a, sizeof a, &created);
	assert_int_equal(created, 1);
	new_run(f->st, "k1", b, sizeof b, &created);
	assert_int_equal(created, 0);
	assert_string_equal(a, b);
	new_run(f->st, NULL, c, sizeof c, &created);
	assert_int_equal(created, 1);
	assert_string_not_equal(a, c);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs"), 2);
}

static void
test_store_events_dedupe_and_cursor(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[4];
	struct store_event	 ev[3];
	char			 id[32], status[32];
	int			 created;
	int64_t			 last;

	new_run(f->st, NULL, id, sizeof id, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 4), 1);
	ev[0] = (struct store_event){ 0, "response.created", "{\"a\":0}", 7 };
	ev[1] = (struct store_event){ 1, "response.output_text.delta",
	    "{\"delta\":\"Hi\"}", 14 };
	ev[2] = (struct store_event){ 2, "response.output_text.delta",
	    "{\"delta\":\" there\"}", 18 };
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev, 2, 1,
	    util_now_ms()), 2);
	/* Uncommitted: another connection sees neither events nor cursor. */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 0);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), -1);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), 1);
	/* A replay of 1 plus the new 2: only 2 is stored (invariant 2). */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev + 1,
	    2, 2, util_now_ms()), 1);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 3);
	assert_int_equal(sql_int(f, "SELECT event_count FROM runs"), 3);
	assert_int_equal(store_run_state(f->st, a[0].n, status, sizeof status,
	    &last), 0);
	assert_int_equal(last, 2);
	/* A rolled-back batch leaves neither events nor cursor. */
	ev[0].seq = 3;
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev, 1, 3,
	    util_now_ms()), 1);
	store_rollback(f->st);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), 2);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 3);
	/* The cursor never moves backwards. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev + 1,
	    1, 1, util_now_ms()), 0);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), 2);
	{
		char *t = store_delta_text(f->st, a[0].n);

		assert_string_equal(t, "Hi there");
		free(t);
	}
}

/* Check each stored event is the one appended at its seq, in order. */
static int
many_cb(void *arg, int64_t seq, const char *type, const char *data)
{
	size_t	 len = strlen(data);
	int64_t	*next = arg;
	char	 want[32];

	snprintf(want, sizeof want, "{\"i\":%lld}", (long long)seq);
	assert_int_equal(seq, *next);
	assert_string_equal(type, seq % 2 ? "odd" : "even");
	assert_int_equal(len, strlen(want));
	assert_memory_equal(data, want, len);
	(*next)++;
	return 0;
}

/*
 * Batches longer than one multi-row INSERT (32 events), with a remainder
 * and replayed events inside a full chunk: every new event stored once,
 * the replayed ones skipped, the count right.
 */
static void
test_store_events_many(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[4];
	struct store_event	 ev[100];
	char			 id[32], data[100][32];
	int			 created, i;
	int64_t			 next = 0;

	new_run(f->st, NULL, id, sizeof id, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 4), 1);
	for (i = 0; i < 100; i++) {
		snprintf(data[i], sizeof data[i], "{\"i\":%d}", i);
		ev[i] = (struct store_event){ i, i % 2 ? "odd" : "even",
		    data[i], strlen(data[i]) };
	}
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev, 40,
	    39, util_now_ms()), 40);
	assert_int_equal(store_commit(f->st), 0);
	/* 30..99: ten replayed, sixty new (one chunk holds both). */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, ev + 30,
	    70, 99, util_now_ms()), 60);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 100);
	assert_int_equal(sql_int(f, "SELECT event_count FROM runs"), 100);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), 99);
	assert_int_equal(store_events_each(f->st, a[0].n, -1, 1000, many_cb,
	    &next), 100);
	assert_int_equal(next, 100);
}

static void
test_store_fencing(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[4], b[4];
	struct store_event	 ev = { 0, "x", "{}", 2 };
	struct run_patch	 p = RUN_PATCH_INIT;
	struct run_row		 row;
	char			 id[32];
	int			 created;

	new_run(f->st, NULL, id, sizeof id, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 4), 1);
	/* Leased runs are not handed out twice. */
	assert_int_equal(lease_all(f->st, "w1", b, 4), 0);
	/* The dead worker's leases are released and fenced. */
	assert_int_equal(store_release_owner(f->st, "w0"), 1);
	assert_int_equal(lease_all(f->st, "w1", b, 4), 1);
	assert_true(b[0].gen > a[0].gen);
	assert_int_equal(store_row_load(f->st, a[0].n, a[0].gen, &row), 0);
	assert_int_equal(store_row_load(f->st, b[0].n, b[0].gen, &row), 1);
	store_row_clear(&row);
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, &ev, 1,
	    0, util_now_ms()), -2);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 0);
	/* In one transaction the fenced append writes nothing, the other does. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_events_append(f->st, a[0].n, a[0].gen, &ev, 1,
	    0, util_now_ms()), -2);
	ev.seq = 1;
	assert_int_equal(store_events_append(f->st, b[0].n, b[0].gen, &ev, 1,
	    1, util_now_ms()), 1);
	assert_int_equal(store_commit(f->st), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM events"), 1);
	assert_int_equal(sql_int(f, "SELECT min(seq) FROM events"), 1);
	assert_int_equal(sql_int(f, "SELECT last_seq FROM runs"), 1);
	ev.seq = 0;
	p.status = RUN_COMPLETED;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 0);
	assert_int_equal(store_run_patch(f->st, b[0].n, b[0].gen, &p), 1);
	/* Re-arming at start fences everyone. */
	p.status = RUN_RUNNING;
	assert_int_equal(store_run_patch(f->st, b[0].n, b[0].gen, &p), 1);
	assert_true(store_rearm(f->st) >= 1);
	assert_int_equal(store_run_patch(f->st, b[0].n, b[0].gen, &p), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs WHERE "
	    "lease_owner IS NOT NULL"), 0);
}

struct abandoned {
	int	count;
	char	owner[16];
};

static void
abandon_cb(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id, int retried)
{
	struct abandoned	*ab = arg;

	(void)n;
	(void)id;
	(void)backend_id;
	(void)retried;
	ab->count++;
	snprintf(ab->owner, sizeof ab->owner, "%s", owner ? owner : "");
}

static void
test_store_abandon_and_resume(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[4];
	struct abandoned	 ab = { 0, "" };
	const char		*msg = NULL;
	char			 id[32], id2[32];
	int			 created;
	int64_t			 now = util_now_ms();

	new_run(f->st, NULL, id, sizeof id, &created);
	new_run(f->st, NULL, id2, sizeof id2, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 4), 2);
	sql_exec(f, "UPDATE runs SET status = 'running'");
	/* Nothing is stale yet. */
	assert_int_equal(store_abandon_stale(f->st, now, 60000, 1000, abandon_cb,
	    &ab), 0);
	/* One run saw its last event long ago, and its lease is old too. */
	char sql[256];
	snprintf(sql, sizeof sql, "UPDATE runs SET last_event_at = %lld, "
	    "attached_at = %lld, created_at = 0 WHERE id = '%s'",
	    (long long)(now - 120000), (long long)(now - 120000), id);
	sql_exec(f, sql);
	assert_int_equal(store_abandon_stale(f->st, now, 60000, 1000, abandon_cb,
	    &ab), 1);
	assert_int_equal(ab.count, 1);
	assert_string_equal(ab.owner, "w0");
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs WHERE "
	    "status = 'abandoned' AND error_message LIKE 'stale%'"), 1);
	/* The worker that held it is fenced. */
	{
		struct run_patch p = RUN_PATCH_INIT;

		p.status = RUN_COMPLETED;
		assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p),
		    0);
	}
	assert_int_equal(store_resume(f->st, id, &msg), STORE_OK);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs WHERE "
	    "status = 'pending' AND lease_owner IS NULL"), 1);
	assert_int_equal(store_resume(f->st, id2, &msg), STORE_CONFLICT);
	assert_int_equal(store_resume(f->st, "r_nope", &msg), STORE_NOTFOUND);
	sql_exec(f, "UPDATE runs SET status = 'completed'");
	assert_int_equal(store_resume(f->st, id, &msg), STORE_CONFLICT);
	assert_non_null(strstr(msg, "abandoned or failed"));
}

/*
 * Checkpoints (store_set_autocheckpoint, store_checkpoint): below its
 * threshold the supervisor's connection leaves the WAL to grow and says
 * how big it is; another connection's checkpoint empties it, and the
 * next write starts it again from the beginning.
 */
static void
test_store_checkpoints(void **state)
{
	struct fx	*f = *state;
	struct store	*worker;
	char		 id[32], *cause = NULL;
	int		 created, i, before;

	if (f->pg != NULL) {
		assert_int_equal(store_checkpoint(f->st), 0);
		assert_int_equal(store_wal_frames(f->st), 0);
		return;
	}
	store_set_autocheckpoint(f->st, 100000);
	for (i = 0; i < 20; i++)
		new_run(f->st, NULL, id, sizeof id, &created);
	before = store_wal_frames(f->st);
	assert_true(before >= 20);
	new_run(f->st, NULL, id, sizeof id, &created);
	assert_true(store_wal_frames(f->st) > before);	/* not emptied */
	worker = store_open(f->db, &cause);
	assert_non_null(worker);
	assert_true(store_checkpoint(worker) > before);
	new_run(f->st, NULL, id, sizeof id, &created);
	assert_true(store_wal_frames(f->st) < before);	/* restarted */
	store_close(worker);
}

/*
 * A prune slice examines the next max runs by key, deletes the finished
 * ones among them, and moves on; a run still pending is never deleted,
 * and the end says so (from -1).
 */
static void
test_store_prune_slices(void **state)
{
	struct fx	*f = *state;
	char		 id[32];
	int		 created, i, n, total = 0, slices = 0;
	int64_t		 from = 0;

	for (i = 0; i < 5; i++)
		new_run(f->st, NULL, id, sizeof id, &created);
	/* The newest stays pending; the others finished long ago. */
	sql_exec(f, "UPDATE runs SET status = 'completed', finished_at = 1 "
	    "WHERE n < (SELECT max(n) FROM runs)");
	while (from >= 0) {
		n = store_prune_slice(f->st, util_now_ms(), &from, 2);
		assert_true(n >= 0 && n <= 2);
		total += n;
		slices++;
		assert_true(slices < 10);
	}
	assert_int_equal(total, 4);
	assert_int_equal(slices, 4);	/* 2 + 2 + 1 (pending), then none */
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(store_prune_slice(f->st, util_now_ms(), &from, 2), 0);
	assert_int_equal(from, -1);
}

static void
test_store_cancel_and_prune(void **state)
{
	struct fx	*f = *state;
	char		 id[32], id2[32], *owner, *bid, *ep;
	const char	*msg;
	int		 created;
	int64_t		 n;

	new_run(f->st, NULL, id, sizeof id, &created);
	new_run(f->st, NULL, id2, sizeof id2, &created);
	assert_int_equal(store_cancel(f->st, id, &n, &owner, &bid, &ep, &msg),
	    STORE_OK);
	free(owner);
	free(bid);
	free(ep);
	assert_int_equal(store_cancel(f->st, id, &n, &owner, &bid, &ep, &msg),
	    STORE_CONFLICT);
	assert_int_equal(store_cancel(f->st, "r_x", &n, &owner, &bid, &ep,
	    &msg), STORE_NOTFOUND);
	/* What each run owns besides its events: prune takes it too. */
	sql_exec(f, "INSERT INTO attempts (run_n, attempt, status, ended_at) "
	    "SELECT n, 1, 'failed', 1 FROM runs");
	if (f->pg == NULL)	/* PostgreSQL keeps them in runs */
		sql_exec(f, "INSERT INTO run_results (n, response, "
		    "output_text) SELECT n, '{}', 'text' FROM runs");
	/* Prune removes the finished run, never the pending one. */
	assert_int_equal(store_prune(f->st, util_now_ms() + 1000), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM runs"), 1);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM attempts WHERE "
	    "run_n NOT IN (SELECT n FROM runs)"), 0);
	assert_int_equal(sql_int(f, "SELECT count(*) FROM attempts"), 1);
	if (f->pg == NULL) {
		assert_int_equal(sql_int(f, "SELECT count(*) FROM run_results "
		    "WHERE n NOT IN (SELECT n FROM runs)"), 0);
		assert_int_equal(sql_int(f, "SELECT count(*) FROM "
		    "run_results"), 1);
	}
	assert_null(store_run_json(f->st, id));
	{
		json_t *o = store_run_json(f->st, id2);

		assert_non_null(o);
		json_decref(o);
	}
}

/* store_run_list's page, parsed; NULL (with *cause) as it returns. */
/*
 * A batch's rate counts its finished runs over the last five minutes, or
 * over its life when younger: 5 runs finished in a batch 60 s old is 5 a
 * minute (it said 1, the five runs over five minutes, and the time left
 * five times too long).
 */
static void
test_store_batch_rate(void **state)
{
	struct fx		*f = *state;
	struct batch_new	 b = { .name = "rb" };
	struct batch_item	 it[10];
	char			 cid[10][8], sql[256], *cause = NULL;
	int			 i, sub = 0, pre = 0;
	int64_t			 now = util_now_ms();
	json_t			*o;
	double			 r;

	for (i = 0; i < 10; i++) {
		snprintf(cid[i], sizeof cid[i], "c%d", i);
		it[i].custom_id = cid[i];
		it[i].request = "{\"model\":\"m\",\"input\":\"x\"}";
	}
	assert_int_equal(batch_submit(f->st, &b, it, 10, &sub, &pre, &cause),
	    0);
	assert_int_equal(sub, 10);
	snprintf(sql, sizeof sql, "UPDATE runs SET status = 'completed', "
	    "finished_at = %lld WHERE batch = 'rb' AND custom_id < 'c5'",
	    (long long)(now - 30000));
	sql_exec(f, sql);

	/* 60 s old: 5 runs in 60 s. */
	snprintf(sql, sizeof sql, "UPDATE batches SET created_at = %lld "
	    "WHERE name = 'rb'", (long long)(now - 60000));
	sql_exec(f, sql);
	assert_non_null(o = batch_status_json(f->st, "rb"));
	assert_int_equal(json_integer_value(json_object_get(o, "finished")), 5);
	r = json_number_value(json_object_get(o, "rate_per_min"));
	if (r < 4.9 || r > 5.0)
		fail_msg("rate of a batch 60 s old: %.3f a minute, want 5", r);
	/* The other 5 at that rate: about a minute left. */
	i = (int)json_integer_value(json_object_get(o, "eta_s"));
	if (i < 59 || i > 62)
		fail_msg("time left: %d s, want 60", i);
	json_decref(o);

	/* Ten minutes old: the last five minutes. */
	snprintf(sql, sizeof sql, "UPDATE batches SET created_at = %lld "
	    "WHERE name = 'rb'", (long long)(now - 600000));
	sql_exec(f, sql);
	assert_non_null(o = batch_status_json(f->st, "rb"));
	r = json_number_value(json_object_get(o, "rate_per_min"));
	if (r != 1.0)
		fail_msg("rate of a batch 10 min old: %.3f a minute, want 1", r);
	json_decref(o);

	/* The function's edges: created now or later (another host's clock)
	 * counts over a second, not over nothing. */
	assert_true(batch_rate_per_min(287, now - 35000, now) > 491.9 &&
	    batch_rate_per_min(287, now - 35000, now) < 492.1);
	assert_true(batch_rate_per_min(3, now, now) == 180.0);
	assert_true(batch_rate_per_min(3, now + 5000, now) == 180.0);
	assert_true(batch_rate_per_min(0, now - 10, now) == 0.0);
}

static json_t *
list_page(struct store *st, const char *status, const char *after,
    int limit, char **cause)
{
	json_error_t	 jerr;
	json_t		*page;
	char		*text;
	size_t		 len;

	text = store_run_list(st, status, NULL, 0, after, limit, &len, cause);
	if (text == NULL)
		return NULL;
	assert_int_equal(strlen(text), len);
	page = json_loadb(text, len, JSON_ALLOW_NUL, &jerr);
	if (page == NULL)
		fail_msg("page does not parse: %s: %s", jerr.text, text);
	free(text);
	return page;
}

static void
test_store_pagination(void **state)
{
	struct fx	*f = *state;
	char		 id[32], *cause = NULL, after[32] = "";
	int		 created, i, seen = 0, pages = 0;
	json_t		*page, *runs, *next;

	for (i = 0; i < 250; i++)
		new_run(f->st, NULL, id, sizeof id, &created);
	do {
		page = list_page(f->st, NULL, *after ? after : NULL, 100,
		    &cause);
		assert_non_null(page);
		runs = json_object_get(page, "runs");
		seen += (int)json_array_size(runs);
		pages++;
		next = json_object_get(page, "next");
		if (json_is_string(next))
			snprintf(after, sizeof after, "%s",
			    json_string_value(next));
		else
			after[0] = '\0';
		json_decref(page);
	} while (*after);
	assert_int_equal(seen, 250);
	assert_int_equal(pages, 3);
	page = list_page(f->st, "completed", NULL, 10, &cause);
	assert_int_equal(json_array_size(json_object_get(page, "runs")), 0);
	json_decref(page);
	assert_null(list_page(f->st, NULL, "r_unknown", 10, &cause));
	assert_non_null(strstr(cause, "unknown"));
	free(cause);
}

/*
 * A run's JSON, written by run_row_write: every key in the API's order,
 * the error object only with a status or message, strings escaped, text
 * that is not UTF-8 as null, and the same object in a page of runs.
 */
static void
test_store_run_json(void **state)
{
	static const char *const keys[] = {
		"id", "status", "mode", "resolved_mode", "backend_id",
		"backend_status", "endpoint", "queue", "priority", "creates",
		"last_seq", "event_count", "last_event_at", "created_at",
		"updated_at", "finished_at", "resumable", "idempotency_key",
		"error", "worker", "dialect", "attempt", "max_attempts",
		"batch", "custom_id", "not_before", "retries", "wait"
	};
	struct fx	*f = *state;
	char		 id[32], sql[256], *cause = NULL;
	const char	*k;
	json_t		*o, *page, *e, *v;
	size_t		 i = 0;
	int		 created;

	new_run(f->st, "key \"1\"", id, sizeof id, &created);
	o = store_run_json(f->st, id);
	assert_non_null(o);
	json_object_foreach(o, k, v) {
		assert_true(i < sizeof keys / sizeof keys[0]);
		assert_string_equal(k, keys[i]);
		i++;
	}
	assert_int_equal(i, sizeof keys / sizeof keys[0]);
	assert_true(json_is_null(json_object_get(o, "error")));
	assert_true(json_is_false(json_object_get(o, "resumable")) ||
	    json_is_true(json_object_get(o, "resumable")));
	assert_string_equal(json_string_value(json_object_get(o,
	    "idempotency_key")), "key \"1\"");
	json_decref(o);

	/*
	 * PostgreSQL's text holds neither a NUL nor bytes that are not
	 * UTF-8: there, a control character in the body instead.
	 */
	if (f->pg != NULL)
		snprintf(sql, sizeof sql, "UPDATE runs SET error_status = 502, "
		    "error_message = 'bad\ttab' || chr(10) || 'x', "
		    "error_body = '{\"' || chr(1), custom_id = 'caf\xc3\xa9' "
		    "WHERE id = '%s'", id);
	else
		snprintf(sql, sizeof sql, "UPDATE runs SET error_status = 502, "
		    "error_message = 'bad\ttab' || char(10) || char(0) || 'x', "
		    "error_body = CAST(X'7B22FF' AS TEXT), custom_id = "
		    "'caf\xc3\xa9' WHERE id = '%s'", id);
	sql_exec(f, sql);
	o = store_run_json(f->st, id);
	assert_non_null(o);
	e = json_object_get(o, "error");
	assert_int_equal(json_integer_value(json_object_get(e,
	    "http_status")), 502);
	v = json_object_get(e, "message");
	if (f->pg != NULL) {
		assert_int_equal(json_string_length(v), 9);
		assert_memory_equal(json_string_value(v), "bad\ttab\nx", 9);
		assert_string_equal(json_string_value(json_object_get(e,
		    "body")), "{\"\001");
	} else {
		assert_int_equal(json_string_length(v), 10);
		assert_memory_equal(json_string_value(v), "bad\ttab\n\0x",
		    10);
		assert_true(json_is_null(json_object_get(e, "body")));
	}
	assert_string_equal(json_string_value(json_object_get(o,
	    "custom_id")), "caf\xc3\xa9");

	page = list_page(f->st, NULL, NULL, 10, &cause);
	assert_non_null(page);
	assert_true(json_equal(json_array_get(json_object_get(page, "runs"),
	    0), o));
	assert_true(json_is_null(json_object_get(page, "next")));
	json_decref(page);
	json_decref(o);
}

/* j as compact JSON text; compared with what it should be, and freed. */
static void
assert_dump(json_t *j, const char *want)
{
	char	*text;

	assert_non_null(j);
	text = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	if (strcmp(text, want) != 0)
		fail_msg("got  %s\nwant %s", text, want);
	free(text);
	json_decref(j);
}

/* A page of runs as text, compared byte for byte. */
static void
assert_page(struct store *st, const char *after, int limit,
    const char *want)
{
	char	*text, *cause = NULL;
	size_t	 len;

	text = store_run_list(st, NULL, NULL, 0, after, limit, &len, &cause);
	assert_non_null(text);
	assert_int_equal(strlen(text), len);
	if (strcmp(text, want) != 0)
		fail_msg("got  %s\nwant %s", text, want);
	free(text);
}

#define RUN1_JSON "{\"id\":\"r_0000000000000001\",\"status\":\"completed\"," \
	"\"mode\":\"auto\",\"resolved_mode\":\"stream\",\"backend_id\":" \
	"\"resp_1\",\"backend_status\":\"completed\",\"endpoint\":" \
	"\"http://e/v1\",\"queue\":\"q1\",\"priority\":2,\"creates\":1," \
	"\"last_seq\":2,\"event_count\":3,\"last_event_at\":1000," \
	"\"created_at\":100,\"updated_at\":200,\"finished_at\":300," \
	"\"resumable\":false,\"idempotency_key\":\"k1\",\"error\":" \
	"{\"http_status\":500,\"message\":\"boom \\\"x\\\"\",\"body\":" \
	"\"{\\\"e\\\":1}\"},\"worker\":null,\"dialect\":\"openai\"," \
	"\"attempt\":2,\"max_attempts\":3,\"batch\":\"b1\",\"custom_id\":" \
	"\"c\xc3\xa9\",\"not_before\":50,\"retries\":0,\"wait\":null}"
#define RUN2_JSON "{\"id\":\"r_0000000000000002\",\"status\":\"pending\"," \
	"\"mode\":\"auto\",\"resolved_mode\":null,\"backend_id\":null," \
	"\"backend_status\":null,\"endpoint\":\"http://e/v1\",\"queue\":" \
	"\"q1\",\"priority\":0,\"creates\":0,\"last_seq\":-1," \
	"\"event_count\":0,\"last_event_at\":null,\"created_at\":400," \
	"\"updated_at\":400,\"finished_at\":null,\"resumable\":true," \
	"\"idempotency_key\":null,\"error\":null,\"worker\":null," \
	"\"dialect\":\"openai\",\"attempt\":1,\"max_attempts\":1,\"batch\":" \
	"null,\"custom_id\":null,\"not_before\":null,\"retries\":0,\"wait\":" \
	"{\"reason\":\"queue_paused\",\"until\":null,\"tries\":0,\"queue\":" \
	"\"q1\",\"message\":\"queue q1 is paused\"}}"
#define RUN3_JSON "{\"id\":\"r_0000000000000003\",\"status\":\"running\"," \
	"\"mode\":\"auto\",\"resolved_mode\":\"background\",\"backend_id\":" \
	"\"resp_3\",\"backend_status\":\"in_progress\",\"endpoint\":" \
	"\"http://e/v1\",\"queue\":\"default\",\"priority\":0,\"creates\":1," \
	"\"last_seq\":-1,\"event_count\":0,\"last_event_at\":null," \
	"\"created_at\":500,\"updated_at\":500,\"finished_at\":null," \
	"\"resumable\":true,\"idempotency_key\":null,\"error\":null," \
	"\"worker\":\"w1\",\"dialect\":\"openai\",\"attempt\":1," \
	"\"max_attempts\":1,\"batch\":null,\"custom_id\":null,\"not_before\":" \
	"null,\"retries\":2,\"wait\":{\"reason\":\"backoff\",\"until\":5000," \
	"\"tries\":2,\"message\":\"retry 2, after agentd's backoff\"}}"

/*
 * The same bytes from both engines for the same rows (written with raw
 * SQL, so that nothing but the reads is under test): pages of runs with
 * their cursor, a run, its result, events, counts, the waiting runs, the
 * front's view.
 */
static void
test_store_read_bytes(void **state)
{
	struct fx	*f = *state;
	struct run_view	 v;
	char		 status[16];
	int64_t		 next = 0, last = 0;

	sql_exec(f, "INSERT INTO runs (n, id, idempotency_key, queue, "
	    "priority, endpoint, request, resolved_mode, status, backend_id, "
	    "backend_status, resumable, creates, last_seq, event_count, "
	    "last_event_at, error_status, error_message, error_body, "
	    "created_at, updated_at, finished_at, "
	    "attempt, max_attempts, batch, custom_id, not_before) VALUES (1, "
	    "'r_0000000000000001', 'k1', 'q1', 2, 'http://e/v1', "
	    "'{\"input\":\"x\"}', 'stream', 'completed', 'resp_1', "
	    "'completed', 0, 1, 2, 3, 1000, 500, 'boom \"x\"', '{\"e\":1}', "
	    "100, 200, 300, 2, 3, 'b1', 'c\xc3\xa9', 50)");
	/* SQLite keeps the result in its own table (schema/005_results.sql). */
	sql_exec(f, f->pg != NULL ? "UPDATE runs SET response = "
	    "'{\"id\":\"resp_1\",\"output\":[]}', output_text = 'h\xc3\xa9' "
	    "WHERE n = 1" : "INSERT INTO run_results (n, response, output_text) "
	    "VALUES (1, '{\"id\":\"resp_1\",\"output\":[]}', 'h\xc3\xa9')");
	sql_exec(f, "INSERT INTO runs (n, id, queue, endpoint, request, "
	    "created_at, updated_at) VALUES (2, 'r_0000000000000002', 'q1', "
	    "'http://e/v1', '{}', 400, 400)");
	sql_exec(f, "INSERT INTO runs (n, id, endpoint, request, "
	    "resolved_mode, status, backend_id, backend_status, creates, "
	    "lease_owner, lease_gen, created_at, updated_at, wait_reason, "
	    "wait_until, wait_tries) VALUES (3, 'r_0000000000000003', "
	    "'http://e/v1', '{}', 'background', 'running', 'resp_3', "
	    "'in_progress', 1, 'w1', 1, 500, 500, 'backoff', 5000, 2)");
	sql_exec(f, "INSERT INTO queues (name, paused, updated_at) VALUES "
	    "('q1', 1, 0)");
	sql_exec(f, "INSERT INTO events (run_n, seq, type, data, at) VALUES "
	    "(1, 0, 'response.created', '{\"a\":1}', 1), (1, 1, 'x', 'not "
	    "json', 1), (1, 2, 'y', '\"s\"', 1)");

	assert_page(f->st, NULL, 2, "{\"runs\":[" RUN3_JSON "," RUN2_JSON
	    "],\"next\":\"r_0000000000000002\"}");
	assert_page(f->st, "r_0000000000000002", 2, "{\"runs\":[" RUN1_JSON
	    "],\"next\":null}");
	assert_page(f->st, "r_0000000000000001", 2,
	    "{\"runs\":[],\"next\":null}");
	assert_page(f->st, NULL, 3, "{\"runs\":[" RUN3_JSON "," RUN2_JSON ","
	    RUN1_JSON "],\"next\":null}");
	assert_dump(store_run_json(f->st, "r_0000000000000001"), RUN1_JSON);
	assert_null(store_run_json(f->st, "r_0000000000000009"));
	assert_int_equal(store_run_n(f->st, "r_0000000000000003"), 3);
	assert_int_equal(store_run_n(f->st, "r_0000000000000009"), -1);
	assert_dump(store_result_json(f->st, "r_0000000000000001"),
	    "{\"id\":\"r_0000000000000001\",\"status\":\"completed\","
	    "\"output_text\":\"h\xc3\xa9\",\"response\":{\"id\":\"resp_1\","
	    "\"output\":[]},\"error\":{\"http_status\":500,\"message\":"
	    "\"boom \\\"x\\\"\",\"body\":\"{\\\"e\\\":1}\"}}");
	assert_dump(store_result_json(f->st, "r_0000000000000002"),
	    "{\"id\":\"r_0000000000000002\",\"status\":\"pending\","
	    "\"output_text\":null,\"response\":null,\"error\":null}");
	assert_null(store_result_json(f->st, "r_0000000000000009"));
	assert_dump(store_events_json(f->st, "r_0000000000000001", -1, 2, 0,
	    &next), "{\"events\":[{\"seq\":0,\"type\":\"response.created\","
	    "\"data\":{\"a\":1}},{\"seq\":1,\"type\":\"x\",\"data\":\"not "
	    "json\"}],\"next_after\":1}");
	assert_int_equal(next, 1);
	assert_dump(store_events_json(f->st, "r_0000000000000001", 1, 2, 1,
	    &next), "{\"events\":[{\"seq\":2,\"type\":\"y\",\"data\":"
	    "\"\\\"s\\\"\"}],\"next_after\":null}");
	assert_int_equal(next, -1);
	assert_null(store_events_json(f->st, "r_0000000000000009", -1, 2, 0,
	    &next));
	assert_dump(store_counts_json(f->st),
	    "{\"completed\":1,\"pending\":1,\"running\":1}");
	assert_dump(store_waiting_json(f->st), "{\"reasons\":{\"backoff\":1,"
	    "\"queue_paused\":1},\"retrying\":1}");
	assert_int_equal(store_count_events(f->st), 3);
	assert_int_equal(store_run_state(f->st, 1, status, sizeof status,
	    &last), 0);
	assert_string_equal(status, "completed");
	assert_int_equal(last, 2);
	assert_int_equal(store_run_state(f->st, 9, status, sizeof status,
	    &last), -1);
	assert_int_equal(store_run_view(f->st, "r_0000000000000001", &v), 1);
	assert_int_equal(v.n, 1);
	assert_string_equal(v.id, "r_0000000000000001");
	assert_string_equal(v.status, "completed");
	assert_string_equal(v.request, "{\"input\":\"x\"}");
	assert_string_equal(v.dialect, "openai");
	assert_string_equal(v.backend_id, "resp_1");
	assert_string_equal(v.resolved_mode, "stream");
	assert_string_equal(v.response, "{\"id\":\"resp_1\",\"output\":[]}");
	assert_string_equal(v.output_text, "h\xc3\xa9");
	assert_string_equal(v.error_message, "boom \"x\"");
	assert_int_equal(v.resumable, 0);
	assert_int_equal(v.last_seq, 2);
	assert_int_equal(v.created_at, 100);
	assert_int_equal(v.finished_at, 300);
	store_run_view_clear(&v);
	assert_int_equal(store_run_view(f->st, "r_0000000000000002", &v), 1);
	assert_null(v.backend_id);
	assert_int_equal(v.finished_at, 0);
	assert_int_equal(v.resumable, 1);
	store_run_view_clear(&v);
	assert_int_equal(store_run_view(f->st, "r_0000000000000009", &v), 0);
}

/* The reason of run id's "wait" object, or NULL when it does not wait. */
static char *
wait_reason(struct store *st, const char *id, json_t **wait)
{
	json_t	*o = store_run_json(st, id), *w;
	char	*r = NULL;

	assert_non_null(o);
	w = json_object_get(o, "wait");
	if (json_is_object(w))
		r = strdup(json_string_value(json_object_get(w, "reason")));
	else
		assert_true(json_is_null(w));
	if (wait != NULL)
		*wait = json_incref(w);
	json_decref(o);
	return r;
}

static void
assert_wait(struct store *st, const char *id, const char *want)
{
	char	*r = wait_reason(st, id, NULL);

	if (want == NULL)
		assert_null(r);
	else {
		assert_non_null(r);
		assert_string_equal(r, want);
	}
	free(r);
}

/*
 * Why a run waits: a worker's recorded retry (set, under way, cleared),
 * and a pending run's derived reasons in the scheduler's order (paused
 * queue, the next attempt's backoff, a full queue, --max-inflight).
 */
static void
test_store_wait_state(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[4];
	struct run_patch	 p = RUN_PATCH_INIT;
	char			 id[32], id2[32], sql[256];
	json_t			*w, *m;
	int			 created;

	new_run(f->st, NULL, id, sizeof id, &created);
	assert_wait(f->st, id, NULL);
	assert_int_equal(lease_all(f->st, "w0", a, 4), 1);
	p.set_wait = 1;
	p.wait_reason = WAIT_RETRY_AFTER;
	p.wait_until = util_now_ms() + 5000;
	p.wait_tries = 3;
	p.set_error = 1;
	p.error_status = 503;
	p.error_message = "HTTP 503 from create: busy";
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	free(wait_reason(f->st, id, &w));
	assert_string_equal(json_string_value(json_object_get(w, "reason")),
	    "retry_after");
	assert_int_equal(json_integer_value(json_object_get(w, "tries")), 3);
	assert_true(json_integer_value(json_object_get(w, "until")) >
	    util_now_ms());
	assert_non_null(strstr(json_string_value(json_object_get(w,
	    "message")), "Retry-After"));
	json_decref(w);
	m = store_waiting_json(f->st);
	assert_int_equal(json_integer_value(json_object_get(m, "retrying")),
	    1);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
	    "reasons"), "retry_after")), 1);
	json_decref(m);
	/* A fenced worker cannot write a wait. */
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen + 1, &p), 0);
	/* The retry is under way: no wait, the tries stay. */
	p = (struct run_patch)RUN_PATCH_INIT;
	p.set_wait = 2;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	assert_wait(f->st, id, NULL);
	assert_int_equal(sql_int(f, "SELECT wait_tries FROM runs"), 3);
	/* Held back by agentd, then released. */
	assert_int_equal(store_run_released(f->st, a[0].n, a[0].gen,
	    WAIT_ENDPOINT_PAUSED, util_now_ms() + 1000), 1);
	assert_wait(f->st, id, WAIT_ENDPOINT_PAUSED);
	assert_int_equal(store_run_released(f->st, a[0].n, a[0].gen, NULL, 0),
	    1);
	assert_wait(f->st, id, NULL);
	/* Moving again clears the tries; a finished run never waits. */
	p.set_wait = -1;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	assert_int_equal(sql_int(f, "SELECT wait_tries FROM runs"), 0);
	p = (struct run_patch)RUN_PATCH_INIT;
	p.set_wait = 1;
	p.wait_reason = WAIT_BACKOFF;
	p.wait_tries = 1;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	assert_wait(f->st, id, WAIT_BACKOFF);
	p = (struct run_patch)RUN_PATCH_INIT;
	p.status = RUN_FAILED;
	p.finished = 1;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	assert_wait(f->st, id, NULL);

	/* Pending: a paused queue comes first. */
	new_run(f->st, NULL, id2, sizeof id2, &created);
	assert_wait(f->st, id2, NULL);
	snprintf(sql, sizeof sql, "INSERT INTO queues (name, paused, "
	    "updated_at) VALUES ('default', 1, 0)");
	sql_exec(f, sql);
	free(wait_reason(f->st, id2, &w));
	assert_string_equal(json_string_value(json_object_get(w, "reason")),
	    "queue_paused");
	assert_string_equal(json_string_value(json_object_get(w, "queue")),
	    "default");
	json_decref(w);
	/* The next attempt's backoff. */
	sql_exec(f, "UPDATE queues SET paused = 0");
	snprintf(sql, sizeof sql, "UPDATE runs SET not_before = %lld WHERE "
	    "id = '%s'", (long long)util_now_ms() + 60000, id2);
	sql_exec(f, sql);
	assert_wait(f->st, id2, WAIT_ATTEMPT);
	sql_exec(f, "UPDATE runs SET not_before = NULL");
	/* A full queue, then agentd's --max-inflight. */
	new_run(f->st, NULL, id, sizeof id, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 1), 1);
	assert_string_equal(a[0].id, id2);	/* FIFO: id waits */
	sql_exec(f, "UPDATE queues SET max_inflight = 1");
	free(wait_reason(f->st, id, &w));
	assert_string_equal(json_string_value(json_object_get(w, "reason")),
	    "queue_max_inflight");
	assert_int_equal(json_integer_value(json_object_get(w, "limit")), 1);
	json_decref(w);
	sql_exec(f, "UPDATE queues SET max_inflight = NULL");
	assert_wait(f->st, id, NULL);
	store_set_max_inflight(f->st, 1);
	assert_wait(f->st, id, WAIT_MAX_INFLIGHT);
	m = store_waiting_json(f->st);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(m,
	    "reasons"), "max_inflight")), 1);
	json_decref(m);
	store_set_max_inflight(f->st, 2);
	assert_wait(f->st, id, NULL);
}

/*
 * Invariant 3 across deletes: a run's key is never given to another run
 * (SQLite would reuse the newest deleted one, and with it (n, gen)), and
 * a new lease starts with no wait left from the old one.
 */
static void
test_store_keys_not_reused(void **state)
{
	struct fx		*f = *state;
	struct store_assign	 a[2], b[2];
	struct run_patch	 p = RUN_PATCH_INIT;
	char			 id[32], id2[32];
	int			 created;

	new_run(f->st, NULL, id, sizeof id, &created);
	assert_int_equal(lease_all(f->st, "w0", a, 2), 1);
	p.status = RUN_COMPLETED;
	p.finished = 1;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 1);
	assert_int_equal(store_run_delete(f->st, id), STORE_OK);
	assert_int_equal(store_run_delete(f->st, id), STORE_NOTFOUND);
	new_run(f->st, NULL, id2, sizeof id2, &created);
	assert_int_equal(lease_all(f->st, "w0", b, 2), 1);
	assert_true(b[0].n > a[0].n);
	/* The dead run's (n, gen) fences nothing of the new one. */
	p = (struct run_patch)RUN_PATCH_INIT;
	p.status = RUN_RUNNING;
	assert_int_equal(store_run_patch(f->st, a[0].n, a[0].gen, &p), 0);
	/* An active run is not deleted. */
	assert_int_equal(store_run_delete(f->st, id2), STORE_CONFLICT);
	/* A worker's wait does not outlive its lease. */
	p.set_wait = 1;
	p.wait_reason = WAIT_RETRY_AFTER;
	p.wait_tries = 2;
	assert_int_equal(store_run_patch(f->st, b[0].n, b[0].gen, &p), 1);
	assert_int_equal(store_release_owner(f->st, "w0"), 1);
	assert_int_equal(lease_all(f->st, "w1", b, 2), 1);
	assert_wait(f->st, id2, NULL);
	assert_int_equal(sql_int(f, "SELECT wait_tries FROM runs"), 0);
}

/*
 * PostgreSQL's counterpart: a statement waiting for another session's
 * lock goes on as soon as it is released, and the busy timeout (there
 * statement_timeout and lock_timeout) still ends a longer wait.
 */
static void
lock_wait_pg(struct fx *f)
{
	PGconn		*c;
	PGresult	*r;
	json_t		*o;
	int		 p[2];
	int64_t		 released = 0, got, t0;
	pid_t		 pid;

	sql_exec(f, "INSERT INTO runs (id, endpoint, request, created_at, "
	    "updated_at) VALUES ('r_lock', 'http://127.0.0.1:1/v1', '{}', 1, "
	    "1)");
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		c = PQconnectdb(pg_conninfo);
		r = PQexec(c, "BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE "
		    "MODE");
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			_exit(1);
		PQclear(r);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		usleep(330 * 1000);
		PQclear(PQexec(c, "COMMIT"));
		released = util_mono_ms();
		if (write(p[1], &released, sizeof released) !=
		    (ssize_t)sizeof released)
			_exit(1);
		PQfinish(c);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], (char[1]){ 0 }, 1), 1);
	store_set_busy_timeout(f->st, 5000);
	t0 = util_mono_ms();
	o = store_run_json(f->st, "r_lock");
	got = util_mono_ms();
	assert_non_null(o);
	json_decref(o);
	assert_int_equal(read(p[0], &released, sizeof released),
	    (ssize_t)sizeof released);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	assert_true(got - t0 >= 200);	/* it did wait for the lock */
	assert_true(got - released < 40);
	/* And a timeout still ends the wait: short here. */
	pg_exec(f->pg, "BEGIN; LOCK TABLE runs IN ACCESS EXCLUSIVE MODE");
	store_set_busy_timeout(f->st, 50);
	t0 = util_mono_ms();
	assert_null(store_run_json(f->st, "r_lock"));
	got = util_mono_ms() - t0;
	assert_true(got >= 45 && got < 1000);
	pg_exec(f->pg, "ROLLBACK");
	/* The store goes on once the lock is gone. */
	store_set_busy_timeout(f->st, 5000);
	o = store_run_json(f->st, "r_lock");
	assert_non_null(o);
	json_decref(o);
}

/*
 * A write waiting for another process's lock gets it as soon as the lock
 * is released, not at the end of one of SQLite's default sleeps (which
 * grow to 100 ms: the supervisor was seen asleep 0.5 s at a time behind
 * the workers' commits, feeding no client meanwhile).
 */
/*
 * The supervisor's waits for the write lock are seen by the workers
 * (store_waits_fd): a worker's connection reports a wait within the last
 * ms, not an older one, never its own, and nothing without the word.
 */
static void
test_store_writer_waits(void **state)
{
	struct fx	*f = *state;
	struct store	*worker;
	char		*cause = NULL;
	int		 fd;

	if (f->pg != NULL) {
		/* PostgreSQL has row locks: nothing to share. */
		assert_int_equal(store_waits_attach(f->st, 0, 1), -1);
		return;
	}
	worker = store_open(f->db, &cause);
	assert_non_null(worker);
	assert_int_equal(store_writer_waits(worker), 0);
	assert_int_equal(store_waits_attach(worker, -1, 0), -1);
	assert_int_equal(store_waits_attach(worker, 0, 0), -1);	/* stdin */
	fd = store_waits_fd();
	assert_true(fd >= 0);
	assert_int_equal(store_waits_attach(f->st, fd, 1), 0);
	assert_int_equal(store_waits_attach(worker, fd, 0), 0);
	assert_int_equal(store_writer_waits(worker), 0);

	/* The worker holds the lock; the supervisor's write waits, fails. */
	assert_int_equal(store_begin(worker), 0);
	store_set_busy_timeout(f->st, 20);
	assert_int_not_equal(store_begin(f->st), 0);
	assert_int_equal(store_writer_waits(worker), 1);
	assert_int_equal(store_writer_waits(f->st), 0);	/* its own */
	usleep(3000);
	assert_int_equal(store_writer_waits(worker), 0);	/* stale */
	assert_int_equal(store_commit(worker), 0);
	/* Unheld, the supervisor's write does not wait, nor stamp. */
	assert_int_equal(store_begin(f->st), 0);
	assert_int_equal(store_writer_waits(worker), 0);
	store_rollback(f->st);
	store_close(worker);
	close(fd);
}

static void
test_store_lock_wait_is_short(void **state)
{
	struct fx	*f = *state;
	struct store	*other;
	char		*cause = NULL;
	int		 p[2];
	int64_t		 released = 0, got;
	pid_t		 pid;

	if (f->pg != NULL) {
		lock_wait_pg(f);
		return;
	}
	assert_int_equal(pipe(p), 0);
	if ((pid = fork()) == 0) {
		other = store_open(f->db, &cause);
		if (other == NULL || store_begin(other) != 0)
			_exit(1);
		if (write(p[1], "x", 1) != 1)
			_exit(1);
		/* Past SQLite's short sleeps: its next would be 100 ms. */
		usleep(330 * 1000);
		store_commit(other);
		released = util_mono_ms();
		if (write(p[1], &released, sizeof released) !=
		    (ssize_t)sizeof released)
			_exit(1);
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(read(p[0], (char[1]){ 0 }, 1), 1);
	store_set_busy_timeout(f->st, 5000);
	assert_int_equal(store_begin(f->st), 0);
	got = util_mono_ms();
	store_rollback(f->st);
	assert_int_equal(read(p[0], &released, sizeof released),
	    (ssize_t)sizeof released);
	waitpid(pid, NULL, 0);
	close(p[0]);
	close(p[1]);
	/* Ours retries every 200 us; SQLite's own would be ~100 ms late. */
	assert_true(got - released < 40);
	/* And a timeout still ends the wait: short here. */
	other = store_open(f->db, &cause);
	assert_non_null(other);
	assert_int_equal(store_begin(other), 0);
	store_set_busy_timeout(f->st, 50);
	released = util_mono_ms();
	assert_int_not_equal(store_begin(f->st), 0);
	got = util_mono_ms() - released;
	assert_true(got >= 45 && got < 1000);
	store_rollback(other);
	store_close(other);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_store_migrations, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_migrate_results,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_refuses_foreign_files,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_idempotent_insert,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(
		    test_store_events_dedupe_and_cursor, setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_events_many, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_fencing, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_abandon_and_resume,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_batch_rate, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_cancel_and_prune,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_keys_not_reused,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_wait_state, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_run_json, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_pagination, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_read_bytes, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_store_lock_wait_is_short,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_writer_waits,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_prune_slices,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_store_checkpoints,
		    setup, teardown),
	};

	log_init("test", 0);
	pg_conninfo = getenv("AGENTD_TEST_PG");
	if (pg_conninfo != NULL && *pg_conninfo == '\0')
		pg_conninfo = NULL;
	return cmocka_run_group_tests_name(pg_conninfo != NULL ? "store-pg" :
	    "store", tests, NULL, NULL);
}
