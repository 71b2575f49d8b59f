/*
 * The local HTTP/1.1 JSON API on a Unix socket (libevent evhttp): runs,
 * events (JSON pages or a live SSE follow), results, resume, cancel,
 * batches, queues, health and Prometheus metrics, and the Responses-
 * compatible front (front.c). Lives in the supervisor process, which it
 * reaches only through struct api_host.
 */
#ifndef AGENTD_API_H
#define AGENTD_API_H

#include <stdint.h>

#include <jansson.h>

struct agentd_config;
struct api;
struct event_base;
struct evbuffer;
struct store;
struct wstats;

/* What the API asks of the process it serves; ctx is passed back. */
struct api_host_ops {
	/* Assign runs soon (after a submit or resume). */
	void	(*schedule_soon)(void *ctx);
	/*
	 * Tell the owner of run n (if any) to let it go; with cancel, tell
	 * the backend too.
	 */
	void	(*drop)(void *ctx, int64_t n, const char *id,
		    const char *owner, const char *backend_id, int cancel);
	/* Sum of every worker's counters, living and dead. */
	void	(*stats)(void *ctx, struct wstats *out);
	/* The workers for /v1/health: a new JSON array. */
	json_t	*(*workers)(void *ctx);
	/* Append the process's own Prometheus lines (workers, runs). */
	void	(*metrics)(void *ctx, struct evbuffer *b);
	/* 1 while the process is stopping. */
	int	(*stopping)(void *ctx);
};

struct api_host {
	const struct agentd_config	*cfg;
	struct store			*st;
	struct event_base		*base;
	int64_t				 started_ms;	/* unix ms */
	const struct api_host_ops	*ops;
	void				*ctx;
};

/* Listen on h->cfg->socket_path; NULL with *cause on failure. */
struct api	*api_start(const struct api_host *h, char **cause);
void		 api_stop(struct api *a);
/* New events were committed for run n: feed its followers. */
void		 api_progress(struct api *a, int64_t n);
/* Stop answering new requests (503) and close followers. */
void		 api_shutdown(struct api *a);

#endif
