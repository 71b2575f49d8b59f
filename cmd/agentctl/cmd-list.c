/*
 * agentctl list: GET /v1/runs with optional status, queue and limit
 * filters, following the "next" cursor with --all, printed as an aligned
 * table (or the JSON, all pages merged into one document).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

static int	cmd_list_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_list = {
	"list",
	"[--status S] [--queue Q] [--limit N] [--all]",
	"List runs, newest first as the daemon orders them. --status and\n"
	"--queue filter; --limit is the page size; --all follows every page.\n"
	"Columns: ID, STATUS (with why a run waits: \"starting (retry 3 in\n"
	"4s)\", \"pending (queue nightly paused)\"), MODE (the resolved mode\n"
	"once known), AGE, "
	"LAST EVENT (age of the last event), EVENTS, BACKEND ID.\n",
	0, 0,
	cmd_list_exec
};

static const struct option list_opts[] = {
	{ "status",	required_argument, NULL, 'S' },
	{ "queue",	required_argument, NULL, 'q' },
	{ "limit",	required_argument, NULL, 'n' },
	{ "all",	no_argument,	   NULL, 'a' },
	CTL_COMMON_OPTS
};

/* Add one run as a table row. */
static void
add_row(struct ctl_table *t, json_t *run)
{
	const char	*cells[7], *colors[7];
	char		 age[16], last[16], events[24], status[160];

	ctl_age(run, "created_at", age, sizeof age);
	ctl_age(run, "last_event_at", last, sizeof last);
	snprintf(events, sizeof events, "%lld",
	    ctl_int(run, "event_count", 0));
	memset(colors, 0, sizeof colors);
	cells[0] = ctl_str(run, "id", "-");
	ctl_status_text(run, status, sizeof status);
	cells[1] = status;
	cells[2] = ctl_str(run, "resolved_mode", ctl_str(run, "mode", "-"));
	cells[3] = age;
	cells[4] = last;
	cells[5] = events;
	cells[6] = ctl_str(run, "backend_id", "-");
	colors[1] = ctl_status_color(ctl_str(run, "status", NULL));
	ctl_table_add(t, cells, colors);
}

/* Parse options, fetch the page(s) and print them. */
static int
cmd_list_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	static const char *const headers[] = { "ID", "STATUS", "MODE", "AGE",
	    "LAST EVENT", "EVENTS", "BACKEND ID" };
	struct ctl_table	*t;
	const char		*status = NULL, *queue = NULL, *next;
	char			*path, *after = NULL;
	json_t			*all, *page, *runs, *run;
	long long		 limit = 0;
	size_t			 i, n;
	int			 ch, rc = 0, every = 0;

	while ((ch = ctl_getopt(ctx, argc, argv, "S:q:n:a", list_opts)) !=
	    -1) {
		switch (ch) {
		case 'S': status = optarg; break;
		case 'q': queue = optarg; break;
		case 'n':
			if (util_parse_int(optarg, 1, 1000, &limit) != 0)
				return ctl_usage_error(ctx, "bad --limit: %s "
				    "(1 to 1000 a page; --all pages through "
				    "everything)", optarg);
			break;
		case 'a': every = 1; break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;

	all = json_array();
	next = NULL;
	for (;;) {
		path = xstrdup("/v1/runs");
		if (status != NULL)
			ctl_query_add(&path, "status", status);
		if (queue != NULL)
			ctl_query_add(&path, "queue", queue);
		if (limit > 0)
			ctl_query_add_ll(&path, "limit", limit);
		if (after != NULL)
			ctl_query_add(&path, "after", after);
		rc = ctl_request(ctx, "GET", path, NULL, NULL, &page);
		free(path);
		if (rc != 0)
			break;
		runs = json_object_get(page, "runs");
		if (!json_is_array(runs)) {
			ctl_error(ctx, "reply from agentd has no runs array");
			json_decref(page);
			rc = CTL_EXIT_DAEMON;
			break;
		}
		json_array_extend(all, runs);
		n = json_array_size(runs);
		next = ctl_str(page, "next", NULL);
		if (next != NULL && after != NULL && strcmp(next, after) == 0)
			next = NULL;	/* a cursor that does not move */
		free(after);
		after = next != NULL ? xstrdup(next) : NULL;
		json_decref(page);
		if (!every || after == NULL || n == 0)
			break;
	}
	if (rc != 0) {
		json_decref(all);
		free(after);
		return rc;
	}

	if (ctx->json) {
		page = json_object();
		json_object_set(page, "runs", all);
		json_object_set_new(page, "next", after != NULL ?
		    json_string(after) : json_null());
		ctl_print_json(page);
		json_decref(page);
	} else {
		t = ctl_table_new(7, headers);
		json_array_foreach(all, i, run)
			add_row(t, run);
		ctl_table_print(ctx, t, "");
		ctl_table_free(t);
		if (after != NULL)
			ctl_error(ctx, "more runs after %s (use --all)", after);
	}
	json_decref(all);
	free(after);
	return CTL_EXIT_OK;
}
