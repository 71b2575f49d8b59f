/*
 * The table of agentctl commands (alphabetical, NULL-ended) and of the
 * subcommands of batch and queue, lookup by exact name, and the usage and
 * help printers shared by main and "help".
 */
#include <stdio.h>
#include <string.h>

#include "agentctl.h"

extern const struct ctl_cmd ctl_cmd_batch;
extern const struct ctl_cmd ctl_cmd_batch_cancel;
extern const struct ctl_cmd ctl_cmd_batch_list;
extern const struct ctl_cmd ctl_cmd_batch_results;
extern const struct ctl_cmd ctl_cmd_batch_status;
extern const struct ctl_cmd ctl_cmd_batch_submit;
extern const struct ctl_cmd ctl_cmd_batch_wait;
extern const struct ctl_cmd ctl_cmd_cancel;
extern const struct ctl_cmd ctl_cmd_events;
extern const struct ctl_cmd ctl_cmd_help;
extern const struct ctl_cmd ctl_cmd_list;
extern const struct ctl_cmd ctl_cmd_prune;
extern const struct ctl_cmd ctl_cmd_queue;
extern const struct ctl_cmd ctl_cmd_queue_list;
extern const struct ctl_cmd ctl_cmd_queue_set;
extern const struct ctl_cmd ctl_cmd_result;
extern const struct ctl_cmd ctl_cmd_resume;
extern const struct ctl_cmd ctl_cmd_show;
extern const struct ctl_cmd ctl_cmd_status;
extern const struct ctl_cmd ctl_cmd_submit;
extern const struct ctl_cmd ctl_cmd_watch;

const struct ctl_cmd *const ctl_cmd_table[] = {
	&ctl_cmd_batch,
	&ctl_cmd_cancel,
	&ctl_cmd_events,
	&ctl_cmd_help,
	&ctl_cmd_list,
	&ctl_cmd_prune,
	&ctl_cmd_queue,
	&ctl_cmd_result,
	&ctl_cmd_resume,
	&ctl_cmd_show,
	&ctl_cmd_status,
	&ctl_cmd_submit,
	&ctl_cmd_watch,
	NULL
};

const struct ctl_subcmd ctl_batch_subcmds[] = {
	{ "submit",	&ctl_cmd_batch_submit },
	{ "list",	&ctl_cmd_batch_list },
	{ "status",	&ctl_cmd_batch_status },
	{ "wait",	&ctl_cmd_batch_wait },
	{ "results",	&ctl_cmd_batch_results },
	{ "cancel",	&ctl_cmd_batch_cancel },
	{ NULL, NULL }
};

const struct ctl_subcmd ctl_queue_subcmds[] = {
	{ "list",	&ctl_cmd_queue_list },
	{ "set",	&ctl_cmd_queue_set },
	{ NULL, NULL }
};

/* Return the command called exactly name, or NULL. */
const struct ctl_cmd *
ctl_cmd_find(const char *name)
{
	const struct ctl_cmd *const	*cp;

	for (cp = ctl_cmd_table; *cp != NULL; cp++) {
		if (strcmp((*cp)->name, name) == 0)
			return *cp;
	}
	return NULL;
}

/* Return the subcommand called exactly word, or NULL. */
const struct ctl_cmd *
ctl_subcmd_find(const struct ctl_subcmd *subs, const char *word)
{
	for (; subs->word != NULL; subs++) {
		if (strcmp(subs->word, word) == 0)
			return subs->cmd;
	}
	return NULL;
}

/* Return subcommand word of command name ("batch", "status"), or NULL. */
const struct ctl_cmd *
ctl_cmd_find_sub(const char *name, const char *word)
{
	if (strcmp(name, "batch") == 0)
		return ctl_subcmd_find(ctl_batch_subcmds, word);
	if (strcmp(name, "queue") == 0)
		return ctl_subcmd_find(ctl_queue_subcmds, word);
	return NULL;
}

/*
 * If argv[1] names one of subs, make it the command being run and run it
 * with argv[1] as its argv[0]; return its exit status. Else return -1.
 */
int
ctl_subcmd_exec(struct ctl_ctx *ctx, const struct ctl_subcmd *subs,
    int argc, char **argv)
{
	const struct ctl_cmd	*sub;

	if (argc < 2 || (sub = ctl_subcmd_find(subs, argv[1])) == NULL)
		return -1;
	ctx->cmd = sub;
	return sub->exec(ctx, argc - 1, argv + 1);
}

/*
 * Print prefix, the command name and its usage to f; a newline in the
 * usage continues it on a line indented under the first argument.
 */
void
ctl_cmd_synopsis(FILE *f, const char *prefix, const struct ctl_cmd *cmd)
{
	const char	*p;
	int		 indent;

	indent = fprintf(f, "%s%s", prefix, cmd->name);
	if (*cmd->usage != '\0')
		indent += fprintf(f, " ");
	for (p = cmd->usage; *p != '\0'; p++) {
		fputc(*p, f);
		if (*p == '\n')
			fprintf(f, "%*s", indent, "");
	}
	fputc('\n', f);
}

/* Print the command's usage to f. */
void
ctl_cmd_usage(FILE *f, const struct ctl_cmd *cmd)
{
	ctl_cmd_synopsis(f, "usage: agentctl ", cmd);
}

/* Print the command's usage and description to f. */
void
ctl_cmd_print_help(FILE *f, const struct ctl_cmd *cmd)
{
	ctl_cmd_usage(f, cmd);
	fprintf(f, "\n%s", cmd->help);
	if (*cmd->help != '\0' && cmd->help[strlen(cmd->help) - 1] != '\n')
		fputc('\n', f);
}
