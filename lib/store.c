/*
 * SQLite run store. One connection per process (supervisor and each worker
 * open their own). WAL mode, a busy timeout, explicit BEGIN IMMEDIATE for
 * writes. Schema migrations (store-migrate.c) are applied in order;
 * a database written by a newer agentd is refused. This file: opening,
 * migrations, transactions and the workers' writes; store-sched.c has the
 * supervisor's, store-read.c the API's reads.
 */
#include <sys/mman.h>
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "jsonbuf.h"
#include "log.h"
#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/* Events one execution of ins_rows inserts (store_events_append). */
#define INS_ROWS	32

struct store {
	sqlite3		*db;
	char		*endpoint;
	int		 max_inflight;
	sqlite3_stmt	*ins_event;
	sqlite3_stmt	*ins_rows;	/* INS_ROWS events of one run */
	sqlite3_stmt	*upd_cursor;
	sqlite3_stmt	*sel_gen;
	sqlite3_stmt	*begin;
	sqlite3_stmt	*commit;
	sqlite3_stmt	*sel_key;	/* store_run_insert_txn's, kept */
	sqlite3_stmt	*ins_run;
	int		 in_txn;
	struct pgstore	*pg;		/* the PostgreSQL engine, or NULL */
	int		 busy_ms;	/* how long a write waits for a lock */
	int64_t		 busy_since;	/* mono ms: this wait's start */
	_Atomic int64_t	*waits;		/* shared: see store_waits_attach */
	int		 announce;	/* 1: this connection's waits stamp it */
	int		 ckpt_pages;	/* store_set_autocheckpoint */
	int		 wal_frames;	/* in the WAL at our last commit */
};

/*
 * SQLite's own busy handler sleeps 1, 2, 5 ... 50, 100 ms between tries,
 * so a lock released 1 ms into a 100 ms sleep costs 99 ms; the supervisor
 * (whose loop feeds every follower) was measured asleep 0.5 s at a time
 * behind the workers' commits. Retry every 200 us until busy_ms instead.
 */
static int
store_busy(void *arg, int tries)
{
	struct store	*st = arg;
	int64_t		 now = util_mono_ms();
	struct timespec	 ts = { 0, 200 * 1000 };

	if (tries == 0)
		st->busy_since = now;
	if (now - st->busy_since >= st->busy_ms)
		return 0;
	if (st->announce && st->waits != NULL)
		atomic_store(st->waits, util_mono_us());
	nanosleep(&ts, NULL);
	return 1;
}

/*
 * The supervisor's writes (a submit, an assignment) are what the API and
 * every follower wait on; the workers' flushes are throughput, buffered
 * end to end. SQLite has one write lock and no queue for it, so under
 * ingestion the supervisor could retry for tens of ms while the workers
 * took the lock one flush after another. So the processes share one
 * word, the monotonic time (us) at which the supervisor last found the
 * lock taken (fd: a memfd the supervisor made, store_waits_fd), and a
 * worker that sees a fresh stamp ends its flush transaction at the next
 * run and starts the next one only once the stamp is old.
 */
int
store_waits_fd(void)
{
	int	fd;

	if ((fd = memfd_create("agentd-writer-waits", MFD_CLOEXEC)) == -1)
		return -1;
	if (ftruncate(fd, sizeof(int64_t)) == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Share fd's word with st; announce: st's waits stamp it. */
int
store_waits_attach(struct store *st, int fd, int announce)
{
	struct stat	 sb;
	void		*p;

	/* Only a memfd (which has seals) of the word's size will do. */
	if (st == NULL || store_pg(st) != NULL || fd < 0 ||
	    fcntl(fd, F_GET_SEALS) == -1 || fstat(fd, &sb) == -1 ||
	    sb.st_size < (off_t)sizeof(int64_t))
		return -1;
	p = mmap(NULL, sizeof(int64_t), PROT_READ | PROT_WRITE, MAP_SHARED,
	    fd, 0);
	if (p == MAP_FAILED)
		return -1;
	st->waits = p;
	st->announce = announce;
	return 0;
}

/*
 * SQLite checkpoints the WAL in whichever connection's commit takes it
 * past wal_autocheckpoint pages (1,000), copying them into the database
 * and syncing it, tens of ms. In the supervisor that was the loop's time:
 * a GET during a prune (the supervisor's commits) waited 17 ms at the
 * median. So the supervisor checkpoints only past pages (its safety net,
 * should no worker run) and the workers, whose time is only throughput,
 * checkpoint every second (store_checkpoint) besides at their commits.
 */
static int
store_wal_hook(void *arg, sqlite3 *db, const char *name, int frames)
{
	struct store	*st = arg;
	int		 log = 0, done = 0;

	st->wal_frames = frames;
	if (st->ckpt_pages > 0 && frames >= st->ckpt_pages)
		(void)sqlite3_wal_checkpoint_v2(db, name,
		    SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	return SQLITE_OK;
}

void
store_set_autocheckpoint(struct store *st, int pages)
{
	if (st == NULL || store_pg(st) != NULL)
		return;
	st->ckpt_pages = pages;
	sqlite3_wal_hook(st->db, store_wal_hook, st);
}

/* Pages in the WAL at this connection's last commit (0: unknown). */
int
store_wal_frames(struct store *st)
{
	return st != NULL && store_pg(st) == NULL ? st->wal_frames : 0;
}

/*
 * A passive checkpoint, if the WAL holds anything: never waits. Returns
 * the pages the WAL held (0 when unknown, or not SQLite).
 */
int
store_checkpoint(struct store *st)
{
	int	 log = 0, done = 0;

	if (st == NULL || store_pg(st) != NULL || st->in_txn)
		return 0;
	if (sqlite3_wal_checkpoint_v2(st->db, NULL, SQLITE_CHECKPOINT_PASSIVE,
	    &log, &done) != SQLITE_OK)
		return 0;
	return log > 0 ? log : 0;
}

/* 1 if another process waited for the write lock within the last ms. */
int
store_writer_waits(struct store *st)
{
	int64_t	 t;

	if (st == NULL || st->waits == NULL || st->announce)
		return 0;
	t = atomic_load(st->waits);
	return t != 0 && util_mono_us() - t < 1000;
}

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

/*
 * One INSERT of INS_ROWS events of a run: ?1 run_n, ?2 at, then seq, type
 * and data of each. Its table cursor stays open from row to row, so
 * SQLite seeks to the run's end once, not once per event (bench-limit:
 * a quarter more events per second than one statement per event).
 */
static int
prepare_ins_rows(sqlite3 *db, sqlite3_stmt **s)
{
	char	sql[96 + INS_ROWS * 32];
	size_t	o;
	int	i;

	o = (size_t)snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO events "
	    "(run_n, seq, type, data, at) VALUES ");
	for (i = 0; i < INS_ROWS && o < sizeof sql; i++)
		o += (size_t)snprintf(sql + o, sizeof sql - o,
		    "%s(?1,?%d,?%d,?%d,?2)", i > 0 ? "," : "", 3 * i + 3,
		    3 * i + 4, 3 * i + 5);
	return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, s,
	    NULL);
}

/* Open the store at path; NULL with an allocated *cause on failure. */
struct store *
store_open(const char *path, char **cause)
{
	struct store	*st;
	sqlite3		*db = NULL;
	char		*err = NULL;
	int		 rc;
	struct pgstore	*pg;

	if (store_is_pg(path)) {
		if ((pg = pgs_open(path, cause)) == NULL)
			return NULL;
		st = xcalloc(1, sizeof *st);
		st->pg = pg;
		return st;
	}
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
	if (store_exec_sql(db, "SELECT count(*) FROM sqlite_master", &err) != 0) {
		xasprintf(cause, "%s: not a usable SQLite database: %s", path,
		    err);
		free(err);
		sqlite3_close(db);
		return NULL;
	}
	if (store_exec_sql(db, "PRAGMA journal_mode=WAL", &err) != 0 ||
	    store_exec_sql(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
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
	st->busy_ms = 10000;
	sqlite3_busy_handler(db, store_busy, st);
	if (sqlite3_prepare_v3(db, "INSERT OR IGNORE INTO events "
	    "(run_n, seq, type, data, at) VALUES (?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ins_event, NULL) != SQLITE_OK ||
	    prepare_ins_rows(db, &st->ins_rows) != SQLITE_OK ||
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
	if (store_pg(st) != NULL) {
		pgs_set_busy_timeout(store_pg(st), ms);
		return;
	}
	st->busy_ms = ms;
}

/* The PostgreSQL engine of st, or NULL: SQLite. */
struct pgstore *
store_pg(struct store *st)
{
	return st != NULL ? st->pg : NULL;
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
	if (st->pg != NULL) {
		pgs_close(st->pg);
		free(st);
		return;
	}
	sqlite3_finalize(st->ins_event);
	sqlite3_finalize(st->ins_rows);
	sqlite3_finalize(st->upd_cursor);
	sqlite3_finalize(st->sel_gen);
	sqlite3_finalize(st->begin);
	sqlite3_finalize(st->commit);
	sqlite3_finalize(st->sel_key);
	sqlite3_finalize(st->ins_run);
	sqlite3_close(st->db);
	if (st->waits != NULL)
		munmap((void *)st->waits, sizeof(int64_t));
	free(st->endpoint);
	free(st);
}

/* Log the database's last error for what. */
void
store_err(struct store *st, const char *what)
{
	log_warnx("store: %s: %s", what, sqlite3_errmsg(st->db));
}

/* Step a prepared statement that returns no rows; 0 or -1. */
int
store_step_done(sqlite3_stmt *s)
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
	if (store_pg(st) != NULL)
		return pgs_begin(store_pg(st));
	if (store_step_done(st->begin) != 0) {
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
	if (store_pg(st) != NULL)
		return pgs_commit(store_pg(st));
	if (store_step_done(st->commit) != 0) {
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
	if (store_pg(st) != NULL) {
		pgs_rollback(store_pg(st));
		return;
	}
	if (sqlite3_get_autocommit(st->db) == 0)
		store_exec_sql(st->db, "ROLLBACK", NULL);
	st->in_txn = 0;
}

/* A copy of text column i, or NULL. */
char *
store_col_dup(sqlite3_stmt *s, int i)
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

	if (store_pg(st) != NULL)
		return pgs_row_load(store_pg(st), n, gen, r);

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
	r->endpoint = store_col_dup(s, 1);
	r->dialect = store_col_dup(s, 2);
	r->request = store_col_dup(s, 3);
	r->mode = store_col_dup(s, 4);
	r->resolved_mode = store_col_dup(s, 5);
	r->status = store_col_dup(s, 6);
	r->backend_id = store_col_dup(s, 7);
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
	/* Kept prepared: parsing them was most of a batch line's cost. */
	if (rn->idempotency_key != NULL) {
		if (st->sel_key == NULL && sqlite3_prepare_v3(st->db, "SELECT "
		    "id FROM runs WHERE idempotency_key = ?", -1,
		    SQLITE_PREPARE_PERSISTENT, &st->sel_key, NULL) != SQLITE_OK)
			return -1;
		s = st->sel_key;
		sqlite3_bind_text(s, 1, rn->idempotency_key, -1,
		    SQLITE_STATIC);
		rc = sqlite3_step(s);
		if (rc == SQLITE_ROW)
			snprintf(id, idlen, "%s", sqlite3_column_text(s, 0));
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (rc == SQLITE_ROW)
			return 0;
		if (rc != SQLITE_DONE)
			return -1;
	}
	util_run_id(id, idlen);
	/* Invariant 3: a key is never reused (schema 004, run_seq). */
	if (st->ins_run == NULL && sqlite3_prepare_v3(st->db, "INSERT INTO "
	    "runs (n, id, idempotency_key, queue, priority, endpoint, dialect, "
	    "request, mode, status, created_at, updated_at, batch, custom_id, "
	    "max_attempts) VALUES ((SELECT n + 1 FROM run_seq), ?, ?, ?, ?, "
	    "?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &st->ins_run, NULL) != SQLITE_OK)
		return -1;
	s = st->ins_run;
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
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
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
	if (store_pg(st) != NULL)
		return pgs_run_insert(store_pg(st), rn, id, idlen, created,
		    cause);
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
	int		 added = 0, rc, j;

	if (store_pg(st) != NULL)
		return pgs_events_append(store_pg(st), n, gen, ev, nev,
		    last_seq, now);

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
	for (i = 0, s = st->ins_rows; i + INS_ROWS <= nev; i += INS_ROWS) {
		sqlite3_bind_int64(s, 1, n);
		sqlite3_bind_int64(s, 2, now);
		for (j = 0; j < INS_ROWS; j++) {
			sqlite3_bind_int64(s, 3 * j + 3, ev[i + j].seq);
			sqlite3_bind_text(s, 3 * j + 4, ev[i + j].type, -1,
			    SQLITE_STATIC);
			sqlite3_bind_text(s, 3 * j + 5, ev[i + j].data,
			    (int)ev[i + j].data_len, SQLITE_STATIC);
		}
		if (sqlite3_step(s) != SQLITE_DONE) {
			store_err(st, "insert events");
			sqlite3_reset(s);
			return -1;
		}
		added += sqlite3_changes(st->db);
		sqlite3_reset(s);
	}
	for (s = st->ins_event; i < nev; i++) {
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

/*
 * agentd let run n go after holding it back itself: restart its staleness
 * clock (invariant 4). Fenced by gen. 1, 0 fenced, -1 error.
 */
int
store_run_released(struct store *st, int64_t n, int64_t gen,
    const char *reason, int64_t until)
{
	sqlite3_stmt	*s = NULL;
	int		 rc;

	if (store_pg(st) != NULL)
		return pgs_run_released(store_pg(st), n, gen, reason, until);

	if (sqlite3_prepare_v2(st->db, "UPDATE runs SET released_at = ?, "
	    "wait_reason = ?, wait_until = ? WHERE n = ? AND lease_gen = ?",
	    -1, &s, NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_int64(s, 1, util_now_ms());
	if (reason != NULL) {
		sqlite3_bind_text(s, 2, reason, -1, SQLITE_STATIC);
		if (until > 0)
			sqlite3_bind_int64(s, 3, until);
	}
	sqlite3_bind_int64(s, 4, n);
	sqlite3_bind_int64(s, 5, gen);
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

	if (store_pg(st) != NULL)
		return pgs_delta_text(store_pg(st), n);

	if (sqlite3_prepare_v2(st->db, "SELECT group_concat(d, '') FROM "
	    "(SELECT json_extract(data, '$.delta') AS d FROM events WHERE "
	    "run_n = ? AND type = 'response.output_text.delta' ORDER BY seq)",
	    -1, &s, NULL) == SQLITE_OK) {
		sqlite3_bind_int64(s, 1, n);
		if (sqlite3_step(s) == SQLITE_ROW)
			text = store_col_dup(s, 0);
	}
	sqlite3_finalize(s);
	return text != NULL ? text : xstrdup("");
}

/* The endpoint recorded on runs enqueued without one (offline batches). */
void
store_set_endpoint(struct store *st, const char *endpoint)
{
	if (store_pg(st) != NULL) {
		pgs_set_endpoint(store_pg(st), endpoint);
		return;
	}
	free(st->endpoint);
	st->endpoint = endpoint != NULL ? xstrdup(endpoint) : NULL;
}

/* The endpoint set by store_set_endpoint, or NULL. */
const char *
store_endpoint(struct store *st)
{
	return st->endpoint;
}

/* Record agentd's --max-inflight for the reads (0: none). */
void
store_set_max_inflight(struct store *st, int max)
{
	if (store_pg(st) != NULL) {
		pgs_set_max_inflight(store_pg(st), max);
		return;
	}
	st->max_inflight = max > 0 ? max : 0;
}

/* agentd's --max-inflight as set by store_set_max_inflight (0: none). */
int
store_max_inflight(struct store *st)
{
	return st->max_inflight;
}
