/*
 * bench-limit-pg: the PostgreSQL ceiling for the benchmark harness
 * (tests/bench/bench.sh, scenario pg_limit), the counterpart of limit.c's
 * SQLite ceiling.
 *
 *   cc -O2 $(pkg-config --cflags libpq) tests/bench/limit-pg.c \
 *       -o build/bench-limit-pg $(pkg-config --libs libpq)
 *
 * Inserts the rows agentd stores for the throughput scenario (RUNS runs x
 * (DELTAS + 8) events shaped like agent-mock's; the generator below is
 * limit.c's, copied verbatim) into a database whose schema agentd itself
 * created (bench.sh starts agentd on it once), with agentd's write pattern
 * on PostgreSQL (lib/worker.c worker_flush, lib/store-pg-write.c
 * pgs_events_append; lib/store-pg.c pgs_arr_*): per transaction BEGIN,
 * then for each of up to R runs
 * one statement of the same text -- lock the run's row fenced by lease_gen,
 * INSERT ... SELECT FROM unnest(bigint[], text[], text[]) ON CONFLICT DO
 * NOTHING, move the cursor -- sent with PQexecParams and text parameters
 * (the arrays built as array literals the same way), then COMMIT. Each of
 * C connections (agentd's --workers, one connection each) writes its own
 * share of the runs, all at once. No HTTP, no parsing: what agentd could
 * reach if everything but PostgreSQL (and building the statement's
 * parameters) were free.
 *
 *   bench-limit-pg --db CONNINFO [--runs N] [--deltas N] [--per-run K]
 *                  [--runs-per-txn R] [--conns C] [--prepared]
 *                  [--pipeline]
 *     --prepared  the same statement prepared once per connection
 *                 (PQprepare/PQexecPrepared): an alternative, not agentd's
 *     --pipeline  libpq pipeline mode: a transaction's BEGIN, its R
 *                 statements and COMMIT sent before any result is read
 *                 (one round trip a transaction): an alternative
 *     prints: limit_pg events=E seconds=S events_per_s=X txns=T per_run=K
 *             runs_per_txn=R conns=C mode=text|prepared|pipeline|...
 *
 * The runs rows it needs are inserted first (ids lim_PID_N, lease_gen 1),
 * so the database must hold agentd's schema; the events it wrote stay
 * there (bench.sh drops the database afterwards).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "bench-limit-pg: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double
mono_s(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t
real_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *
xmalloc(size_t n)
{
	void	*p = malloc(n != 0 ? n : 1);

	if (p == NULL)
		die("out of memory");
	return p;
}

static void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n != 0 ? n : 1)) == NULL)
		die("out of memory");
	return p;
}

static long
int_arg(const char *opt, const char *s, long min, long max)
{
	char	*end;
	long	 v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < min || v > max)
		die("%s: expected an integer from %ld to %ld, got '%s'", opt,
		    min, max, s);
	return v;
}

/* ---------------------------------- the rows (limit.c's, verbatim) */

struct buf {
	char	*p;
	size_t	 len, cap;
};

static void
buf_add(struct buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = xrealloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void __attribute__((format(printf, 2, 3)))
buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list	ap;
	char	tmp[1024];
	int	n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof tmp)
		die("buf_printf: too long");
	buf_add(b, tmp, (size_t)n);
}

struct ev {
	const char	*type;
	char		*data;
	int		 len;
};

/* The Response object of agent-mock at a given status (compact form). */
static void
write_response(struct buf *b, long run, const char *status, long created,
    const char *text, long deltas)
{
	buf_printf(b, "{\"id\":\"resp_%024lx\",\"object\":\"response\","
	    "\"created_at\":%ld,\"status\":\"%s\",\"background\":true,"
	    "\"completed_at\":", (unsigned long)run * 2654435761UL, created,
	    status);
	if (text != NULL)
		buf_printf(b, "%ld", created + 1);
	else
		buf_add(b, "null", 4);
	buf_printf(b, ",\"error\":null,\"incomplete_details\":null,"
	    "\"instructions\":null,\"model\":\"mock\",\"output\":[");
	if (text != NULL) {
		buf_printf(b, "{\"type\":\"message\",\"id\":\"msg_%024lx\","
		    "\"status\":\"completed\",\"role\":\"assistant\","
		    "\"content\":[{\"type\":\"output_text\",\"text\":\"",
		    (unsigned long)run * 2654435761UL);
		buf_add(b, text, strlen(text));
		buf_printf(b, "\",\"annotations\":[]}]}");
	}
	buf_printf(b, "],\"parallel_tool_calls\":true,\"previous_response_id\""
	    ":null,\"tool_choice\":\"auto\",\"tools\":[],\"usage\":");
	if (text != NULL)
		buf_printf(b, "{\"input_tokens\":10,\"input_tokens_details\":"
		    "{\"cached_tokens\":0},\"output_tokens\":%ld,"
		    "\"output_tokens_details\":{\"reasoning_tokens\":0},"
		    "\"total_tokens\":%ld}", deltas, deltas + 10);
	else
		buf_add(b, "null", 4);
	buf_printf(b, ",\"metadata\":{\"mock_events\":\"%ld\","
	    "\"mock_interval_ms\":\"0\"}}", deltas);
}

static struct ev
ev_make(const char *type, struct buf *b)
{
	struct ev	e;

	e.type = type;
	e.data = b->p;
	e.len = (int)b->len;
	memset(b, 0, sizeof *b);
	return e;
}

/* Every event of run number run (1-based), as agent-mock streams them. */
static struct ev *
make_run_events(long run, long deltas, long created)
{
	struct ev	*ev = xmalloc((size_t)(deltas + 8) * sizeof *ev);
	struct buf	 b = { 0 }, text = { 0 };
	unsigned long	 h = (unsigned long)run * 2654435761UL;
	long		 k, i = 0;

	for (k = 0; k < deltas; k++)
		buf_printf(&text, "r%ld-tok%ld ", run, k);
	buf_printf(&b, "{\"type\":\"response.created\",\"sequence_number\":0,"
	    "\"response\":");
	write_response(&b, run, "queued", created, NULL, deltas);
	buf_add(&b, "}", 1);
	ev[i++] = ev_make("response.created", &b);
	buf_printf(&b, "{\"type\":\"response.in_progress\",\"sequence_number\""
	    ":1,\"response\":");
	write_response(&b, run, "in_progress", created, NULL, deltas);
	buf_add(&b, "}", 1);
	ev[i++] = ev_make("response.in_progress", &b);
	buf_printf(&b, "{\"type\":\"response.output_item.added\","
	    "\"sequence_number\":2,\"output_index\":0,\"item\":{\"type\":"
	    "\"message\",\"id\":\"msg_%024lx\",\"status\":\"in_progress\","
	    "\"role\":\"assistant\",\"content\":[]}}", h);
	ev[i++] = ev_make("response.output_item.added", &b);
	buf_printf(&b, "{\"type\":\"response.content_part.added\","
	    "\"sequence_number\":3,\"item_id\":\"msg_%024lx\",\"output_index\""
	    ":0,\"content_index\":0,\"part\":{\"type\":\"output_text\","
	    "\"text\":\"\",\"annotations\":[]}}", h);
	ev[i++] = ev_make("response.content_part.added", &b);
	for (k = 0; k < deltas; k++) {
		buf_printf(&b, "{\"type\":\"response.output_text.delta\","
		    "\"sequence_number\":%ld,\"item_id\":\"msg_%024lx\","
		    "\"output_index\":0,\"content_index\":0,\"delta\":"
		    "\"r%ld-tok%ld \",\"logprobs\":[]}", i, h, run, k);
		ev[i++] = ev_make("response.output_text.delta", &b);
	}
	buf_printf(&b, "{\"type\":\"response.output_text.done\","
	    "\"sequence_number\":%ld,\"item_id\":\"msg_%024lx\","
	    "\"output_index\":0,\"content_index\":0,\"text\":\"", i, h);
	buf_add(&b, text.p, text.len);
	buf_printf(&b, "\",\"logprobs\":[]}");
	ev[i++] = ev_make("response.output_text.done", &b);
	buf_printf(&b, "{\"type\":\"response.content_part.done\","
	    "\"sequence_number\":%ld,\"item_id\":\"msg_%024lx\","
	    "\"output_index\":0,\"content_index\":0,\"part\":{\"type\":"
	    "\"output_text\",\"text\":\"", i, h);
	buf_add(&b, text.p, text.len);
	buf_printf(&b, "\",\"annotations\":[]}}");
	ev[i++] = ev_make("response.content_part.done", &b);
	buf_printf(&b, "{\"type\":\"response.output_item.done\","
	    "\"sequence_number\":%ld,\"output_index\":0,\"item\":{\"type\":"
	    "\"message\",\"id\":\"msg_%024lx\",\"status\":\"completed\","
	    "\"role\":\"assistant\",\"content\":[{\"type\":\"output_text\","
	    "\"text\":\"", i, h);
	buf_add(&b, text.p, text.len);
	buf_printf(&b, "\",\"annotations\":[]}]}}");
	ev[i++] = ev_make("response.output_item.done", &b);
	buf_printf(&b, "{\"type\":\"response.completed\",\"sequence_number\":"
	    "%ld,\"response\":", i);
	write_response(&b, run, "completed", created, text.p, deltas);
	buf_add(&b, "}", 1);
	ev[i++] = ev_make("response.completed", &b);
	free(text.p);
	return ev;
}

/* --- array literals, quoted as lib/store-pg.c pgs_arr_text quotes them */

struct pbuf {
	char	*p;
	size_t	 len, cap;
};

static void
pbuf_grow(struct pbuf *b, size_t more)
{
	if (b->len + more + 1 <= b->cap)
		return;
	while (b->len + more + 1 > b->cap)
		b->cap = b->cap == 0 ? 256 : b->cap * 2;
	b->p = xrealloc(b->p, b->cap);
}

static void
pbuf_add(struct pbuf *b, const char *s, size_t len)
{
	pbuf_grow(b, len);
	memcpy(b->p + b->len, s, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
pbuf_ch(struct pbuf *b, char c)
{
	pbuf_add(b, &c, 1);
}

static void
pbuf_sep(struct pbuf *b)
{
	if (b->len > 0 && b->p[b->len - 1] != '{')
		pbuf_ch(b, ',');
}

static void
pbuf_elem(struct pbuf *b, const char *s, size_t len)
{
	size_t	i, run;

	pbuf_sep(b);
	pbuf_ch(b, '"');
	for (i = 0; i < len; i += run) {
		for (run = 0; i + run < len && s[i + run] != '\\' &&
		    s[i + run] != '"'; run++)
			;
		if (run > 0) {
			pbuf_add(b, s + i, run);
			continue;
		}
		pbuf_ch(b, '\\');
		pbuf_ch(b, s[i]);
		run = 1;
	}
	pbuf_ch(b, '"');
}

/* ------------------------------------------------------------ writing */

/* pgs_events_append's statement (lib/store-pg-write.c), verbatim. */
static const char append_sql[] = "WITH cur AS MATERIALIZED ("
    "SELECT n FROM runs WHERE n = $1 AND lease_gen = $2 "
    "FOR NO KEY UPDATE), "
    "ins AS (INSERT INTO events (run_n, seq, type, data, at) "
    "SELECT c.n, u.seq, u.type, u.data, $4 FROM cur c, "
    "unnest($5::bigint[], $6::text[], $7::text[]) AS u(seq, type, "
    "data) ON CONFLICT (run_n, seq) DO NOTHING RETURNING 1), "
    "upd AS (UPDATE runs SET last_seq = greatest(last_seq, $3), "
    "event_count = event_count + (SELECT count(*) FROM ins), "
    "last_event_at = $4, updated_at = $4 WHERE n = (SELECT n FROM "
    "cur) RETURNING 1) "
    "SELECT (SELECT count(*) FROM cur), (SELECT count(*) FROM upd), "
    "(SELECT count(*) FROM ins)";

enum { MODE_TEXT, MODE_PREPARED, MODE_PIPELINE };

struct job {
	const char	*conninfo;
	long		 runs, nev, per_run, rpt;
	int		 conn, nconns, mode;
	struct ev	**ev;
	int64_t		*rn;		/* runs.n of each run */
};

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn	*c = PQconnectdb(conninfo);

	if (PQstatus(c) != CONNECTION_OK)
		die("connect: %s", PQerrorMessage(c));
	return c;
}

static void
cmd_or_die(PGconn *c, const char *sql)
{
	PGresult	*r = PQexec(c, sql);

	if (PQresultStatus(r) != PGRES_COMMAND_OK &&
	    PQresultStatus(r) != PGRES_TUPLES_OK)
		die("%s: %s", sql, PQerrorMessage(c));
	PQclear(r);
}

static const char *
i64(char *b, int64_t v)
{
	snprintf(b, 24, "%" PRId64, v);
	return b;
}

/* The parameters of one run's append: arrays of events [from, to). */
struct params {
	struct pbuf	 seqs, types, datas;
	char		 nb[24], gb[24], lb[24], tb[24];
	const char	*pv[7];
};

static void
params_build(struct params *p, int64_t n, struct ev *ev, long from, long to,
    int64_t now)
{
	char	sb[24];
	long	i;

	p->seqs.len = p->types.len = p->datas.len = 0;
	pbuf_ch(&p->seqs, '{');
	pbuf_ch(&p->types, '{');
	pbuf_ch(&p->datas, '{');
	for (i = from; i < to; i++) {
		i64(sb, i);
		if (i > from)
			pbuf_ch(&p->seqs, ',');
		pbuf_add(&p->seqs, sb, strlen(sb));
		pbuf_elem(&p->types, ev[i].type, strlen(ev[i].type));
		pbuf_elem(&p->datas, ev[i].data, (size_t)ev[i].len);
	}
	pbuf_ch(&p->seqs, '}');
	pbuf_ch(&p->types, '}');
	pbuf_ch(&p->datas, '}');
	p->pv[0] = i64(p->nb, n);
	p->pv[1] = i64(p->gb, 1);
	p->pv[2] = i64(p->lb, to - 1);
	p->pv[3] = i64(p->tb, now);
	p->pv[4] = p->seqs.p;
	p->pv[5] = p->types.p;
	p->pv[6] = p->datas.p;
}

/* A run's append result: the events inserted; dies when fenced. */
static long
append_result(PGconn *c, PGresult *r)
{
	long	added;

	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die("append: %s", PQerrorMessage(c));
	if (strcmp(PQgetvalue(r, 0, 0), "1") != 0 ||
	    strcmp(PQgetvalue(r, 0, 1), "1") != 0)
		die("append: the run was not locked or not moved");
	added = strtol(PQgetvalue(r, 0, 2), NULL, 10);
	PQclear(r);
	return added;
}

/* One connection's share: runs r with r % nconns == conn. */
static long
job_run(struct job *j, long *txns_out)
{
	PGconn		*c = connect_or_die(j->conninfo);
	PGresult	*r;
	struct params	*p;
	long		*cur, *mine, nmine = 0, done = 0, k, w, total = 0;
	long		 txns = 0, i, q;
	int64_t		 now;

	/* As agentd's workers: a busy timeout of 10 s (store-pg.c). */
	cmd_or_die(c, "SET statement_timeout = 10000; "
	    "SET lock_timeout = 10000");
	if (j->mode == MODE_PREPARED) {
		r = PQprepare(c, "append", append_sql, 7, NULL);
		if (PQresultStatus(r) != PGRES_COMMAND_OK)
			die("prepare: %s", PQerrorMessage(c));
		PQclear(r);
	}
	mine = xmalloc((size_t)j->runs * sizeof *mine);
	for (i = j->conn; i < j->runs; i += j->nconns)
		mine[nmine++] = i;
	cur = xmalloc((size_t)nmine * sizeof *cur);
	memset(cur, 0, (size_t)nmine * sizeof *cur);
	p = xmalloc((size_t)j->rpt * sizeof *p);
	memset(p, 0, (size_t)j->rpt * sizeof *p);
	k = 0;
	while (done < nmine) {
		now = real_ms();
		if (j->mode == MODE_PIPELINE) {
			if (PQenterPipelineMode(c) != 1)
				die("pipeline: %s", PQerrorMessage(c));
			if (!PQsendQueryParams(c, "BEGIN", 0, NULL, NULL, NULL,
			    NULL, 0))
				die("begin: %s", PQerrorMessage(c));
		} else
			cmd_or_die(c, "BEGIN");
		for (w = 0; w < j->rpt && done < nmine; k = (k + 1) % nmine) {
			long	 run = mine[k], end;

			if (cur[k] >= j->nev)
				continue;
			end = cur[k] + j->per_run < j->nev ?
			    cur[k] + j->per_run : j->nev;
			params_build(&p[w], j->rn[run], j->ev[run], cur[k],
			    end, now);
			if (j->mode == MODE_PIPELINE) {
				if (!PQsendQueryParams(c, append_sql, 7, NULL,
				    p[w].pv, NULL, NULL, 0))
					die("send: %s", PQerrorMessage(c));
			} else {
				r = j->mode == MODE_PREPARED ?
				    PQexecPrepared(c, "append", 7, p[w].pv,
				    NULL, NULL, 0) :
				    PQexecParams(c, append_sql, 7, NULL,
				    p[w].pv, NULL, NULL, 0);
				total += append_result(c, r);
			}
			w++;
			cur[k] = end;
			if (end == j->nev)
				done++;
		}
		if (j->mode == MODE_PIPELINE) {
			if (!PQsendQueryParams(c, "COMMIT", 0, NULL, NULL,
			    NULL, NULL, 0) || PQpipelineSync(c) != 1)
				die("commit: %s", PQerrorMessage(c));
			/* BEGIN, w appends, COMMIT, then the sync. */
			for (q = 0; q < w + 2; q++) {
				r = PQgetResult(c);
				if (q == 0 || q == w + 1) {
					if (PQresultStatus(r) !=
					    PGRES_COMMAND_OK)
						die("pipeline: %s",
						    PQerrorMessage(c));
					PQclear(r);
				} else
					total += append_result(c, r);
				if ((r = PQgetResult(c)) != NULL)
					die("pipeline: an extra result");
			}
			r = PQgetResult(c);
			if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
				die("pipeline: no sync");
			PQclear(r);
			if (PQexitPipelineMode(c) != 1)
				die("pipeline: %s", PQerrorMessage(c));
		} else
			cmd_or_die(c, "COMMIT");
		txns++;
	}
	for (w = 0; w < j->rpt; w++) {
		free(p[w].seqs.p);
		free(p[w].types.p);
		free(p[w].datas.p);
	}
	free(p);
	free(cur);
	free(mine);
	PQfinish(c);
	*txns_out = txns;
	return total;
}

int
main(int argc, char **argv)
{
	const char	*conninfo = NULL;
	long		 runs = 200, deltas = 2000, per_run = 0, rpt = 0, nev;
	long		 r, i, total = 0, txns = 0;
	int		 nconns = 1, mode = MODE_TEXT, c, go[2], res[2];
	struct ev	**ev;
	int64_t		*rn, now;
	struct job	 j;
	PGconn		*pc;
	PGresult	*pr;
	pid_t		*kids;
	double		 t0, secs;
	char		 sql[512];

	for (c = 1; c < argc; c++) {
		const char	*o = argv[c];

		if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			printf("usage: bench-limit-pg --db CONNINFO [--runs N] "
			    "[--deltas N] [--per-run K]\n"
			    "           [--runs-per-txn R] [--conns C] "
			    "[--prepared] [--pipeline]\n"
			    "See the comment at the top of "
			    "tests/bench/limit-pg.c.\n");
			return 0;
		}
		if (strcmp(o, "--prepared") == 0) {
			mode = MODE_PREPARED;
			continue;
		}
		if (strcmp(o, "--pipeline") == 0) {
			mode = MODE_PIPELINE;
			continue;
		}
		if (c + 1 >= argc)
			die("%s: missing value (try --help)", o);
		if (strcmp(o, "--db") == 0)
			conninfo = argv[++c];
		else if (strcmp(o, "--runs") == 0)
			runs = int_arg(o, argv[++c], 1, 1000000);
		else if (strcmp(o, "--deltas") == 0)
			deltas = int_arg(o, argv[++c], 0, 1000000);
		else if (strcmp(o, "--per-run") == 0)
			per_run = int_arg(o, argv[++c], 1, 100000000);
		else if (strcmp(o, "--runs-per-txn") == 0)
			rpt = int_arg(o, argv[++c], 1, 1000000);
		else if (strcmp(o, "--conns") == 0)
			nconns = (int)int_arg(o, argv[++c], 1, 64);
		else
			die("unknown option %s (try --help)", o);
	}
	if (conninfo == NULL)
		die("--db CONNINFO is required (a database agentd migrated)");
	nev = deltas + 8;
	if (per_run == 0)
		per_run = nev;
	if (nconns > runs)
		nconns = (int)runs;
	if (rpt == 0 || rpt > runs)
		rpt = runs;

	/* The rows, built before the clock starts. */
	ev = xmalloc((size_t)runs * sizeof *ev);
	rn = xmalloc((size_t)runs * sizeof *rn);
	now = real_ms();
	for (r = 0; r < runs; r++)
		ev[r] = make_run_events(r + 1, deltas, (long)(now / 1000));
	/* The runs rows, as a worker holding generation 1 sees them. */
	pc = connect_or_die(conninfo);
	snprintf(sql, sizeof sql, "INSERT INTO runs (id, endpoint, request, "
	    "mode, resolved_mode, status, backend_id, lease_owner, lease_gen, "
	    "created_at, updated_at) SELECT 'lim_%ld_' || g, "
	    "'http://127.0.0.1:1/v1', '{\"model\":\"mock\"}', 'auto', "
	    "'background', 'running', 'resp_lim_%ld_' || g, 'worker/0', 1, "
	    "%" PRId64 ", %" PRId64 " FROM generate_series(1, %ld) AS g "
	    "ORDER BY g RETURNING n", (long)getpid(), (long)getpid(), now,
	    now, runs);
	pr = PQexec(pc, sql);
	if (PQresultStatus(pr) != PGRES_TUPLES_OK || PQntuples(pr) != runs)
		die("insert runs (is agentd's schema there?): %s",
		    PQerrorMessage(pc));
	for (r = 0; r < runs; r++)
		rn[r] = strtoll(PQgetvalue(pr, (int)r, 0), NULL, 10);
	PQclear(pr);
	PQfinish(pc);

	j.conninfo = conninfo;
	j.runs = runs;
	j.nev = nev;
	j.per_run = per_run;
	j.rpt = rpt;
	j.nconns = nconns;
	j.mode = mode;
	j.ev = ev;
	j.rn = rn;
	/*
	 * One child per connection, released at once through a pipe; each
	 * reports "events txns" on another. The clock runs from the release
	 * until the last child is done.
	 */
	if (pipe(go) != 0 || pipe(res) != 0)
		die("pipe: %s", strerror(errno));
	kids = xmalloc((size_t)nconns * sizeof *kids);
	for (c = 0; c < nconns; c++) {
		if ((kids[c] = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (kids[c] == 0) {
			char	 b;
			char	 line[64];
			long	 t, n;

			close(go[1]);
			close(res[0]);
			while (read(go[0], &b, 1) < 0 && errno == EINTR)
				;
			j.conn = c;
			n = job_run(&j, &t);
			snprintf(line, sizeof line, "%ld %ld\n", n, t);
			if (write(res[1], line, strlen(line)) < 0)
				_exit(1);
			_exit(0);
		}
	}
	close(go[0]);
	close(res[1]);
	usleep(100000);		/* let the children get to the pipe */
	t0 = mono_s();
	close(go[1]);		/* go */
	{
		FILE	*f = fdopen(res[0], "r");
		long	 n, t;
		int	 st, bad = 0;

		if (f == NULL)
			die("fdopen: %s", strerror(errno));
		while (fscanf(f, "%ld %ld", &n, &t) == 2) {
			total += n;
			txns += t;
		}
		for (c = 0; c < nconns; c++) {
			while (waitpid(kids[c], &st, 0) < 0 && errno == EINTR)
				;
			if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
				bad++;
		}
		secs = mono_s() - t0;
		fclose(f);
		if (bad)
			die("%d of %d connections failed", bad, nconns);
	}
	printf("limit_pg events=%ld seconds=%.3f events_per_s=%.0f txns=%ld "
	    "per_run=%ld runs_per_txn=%ld conns=%d mode=%s\n", total, secs,
	    (double)total / secs, txns, per_run, rpt, nconns,
	    mode == MODE_TEXT ? "text" : mode == MODE_PREPARED ? "prepared" :
	    "pipeline");
	for (r = 0; r < runs; r++) {
		for (i = 0; i < nev; i++)
			free(ev[r][i].data);
		free(ev[r]);
	}
	free(ev);
	free(rn);
	free(kids);
	return total == runs * nev ? 0 : 1;
}
