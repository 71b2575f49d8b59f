/*
 * The local HTTP/1.1 JSON API on a Unix socket (libevent evhttp): runs,
 * events (JSON pages or a live SSE follow), results, resume, cancel,
 * health and Prometheus metrics. Lives in the supervisor process.
 */
#ifndef AGENTD_API_H
#define AGENTD_API_H

#include <stdint.h>

struct sup;
struct api;

/* Listen on cfg->socket_path; NULL with *cause on failure. */
struct api	*api_start(struct sup *s, char **cause);
void		 api_stop(struct api *a);
/* New events were committed for run n: feed its followers. */
void		 api_progress(struct api *a, int64_t n);
/* Stop answering new requests (503) and close followers. */
void		 api_shutdown(struct api *a);

#endif
