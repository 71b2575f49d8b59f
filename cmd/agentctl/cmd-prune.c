/*
 * agentctl prune: delete finished runs older than a duration
 * (POST /v1/runs/prune {"older_than_s":N}).
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"
#include "util.h"

static int	cmd_prune_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_prune = {
	"prune",
	"--older-than DURATION",
	"Delete finished runs (and their events) older than DURATION:\n"
	"seconds, or a number with s, m, h, d or w (e.g. 3600, 12h, 7d).\n"
	"Prints \"pruned N runs\".\n",
	0, 0,
	cmd_prune_exec
};

static const struct option prune_opts[] = {
	{ "older-than",	required_argument, NULL, 'o' },
	CTL_COMMON_OPTS
};

/* Parse the duration and ask the daemon to prune. */
static int
cmd_prune_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t		*body, *reply;
	long long	 secs = -1;
	int		 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", prune_opts)) != -1) {
		if (ch != 'o')
			return ctl_getopt_exit(ctx, ch);
		if (util_parse_duration(optarg, &secs) != 0)
			return ctl_usage_error(ctx, "bad duration: %s",
			    optarg);
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if (secs < 0)
		return ctl_usage_error(ctx, "--older-than is required");
	body = json_pack("{sI}", "older_than_s", (json_int_t)secs);
	rc = ctl_request(ctx, "POST", "/v1/runs/prune", body, NULL, &reply);
	json_decref(body);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(reply);
	else
		printf("pruned %lld runs\n", ctl_int(reply, "deleted", 0));
	json_decref(reply);
	return CTL_EXIT_OK;
}
