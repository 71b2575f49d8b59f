/*
 * agentctl status: GET /v1/health and print a short report: version,
 * uptime, paths, workers and the number of runs in each status.
 */
#include <stdio.h>
#include <stdlib.h>

#include "agentctl.h"

static int	cmd_status_exec(struct ctl_ctx *, int, char **);

const struct ctl_cmd ctl_cmd_status = {
	"status",
	"",
	"Report the daemon's health: version, pid, uptime, database, socket,\n"
	"backend endpoint, workers, queue depth and runs by status.\n",
	0, 0,
	cmd_status_exec
};

static const struct option status_opts[] = {
	CTL_COMMON_OPTS
};

/* Print the workers table. */
static void
print_workers(struct ctl_ctx *ctx, json_t *workers)
{
	static const char *const headers[] = { "INSTANCE", "PID", "RUNS",
	    "RESTARTS" };
	struct ctl_table	*t;
	const char		*cells[4];
	char			 buf[4][24];
	json_t			*w;
	size_t			 i;
	int			 c;

	printf("workers:\n");
	t = ctl_table_new(4, headers);
	json_array_foreach(workers, i, w) {
		snprintf(buf[0], sizeof buf[0], "%lld",
		    ctl_int(w, "instance", (long long)i));
		snprintf(buf[1], sizeof buf[1], "%lld", ctl_int(w, "pid", 0));
		snprintf(buf[2], sizeof buf[2], "%lld", ctl_int(w, "runs", 0));
		snprintf(buf[3], sizeof buf[3], "%lld",
		    ctl_int(w, "restarts", 0));
		for (c = 0; c < 4; c++)
			cells[c] = buf[c];
		if (!json_is_integer(json_object_get(w, "pid")))
			cells[1] = "-";
		ctl_table_add(t, cells, NULL);
	}
	ctl_table_print(ctx, t, "  ");
	ctl_table_free(t);
}

/* Print the hosts sharing the store. */
static void
print_hosts(struct ctl_ctx *ctx, json_t *hosts)
{
	static const char *const headers[] = { "HOST", "VERSION", "PID",
	    "HEARTBEAT", "RUNS", "WORKERS", "STATE" };
	struct ctl_table	*t;
	const char		*cells[7];
	char			 buf[4][32];
	json_t			*hst;
	size_t			 i;

	printf("hosts:\n");
	t = ctl_table_new(7, headers);
	json_array_foreach(hosts, i, hst) {
		snprintf(buf[0], sizeof buf[0], "%lld", ctl_int(hst, "pid", 0));
		snprintf(buf[1], sizeof buf[1], "%.1fs ago",
		    (double)ctl_int(hst, "heartbeat_age_ms", 0) / 1000.0);
		snprintf(buf[2], sizeof buf[2], "%lld", ctl_int(hst, "runs", 0));
		snprintf(buf[3], sizeof buf[3], "%lld",
		    ctl_int(hst, "workers", 0));
		cells[0] = ctl_str(hst, "host_id", "?");
		cells[1] = ctl_str(hst, "version", "?");
		cells[2] = buf[0];
		cells[3] = buf[1];
		cells[4] = buf[2];
		cells[5] = buf[3];
		cells[6] = json_is_true(json_object_get(hst, "live")) ?
		    (json_is_true(json_object_get(hst, "self")) ? "live (this)" :
		    "live") : "lease expired";
		ctl_table_add(t, cells, NULL);
	}
	ctl_table_print(ctx, t, "  ");
	ctl_table_free(t);
}

/* Print the runs-by-status table. */
static void
print_runs(struct ctl_ctx *ctx, json_t *by)
{
	static const char *const headers[] = { "STATUS", "RUNS" };
	struct ctl_table	*t;
	const char		*key, *cells[2], *colors[2];
	char			 n[24];
	json_t			*v;

	printf("runs by status:\n");
	if (json_object_size(by) == 0) {
		printf("  none\n");
		return;
	}
	t = ctl_table_new(2, headers);
	json_object_foreach(by, key, v) {
		snprintf(n, sizeof n, "%lld", json_is_integer(v) ?
		    (long long)json_integer_value(v) : 0LL);
		cells[0] = key;
		cells[1] = n;
		colors[0] = ctl_status_color(key);
		colors[1] = NULL;
		ctl_table_add(t, cells, colors);
	}
	ctl_table_print(ctx, t, "  ");
	ctl_table_free(t);
}

/* Fetch /v1/health and print it. */
static int
cmd_status_exec(struct ctl_ctx *ctx, int argc, char **argv)
{
	json_t	*h, *v;
	char	 up[48];
	int	 ch, rc;

	while ((ch = ctl_getopt(ctx, argc, argv, "", status_opts)) != -1)
		return ctl_getopt_exit(ctx, ch);
	if (ctl_check_args(ctx, argc - optind) != 0)
		return CTL_EXIT_USAGE;
	if ((rc = ctl_request(ctx, "GET", "/v1/health", NULL, NULL, &h)) != 0)
		return rc;
	if (ctx->json) {
		ctl_print_json(h);
		json_decref(h);
		return CTL_EXIT_OK;
	}
	ctl_fmt_uptime(ctl_int(h, "uptime_s", 0), up, sizeof up);
	printf("agentd %s: %s, pid %lld, up %s\n",
	    ctl_str(h, "version", "?"), ctl_str(h, "status", "?"),
	    ctl_int(h, "pid", 0), up);
	printf("database:    %s\n", ctl_str(h, "db", "-"));
	printf("socket:      %s\n", ctl_str(h, "socket", ctx->socket));
	printf("endpoint:    %s\n", ctl_str(h, "endpoint", "-"));
	if (json_is_integer(v = json_object_get(h, "queue_depth")))
		printf("queue depth: %lld\n", (long long)json_integer_value(v));
	if (json_is_string(v = json_object_get(h, "host_id")))
		printf("host:        %s\n", json_string_value(v));
	if (json_is_array(v = json_object_get(h, "workers")))
		print_workers(ctx, v);
	if (json_is_array(v = json_object_get(h, "hosts")))
		print_hosts(ctx, v);
	if (json_is_object(v = json_object_get(h, "runs_by_status")))
		print_runs(ctx, v);
	json_decref(h);
	return CTL_EXIT_OK;
}
