/*
 * agentctl batch list, batch status NAME, batch wait NAME: the progress of
 * named batches from GET /v1/batches[/NAME], or from the store when agentd
 * is not running. wait polls until every run of the batch has finished,
 * drawing a progress bar on a terminal and a plain line now and then
 * otherwise.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentctl.h"
#include "batch.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

#define WAIT_POLL_MS	500		/* poll interval of batch wait */
#define WAIT_PLAIN_MS	10000		/* plain lines at most every 10 s */
#define BAR_WIDTH	30

static int	cmd_batch_list_exec(struct ctl_ctx *, int, char **);
static int	cmd_batch_status_exec(struct ctl_ctx *, int, char **);
static int	cmd_batch_wait_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_batch_list = {
	"batch list",
	"[--db PATH]",
	"List every batch, newest first: NAME, QUEUE, RUNS, COMPLETED,\n"
	"FAILED (finished but not completed: failed, incomplete, cancelled or\n"
	"abandoned), ACTIVE (not finished), PROGRESS (finished, percent), ETA\n"
	"and AGE. --json prints the daemon's {\"batches\":[...]}. If agentd\n"
	"is not running, reads its database (--db PATH, else $AGENTD_DB).\n",
	0, 0,
	cmd_batch_list_exec
};

const struct ctl_cmd ctl_cmd_batch_status = {
	"batch status",
	"NAME [--db PATH]",
	"Show the progress of batch NAME: its queue, runs by status, runs\n"
	"finished out of the total with the percentage, the rate (runs\n"
	"finished per minute over the last 5 minutes, or since the batch was\n"
	"created if that is sooner) and the estimated time left. --json\n"
	"prints the daemon's JSON. If agentd is not running, reads its\n"
	"database (--db PATH, else $AGENTD_DB). Exit status 4 if there is no\n"
	"such batch.\n",
	1, 1,
	cmd_batch_status_exec
};

const struct ctl_cmd ctl_cmd_batch_wait = {
	"batch wait",
	"NAME [--timeout SECS] [--db PATH]",
	"Wait until every run of batch NAME has finished, polling twice a\n"
	"second. On a terminal, shows a progress bar; otherwise prints a\n"
	"progress line when something changed, at most every 10 seconds.\n"
	"Ends with \"batch NAME: all N runs finished: completed C, ...\".\n"
	"--timeout stops waiting after SECS seconds (exit 1). --json prints\n"
	"the final status JSON instead of progress. Exit status: 0 if every\n"
	"run completed, 1 if any failed, was cancelled, incomplete or\n"
	"abandoned, or on timeout; 4 no such batch. If agentd is not running,\n"
	"reads its database (--db PATH, else $AGENTD_DB); if it goes away\n"
	"while waiting, keeps trying.\n",
	1, 1,
	cmd_batch_wait_exec
};

static const struct option info_opts[] = {
	{ "db",		required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};

static const struct option wait_opts[] = {
	{ "db",		required_argument, NULL, 'D' },
	{ "timeout",	required_argument, NULL, 't' },
	CTL_COMMON_OPTS
};

/* The statuses in the order they are shown. */
static const char *const status_order[] = {
	"completed", "failed", "incomplete", "cancelled", "abandoned",
	"running", "starting", "pending", NULL
};

/*
 * The status of batch name: from agentd, or from the store if agentd is
 * not running (then *stp is opened, and used from then on). 0 with *out
 * set, or an exit code after reporting why.
 */
static int
get_status(struct ctl_ctx *ctx, const char *name, const char *dbopt,
    struct store **stp, json_t **out)
{
	char	*path;
	int	 rc;

	*out = NULL;
	if (*stp == NULL) {
		path = ctl_batch_path(name, "");
		rc = ctl_call(ctx, "GET", path, NULL, dbopt, 0, out, stp);
		free(path);
		if (rc != 0 || *stp == NULL)
			return rc;
	}
	if ((*out = batch_status_json(*stp, name)) == NULL) {
		ctl_error(ctx, "no batch %s", name);
		return CTL_EXIT_NOTFOUND;
	}
	return CTL_EXIT_OK;
}

/* Parse the common options (--db) of list and status. */
static int
info_options(struct ctl_ctx *ctx, int argc, char **argv, const char **dbopt)
{
	int	ch;

	while ((ch = ctl_getopt(ctx, argc, argv, "", info_opts)) != -1) {
		if (ch == 'D')
			*dbopt = optarg;
		else
			return ctl_getopt_exit(ctx, ch) == CTL_EXIT_OK ?
			    -1 : CTL_EXIT_USAGE;
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	return 0;
}

/* Runs finished and in total; the finished percentage. */
static double
progress(json_t *o, long long *finished, long long *total)
{
	*finished = ctl_int(o, "finished", 0);
	*total = ctl_int(o, "total", 0);
	return *total > 0 ? 100.0 * (double)*finished / (double)*total : 100.0;
}

/* "completed 400, failed 50, pending 550": the non-zero counts. */
static void
counts_text(json_t *o, char *buf, size_t len)
{
	json_t		*counts = json_object_get(o, "counts"), *v;
	const char	*key, *const *sp;
	size_t		 off = 0;
	int		 n;

	buf[0] = '\0';
	for (sp = status_order; *sp != NULL; sp++) {
		if (ctl_int(counts, *sp, 0) == 0)
			continue;
		n = snprintf(buf + off, len - off, "%s%s %lld",
		    off > 0 ? ", " : "", *sp, ctl_int(counts, *sp, 0));
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	json_object_foreach(counts, key, v) {
		for (sp = status_order; *sp != NULL; sp++)
			if (strcmp(*sp, key) == 0)
				break;
		if (*sp != NULL || !json_is_integer(v))
			continue;
		n = snprintf(buf + off, len - off, "%s%s %lld",
		    off > 0 ? ", " : "", key, (long long)json_integer_value(v));
		if (n < 0 || (size_t)n >= len - off)
			return;
		off += (size_t)n;
	}
	if (off == 0)
		snprintf(buf, len, "no runs");
}

/* The estimated time left: "4m 5s", "done" or "unknown". */
static void
eta_text(json_t *o, char *buf, size_t len)
{
	long long	finished, total;
	json_t		*v = json_object_get(o, "eta_s");

	progress(o, &finished, &total);
	if (finished >= total)
		snprintf(buf, len, "done");
	else if (json_is_integer(v))
		ctl_fmt_uptime(json_integer_value(v), buf, len);
	else
		snprintf(buf, len, "unknown");
}

/* The rate of the status as a number of runs per minute. */
static double
rate(json_t *o)
{
	json_t	*v = json_object_get(o, "rate_per_min");

	return json_is_number(v) ? json_number_value(v) : 0.0;
}

/* batch list */
static int
cmd_batch_list_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "NAME", "QUEUE", "RUNS",
	    "COMPLETED", "FAILED", "ACTIVE", "PROGRESS", "ETA", "AGE" };
	struct ctl_table	*t;
	struct store		*st = NULL;
	const char		*dbopt = NULL, *cells[9];
	char			 buf[6][32], age[16];
	json_t			*list = NULL, *b;
	long long		 fin, tot, comp;
	size_t			 i;
	int			 c, rc;

	if ((rc = info_options(ctx, argc, argv, &dbopt)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	if ((rc = ctl_call(ctx, "GET", "/v1/batches", NULL, dbopt, 0, &list,
	    &st)) != 0)
		return rc;
	if (st != NULL) {
		list = batch_list_json(st);
		store_close(st);
	}
	if (ctx->json) {
		ctl_print_json(list);
		json_decref(list);
		return CTL_EXIT_OK;
	}
	t = ctl_table_new(9, headers);
	json_array_foreach(json_object_get(list, "batches"), i, b) {
		progress(b, &fin, &tot);
		comp = ctl_int(json_object_get(b, "counts"), "completed", 0);
		snprintf(buf[0], sizeof buf[0], "%lld", tot);
		snprintf(buf[1], sizeof buf[1], "%lld", comp);
		snprintf(buf[2], sizeof buf[2], "%lld", fin - comp);
		snprintf(buf[3], sizeof buf[3], "%lld", tot - fin);
		snprintf(buf[4], sizeof buf[4], "%.0f%%",
		    progress(b, &fin, &tot));
		eta_text(b, buf[5], sizeof buf[5]);
		ctl_age(b, "created_at", age, sizeof age);
		cells[0] = ctl_str(b, "name", "-");
		cells[1] = ctl_str(b, "queue", "-");
		for (c = 0; c < 6; c++)
			cells[c + 2] = buf[c];
		cells[8] = age;
		ctl_table_add(t, cells, NULL);
	}
	ctl_table_print(ctx, t, "");
	ctl_table_free(t);
	json_decref(list);
	return CTL_EXIT_OK;
}

/* Print one batch's status for people. */
static void
print_status(struct ctl_ctx *ctx, json_t *o)
{
	static const char *const headers[] = { "STATUS", "RUNS" };
	struct ctl_table	*t;
	const char		*cells[2], *colors[2], *key, *const *sp;
	char			 buf[64], n[24];
	json_t			*counts, *v;
	long long		 fin, tot;
	double			 pct;
	int			 young;

	counts = json_object_get(o, "counts");
	pct = progress(o, &fin, &tot);
	printf("batch:     %s\n", ctl_str(o, "name", "-"));
	printf("queue:     %s\n", ctl_str(o, "queue", "-"));
	if (json_is_integer(json_object_get(o, "max_attempts")))
		printf("attempts:  up to %lld per run\n",
		    ctl_int(o, "max_attempts", 0));
	if (json_is_integer(json_object_get(o, "created_at"))) {
		ctl_fmt_time(ctl_int(o, "created_at", 0), buf, sizeof buf);
		printf("created:   %s\n", buf);
	}
	if (json_is_integer(json_object_get(o, "cancelled_at"))) {
		ctl_fmt_time(ctl_int(o, "cancelled_at", 0), buf, sizeof buf);
		printf("cancelled: %s\n", buf);
	}
	printf("progress:  %lld/%lld finished (%.1f%%)\n", fin, tot, pct);
	young = util_now_ms() - ctl_int(o, "created_at", 0) <
	    BATCH_RATE_WINDOW_MS;
	printf("rate:      %.1f runs/min (%s)\n", rate(o),
	    young ? "since the batch was created" : "last 5 minutes");
	eta_text(o, buf, sizeof buf);
	printf("time left: %s\n", buf);
	printf("runs by status:\n");
	if (json_object_size(counts) == 0) {
		printf("  none\n");
		return;
	}
	t = ctl_table_new(2, headers);
	for (sp = status_order; *sp != NULL; sp++) {
		if (!json_is_integer(v = json_object_get(counts, *sp)))
			continue;
		snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
		cells[0] = *sp;
		cells[1] = n;
		colors[0] = ctl_status_color(*sp);
		colors[1] = NULL;
		ctl_table_add(t, cells, colors);
	}
	json_object_foreach(counts, key, v) {
		for (sp = status_order; *sp != NULL; sp++)
			if (strcmp(*sp, key) == 0)
				break;
		if (*sp != NULL || !json_is_integer(v))
			continue;
		snprintf(n, sizeof n, "%lld", (long long)json_integer_value(v));
		cells[0] = key;
		cells[1] = n;
		colors[0] = colors[1] = NULL;
		ctl_table_add(t, cells, colors);
	}
	ctl_table_print(ctx, t, "  ");
	ctl_table_free(t);
}

/* batch status NAME */
static int
cmd_batch_status_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct store	*st = NULL;
	const char	*dbopt = NULL;
	json_t		*o;
	int		 rc;

	if ((rc = info_options(ctx, argc, argv, &dbopt)) != 0)
		return rc < 0 ? CTL_EXIT_OK : rc;
	rc = get_status(ctx, argv[optind], dbopt, &st, &o);
	store_close(st);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(o);
	else
		print_status(ctx, o);
	json_decref(o);
	return CTL_EXIT_OK;
}

/* Sleep ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Draw the progress bar line over the previous one. */
static void
draw_bar(json_t *o)
{
	char		 bar[BAR_WIDTH + 1], counts[256], eta[32];
	long long	 fin, tot;
	double		 pct;
	int		 i, full;

	pct = progress(o, &fin, &tot);
	full = (int)(pct / 100.0 * BAR_WIDTH + 0.5);
	for (i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < full ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	counts_text(o, counts, sizeof counts);
	eta_text(o, eta, sizeof eta);
	printf("\r[%s] %lld/%lld %3.0f%%  %s  %.1f/min  left %s\033[K", bar,
	    fin, tot, pct, counts, rate(o), eta);
	fflush(stdout);
}

/* Print one plain progress line. */
static void
plain_line(json_t *o)
{
	char		 counts[256], eta[32];
	long long	 fin, tot;
	double		 pct;

	pct = progress(o, &fin, &tot);
	counts_text(o, counts, sizeof counts);
	eta_text(o, eta, sizeof eta);
	printf("batch %s: %lld/%lld finished (%.0f%%): %s; %.1f/min, "
	    "time left %s\n", ctl_str(o, "name", "?"), fin, tot, pct, counts,
	    rate(o), eta);
	fflush(stdout);
}

/* batch wait NAME */
static int
cmd_batch_wait_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct store	*st = NULL;
	const char	*dbopt = NULL, *name, *term;
	char		*path, counts[256], last[320], cur[320];
	json_t		*o = NULL, *n;
	long long	 timeout = -1, fin, tot, comp;
	int64_t		 start, last_line = 0;
	int		 ch, rc, bar, lost = 0, drawn = 0;

	while ((ch = ctl_getopt(ctx, argc, argv, "", wait_opts)) != -1) {
		switch (ch) {
		case 'D':
			dbopt = optarg;
			break;
		case 't':
			if (util_parse_int(optarg, 0, 86400 * 365,
			    &timeout) != 0)
				return ctl_usage_error(ctx, "bad --timeout: %s",
				    optarg);
			break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	name = argv[optind];
	bar = !ctx->json && isatty(STDOUT_FILENO) &&
	    ((term = getenv("TERM")) == NULL || strcmp(term, "dumb") != 0);
	start = util_mono_ms();
	last[0] = '\0';
	path = ctl_batch_path(name, "");

	/* The first look: agentd, else the store. */
	if ((rc = get_status(ctx, name, dbopt, &st, &o)) != 0)
		goto out;
	for (;;) {
		progress(o, &fin, &tot);
		comp = ctl_int(json_object_get(o, "counts"), "completed", 0);
		counts_text(o, counts, sizeof counts);
		snprintf(cur, sizeof cur, "%lld/%lld %s", fin, tot, counts);
		if (bar) {
			draw_bar(o);
			drawn = 1;
		} else if (!ctx->json && fin < tot &&
		    strcmp(cur, last) != 0 && (last_line == 0 ||
		    util_mono_ms() - last_line >= WAIT_PLAIN_MS)) {
			plain_line(o);
			last_line = util_mono_ms();
			snprintf(last, sizeof last, "%s", cur);
		}
		if (fin >= tot) {
			if (drawn)
				putchar('\n');
			if (ctx->json)
				ctl_print_json(o);
			else
				printf("batch %s: all %lld runs finished: %s\n",
				    name, tot, counts);
			rc = comp == tot ? CTL_EXIT_OK : CTL_EXIT_RUN;
			break;
		}
		if (timeout >= 0 && util_mono_ms() - start >= timeout * 1000) {
			if (drawn)
				putchar('\n');
			ctl_error(ctx, "timed out after %lld s: %lld of %lld "
			    "runs finished", timeout, fin, tot);
			if (ctx->json)
				ctl_print_json(o);
			rc = CTL_EXIT_RUN;
			break;
		}
		sleep_ms(WAIT_POLL_MS);
		if (st != NULL) {
			if ((n = batch_status_json(st, name)) != NULL) {
				json_decref(o);
				o = n;
			}
			continue;
		}
		rc = ctl_request_ex(ctx, "GET", path, NULL,
		    CTL_REQ_QUIET_NOCONN, NULL, &n);
		if (rc == CTL_EXIT_UNREACHABLE && ctx->noconn != NULL) {
			/* agentd went away (a restart?): keep trying. */
			if (!lost) {
				if (drawn)
					putchar('\n');
				ctl_error(ctx, "agentd unreachable (%s); still "
				    "waiting", ctx->noconn);
				lost = 1;
			}
			continue;
		}
		if (rc != 0) {
			if (drawn)
				putchar('\n');
			goto out;
		}
		if (lost) {
			ctl_error(ctx, "agentd is back");
			lost = 0;
		}
		json_decref(o);
		o = n;
	}
out:
	free(path);
	json_decref(o);
	store_close(st);
	return rc;
}
