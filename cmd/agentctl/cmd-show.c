/*
 * agentctl show: GET /v1/runs/{id} and print every field of the run as
 * "key: value" lines (nested objects as "key.sub: value"; timestamps with
 * their UTC time and age), or the JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

static int	cmd_show_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_show = {
	"show",
	"ID",
	"Show every field of run ID as \"key: value\" lines. Nested objects\n"
	"(the error) are shown as key.field lines, verbatim; *_at timestamps\n"
	"as unix ms with UTC time and age. A run that waits (a retry, a\n"
	"paused queue, --max-inflight) gets a \"state:\" line after its status\n"
	"saying why and until when; the wait.* lines give the details.\n",
	1, 1,
	cmd_show_exec
};

static const struct option show_opts[] = {
	CTL_COMMON_OPTS
};

/* True if key names a unix-ms timestamp field. */
static int
is_time_key(const char *key)
{
	size_t	n = strlen(key);

	return n > 3 && strcmp(key + n - 3, "_at") == 0;
}

/* Print "key: value" for v, recursing into objects. */
static void
show_value(const char *key, json_t *v)
{
	const char	*k;
	json_t		*sub;
	char		*name, *text, when[40], age[16];
	int64_t		 ms;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		if (json_object_size(v) == 0) {
			printf("%s: {}\n", key);
			break;
		}
		json_object_foreach(v, k, sub) {
			xasprintf(&name, "%s.%s", key, k);
			show_value(name, sub);
			free(name);
		}
		break;
	case JSON_STRING:
		printf("%s: %s\n", key, json_string_value(v));
		break;
	case JSON_NULL:
		printf("%s: -\n", key);
		break;
	case JSON_INTEGER:
		ms = (int64_t)json_integer_value(v);
		if ((is_time_key(key) || strcmp(key, "wait.until") == 0) &&
		    ms > 0) {
			ctl_fmt_time(ms, when, sizeof when);
			if (ms > util_now_ms()) {
				util_fmt_age(ms - util_now_ms() + 999, age,
				    sizeof age);
				printf("%s: %lld (%s, in %s)\n", key,
				    (long long)ms, when, age);
			} else {
				util_fmt_age(util_now_ms() - ms, age,
				    sizeof age);
				printf("%s: %lld (%s, %s ago)\n", key,
				    (long long)ms, when, age);
			}
		} else
			printf("%s: %lld\n", key, (long long)ms);
		break;
	default:
		text = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		printf("%s: %s\n", key, text != NULL ? text : "?");
		free(text);
		break;
	}
}

/* Fetch the run and print it. */
static int
cmd_show_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	const char	*key;
	json_t		*run, *v;
	char		*path;
	int		 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", show_opts)) != -1)
		return ctl_getopt_exit(ctx, ch);
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	path = ctl_run_path(argv[optind], "");
	rc = ctl_request(ctx, "GET", path, NULL, NULL, &run);
	free(path);
	if (rc != 0)
		return rc;
	if (ctx->json)
		ctl_print_json(run);
	else if (json_is_object(run)) {
		json_object_foreach(run, key, v) {
			show_value(key, v);
			/* Right after the status: why the run waits. */
			if (strcmp(key, "status") == 0 &&
			    json_is_object(json_object_get(run, "wait"))) {
				char	text[160];

				ctl_status_text(run, text, sizeof text);
				printf("state: %s: %s\n", text, ctl_str(
				    json_object_get(run, "wait"), "message",
				    ""));
			}
		}
	} else
		show_value("run", run);
	json_decref(run);
	return CTL_EXIT_OK;
}
