/*
 * agentctl result: GET /v1/runs/{id}/result and print the run's output
 * text; the exit status says whether the run completed.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"

static int	cmd_result_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_result = {
	"result",
	"ID",
	"Print the output text of finished run ID (--json: the whole result\n"
	"with the response). Exits 0 if the run completed, else 1 with\n"
	"\"run ID: STATUS: ERROR\" on stderr; 5 if it has not finished.\n",
	1, 1,
	cmd_result_exec
};

static const struct option result_opts[] = {
	CTL_COMMON_OPTS
};

/* Fetch the result, print it, map the status to the exit code. */
static int
cmd_result_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	const char	*status, *text, *msg = NULL, *id;
	json_t		*res, *err, *out;
	char		*path;
	size_t		 n;
	int		 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", result_opts)) != -1)
		return ctl_getopt_exit(ctx, ch);
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = ctl_run_path(argv[optind], "/result");
	rc = ctl_request(ctx, "GET", path, NULL, NULL, &res);
	free(path);
	if (rc != 0)
		return rc;
	id = ctl_str(res, "id", argv[optind]);
	status = ctl_str(res, "status", "unknown");
	if (ctx->json)
		ctl_print_json(res);
	else if (json_is_string(out = json_object_get(res, "output_text")) &&
	    (n = json_string_length(out)) > 0) {
		text = json_string_value(out);
		fwrite(text, 1, n, stdout);
		if (text[n - 1] != '\n')
			fputc('\n', stdout);
	}
	rc = strcmp(status, "completed") == 0 ? CTL_EXIT_OK : CTL_EXIT_RUN;
	if (rc != CTL_EXIT_OK) {
		fflush(stdout);
		err = json_object_get(res, "error");
		if (json_is_object(err))
			msg = ctl_str(err, "message", NULL);
		else if (json_is_string(err))
			msg = json_string_value(err);
		if (msg != NULL)
			fprintf(stderr, "run %s: %s: %s\n", id, status, msg);
		else
			fprintf(stderr, "run %s: %s\n", id, status);
	}
	json_decref(res);
	return rc;
}
