/*
 * For the fuzz targets that drive agentd's whole API in-process (fuzz_api,
 * fuzz_front): the host's side of struct api_host, doing nothing (there
 * are no workers), and starting the server on cfg. Included once per
 * target; everything here is static.
 */
#ifndef AGENTD_FUZZ_HOST_H
#define AGENTD_FUZZ_HOST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "config.h"
#include "stats.h"
#include "store.h"
#include "util.h"

static void
fz_schedule(void *ctx)
{
	(void)ctx;
}

/* Drop nothing: no worker holds a run. */
static void
fz_drop(void *ctx, int64_t n, const char *id, const char *owner,
    const char *backend_id, int cancel)
{
	(void)ctx;
	(void)n;
	(void)id;
	(void)owner;
	(void)backend_id;
	(void)cancel;
}

static void
fz_stats(void *ctx, struct wstats *out)
{
	(void)ctx;
	memset(out, 0, sizeof *out);
}

static json_t *
fz_workers(void *ctx)
{
	(void)ctx;
	return json_array();
}

static void
fz_metrics(void *ctx, struct evbuffer *b)
{
	(void)ctx;
	(void)b;
}

static int
fz_stopping(void *ctx)
{
	(void)ctx;
	return 0;
}

static const struct api_host_ops fz_ops = {
	fz_schedule, fz_drop, fz_stats, fz_workers, fz_metrics, fz_stopping
};

/*
 * Fill host for cfg (its db_path opened as the store) and start the API
 * server; abort with a message naming target on any failure.
 */
static struct api *
fz_host_start(const char *target, const struct agentd_config *cfg,
    struct api_host *host)
{
	struct api	*a;
	char		*cause = NULL;

	memset(host, 0, sizeof *host);
	host->cfg = cfg;
	host->started_ms = util_now_ms();
	host->base = event_base_new();
	host->ops = &fz_ops;
	if ((host->st = store_open(cfg->db_path, &cause)) == NULL) {
		fprintf(stderr, "%s: %s\n", target, cause);
		abort();
	}
	if ((a = api_start(host, &cause)) == NULL) {
		fprintf(stderr, "%s: %s\n", target, cause);
		abort();
	}
	return a;
}

/* Run whatever is ready on host's loop, without waiting, times over. */
static void
fz_host_turn(struct api_host *host, int times)
{
	int	i;

	for (i = 0; i < times; i++)
		event_base_loop(host->base, EVLOOP_NONBLOCK);
}

#endif
