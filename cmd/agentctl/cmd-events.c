/*
 * agentctl events: list a run's stored events, one "seq type" line each
 * (GET /v1/runs/{id}/events?after=N&limit=M as JSON, not as a stream).
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"
#include "util.h"

static int	cmd_events_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_events = {
	"events",
	"ID [--after N] [--limit N]",
	"List the stored events of run ID after seq N, one \"SEQ TYPE\" line\n"
	"each (--json: the daemon's page, with next_after).\n",
	1, 1,
	cmd_events_exec
};

static const struct option events_opts[] = {
	{ "after",	required_argument, NULL, 'a' },
	{ "limit",	required_argument, NULL, 'n' },
	CTL_COMMON_OPTS
};

/* Fetch one page of events and print it. */
static int
cmd_events_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t		*page, *events, *ev;
	char		*path;
	long long	 after = -2, limit = 0;
	size_t		 i;
	int		 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "a:n:", events_opts)) !=
	    -1) {
		switch (ch) {
		case 'a':
			if (util_parse_int(optarg, -1, INT64_MAX, &after) != 0)
				return ctl_usage_error(ctx, "bad --after: %s",
				    optarg);
			break;
		case 'n':
			if (util_parse_int(optarg, 1, 10000, &limit) != 0)
				return ctl_usage_error(ctx, "bad --limit: %s "
				    "(1 to 10000)", optarg);
			break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = ctl_run_path(argv[optind], "/events");
	if (after >= -1)
		ctl_query_add_ll(&path, "after", after);
	if (limit > 0)
		ctl_query_add_ll(&path, "limit", limit);
	rc = ctl_request(ctx, "GET", path, NULL, NULL, &page);
	free(path);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(page);
	else if (json_is_array(events = json_object_get(page, "events"))) {
		json_array_foreach(events, i, ev) {
			printf("%lld %s\n", ctl_int(ev, "seq", -1),
			    ctl_str(ev, "type", "?"));
		}
	}
	json_decref(page);
	return CTL_EXIT_OK;
}
