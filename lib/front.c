/*
 * The Responses-compatible front: /v1/responses on the Unix socket and,
 * with --listen, on TCP behind a bearer token, so that unchanged OpenAI SDK
 * clients get durable runs. A front response is a run; what a client sees
 * is front-stream.c's pure rendering of the run's stored events, so a
 * replay after any restart gives the same events with the same numbers.
 * This file owns the HTTP side: routing, auth, errors in OpenAI's shape,
 * and the followers that tail a run to an SSE client or a waiting POST.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "api-internal.h"
#include "backend.h"
#include "front-req.h"
#include "front-stream.h"
#include "log.h"
#include "reqguard.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

#define FRONT_KEEPALIVE_MS	15000	/* a comment at least this often */
#define FRONT_COALESCE_MS	5	/* gather events this long */

/* One client tailing a run: an SSE stream, or a POST waiting for the end. */
struct ffollow {
	TAILQ_ENTRY(ffollow)	 entry;
	struct api		*a;
	struct apiconn		*ac;
	struct evhttp_request	*req;
	struct evhttp_connection *conn;
	struct front_stream	*fs;
	struct evbuffer		*out;
	int64_t			 n;
	char			 id[32];	/* the run's id */
	int64_t			 bseq;		/* backend seq fed so far */
	int64_t			 after;		/* the client's cursor */
	int			 wait;		/* answer JSON at the end */
	int64_t			 last_write;	/* mono ms */
	struct event		*more_ev;	/* a batch more to send */
};

/* What front-stream.c needs of run v; valid while v is. */
static void
front_run_of(const struct run_view *v, struct front_run *fr, json_t **req)
{
	memset(fr, 0, sizeof *fr);
	fr->run_id = strncmp(v->id, "r_", 2) == 0 ? v->id + 2 : v->id;
	fr->created_at = v->created_at / 1000;
	fr->request = v->request;
	*req = v->request != NULL ? json_loads(v->request, 0, NULL) : NULL;
	fr->background = json_is_true(json_object_get(*req, "background"));
	if (v->dialect == NULL ||
	    backend_dialect_parse(v->dialect, &fr->dialect) != 0)
		fr->dialect = DIALECT_OPENAI;
}

/* The end of run v as front-stream.c takes it. */
static void
front_end_of(const struct run_view *v, struct front_end *e)
{
	memset(e, 0, sizeof *e);
	e->status = v->status;
	e->error = v->error_message;
	e->response = v->response;
	e->output_text = v->output_text;
	e->finished_at = v->finished_at / 1000;
}

struct feed_arg {
	struct front_stream	*fs;
	int64_t			 last;
};

/* Feed one stored event to a stream. */
static int
feed_cb(void *arg, int64_t seq, const char *type, const char *data)
{
	struct feed_arg	*f = arg;

	front_stream_event(f->fs, seq, type, data, strlen(data));
	f->last = seq;
	return 0;
}

/* Emit nothing (a stream rebuilt for its snapshot). */
static void
emit_none(void *arg, int64_t seq, const char *type, const char *json,
    size_t len)
{
	(void)arg;
	(void)seq;
	(void)type;
	(void)json;
	(void)len;
}

/*
 * Answer run v's Response object, rebuilt from its stored events (and its
 * end, if it ended). 500 if the store fails.
 */
static void
front_snapshot_reply(struct api *a, struct evhttp_request *req,
    const struct run_view *v)
{
	struct front_run	 fr;
	struct front_end	 e;
	struct feed_arg		 fa;
	json_t			*rq;
	char			*text;
	size_t			 len;
	int			 got;

	front_run_of(v, &fr, &rq);
	fa.fs = front_stream_new(&fr, emit_none, NULL);
	fa.last = -1;
	front_stream_begin(fa.fs);
	do {
		got = store_events_each(a->h.st, v->n, fa.last, FOLLOW_BATCH,
		    feed_cb, &fa);
	} while (got == FOLLOW_BATCH);
	json_decref(rq);
	if (got < 0) {
		front_stream_free(fa.fs);
		front_error(req, 500, "server_error", NULL, 1, "agentd could "
		    "not read response %s from its store", v->id);
		return;
	}
	if (store_status_terminal(v->status)) {
		front_end_of(v, &e);
		front_stream_end(fa.fs, &e);
	}
	text = front_stream_snapshot(fa.fs, &len);
	front_stream_free(fa.fs);
	front_json_text(req, text, len);
}

/* Write one client event to the follower's buffer, if the client lacks it. */
static void
emit_sse(void *arg, int64_t seq, const char *type, const char *json,
    size_t len)
{
	struct ffollow	*ff = arg;

	if (ff->wait || seq <= ff->after)
		return;
	evbuffer_add(ff->out, "event: ", 7);
	evbuffer_add(ff->out, type, strlen(type));
	evbuffer_add(ff->out, "\ndata: ", 7);
	evbuffer_add(ff->out, json, len);
	evbuffer_add(ff->out, "\n\n", 2);
}

/*
 * Free a follower: its reply was finished (ff->req is NULL then), or its
 * connection is gone. A client that went away mid-reply leaves evhttp's
 * request detached from the connection (evcon NULL: on EOF or a timeout
 * evhttp hands it back to us, unfinished), so it is ours to free.
 */
void
front_follow_free(struct ffollow *ff)
{
	struct api	*a = ff->a;

	if (ff->req != NULL && evhttp_request_get_connection(ff->req) == NULL)
		evhttp_request_free(ff->req);
	if (ff->ac != NULL)
		ff->ac->ff = NULL;
	TAILQ_REMOVE(&a->ffollowers, ff, entry);
	a->nffollowers--;
	front_stream_free(ff->fs);
	evbuffer_free(ff->out);
	event_free(ff->more_ev);
	free(ff);
}

/* Send what the follower's buffer holds. */
static void
front_flush(struct ffollow *ff)
{
	if (ff->wait || evbuffer_get_length(ff->out) == 0)
		return;
	evhttp_send_reply_chunk(ff->req, ff->out);
	evbuffer_drain(ff->out, evbuffer_get_length(ff->out));
	ff->last_write = util_mono_ms();
}

/* The run ended (or vanished, v NULL): finish the reply and free ff. */
static void
front_follow_end(struct ffollow *ff, const struct run_view *v)
{
	struct evhttp_request	*req = ff->req;
	struct front_end	 e;
	char			*text = NULL, rid[32];
	size_t			 len = 0;
	int			 wait = ff->wait;

	if (v != NULL) {
		front_end_of(v, &e);
		front_stream_end(ff->fs, &e);
	}
	snprintf(rid, sizeof rid, "%s", ff->id + 2);
	if (wait && v != NULL)
		text = front_stream_snapshot(ff->fs, &len);
	if (!wait)
		front_flush(ff);
	/*
	 * Detach before the last reply call: on a connection that closes
	 * after it (HTTP/1.0, Connection: close) evhttp may free the request
	 * and the connection inside it, whose close callback would then
	 * free ff a second time.
	 */
	ff->req = NULL;
	front_follow_free(ff);
	if (wait && v == NULL)
		front_error(req, 404, "invalid_request_error", NULL, 1,
		    "Response with id 'resp_%s' was deleted.", rid);
	else if (wait)
		front_json_text(req, text, len);
	else
		evhttp_send_reply_end(req);
}

/* Send the events the follower lacks; finish it once the run ended. */
static void
front_push(struct ffollow *ff)
{
	struct bufferevent	*bev;
	struct run_view		 v;
	struct feed_arg		 fa;
	char			 status[32];
	int64_t			 last_seq;
	int			 got;

	bev = evhttp_connection_get_bufferevent(ff->conn);
	if (evtimer_pending(ff->more_ev, NULL))
		return;		/* a batch is due anyway */
	for (;;) {
		if (!ff->wait && evbuffer_get_length(bufferevent_get_output(
		    bev)) > FOLLOW_BUF_MAX)
			return;	/* a slow reader: resumes by seq */
		if (store_run_state(ff->a->h.st, ff->n, status, sizeof status,
		    &last_seq) != 0) {
			front_follow_end(ff, NULL);
			return;
		}
		fa.fs = ff->fs;
		fa.last = ff->bseq;
		got = store_events_each(ff->a->h.st, ff->n, ff->bseq,
		    FOLLOW_BATCH, feed_cb, &fa);
		ff->bseq = fa.last;
		front_flush(ff);
		if (got == FOLLOW_BATCH) {
			/*
			 * More to send: go on after the loop has polled, so
			 * one follower far behind never holds up the others,
			 * new requests or the supervisor.
			 */
			struct timeval	now = { 0, 0 };

			evtimer_add(ff->more_ev, &now);
			return;
		}
		if (got < 0 || !store_status_terminal(status))
			return;
		/* Invariant 1: the end was committed after every event. */
		switch (store_run_view(ff->a->h.st, ff->id, &v)) {
		case 1:
			front_follow_end(ff, &v);
			store_run_view_clear(&v);
			break;
		case 0:
			front_follow_end(ff, NULL);
			break;
		default:
			break;	/* the store failed: the sweep retries */
		}
		return;
	}
}

/* The next batch for a follower that was far behind. */
static void
front_more_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	front_push(arg);
}

/*
 * Tail run v to the client of req: an SSE stream of the events after
 * the client's cursor after (-1: from the start), or (wait) the final
 * Response as JSON once the run ends.
 */
static void
front_follow_start(struct api *a, struct evhttp_request *req,
    struct apiconn *ac, const struct run_view *v, int64_t after, int wait)
{
	struct ffollow		*ff;
	struct front_run	 fr;
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	struct timeval		 wt = { a->h.cfg->api_timeout_s, 0 };
	json_t			*rq;

	if (ac->ff != NULL || ac->f != NULL) {
		front_error(req, 400, "invalid_request_error", NULL, 1,
		    "a connection follows one stream at a time");
		return;
	}
	ff = xcalloc(1, sizeof *ff);
	ff->a = a;
	ff->ac = ac;
	ac->ff = ff;
	ff->req = req;
	ff->conn = evhttp_request_get_connection(req);
	ff->n = v->n;
	snprintf(ff->id, sizeof ff->id, "%s", v->id);
	ff->bseq = -1;
	ff->after = after;
	ff->wait = wait;
	ff->out = evbuffer_new();
	ff->more_ev = evtimer_new(a->h.base, front_more_cb, ff);
	front_run_of(v, &fr, &rq);
	ff->fs = front_stream_new(&fr, emit_sse, ff);
	json_decref(rq);
	TAILQ_INSERT_TAIL(&a->ffollowers, ff, entry);
	a->nffollowers++;
	/*
	 * A follower sends nothing after its request: no read timeout; a
	 * reader that stops draining is dropped by the write timeout.
	 */
	bufferevent_set_timeouts(evhttp_connection_get_bufferevent(ff->conn),
	    NULL, &wt);
	if (!wait) {
		front_request_id(req);
		evhttp_add_header(h, "Content-Type", "text/event-stream");
		evhttp_add_header(h, "Cache-Control", "no-cache");
		evhttp_send_reply_start(req, 200, "OK");
		ff->last_write = util_mono_ms();
	}
	/* The prelude goes out at once, before the backend is reached. */
	front_stream_begin(ff->fs);
	front_flush(ff);
	front_push(ff);
}

/* Load run id's view for a response id, answering 404 if absent. */
static int
front_view(struct api *a, struct evhttp_request *req, const char *rid,
    struct run_view *v)
{
	char	id[32];
	int	rc;

	if (front_run_id(rid, id, sizeof id) != 0) {
		front_not_found(req, rid);
		return -1;
	}
	rc = store_run_view(a->h.st, id, v);
	if (rc == 0)
		front_not_found(req, rid);
	else if (rc < 0)
		front_error(req, 503, "server_error", NULL, 0, "agentd's store "
		    "is not answering; try again");
	return rc == 1 ? 0 : -1;
}

/*
 * Map previous_response_id (rid, a string of body, or NULL) to the
 * backend's id of that agentd response, in place; 0, or -1 with a 400
 * answered.
 */
static int
front_previous(struct api *a, struct evhttp_request *req, json_t *body,
    const char *rid)
{
	struct run_view	 v;
	char		 id[32];
	int		 rc;

	if (rid == NULL)
		return 0;
	if (front_run_id(rid, id, sizeof id) != 0 ||
	    (rc = store_run_view(a->h.st, id, &v)) == 0) {
		front_error(req, 400, "invalid_request_error",
		    "previous_response_id", 0, "previous_response_id "
		    "'%.64s' is not a response agentd knows", rid);
		return -1;
	}
	if (rc < 0) {
		front_error(req, 503, "server_error", NULL, 0, "agentd's store "
		    "is not answering; try again");
		return -1;
	}
	if (v.backend_id == NULL || !v.resumable || (v.resolved_mode != NULL &&
	    (strcmp(v.resolved_mode, "stream") == 0 ||
	    strcmp(v.resolved_mode, "batch") == 0))) {
		front_error(req, 400, "invalid_request_error",
		    "previous_response_id", 0, "previous_response_id '%.64s': "
		    "the backend kept no state for it (%s), so it cannot be "
		    "continued", rid, v.backend_id == NULL ? "it has no backend "
		    "id" : "it ran without background mode");
		store_run_view_clear(&v);
		return -1;
	}
	/* rid belongs to body's old member: done with it first. */
	json_object_set_new(body, "previous_response_id",
	    json_string(v.backend_id));
	store_run_view_clear(&v);
	return 0;
}

/* POST /v1/responses */
static void
front_create(struct api *a, struct evhttp_request *req, struct apiconn *ac)
{
	struct run_new		 rn;
	struct run_view		 v;
	struct front_create_req	 cr;
	struct front_req_error	 err;
	json_t			*body;
	const char		*key;
	char			*buf, *text = NULL, *cause = NULL, id[32];
	size_t			 len;
	int			 stream, background, created, rc;

	buf = api_body(req, &len);
	rc = front_req_create(buf, len, &cr, &err);
	free(buf);
	if (rc != 0) {
		front_error(req, 400, "invalid_request_error", err.param, 0,
		    "%s", err.message);
		return;
	}
	body = cr.body;
	stream = cr.stream;
	background = cr.background;
	if (front_previous(a, req, body, cr.previous) != 0)
		goto out;
	key = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Idempotency-Key");
	if (front_req_key(key, &err) != 0) {
		front_error(req, 400, "invalid_request_error", err.param, 0,
		    "%s", err.message);
		goto out;
	}
	text = json_dumps(body, JSON_COMPACT);
	memset(&rn, 0, sizeof rn);
	rn.request = text;
	rn.mode = "auto";
	rn.idempotency_key = key;
	rn.queue = "default";
	rn.endpoint = a->h.cfg->endpoint;
	rn.dialect = backend_dialect_name(a->h.cfg->dialect);
	rn.max_attempts = 1;
	if (store_run_insert(a->h.st, &rn, id, sizeof id, &created,
	    &cause) != 0) {
		/* Not accepted: a retry by the SDK is what we want. */
		front_error(req, 503, "server_error", NULL, 0, "agentd could "
		    "not store the run: %s", cause);
		free(cause);
		goto out;
	}
	if (created) {
		log_info("front: run %s accepted as response resp_%s (%s)", id,
		    id + 2, stream ? "stream" : background ? "background" :
		    "wait");
		api_schedule_soon(a);
	} else
		log_info("front: Idempotency-Key seen before: response "
		    "resp_%s again", id + 2);
	/* From here on the run exists: no answer may invite a retry. */
	if (store_run_view(a->h.st, id, &v) != 1) {
		front_error(req, 500, "server_error", NULL, 1, "agentd accepted "
		    "response resp_%s but cannot read it back; retrieve it "
		    "later", id + 2);
		goto out;
	}
	if (stream)
		front_follow_start(a, req, ac, &v, -1, 0);
	else if (background)
		front_snapshot_reply(a, req, &v);
	else
		front_follow_start(a, req, ac, &v, -1, 1);
	store_run_view_clear(&v);
out:
	free(text);
	json_decref(body);
}

/* GET /v1/responses/{id}[?stream=true[&starting_after=N]] */
static void
front_get(struct api *a, struct evhttp_request *req, const char *rid,
    struct evkeyvalq *q, struct apiconn *ac)
{
	struct run_view		 v;
	struct front_req_error	 err;
	int64_t			 after;
	int			 stream;

	if (front_req_get(evhttp_find_header(q, "stream"),
	    evhttp_find_header(q, "starting_after"), &stream, &after,
	    &err) != 0) {
		front_error(req, 400, "invalid_request_error", err.param, 0,
		    "%s", err.message);
		return;
	}
	if (front_view(a, req, rid, &v) != 0)
		return;
	if (stream)
		front_follow_start(a, req, ac, &v, after, 0);
	else
		front_snapshot_reply(a, req, &v);
	store_run_view_clear(&v);
}

/*
 * Cancel run v locally and at the backend if it is still active. 0, or
 * -1 with an error answered.
 */
static int
front_cancel_run(struct api *a, struct evhttp_request *req,
    const struct run_view *v)
{
	const char	*msg = NULL;
	char		*owner = NULL, *backend_id = NULL, *endpoint = NULL;
	int64_t		 n = -1;
	int		 rc;

	if (store_status_terminal(v->status))
		return 0;		/* idempotent */
	rc = store_cancel(a->h.st, v->id, &n, &owner, &backend_id, &endpoint,
	    &msg);
	if (rc == STORE_OK) {
		log_info("run %s: cancelled through the front", v->id);
		api_drop(a, n, v->id, owner, backend_id, 1);
		api_progress(a, n);
	}
	free(owner);
	free(backend_id);
	free(endpoint);
	if (rc == STORE_OK || rc == STORE_CONFLICT)
		return 0;		/* ended meanwhile: as good */
	if (rc == STORE_NOTFOUND)
		front_error(req, 404, "invalid_request_error", NULL, 0,
		    "Response with id 'resp_%s' not found.", v->id + 2);
	else
		front_error(req, 503, "server_error", NULL, 0, "agentd's store "
		    "is not answering; try again");
	return -1;
}

/* POST /v1/responses/{id}/cancel */
static void
front_cancel(struct api *a, struct evhttp_request *req, const char *rid)
{
	struct run_view	 v, w;

	if (front_view(a, req, rid, &v) != 0)
		return;
	if (front_cancel_run(a, req, &v) == 0) {
		if (store_run_view(a->h.st, v.id, &w) == 1) {
			front_snapshot_reply(a, req, &w);
			store_run_view_clear(&w);
		} else
			front_not_found(req, rid);
	}
	store_run_view_clear(&v);
}

/* DELETE /v1/responses/{id} */
static void
front_delete(struct api *a, struct evhttp_request *req, const char *rid)
{
	struct run_view	 v;
	char		*text;
	int		 rc;

	if (front_view(a, req, rid, &v) != 0)
		return;
	if (front_cancel_run(a, req, &v) != 0) {
		store_run_view_clear(&v);
		return;
	}
	rc = store_run_delete(a->h.st, v.id);
	if (rc == STORE_OK || rc == STORE_NOTFOUND) {
		log_info("run %s: deleted through the front", v.id);
		api_progress(a, v.n);	/* its followers end */
		text = front_deleted_json(rid);
		front_json_text(req, text, strlen(text));
	} else if (rc == STORE_CONFLICT)
		front_error(req, 503, "server_error", NULL, 0, "response %s is "
		    "still being cancelled; try again", rid);
	else
		front_error(req, 503, "server_error", NULL, 0, "agentd's store "
		    "is not answering; try again");
	store_run_view_clear(&v);
}

/*
 * Route a request under /v1/responses (from either listener; the caller
 * checked who may ask). Return 1 if path was the front's, else 0.
 */
int
front_route(struct api *a, struct evhttp_request *req, const char *path,
    struct evkeyvalq *q, enum evhttp_cmd_type m, struct apiconn *ac)
{
	char		 rid[80];
	const char	*rest;
	size_t		 n;

	if (strncmp(path, "/v1/responses", 13) != 0 ||
	    (path[13] != '\0' && path[13] != '/'))
		return 0;
	if (path[13] == '\0' || strcmp(path + 13, "/") == 0) {
		if (m == EVHTTP_REQ_POST)
			front_create(a, req, ac);
		else
			front_error(req, 405, "invalid_request_error", NULL, 0,
			    "use POST to create a response");
		return 1;
	}
	rest = path + 14;
	n = strcspn(rest, "/");
	if (n == 0 || n >= sizeof rid) {
		front_error(req, 404, "invalid_request_error", NULL, 0,
		    "no such route: %.128s", path);
		return 1;
	}
	memcpy(rid, rest, n);
	rid[n] = '\0';
	rest += n;
	if (*rest == '\0') {
		if (m == EVHTTP_REQ_GET)
			front_get(a, req, rid, q, ac);
		else if (m == EVHTTP_REQ_DELETE)
			front_delete(a, req, rid);
		else
			front_error(req, 405, "invalid_request_error", NULL, 0,
			    "use GET or DELETE");
	} else if (strcmp(rest, "/cancel") == 0) {
		if (m == EVHTTP_REQ_POST)
			front_cancel(a, req, rid);
		else
			front_error(req, 405, "invalid_request_error", NULL, 0,
			    "use POST");
	} else
		front_error(req, 404, "invalid_request_error", NULL, 0,
		    "no such route: %.128s", path);
	return 1;
}

/* Feed the front's followers of run n. */
void
front_progress(struct api *a, int64_t n)
{
	struct ffollow	*ff, *next;

	struct timeval	 tv = { 0, FRONT_COALESCE_MS * 1000 };

	for (ff = TAILQ_FIRST(&a->ffollowers); ff != NULL; ff = next) {
		next = TAILQ_NEXT(ff, entry);
		/*
		 * Coalesce: a worker reports every flush, and a client pays
		 * per chunk; a few ms gather many events into one write
		 * (measured: 0, 2, 5 and 20 ms gave ratios 0.72, 0.75, 0.77
		 * and 0.71 of the SDK's throughput straight from the mock).
		 */
		if (ff->n == n && !evtimer_pending(ff->more_ev, NULL))
			evtimer_add(ff->more_ev, &tv);
	}
}

/* A shared store: push every follower (what other hosts wrote). */
void
front_poll(struct api *a)
{
	struct ffollow	*ff, *next;

	for (ff = TAILQ_FIRST(&a->ffollowers); ff != NULL; ff = next) {
		next = TAILQ_NEXT(ff, entry);
		front_push(ff);
	}
}

/* Once a second: keep-alive comments on silent streams; catch up. */
void
front_sweep(struct api *a)
{
	struct ffollow	*ff, *next;
	int64_t		 now = util_mono_ms();

	for (ff = TAILQ_FIRST(&a->ffollowers); ff != NULL; ff = next) {
		next = TAILQ_NEXT(ff, entry);
		if (!ff->wait && now - ff->last_write >= FRONT_KEEPALIVE_MS) {
			/* A comment: no seq, and every SSE parser drops it. */
			evbuffer_add(ff->out, ": keepalive\n\n", 13);
			front_flush(ff);
		}
		front_push(ff);
	}
}

/* End every follower (agentd is stopping); clients resume by seq. */
void
front_shutdown(struct api *a)
{
	struct evhttp_request	*req;
	struct ffollow		*ff;
	char			 rid[32];
	int			 wait;

	while ((ff = TAILQ_FIRST(&a->ffollowers)) != NULL) {
		req = ff->req;
		wait = ff->wait;
		snprintf(rid, sizeof rid, "%s", ff->id + 2);
		if (!wait)
			front_flush(ff);
		ff->req = NULL;		/* detached first: see front_follow_end */
		front_follow_free(ff);
		if (wait)
			front_error(req, 503, "server_error", NULL, 1,
			    "agentd is restarting; retrieve response resp_%s "
			    "in a moment", rid);
		else
			evhttp_send_reply_end(req);
	}
}
