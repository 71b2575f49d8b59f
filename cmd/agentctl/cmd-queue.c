/*
 * agentctl queue list and queue set NAME: the queues runs are dispatched
 * from (priority, then FIFO), with their limits and counts, from
 * GET /v1/queues and POST /v1/queues/NAME, or from the store when agentd
 * is not running.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "batch.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

static int	cmd_queue_exec(struct ctl_ctx *, int, char **);
static int	cmd_queue_list_exec(struct ctl_ctx *, int, char **);
static int	cmd_queue_set_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_queue = {
	"queue",
	"list [--db PATH]\n"
	"set NAME [--max-inflight N|none] [--paused true|false]\n"
	"    [--priority N] [--max-attempts N] [--db PATH]",
	"Show or change the queues. Runs are dispatched from the queue with\n"
	"the highest priority first, oldest first within a priority, as long\n"
	"as the queue is not paused and has fewer than its max-inflight runs\n"
	"in flight (agentd --max-inflight caps all queues together). A queue\n"
	"exists once a run names it or it is set. 'agentctl queue list\n"
	"--help' and 'agentctl queue set --help' describe each.\n",
	1, -1,
	cmd_queue_exec
};

const struct ctl_cmd ctl_cmd_queue_list = {
	"queue list",
	"[--db PATH]",
	"List the queues: NAME, MAX-INFLIGHT (- for no limit), PAUSED,\n"
	"PRIORITY, QUEUED (runs waiting), INFLIGHT (runs leased to a worker),\n"
	"COMPLETED and FAILED (failed, incomplete, cancelled or abandoned).\n"
	"--json prints the daemon's {\"queues\":[...]}. If agentd is not\n"
	"running, reads its database (--db PATH, else $AGENTD_DB).\n",
	0, 0,
	cmd_queue_list_exec
};

const struct ctl_cmd ctl_cmd_queue_set = {
	"queue set",
	"NAME [--max-inflight N|none] [--paused true|false]\n"
	"[--priority N] [--max-attempts N] [--db PATH]",
	"Create queue NAME or change its settings; what is not given stays\n"
	"as it is. --max-inflight N: at most N runs in flight at once (0\n"
	"holds every run back; none: no limit). --paused true stops\n"
	"dispatching new runs (those in flight go on). --priority N (-1000\n"
	"to 1000, default 0): higher queues are served first. --max-attempts\n"
	"N (1 to 100): tries per run for retryable failures, for batches\n"
	"submitted to the queue later without --max-attempts. Prints the\n"
	"queue's settings (--json: the daemon's queue list). If agentd is not\n"
	"running, changes its database (--db PATH, else $AGENTD_DB).\n",
	1, 1,
	cmd_queue_set_exec
};

static const struct option list_opts[] = {
	{ "db",		required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};

static const struct option set_opts[] = {
	{ "max-inflight",	required_argument, NULL, 'i' },
	{ "paused",		required_argument, NULL, 'P' },
	{ "priority",		required_argument, NULL, 'p' },
	{ "max-attempts",	required_argument, NULL, 'a' },
	{ "db",			required_argument, NULL, 'D' },
	CTL_COMMON_OPTS
};

/* queue: run a subcommand. */
static int
cmd_queue_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	int	rc;

	if ((rc = ctl_subcmd_exec(ctx, ctl_queue_subcmds, argc, argv)) >= 0)
		return rc;
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0)) {
		ctl_cmd_print_help(stdout, ctx->cmd);
		return CTL_EXIT_OK;
	}
	if (argc < 2)
		return ctl_usage_error(ctx, "missing subcommand (list or set)");
	return ctl_usage_error(ctx, "unknown subcommand: %s", argv[1]);
}

/* Print the queues as a table; only the one called only, if not NULL. */
static void
print_queues(struct ctl_ctx *ctx, json_t *list, const char *only)
{
	static const char *const headers[] = { "NAME", "MAX-INFLIGHT",
	    "PAUSED", "PRIORITY", "QUEUED", "INFLIGHT", "COMPLETED",
	    "FAILED" };
	static const char *const counts[] = { "queued", "inflight",
	    "completed", "failed" };
	struct ctl_table	*t;
	const char		*cells[8];
	char			 buf[6][24];
	json_t			*q;
	size_t			 i;
	int			 c;

	t = ctl_table_new(8, headers);
	json_array_foreach(json_object_get(list, "queues"), i, q) {
		if (only != NULL && strcmp(ctl_str(q, "name", ""), only) != 0)
			continue;
		cells[0] = ctl_str(q, "name", "-");
		if (json_is_integer(json_object_get(q, "max_inflight"))) {
			snprintf(buf[0], sizeof buf[0], "%lld",
			    ctl_int(q, "max_inflight", 0));
			cells[1] = buf[0];
		} else
			cells[1] = "-";
		cells[2] = json_is_true(json_object_get(q, "paused")) ?
		    "true" : "false";
		snprintf(buf[1], sizeof buf[1], "%lld",
		    ctl_int(q, "priority", 0));
		cells[3] = buf[1];
		for (c = 0; c < 4; c++) {
			snprintf(buf[c + 2], sizeof buf[c + 2], "%lld",
			    ctl_int(q, counts[c], 0));
			cells[c + 4] = buf[c + 2];
		}
		ctl_table_add(t, cells, NULL);
	}
	ctl_table_print(ctx, t, "");
	ctl_table_free(t);
}

/* queue list */
static int
cmd_queue_list_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct store	*st = NULL;
	const char	*dbopt = NULL;
	json_t		*list = NULL;
	int		 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", list_opts)) != -1) {
		if (ch == 'D')
			dbopt = optarg;
		else
			return ctl_getopt_exit(ctx, ch);
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if ((rc = ctl_call(ctx, "GET", "/v1/queues", NULL, dbopt, 0, &list,
	    &st)) != 0)
		return rc;
	if (st != NULL) {
		list = queue_list_json(st);
		store_close(st);
	}
	if (ctx->json)
		ctl_print_json(list);
	else
		print_queues(ctx, list, NULL);
	json_decref(list);
	return CTL_EXIT_OK;
}

/* Parse "true"/"false" (also yes/no, 1/0, on/off); -1 if neither. */
static int
parse_bool(const char *s)
{
	if (strcmp(s, "true") == 0 || strcmp(s, "yes") == 0 ||
	    strcmp(s, "1") == 0 || strcmp(s, "on") == 0)
		return 1;
	if (strcmp(s, "false") == 0 || strcmp(s, "no") == 0 ||
	    strcmp(s, "0") == 0 || strcmp(s, "off") == 0)
		return 0;
	return -1;
}

/* queue set NAME ... */
static int
cmd_queue_set_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct queue_set	 qs = { QUEUE_KEEP, QUEUE_KEEP, QUEUE_KEEP,
				    QUEUE_KEEP };
	struct store		*st = NULL;
	const char		*dbopt = NULL, *name;
	char			*path, *cause = NULL;
	json_t			*body, *list = NULL;
	long long		 v;
	int			 ch, rc;

	body = json_object();
	while ((ch = ctl_getopt(ctx, argc, argv, "", set_opts)) != -1) {
		switch (ch) {
		case 'i':
			if (strcmp(optarg, "none") == 0 ||
			    strcmp(optarg, "unlimited") == 0) {
				qs.max_inflight = QUEUE_UNLIMITED;
				json_object_set_new(body, "max_inflight",
				    json_null());
				break;
			}
			if (util_parse_int(optarg, 0, 1000000, &v) != 0) {
				json_decref(body);
				return ctl_usage_error(ctx, "bad "
				    "--max-inflight: %s (0 to 1000000, or "
				    "none)", optarg);
			}
			qs.max_inflight = (int)v;
			json_object_set_new(body, "max_inflight",
			    json_integer(v));
			break;
		case 'P':
			if ((qs.paused = parse_bool(optarg)) < 0) {
				json_decref(body);
				return ctl_usage_error(ctx, "bad --paused: %s "
				    "(true or false)", optarg);
			}
			json_object_set_new(body, "paused",
			    json_boolean(qs.paused));
			break;
		case 'p':
			if (util_parse_int(optarg, -1000, 1000, &v) != 0) {
				json_decref(body);
				return ctl_usage_error(ctx, "bad --priority: "
				    "%s (-1000 to 1000)", optarg);
			}
			qs.priority = (int)v;
			json_object_set_new(body, "priority", json_integer(v));
			break;
		case 'a':
			if (util_parse_int(optarg, 1, 100, &v) != 0) {
				json_decref(body);
				return ctl_usage_error(ctx, "bad "
				    "--max-attempts: %s (1 to 100)", optarg);
			}
			qs.max_attempts = (int)v;
			json_object_set_new(body, "max_attempts",
			    json_integer(v));
			break;
		case 'D':
			dbopt = optarg;
			break;
		default:
			json_decref(body);
			return ctl_getopt_exit(ctx, ch);
		}
	}
	rc = CTL_EXIT_USAGE;
	if (ctl_check_args(ctx, argc - optind) != 0)
		goto out;
	name = argv[optind];
	if (!ctl_valid_name(name)) {
		ctl_usage_error(ctx, "bad queue name: %s (1 to 64 of A-Z a-z "
		    "0-9 _ . : -)", name);
		goto out;
	}
	if (json_object_size(body) == 0) {
		ctl_usage_error(ctx, "nothing to set: give --max-inflight, "
		    "--paused, --priority or --max-attempts");
		goto out;
	}
	xasprintf(&path, "/v1/queues/%s", name);	/* name is URL-safe */
	rc = ctl_call(ctx, "POST", path, body, dbopt, 0, &list, &st);
	free(path);
	if (rc != 0)
		goto out;
	if (st != NULL) {
		if (queue_set(st, name, &qs, &cause) != 0) {
			ctl_error(ctx, "cannot change queue %s: %s", name,
			    cause);
			free(cause);
			store_close(st);
			rc = CTL_EXIT_DAEMON;
			goto out;
		}
		list = queue_list_json(st);
		store_close(st);
	}
	if (ctx->json)
		ctl_print_json(list);
	else
		print_queues(ctx, list, name);
	rc = CTL_EXIT_OK;
out:
	json_decref(list);
	json_decref(body);
	return rc;
}
