/*
 * agentctl batch: the command, its subcommand dispatch, and its default
 * form "batch [submit] FILE": a JSON Lines file of OpenAI Batch API input
 * lines (or bare request bodies) becomes a named batch, one run per line
 * with idempotency key batch:NAME:CUSTOM_ID, so submitting a file again, or
 * from two processes at once, adds nothing. The lines go to agentd in
 * chunks (one transaction each); if agentd is not running they go straight
 * into its store, where agentd finds them when it starts. The other
 * subcommands are in cmd-batch-status.c and cmd-batch-results.c.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "batch-lines.h"
#include "batch.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Lines per POST /v1/batches. Each POST is one transaction in agentd's
 * loop, about 60 us a line: 100 keep what waits behind it (a GET, a
 * follower) under 10 ms; 500 held it 30 ms.
 */
#define CHUNK_LINES	100
#define CHUNK_BYTES	(512 * 1024)	/* about, per POST (--max-body) */

static int	cmd_batch_exec(struct ctl_ctx *, int, char **);
static int	cmd_batch_submit_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_batch = {
	"batch",
	"[submit] [--name NAME] [--queue Q] [--max-attempts N]\n"
	"[--mode M] [--strict] [--require-daemon] [--db PATH]\n"
	"FILE.jsonl|-\n"
	"list | status NAME | wait NAME [--timeout SECS]\n"
	"results NAME [-o FILE] [--errors-only] | cancel NAME",
	"Named batches of runs, e.g. a file of jobs that cron drops every "
	"night.\n"
	"\n"
	"  batch [submit] FILE  submit one run per line of FILE (- for "
	"stdin)\n"
	"  batch list           every batch with its progress\n"
	"  batch status NAME    runs by status, progress, rate, time left\n"
	"  batch wait NAME      wait until every run has finished; exit 0 "
	"only\n"
	"                       if all of them completed\n"
	"  batch results NAME   write the OpenAI Batch API output lines\n"
	"  batch cancel NAME    cancel the runs that have not finished\n"
	"\n"
	"'agentctl batch SUBCOMMAND --help' describes each. If agentd is not\n"
	"running, submit stores the runs in its database (--db PATH, else\n"
	"$AGENTD_DB) for agentd to dispatch when it starts, and list, status,\n"
	"wait, results and cancel work on that database directly.\n",
	1, -1,
	cmd_batch_exec
};

const struct ctl_cmd ctl_cmd_batch_submit = {
	"batch",
	"[submit] [--name NAME] [--queue Q] [--max-attempts N]\n"
	"[--mode M] [--strict] [--require-daemon] [--db PATH]\n"
	"FILE.jsonl|-",
	"Submit FILE (- for stdin) as the batch NAME (default: the file's\n"
	"base name without its extension, \"stdin\" for -). A NAME is 1 to 64\n"
	"characters of [A-Za-z0-9_.:-]. Each line is an OpenAI Batch API\n"
	"input line {\"custom_id\": ID, \"method\": \"POST\", \"url\":\n"
	"\"/v1/responses\", \"body\": {REQUEST}}, or a bare REQUEST, whose\n"
	"custom_id is \"line-\" and the 64-bit FNV-1a hash of the line's\n"
	"bytes (without its newline) in 16 hex digits. Every line becomes a\n"
	"run with idempotency key batch:NAME:CUSTOM_ID: submitting the same\n"
	"file again, or twice at once, adds nothing. Blank lines are ignored.\n"
	"\n"
	"Bad lines (invalid JSON, not an object, custom_id missing, empty or\n"
	"over 512 bytes, method not POST, url not /v1/responses, body not an\n"
	"object, a custom_id seen before in the file) are reported as\n"
	"\"line N: REASON\" and skipped; with --strict, nothing is submitted\n"
	"if any line is bad. Prints \"batch NAME: submitted N, already\n"
	"present M, bad K\" (--json: an object with the counts and errors).\n"
	"\n"
	"--queue Q       the queue (default \"default\"; see agentctl queue)\n"
	"--max-attempts N  tries per run for retryable failures (1-100;\n"
	"                default: the queue's setting, else 3)\n"
	"--mode M        auto (default), background, stream, poll or batch\n"
	"--db PATH       agentd's database (default $AGENTD_DB), used when\n"
	"                agentd is not running: the runs are stored there\n"
	"                and dispatched when agentd starts\n"
	"--require-daemon  exit 3 instead if agentd is not running\n"
	"\n"
	"Exit status: 0 every line submitted or already present, 1 some\n"
	"lines bad, 2 usage or unreadable FILE, 3 agentd unreachable (and no\n"
	"database to fall back on), 5 agentd refused the batch.\n",
	1, 1,
	cmd_batch_submit_exec
};

static const struct option submit_opts[] = {
	{ "name",		required_argument, NULL, 'n' },
	{ "queue",		required_argument, NULL, 'q' },
	{ "max-attempts",	required_argument, NULL, 'a' },
	{ "mode",		required_argument, NULL, 'M' },
	{ "strict",		no_argument,	   NULL, 'S' },
	{ "require-daemon",	no_argument,	   NULL, 'R' },
	{ "db",			required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};


struct submit {
	struct ctl_ctx	*ctx;
	const char	*name;
	const char	*queue;
	const char	*mode;
	const char	*dbopt;
	long long	 max_attempts;	/* 0: the default */
	int		 strict;
	int		 require_daemon;
	struct batch_lines l;		/* the file's good and bad lines */
	long		 submitted, present;
	const char	*db;		/* the store, if offline */
	struct store	*st;
};

/* True if s is a batch or queue name: 1 to 64 of [A-Za-z0-9_.:-]. */
int
ctl_valid_name(const char *s)
{
	size_t	i;

	if (s == NULL || *s == '\0' || strlen(s) > 64)
		return 0;
	for (i = 0; s[i] != '\0'; i++) {
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		    (s[i] >= 'a' && s[i] <= 'z') ||
		    (s[i] >= '0' && s[i] <= '9') ||
		    strchr("_.:-", s[i]) != NULL))
			return 0;
	}
	return 1;
}

/* Print one bad line as agentctl's error. */
static void
report_bad(void *arg, long lineno, const char *why)
{
	ctl_error(arg, "line %ld: %s", lineno, why);
}

/* The end of the chunk of items starting at from. */
static size_t
chunk_end(struct submit *s, size_t from)
{
	size_t	to, bytes = 0;

	for (to = from; to < s->l.nitems && to - from < CHUNK_LINES; to++) {
		if (to > from && bytes + s->l.items[to].size > CHUNK_BYTES)
			break;
		bytes += s->l.items[to].size;
	}
	return to;
}

/* POST items [from, to) to agentd. 0 or an exit code. */
static int
submit_api(struct submit *s, size_t from, size_t to)
{
	json_t	*body, *reqs, *reply;
	size_t	 i;
	int	 rc;

	reqs = json_array();
	for (i = from; i < to; i++)
		json_array_append_new(reqs, json_pack("{sssO}", "custom_id",
		    s->l.items[i].custom_id, "request", s->l.items[i].body));
	body = json_pack("{ssso}", "name", s->name, "requests", reqs);
	if (s->queue != NULL)
		json_object_set_new(body, "queue", json_string(s->queue));
	if (s->mode != NULL)
		json_object_set_new(body, "mode", json_string(s->mode));
	if (s->max_attempts > 0)
		json_object_set_new(body, "max_attempts",
		    json_integer(s->max_attempts));
	rc = ctl_request_ex(s->ctx, "POST", "/v1/batches", body,
	    CTL_REQ_QUIET_NOCONN, NULL, &reply);
	json_decref(body);
	if (rc != 0)
		return rc;
	s->submitted += ctl_int(reply, "submitted", 0);
	s->present += ctl_int(reply, "already_present", 0);
	json_decref(reply);
	return CTL_EXIT_OK;
}

/* Store items [from, to) directly, in one transaction. */
static int
submit_store(struct submit *s, size_t from, size_t to)
{
	struct batch_new	 b;
	struct batch_item	*bi;
	char			*cause = NULL;
	size_t			 i;
	int			 sub, pres, rc;

	memset(&b, 0, sizeof b);
	b.name = s->name;
	b.queue = s->queue;
	b.mode = s->mode;
	b.max_attempts = (int)s->max_attempts;
	bi = xcalloc(to - from + 1, sizeof *bi);
	for (i = from; i < to; i++) {
		bi[i - from].custom_id = s->l.items[i].custom_id;
		bi[i - from].request = json_dumps(s->l.items[i].body,
		    JSON_COMPACT);
		if (bi[i - from].request == NULL) {
			fprintf(stderr, "agentctl: out of memory\n");
			exit(CTL_EXIT_DAEMON);
		}
	}
	rc = batch_submit(s->st, &b, bi, to - from, &sub, &pres, &cause);
	for (i = 0; i < to - from; i++)
		free((char *)bi[i].request);
	free(bi);
	if (rc != 0) {
		char	*d = store_describe(s->db);

		ctl_error(s->ctx, "cannot store the batch in %s: %s", d, cause);
		free(d);
		free(cause);
		return CTL_EXIT_DAEMON;
	}
	s->submitted += sub;
	s->present += pres;
	return CTL_EXIT_OK;
}

/*
 * agentd is not running: open its store instead, unless told not to.
 * from is the first item not submitted yet. 0 or an exit code.
 */
static int
go_offline(struct submit *s, size_t from)
{
	if (s->require_daemon) {
		ctl_error(s->ctx, "agentd is not running (%s) and "
		    "--require-daemon is given: %s", s->ctx->noconn,
		    from == 0 ? "nothing was submitted" : "the rest of the "
		    "lines were not submitted");
		return CTL_EXIT_UNREACHABLE;
	}
	if ((s->db = ctl_db_path(s->dbopt)) == NULL)
		return ctl_unreachable(s->ctx, NULL);
	if ((s->st = ctl_store_open(s->ctx, s->db, 1)) == NULL)
		return CTL_EXIT_UNREACHABLE;
	return CTL_EXIT_OK;
}

/* Submit every item, chunk by chunk (at least one call). */
static int
submit_all(struct submit *s)
{
	size_t	from = 0, to;
	int	rc;

	do {
		to = chunk_end(s, from);
		if (s->st == NULL) {
			rc = submit_api(s, from, to);
			if (rc == CTL_EXIT_UNREACHABLE &&
			    s->ctx->noconn != NULL &&
			    (rc = go_offline(s, from)) == 0)
				rc = submit_store(s, from, to);
		} else
			rc = submit_store(s, from, to);
		if (rc != 0) {
			if (from > 0 && from < s->l.nitems)
				ctl_error(s->ctx, "lines from line %ld on "
				    "were not submitted; submit the file "
				    "again to finish (nothing is added "
				    "twice)", s->l.items[from].lineno);
			return rc;
		}
		from = to;
	} while (from < s->l.nitems);
	return CTL_EXIT_OK;
}

/* The default batch name for path: its base name without extension. */
static char *
default_name(const char *path)
{
	const char	*base;
	char		*name, *dot;

	if (strcmp(path, "-") == 0)
		return xstrdup("stdin");
	base = strrchr(path, '/') != NULL ? strrchr(path, '/') + 1 : path;
	name = xstrdup(base);
	if ((dot = strrchr(name, '.')) != NULL && dot != name)
		*dot = '\0';
	return name;
}

/* Print the summary line or the JSON document. */
static void
print_summary(struct submit *s)
{
	json_t	*out;
	char	*d;

	if (s->ctx->json) {
		/* Described: a conninfo may hold a password. */
		d = s->st != NULL ? store_describe(s->db) : NULL;
		out = json_pack("{sssIsIsIsbss?sO}", "name", s->name,
		    "submitted", (json_int_t)s->submitted, "already_present",
		    (json_int_t)s->present, "bad", (json_int_t)s->l.bad,
		    "offline", s->st != NULL, "db", d, "errors", s->l.errors);
		free(d);
		ctl_print_json(out);
		json_decref(out);
		return;
	}
	printf("batch %s: submitted %ld, already present %ld, bad %ld\n",
	    s->name, s->submitted, s->present, s->l.bad);
}

/* batch: run a subcommand, or submit (the default). */
static int
cmd_batch_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	int	rc;

	if ((rc = ctl_subcmd_exec(ctx, ctl_batch_subcmds, argc, argv)) >= 0)
		return rc;
	ctx->cmd = &ctl_cmd_batch_submit;
	return cmd_batch_submit_exec(ctx, argc, argv);
}

/* batch [submit]: parse options, read the file, submit, summarise. */
static int
cmd_batch_submit_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct submit	 s;
	const char	*path;
	char		*name = NULL;
	FILE		*f;
	int		 ch, rc;

	memset(&s, 0, sizeof s);
	s.ctx = ctx;
	while ((ch = ctl_getopt(ctx, argc, argv, "", submit_opts)) != -1) {
		switch (ch) {
		case 'n':
			s.name = optarg;
			if (!ctl_valid_name(optarg))
				return ctl_usage_error(ctx, "bad --name: %s "
				    "(1 to 64 of A-Z a-z 0-9 _ . : -)", optarg);
			break;
		case 'q':
			s.queue = optarg;
			if (!ctl_valid_name(optarg))
				return ctl_usage_error(ctx, "bad --queue: %s "
				    "(1 to 64 of A-Z a-z 0-9 _ . : -)", optarg);
			break;
		case 'a':
			if (util_parse_int(optarg, 1, 100,
			    &s.max_attempts) != 0)
				return ctl_usage_error(ctx, "bad "
				    "--max-attempts: %s (1 to 100)", optarg);
			break;
		case 'M':
			s.mode = optarg;
			if (strcmp(optarg, "auto") != 0 &&
			    strcmp(optarg, "background") != 0 &&
			    strcmp(optarg, "stream") != 0 &&
			    strcmp(optarg, "poll") != 0 &&
			    strcmp(optarg, "batch") != 0)
				return ctl_usage_error(ctx, "bad --mode: %s",
				    optarg);
			break;
		case 'S':
			s.strict = 1;
			break;
		case 'R':
			s.require_daemon = 1;
			break;
		case 'D':
			s.dbopt = optarg;
			break;
		case CTL_OPT_HELP:
			/* "batch --help" describes every subcommand. */
			ctl_cmd_print_help(stdout, strcmp(argv[0], "submit") ==
			    0 ? &ctl_cmd_batch_submit : &ctl_cmd_batch);
			return CTL_EXIT_OK;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = argv[optind];
	if (s.name == NULL) {
		name = default_name(path);
		if (!ctl_valid_name(name)) {
			rc = ctl_usage_error(ctx, "%s does not make a batch "
			    "name (1 to 64 of A-Z a-z 0-9 _ . : -); use --name",
			    name);
			free(name);
			return rc;
		}
		s.name = name;
	}
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		ctl_error(ctx, "%s: %s", path, strerror(errno));
		free(name);
		return CTL_EXIT_USAGE;
	}

	batch_lines_init(&s.l, report_bad, ctx);
	rc = CTL_EXIT_OK;
	if (batch_lines_read(&s.l, f) != 0) {
		ctl_error(ctx, "reading %s: %s", strcmp(path, "-") == 0 ?
		    "stdin" : path, strerror(errno));
		rc = CTL_EXIT_USAGE;
	}
	if (f != stdin)
		fclose(f);
	if (rc == CTL_EXIT_OK && s.strict && s.l.bad > 0) {
		ctl_error(ctx, "--strict: %ld bad line%s, nothing submitted",
		    s.l.bad, s.l.bad == 1 ? "" : "s");
		print_summary(&s);
		rc = CTL_EXIT_RUN;
	} else if (rc == CTL_EXIT_OK) {
		rc = submit_all(&s);
		if (rc == CTL_EXIT_OK) {
			if (s.st != NULL) {
				char	*d = store_describe(s.db);

				ctl_error(ctx, "agentd is not running (%s); "
				    "the runs were stored in %s for dispatch "
				    "when it starts", ctx->noconn, d);
				free(d);
			}
			else if (s.submitted == 0 && s.present > 0 &&
			    !ctx->json)
				ctl_error(ctx, "nothing new: all %ld runs were "
				    "submitted before", s.present);
			print_summary(&s);
			rc = s.l.bad == 0 ? CTL_EXIT_OK : CTL_EXIT_RUN;
		}
	}

	store_close(s.st);
	batch_lines_free(&s.l);
	free(name);
	return rc;
}
