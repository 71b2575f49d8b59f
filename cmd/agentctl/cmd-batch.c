/*
 * agentctl batch: submit every line of a JSON Lines file, either OpenAI
 * Batch input lines ({"custom_id","method","url","body"}) or bare request
 * objects, each with an idempotency key so re-running the file is safe.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

static int	cmd_batch_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_batch = {
	"batch",
	"[--mode M] [--queue Q] [--priority N] FILE.jsonl|-",
	"Submit one run per line of FILE (- for stdin). A line is either an\n"
	"OpenAI Batch input line {\"custom_id\",\"method\",\"url\","
	"\"body\"}, submitted\n"
	"with idempotency key batch:CUSTOM_ID, or a bare request object, with\n"
	"key line:HASH (64-bit FNV-1a of the line without its newline, 16 hex\n"
	"digits). Lines already submitted are not submitted again. Bad lines\n"
	"are reported and skipped. Prints \"submitted N, already present M,\n"
	"bad K\"; exits 1 if any line was bad.\n",
	1, 1,
	cmd_batch_exec
};

static const struct option batch_opts[] = {
	{ "mode",	required_argument, NULL, 'M' },
	{ "queue",	required_argument, NULL, 'q' },
	{ "priority",	required_argument, NULL, 'p' },
	CTL_COMMON_OPTS
};

struct batch {
	struct ctl_ctx	*ctx;
	const char	*mode;
	const char	*queue;
	const char	*priority;	/* NULL or validated */
	long long	 prio;
	long		 submitted, present, bad;
	json_t		*runs;		/* for --json */
	json_t		*errors;	/* for --json */
};

/* 64-bit FNV-1a of len bytes. */
static uint64_t
fnv1a64(const char *buf, size_t len)
{
	uint64_t	h = 0xcbf29ce484222325ULL;
	size_t		i;

	for (i = 0; i < len; i++) {
		h ^= (unsigned char)buf[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* Report bad line lineno and count it. */
static void
bad_line(struct batch *b, long lineno, const char *why)
{
	ctl_error(b->ctx, "line %ld: %s", lineno, why);
	b->bad++;
	json_array_append_new(b->errors, json_pack("{sIss}", "line",
	    (json_int_t)lineno, "message", why));
}

/*
 * Turn one line into the request and its idempotency key, or explain in
 * *why (static text or an allocated string in *whyp) why it is bad.
 */
static json_t *
parse_line(const char *line, size_t len, char **keyp, char **whyp)
{
	json_error_t	 err;
	json_t		*j, *body = NULL, *req;
	const char	*cid = NULL, *s;

	*keyp = *whyp = NULL;
	if ((j = json_loadb(line, len, 0, &err)) == NULL) {
		xasprintf(whyp, "invalid JSON at column %d: %s", err.column,
		    err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		*whyp = xstrdup("not a JSON object");
		json_decref(j);
		return NULL;
	}
	if (json_object_get(j, "custom_id") == NULL) {
		xasprintf(keyp, "line:%016llx",
		    (unsigned long long)fnv1a64(line, len));
		return j;
	}
	if (!json_is_string(json_object_get(j, "custom_id")) ||
	    *(cid = json_string_value(json_object_get(j, "custom_id"))) ==
	    '\0')
		*whyp = xstrdup("custom_id is not a non-empty string");
	else if ((s = ctl_str(j, "method", NULL)) != NULL &&
	    strcmp(s, "POST") != 0)
		xasprintf(whyp, "unsupported method %s (want POST)", s);
	else if ((s = ctl_str(j, "url", NULL)) != NULL &&
	    strcmp(s, "/v1/responses") != 0)
		xasprintf(whyp, "unsupported url %s (want /v1/responses)", s);
	else if ((body = json_object_get(j, "body")) == NULL)
		*whyp = xstrdup("missing body");
	else if (!json_is_object(body))
		*whyp = xstrdup("body is not a JSON object");
	if (*whyp != NULL) {
		json_decref(j);
		return NULL;
	}
	xasprintf(keyp, "batch:%s", cid);
	req = json_incref(body);
	json_decref(j);
	return req;
}

/*
 * Submit one request. Return 0 when done with the line (good or bad), or
 * an exit code if the daemon cannot be reached.
 */
static int
submit_line(struct batch *b, long lineno, json_t *req, const char *key)
{
	struct ctl_xfer	 x;
	json_t		*env, *reply;
	const char	*id;
	char		*text, *msg;
	int		 created;

	env = json_object();
	json_object_set(env, "request", req);
	if (b->mode != NULL)
		json_object_set_new(env, "mode", json_string(b->mode));
	json_object_set_new(env, "idempotency_key", json_string(key));
	if (b->queue != NULL)
		json_object_set_new(env, "queue", json_string(b->queue));
	if (b->priority != NULL)
		json_object_set_new(env, "priority", json_integer(b->prio));
	text = json_dumps(env, JSON_COMPACT);
	json_decref(env);

	memset(&x, 0, sizeof x);
	x.method = "POST";
	x.path = "/v1/runs";
	x.body = text;
	x.timeout_ms = 300000;
	ctl_xfer(b->ctx, &x);
	free(text);
	if (x.result != CTL_XFER_OK) {
		ctl_xfer_failed(b->ctx, &x);
		ctl_xfer_free(&x);
		return CTL_EXIT_UNREACHABLE;
	}
	if (x.status < 200 || x.status > 299) {
		msg = ctl_error_message(&x);
		bad_line(b, lineno, msg);
		free(msg);
		ctl_xfer_free(&x);
		return 0;
	}
	reply = json_loadb(x.resp != NULL ? x.resp : "", x.resp_len, 0,
	    NULL);
	ctl_xfer_free(&x);
	id = ctl_str(reply, "id", NULL);
	if (id == NULL)
		id = ctl_str(json_object_get(reply, "run"), "id", NULL);
	if (json_is_boolean(json_object_get(reply, "created")))
		created = json_is_true(json_object_get(reply, "created"));
	else
		created = x.status == 201;
	if (created)
		b->submitted++;
	else
		b->present++;
	json_array_append_new(b->runs, json_pack("{sIssss?sb}", "line",
	    (json_int_t)lineno, "idempotency_key", key, "id", id,
	    "created", created));
	json_decref(reply);
	return 0;
}

/* Process every line of f; return 0 or an exit code that stopped us. */
static int
batch_file(struct batch *b, FILE *f)
{
	json_t	*req;
	char	*line = NULL, *key, *why;
	size_t	 cap = 0, len, i;
	ssize_t	 n;
	long	 lineno = 0;
	int	 rc = 0;

	while (rc == 0 && (n = getline(&line, &cap, f)) != -1) {
		lineno++;
		len = (size_t)n;
		if (len > 0 && line[len - 1] == '\n')
			len--;
		if (len > 0 && line[len - 1] == '\r')
			len--;
		for (i = 0; i < len; i++) {
			if (line[i] != ' ' && line[i] != '\t')
				break;
		}
		if (i == len)
			continue;	/* blank line */
		if ((req = parse_line(line, len, &key, &why)) == NULL) {
			bad_line(b, lineno, why);
			free(why);
			continue;
		}
		rc = submit_line(b, lineno, req, key);
		json_decref(req);
		free(key);
	}
	if (rc == 0 && ferror(f)) {
		ctl_error(b->ctx, "reading: %s", strerror(errno));
		rc = CTL_EXIT_USAGE;
	}
	free(line);
	return rc;
}

/* Parse options, submit the file, print the summary. */
static int
cmd_batch_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	struct batch	 b;
	const char	*path;
	json_t		*out;
	FILE		*f;
	int		 ch, rc;

	memset(&b, 0, sizeof b);
	b.ctx = ctx;
	while ((ch = ctl_getopt(ctx, argc, argv, "", batch_opts)) != -1) {
		switch (ch) {
		case 'M':
			b.mode = optarg;
			if (strcmp(optarg, "auto") != 0 &&
			    strcmp(optarg, "background") != 0 &&
			    strcmp(optarg, "stream") != 0 &&
			    strcmp(optarg, "batch") != 0 &&
			    strcmp(optarg, "poll") != 0)
				return ctl_usage_error(ctx, "bad --mode: %s",
				    optarg);
			break;
		case 'q':
			b.queue = optarg;
			break;
		case 'p':
			b.priority = optarg;
			if (util_parse_int(optarg, INT_MIN, INT_MAX,
			    &b.prio) != 0)
				return ctl_usage_error(ctx,
				    "bad --priority: %s", optarg);
			break;
		default:
			return ctl_getopt_exit(ctx, ch);
		}
	}
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = argv[optind];
	if (strcmp(path, "-") == 0)
		f = stdin;
	else if ((f = fopen(path, "r")) == NULL) {
		ctl_error(ctx, "%s: %s", path, strerror(errno));
		return CTL_EXIT_USAGE;
	}
	b.runs = json_array();
	b.errors = json_array();
	rc = batch_file(&b, f);
	if (f != stdin)
		fclose(f);
	if (ctx->json) {
		out = json_pack("{sIsIsIsOsO}", "submitted",
		    (json_int_t)b.submitted, "present", (json_int_t)b.present,
		    "bad", (json_int_t)b.bad, "runs", b.runs, "errors",
		    b.errors);
		ctl_print_json(out);
		json_decref(out);
	} else
		printf("submitted %ld, already present %ld, bad %ld\n",
		    b.submitted, b.present, b.bad);
	json_decref(b.runs);
	json_decref(b.errors);
	if (rc != 0)
		return rc;
	return b.bad == 0 ? CTL_EXIT_OK : CTL_EXIT_RUN;
}
