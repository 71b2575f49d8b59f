/*
 * agentctl cancel: POST /v1/runs/{id}/cancel and print the run's status.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"

static int	cmd_cancel_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_cancel = {
	"cancel",
	"ID",
	"Cancel run ID (and its backend response) and print "
	"\"run ID: STATUS\".\n",
	1, 1,
	cmd_cancel_exec
};

static const struct option cancel_opts[] = {
	CTL_COMMON_OPTS
};

/* Cancel the run and print what became of it. */
static int
cmd_cancel_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t	*run;
	char	*path;
	int	 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", cancel_opts)) != -1)
		return ctl_getopt_exit(ctx, ch);
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = ctl_run_path(argv[optind], "/cancel");
	rc = ctl_request(ctx, "POST", path, NULL, NULL, &run);
	free(path);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(run);
	else
		printf("run %s: %s\n", ctl_str(run, "id", argv[optind]),
		    ctl_str(run, "status", "cancelled"));
	json_decref(run);
	return CTL_EXIT_OK;
}
