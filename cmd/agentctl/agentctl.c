/*
 * agentctl main: global options (-s SOCKET, --json, --help, --version),
 * dispatch of the command by its exact name, and the option-parsing and
 * message helpers every command uses.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
#include "util.h"

static const struct option global_opts[] = {
	{ "socket",	required_argument,	NULL, 's' },
	{ "json",	no_argument,		NULL, 'j' },
	{ "help",	no_argument,		NULL, 'h' },
	{ "version",	no_argument,		NULL, 'V' },
	{ NULL, 0, NULL, 0 }
};

/* Print the synopsis alone, for usage errors. */
static void
short_usage(FILE *f)
{
	fprintf(f, "usage: agentctl [-s SOCKET] [--json] COMMAND [ARGS...]\n"
	    "       agentctl help [COMMAND] | --help | --version\n");
}

/* Print the global usage, the command list and the exit codes to f. */
static void
usage(FILE *f)
{
	const struct ctl_cmd *const	*cp;

	short_usage(f);
	fprintf(f, "\nClient of agentd, the supervisor of background agent "
	    "runs.\n\nOptions:\n"
	    "  -s, --socket PATH  API socket (default: $AGENTD_SOCKET,\n"
	    "                     $XDG_RUNTIME_DIR/agentd.sock,\n"
	    "                     /run/agentd/agentd.sock)\n"
	    "  --json             print the daemon's JSON (also accepted "
	    "after COMMAND)\n"
	    "  --help             this help; COMMAND --help for a command\n"
	    "  --version          print the version\n\n"
	    "Commands:\n");
	for (cp = ctl_cmd_table; *cp != NULL; cp++)
		ctl_cmd_synopsis(f, "  ", *cp);
	fprintf(f, "\nExit status:\n"
	    "  %d  success\n"
	    "  %d  the run failed, was cancelled, incomplete or abandoned;\n"
	    "     batch: some lines were bad; batch wait: not every run\n"
	    "     completed\n"
	    "  %d  usage error\n"
	    "  %d  agentd unreachable\n"
	    "  %d  not found\n"
	    "  %d  other error reported by agentd\n",
	    CTL_EXIT_OK, CTL_EXIT_RUN, CTL_EXIT_USAGE, CTL_EXIT_UNREACHABLE,
	    CTL_EXIT_NOTFOUND, CTL_EXIT_DAEMON);
}

/* Decide whether status words may be coloured on stdout. */
static int
want_color(void)
{
	const char	*s;

	if (!isatty(STDOUT_FILENO))
		return 0;
	if ((s = getenv("NO_COLOR")) != NULL && *s != '\0')
		return 0;
	if ((s = getenv("TERM")) != NULL && strcmp(s, "dumb") == 0)
		return 0;
	return 1;
}

/* Print "agentctl: <verb>: <message>" to stderr. */
void
ctl_error(struct ctl_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	if (ctx != NULL && ctx->cmd != NULL)
		fprintf(stderr, "agentctl: %s: ", ctx->cmd->name);
	else
		fprintf(stderr, "agentctl: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Report a usage error and the command's usage line; return 2. */
int
ctl_usage_error(struct ctl_ctx *ctx, const char *fmt, ...)
{
	va_list	ap;

	fflush(stdout);
	fprintf(stderr, "agentctl: %s: ", ctx->cmd->name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	ctl_cmd_usage(stderr, ctx->cmd);
	return CTL_EXIT_USAGE;
}

/*
 * getopt_long for a command's argv (argv[0] is the verb). Handles --json
 * itself; returns CTL_OPT_HELP for --help, CTL_OPT_BAD after reporting a
 * bad option, else what getopt_long returns.
 */
int
ctl_getopt(struct ctl_ctx *ctx, int argc, char **argv, const char *optstring,
    const struct option *longopts)
{
	const char	*arg;
	char		 spec[64];
	int		 ch;

	if (!ctx->opt_started) {
		optind = 0;	/* glibc: full re-initialisation */
		ctx->opt_started = 1;
	}
	opterr = 0;
	snprintf(spec, sizeof spec, ":%s", optstring);
	for (;;) {
		ch = getopt_long(argc, argv, spec, longopts, NULL);
		switch (ch) {
		case CTL_OPT_JSON:
			ctx->json = 1;
			continue;
		case ':':
			ctl_usage_error(ctx, "option requires an argument: %s",
			    argv[optind - 1]);
			return CTL_OPT_BAD;
		case '?':
			arg = argv[optind - 1];
			if (strncmp(arg, "--", 2) != 0 ||
			    (optopt > 0 && optopt < 0x100 &&
			    strchr(arg, '=') == NULL))
				ctl_usage_error(ctx, "unknown option: -%c",
				    optopt);
			else if (optopt != 0)
				ctl_usage_error(ctx, "option takes no "
				    "argument: %s", arg);
			else
				ctl_usage_error(ctx, "unknown option: %s",
				    arg);
			return CTL_OPT_BAD;
		default:
			return ch;
		}
	}
}

/*
 * The exit status for an option ctl_getopt returned that the command does
 * not handle itself: --help prints help (0), anything else is bad usage.
 */
int
ctl_getopt_exit(struct ctl_ctx *ctx, int ch)
{
	if (ch == CTL_OPT_HELP) {
		ctl_cmd_print_help(stdout, ctx->cmd);
		return CTL_EXIT_OK;
	}
	if (ch == CTL_OPT_BAD)
		return CTL_EXIT_USAGE;
	return ctl_usage_error(ctx, "unexpected option");
}

/* Check the positional argument count against the command; 0 or 2. */
int
ctl_check_args(struct ctl_ctx *ctx, int nargs)
{
	if (nargs < ctx->cmd->min_args)
		return ctl_usage_error(ctx, "missing argument");
	if (ctx->cmd->max_args >= 0 && nargs > ctx->cmd->max_args)
		return ctl_usage_error(ctx, "too many arguments");
	return 0;
}

/* Parse the global options, find the command by exact name and run it. */
int
main(int argc, char **argv)
{
	struct ctl_ctx		 ctx;
	char			 sockbuf[4096];
	const char		*sock = NULL;
	int			 ch, rc;

	memset(&ctx, 0, sizeof ctx);
	opterr = 0;
	while ((ch = getopt_long(argc, argv, "+:s:hV", global_opts,
	    NULL)) != -1) {
		switch (ch) {
		case 's':
			sock = optarg;
			break;
		case 'j':
			ctx.json = 1;
			break;
		case 'h':
			usage(stdout);
			return CTL_EXIT_OK;
		case 'V':
			printf("agentctl %s\n", AGENTD_VERSION);
			return CTL_EXIT_OK;
		case ':':
			fprintf(stderr, "agentctl: option requires an "
			    "argument: %s\n", argv[optind - 1]);
			short_usage(stderr);
			return CTL_EXIT_USAGE;
		default:
			fprintf(stderr, "agentctl: unknown option: %s\n",
			    argv[optind - 1]);
			short_usage(stderr);
			return CTL_EXIT_USAGE;
		}
	}
	argc -= optind;
	argv += optind;
	if (argc == 0) {
		fprintf(stderr, "agentctl: no command given\n");
		short_usage(stderr);
		return CTL_EXIT_USAGE;
	}
	if ((ctx.cmd = ctl_cmd_find(argv[0])) == NULL) {
		fprintf(stderr, "agentctl: unknown command: %s "
		    "(see 'agentctl --help')\n", argv[0]);
		return CTL_EXIT_USAGE;
	}
	if (sock == NULL || *sock == '\0') {
		util_default_socket(sockbuf, sizeof sockbuf);
		sock = sockbuf;
	}
	ctx.socket = sock;
	ctx.color = want_color();

	rc = ctx.cmd->exec(&ctx, argc, argv);
	ctl_client_free(&ctx);

	if (fflush(stdout) != 0 || ferror(stdout)) {
		if (errno != EPIPE)
			fprintf(stderr, "agentctl: writing output: %s\n",
			    strerror(errno));
		if (rc == CTL_EXIT_OK)
			rc = CTL_EXIT_DAEMON;
	}
	return rc;
}
