/*
 * The PostgreSQL engine of the run store (see store-pg.h): the connection,
 * the schema migrations under an advisory lock, transactions and the
 * helpers the other store-pg*.c files build on. A conninfo may carry a
 * password (agentd refuses one on argv; a file or $AGENTD_DB may): it is
 * never logged, and neither is anything libpq says that could hold it.
 */
#include <ctype.h>
#include <errno.h>
#include <poll.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "schema.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/* Every host migrating an empty database takes this lock first. */
#define PG_MIGRATE_LOCK	"SELECT pg_advisory_lock(7364297125)"
#define PG_MIGRATE_UNLOCK "SELECT pg_advisory_unlock(7364297125)"
#define PG_DEFAULT_TIMEOUT_MS	10000

/* Does path name a PostgreSQL database (a URI or key=value conninfo)? */
int
store_is_pg(const char *path)
{
	const char	*p = path;

	if (path == NULL)
		return 0;
	if (strncmp(path, "postgresql://", 13) == 0 ||
	    strncmp(path, "postgres://", 11) == 0)
		return 1;
	/* "host=... dbname=...": a keyword, then '='. */
	while (isspace((unsigned char)*p))
		p++;
	if (!islower((unsigned char)*p))
		return 0;
	while (islower((unsigned char)*p) || *p == '_')
		p++;
	while (isspace((unsigned char)*p))
		p++;
	return *p == '=';
}

/* Does a conninfo or URI hold a password? Unparsable: say yes. */
int
store_pg_has_password(const char *conninfo)
{
	PQconninfoOption	*o, *opts;
	char			*err = NULL;
	int			 has = 0;

	if ((opts = PQconninfoParse(conninfo, &err)) == NULL) {
		PQfreemem(err);
		return 1;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    *o->val != '\0')
			has = 1;
	PQconninfoFree(opts);
	return has;
}

/* A store's name for the log: never a password. */
char *
store_describe(const char *path)
{
	PQconninfoOption	*o, *opts;
	char			*err = NULL, *out = NULL, *t;
	static const char *const shown[] = { "host", "hostaddr", "port",
	    "dbname", "user", NULL };
	int			 i;

	if (!store_is_pg(path))
		return xstrdup(path);
	if ((opts = PQconninfoParse(path, &err)) == NULL) {
		PQfreemem(err);
		return xstrdup("PostgreSQL (an unparsable conninfo)");
	}
	out = xstrdup("PostgreSQL");
	for (i = 0; shown[i] != NULL; i++)
		for (o = opts; o->keyword != NULL; o++)
			if (strcmp(o->keyword, shown[i]) == 0 &&
			    o->val != NULL && *o->val != '\0') {
				xasprintf(&t, "%s %s=%s", out, o->keyword,
				    o->val);
				free(out);
				out = t;
			}
	PQconninfoFree(opts);
	return out;
}

/* The first line of libpq's message, for the log (no conninfo in it). */
static void
pg_msg(char *buf, size_t len, const char *msg)
{
	size_t	n;

	snprintf(buf, len, "%s", msg != NULL && *msg != '\0' ? msg :
	    "unknown error");
	n = strcspn(buf, "\n");
	buf[n] = '\0';
}

/* Wait until the connection can read (or write); 0, or -1 past deadline. */
static int
pg_wait(struct pgstore *ps, short events, int64_t deadline)
{
	struct pollfd	pfd;
	int64_t		left = deadline - util_mono_ms();

	if (left <= 0)
		return -1;
	pfd.fd = PQsocket(ps->conn);
	pfd.events = events;
	pfd.revents = 0;
	if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
		return -1;
	return 0;
}

/*
 * Connect again, without waiting longer than the connection's timeout
 * (PQreset would wait libpq's connect_timeout): 0, or -1.
 */
static int
pg_reconnect(struct pgstore *ps)
{
	PostgresPollingStatusType	st = PGRES_POLLING_WRITING;
	int64_t				deadline = util_mono_ms() +
					    (ps->timeout_ms > 0 ? ps->timeout_ms :
					    PG_DEFAULT_TIMEOUT_MS);

	if (!PQresetStart(ps->conn))
		return -1;
	for (;;) {
		if (st == PGRES_POLLING_OK)
			return 0;
		if (st == PGRES_POLLING_FAILED)
			return -1;
		if (pg_wait(ps, st == PGRES_POLLING_READING ? POLLIN : POLLOUT,
		    deadline) != 0)
			return -1;
		st = PQresetPoll(ps->conn);
	}
}

/*
 * Make sure the connection is up, outside a transaction; 0 or -1. A
 * failed reconnect is not tried again for a second, so that a loop making
 * several calls does not wait on the server once per call.
 */
static int
pg_ready(struct pgstore *ps)
{
	char	msg[256];

	if (PQstatus(ps->conn) == CONNECTION_OK && !ps->broken)
		return 0;
	if (ps->in_txn)
		return -1;	/* the transaction is lost: the caller rolls back */
	if (util_mono_ms() < ps->retry_mono)
		return -1;
	if (pg_reconnect(ps) != 0 || PQstatus(ps->conn) != CONNECTION_OK) {
		pg_msg(msg, sizeof msg, PQstatus(ps->conn) == CONNECTION_BAD ?
		    PQerrorMessage(ps->conn) : "timeout expired");
		log_warnx("store: PostgreSQL unreachable: %s", msg);
		ps->retry_mono = util_mono_ms() + 1000;
		return -1;
	}
	ps->broken = 0;
	PQsetnonblocking(ps->conn, 1);
	log_warnx("store: reconnected to PostgreSQL");
	if (ps->timeout_ms > 0)
		pgs_set_busy_timeout(ps, ps->timeout_ms);
	return 0;
}

/*
 * One statement with a deadline of our own: the server's statement_timeout
 * answers a slow statement, but a server that does not answer at all (it
 * is stopped, or the network to it is gone) would hold the caller's event
 * loop for as long as TCP takes to give up. Just past the timeout the
 * connection is dropped (and remade on the next call). NULL then, or
 * on a connection that failed; else the statement's result.
 */
static PGresult *
pg_run(struct pgstore *ps, const char *sql, int n, const char *const *params)
{
	PGresult	*r, *last = NULL;
	int64_t		 deadline = util_mono_ms() + (ps->timeout_ms > 0 ?
			    ps->timeout_ms : PG_DEFAULT_TIMEOUT_MS) + 200;
	int		 f;

	if (!PQsendQueryParams(ps->conn, sql, n, NULL, params, NULL, NULL, 0))
		return NULL;
	while ((f = PQflush(ps->conn)) == 1) {
		if (pg_wait(ps, POLLIN | POLLOUT, deadline) != 0)
			goto late;
		if (!PQconsumeInput(ps->conn))
			return NULL;
	}
	if (f == -1)
		return NULL;
	for (;;) {
		while (PQisBusy(ps->conn)) {
			if (pg_wait(ps, POLLIN, deadline) != 0)
				goto late;
			if (!PQconsumeInput(ps->conn)) {
				PQclear(last);
				return NULL;
			}
		}
		if ((r = PQgetResult(ps->conn)) == NULL)
			break;
		PQclear(last);
		last = r;
	}
	return last;
late:
	PQclear(last);
	log_warnx("store: no answer from PostgreSQL in %lld ms; dropping the "
	    "connection", (long long)(ps->timeout_ms + 200));
	ps->broken = 1;
	return NULL;
}

PGresult *
pgs_exec(struct pgstore *ps, const char *what, const char *sql, int n,
    const char *const *params)
{
	PGresult	*r;
	const char	*state;
	char		 msg[512];
	ExecStatusType	 rs;

	ps->sqlstate[0] = '\0';
	if (pg_ready(ps) != 0) {
		snprintf(ps->sqlstate, sizeof ps->sqlstate, "08006");
		return NULL;
	}
	r = pg_run(ps, sql, n, params);
	rs = PQresultStatus(r);
	/*
	 * The server restarted or dropped us since the last statement: the
	 * connection looked fine until now. A read (or a BEGIN) outside a
	 * transaction is safe to send again once the connection is remade;
	 * a write is not (it may have been done), so its caller retries.
	 */
	if (rs != PGRES_COMMAND_OK && rs != PGRES_TUPLES_OK &&
	    PQstatus(ps->conn) == CONNECTION_BAD && !ps->broken &&
	    !ps->in_txn && (strncmp(sql, "SELECT", 6) == 0 ||
	    strcmp(sql, "BEGIN") == 0) && pg_ready(ps) == 0) {
		PQclear(r);
		r = pg_run(ps, sql, n, params);
		rs = PQresultStatus(r);
	}
	if (rs == PGRES_COMMAND_OK || rs == PGRES_TUPLES_OK)
		return r;
	state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
	snprintf(ps->sqlstate, sizeof ps->sqlstate, "%s", state != NULL ? state :
	    "08006");
	pg_msg(msg, sizeof msg, r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(ps->conn));
	log_warnx("store: %s: %s (SQLSTATE %s)", what, msg, ps->sqlstate);
	PQclear(r);
	return NULL;
}

int64_t
pgs_cmd(struct pgstore *ps, const char *what, const char *sql, int n,
    const char *const *params)
{
	PGresult	*r = pgs_exec(ps, what, sql, n, params);
	const char	*t;
	int64_t		 rows;

	if (r == NULL)
		return -1;
	t = PQcmdTuples(r);
	rows = t != NULL && *t != '\0' ? strtoll(t, NULL, 10) : 0;
	PQclear(r);
	return rows;
}

/* Measure the database's clock against this host's. */
static void
pg_clock(struct pgstore *ps)
{
	PGresult	*r;
	int64_t		 t0 = util_now_ms(), t1, db;

	ps->clock_mono = util_mono_ms();
	if (ps->in_txn)
		return;		/* a failure would abort the caller's work */
	r = pgs_exec(ps, "clock", "SELECT (extract(epoch FROM "
	    "clock_timestamp()) * 1000)::bigint", 0, NULL);
	if (r == NULL)
		return;
	t1 = util_now_ms();
	db = pgs_int(r, 0, 0, 0);
	PQclear(r);
	ps->clock_offset = db - (t0 + (t1 - t0) / 2);
}

int64_t
pgs_now(struct pgstore *ps)
{
	if (ps->clock_mono == 0 || util_mono_ms() - ps->clock_mono > 30000)
		pg_clock(ps);
	return util_now_ms() + ps->clock_offset;
}

int64_t
pgs_rebase(struct pgstore *ps, int64_t host_ms)
{
	if (host_ms <= 0)
		return host_ms;
	(void)pgs_now(ps);
	return host_ms + ps->clock_offset;
}

void
pgs_arr_add(struct pgs_arr *a, const char *s, size_t len)
{
	if (a->len + len + 1 > a->cap) {
		while (a->len + len + 1 > a->cap)
			a->cap = a->cap == 0 ? 256 : a->cap * 2;
		a->p = xrealloc(a->p, a->cap);
	}
	memcpy(a->p + a->len, s, len);
	a->len += len;
	a->p[a->len] = '\0';
}

void
pgs_arr_open(struct pgs_arr *a)
{
	a->len = 0;
	pgs_arr_add(a, "{", 1);
}

static void
arr_sep(struct pgs_arr *a)
{
	if (a->len > 1)
		pgs_arr_add(a, ",", 1);
}

void
pgs_arr_text(struct pgs_arr *a, const char *s, size_t len)
{
	size_t	i, run;

	arr_sep(a);
	if (s == NULL) {
		pgs_arr_add(a, "NULL", 4);
		return;
	}
	pgs_arr_add(a, "\"", 1);
	for (i = 0; i < len; i += run) {
		for (run = 0; i + run < len && s[i + run] != '\\' &&
		    s[i + run] != '"'; run++)
			;
		if (run > 0) {
			pgs_arr_add(a, s + i, run);
			continue;
		}
		pgs_arr_add(a, "\\", 1);
		pgs_arr_add(a, s + i, 1);
		run = 1;
	}
	pgs_arr_add(a, "\"", 1);
}

void
pgs_arr_int(struct pgs_arr *a, int64_t v)
{
	char	buf[24];

	arr_sep(a);
	pgs_arr_add(a, buf, strlen(pgs_i64(buf, v)));
}

const char *
pgs_arr_close(struct pgs_arr *a)
{
	pgs_arr_add(a, "}", 1);
	return a->p;
}

void
pgs_cause(struct pgstore *ps, const char *what, char **cause)
{
	const char	*state = pgs_sqlstate(ps);

	if (strcmp(state, "57014") == 0 || strcmp(state, "55P03") == 0 ||
	    strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)
		xasprintf(cause, "store busy (SQLSTATE %s)", state);
	else if (strncmp(state, "08", 2) == 0)
		xasprintf(cause, "store unavailable (SQLSTATE %s)", state);
	else
		xasprintf(cause, "store: %s failed (SQLSTATE %s)", what,
		    *state != '\0' ? state : "unknown");
}

const char *
pgs_sqlstate(struct pgstore *ps)
{
	return ps->sqlstate;
}

const char *
pgs_i64(char *buf, int64_t v)
{
	snprintf(buf, 24, "%" PRId64, v);
	return buf;
}

int64_t
pgs_int(const PGresult *r, int row, int col, int64_t def)
{
	if (PQgetisnull(r, row, col))
		return def;
	return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

char *
pgs_dup(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return xstrdup(PQgetvalue(r, row, col));
}

json_t *
pgs_json(const PGresult *r, int row, int col)
{
	if (PQgetisnull(r, row, col))
		return NULL;
	return json_loads(PQgetvalue(r, row, col), 0, NULL);
}

/* Run a script of several statements (a migration): 0 or -1, *cause. */
static int
pg_script(struct pgstore *ps, const char *sql, char **cause)
{
	PGresult	*r = PQexec(ps->conn, sql);
	char		 msg[512];

	if (PQresultStatus(r) == PGRES_COMMAND_OK ||
	    PQresultStatus(r) == PGRES_TUPLES_OK) {
		PQclear(r);
		return 0;
	}
	pg_msg(msg, sizeof msg, r != NULL ? PQresultErrorMessage(r) :
	    PQerrorMessage(ps->conn));
	xasprintf(cause, "%s", msg);
	PQclear(r);
	return -1;
}

/* The highest schema version this build knows for PostgreSQL. */
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
 * The schema version of the database (0: empty) into *have; -1 with
 * *cause if it cannot be read, or the database holds tables that are not
 * agentd's, or its schema is newer than this build knows.
 */
static int
pg_schema_read(struct pgstore *ps, int *have, char **cause)
{
	PGresult	*r;
	int		 want = pg_schema_want();

	*have = 0;
	r = pgs_exec(ps, "schema version", "SELECT CASE WHEN "
	    "to_regclass('agentd_schema') IS NULL THEN -1 ELSE 0 END, "
	    "(SELECT count(*) FROM pg_tables WHERE schemaname = "
	    "current_schema())", 0, NULL);
	if (r == NULL) {
		xasprintf(cause, "PostgreSQL: cannot read the schema version");
		return -1;
	}
	if (pgs_int(r, 0, 0, -1) == -1 && pgs_int(r, 0, 1, 0) != 0) {
		xasprintf(cause, "PostgreSQL: not an agentd database (its "
		    "schema has tables but no agentd schema version); give "
		    "agentd a database of its own");
		PQclear(r);
		return -1;
	}
	if (pgs_int(r, 0, 0, -1) == 0) {
		PQclear(r);
		if ((r = pgs_exec(ps, "schema version", "SELECT "
		    "coalesce(max(version), 0) FROM agentd_schema", 0,
		    NULL)) == NULL) {
			xasprintf(cause, "PostgreSQL: cannot read the schema "
			    "version");
			return -1;
		}
		*have = (int)pgs_int(r, 0, 0, 0);
	}
	PQclear(r);
	if (*have > want) {
		xasprintf(cause, "PostgreSQL: database schema version %d is "
		    "newer than this agentd supports (%d); upgrade agentd",
		    *have, want);
		return -1;
	}
	return 0;
}

/*
 * Bring the schema up to date under an advisory lock, so that hosts
 * starting together on an empty database migrate it once. A schema that
 * is current is read without the lock: a process frozen while it held it
 * (SIGSTOP) must not keep every other one from opening the store.
 */
static int
pg_migrate(struct pgstore *ps, char **cause)
{
	char		*err = NULL, sql[128];
	int		 i, have = 0, want = pg_schema_want(), ret = -1;

	if (pg_schema_read(ps, &have, cause) != 0)
		return -1;
	if (have == want)
		return 0;
	if (pg_script(ps, PG_MIGRATE_LOCK, &err) != 0) {
		xasprintf(cause, "PostgreSQL: cannot take the migration lock: "
		    "%s", err);
		free(err);
		return -1;
	}
	/* Another host may have migrated while we waited for the lock. */
	if (pg_schema_read(ps, &have, cause) != 0)
		goto out;
	for (i = 0; schema_pg_migrations[i].sql != NULL; i++) {
		if (schema_pg_migrations[i].version <= have)
			continue;
		snprintf(sql, sizeof sql, "DELETE FROM agentd_schema; INSERT "
		    "INTO agentd_schema VALUES (%d)",
		    schema_pg_migrations[i].version);
		if (pg_script(ps, "BEGIN", &err) != 0 ||
		    pg_script(ps, schema_pg_migrations[i].sql, &err) != 0 ||
		    pg_script(ps, sql, &err) != 0 ||
		    pg_script(ps, "COMMIT", &err) != 0) {
			xasprintf(cause, "PostgreSQL: migration %s: %s",
			    schema_pg_migrations[i].name, err);
			free(err);
			pg_script(ps, "ROLLBACK", &err);
			free(err);
			goto out;
		}
		log_info("store: applied migration pg/%s",
		    schema_pg_migrations[i].name);
	}
	ret = 0;
out:
	if (pg_script(ps, PG_MIGRATE_UNLOCK, &err) != 0)
		free(err);
	return ret;
}

struct pgstore *
pgs_open(const char *conninfo, char **cause)
{
	const char *const keys[] = { "dbname", "fallback_application_name",
	    "connect_timeout", NULL };
	const char *const vals[] = { conninfo, "agentd", "3", NULL };
	struct pgstore	*ps;
	char		 msg[512];

	ps = xcalloc(1, sizeof *ps);
	ps->conn = PQconnectdbParams(keys, vals, 1);
	if (ps->conn == NULL || PQstatus(ps->conn) != CONNECTION_OK) {
		pg_msg(msg, sizeof msg, ps->conn != NULL ?
		    PQerrorMessage(ps->conn) : "out of memory");
		xasprintf(cause, "PostgreSQL: cannot connect: %s", msg);
		PQfinish(ps->conn);
		free(ps);
		return NULL;
	}
	ps->conninfo = xstrdup(conninfo);
	PQsetnonblocking(ps->conn, 1);
	pgs_set_busy_timeout(ps, PG_DEFAULT_TIMEOUT_MS);
	if (pg_migrate(ps, cause) != 0) {
		pgs_close(ps);
		return NULL;
	}
	return ps;
}

/*
 * How long a statement may wait (a lock, a slow query): SQLite's busy
 * timeout becomes PostgreSQL's statement_timeout and lock_timeout, so the
 * supervisor's loop never waits on the database longer than that.
 */
void
pgs_set_busy_timeout(struct pgstore *ps, int ms)
{
	char	sql[192];
	char	*err = NULL;

	ps->timeout_ms = ms;
	/*
	 * idle_in_transaction_session_timeout too: a process frozen inside a
	 * transaction (SIGSTOP) would hold its rows, the hosts' rows among
	 * them, and block every other host; the server ends it instead.
	 */
	snprintf(sql, sizeof sql, "SET statement_timeout = %d; "
	    "SET lock_timeout = %d; SET idle_in_transaction_session_timeout = "
	    "%d", ms, ms, ms);
	if (PQstatus(ps->conn) == CONNECTION_OK && pg_script(ps, sql, &err)
	    != 0) {
		log_warnx("store: %s", err);
		free(err);
	}
}

void
pgs_close(struct pgstore *ps)
{
	if (ps == NULL)
		return;
	PQfinish(ps->conn);
	if (ps->conninfo != NULL) {
		explicit_bzero(ps->conninfo, strlen(ps->conninfo));
		free(ps->conninfo);
	}
	free(ps->endpoint);
	free(ps->host_id);
	free(ps->notify);
	free(ps);
}

int
pgs_begin(struct pgstore *ps)
{
	if (pgs_cmd(ps, "begin", "BEGIN", 0, NULL) < 0)
		return -1;
	ps->in_txn = 1;
	return 0;
}

int
pgs_commit(struct pgstore *ps)
{
	int64_t	rc = pgs_cmd(ps, "commit", "COMMIT", 0, NULL);

	if (rc < 0) {
		pgs_rollback(ps);
		return -1;
	}
	ps->in_txn = 0;
	return 0;
}

void
pgs_rollback(struct pgstore *ps)
{
	PGresult	*r;

	/* A dropped connection has no transaction left to end. */
	if (!ps->broken && PQstatus(ps->conn) == CONNECTION_OK &&
	    PQtransactionStatus(ps->conn) != PQTRANS_IDLE) {
		r = PQexec(ps->conn, "ROLLBACK");
		PQclear(r);
	}
	ps->in_txn = 0;
}

void
pgs_set_endpoint(struct pgstore *ps, const char *endpoint)
{
	free(ps->endpoint);
	ps->endpoint = endpoint != NULL ? xstrdup(endpoint) : NULL;
}

void
pgs_set_max_inflight(struct pgstore *ps, int max)
{
	ps->max_inflight = max;
}
