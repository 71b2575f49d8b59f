/*
 * The API's event follow: a run's events as JSON pages or a live SSE
 * stream fed by the workers' progress, with slow followers paused by seq.
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
#include "batch.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

/* Write one SSE frame for a stored event. */
static void
sse_frame(struct evbuffer *b, int64_t seq, const char *type,
    const char *data)
{
	evbuffer_add_printf(b, "id: %lld\nevent: %s\ndata: %s\n\n",
	    (long long)seq, type, data);
}

struct push_arg {
	struct evbuffer	*b;
	int64_t		 last;
};

static int
follower_event_cb(void *arg, int64_t seq, const char *type, const char *data)
{
	struct push_arg	*p = arg;

	sse_frame(p->b, seq, type, data);
	p->last = seq;
	return 0;
}

/*
 * Free a follower: its reply was finished (f->req is NULL then), or its
 * connection is gone. A client that went away mid-reply leaves evhttp's
 * request detached from the connection (on EOF or a timeout evhttp hands
 * it back unfinished), so it is ours to free.
 */
void
api_follower_free(struct follower *f)
{
	struct api	*a = f->a;

	if (f->req != NULL && evhttp_request_get_connection(f->req) == NULL)
		evhttp_request_free(f->req);

	if (f->ac != NULL)
		f->ac->f = NULL;
	TAILQ_REMOVE(&a->followers, f, entry);
	a->nfollowers--;
	free(f);
}

/* End a follow with the run's local terminal status. */
static void
follower_end(struct follower *f, const char *status)
{
	struct evhttp_request	*req;
	struct evbuffer	*b = evbuffer_new();
	json_t		*run, *o;
	char		*text;

	run = store_run_json(f->a->h.st, f->id);
	o = json_pack("{ss ss}", "id", f->id, "status", status);
	if (run != NULL)
		json_object_set(o, "error", json_object_get(run, "error"));
	text = json_dumps(o, JSON_COMPACT);
	evbuffer_add_printf(b, "event: agentd.status\ndata: %s\n\n", text);
	free(text);
	json_decref(o);
	json_decref(run);
	evhttp_send_reply_chunk(f->req, b);
	evbuffer_free(b);
	req = f->req;
	/* Detached first: the reply may free the connection, and f with it. */
	f->req = NULL;
	api_follower_free(f);
	evhttp_send_reply_end(req);
}

/* Send stored events the follower has not seen; end it if terminal. */
void
api_follower_push(struct follower *f)
{
	struct bufferevent	*bev;
	struct push_arg		 p;
	char			 status[32];
	int64_t			 last_seq;
	int			 got;

	bev = evhttp_connection_get_bufferevent(f->conn);
	for (;;) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) >
		    FOLLOW_BUF_MAX)
			return;	/* slow reader: paused, resumes by seq */
		if (store_run_state(f->a->h.st, f->n, status, sizeof status,
		    &last_seq) != 0) {
			follower_end(f, "deleted");
			return;
		}
		p.b = evbuffer_new();
		p.last = f->seq;
		got = store_events_each(f->a->h.st, f->n, f->seq,
		    FOLLOW_BATCH, follower_event_cb, &p);
		if (got > 0) {
			evhttp_send_reply_chunk(f->req, p.b);
			f->seq = p.last;
		}
		evbuffer_free(p.b);
		if (got == FOLLOW_BATCH)
			continue;
		if (store_status_terminal(status) && got >= 0)
			follower_end(f, status);
		return;
	}
}

/* GET /v1/runs/{id}/events */
void
api_events(struct api *a, struct evhttp_request *req, const char *id,
    struct evkeyvalq *q, struct apiconn *ac)
{
	struct follower	*f;
	const char	*accept, *lei;
	long long	 after = -1, limit = EVENTS_LIMIT;
	int64_t		 next, n;
	json_t		*o;

	if (api_query_int(req, q, "after", -1, INT64_MAX, &after) != 0 ||
	    api_query_int(req, q, "limit", 1, EVENTS_MAX, &limit) != 0)
		return;
	lei = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Last-Event-ID");
	if (lei != NULL && util_parse_int(lei, -1, INT64_MAX, &after) != 0) {
		api_error(req, 400, "bad_request", "Last-Event-ID must be an "
		    "event sequence number");
		return;
	}
	accept = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept");
	if (accept == NULL || strstr(accept, "text/event-stream") == NULL) {
		o = store_events_json(a->h.st, id, after, (int)limit, 0,
		    &next);
		if (o == NULL)
			api_error(req, 404, "not_found", "no run %s", id);
		else
			api_json(req, 200, o);
		return;
	}
	if ((n = store_run_n(a->h.st, id)) < 0) {
		api_error(req, 404, "not_found", "no run %s", id);
		return;
	}
	f = xcalloc(1, sizeof *f);
	f->a = a;
	f->ac = ac;
	ac->f = f;
	f->req = req;
	f->conn = evhttp_request_get_connection(req);
	f->n = n;
	f->seq = after;
	snprintf(f->id, sizeof f->id, "%s", id);
	TAILQ_INSERT_TAIL(&a->followers, f, entry);
	a->nfollowers++;
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/event-stream");
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Cache-Control", "no-cache");
	evhttp_send_reply_start(req, 200, "OK");
	{
		/*
		 * A follower sends nothing after its request: no read
		 * timeout. A reader that stops draining is still dropped by
		 * the write timeout.
		 */
		struct timeval	 wt = { a->h.cfg->api_timeout_s, 0 };

		bufferevent_set_timeouts(evhttp_connection_get_bufferevent(
		    f->conn), NULL, &wt);
	}
	api_follower_push(f);
}

/* Feed the followers of run n. */
void
api_progress(struct api *a, int64_t n)
{
	struct follower	*f, *next;

	if (a == NULL)
		return;
	for (f = TAILQ_FIRST(&a->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (f->n == n)
			api_follower_push(f);
	}
	front_progress(a, n);
}

/* Push every follower, API and front: what other hosts wrote. */
static void
api_push_all(struct api *a)
{
	struct follower	*f, *next;

	for (f = TAILQ_FIRST(&a->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		api_follower_push(f);
	}
	front_poll(a);
}

/*
 * Followers of runs held by other hosts poll (a shared store): every
 * 50 ms while no listener hears the other hosts' words, every second as
 * a fallback while one does.
 */
void
api_poll_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api	*a = arg;
	struct timeval	 fast = { 0, 50 * 1000 }, slow = { 1, 0 };

	(void)fd;
	(void)what;
	if (a->listener == NULL && util_mono_ms() >= a->listen_retry)
		api_store_listen(a);
	api_push_all(a);
	evtimer_add(a->poll_ev, a->listener != NULL ? &slow : &fast);
}

/* Word from another host: run n has new events (or ended). */
static void
api_word(void *arg, int64_t n, int64_t last_seq)
{
	(void)last_seq;
	api_progress(arg, n);
}

static void
api_listen_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api	*a = arg;

	(void)fd;
	(void)what;
	if (store_listener_read(a->listener, api_word, a) == 0)
		return;
	log_warnx("api: lost the store's listener; polling every 50 ms "
	    "until it is back");
	api_unlisten(a);
	a->listen_retry = util_mono_ms() + 1000;
}

void
api_store_listen(struct api *a)
{
	char	*cause = NULL;

	api_unlisten(a);
	if ((a->listener = store_listen(a->h.st, &cause)) == NULL) {
		if (cause != NULL) {
			log_warnx("api: %s; polling every 50 ms", cause);
			free(cause);
		}
		a->listen_retry = util_mono_ms() + 5000;
		return;
	}
	a->listen_ev = event_new(a->h.base, store_listener_fd(a->listener),
	    EV_READ | EV_PERSIST, api_listen_cb, a);
	event_add(a->listen_ev, NULL);
	/* Words sent while nobody listened are gone: read everything. */
	api_push_all(a);
}

void
api_unlisten(struct api *a)
{
	if (a->listen_ev != NULL) {
		event_free(a->listen_ev);
		a->listen_ev = NULL;
	}
	store_listener_close(a->listener);
	a->listener = NULL;
}

void
api_sweep_cb(evutil_socket_t fd, short what, void *arg)
{
	struct api	*a = arg;
	struct follower	*f, *next;

	(void)fd;
	(void)what;
	/* Paused followers and runs ended by the supervisor catch up. */
	a->sweeps++;
	for (f = TAILQ_FIRST(&a->followers); f != NULL; f = next) {
		next = TAILQ_NEXT(f, entry);
		if (a->sweeps % 15 == 0) {
			struct evbuffer *b = evbuffer_new();

			/* A comment line keeps proxies and clients awake. */
			evbuffer_add_printf(b, ": keep-alive\n\n");
			evhttp_send_reply_chunk(f->req, b);
			evbuffer_free(b);
		}
		api_follower_push(f);
	}
	front_sweep(a);
}
