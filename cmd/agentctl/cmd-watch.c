/*
 * agentctl watch: follow a run's events live (stored events after --after
 * first), printing output text deltas as they arrive, or every event as a
 * JSON line; re-attaches if the daemon restarts.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"
#include "util.h"

static int	cmd_watch_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_watch = {
	"watch",
	"ID [--after N]",
	"Follow run ID: replay its stored events after seq N, then live ones.\n"
	"Prints output text deltas as they arrive (--json: each event as a\n"
	"line {\"seq\",\"type\",\"data\"}), then \"run ID: STATUS\" on "
	"stderr.\n"
	"Exits 0 if the run completed, 1 if it ended otherwise. If agentd\n"
	"goes away, re-attaches every 0.5 s for up to 60 s without repeating\n"
	"events.\n",
	1, 1,
	cmd_watch_exec
};

static const struct option watch_opts[] = {
	{ "after",	required_argument, NULL, 'a' },
	CTL_COMMON_OPTS
};

/* Parse options and follow the run. */
static int
cmd_watch_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct ctl_follow	 f;
	long long		 after = -1;
	int			 ch;

	while ((ch = ctl_getopt(ctx, argc, argv, "a:", watch_opts)) != -1) {
		switch (ch) {
		case 'a':
			if (util_parse_int(optarg, -1, INT64_MAX, &after) != 0)
				return ctl_usage_error(ctx, "bad --after: %s",
				    optarg);
			break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	f.id = argv[optind];
	f.after = after;
	f.quiet = 0;
	return ctl_follow(ctx, &f);
}
