/*
 * The API's health and Prometheus metrics (/v1/health, /metrics).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "api-internal.h"
#include "stats.h"
#include "batch.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

/* GET /v1/health */
void
api_health(struct api *a, struct evhttp_request *req)
{
	const struct api_host	*h = &a->h;
	json_t			*o, *workers, *counts, *hosts;
	json_int_t		 depth;
	char			*db = store_describe(h->cfg->db_path);

	workers = h->ops->workers(h->ctx);
	counts = store_counts_json(h->st);
	depth = json_integer_value(json_object_get(counts, RUN_PENDING));
	/* The db is described, never quoted: a conninfo may hold a secret. */
	o = json_pack("{ss ss sI sI ss ss ss so so sI si}", "status",
	    h->ops->stopping(h->ctx) ? "stopping" : "ok", "version",
	    AGENTD_VERSION, "pid", (json_int_t)getpid(), "uptime_s",
	    (json_int_t)((util_now_ms() - h->started_ms) / 1000), "db",
	    db, "socket", h->cfg->socket_path, "endpoint",
	    h->cfg->endpoint, "workers", workers, "runs_by_status", counts,
	    "queue_depth", depth, "followers", a->nfollowers);
	free(db);
	if (store_shared(h->st)) {
		json_object_set_new(o, "host_id", json_string(h->cfg->host_id));
		hosts = store_hosts_json(h->st);
		json_object_set_new(o, "hosts", hosts != NULL ? hosts :
		    json_null());
	}
	api_json(req, 200, o);
}

/* GET /metrics (Prometheus text format). */
void
api_metrics(struct api *a, struct evhttp_request *req)
{
	const struct api_host	*h = &a->h;
	struct evbuffer	*b = evbuffer_new();
	json_t		*counts = store_counts_json(h->st), *v;
	const char	*k;
	struct wstats	*ws = xcalloc(1, sizeof *ws);
	uint64_t	 cum;
	int		 i;

	h->ops->stats(h->ctx, ws);
	evbuffer_add_printf(b, "# HELP agentd_runs Runs in the store by "
	    "status.\n# TYPE agentd_runs gauge\n");
	json_object_foreach(counts, k, v)
		evbuffer_add_printf(b, "agentd_runs{status=\"%s\"} %lld\n", k,
		    (long long)json_integer_value(v));
	evbuffer_add_printf(b, "# HELP agentd_queue_depth Runs waiting for "
	    "a worker.\n# TYPE agentd_queue_depth gauge\n"
	    "agentd_queue_depth %lld\n",
	    (long long)json_integer_value(json_object_get(counts,
	    RUN_PENDING)));
	json_decref(counts);
	counts = store_waiting_json(h->st);
	evbuffer_add_printf(b, "# HELP agentd_runs_retrying Runs waiting to "
	    "retry a backend request after a failure.\n"
	    "# TYPE agentd_runs_retrying gauge\nagentd_runs_retrying %lld\n"
	    "# HELP agentd_runs_waiting Runs not moving, by why they wait "
	    "(the run's wait.reason).\n# TYPE agentd_runs_waiting gauge\n",
	    (long long)json_integer_value(json_object_get(counts,
	    "retrying")));
	json_object_foreach(json_object_get(counts, "reasons"), k, v)
		evbuffer_add_printf(b, "agentd_runs_waiting{reason=\"%s\"} "
		    "%lld\n", k, (long long)json_integer_value(v));
	json_decref(counts);
	evbuffer_add_printf(b, "# HELP agentd_events_stored Events in the "
	    "store.\n# TYPE agentd_events_stored gauge\n"
	    "agentd_events_stored %lld\n",
	    (long long)store_count_events(h->st));
	evbuffer_add_printf(b, "# HELP agentd_events_committed_total Events "
	    "committed by workers since start.\n"
	    "# TYPE agentd_events_committed_total counter\n"
	    "agentd_events_committed_total %llu\n",
	    (unsigned long long)ws->events);
	evbuffer_add_printf(b, "# HELP agentd_backend_requests_total Backend "
	    "requests by kind.\n# TYPE agentd_backend_requests_total counter\n"
	    "agentd_backend_requests_total{kind=\"create\"} %llu\n"
	    "agentd_backend_requests_total{kind=\"resume\"} %llu\n"
	    "agentd_backend_requests_total{kind=\"poll\"} %llu\n",
	    (unsigned long long)ws->creates, (unsigned long long)ws->resumes,
	    (unsigned long long)ws->polls);
	evbuffer_add_printf(b, "# HELP agentd_backend_requests_own_client_total "
	    "Backend requests that went through agentd's own HTTP/1.1 "
	    "client (streams over plain http), not libcurl.\n"
	    "# TYPE agentd_backend_requests_own_client_total counter\n"
	    "agentd_backend_requests_own_client_total %llu\n",
	    (unsigned long long)ws->lean);
	evbuffer_add_printf(b, "# HELP agentd_backpressure_pauses_total "
	    "Backend streams paused while the store caught up.\n"
	    "# TYPE agentd_backpressure_pauses_total counter\n"
	    "agentd_backpressure_pauses_total %llu\n",
	    (unsigned long long)ws->pauses);
	evbuffer_add_printf(b, "# HELP agentd_store_yields_total "
	    "Worker writes put off while the supervisor waited for the "
	    "store's write lock.\n"
	    "# TYPE agentd_store_yields_total counter\n"
	    "agentd_store_yields_total %llu\n",
	    (unsigned long long)ws->yields);
	evbuffer_add_printf(b, "# HELP agentd_resumes_total Streams resumed "
	    "from the cursor.\n# TYPE agentd_resumes_total counter\n"
	    "agentd_resumes_total %llu\n", (unsigned long long)ws->resumes);
	evbuffer_add_printf(b, "# HELP agentd_backend_responses_total Backend "
	    "answers by HTTP status (none: no answer).\n"
	    "# TYPE agentd_backend_responses_total counter\n"
	    "agentd_backend_responses_total{code=\"none\"} %llu\n",
	    (unsigned long long)ws->net_errors);
	for (i = 0; i < STATS_HTTP_MAX; i++)
		if (ws->http[i] != 0)
			evbuffer_add_printf(b, "agentd_backend_responses_total"
			    "{code=\"%d\"} %llu\n", i,
			    (unsigned long long)ws->http[i]);
	evbuffer_add_printf(b, "# HELP agentd_store_write_seconds Duration "
	    "of a worker's event-batch transaction.\n"
	    "# TYPE agentd_store_write_seconds histogram\n");
	for (i = 0, cum = 0; i < STATS_WRITE_BUCKETS; i++) {
		cum += ws->write_bucket[i];
		evbuffer_add_printf(b, "agentd_store_write_seconds_bucket"
		    "{le=\"%g\"} %llu\n", stats_write_bound(i) / 1000.0,
		    (unsigned long long)cum);
	}
	cum += ws->write_bucket[STATS_WRITE_BUCKETS];
	evbuffer_add_printf(b, "agentd_store_write_seconds_bucket{le=\"+Inf\"} "
	    "%llu\nagentd_store_write_seconds_sum %.6f\n"
	    "agentd_store_write_seconds_count %llu\n", (unsigned long long)cum,
	    ws->write_sum_ms / 1000.0, (unsigned long long)ws->write_count);
	h->ops->metrics(h->ctx, b);
	evbuffer_add_printf(b, "# TYPE agentd_api_requests_total counter\n"
	    "agentd_api_requests_total %llu\n"
	    "# TYPE agentd_api_refused_total counter\n"
	    "agentd_api_refused_total %llu\n"
	    "# TYPE agentd_api_connections gauge\n"
	    "agentd_api_connections %d\n"
	    "# TYPE agentd_followers gauge\n"
	    "agentd_followers %d\n",
	    (unsigned long long)a->requests, (unsigned long long)a->refused,
	    a->nconns, a->nfollowers);
	free(ws);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}
