/*
 * agentctl batch results NAME and batch cancel NAME. results writes the
 * OpenAI Batch API output lines ({"id","custom_id","response","error"},
 * one per run in submission order) from GET /v1/batches/NAME/results, or
 * from the store when agentd is not running; with -o FILE it writes
 * FILE.tmp and renames it, so FILE is whole or absent.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
#include "batch.h"
#include "store.h"
#include "xmalloc.h"

static int	cmd_batch_results_exec(struct ctl_ctx *, int, char **);
static int	cmd_batch_cancel_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_batch_results = {
	"batch results",
	"NAME [-o FILE] [--errors-only] [--db PATH]",
	"Write the results of batch NAME in the OpenAI Batch API output\n"
	"format, one JSON line per run in submission order:\n"
	"{\"id\", \"custom_id\", \"response\": {\"status_code\", "
	"\"request_id\", \"body\"},\n"
	"\"error\": null or {\"code\", \"message\"}}. A run not finished yet "
	"has\n"
	"its status as the error code. --errors-only leaves out the runs that\n"
	"completed. -o FILE writes FILE (through FILE.tmp and a rename, so\n"
	"FILE is never partial) and prints \"batch NAME: wrote N results to\n"
	"FILE\"; without it the lines go to stdout. If agentd is not running,\n"
	"reads its database (--db PATH, else $AGENTD_DB). Exit status 4 if\n"
	"there is no such batch.\n",
	1, 1,
	cmd_batch_results_exec
};

const struct ctl_cmd ctl_cmd_batch_cancel = {
	"batch cancel",
	"NAME [--db PATH]",
	"Cancel every run of batch NAME that has not finished (and its\n"
	"backend response) and print \"batch NAME: cancelled N runs\". If\n"
	"agentd is not running, cancels them in its database (--db PATH,\n"
	"else $AGENTD_DB); responses already started at the backend are then\n"
	"not cancelled there. Exit status 4 if there is no such batch.\n",
	1, 1,
	cmd_batch_cancel_exec
};

static const struct option results_opts[] = {
	{ "output",	 required_argument, NULL, 'o' },
	{ "errors-only", no_argument,	    NULL, 'e' },
	{ "db",		 required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};

static const struct option cancel_opts[] = {
	{ "db",		required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};

struct out {
	FILE	*f;
	long	 lines;
	int	 failed;	/* a write failed */
};

/* Stream callback: write the NDJSON body as it comes, counting lines. */
static int
out_bytes(void *arg, const char *buf, size_t len)
{
	struct out	*o = arg;
	size_t		 i;

	for (i = 0; i < len; i++)
		if (buf[i] == '\n')
			o->lines++;
	if (fwrite(buf, 1, len, o->f) != len) {
		o->failed = 1;
		return -1;
	}
	return 0;
}

/* batch_results callback: one line from the store. */
static int
out_line(void *arg, json_t *line)
{
	struct out	*o = arg;
	char		*text;

	if ((text = json_dumps(line, JSON_COMPACT)) == NULL) {
		o->failed = 1;
		return 1;
	}
	if (fprintf(o->f, "%s\n", text) < 0)
		o->failed = 1;
	o->lines++;
	free(text);
	return o->failed;
}

/*
 * Fetch the results into o->f: from agentd, else (not running) from the
 * store. 0, or an exit code after reporting why.
 */
static int
fetch_results(struct ctl_ctx *ctx, const char *name, int errors_only,
    const char *dbopt, struct out *o)
{
	struct ctl_xfer	 x;
	struct store	*st;
	const char	*db;
	char		*path, *msg;
	int		 rc, n;

	path = ctl_batch_path(name, "/results");
	if (errors_only)
		ctl_query_add(&path, "errors_only", "true");
	memset(&x, 0, sizeof x);
	x.method = "GET";
	x.path = path;
	x.accept = "application/x-ndjson";
	x.stream = out_bytes;
	x.stream_arg = o;
	ctl_xfer(ctx, &x);
	free(path);
	if (x.result == CTL_XFER_NOCONN) {
		free(ctx->noconn);
		xasprintf(&ctx->noconn, "cannot connect to %s: %s",
		    ctx->socket, x.errmsg != NULL ? x.errmsg :
		    "connect failed");
		ctl_xfer_free(&x);
		if ((db = ctl_db_path(dbopt)) == NULL)
			return ctl_unreachable(ctx, NULL);
		if ((st = ctl_store_open(ctx, db, 0)) == NULL)
			return CTL_EXIT_UNREACHABLE;
		ctl_offline_note(ctx, db);
		n = batch_results(st, name, errors_only, out_line, o);
		store_close(st);
		if (n == -2) {
			ctl_error(ctx, "no batch %s", name);
			return CTL_EXIT_NOTFOUND;
		}
		if (n < 0 && !o->failed) {
			ctl_error(ctx, "cannot read batch %s from %s", name,
			    db);
			return CTL_EXIT_DAEMON;
		}
		return CTL_EXIT_OK;
	}
	if (x.result == CTL_XFER_STOPPED) {
		ctl_xfer_free(&x);
		return CTL_EXIT_OK;	/* a write failed: reported later */
	}
	if (x.result != CTL_XFER_OK) {
		rc = ctl_xfer_failed(ctx, &x);
		ctl_xfer_free(&x);
		return rc;
	}
	if (x.status < 200 || x.status > 299) {
		msg = ctl_error_message(&x);
		ctl_error(ctx, "%s", msg);
		free(msg);
		rc = ctl_status_exit(x.status);
		ctl_xfer_free(&x);
		return rc;
	}
	ctl_xfer_free(&x);
	return CTL_EXIT_OK;
}

/* batch results NAME */
static int
cmd_batch_results_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct out	 o;
	const char	*file = NULL, *dbopt = NULL, *name;
	char		*tmp = NULL;
	int		 ch, rc, errors_only = 0;

	while ((ch = ctl_getopt(ctx, argc, argv, "o:", results_opts)) != -1) {
		switch (ch) {
		case 'o':
			file = optarg;
			break;
		case 'e':
			errors_only = 1;
			break;
		case 'D':
			dbopt = optarg;
			break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if (file != NULL && (*file == '\0' || strcmp(file, "-") == 0))
		file = NULL;
	name = argv[optind];
	memset(&o, 0, sizeof o);
	if (file == NULL)
		o.f = stdout;
	else {
		xasprintf(&tmp, "%s.tmp", file);
		if ((o.f = fopen(tmp, "w")) == NULL) {
			ctl_error(ctx, "%s: %s", tmp, strerror(errno));
			free(tmp);
			return CTL_EXIT_USAGE;
		}
	}
	rc = fetch_results(ctx, name, errors_only, dbopt, &o);
	if (fflush(o.f) != 0 || ferror(o.f))
		o.failed = 1;
	if (file == NULL) {
		if (rc == 0 && o.failed && errno != EPIPE) {
			ctl_error(ctx, "writing the results: %s",
			    strerror(errno));
			rc = CTL_EXIT_DAEMON;
		}
		return rc;
	}
	if (rc == 0 && !o.failed && fsync(fileno(o.f)) != 0)
		o.failed = 1;
	if (rc == 0 && o.failed)
		ctl_error(ctx, "writing %s: %s", tmp, strerror(errno));
	if (fclose(o.f) != 0 && rc == 0 && !o.failed) {
		ctl_error(ctx, "writing %s: %s", tmp, strerror(errno));
		o.failed = 1;
	}
	if (rc == 0 && !o.failed && rename(tmp, file) != 0) {
		ctl_error(ctx, "renaming %s to %s: %s", tmp, file,
		    strerror(errno));
		o.failed = 1;
	}
	if (rc != 0 || o.failed) {
		unlink(tmp);
		free(tmp);
		return rc != 0 ? rc : CTL_EXIT_DAEMON;
	}
	free(tmp);
	printf("batch %s: wrote %ld result%s to %s\n", name, o.lines,
	    o.lines == 1 ? "" : "s", file);
	return CTL_EXIT_OK;
}

/* batch cancel NAME */
static int
cmd_batch_cancel_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct store	*st = NULL;
	const char	*dbopt = NULL, *name;
	char		*path;
	json_t		*reply = NULL;
	int		 ch, rc, n;

	while ((ch = ctl_getopt(ctx, argc, argv, "", cancel_opts)) != -1) {
		if (ch == 'D')
			dbopt = optarg;
		else
			return ctl_getopt_exit(ctx, ch);
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	name = argv[optind];
	path = ctl_batch_path(name, "/cancel");
	rc = ctl_call(ctx, "POST", path, NULL, dbopt, 0, &reply, &st);
	free(path);
	if (rc != 0)
		return rc;
	if (st != NULL) {
		n = batch_cancel(st, name, NULL, NULL);
		store_close(st);
		if (n == -2) {
			ctl_error(ctx, "no batch %s", name);
			return CTL_EXIT_NOTFOUND;
		}
		if (n < 0) {
			ctl_error(ctx, "cannot cancel batch %s in the store",
			    name);
			return CTL_EXIT_DAEMON;
		}
		reply = json_pack("{sssi}", "name", name, "cancelled", n);
	}
	if (ctx->json)
		ctl_print_json(reply);
	else
		printf("batch %s: cancelled %lld run%s\n", name,
		    ctl_int(reply, "cancelled", 0),
		    ctl_int(reply, "cancelled", 0) == 1 ? "" : "s");
	json_decref(reply);
	return CTL_EXIT_OK;
}
