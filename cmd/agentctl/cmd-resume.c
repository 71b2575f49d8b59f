/*
 * agentctl resume: ask agentd to resume one run (POST /v1/runs/{id}/resume)
 * or every stale run (POST /v1/runs/resume-stale).
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"

static int	cmd_resume_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_resume = {
	"resume",
	"ID | --stale",
	"Resume run ID and print \"run ID: STATUS\"; or, with --stale, resume\n"
	"every abandoned run and print their ids, one a line.\n",
	0, 1,
	cmd_resume_exec
};

static const struct option resume_opts[] = {
	{ "stale",	no_argument,	NULL, 'S' },
	CTL_COMMON_OPTS
};

/* POST resume-stale and print the resumed ids. */
static int
resume_stale(struct ctl_ctx *ctx)
{
	json_t	*reply, *ids, *id;
	size_t	 i;
	int	 rc;

	rc = ctl_request(ctx, "POST", "/v1/runs/resume-stale", NULL, NULL,
	    &reply);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(reply);
	else if (json_is_array(ids = json_object_get(reply, "resumed"))) {
		json_array_foreach(ids, i, id) {
			if (json_is_string(id))
				printf("%s\n", json_string_value(id));
		}
	}
	json_decref(reply);
	return CTL_EXIT_OK;
}

/* Parse options and resume one run or the stale ones. */
static int
cmd_resume_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t	*run;
	char	*path;
	int	 ch, rc, stale = 0;

	while ((ch = ctl_getopt(ctx, argc, argv, "", resume_opts)) != -1) {
		if (ch == 'S')
			stale = 1;
		else
			return ctl_getopt_exit(ctx, ch);
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if (stale && argc - optind != 0)
		return ctl_usage_error(ctx, "give ID or --stale, not both");
	if (stale)
		return resume_stale(ctx);
	if (argc - optind != 1)
		return ctl_usage_error(ctx, "give ID or --stale");
	path = ctl_run_path(argv[optind], "/resume");
	rc = ctl_request(ctx, "POST", path, NULL, NULL, &run);
	free(path);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(run);
	else
		printf("run %s: %s\n", ctl_str(run, "id", argv[optind]),
		    ctl_str(run, "status", "unknown"));
	json_decref(run);
	return CTL_EXIT_OK;
}
