/*
 * agentctl help: list the commands, or show one command's usage and
 * description.
 */
#include <stdio.h>

#include "agentctl.h"

static int	cmd_help_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_help = {
	"help",
	"[COMMAND [SUBCOMMAND]]",
	"Without COMMAND, list the commands; else show COMMAND's usage and\n"
	"description (as COMMAND --help does), or SUBCOMMAND's (batch and\n"
	"queue have subcommands, e.g. \"help batch status\").\n",
	0, 2,
	cmd_help_exec
};

static const struct option help_opts[] = {
	CTL_COMMON_OPTS
};

/* Print the command list or one command's help. */
static int
cmd_help_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	const struct ctl_cmd *const	*cp;
	const struct ctl_cmd		*cmd;
	int				 ch;

	while ((ch = ctl_getopt(ctx, argc, argv, "", help_opts)) != -1)
		return ctl_getopt_exit(ctx, ch);
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if (argc - optind >= 1) {
		if ((cmd = ctl_cmd_find(argv[optind])) == NULL)
			return ctl_usage_error(ctx, "unknown command: %s",
			    argv[optind]);
		if (argc - optind == 2 && (cmd = ctl_cmd_find_sub(
		    argv[optind], argv[optind + 1])) == NULL)
			return ctl_usage_error(ctx, "unknown subcommand: %s %s",
			    argv[optind], argv[optind + 1]);
		ctl_cmd_print_help(stdout, cmd);
		return CTL_EXIT_OK;
	}
	printf("usage: agentctl [-s SOCKET] [--json] COMMAND [ARGS...]\n\n"
	    "Commands:\n");
	for (cp = ctl_cmd_table; *cp != NULL; cp++)
		ctl_cmd_synopsis(stdout, "  ", *cp);
	printf("\nSee 'agentctl --help' for options and exit codes, and\n"
	    "'agentctl help COMMAND' for one command.\n");
	return CTL_EXIT_OK;
}
