/*
 * agentctl: the command-line client of agentd. One struct ctl_cmd per verb
 * (cmd-<verb>.c), a table of them (cmd.c), main and global options
 * (agentctl.c), and the HTTP-over-Unix-socket helpers shared by every verb.
 */
#ifndef AGENTCTL_H
#define AGENTCTL_H

#include <getopt.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <jansson.h>

/* Exit codes; listed by `agentctl --help`. */
enum ctl_exit {
	CTL_EXIT_OK = 0,		/* success */
	CTL_EXIT_RUN = 1,		/* run did not complete; bad lines */
	CTL_EXIT_USAGE = 2,		/* bad usage */
	CTL_EXIT_UNREACHABLE = 3,	/* cannot talk to agentd */
	CTL_EXIT_NOTFOUND = 4,		/* HTTP 404 */
	CTL_EXIT_DAEMON = 5		/* any other daemon error */
};

/* What main sets up for one invocation; the only mutable state. */
struct ctl_ctx {
	const char		*socket;	/* API socket path */
	int			 json;		/* --json: print daemon JSON */
	int			 color;		/* colour status words */
	const struct ctl_cmd	*cmd;		/* the command being run */
	int			 opt_started;	/* ctl_getopt reset optind */
	char			*noconn;	/* why agentd was unreachable */
};

struct ctl_cmd {
	const char	*name;
	const char	*usage;		/* arguments, after the name */
	const char	*help;		/* description, may span lines */
	int		 min_args;	/* positional arguments */
	int		 max_args;	/* -1: unlimited */
	int		(*exec)(struct ctl_ctx *, int argc, char **argv);
};

/* A subcommand ("batch status"): the word after the verb and its cmd. */
struct ctl_subcmd {
	const char		*word;
	const struct ctl_cmd	*cmd;
};

/* cmd.c */
extern const struct ctl_cmd *const ctl_cmd_table[];
extern const struct ctl_subcmd ctl_batch_subcmds[];
extern const struct ctl_subcmd ctl_queue_subcmds[];
const struct ctl_cmd	*ctl_cmd_find(const char *name);
const struct ctl_cmd	*ctl_subcmd_find(const struct ctl_subcmd *subs,
			    const char *word);
const struct ctl_cmd	*ctl_cmd_find_sub(const char *name,
			    const char *word);
int			 ctl_subcmd_exec(struct ctl_ctx *ctx,
			    const struct ctl_subcmd *subs, int argc,
			    char **argv);
void			 ctl_cmd_synopsis(FILE *f, const char *prefix,
			    const struct ctl_cmd *cmd);
void			 ctl_cmd_usage(FILE *f, const struct ctl_cmd *cmd);
void			 ctl_cmd_print_help(FILE *f,
			    const struct ctl_cmd *cmd);

/* Long options every command accepts; end a command's option table. */
#define CTL_OPT_JSON	0x1000
#define CTL_OPT_HELP	0x1001
#define CTL_OPT_BAD	0x1002
#define CTL_COMMON_OPTS							\
	{ "json", no_argument, NULL, CTL_OPT_JSON },			\
	{ "help", no_argument, NULL, CTL_OPT_HELP },			\
	{ NULL, 0, NULL, 0 }

/* agentctl.c: option parsing and messages for commands. */
int	 ctl_getopt(struct ctl_ctx *ctx, int argc, char **argv,
	    const char *optstring, const struct option *longopts);
int	 ctl_getopt_exit(struct ctl_ctx *ctx, int ch);
int	 ctl_check_args(struct ctl_ctx *ctx, int nargs);
int	 ctl_usage_error(struct ctl_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));
void	 ctl_error(struct ctl_ctx *ctx, const char *fmt, ...)
	    __attribute__((format(printf, 2, 3)));

/* client.c: one HTTP exchange with agentd. */
typedef int (*ctl_stream_cb)(void *arg, const char *buf, size_t len);

enum ctl_xfer_result {
	CTL_XFER_OK,		/* response received completely */
	CTL_XFER_STOPPED,	/* the stream callback asked to stop */
	CTL_XFER_NOCONN,	/* could not connect to the socket */
	CTL_XFER_BROKEN		/* connection failed after connecting */
};

struct ctl_xfer {
	/* Filled by the caller. */
	const char	*method;	/* "GET", "POST" */
	const char	*path;		/* "/v1/runs?limit=5" */
	const char	*body;		/* request body (JSON) or NULL */
	const char	*accept;	/* NULL: application/json */
	ctl_stream_cb	 stream;	/* NULL: buffer the whole body */
	void		*stream_arg;
	long		 timeout_ms;	/* 0: none */
	/* Filled by ctl_xfer(). */
	enum ctl_xfer_result result;
	long		 status;	/* HTTP status, 0 if none */
	char		*resp;		/* body; for streams only if not 2xx */
	size_t		 resp_len;
	int		 os_errno;	/* errno of a failed connect */
	char		*errmsg;	/* transport error text */
};

void	 ctl_xfer(struct ctl_ctx *ctx, struct ctl_xfer *x);
void	 ctl_xfer_free(struct ctl_xfer *x);
int	 ctl_xfer_failed(struct ctl_ctx *ctx, const struct ctl_xfer *x);
char	*ctl_error_message(const struct ctl_xfer *x);
int	 ctl_status_exit(long status);
int	 ctl_request(struct ctl_ctx *ctx, const char *method,
	    const char *path, json_t *body, long *status, json_t **out);
/* ctl_request_ex flags. */
#define CTL_REQ_QUIET_NOCONN	0x1	/* connect failed: no message, */
					/* ctx->noconn says why */
int	 ctl_request_ex(struct ctl_ctx *ctx, const char *method,
	    const char *path, json_t *body, int flags, long *status,
	    json_t **out);
void	 ctl_client_free(struct ctl_ctx *ctx);
char	*ctl_escape(const char *s);
char	*ctl_run_path(const char *id, const char *suffix);
char	*ctl_batch_path(const char *name, const char *suffix);
void	 ctl_query_add(char **path, const char *key, const char *value);
void	 ctl_query_add_ll(char **path, const char *key, long long value);

/*
 * offline.c: working on the store directly when agentd is not running
 * (batch and queue commands). The store path is --db PATH, else $AGENTD_DB.
 */
struct store;
const char	*ctl_db_path(const char *opt);
int		 ctl_unreachable(struct ctl_ctx *ctx, const char *db);
struct store	*ctl_store_open(struct ctl_ctx *ctx, const char *db,
		    int create);
void		 ctl_offline_note(struct ctl_ctx *ctx, const char *db);
int		 ctl_call(struct ctl_ctx *ctx, const char *method,
		    const char *path, json_t *body, const char *dbopt,
		    int create, json_t **out, struct store **stp);

/* cmd-batch.c: 1 to 64 of [A-Za-z0-9_.:-], as agentd wants. */
int	 ctl_valid_name(const char *s);

/* follow.c: follow a run's event stream until its final status. */
struct ctl_follow {
	const char	*id;		/* run id */
	long long	 after;		/* last seq already seen; -1 none */
	int		 quiet;		/* print nothing but the final line */
};

int	 ctl_follow(struct ctl_ctx *ctx, struct ctl_follow *f);

/* output.c: human output. */
void	 ctl_print_json(json_t *j);
void	 ctl_print_json_line(json_t *j);
const char *ctl_status_color(const char *status);
/* The run's status and why it waits: "starting (retry 3 in 4s)". */
void	 ctl_status_text(json_t *run, char *buf, size_t len);
const char *ctl_str(json_t *obj, const char *key, const char *dflt);
long long ctl_int(json_t *obj, const char *key, long long dflt);
void	 ctl_age(json_t *obj, const char *key, char *buf, size_t len);
void	 ctl_fmt_time(int64_t ms, char *buf, size_t len);
void	 ctl_fmt_uptime(long long s, char *buf, size_t len);

struct ctl_table;
struct ctl_table *ctl_table_new(int ncols, const char *const *headers);
void	 ctl_table_add(struct ctl_table *t, const char *const *cells,
	    const char *const *colors);
void	 ctl_table_print(struct ctl_ctx *ctx, struct ctl_table *t,
	    const char *indent);
void	 ctl_table_free(struct ctl_table *t);

#endif
