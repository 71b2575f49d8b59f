/*
 * Ad-hoc checks of the PostgreSQL store's writes and scheduling
 * (lib/store-pg-write.c, lib/store-pg-sched.c) against a real server:
 *
 *   . tests/pg/pg.sh; pg_start /tmp/x
 *   cc -D_GNU_SOURCE -Ilib -Ibuild $(pkg-config --cflags libcurl sqlite3 \
 *       libevent jansson libpq) -o build/smoke_write tests/pg/smoke_write.c \
 *       build/libagentd.a $(pkg-config --libs libcurl sqlite3 libevent \
 *       jansson libpq) -lm
 *   build/smoke_write "$PG_CONNINFO"
 *
 * It empties the database's tables first. Exits 0 when every check held.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "store.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"

static int	failures;
static int	checks;

#define CHECK(c) do {							\
	checks++;							\
	if (!(c)) {							\
		failures++;						\
		fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #c); \
	}								\
} while (0)

static const char *conninfo;

/* One value of a query on st's connection, as an integer (-999 if none). */
static long long
q_int(struct store *st, const char *sql, const char *arg)
{
	const char	*pv[1] = { arg };
	PGresult	*r;
	long long	 v = -999;

	r = pgs_exec(store_pg(st), "test", sql, arg != NULL ? 1 : 0, pv);
	if (r != NULL && PQntuples(r) > 0)
		v = (long long)pgs_int(r, 0, 0, -998);
	PQclear(r);
	return v;
}

/* One value as text (allocated, NULL if none). */
static char *
q_str(struct store *st, const char *sql, const char *arg)
{
	const char	*pv[1] = { arg };
	PGresult	*r;
	char		*v = NULL;

	r = pgs_exec(store_pg(st), "test", sql, arg != NULL ? 1 : 0, pv);
	if (r != NULL && PQntuples(r) > 0)
		v = pgs_dup(r, 0, 0);
	PQclear(r);
	return v;
}

static void
q_cmd(struct store *st, const char *sql)
{
	if (pgs_cmd(store_pg(st), "test", sql, 0, NULL) < 0) {
		failures++;
		fprintf(stderr, "FAIL: %s\n", sql);
	}
}

static struct store *
open_store(void)
{
	struct store	*st;
	char		*cause = NULL;

	if ((st = store_open(conninfo, &cause)) == NULL) {
		fprintf(stderr, "store_open: %s\n", cause);
		exit(2);
	}
	return st;
}

static void
join(struct store *st, const char *host)
{
	struct store_host	 h = { host, "test", (int)getpid(), 2, 30000 };
	char			*cause = NULL;

	if (store_host_join(st, &h, &cause) != 0) {
		fprintf(stderr, "join %s: %s\n", host, cause);
		exit(2);
	}
}

static void
insert(struct store *st, const char *key, const char *queue, int prio,
    char *id, int *created)
{
	struct run_new	 rn;
	char		*cause = NULL;

	memset(&rn, 0, sizeof rn);
	rn.request = "{\"model\":\"m\",\"input\":\"hi\"}";
	rn.idempotency_key = key;
	rn.queue = queue;
	rn.priority = prio;
	rn.endpoint = "http://e";
	rn.dialect = "openai";
	rn.max_attempts = 2;
	if (store_run_insert(st, &rn, id, 32, created, &cause) != 0) {
		fprintf(stderr, "insert: %s\n", cause);
		free(cause);
		failures++;
	}
}

static int
valid_id(const char *id)
{
	size_t	i;

	if (strlen(id) != 18 || strncmp(id, "r_", 2) != 0)
		return 0;
	for (i = 2; i < 18; i++)
		if (strchr("0123456789abcdef", id[i]) == NULL)
			return 0;
	return 1;
}

static int	abandoned, abandoned_retried;
static char	abandoned_owner[32];

static void
on_abandon(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id, int retried)
{
	(void)arg;
	(void)n;
	(void)id;
	(void)backend_id;
	abandoned++;
	abandoned_retried += retried;
	snprintf(abandoned_owner, sizeof abandoned_owner, "%s",
	    owner != NULL ? owner : "(null)");
}

static void
test_writes(void)
{
	struct store		*a = open_store(), *b = open_store();
	struct store_assign	 as[8];
	struct run_row		 row;
	struct run_patch	 p = RUN_PATCH_INIT;
	struct endpoint_caps	 caps;
	char			 id1[32], id2[32], id3[32], nb[24], *s;
	const char		*msg = NULL;
	char			*owner, *bid, *ep;
	int			 created, got, i;
	int64_t			 n1, gen, n;
	static const char	 tricky[] = "{\"a\":\"q\\\"uo\\\\te\",\"b\":"
	    "\"{,}\",\"c\":\"NULL\",\"d\":\"\xc3\xa9\xe2\x82\xac\"} ";
	struct store_event	 ev[3] = {
		{ 0, "response.output_text.delta", "{\"delta\":\"he\"}", 14 },
		{ 1, "x\"y\\z", tricky, sizeof tricky - 1 },
		{ 2, "response.output_text.delta", "{\"delta\":\"llo\"}", 15 },
	};
	struct store_event	 ev2[3] = {
		{ 1, "dup", "{}", 2 },
		{ 3, "", "", 0 },
		{ 4, "response.output_text.delta", "{\"delta\":\"!\"}XX", 13 },
	};

	q_cmd(a, "TRUNCATE runs, events, attempts, queues, endpoints, hosts");

	/* insert: a key twice is one run */
	insert(a, "k1", NULL, 0, id1, &created);
	CHECK(created == 1);
	CHECK(valid_id(id1));
	insert(b, "k1", NULL, 0, id2, &created);
	CHECK(created == 0);
	CHECK(strcmp(id1, id2) == 0);
	insert(a, NULL, "default", 5, id3, &created);
	CHECK(created == 1 && strcmp(id3, id1) != 0);
	CHECK(q_int(a, "SELECT count(*) FROM runs", NULL) == 2);
	s = q_str(a, "SELECT status || '/' || queue || '/' || mode || '/' || "
	    "max_attempts FROM runs WHERE id = $1", id1);
	CHECK(s != NULL && strcmp(s, "pending/default/auto/2") == 0);
	free(s);

	/* assign: priority first, stamped with host and term */
	join(a, "hostA");
	join(b, "hostB");
	got = store_assign(a, "w0", 1111, as, 1);
	CHECK(got == 1);
	CHECK(got == 1 && strcmp(as[0].id, id3) == 0 && as[0].gen == 1);
	got = store_assign(b, "w0", 2222, as + 1, 8);
	CHECK(got == 1 && strcmp(as[1].id, id1) == 0);
	CHECK(store_assign(a, "w0", 1, as + 2, 8) == 0);
	CHECK(store_assign(a, "w0", 1, as + 2, 0) == 0);
	s = q_str(a, "SELECT lease_owner || '/' || lease_host || '/' || "
	    "(lease_epoch = (SELECT epoch FROM hosts WHERE host_id = 'hostA')) "
	    "|| '/' || lease_expires FROM runs WHERE id = $1", id3);
	CHECK(s != NULL && strcmp(s, "w0/hostA/true/1111") == 0);
	free(s);
	CHECK(store_inflight(a) == 1);
	CHECK(store_inflight(b) == 1);
	n1 = as[0].n;
	gen = as[0].gen;

	/* row load */
	CHECK(store_row_load(a, n1, gen, &row) == 1);
	CHECK(strcmp(row.id, id3) == 0 && strcmp(row.status, "pending") == 0 &&
	    row.last_seq == -1 && row.max_attempts == 2 && row.attempt == 1 &&
	    row.backend_id == NULL && row.resumable == 1);
	store_row_clear(&row);
	CHECK(store_row_load(a, n1, gen - 1, &row) == 0);
	CHECK(store_row_load(a, 99999, 0, &row) == 0);

	/* events: duplicates ignored, cursor and count move */
	CHECK(store_begin(a) == 0);
	CHECK(store_events_append(a, n1, gen, ev, 3, 2, 5000) == 3);
	CHECK(store_commit(a) == 0);
	CHECK(store_begin(a) == 0);
	CHECK(store_events_append(a, n1, gen, ev2, 3, 4, 6000) == 2);
	CHECK(store_events_append(a, n1, gen, NULL, 0, 4, 6001) == 0);
	CHECK(store_commit(a) == 0);
	pgs_i64(nb, n1);
	CHECK(q_int(a, "SELECT event_count FROM runs WHERE n = $1", nb) == 5);
	CHECK(q_int(a, "SELECT last_seq FROM runs WHERE n = $1", nb) == 4);
	/* Times are rebased on the database's clock: within its offset. */
	CHECK(q_int(a, "SELECT (abs(last_event_at - 6001) < 1000)::int FROM "
	    "runs WHERE n = $1", nb) == 1);
	s = q_str(a, "SELECT data FROM events WHERE run_n = $1 AND seq = 1", nb);
	CHECK(s != NULL && strcmp(s, tricky) == 0);
	free(s);
	s = q_str(a, "SELECT type FROM events WHERE run_n = $1 AND seq = 1", nb);
	CHECK(s != NULL && strcmp(s, "x\"y\\z") == 0);
	free(s);
	s = q_str(a, "SELECT type || data FROM events WHERE run_n = $1 AND "
	    "seq = 3", nb);
	CHECK(s != NULL && strcmp(s, "") == 0);
	free(s);
	/* data_len, not the terminating NUL, bounds an event's data */
	s = q_str(a, "SELECT data FROM events WHERE run_n = $1 AND seq = 4", nb);
	CHECK(s != NULL && strcmp(s, "{\"delta\":\"!\"}") == 0);
	free(s);
	s = store_delta_text(a, n1);
	CHECK(s != NULL && strcmp(s, "hello!") == 0);
	free(s);
	s = store_delta_text(a, 99999);
	CHECK(s != NULL && *s == '\0');
	free(s);
	/* delta text inside a transaction leaves it usable */
	CHECK(store_begin(a) == 0);
	s = store_delta_text(a, n1);
	free(s);
	CHECK(store_events_append(a, n1, gen, NULL, 0, 4, 6002) == 0);
	CHECK(store_commit(a) == 0);

	/* a NULL type fails the batch; the caller rolls back */
	{
		struct store_event bad[2] = { { 20, "t", "{}", 2 },
		    { 21, NULL, "{}", 2 } };

		CHECK(store_begin(a) == 0);
		CHECK(store_events_append(a, n1, gen, bad, 2, 21, 1) == -1);
		store_rollback(a);
		CHECK(q_int(a, "SELECT count(*) FROM events WHERE run_n = $1",
		    nb) == 5);
	}

	/* patch, fenced */
	p.status = RUN_RUNNING;
	p.backend_id = "resp_1";
	p.creates_inc = 1;
	p.set_wait = 1;
	p.wait_reason = WAIT_BACKOFF;
	p.wait_until = 0;
	p.wait_tries = 3;
	p.set_error = 1;
	p.error_status = 0;
	p.error_message = "msg";
	CHECK(store_run_patch(a, n1, gen, &p) == 1);
	CHECK(store_run_patch(a, n1, gen + 1, &p) == 0);
	s = q_str(a, "SELECT status || '/' || backend_id || '/' || creates || "
	    "'/' || wait_reason || '/' || coalesce(wait_until, -7) || '/' || "
	    "wait_tries || '/' || coalesce(error_status, -7) || '/' || "
	    "error_message || '/' || coalesce(error_body, 'nul') FROM runs "
	    "WHERE n = $1", nb);
	CHECK(s != NULL && strcmp(s, "running/resp_1/1/backoff/-7/3/-7/msg/nul")
	    == 0);
	if (s != NULL && strcmp(s, "running/resp_1/1/backoff/-7/3/-7/msg/nul"))
		fprintf(stderr, "  got %s\n", s);
	free(s);
	/* creates 1: the fenced patch did not count */
	struct run_patch p2 = RUN_PATCH_INIT;
	p2.set_wait = 2;
	p2.set_error = -1;
	p2.resumable = 0;
	p2.last_event_at = 4242;
	CHECK(store_run_patch(a, n1, gen, &p2) == 1);
	s = q_str(a, "SELECT coalesce(wait_reason, 'nul') || '/' || wait_tries "
	    "|| '/' || coalesce(error_message, 'nul') || '/' || resumable || "
	    "'/' || (abs(last_event_at - 4242) < 1000) FROM runs WHERE n = $1",
	    nb);
	CHECK(s != NULL && strcmp(s, "nul/3/nul/0/true") == 0);
	free(s);

	/* released */
	CHECK(store_run_released(a, n1, gen, WAIT_RPM, 777) == 1);
	CHECK(store_run_released(a, n1, gen + 5, NULL, 0) == 0);
	s = q_str(a, "SELECT wait_reason || '/' || (abs(wait_until - 777) < "
	    "1000) || '/' || (released_at > 0) FROM runs WHERE n = $1", nb);
	CHECK(s != NULL && strcmp(s, "requests_per_minute/true/true") == 0);
	free(s);
	CHECK(store_run_released(a, n1, gen, NULL, 999) == 1);
	CHECK(q_int(a, "SELECT count(*) FROM runs WHERE n = $1 AND wait_reason "
	    "IS NULL AND wait_until IS NULL", nb) == 1);

	/*
	 * renew writes nothing on a shared store (the host's heartbeat is
	 * the lease; per-run renewal deadlocked with appends): no row moves.
	 */
	CHECK(store_renew(a, "w0", 5555) == 0);
	CHECK(q_int(a, "SELECT lease_expires FROM runs WHERE id = $1", id3) !=
	    5555);
	CHECK(q_int(a, "SELECT lease_expires FROM runs WHERE id = $1", id1) ==
	    2222);

	/* rearm on A fences A's run only; the old generation writes nothing */
	CHECK(store_rearm(a) == 1);
	CHECK(q_int(a, "SELECT lease_gen FROM runs WHERE id = $1", id3) == 2);
	CHECK(q_int(a, "SELECT lease_gen FROM runs WHERE id = $1", id1) == 1);
	CHECK(q_int(a, "SELECT count(*) FROM runs WHERE id = $1 AND "
	    "lease_owner IS NULL AND lease_host IS NULL AND lease_epoch IS "
	    "NULL", id3) == 1);
	CHECK(store_inflight(a) == 0);
	CHECK(store_begin(a) == 0);
	ev2[0].seq = 10;
	CHECK(store_events_append(a, n1, gen, ev2, 1, 10, 7000) == -2);
	CHECK(store_commit(a) == 0);
	CHECK(q_int(a, "SELECT count(*) FROM events WHERE run_n = $1", nb) == 5);
	CHECK(q_int(a, "SELECT last_seq FROM runs WHERE n = $1", nb) == 4);
	CHECK(store_run_patch(a, n1, gen, &p2) == 0);

	/* release_owner: B's w0 only */
	CHECK(store_release_owner(a, "w0") == 0);
	CHECK(store_release_owner(b, "w0") == 1);
	CHECK(q_int(a, "SELECT lease_gen FROM runs WHERE id = $1", id1) == 2);

	/* attempt end and retry (fenced, then not) */
	got = store_assign(a, "w1", 1, as, 8);
	CHECK(got == 2);
	for (i = 0; i < got; i++)
		if (as[i].n == n1)
			gen = as[i].gen;
	CHECK(gen == 3);
	CHECK(store_begin(a) == 0);
	CHECK(store_run_retry(a, n1, gen - 1, RUN_FAILED, 500, "boom", 1000)
	    == 0);
	CHECK(store_run_retry(a, n1, gen, RUN_FAILED, 500, "boom", 100000) ==
	    1);
	CHECK(store_commit(a) == 0);
	s = q_str(a, "SELECT status || '/' || attempt || '/' || last_seq || "
	    "'/' || event_count || '/' || coalesce(backend_id, 'nul') || '/' || "
	    "error_status || '/' || error_message || '/' || lease_gen || '/' || "
	    "coalesce(lease_owner, 'nul') || (not_before > created_at) FROM "
	    "runs WHERE n = $1", nb);
	CHECK(s != NULL && strcmp(s, "pending/2/-1/0/nul/500/previous attempt "
	    "failed: boom; retrying/4/nultrue") == 0);
	if (s != NULL)
		fprintf(stderr, "  retry: %s\n", s);
	free(s);
	CHECK(q_int(a, "SELECT count(*) FROM events WHERE run_n = $1", nb) == 0);
	s = q_str(a, "SELECT attempt || '/' || status || '/' || backend_id || "
	    "'/' || error_status || '/' || error_message || '/' || events FROM "
	    "attempts WHERE run_n = $1", nb);
	CHECK(s != NULL && strcmp(s, "1/failed/resp_1/500/boom/5") == 0);
	free(s);
	/* not_before holds it back */
	CHECK(store_assign(a, "w1", 1, as, 8) == 0);
	CHECK(store_begin(a) == 0);
	CHECK(store_attempt_end(a, n1, RUN_COMPLETED, 0, NULL) == 0);
	CHECK(store_attempt_end(a, n1, RUN_FAILED, 0, "again") == 0);
	CHECK(store_commit(a) == 0);
	s = q_str(a, "SELECT string_agg(attempt || status || "
	    "coalesce(error_message, '-'), ',' ORDER BY attempt) FROM attempts "
	    "WHERE run_n = $1", nb);
	CHECK(s != NULL && strcmp(s, "1failedboom,2failedagain") == 0);
	free(s);

	/* abandon stale: id1 (attempt 1 of 2) retried, then abandoned */
	q_cmd(a, "UPDATE runs SET status = 'running', created_at = 1, "
	    "attached_at = 1, last_event_at = NULL, released_at = NULL "
	    "WHERE id <> '' AND lease_owner IS NOT NULL");
	abandoned = abandoned_retried = 0;
	CHECK(store_abandon_stale(b, util_now_ms(), 60000, 0, on_abandon,
	    NULL) == 1);
	CHECK(abandoned == 1 && abandoned_retried == 1);
	/* hostB does not see hostA's worker label */
	CHECK(strcmp(abandoned_owner, "(null)") == 0);
	got = store_assign(a, "w2", 1, as, 8);
	CHECK(got == 1);
	q_cmd(a, "UPDATE runs SET status = 'running', created_at = 1, "
	    "attached_at = 1 WHERE lease_owner = 'w2'");
	abandoned = abandoned_retried = 0;
	CHECK(store_abandon_stale(a, util_now_ms(), 60000, 0, on_abandon,
	    NULL) == 1);
	CHECK(abandoned == 1 && abandoned_retried == 0);
	CHECK(strcmp(abandoned_owner, "w2") == 0);
	s = q_str(a, "SELECT status || '/' || error_message || '/' || "
	    "(finished_at > 0) FROM runs WHERE id = $1", id1);
	CHECK(s != NULL && strcmp(s, "abandoned/stale: no progress from the "
	    "backend for 60s/true") == 0);
	free(s);
	CHECK(q_int(a, "SELECT count(*) FROM attempts WHERE run_n = (SELECT n "
	    "FROM runs WHERE id = $1)", id1) == 2);
	CHECK(store_abandon_stale(a, util_now_ms(), 60000, 0, NULL, NULL) == 0);

	/* resume */
	CHECK(store_resume(a, "r_nope", &msg) == STORE_NOTFOUND);
	CHECK(store_resume(a, id3, &msg) == STORE_CONFLICT &&
	    strcmp(msg, "run is already active") == 0);
	json_t *ids = store_resume_stale(a);
	CHECK(ids != NULL && json_array_size(ids) == 1 &&
	    strcmp(json_string_value(json_array_get(ids, 0)), id1) == 0);
	json_decref(ids);
	CHECK(q_int(a, "SELECT count(*) FROM runs WHERE id = $1 AND status = "
	    "'pending' AND finished_at IS NULL AND error_message IS NULL", id1)
	    == 1);

	/* cancel: owner only for this host's runs */
	got = store_assign(a, "w3", 1, as, 8);
	CHECK(got == 1);
	CHECK(store_cancel(b, id1, &n, &owner, &bid, &ep, &msg) == STORE_OK);
	CHECK(owner == NULL && ep != NULL && strcmp(ep, "http://e") == 0);
	free(owner);
	free(bid);
	free(ep);
	CHECK(store_cancel(a, id1, &n, &owner, &bid, &ep, &msg) ==
	    STORE_CONFLICT && strcmp(msg, "run is already finished") == 0 &&
	    owner == NULL);
	CHECK(store_cancel(a, "r_nope", &n, &owner, &bid, &ep, &msg) ==
	    STORE_NOTFOUND);
	CHECK(store_cancel(a, id3, &n, &owner, &bid, &ep, &msg) == STORE_OK);
	CHECK(owner == NULL);	/* rearmed earlier, never re-leased */
	free(owner);
	free(bid);
	free(ep);
	CHECK(q_int(a, "SELECT count(*) FROM runs WHERE status = 'cancelled' "
	    "AND error_message = 'cancelled by request' AND lease_owner IS NULL",
	    NULL) == 2);
	CHECK(store_resume(a, id1, &msg) == STORE_CONFLICT && strcmp(msg,
	    "only abandoned or failed runs can be resumed") == 0);

	/* delete and prune */
	char id4[32];
	insert(a, "k4", NULL, 0, id4, &created);
	CHECK(store_run_delete(a, id4) == STORE_CONFLICT);
	CHECK(store_run_delete(a, "r_nope") == STORE_NOTFOUND);
	pgs_i64(nb, q_int(a, "SELECT n FROM runs WHERE id = $1", id1));
	CHECK(q_int(a, "SELECT count(*) FROM attempts WHERE run_n = $1", nb) ==
	    2);
	CHECK(store_run_delete(a, id1) == STORE_OK);
	CHECK(q_int(a, "SELECT count(*) FROM attempts WHERE run_n = $1", nb) ==
	    0);
	pgs_i64(nb, n1);
	CHECK(q_int(a, "SELECT count(*) FROM runs WHERE id = $1", id1) == 0);
	q_cmd(a, "INSERT INTO events (run_n, seq, type, data, at) SELECT n, "
	    "7, 't', '{}', 0 FROM runs WHERE status = 'cancelled'");
	CHECK(q_int(a, "SELECT count(*) FROM events WHERE run_n = $1", nb) == 1);
	CHECK(store_prune(a, 1) == 0);
	CHECK(store_prune(a, util_now_ms() + 1000) == 1);	/* id3 */
	CHECK(q_int(a, "SELECT count(*) FROM runs", NULL) == 1);
	CHECK(q_int(a, "SELECT count(*) FROM events WHERE run_n = $1", nb) == 0);

	/* caps */
	CHECK(store_caps_get(a, "http://e", &caps) == 0 && caps.background ==
	    -1 && caps.stream == -1 && caps.resume == -1);
	CHECK(store_caps_set(a, "http://e", "stream", 1) == 0);
	CHECK(store_caps_set(a, "http://e", "resume", 0) == 0);
	CHECK(store_caps_set(a, "http://e", "bogus", 0) == -1);
	CHECK(store_caps_get(a, "http://e", &caps) == 0 && caps.background ==
	    -1 && caps.stream == 1 && caps.resume == 0);

	/* own transactions refused inside the caller's */
	CHECK(store_begin(a) == 0);
	CHECK(store_assign(a, "w0", 1, as, 8) == -1);
	store_rollback(a);

	/* an endpoint is stamped on runs without one; paused queues wait */
	q_cmd(a, "TRUNCATE runs, events, attempts");
	{
		struct run_new	rn;
		char		*cause = NULL;

		memset(&rn, 0, sizeof rn);
		rn.request = "{}";
		rn.queue = "p";
		CHECK(store_run_insert(a, &rn, id1, sizeof id1, &created,
		    &cause) == 0);
	}
	q_cmd(a, "INSERT INTO queues (name, paused, updated_at) VALUES "
	    "('p', 1, 0)");
	store_set_endpoint(a, "http://stamped");
	CHECK(store_assign(a, "w0", 1, as, 8) == 0);
	q_cmd(a, "UPDATE queues SET paused = 0");
	CHECK(store_assign(a, "w0", 1, as, 8) == 1);
	s = q_str(a, "SELECT endpoint || dialect FROM runs WHERE id = $1", id1);
	CHECK(s != NULL && strcmp(s, "http://stamped") == 0);
	free(s);

	/* a host whose term lapsed claims nothing */
	CHECK(store_rearm(a) == 1);
	q_cmd(a, "UPDATE hosts SET expires_at = now() - interval '1 s' WHERE "
	    "host_id = 'hostA'");
	CHECK(store_assign(a, "w0", 1, as, 8) == 0);
	CHECK(store_assign(a, "w0", 1, as, 8) == 0);
	CHECK(store_assign(b, "w0", 1, as, 8) == 1);

	/* a tool (no host) rearms every lease */
	store_close(b);
	b = open_store();
	CHECK(store_rearm(b) == 1);
	store_close(a);
	store_close(b);
}

/* Claim until nothing is left; write each n claimed to fd. */
static void
claimer(const char *host, int fd, int per, int rounds)
{
	struct store		*st = open_store();
	struct store_assign	 as[16];
	int			 got, i, idle = 0;
	char			 line[64];

	join(st, host);
	while (rounds-- > 0 && idle < 20) {
		got = store_assign(st, "w0", 1, as, per);
		if (got < 0)
			_exit(3);
		idle = got == 0 ? idle + 1 : 0;
		for (i = 0; i < got; i++) {
			snprintf(line, sizeof line, "%lld\n",
			    (long long)as[i].n);
			if (write(fd, line, strlen(line)) < 0)
				_exit(4);
		}
	}
	store_close(st);
	_exit(0);
}

/* Two hosts claim at once: every run once; a queue's limit holds. */
static void
test_concurrent(int nruns, const char *queue, int limit)
{
	struct store	*st = open_store();
	char		 id[32], key[64], buf[1 << 16], *p;
	int		 created, i, fds[2], status;
	size_t		 len = 0;
	ssize_t		 r;
	pid_t		 pids[3];
	int		*seen, total = 0, dups = 0;

	q_cmd(st, "TRUNCATE runs, events, attempts, queues, hosts");
	if (limit > 0) {
		char sql[128];

		snprintf(sql, sizeof sql, "INSERT INTO queues (name, "
		    "max_inflight, updated_at) VALUES ('%s', %d, 0)", queue,
		    limit);
		q_cmd(st, sql);
	}
	for (i = 0; i < nruns; i++) {
		snprintf(key, sizeof key, "c%d", i);
		insert(st, key, queue, i % 3, id, &created);
	}
	if (pipe(fds) != 0)
		exit(2);
	for (i = 0; i < 3; i++) {
		if ((pids[i] = fork()) == 0) {
			close(fds[0]);
			snprintf(key, sizeof key, "h%d", i);
			claimer(key, fds[1], 3 + i * 2, 1000);
		}
	}
	close(fds[1]);
	while ((r = read(fds[0], buf + len, sizeof buf - len - 1)) > 0)
		len += (size_t)r;
	buf[len] = '\0';
	close(fds[0]);
	for (i = 0; i < 3; i++) {
		waitpid(pids[i], &status, 0);
		CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	}
	seen = calloc((size_t)nruns * 4 + 16, sizeof *seen);
	long long base = q_int(st, "SELECT min(n) FROM runs", NULL);
	for (p = strtok(buf, "\n"); p != NULL; p = strtok(NULL, "\n")) {
		long long v = atoll(p);

		if (v - base >= 0 && v - base < nruns) {
			if (seen[v - base]++)
				dups++;
		}
		total++;
	}
	CHECK(dups == 0);
	if (limit > 0) {
		CHECK(total == limit);
		CHECK(q_int(st, "SELECT count(*) FROM runs WHERE lease_owner IS "
		    "NOT NULL", NULL) == limit);
	} else {
		CHECK(total == nruns);
		CHECK(q_int(st, "SELECT count(*) FROM runs WHERE lease_gen = 1 "
		    "AND lease_owner IS NOT NULL", NULL) == nruns);
	}
	fprintf(stderr, "concurrent %s: %d claimed of %d, %d duplicates\n",
	    queue, total, nruns, dups);
	free(seen);
	store_close(st);
}

/*
 * The claim counts a limited queue's runs only after it holds the queue's
 * lock: another claimer's leases, committed while we waited, are seen,
 * even when a new run ranks first meanwhile.
 */
static void
test_lock_order(void)
{
	struct store		*st = open_store(), *c;
	struct store_assign	 as[8];
	PGconn			*x;
	PGresult		*r;
	char			 id[32], key[32];
	int			 created, i, fds[2], status, got = -1;
	pid_t			 pid;

	q_cmd(st, "TRUNCATE runs, events, attempts, queues, hosts");
	q_cmd(st, "INSERT INTO queues (name, max_inflight, updated_at) VALUES "
	    "('lim', 4, 0)");
	for (i = 0; i < 6; i++) {
		snprintf(key, sizeof key, "l%d", i);
		insert(st, key, "lim", 0, id, &created);
	}
	x = PQconnectdb(conninfo);
	CHECK(PQstatus(x) == CONNECTION_OK);
	r = PQexec(x, "BEGIN; SELECT pg_advisory_xact_lock("
	    "hashtextextended('agentd.queue.' || 'lim', 0)); UPDATE runs SET "
	    "lease_owner = 'x' WHERE n IN (SELECT n FROM runs ORDER BY n "
	    "LIMIT 4)");
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	insert(st, "l-first", "lim", 9, id, &created);
	if (pipe(fds) != 0)
		exit(2);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		c = open_store();
		join(c, "hc");
		got = store_assign(c, "w0", 1, as, 8);
		if (write(fds[1], &got, sizeof got) < 0)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	usleep(500 * 1000);
	r = PQexec(x, "COMMIT");
	PQclear(r);
	if (read(fds[0], &got, sizeof got) != (ssize_t)sizeof got)
		got = -2;
	close(fds[0]);
	waitpid(pid, &status, 0);
	CHECK(got == 0);
	fprintf(stderr, "lock order: claimed %d (want 0)\n", got);
	CHECK(q_int(st, "SELECT count(*) FROM runs WHERE lease_owner IS NOT "
	    "NULL", NULL) == 4);
	PQfinish(x);
	store_close(st);
}

/*
 * An append waiting on a concurrent change of the run re-checks the fence
 * on the new row: a bumped lease_gen fences it (nothing written), any
 * other change lets it through with the right counts.
 */
static void
test_append_race(int bump)
{
	struct store		*st = open_store(), *c;
	struct store_assign	 as[1];
	struct store_event	 ev[2] = { { 0, "t", "{}", 2 }, { 1, "t", "{}", 2 } };
	PGconn			*x;
	PGresult		*r;
	char			 id[32], nb[24], sql[256];
	int			 created, fds[2], status, got = -9;
	pid_t			 pid;

	q_cmd(st, "TRUNCATE runs, events, attempts, queues, hosts");
	insert(st, NULL, NULL, 0, id, &created);
	join(st, "hr");
	CHECK(store_assign(st, "w0", 1, as, 1) == 1);
	pgs_i64(nb, as[0].n);
	x = PQconnectdb(conninfo);
	snprintf(sql, sizeof sql, "BEGIN; UPDATE runs SET %s WHERE n = %s",
	    bump ? "lease_gen = lease_gen + 1" : "lease_expires = 42", nb);
	r = PQexec(x, sql);
	CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
	PQclear(r);
	if (pipe(fds) != 0)
		exit(2);
	if ((pid = fork()) == 0) {
		close(fds[0]);
		c = open_store();
		if (store_begin(c) != 0)
			_exit(5);
		got = store_events_append(c, as[0].n, as[0].gen, ev, 2, 1, 9);
		if (got >= 0 && store_commit(c) != 0)
			got = -7;
		if (write(fds[1], &got, sizeof got) < 0)
			_exit(4);
		_exit(0);
	}
	close(fds[1]);
	usleep(300 * 1000);
	r = PQexec(x, "COMMIT");
	PQclear(r);
	if (read(fds[0], &got, sizeof got) != (ssize_t)sizeof got)
		got = -8;
	close(fds[0]);
	waitpid(pid, &status, 0);
	fprintf(stderr, "append race (bump %d): %d\n", bump, got);
	CHECK(got == (bump ? -2 : 2));
	CHECK(q_int(st, "SELECT count(*) FROM events", NULL) == (bump ? 0 : 2));
	CHECK(q_int(st, "SELECT event_count FROM runs WHERE n = $1", nb) ==
	    (bump ? 0 : 2));
	CHECK(q_int(st, "SELECT last_seq FROM runs WHERE n = $1", nb) ==
	    (bump ? -1 : 1));
	if (!bump)
		CHECK(q_int(st, "SELECT lease_expires FROM runs WHERE n = $1",
		    nb) == 42);
	PQfinish(x);
	store_close(st);
}

int
main(int argc, char *argv[])
{
	int	i;

	conninfo = argc > 1 ? argv[1] : getenv("PG_CONNINFO");
	if (conninfo == NULL) {
		fprintf(stderr, "usage: smoke_write conninfo\n");
		return 2;
	}
	log_init("smoke", 0);
	test_writes();
	test_concurrent(300, "default", 0);
	for (i = 0; i < 5; i++)
		test_concurrent(40, "lim", 4);
	test_lock_order();
	test_append_race(1);
	test_append_race(0);
	fprintf(stderr, "%d checks, %d failures\n", checks, failures);
	return failures != 0;
}
