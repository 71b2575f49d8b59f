/*
 * bench-limit: the benchmark harness's small C helper (tests/bench/bench.sh).
 *
 *   cc -O2 $(pkg-config --cflags sqlite3) tests/bench/limit.c \
 *       -o build/bench-limit $(pkg-config --libs sqlite3)
 *
 * (the libraries after the source: with them first, as in
 * "cc -O2 $(pkg-config --cflags --libs sqlite3) limit.c", this toolchain's
 * linker drops -lsqlite3 and the link fails; bench.sh builds it this way.)
 *
 * Default mode: the storage ceiling. Inserts the rows agentd stores for the
 * throughput scenario (RUNS runs x (DELTAS + 8) events shaped like
 * agent-mock's: ~170-byte deltas, ~440-byte lifecycle events, four final
 * events carrying the whole text) into SQLite with agentd's schema subset,
 * pragmas (WAL, synchronous=NORMAL, foreign_keys, temp_store=MEMORY) and
 * write pattern (one BEGIN IMMEDIATE transaction per batch across runs; per
 * run the lease check, a SELECT of its lease_gen, its events in INSERT OR
 * IGNOREs of 32 rows with persistent prepared statements, and the fenced
 * cursor UPDATE), from --writers processes (agentd's workers, 2 by
 * default) with a connection each and the runs dealt round between them.
 * No HTTP, no parsing: what agentd could reach if everything but SQLite
 * were free.
 *
 *   bench-limit [--db FILE] [--runs N] [--deltas N] [--per-run K]
 *               [--runs-per-txn R] [--savepoint] [--events-rowid]
 *               [--multi M] [--writers N]
 *     (--savepoint, a SAVEPOINT per run instead of the lease check,
 *     --events-rowid, --multi 1, one INSERT per event, and --writers 1
 *     measure alternatives to agentd's write pattern and layout, for the
 *     profile report)
 *     prints: limit events=E seconds=S events_per_s=X txns=T per_run=K
 *             runs_per_txn=R
 *
 * Measuring modes used by bench.sh (all output key=value on one line):
 *
 *   bench-limit sample [-i MS] [-t MAX_S] -o FILE PID...
 *     Samples the process trees under PID... every MS (50) ms: the summed
 *     resident set (peak) and utime+stime of every process seen (CPU used
 *     inside the window). Ends on SIGTERM/SIGINT (after a last sample), when
 *     every PID is gone, or after MAX_S (3600) s; writes
 *     "peak_rss_kb=.. cpu_s=.. wall_s=.. samples=.. procs=.." to FILE.
 *   bench-limit run [-i MS] -o FILE -- CMD ARGS...
 *     Runs CMD, samples its tree the same way; on exit cpu_s is exact
 *     (wait4 rusage, including reaped descendants). Exits with CMD's status.
 *   bench-limit stamp
 *     Copies stdin lines to stdout, each prefixed with the unix time in
 *     microseconds at which the line was read (for SSE arrival times).
 *   bench-limit time [-n N] [-o FILE] -- CMD ARGS...
 *     Runs CMD N times (stdout/stderr to /dev/null) and prints the latency
 *     percentiles; an argument "{}" is replaced by successive stdin lines
 *     (one execution per line, N ignored). FILE gets every latency in ms.
 *   bench-limit pct
 *     Reads numbers from stdin, prints "n= p50= p90= p99= max= mean=".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

static void __attribute__((noreturn, format(printf, 1, 2)))
die(const char *fmt, ...)
{
	va_list	ap;

	fprintf(stderr, "bench-limit: ");
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

/* ---------------------------------------------------------------- pct */

static int
cmp_double(const void *a, const void *b)
{
	double	x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[0..n). */
static double
pct_of(const double *v, size_t n, double p)
{
	size_t	k;

	if (n == 0)
		return 0;
	k = (size_t)(p * (double)n);	/* ceil without libm */
	if ((double)k < p * (double)n)
		k++;
	if (k < 1)
		k = 1;
	if (k > n)
		k = n;
	return v[k - 1];
}

static void
print_pct(FILE *f, double *v, size_t n)
{
	double	sum = 0;
	size_t	i;

	qsort(v, n, sizeof *v, cmp_double);
	for (i = 0; i < n; i++)
		sum += v[i];
	fprintf(f, "n=%zu p50=%.3f p90=%.3f p99=%.3f max=%.3f mean=%.3f\n", n,
	    pct_of(v, n, 0.50), pct_of(v, n, 0.90), pct_of(v, n, 0.99),
	    n > 0 ? v[n - 1] : 0.0, n > 0 ? sum / (double)n : 0.0);
}

static int
mode_pct(void)
{
	double	*v = NULL, x;
	size_t	 n = 0, cap = 0;

	while (scanf("%lf", &x) == 1) {
		if (n == cap) {
			cap = cap ? cap * 2 : 1024;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[n++] = x;
	}
	print_pct(stdout, v, n);
	free(v);
	return 0;
}

/* ------------------------------------------------------------- sample */

struct proc {
	pid_t			pid;
	unsigned long long	start;		/* starttime, for pid reuse */
	unsigned long long	base, last;	/* utime+stime ticks */
	int			alive;
};

struct sampler {
	pid_t		*roots;
	int		 nroots;
	struct proc	*procs;
	size_t		 nprocs, cap;
	long		 peak_kb;
	long		 samples;
	int		 first;
	long		 pagesz, hz;
};

struct pstat {
	pid_t			pid, ppid;
	char			state;
	unsigned long long	ticks, start;
	long			rss_pages;
};

/* Parse /proc/PID/stat; 0 on success. */
static int
read_pstat(pid_t pid, struct pstat *ps)
{
	char			 path[64], buf[1024], *p;
	int			 fd, i;
	ssize_t			 n;
	unsigned long long	 ut = 0, st = 0;

	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	if ((fd = open(path, O_RDONLY)) < 0)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p += 2;			/* field 3: state */
	ps->pid = pid;
	ps->state = *p;
	/* Fields after the state, numbered from 4 (ppid). */
	for (i = 4; i <= 24 && p != NULL; i++) {
		p = strchr(p, ' ');
		if (p == NULL)
			break;
		p++;
		switch (i) {
		case 4:
			ps->ppid = (pid_t)strtol(p, NULL, 10);
			break;
		case 14:
			ut = strtoull(p, NULL, 10);
			break;
		case 15:
			st = strtoull(p, NULL, 10);
			break;
		case 22:
			ps->start = strtoull(p, NULL, 10);
			break;
		case 24:
			ps->rss_pages = strtol(p, NULL, 10);
			break;
		}
	}
	if (i <= 24)
		return -1;
	ps->ticks = ut + st;
	return 0;
}

static struct proc *
proc_find(struct sampler *s, pid_t pid, unsigned long long start)
{
	size_t	i;

	for (i = 0; i < s->nprocs; i++)
		if (s->procs[i].pid == pid && s->procs[i].start == start)
			return &s->procs[i];
	if (s->nprocs == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		s->procs = xrealloc(s->procs, s->cap * sizeof *s->procs);
	}
	memset(&s->procs[s->nprocs], 0, sizeof s->procs[0]);
	s->procs[s->nprocs].pid = pid;
	s->procs[s->nprocs].start = start;
	return &s->procs[s->nprocs++];
}

/* One sample: every process under the roots. Returns live processes. */
static int
sample_once(struct sampler *s)
{
	struct pstat	*all = NULL, ps;
	size_t		 nall = 0, cap = 0, i, j;
	char		*in;
	DIR		*d;
	struct dirent	*de;
	long		 kb = 0;
	int		 live = 0, changed;

	if ((d = opendir("/proc")) == NULL)
		die("/proc: %s", strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		if (read_pstat((pid_t)atoi(de->d_name), &ps) != 0)
			continue;
		if (nall == cap) {
			cap = cap ? cap * 2 : 512;
			all = xrealloc(all, cap * sizeof *all);
		}
		all[nall++] = ps;
	}
	closedir(d);
	in = xmalloc(nall);
	memset(in, 0, nall);
	for (i = 0; i < nall; i++)
		for (j = 0; j < (size_t)s->nroots; j++)
			if (all[i].pid == s->roots[j])
				in[i] = 1;
	do {			/* close over descendants */
		changed = 0;
		for (i = 0; i < nall; i++) {
			if (in[i])
				continue;
			for (j = 0; j < nall; j++)
				if (in[j] && all[j].pid == all[i].ppid) {
					in[i] = 1;
					changed = 1;
					break;
				}
		}
	} while (changed);
	for (i = 0; i < s->nprocs; i++)
		s->procs[i].alive = 0;
	for (i = 0; i < nall; i++) {
		struct proc	*p;
		int		 isnew;

		if (!in[i] || all[i].state == 'Z' || all[i].state == 'X')
			continue;
		live++;
		kb += all[i].rss_pages * (s->pagesz / 1024);
		isnew = 1;
		for (j = 0; j < s->nprocs; j++)
			if (s->procs[j].pid == all[i].pid &&
			    s->procs[j].start == all[i].start)
				isnew = 0;
		p = proc_find(s, all[i].pid, all[i].start);
		if (isnew)
			p->base = s->first ? all[i].ticks : 0;
		p->last = all[i].ticks;
		p->alive = 1;
	}
	if (kb > s->peak_kb)
		s->peak_kb = kb;
	s->samples++;
	s->first = 0;
	free(in);
	free(all);
	return live;
}

static double
sampler_cpu(const struct sampler *s)
{
	unsigned long long	t = 0;
	size_t			i;

	for (i = 0; i < s->nprocs; i++)
		t += s->procs[i].last - s->procs[i].base;
	return (double)t / (double)s->hz;
}

static void
sampler_init(struct sampler *s)
{
	memset(s, 0, sizeof *s);
	s->first = 1;
	s->pagesz = sysconf(_SC_PAGESIZE);
	s->hz = sysconf(_SC_CLK_TCK);
}

static volatile sig_atomic_t	stop_flag;

static void
on_stop(int sig)
{
	(void)sig;
	stop_flag = 1;
}

static void
sleep_ms(long ms)
{
	struct timespec	ts = { ms / 1000, (ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);	/* a signal cuts it short: fine */
}

static int
mode_sample(int argc, char **argv)
{
	struct sampler	 s;
	const char	*out = NULL;
	long		 interval = 50, max_s = 3600;
	double		 t0, t;
	FILE		*f;
	int		 c, i;

	while ((c = getopt(argc, argv, "i:o:t:")) != -1) {
		switch (c) {
		case 'i':
			interval = int_arg("-i", optarg, 1, 10000);
			break;
		case 'o':
			out = optarg;
			break;
		case 't':
			max_s = int_arg("-t", optarg, 1, 86400);
			break;
		default:
			return 2;
		}
	}
	if (out == NULL || optind >= argc)
		die("usage: bench-limit sample [-i MS] [-t MAX_S] -o FILE PID...");
	sampler_init(&s);
	s.nroots = argc - optind;
	s.roots = xmalloc((size_t)s.nroots * sizeof *s.roots);
	for (i = 0; i < s.nroots; i++)
		s.roots[i] = (pid_t)int_arg("PID", argv[optind + i], 1, 1 << 30);
	signal(SIGTERM, on_stop);
	signal(SIGINT, on_stop);
	t0 = mono_s();
	for (;;) {
		if (sample_once(&s) == 0 && s.samples > 1)
			break;
		t = mono_s();
		if (stop_flag || t - t0 > (double)max_s)
			break;
		sleep_ms(interval);
		if (stop_flag) {
			sample_once(&s);
			break;
		}
	}
	if ((f = fopen(out, "w")) == NULL)
		die("%s: %s", out, strerror(errno));
	fprintf(f, "peak_rss_kb=%ld cpu_s=%.2f wall_s=%.3f samples=%ld "
	    "procs=%zu\n", s.peak_kb, sampler_cpu(&s), mono_s() - t0,
	    s.samples, s.nprocs);
	fclose(f);
	return 0;
}

static int
mode_run(int argc, char **argv)
{
	struct sampler	 s;
	struct rusage	 ru;
	const char	*out = NULL;
	long		 interval = 50;
	double		 t0, cpu;
	pid_t		 pid, w;
	FILE		*f;
	int		 c, status = 0;

	while ((c = getopt(argc, argv, "+i:o:")) != -1) {
		switch (c) {
		case 'i':
			interval = int_arg("-i", optarg, 1, 10000);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (out == NULL || optind >= argc)
		die("usage: bench-limit run [-i MS] -o FILE -- CMD ARGS...");
	sampler_init(&s);
	t0 = mono_s();
	if ((pid = fork()) < 0)
		die("fork: %s", strerror(errno));
	if (pid == 0) {
		execvp(argv[optind], argv + optind);
		fprintf(stderr, "bench-limit: %s: %s\n", argv[optind],
		    strerror(errno));
		_exit(127);
	}
	s.nroots = 1;
	s.roots = &pid;
	s.first = 0;		/* everything is born inside the window */
	for (;;) {
		w = wait4(pid, &status, WNOHANG, &ru);
		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			die("wait4: %s", strerror(errno));
		sample_once(&s);
		sleep_ms(interval);
	}
	cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
	if (ru.ru_maxrss > s.peak_kb)
		s.peak_kb = ru.ru_maxrss;
	if ((f = fopen(out, "w")) == NULL)
		die("%s: %s", out, strerror(errno));
	fprintf(f, "peak_rss_kb=%ld cpu_s=%.2f wall_s=%.3f samples=%ld "
	    "exit=%d\n", s.peak_kb, cpu, mono_s() - t0, s.samples,
	    WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	fclose(f);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* -------------------------------------------------------------- stamp */

static int
mode_stamp(void)
{
	char		 buf[65536], *line = NULL, *nl, *p;
	size_t		 len = 0, cap = 0;
	ssize_t		 n;
	struct timespec	 ts;
	long long	 us;

	for (;;) {
		n = read(0, buf, sizeof buf);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		clock_gettime(CLOCK_REALTIME, &ts);
		us = (long long)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			line = xrealloc(line, cap);
		}
		memcpy(line + len, buf, (size_t)n);
		len += (size_t)n;
		p = line;
		while ((nl = memchr(p, '\n', len - (size_t)(p - line))) != NULL) {
			printf("%lld %.*s\n", us, (int)(nl - p), p);
			p = nl + 1;
		}
		len -= (size_t)(p - line);
		memmove(line, p, len);
		fflush(stdout);
	}
	if (len > 0)
		printf("0 %.*s\n", (int)len, line);
	free(line);
	return 0;
}

/* --------------------------------------------------------------- time */

static int
mode_time(int argc, char **argv)
{
	const char	*out = NULL;
	long		 count = 50, i, fails = 0;
	double		*v = NULL, t0;
	size_t		 nv = 0, cap = 0;
	char		**args, line[4096];
	int		 c, a, nargs, subst = 0, status, devnull;
	pid_t		 pid;
	FILE		*f = NULL;

	while ((c = getopt(argc, argv, "+n:o:")) != -1) {
		switch (c) {
		case 'n':
			count = int_arg("-n", optarg, 1, 1000000);
			break;
		case 'o':
			out = optarg;
			break;
		default:
			return 2;
		}
	}
	if (optind >= argc)
		die("usage: bench-limit time [-n N] [-o FILE] -- CMD ARGS...");
	nargs = argc - optind;
	args = xmalloc(((size_t)nargs + 1) * sizeof *args);
	for (a = 0; a < nargs; a++) {
		args[a] = argv[optind + a];
		if (strcmp(args[a], "{}") == 0)
			subst = 1;
	}
	args[nargs] = NULL;
	if ((devnull = open("/dev/null", O_RDWR)) < 0)
		die("/dev/null: %s", strerror(errno));
	for (i = 0; subst || i < count; i++) {
		if (subst) {
			size_t	l;

			if (fgets(line, sizeof line, stdin) == NULL)
				break;
			l = strcspn(line, "\r\n");
			line[l] = '\0';
			if (l == 0)
				continue;
			for (a = 0; a < nargs; a++)
				args[a] = strcmp(argv[optind + a], "{}") == 0 ?
				    line : argv[optind + a];
		}
		t0 = mono_s();
		if ((pid = fork()) < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			dup2(devnull, 0);
			dup2(devnull, 1);
			dup2(devnull, 2);
			execvp(args[0], args);
			_exit(127);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			fails++;
		if (nv == cap) {
			cap = cap ? cap * 2 : 256;
			v = xrealloc(v, cap * sizeof *v);
		}
		v[nv++] = (mono_s() - t0) * 1000.0;
	}
	if (out != NULL) {
		if ((f = fopen(out, "w")) == NULL)
			die("%s: %s", out, strerror(errno));
		for (i = 0; i < (long)nv; i++)
			fprintf(f, "%.3f\n", v[i]);
		fclose(f);
	}
	printf("fails=%ld ", fails);
	print_pct(stdout, v, nv);
	free(v);
	free(args);
	return 0;
}

/* -------------------------------------------------------------- limit */

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

static void
exec_or_die(sqlite3 *db, const char *sql)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK)
		die("%s: %s", sql, err != NULL ? err : sqlite3_errmsg(db));
}

static const char schema_sql[] =
"CREATE TABLE IF NOT EXISTS runs ("
" n INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, idempotency_key TEXT UNIQUE,"
" queue TEXT NOT NULL DEFAULT 'default', priority INTEGER NOT NULL DEFAULT 0,"
" endpoint TEXT NOT NULL, dialect TEXT NOT NULL DEFAULT 'openai',"
" request TEXT NOT NULL, mode TEXT NOT NULL DEFAULT 'auto',"
" resolved_mode TEXT, status TEXT NOT NULL DEFAULT 'pending',"
" backend_id TEXT, backend_status TEXT, resumable INTEGER NOT NULL DEFAULT 1,"
" attempts INTEGER NOT NULL DEFAULT 0, last_seq INTEGER NOT NULL DEFAULT -1,"
" event_count INTEGER NOT NULL DEFAULT 0, last_event_at INTEGER,"
" attached_at INTEGER, lease_owner TEXT, lease_gen INTEGER NOT NULL DEFAULT 0,"
" lease_expires INTEGER, error_status INTEGER, error_message TEXT,"
" error_body TEXT,"
" created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,"
" finished_at INTEGER);"
"CREATE TABLE IF NOT EXISTS run_results ("
" n INTEGER PRIMARY KEY, response TEXT, output_text TEXT);"
"CREATE INDEX IF NOT EXISTS runs_status ON runs(status, n);"
"CREATE INDEX IF NOT EXISTS runs_queue ON runs(queue, n);"
"CREATE TABLE IF NOT EXISTS events ("
" run_n INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,"
" data TEXT NOT NULL, at INTEGER NOT NULL,"
" PRIMARY KEY (run_n, seq)) WITHOUT ROWID;";

/* --events-rowid: an alternative layout to measure, not agentd's: events in
 * arrival (rowid) order, the (run_n, seq) key in a separate index, so rows
 * interleaved across runs fill pages sequentially. */
static const char events_rowid_sql[] =
"CREATE TABLE IF NOT EXISTS events ("
" run_n INTEGER NOT NULL, seq INTEGER NOT NULL, type TEXT NOT NULL,"
" data TEXT NOT NULL, at INTEGER NOT NULL);"
"CREATE UNIQUE INDEX IF NOT EXISTS events_key ON events(run_n, seq);";

/* agentd's busy handler (lib/store.c): retry every 200 us for 10 s. */
static int
limit_busy(void *arg, int tries)
{
	struct timespec	ts = { 0, 200 * 1000 };

	(void)arg;
	if (tries >= 50000)
		return 0;
	nanosleep(&ts, NULL);
	return 1;
}

/* A writer's own connection, set up as agentd's. */
static sqlite3 *
limit_open(const char *path)
{
	sqlite3	*db;

	if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		die("%s: %s", path, sqlite3_errmsg(db));
	sqlite3_busy_handler(db, limit_busy, NULL);
	exec_or_die(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
	    "PRAGMA temp_store=MEMORY");
	return db;
}

/* Wait for the writers; sum the "total txns" lines they wrote to fd. */
static void
limit_collect(int fd, long writers, long *total, long *txns)
{
	char	buf[4096];
	size_t	len = 0;
	ssize_t	n;
	long	t, x, i;
	char	*p;
	int	st;

	while ((n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	for (i = 0; i < writers; i++)
		if (wait(&st) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
			die("a writer failed");
	for (p = buf, i = 0; i < writers; i++) {
		if (sscanf(p, "%ld %ld", &t, &x) != 2)
			die("a writer reported nothing");
		*total += t;
		*txns += x;
		if ((p = strchr(p, '\n')) == NULL)
			break;
		p++;
	}
}

static int
mode_limit(int argc, char **argv)
{
	const char	*dbpath = NULL;
	char		 tmpl[4096];
	long		 runs = 200, deltas = 2000, per_run = 0, rpt = 0;
	long		 nev, r, i, k, done_runs, txns = 0, total = 0, w;
	int		 savepoint = 0, tmpdb = 0, rowid = 0, c;
	long		 multi = 32;	/* INS_ROWS in lib/store.c */
	long		 writers = 2, my_runs;
	int		 me = 0, pfd[2] = { -1, -1 };
	sqlite3_stmt	*mins = NULL;
	struct ev	**ev;
	long		*cur;
	sqlite3		*db;
	sqlite3_stmt	*ins, *upd, *run_ins, *gen;
	double		 t0, secs;
	int64_t		 now;

	for (c = 1; c < argc; c++) {
		const char	*o = argv[c];

		if (strcmp(o, "--savepoint") == 0 ||
		    strcmp(o, "--no-savepoint") == 0) {
			savepoint = o[2] == 's';
			continue;
		}
		if (strcmp(o, "--events-rowid") == 0) {
			rowid = 1;
			continue;
		}
		if (c + 1 >= argc)
			die("%s: missing value (try --help)", o);
		if (strcmp(o, "--db") == 0)
			dbpath = argv[++c];
		else if (strcmp(o, "--runs") == 0)
			runs = int_arg(o, argv[++c], 1, 1000000);
		else if (strcmp(o, "--deltas") == 0)
			deltas = int_arg(o, argv[++c], 0, 1000000);
		else if (strcmp(o, "--per-run") == 0)
			per_run = int_arg(o, argv[++c], 1, 100000000);
		else if (strcmp(o, "--runs-per-txn") == 0)
			rpt = int_arg(o, argv[++c], 1, 1000000);
		else if (strcmp(o, "--multi") == 0)
			multi = int_arg(o, argv[++c], 1, 1000);
		else if (strcmp(o, "--writers") == 0)
			writers = int_arg(o, argv[++c], 1, 64);
		else
			die("unknown option %s", o);
	}
	nev = deltas + 8;
	if (per_run == 0)
		per_run = nev;
	if (rpt == 0 || rpt > runs)
		rpt = runs;
	if (dbpath == NULL) {
		const char	*td = getenv("TMPDIR");
		int		 fd;

		snprintf(tmpl, sizeof tmpl, "%s/bench-limit-XXXXXX",
		    td != NULL && *td != '\0' ? td : "/tmp");
		if ((fd = mkstemp(tmpl)) < 0)
			die("mkstemp %s: %s", tmpl, strerror(errno));
		close(fd);
		unlink(tmpl);
		dbpath = tmpl;
		tmpdb = 1;
	}
	/* The rows, built before the clock starts. */
	ev = xmalloc((size_t)runs * sizeof *ev);
	cur = xmalloc((size_t)runs * sizeof *cur);
	now = real_ms();
	for (r = 0; r < runs; r++) {
		ev[r] = make_run_events(r + 1, deltas, (long)(now / 1000));
		cur[r] = 0;
	}
	if (sqlite3_open_v2(dbpath, &db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		die("%s: %s", dbpath, sqlite3_errmsg(db));
	sqlite3_busy_handler(db, limit_busy, NULL);
	exec_or_die(db, "PRAGMA journal_mode=WAL");
	exec_or_die(db, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
	    "PRAGMA temp_store=MEMORY");
	if (rowid)
		exec_or_die(db, events_rowid_sql);
	exec_or_die(db, schema_sql);
	if (sqlite3_prepare_v2(db, "INSERT INTO runs (id, endpoint, request, "
	    "mode, resolved_mode, status, backend_id, lease_owner, lease_gen, "
	    "created_at, updated_at) VALUES (printf('r_%016x', ?1), "
	    "'http://127.0.0.1:1/v1', '{\"model\":\"mock\"}', 'auto', "
	    "'background', 'running', printf('resp_%024x', ?1), 'worker/0', 1, "
	    "?2, ?2)", -1, &run_ins, NULL) != SQLITE_OK)
		die("prepare: %s", sqlite3_errmsg(db));
	exec_or_die(db, "BEGIN IMMEDIATE");
	for (r = 0; r < runs; r++) {
		sqlite3_bind_int64(run_ins, 1, r + 1);
		sqlite3_bind_int64(run_ins, 2, now);
		if (sqlite3_step(run_ins) != SQLITE_DONE)
			die("insert run: %s", sqlite3_errmsg(db));
		sqlite3_reset(run_ins);
	}
	exec_or_die(db, "COMMIT");
	sqlite3_finalize(run_ins);
	t0 = mono_s();
	if (writers > 1) {
		/*
		 * As agentd's workers: a process and a connection each, the
		 * runs dealt round, one write lock between them, each
		 * checkpointing after its own commits.
		 */
		sqlite3_close(db);
		if (pipe(pfd) != 0)
			die("pipe: %s", strerror(errno));
		fflush(stdout);
		for (c = 0; c < writers; c++) {
			pid_t	pid = fork();

			if (pid < 0)
				die("fork: %s", strerror(errno));
			if (pid == 0) {
				me = c;
				close(pfd[0]);
				db = limit_open(dbpath);
				goto write;
			}
		}
		close(pfd[1]);
		limit_collect(pfd[0], writers, &total, &txns);
		secs = mono_s() - t0;
		goto report;
	}
write:
	/* agentd's statements (lib/store.c), verbatim: a run's events in
	   INSERTs of `multi` rows, the rest one by one, then the cursor. */
	if (sqlite3_prepare_v3(db, "INSERT OR IGNORE INTO events "
	    "(run_n, seq, type, data, at) VALUES (?, ?, ?, ?, ?)", -1,
	    SQLITE_PREPARE_PERSISTENT, &ins, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "UPDATE runs SET last_seq = max(last_seq, "
	    "?), event_count = event_count + ?, last_event_at = ?, "
	    "updated_at = ? WHERE n = ? AND lease_gen = ?", -1,
	    SQLITE_PREPARE_PERSISTENT, &upd, NULL) != SQLITE_OK ||
	    sqlite3_prepare_v3(db, "SELECT lease_gen FROM runs WHERE n = ?", -1,
	    SQLITE_PREPARE_PERSISTENT, &gen, NULL) != SQLITE_OK)
		die("prepare: %s", sqlite3_errmsg(db));
	if (multi > 1) {
		char	*q = xmalloc(64 + (size_t)multi * 40), *e;
		long	 j;

		e = q + sprintf(q, "INSERT OR IGNORE INTO events (run_n, seq, type, data, at) VALUES ");
		for (j = 0; j < multi; j++)
			e += sprintf(e, "%s(?1, ?%ld, ?%ld, ?%ld, ?2)", j ? "," : "", 3 * j + 3, 3 * j + 4, 3 * j + 5);
		if (sqlite3_prepare_v3(db, q, -1, SQLITE_PREPARE_PERSISTENT, &mins, NULL) != SQLITE_OK)
			die("prepare multi: %s", sqlite3_errmsg(db));
		free(q);
	}

	for (my_runs = 0, r = me; r < runs; r += writers)
		my_runs++;
	done_runs = 0;
	r = me;
	while (done_runs < my_runs) {
		/* One transaction: the next rpt unfinished runs, per_run each. */
		exec_or_die(db, "BEGIN IMMEDIATE");
		now = real_ms();
		for (w = 0; w < rpt && done_runs < my_runs;
		    r = (r + writers) % runs) {
			long	end, added = 0;

			if (cur[r] >= nev || r % writers != me)
				continue;
			w++;
			end = cur[r] + per_run < nev ? cur[r] + per_run : nev;
			if (savepoint)
				exec_or_die(db, "SAVEPOINT ev");
			else {
				/* agentd's lease check (store_events_append) */
				sqlite3_bind_int64(gen, 1, r + 1);
				if (sqlite3_step(gen) != SQLITE_ROW ||
				    sqlite3_column_int64(gen, 0) != 1)
					die("lease check: %s", sqlite3_errmsg(db));
				sqlite3_reset(gen);
			}
			k = cur[r];
			while (mins != NULL && end - k >= multi) {
				long	j;

				sqlite3_bind_int64(mins, 1, r + 1);
				sqlite3_bind_int64(mins, 2, now);
				for (j = 0; j < multi; j++, k++) {
					sqlite3_bind_int64(mins, (int)(3 * j + 3), k);
					sqlite3_bind_text(mins, (int)(3 * j + 4), ev[r][k].type, -1, SQLITE_STATIC);
					sqlite3_bind_text(mins, (int)(3 * j + 5), ev[r][k].data, ev[r][k].len, SQLITE_STATIC);
				}
				if (sqlite3_step(mins) != SQLITE_DONE)
					die("insert: %s", sqlite3_errmsg(db));
				added += sqlite3_changes(db);
				sqlite3_reset(mins);
			}
			for (; k < end; k++) {
				sqlite3_bind_int64(ins, 1, r + 1);
				sqlite3_bind_int64(ins, 2, k);
				sqlite3_bind_text(ins, 3, ev[r][k].type, -1,
				    SQLITE_STATIC);
				sqlite3_bind_text(ins, 4, ev[r][k].data,
				    ev[r][k].len, SQLITE_STATIC);
				sqlite3_bind_int64(ins, 5, now);
				if (sqlite3_step(ins) != SQLITE_DONE)
					die("insert: %s", sqlite3_errmsg(db));
				added += sqlite3_changes(db);
				sqlite3_reset(ins);
			}
			sqlite3_bind_int64(upd, 1, end - 1);
			sqlite3_bind_int(upd, 2, (int)added);
			sqlite3_bind_int64(upd, 3, now);
			sqlite3_bind_int64(upd, 4, now);
			sqlite3_bind_int64(upd, 5, r + 1);
			sqlite3_bind_int64(upd, 6, 1);
			if (sqlite3_step(upd) != SQLITE_DONE ||
			    sqlite3_changes(db) != 1)
				die("update: %s", sqlite3_errmsg(db));
			sqlite3_reset(upd);
			if (savepoint)
				exec_or_die(db, "RELEASE ev");
			total += added;
			cur[r] = end;
			if (end == nev)
				done_runs++;
		}
		exec_or_die(db, "COMMIT");
		txns++;
	}
	secs = mono_s() - t0;
	sqlite3_finalize(ins);
	sqlite3_finalize(upd);
	sqlite3_finalize(mins);
	sqlite3_finalize(gen);
	sqlite3_close(db);
	if (writers > 1) {
		char	line[64];
		int	n = snprintf(line, sizeof line, "%ld %ld\n", total, txns);

		if (write(pfd[1], line, (size_t)n) != n)
			_exit(1);
		_exit(0);
	}
report:
	printf("limit events=%ld seconds=%.3f events_per_s=%.0f txns=%ld "
	    "per_run=%ld runs_per_txn=%ld savepoint=%d multi=%ld writers=%ld%s\n",
	    total, secs, (double)total / secs, txns, per_run, rpt, savepoint,
	    multi, writers,
	    rowid ? " layout=events-rowid" : "");
	if (tmpdb) {
		char	p[4200];

		unlink(dbpath);
		snprintf(p, sizeof p, "%s-wal", dbpath);
		unlink(p);
		snprintf(p, sizeof p, "%s-shm", dbpath);
		unlink(p);
	}
	for (r = 0; r < runs; r++) {
		for (i = 0; i < nev; i++)
			free(ev[r][i].data);
		free(ev[r]);
	}
	free(ev);
	free(cur);
	return total == runs * nev ? 0 : 1;
}

int
main(int argc, char **argv)
{
	if (argc > 1 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		printf("usage: bench-limit [--db FILE] [--runs N] [--deltas N] "
		    "[--per-run K] [--runs-per-txn R] [--savepoint]\n"
		    "                   [--events-rowid] [--multi M] [--writers N]\n"
		    "       bench-limit sample [-i MS] [-t MAX_S] -o FILE PID...\n"
		    "       bench-limit run [-i MS] -o FILE -- CMD ARGS...\n"
		    "       bench-limit stamp\n"
		    "       bench-limit time [-n N] [-o FILE] -- CMD ARGS...\n"
		    "       bench-limit pct\n"
		    "See the comment at the top of tests/bench/limit.c.\n");
		return 0;
	}
	if (argc > 1 && strcmp(argv[1], "sample") == 0)
		return mode_sample(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "run") == 0)
		return mode_run(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "stamp") == 0)
		return mode_stamp();
	if (argc > 1 && strcmp(argv[1], "time") == 0)
		return mode_time(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "pct") == 0)
		return mode_pct();
	return mode_limit(argc, argv);
}
