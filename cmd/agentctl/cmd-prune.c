/*
 * agentctl prune: delete finished runs older than a duration
 * (POST /v1/runs/prune {"older_than_s":N}).
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "agentctl.h"
#include "util.h"

/* Runs one request prunes at most: agentd answers it within seconds. */
#define PRUNE_STEP	50000

static int	cmd_prune_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_prune = {
	"prune",
	"--older-than DURATION",
	"Delete finished runs (and their events) older than DURATION:\n"
	"seconds, or a number with s, m, h, d or w (e.g. 3600, 12h, 7d).\n"
	"agentd prunes a slice at a time, so the API goes on meanwhile;\n"
	"agentctl asks for 50,000 runs at a time and shows the count on a\n"
	"terminal. Prints \"pruned N runs\".\n",
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
	long long	 secs = -1, total = 0;
	int		 ch, rc, more, tty;

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
	/* PRUNE_STEP runs a request, so a big prune shows its progress. */
	tty = isatty(STDERR_FILENO) && !ctx->json;
	for (;;) {
		body = json_pack("{sI sI}", "older_than_s", (json_int_t)secs,
		    "max_runs", (json_int_t)PRUNE_STEP);
		rc = ctl_request(ctx, "POST", "/v1/runs/prune", body, NULL,
		    &reply);
		json_decref(body);
		if (rc != 0) {
			if (total > 0)
				fprintf(stderr, "agentctl: prune: %lld runs were "
				    "pruned before that\n", total);
			return rc;
		}
		total += ctl_int(reply, "deleted", 0);
		more = json_is_true(json_object_get(reply, "more"));
		json_decref(reply);
		if (!more)
			break;
		if (tty)
			fprintf(stderr, "\rpruned %lld runs so far...", total);
	}
	if (tty && total >= PRUNE_STEP)
		fprintf(stderr, "\r%*s\r", 40, "");
	if (ctx->json) {
		reply = json_pack("{sI}", "deleted", (json_int_t)total);
		ctl_print_json(reply);
		json_decref(reply);
	} else
		printf("pruned %lld runs\n", total);
	return CTL_EXIT_OK;
}
