/*
 * agentctl submit: build a Responses API request (from a JSON file, stdin
 * or --model/--input), wrap it in the agentd envelope, POST /v1/runs and
 * print the run id; --wait then follows the run to its end.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

static int	cmd_submit_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_submit = {
	"submit",
	"[-f FILE|-] [--model M] [--input TEXT|-] [--wait]\n"
	"[--mode MODE] [--idempotency-key K]\n"
	"[--queue Q] [--priority N] [--metadata k=v ...]",
	"Submit a run. The request body (a Responses API request object) is\n"
	"read from FILE (- for stdin), or built as {\"model\":M,\"input\":"
	"TEXT};\n"
	"--model and --input also override those fields of FILE's request.\n"
	"--input - reads the text from stdin. --metadata k=v (repeatable)\n"
	"sets request.metadata.k to the string v. Prints the run id (--json:\n"
	"the daemon's reply). With --wait, then follows the run silently and\n"
	"exits 0 if it completed, 1 otherwise, printing its final status on\n"
	"stderr (--json --wait prints the final run object instead).\n"
	"MODE is auto (the default), background, stream, batch or poll.\n",
	0, 0,
	cmd_submit_exec
};

static const struct option submit_opts[] = {
	{ "file",		required_argument, NULL, 'f' },
	{ "model",		required_argument, NULL, 'm' },
	{ "input",		required_argument, NULL, 'i' },
	{ "mode",		required_argument, NULL, 'M' },
	{ "idempotency-key",	required_argument, NULL, 'k' },
	{ "queue",		required_argument, NULL, 'q' },
	{ "priority",		required_argument, NULL, 'p' },
	{ "metadata",		required_argument, NULL, 'D' },
	{ "wait",		no_argument,	   NULL, 'w' },
	CTL_COMMON_OPTS
};

/* Read all of f into an allocated NUL-terminated buffer; NULL on error. */
static char *
read_all(FILE *f, size_t *lenp)
{
	char	*buf = NULL;
	size_t	 len = 0, cap = 0, n;

	for (;;) {
		if (cap - len < 4096) {
			cap = cap * 2 + 8192;
			buf = xrealloc(buf, cap);
		}
		n = fread(buf + len, 1, cap - len - 1, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		free(buf);
		return NULL;
	}
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/* Load the request object from path ("-": stdin); report errors. */
static json_t *
load_request(struct ctl_ctx *ctx, const char *path)
{
	json_error_t	 err;
	json_t		*j;
	const char	*name;
	FILE		*f;

	name = strcmp(path, "-") == 0 ? "<stdin>" : path;
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		ctl_error(ctx, "%s: %s", path, strerror(errno));
		return NULL;
	}
	j = json_loadf(f, 0, &err);
	if (f != stdin)
		fclose(f);
	if (j == NULL) {
		ctl_error(ctx, "%s:%d:%d: invalid JSON: %s", name, err.line,
		    err.column, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		ctl_error(ctx, "%s: the request must be a JSON object", name);
		json_decref(j);
		return NULL;
	}
	return j;
}

/* Set request.metadata[k] = v for one "k=v"; 0, or -1 if malformed. */
static int
add_metadata(struct ctl_ctx *ctx, json_t *req, const char *kv)
{
	const char	*eq;
	json_t		*md;
	char		*key;

	if ((eq = strchr(kv, '=')) == NULL || eq == kv) {
		ctl_usage_error(ctx, "--metadata wants KEY=VALUE: %s", kv);
		return -1;
	}
	md = json_object_get(req, "metadata");
	if (md == NULL || json_is_null(md)) {
		md = json_object();
		json_object_set_new(req, "metadata", md);
	} else if (!json_is_object(md)) {
		ctl_error(ctx, "request.metadata is not an object");
		return -1;
	}
	key = xstrndup(kv, (size_t)(eq - kv));
	if (json_object_set_new(md, key, json_string(eq + 1)) != 0) {
		ctl_usage_error(ctx, "--metadata is not valid UTF-8: %s", kv);
		free(key);
		return -1;
	}
	free(key);
	return 0;
}

/* True if mode is one of the modes the daemon knows. */
static int
valid_mode(const char *mode)
{
	return strcmp(mode, "auto") == 0 || strcmp(mode, "background") == 0 ||
	    strcmp(mode, "stream") == 0 || strcmp(mode, "batch") == 0 ||
	    strcmp(mode, "poll") == 0;
}

/* Read --input - from stdin, without trailing newlines. */
static char *
read_input(struct ctl_ctx *ctx)
{
	char	*text;
	size_t	 len;

	if ((text = read_all(stdin, &len)) == NULL) {
		ctl_error(ctx, "reading stdin: %s", strerror(errno));
		return NULL;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		text[--len] = '\0';
	return text;
}

/* POST the envelope; print the id or the JSON; follow with --wait. */
static int
submit(struct ctl_ctx *ctx, json_t *env, int wait)
{
	struct ctl_follow	 f;
	json_t			*reply, *run;
	const char		*id;
	char			*path;
	long			 status = 0;
	int			 rc;

	if ((rc = ctl_request(ctx, "POST", "/v1/runs", env, &status,
	    &reply)) != 0)
		return rc;
	id = ctl_str(reply, "id", NULL);
	if (id == NULL)
		id = ctl_str(json_object_get(reply, "run"), "id", NULL);
	if (id == NULL) {
		ctl_error(ctx, "reply from agentd has no run id");
		json_decref(reply);
		return CTL_EXIT_DAEMON;
	}
	if (ctx->json && !wait)
		ctl_print_json(reply);
	else if (!ctx->json) {
		printf("%s\n", id);
		fflush(stdout);
		if (json_is_false(json_object_get(reply, "created")))
			ctl_error(ctx, "run %s already exists for this "
			    "idempotency key", id);
	}
	if (!wait) {
		json_decref(reply);
		return CTL_EXIT_OK;
	}
	memset(&f, 0, sizeof f);
	f.id = id;
	f.after = -1;
	f.quiet = 1;
	rc = ctl_follow(ctx, &f);
	if (ctx->json && (rc == CTL_EXIT_OK || rc == CTL_EXIT_RUN)) {
		path = ctl_run_path(id, "");
		if (ctl_request(ctx, "GET", path, NULL, NULL, &run) == 0) {
			ctl_print_json(run);
			json_decref(run);
		}
		free(path);
	}
	json_decref(reply);
	return rc;
}

/* Parse options, build the request and the envelope, submit. */
static int
cmd_submit_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	const char	*file = NULL, *model = NULL, *input = NULL;
	const char	*mode = NULL, *key = NULL, *queue = NULL;
	const char	*prio = NULL;
	char		**meta;
	char		*text = NULL;
	json_t		*req = NULL, *env;
	long long	 priority = 0;
	int		 ch, rc, wait = 0, nmeta = 0, i;

	meta = xcalloc((size_t)argc + 1, sizeof *meta);
	while ((ch = ctl_getopt(ctx, argc, argv, "f:m:i:k:q:p:w",
	    submit_opts)) != -1) {
		switch (ch) {
		case 'f': file = optarg; break;
		case 'm': model = optarg; break;
		case 'i': input = optarg; break;
		case 'M': mode = optarg; break;
		case 'k': key = optarg; break;
		case 'q': queue = optarg; break;
		case 'p': prio = optarg; break;
		case 'D': meta[nmeta++] = optarg; break;
		case 'w': wait = 1; break;
		default:
			free(meta);
			return ctl_getopt_exit(ctx, ch);
		}
	}
	rc = CTL_EXIT_USAGE;
	if (ctl_check_args(ctx, argc - optind) != 0)
		goto out;
	if (file == NULL && input == NULL) {
		ctl_usage_error(ctx, "need -f FILE or --input TEXT");
		goto out;
	}
	if (file != NULL && input != NULL && strcmp(file, "-") == 0 &&
	    strcmp(input, "-") == 0) {
		ctl_usage_error(ctx, "-f - and --input - both read stdin");
		goto out;
	}
	if (mode != NULL && !valid_mode(mode)) {
		ctl_usage_error(ctx, "bad --mode: %s", mode);
		goto out;
	}
	if (prio != NULL &&
	    util_parse_int(prio, INT_MIN, INT_MAX, &priority) != 0) {
		ctl_usage_error(ctx, "bad --priority: %s", prio);
		goto out;
	}
	if (key != NULL && *key == '\0') {
		ctl_usage_error(ctx, "empty --idempotency-key");
		goto out;
	}

	if (file != NULL) {
		rc = CTL_EXIT_USAGE;
		if ((req = load_request(ctx, file)) == NULL)
			goto out;
	} else
		req = json_object();
	if (model != NULL &&
	    json_object_set_new(req, "model", json_string(model)) != 0) {
		ctl_usage_error(ctx, "--model is not valid UTF-8");
		goto out;
	}
	if (input != NULL) {
		if (strcmp(input, "-") == 0) {
			if ((text = read_input(ctx)) == NULL)
				goto out;
			input = text;
		}
		if (json_object_set_new(req, "input",
		    json_string(input)) != 0) {
			ctl_usage_error(ctx, "--input is not valid UTF-8");
			goto out;
		}
	}
	for (i = 0; i < nmeta; i++) {
		if (add_metadata(ctx, req, meta[i]) != 0)
			goto out;
	}

	env = json_object();
	json_object_set(env, "request", req);
	if (mode != NULL)
		json_object_set_new(env, "mode", json_string(mode));
	if ((key != NULL && json_object_set_new(env, "idempotency_key",
	    json_string(key)) != 0) || (queue != NULL &&
	    json_object_set_new(env, "queue", json_string(queue)) != 0)) {
		ctl_usage_error(ctx, "--idempotency-key or --queue is not "
		    "valid UTF-8");
		json_decref(env);
		goto out;
	}
	if (prio != NULL)
		json_object_set_new(env, "priority", json_integer(priority));
	rc = submit(ctx, env, wait);
	json_decref(env);
out:
	json_decref(req);
	free(text);
	free(meta);
	return rc;
}
