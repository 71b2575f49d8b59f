/*
 * The table of agentctl commands (alphabetical, NULL-ended), lookup by
 * exact name, and the usage and help printers shared by main and "help".
 */
#include <stdio.h>
#include <string.h>

#include "agentctl.h"

extern const struct ctl_cmd ctl_cmd_batch;
extern const struct ctl_cmd ctl_cmd_cancel;
extern const struct ctl_cmd ctl_cmd_events;
extern const struct ctl_cmd ctl_cmd_help;
extern const struct ctl_cmd ctl_cmd_list;
extern const struct ctl_cmd ctl_cmd_prune;
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
	&ctl_cmd_result,
	&ctl_cmd_resume,
	&ctl_cmd_show,
	&ctl_cmd_status,
	&ctl_cmd_submit,
	&ctl_cmd_watch,
	NULL
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
