/*
 * Local API: HTTP/1.1 + JSON on a Unix socket, served by evhttp in the
 * supervisor. Every request is checked (peer credentials, method, route,
 * body size, JSON shape) before it touches the store; bad input gets a
 * JSON error and never hurts the daemon (invariant 6). Live followers read
 * events from the store by seq, so a slow one is simply paused, never fed
 * from an unbounded buffer.
 */
#include <sys/queue.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "batch.h"
#include "log.h"
#include "reqguard.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "xmalloc.h"

#define FOLLOW_BUF_MAX	(4 * 1024 * 1024)	/* pause a follower above */
#define FOLLOW_BATCH	512
#define EVENTS_LIMIT	1000
#define EVENTS_MAX	10000
#define LIST_LIMIT	100
#define LIST_MAX	1000
#define HEADER_MAX	(64 * 1024)

struct apiconn;

struct follower {
	TAILQ_ENTRY(follower)	 entry;
	struct api		*a;
	struct apiconn		*ac;
	struct evhttp_request	*req;
	struct evhttp_connection *conn;
	int64_t			 n;
	char			 id[32];
	int64_t			 seq;
};

/* One client connection, tracked from its first request until it closes. */
struct apiconn {
	TAILQ_ENTRY(apiconn)	 entry;
	struct api		*a;
	struct evhttp_connection *conn;
	struct follower		*f;	/* its live follow, if any */
};

struct api {
	struct sup		*s;
	TAILQ_HEAD(, apiconn)	 conns;
	int			 nconns;
	struct evhttp		*http;
	int			 fd;
	char			*path;
	gid_t			 group;
	int			 has_group;
	int			 shutting_down;
	struct event		*sweep_ev;
	TAILQ_HEAD(, follower)	 followers;
	int			 nfollowers;
	uint64_t		 sweeps;
	uint64_t		 requests;
	uint64_t		 refused;
	char			 guard_token[REQGUARD_TOKEN_LEN + 1];
};

static void	follower_push(struct follower *);

/* Send {"error":{"code","message"}} with status. */
static void
api_error(struct evhttp_request *req, int status, const char *code,
    const char *fmt, ...)
{
	struct evbuffer	*b = evbuffer_new();
	json_t		*o;
	char		 msg[1024], *text;
	va_list		 ap;
	const char	*reason;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	o = json_pack("{s{ss ss}}", "error", "code", code, "message", msg);
	text = json_dumps(o, JSON_COMPACT);
	evbuffer_add_printf(b, "%s\n", text);
	free(text);
	json_decref(o);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	switch (status) {
	case 400: reason = "Bad Request"; break;
	case 403: reason = "Forbidden"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 408: reason = "Request Timeout"; break;
	case 409: reason = "Conflict"; break;
	case 413: reason = "Payload Too Large"; break;
	case 417: reason = "Expectation Failed"; break;
	case 431: reason = "Request Header Fields Too Large"; break;
	case 501: reason = "Not Implemented"; break;
	case 503: reason = "Service Unavailable"; break;
	case 505: reason = "HTTP Version Not Supported"; break;
	default: reason = "Error"; break;
	}
	evhttp_send_reply(req, status, reason, b);
	evbuffer_free(b);
}

/* Send len bytes of JSON text and a newline. */
static void
api_text(struct evhttp_request *req, int status, const char *text,
    size_t len)
{
	struct evbuffer	*b = evbuffer_new();

	/*
	 * evbuffer_add, not evbuffer_add_printf("%s\n"), which copied large
	 * replies through vfprintf: 11% of the time to serve a 55 KB page.
	 */
	evbuffer_add(b, text, len);
	evbuffer_add(b, "\n", 1);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, status, status == 201 ? "Created" : "OK", b);
	evbuffer_free(b);
}

/* Send a JSON document (steals o). */
static void
api_json(struct evhttp_request *req, int status, json_t *o)
{
	char	*text = json_dumps(o, JSON_COMPACT);

	if (text != NULL)
		api_text(req, status, text, strlen(text));
	else
		api_text(req, status, "null", 4);
	free(text);
	json_decref(o);
}

/* The request body as a NUL-terminated string (allocated). */
static char *
api_body(struct evhttp_request *req, size_t *len)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	char		*buf;

	*len = evbuffer_get_length(in);
	buf = xmalloc(*len + 1);
	evbuffer_copyout(in, buf, *len);
	buf[*len] = '\0';
	return buf;
}

/* Parse the body as a JSON object or answer 400 and return NULL. */
static json_t *
api_body_json(struct evhttp_request *req, int allow_empty)
{
	json_error_t	 jerr;
	json_t		*o;
	size_t		 len;
	char		*buf = api_body(req, &len);

	if (len == 0 && allow_empty) {
		free(buf);
		return json_object();
	}
	o = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);
	free(buf);
	if (o == NULL) {
		api_error(req, 400, "bad_request", "request body is not valid "
		    "JSON: %s at line %d column %d", jerr.text, jerr.line,
		    jerr.column);
		return NULL;
	}
	if (!json_is_object(o)) {
		json_decref(o);
		api_error(req, 400, "bad_request", "request body must be a "
		    "JSON object");
		return NULL;
	}
	return o;
}

/* Parse an integer query parameter; -1 on bad input (answered 400). */
static int
api_query_int(struct evhttp_request *req, struct evkeyvalq *q,
    const char *name, long long min, long long max, long long *out)
{
	const char	*v = evhttp_find_header(q, name);

	if (v == NULL)
		return 0;
	if (util_parse_int(v, min, max, out) != 0) {
		api_error(req, 400, "bad_request", "query parameter %s must be "
		    "an integer from %lld to %lld", name, min, max);
		return -1;
	}
	return 0;
}

static int
valid_name(const char *s, size_t max)
{
	size_t	i;

	if (s == NULL || *s == '\0' || strlen(s) > max)
		return 0;
	for (i = 0; s[i] != '\0'; i++)
		if (!isalnum((unsigned char)s[i]) && strchr("_.-:",
		    s[i]) == NULL)
			return 0;
	return 1;
}

static int
valid_run_id(const char *s)
{
	return valid_name(s, 31);
}

/* POST /v1/runs */
static void
api_submit(struct api *a, struct evhttp_request *req)
{
	json_t		*body, *request, *v, *run;
	struct run_new	 rn;
	const char	*mode = "auto", *key = NULL, *queue = "default";
	char		*text = NULL, *cause = NULL, id[32];
	int		 created;
	long long	 prio = 0;

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	request = json_object_get(body, "request");
	if (request == NULL)
		request = body;		/* a bare Responses API request */
	else if (!json_is_object(request)) {
		api_error(req, 400, "bad_request", "request must be a JSON "
		    "object");
		goto out;
	} else {
		if ((v = json_object_get(body, "mode")) != NULL) {
			mode = json_string_value(v);
			if (mode == NULL || (strcmp(mode, "auto") != 0 &&
			    strcmp(mode, "background") != 0 &&
			    strcmp(mode, "stream") != 0 &&
			    strcmp(mode, "poll") != 0 &&
			    strcmp(mode, "batch") != 0)) {
				api_error(req, 400, "bad_request", "mode must "
				    "be auto, background, stream, poll or "
				    "batch");
				goto out;
			}
		}
		if ((v = json_object_get(body, "idempotency_key")) != NULL &&
		    !json_is_null(v)) {
			key = json_string_value(v);
			if (key == NULL || *key == '\0' || strlen(key) > 256) {
				api_error(req, 400, "bad_request",
				    "idempotency_key must be a string of 1 to "
				    "256 characters");
				goto out;
			}
		}
		if ((v = json_object_get(body, "queue")) != NULL &&
		    !json_is_null(v)) {
			queue = json_string_value(v);
			if (!valid_name(queue, 64)) {
				api_error(req, 400, "bad_request", "queue must "
				    "be 1 to 64 characters of [A-Za-z0-9_.:-]");
				goto out;
			}
		}
		if ((v = json_object_get(body, "priority")) != NULL &&
		    !json_is_null(v)) {
			if (!json_is_integer(v) || json_integer_value(v) <
			    -1000 || json_integer_value(v) > 1000) {
				api_error(req, 400, "bad_request", "priority "
				    "must be an integer from -1000 to 1000");
				goto out;
			}
			prio = json_integer_value(v);
		}
	}
	text = json_dumps(request, JSON_COMPACT);
	memset(&rn, 0, sizeof rn);
	rn.request = text;
	rn.mode = mode;
	rn.idempotency_key = key;
	rn.queue = queue;
	rn.priority = (int)prio;
	rn.endpoint = a->s->cfg->endpoint;
	rn.dialect = backend_dialect_name(a->s->cfg->dialect);
	if (store_run_insert(a->s->st, &rn, id, sizeof id, &created,
	    &cause) != 0) {
		api_error(req, 503, "store_error", "cannot store the run: %s",
		    cause);
		free(cause);
		goto out;
	}
	if ((run = store_run_json(a->s->st, id)) == NULL)
		run = json_pack("{ss}", "id", id);
	json_object_set_new(run, "created", json_boolean(created));
	if (created) {
		log_info("run %s: accepted%s%s", id, key != NULL ?
		    ", idempotency key " : "", key != NULL ? key : "");
		sup_schedule_soon(a->s);
	}
	api_json(req, created ? 201 : 200, run);
out:
	free(text);
	json_decref(body);
}

/* GET /v1/runs */
static void
api_list(struct api *a, struct evhttp_request *req, struct evkeyvalq *q)
{
	long long	 limit = LIST_LIMIT, since = 0;
	const char	*status, *queue, *after;
	char		*text, *cause = NULL;
	size_t		 len;

	if (api_query_int(req, q, "limit", 1, LIST_MAX, &limit) != 0 ||
	    api_query_int(req, q, "since", 0, INT64_MAX, &since) != 0)
		return;
	status = evhttp_find_header(q, "status");
	queue = evhttp_find_header(q, "queue");
	after = evhttp_find_header(q, "after");
	if (status != NULL && !valid_name(status, 32)) {
		api_error(req, 400, "bad_request", "bad status filter");
		return;
	}
	if (queue != NULL && !valid_name(queue, 64)) {
		api_error(req, 400, "bad_request", "bad queue filter");
		return;
	}
	if (after != NULL && !valid_run_id(after)) {
		api_error(req, 400, "bad_request", "after must be a run id");
		return;
	}
	text = store_run_list(a->s->st, status, queue, since, after,
	    (int)limit, &len, &cause);
	if (text == NULL) {
		api_error(req, 400, "bad_request", "%s", cause != NULL ? cause :
		    "cannot list runs");
		free(cause);
		return;
	}
	api_text(req, 200, text, len);
	free(text);
}

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

static void
follower_free(struct follower *f)
{
	struct api	*a = f->a;

	if (f->ac != NULL)
		f->ac->f = NULL;
	TAILQ_REMOVE(&a->followers, f, entry);
	a->nfollowers--;
	free(f);
}

/* evhttp closed a client connection: forget it and its follower. */
static void
api_conn_closed(struct evhttp_connection *conn, void *arg)
{
	struct apiconn	*ac = arg;

	(void)conn;
	if (ac->f != NULL) {
		log_debug("run %s: follower went away at seq %lld", ac->f->id,
		    (long long)ac->f->seq);
		follower_free(ac->f);
	}
	TAILQ_REMOVE(&ac->a->conns, ac, entry);
	ac->a->nconns--;
	free(ac);
}

/*
 * The tracked connection of req, created on its first request; NULL when
 * the connection limit is reached.
 */
static struct apiconn *
api_conn(struct api *a, struct evhttp_request *req)
{
	struct evhttp_connection	*conn;
	struct apiconn			*ac;

	conn = evhttp_request_get_connection(req);
	TAILQ_FOREACH(ac, &a->conns, entry)
		if (ac->conn == conn)
			return ac;
	if (a->nconns >= a->s->cfg->max_conns)
		return NULL;
	ac = xcalloc(1, sizeof *ac);
	ac->a = a;
	ac->conn = conn;
	evhttp_connection_set_closecb(conn, api_conn_closed, ac);
	TAILQ_INSERT_TAIL(&a->conns, ac, entry);
	a->nconns++;
	return ac;
}

/* End a follow with the run's local terminal status. */
static void
follower_end(struct follower *f, const char *status)
{
	struct evbuffer	*b = evbuffer_new();
	json_t		*run, *o;
	char		*text;

	run = store_run_json(f->a->s->st, f->id);
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
	evhttp_send_reply_end(f->req);
	follower_free(f);
}

/* Send stored events the follower has not seen; end it if terminal. */
static void
follower_push(struct follower *f)
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
		if (store_run_state(f->a->s->st, f->n, status, sizeof status,
		    &last_seq) != 0) {
			follower_end(f, "deleted");
			return;
		}
		p.b = evbuffer_new();
		p.last = f->seq;
		got = store_events_each(f->a->s->st, f->n, f->seq,
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
static void
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
		o = store_events_json(a->s->st, id, after, (int)limit, 0,
		    &next);
		if (o == NULL)
			api_error(req, 404, "not_found", "no run %s", id);
		else
			api_json(req, 200, o);
		return;
	}
	if ((n = store_run_n(a->s->st, id)) < 0) {
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
		struct timeval	 wt = { a->s->cfg->api_timeout_s, 0 };

		bufferevent_set_timeouts(evhttp_connection_get_bufferevent(
		    f->conn), NULL, &wt);
	}
	follower_push(f);
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
			follower_push(f);
	}
}

static void
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
		follower_push(f);
	}
}

/* GET /v1/health */
static void
api_health(struct api *a, struct evhttp_request *req)
{
	struct sup	*s = a->s;
	json_t		*o, *workers, *counts;
	json_int_t	 depth;
	int		 i;

	workers = json_array();
	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		json_array_append_new(workers, json_pack("{si sI si si sb}",
		    "instance", c->instance, "pid", (json_int_t)c->pid,
		    "runs", c->runs, "restarts", c->restarts, "alive",
		    c->alive && c->ready));
	}
	counts = store_counts_json(s->st);
	depth = json_integer_value(json_object_get(counts, RUN_PENDING));
	o = json_pack("{ss ss sI sI ss ss ss so so sI si}", "status",
	    s->shutting_down ? "stopping" : "ok", "version", AGENTD_VERSION,
	    "pid", (json_int_t)getpid(), "uptime_s",
	    (json_int_t)((util_now_ms() - s->started_ms) / 1000), "db",
	    s->cfg->db_path, "socket", s->cfg->socket_path, "endpoint",
	    s->cfg->endpoint, "workers", workers, "runs_by_status", counts,
	    "queue_depth", depth, "followers", a->nfollowers);
	api_json(req, 200, o);
}

/* GET /metrics (Prometheus text format). */
static void
api_metrics(struct api *a, struct evhttp_request *req)
{
	struct sup	*s = a->s;
	struct evbuffer	*b = evbuffer_new();
	json_t		*counts = store_counts_json(s->st), *v;
	const char	*k;
	struct wstats	*ws = xcalloc(1, sizeof *ws);
	uint64_t	 cum;
	int		 i, alive = 0;

	sup_stats(s, ws);
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
	counts = store_waiting_json(s->st);
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
	    (long long)store_count_events(s->st));
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
	for (i = 0; i < s->nchildren; i++)
		alive += s->children[i].alive;
	evbuffer_add_printf(b, "# TYPE agentd_workers gauge\n"
	    "agentd_workers %d\n"
	    "# TYPE agentd_worker_restarts_total counter\n"
	    "agentd_worker_restarts_total %llu\n"
	    "# TYPE agentd_runs_assigned_total counter\n"
	    "agentd_runs_assigned_total %llu\n"
	    "# TYPE agentd_runs_finished_total counter\n"
	    "agentd_runs_finished_total %llu\n"
	    "# TYPE agentd_runs_abandoned_total counter\n"
	    "agentd_runs_abandoned_total %llu\n"
	    "# TYPE agentd_api_requests_total counter\n"
	    "agentd_api_requests_total %llu\n"
	    "# TYPE agentd_api_refused_total counter\n"
	    "agentd_api_refused_total %llu\n"
	    "# TYPE agentd_api_connections gauge\n"
	    "agentd_api_connections %d\n"
	    "# TYPE agentd_followers gauge\n"
	    "agentd_followers %d\n", alive,
	    (unsigned long long)s->m.worker_restarts,
	    (unsigned long long)s->m.assigned,
	    (unsigned long long)s->m.finished,
	    (unsigned long long)s->m.abandoned,
	    (unsigned long long)a->requests, (unsigned long long)a->refused,
	    a->nconns, a->nfollowers);
	free(ws);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "text/plain; version=0.0.4");
	evhttp_send_reply(req, 200, "OK", b);
	evbuffer_free(b);
}

/* POST /v1/runs/{id}/resume */
static void
api_resume(struct api *a, struct evhttp_request *req, const char *id)
{
	const char	*msg = NULL;
	int		 rc = store_resume(a->s->st, id, &msg);

	if (rc == STORE_NOTFOUND)
		api_error(req, 404, "not_found", "no run %s", id);
	else if (rc == STORE_CONFLICT)
		api_error(req, 409, "conflict", "run %s: %s", id, msg);
	else if (rc != STORE_OK)
		api_error(req, 503, "store_error", "cannot resume run %s", id);
	else {
		log_info("run %s: resumed by request", id);
		sup_schedule_soon(a->s);
		api_json(req, 200, store_run_json(a->s->st, id));
	}
}

/* POST /v1/runs/{id}/cancel */
static void
api_cancel(struct api *a, struct evhttp_request *req, const char *id)
{
	const char	*msg = NULL;
	char		*owner, *backend_id, *endpoint;
	int64_t		 n = -1;
	int		 rc;

	rc = store_cancel(a->s->st, id, &n, &owner, &backend_id, &endpoint,
	    &msg);
	if (rc == STORE_NOTFOUND)
		api_error(req, 404, "not_found", "no run %s", id);
	else if (rc == STORE_CONFLICT)
		api_error(req, 409, "conflict", "run %s: %s", id, msg);
	else if (rc != STORE_OK)
		api_error(req, 503, "store_error", "cannot cancel run %s", id);
	else {
		log_info("run %s: cancelled by request", id);
		sup_drop(a->s, n, id, owner, backend_id, 1);
		api_progress(a, n);
		api_json(req, 200, store_run_json(a->s->st, id));
	}
	free(owner);
	free(backend_id);
	free(endpoint);
}

/* POST /v1/runs/prune */
static void
api_prune(struct api *a, struct evhttp_request *req)
{
	json_t	*body, *v;
	int	 n;

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	v = json_object_get(body, "older_than_s");
	if (!json_is_integer(v) || json_integer_value(v) < 0) {
		json_decref(body);
		api_error(req, 400, "bad_request", "older_than_s must be a "
		    "non-negative integer (seconds)");
		return;
	}
	n = store_prune(a->s->st, util_now_ms() - json_integer_value(v) *
	    1000);
	json_decref(body);
	if (n < 0) {
		api_error(req, 503, "store_error", "prune failed");
		return;
	}
	log_info("pruned %d finished runs", n);
	api_json(req, 200, json_pack("{si}", "deleted", n));
}

/*
 * A request the guard refused in place of the client's (reqguard.h):
 * answer its JSON error, log it, and close the connection.
 */
static void
api_refused(struct api *a, struct evhttp_request *req, uid_t uid)
{
	char		*body, code[64];
	const char	*msg;
	size_t		 len;
	int		 status;

	a->refused++;
	body = api_body(req, &len);
	if (reqguard_refusal(body, len, &status, code, sizeof code,
	    &msg) != 0) {
		status = 400;
		snprintf(code, sizeof code, "bad_request");
		msg = "malformed request";
	}
	log_warnx("api: refused a request from uid %ld: %s (HTTP %d)",
	    (long)uid, msg, status);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Connection", "close");
	api_error(req, status, code, "%s", msg);
	free(body);
}

/* Check the peer's uid: ours, root, or a member of --socket-group. */
static int
api_peer_allowed(struct api *a, struct evhttp_request *req, uid_t *uid)
{
	struct evhttp_connection	*conn;
	struct bufferevent		*bev;
	struct ucred			 cr;
	socklen_t			 len = sizeof cr;
	struct group			*gr;
	struct passwd			*pw;
	char				**m;

	conn = evhttp_request_get_connection(req);
	bev = evhttp_connection_get_bufferevent(conn);
	if (getsockopt(bufferevent_getfd(bev), SOL_SOCKET, SO_PEERCRED, &cr,
	    &len) == -1)
		return 0;
	*uid = cr.uid;
	if (cr.uid == 0 || cr.uid == getuid())
		return 1;
	if (!a->has_group)
		return 0;
	if (cr.gid == a->group)
		return 1;
	if ((pw = getpwuid(cr.uid)) == NULL)
		return 0;
	if (pw->pw_gid == a->group)
		return 1;
	if ((gr = getgrgid(a->group)) == NULL)
		return 0;
	for (m = gr->gr_mem; *m != NULL; m++)
		if (strcmp(*m, pw->pw_name) == 0)
			return 1;
	return 0;
}

/* POST /v1/batches: submit lines of a named batch in one transaction. */
static void
api_batch_submit(struct api *a, struct evhttp_request *req)
{
	json_t			*body, *reqs, *it, *v;
	struct batch_new	 b;
	struct batch_item	*items = NULL;
	char			**texts = NULL, *cause = NULL;
	size_t			 i, n = 0;
	int			 submitted, present;

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	memset(&b, 0, sizeof b);
	b.name = json_string_value(json_object_get(body, "name"));
	if (!valid_name(b.name, 64)) {
		api_error(req, 400, "bad_request", "name must be 1 to 64 "
		    "characters of [A-Za-z0-9_.:-]");
		goto out;
	}
	if ((v = json_object_get(body, "queue")) != NULL && !json_is_null(v)) {
		b.queue = json_string_value(v);
		if (!valid_name(b.queue, 64)) {
			api_error(req, 400, "bad_request", "queue must be 1 to "
			    "64 characters of [A-Za-z0-9_.:-]");
			goto out;
		}
	}
	if ((v = json_object_get(body, "mode")) != NULL && !json_is_null(v)) {
		b.mode = json_string_value(v);
		if (b.mode == NULL || (strcmp(b.mode, "auto") != 0 &&
		    strcmp(b.mode, "background") != 0 &&
		    strcmp(b.mode, "stream") != 0 &&
		    strcmp(b.mode, "poll") != 0 &&
		    strcmp(b.mode, "batch") != 0)) {
			api_error(req, 400, "bad_request", "mode must be auto, "
			    "background, stream, poll or batch");
			goto out;
		}
	}
	if ((v = json_object_get(body, "max_attempts")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100) {
			api_error(req, 400, "bad_request", "max_attempts must be "
			    "an integer from 1 to 100");
			goto out;
		}
		b.max_attempts = (int)json_integer_value(v);
	}
	reqs = json_object_get(body, "requests");
	if (!json_is_array(reqs) || json_array_size(reqs) > 10000) {
		api_error(req, 400, "bad_request", "requests must be an array "
		    "of at most 10000 {\"custom_id\",\"request\"} objects");
		goto out;
	}
	n = json_array_size(reqs);
	items = xcalloc(n + 1, sizeof *items);
	texts = xcalloc(n + 1, sizeof *texts);
	json_array_foreach(reqs, i, it) {
		const char	*cid;

		cid = json_string_value(json_object_get(it, "custom_id"));
		if (cid == NULL || *cid == '\0' || strlen(cid) > 512) {
			api_error(req, 400, "bad_request", "requests[%zu]: "
			    "custom_id must be a string of 1 to 512 characters",
			    i);
			goto out;
		}
		if (!json_is_object(json_object_get(it, "request"))) {
			api_error(req, 400, "bad_request", "requests[%zu]: "
			    "request must be a JSON object", i);
			goto out;
		}
		texts[i] = json_dumps(json_object_get(it, "request"),
		    JSON_COMPACT);
		items[i].custom_id = cid;
		items[i].request = texts[i];
	}
	b.endpoint = a->s->cfg->endpoint;
	b.dialect = backend_dialect_name(a->s->cfg->dialect);
	if (batch_submit(a->s->st, &b, items, n, &submitted, &present,
	    &cause) != 0) {
		api_error(req, 503, "store_error", "cannot store the batch: %s",
		    cause);
		free(cause);
		goto out;
	}
	if (submitted > 0) {
		log_info("batch %s: %d runs accepted, %d already present",
		    b.name, submitted, present);
		sup_schedule_soon(a->s);
	}
	api_json(req, 200, json_pack("{ss si si}", "name", b.name,
	    "submitted", submitted, "already_present", present));
out:
	for (i = 0; texts != NULL && i < n; i++)
		free(texts[i]);
	free(texts);
	free(items);
	json_decref(body);
}

static int
results_line_cb(void *arg, json_t *line)
{
	struct evbuffer	*b = arg;
	char		*text = json_dumps(line, JSON_COMPACT);

	evbuffer_add_printf(b, "%s\n", text != NULL ? text : "{}");
	free(text);
	return 0;
}

struct cancel_arg {
	struct api	*a;
};

static void
batch_cancel_tell(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id)
{
	struct cancel_arg	*c = arg;

	sup_drop(c->a->s, n, id, owner, backend_id, 1);
	api_progress(c->a, n);
}

/* /v1/batches/{name}[/results|/cancel] */
static void
api_batch_one(struct api *a, struct evhttp_request *req, const char *name,
    const char *sub, struct evkeyvalq *q, enum evhttp_cmd_type m)
{
	struct cancel_arg	 c;
	struct evbuffer		*b;
	const char		*eo;
	json_t			*o;
	int			 rc;

	if (!valid_name(name, 64)) {
		api_error(req, 404, "not_found", "no such batch");
		return;
	}
	if (*sub == '\0') {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "method_not_allowed", "use GET");
		else if ((o = batch_status_json(a->s->st, name)) == NULL)
			api_error(req, 404, "not_found", "no batch %s", name);
		else
			api_json(req, 200, o);
	} else if (strcmp(sub, "/results") == 0) {
		if (m != EVHTTP_REQ_GET) {
			api_error(req, 405, "method_not_allowed", "use GET");
			return;
		}
		eo = evhttp_find_header(q, "errors_only");
		b = evbuffer_new();
		rc = batch_results(a->s->st, name, eo != NULL &&
		    (strcmp(eo, "true") == 0 || strcmp(eo, "1") == 0),
		    results_line_cb, b);
		if (rc == -2)
			api_error(req, 404, "not_found", "no batch %s", name);
		else if (rc < 0)
			api_error(req, 503, "store_error", "cannot read batch "
			    "%s", name);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Content-Type", "application/x-ndjson");
			evhttp_send_reply(req, 200, "OK", b);
		}
		evbuffer_free(b);
	} else if (strcmp(sub, "/cancel") == 0) {
		if (m != EVHTTP_REQ_POST) {
			api_error(req, 405, "method_not_allowed", "use POST");
			return;
		}
		c.a = a;
		rc = batch_cancel(a->s->st, name, batch_cancel_tell, &c);
		if (rc == -2)
			api_error(req, 404, "not_found", "no batch %s", name);
		else if (rc < 0)
			api_error(req, 503, "store_error", "cannot cancel batch "
			    "%s", name);
		else {
			log_info("batch %s: cancelled %d unfinished runs", name,
			    rc);
			api_json(req, 200, json_pack("{ss si}", "name", name,
			    "cancelled", rc));
		}
	} else
		api_error(req, 404, "not_found", "no route for batch %s", name);
}

/* POST /v1/queues/{name} */
static void
api_queue_set(struct api *a, struct evhttp_request *req, const char *name)
{
	struct queue_set	 qs = { QUEUE_KEEP, QUEUE_KEEP, QUEUE_KEEP,
				    QUEUE_KEEP };
	json_t			*body, *v;
	char			*cause = NULL;

	if (!valid_name(name, 64)) {
		api_error(req, 400, "bad_request", "queue name must be 1 to 64 "
		    "characters of [A-Za-z0-9_.:-]");
		return;
	}
	if ((body = api_body_json(req, 0)) == NULL)
		return;
	if ((v = json_object_get(body, "max_inflight")) != NULL) {
		if (json_is_null(v))
			qs.max_inflight = QUEUE_UNLIMITED;
		else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= 1000000)
			qs.max_inflight = (int)json_integer_value(v);
		else {
			api_error(req, 400, "bad_request", "max_inflight must be "
			    "null (unlimited) or an integer from 0 to 1000000");
			goto out;
		}
	}
	if ((v = json_object_get(body, "paused")) != NULL) {
		if (!json_is_boolean(v)) {
			api_error(req, 400, "bad_request", "paused must be true "
			    "or false");
			goto out;
		}
		qs.paused = json_is_true(v);
	}
	if ((v = json_object_get(body, "priority")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000 ||
		    json_integer_value(v) > 1000) {
			api_error(req, 400, "bad_request", "priority must be an "
			    "integer from -1000 to 1000");
			goto out;
		}
		qs.priority = (int)json_integer_value(v);
	}
	if ((v = json_object_get(body, "max_attempts")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100) {
			api_error(req, 400, "bad_request", "max_attempts must be "
			    "an integer from 1 to 100");
			goto out;
		}
		qs.max_attempts = (int)json_integer_value(v);
	}
	if (queue_set(a->s->st, name, &qs, &cause) != 0) {
		api_error(req, 503, "store_error", "%s", cause);
		free(cause);
		goto out;
	}
	log_info("queue %s: settings changed", name);
	sup_schedule_soon(a->s);
	api_json(req, 200, queue_list_json(a->s->st));
out:
	json_decref(body);
}

/* Route every request. */
static void
api_route(struct evhttp_request *req, void *arg)
{
	struct api		*a = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = evhttp_uri_get_path(uri);
	const char		*query = evhttp_uri_get_query(uri);
	enum evhttp_cmd_type	 m = evhttp_request_get_command(req);
	struct evkeyvalq	 q;
	char			 id[32], sub[32];
	const char		*rest, *tok;
	size_t			 idlen;
	uid_t			 uid = 0;
	struct apiconn		*ac;

	a->requests++;
	if ((ac = api_conn(a, req)) == NULL) {
		a->refused++;
		log_warnx("api: %d connections open, the limit; refusing a "
		    "request (raise --max-connections)", a->nconns);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		api_error(req, 503, "too_many_connections", "agentd has %d "
		    "connections open, its limit", a->nconns);
		return;
	}
	if (!api_peer_allowed(a, req, &uid)) {
		a->refused++;
		log_warnx("api: refused a connection from uid %ld",
		    (long)uid);
		api_error(req, 403, "forbidden", "uid %ld may not use this "
		    "socket", (long)uid);
		return;
	}
	if (path != NULL && strcmp(path, REQGUARD_PATH) == 0 &&
	    (tok = evhttp_find_header(evhttp_request_get_input_headers(req),
	    REQGUARD_HEADER)) != NULL && strcmp(tok, a->guard_token) == 0) {
		api_refused(a, req, uid);
		return;
	}
	if (a->shutting_down) {
		api_error(req, 503, "shutting_down", "agentd is stopping");
		return;
	}
	TAILQ_INIT(&q);
	if (path == NULL)
		path = "/";
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0) {
		api_error(req, 400, "bad_request", "malformed query string");
		return;
	}
	if (strcmp(path, "/v1/health") == 0 || strcmp(path, "/metrics") == 0) {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "method_not_allowed", "use GET");
		else if (path[1] == 'v')
			api_health(a, req);
		else
			api_metrics(a, req);
	} else if (strcmp(path, "/v1/runs") == 0) {
		if (m == EVHTTP_REQ_POST)
			api_submit(a, req);
		else if (m == EVHTTP_REQ_GET)
			api_list(a, req, &q);
		else
			api_error(req, 405, "method_not_allowed", "use GET or "
			    "POST");
	} else if (strcmp(path, "/v1/runs/prune") == 0) {
		if (m != EVHTTP_REQ_POST)
			api_error(req, 405, "method_not_allowed", "use POST");
		else
			api_prune(a, req);
	} else if (strcmp(path, "/v1/runs/resume-stale") == 0) {
		if (m != EVHTTP_REQ_POST)
			api_error(req, 405, "method_not_allowed", "use POST");
		else {
			json_t *ids = store_resume_stale(a->s->st);

			sup_schedule_soon(a->s);
			api_json(req, 200, json_pack("{so}", "resumed",
			    ids != NULL ? ids : json_array()));
		}
	} else if (strcmp(path, "/v1/batches") == 0) {
		if (m == EVHTTP_REQ_POST)
			api_batch_submit(a, req);
		else if (m == EVHTTP_REQ_GET)
			api_json(req, 200, batch_list_json(a->s->st));
		else
			api_error(req, 405, "method_not_allowed", "use GET or "
			    "POST");
	} else if (strncmp(path, "/v1/batches/", 12) == 0) {
		char	name[72];
		size_t	nl = strcspn(path + 12, "/");

		if (nl == 0 || nl >= sizeof name) {
			api_error(req, 404, "not_found", "no such batch");
			goto out;
		}
		memcpy(name, path + 12, nl);
		name[nl] = '\0';
		api_batch_one(a, req, name, path + 12 + nl, &q, m);
	} else if (strcmp(path, "/v1/queues") == 0) {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "method_not_allowed", "use GET");
		else
			api_json(req, 200, queue_list_json(a->s->st));
	} else if (strncmp(path, "/v1/queues/", 11) == 0) {
		if (m != EVHTTP_REQ_POST)
			api_error(req, 405, "method_not_allowed", "use POST");
		else
			api_queue_set(a, req, path + 11);
	} else if (strncmp(path, "/v1/runs/", 9) == 0) {
		rest = path + 9;
		idlen = strcspn(rest, "/");
		if (idlen == 0 || idlen >= sizeof id) {
			api_error(req, 404, "not_found", "no such run");
			goto out;
		}
		memcpy(id, rest, idlen);
		id[idlen] = '\0';
		rest += idlen;
		if (!valid_run_id(id)) {
			api_error(req, 404, "not_found", "no such run");
			goto out;
		}
		snprintf(sub, sizeof sub, "%s", rest);
		if (*sub == '\0') {
			json_t *o;

			if (m != EVHTTP_REQ_GET)
				api_error(req, 405, "method_not_allowed",
				    "use GET");
			else if ((o = store_run_json(a->s->st, id)) == NULL)
				api_error(req, 404, "not_found", "no run %s",
				    id);
			else
				api_json(req, 200, o);
		} else if (strcmp(sub, "/events") == 0) {
			if (m != EVHTTP_REQ_GET)
				api_error(req, 405, "method_not_allowed",
				    "use GET");
			else
				api_events(a, req, id, &q, ac);
		} else if (strcmp(sub, "/result") == 0) {
			json_t		*o;
			const char	*st;

			if (m != EVHTTP_REQ_GET)
				api_error(req, 405, "method_not_allowed",
				    "use GET");
			else if ((o = store_result_json(a->s->st, id)) ==
			    NULL)
				api_error(req, 404, "not_found", "no run %s",
				    id);
			else if (!store_status_terminal(st =
			    json_string_value(json_object_get(o, "status")))) {
				api_error(req, 409, "conflict", "run %s is %s; "
				    "no result yet", id, st);
				json_decref(o);
			} else
				api_json(req, 200, o);
		} else if (strcmp(sub, "/resume") == 0 ||
		    strcmp(sub, "/cancel") == 0) {
			if (m != EVHTTP_REQ_POST)
				api_error(req, 405, "method_not_allowed",
				    "use POST");
			else if (sub[1] == 'r')
				api_resume(a, req, id);
			else
				api_cancel(a, req, id);
		} else
			api_error(req, 404, "not_found", "no route %s", path);
	} else
		api_error(req, 404, "not_found", "no route %s", path);
out:
	evhttp_clear_headers(&q);
}

/*
 * Create the listening socket: replace a stale socket file from a dead
 * agentd, refuse a live one.
 */
static int
api_listen(struct api *a, const char *path, char **cause)
{
	struct sockaddr_un	 sun;
	struct stat		 sb;
	int			 fd, probe;
	char			*dir, *slash;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof sun.sun_path) {
		xasprintf(cause, "socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	dir = xstrdup(path);
	if ((slash = strrchr(dir, '/')) != NULL && slash != dir) {
		*slash = '\0';
		if (stat(dir, &sb) == -1 && errno == ENOENT &&
		    mkdir(dir, 0750) == -1 && errno != EEXIST) {
			xasprintf(cause, "cannot create %s: %s", dir,
			    strerror(errno));
			free(dir);
			return -1;
		}
	}
	if (slash != NULL && stat(slash == dir ? "/" : dir, &sb) == 0 &&
	    (sb.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		log_warnx("api: %s is writable by others: another user could "
		    "replace the socket; prefer a directory only agentd's user "
		    "can write", slash == dir ? "/" : dir);
	free(dir);
	if (lstat(path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			xasprintf(cause, "%s exists and is not a socket; "
			    "refusing to replace it", path);
			return -1;
		}
		probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (probe != -1 && connect(probe, (struct sockaddr *)&sun,
		    sizeof sun) == 0) {
			close(probe);
			xasprintf(cause, "another agentd is serving %s", path);
			return -1;
		}
		if (probe != -1)
			close(probe);
		log_info("api: removing stale socket %s", path);
		unlink(path);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		xasprintf(cause, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind(fd, (struct sockaddr *)&sun, sizeof sun) == -1 ||
	    chmod(path, 0660) == -1 ||
	    (a->has_group && chown(path, (uid_t)-1, a->group) == -1) ||
	    listen(fd, 256) == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static void
api_guard_free(void *ctx)
{
	reqguard_free(ctx);
}

/* evhttp's bufferevent for a new connection: the socket behind a guard. */
static struct bufferevent *
api_bevcb(struct event_base *base, void *arg)
{
	struct api		*a = arg;
	struct bufferevent	*under, *bev;
	struct reqguard		*g;

	if ((under = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	g = reqguard_new(HEADER_MAX, a->s->cfg->max_body, a->guard_token,
	    under);
	bev = bufferevent_filter_new(under, reqguard_filter, reqguard_output,
	    BEV_OPT_CLOSE_ON_FREE, api_guard_free, g);
	if (bev == NULL) {
		reqguard_free(g);
		bufferevent_free(under);
		return NULL;
	}
	if (reqguard_attach(g, bev, (int)a->s->cfg->api_timeout_s) != 0) {
		bufferevent_free(bev);
		return NULL;
	}
	return bev;
}

/* The secret that marks the guard's refusal requests as its own. */
static int
api_guard_token(struct api *a)
{
	unsigned char	r[REQGUARD_TOKEN_LEN / 2];
	size_t		 i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return -1;
	for (i = 0; i < sizeof r; i++)
		snprintf(a->guard_token + 2 * i, 3, "%02x", r[i]);
	return 0;
}

/* Start the API server. */
struct api *
api_start(struct sup *s, char **cause)
{
	struct api	*a;
	struct group	*gr;
	struct timeval	 one = { 1, 0 };

	a = xcalloc(1, sizeof *a);
	a->s = s;
	a->fd = -1;
	TAILQ_INIT(&a->followers);
	TAILQ_INIT(&a->conns);
	if (s->cfg->socket_group != NULL) {
		if ((gr = getgrnam(s->cfg->socket_group)) == NULL) {
			xasprintf(cause, "unknown group %s",
			    s->cfg->socket_group);
			free(a);
			return NULL;
		}
		a->group = gr->gr_gid;
		a->has_group = 1;
	}
	if (api_guard_token(a) != 0) {
		xasprintf(cause, "getrandom: %s", strerror(errno));
		free(a);
		return NULL;
	}
	if ((a->fd = api_listen(a, s->cfg->socket_path, cause)) == -1) {
		free(a);
		return NULL;
	}
	a->path = xstrdup(s->cfg->socket_path);
	a->http = evhttp_new(s->base);
	/* The guard enforces both; evhttp's limits are a backstop. */
	evhttp_set_max_body_size(a->http, (ev_ssize_t)s->cfg->max_body);
	evhttp_set_max_headers_size(a->http, HEADER_MAX);
	evhttp_set_bevcb(a->http, api_bevcb, a);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, api_route, a);
	evhttp_set_timeout(a->http, (int)s->cfg->api_timeout_s);
	if (evhttp_accept_socket(a->http, a->fd) != 0) {
		xasprintf(cause, "evhttp cannot accept on %s", a->path);
		api_stop(a);
		return NULL;
	}
	a->sweep_ev = event_new(s->base, -1, EV_PERSIST, api_sweep_cb, a);
	event_add(a->sweep_ev, &one);
	return a;
}

/* Stop new requests; end followers. */
void
api_shutdown(struct api *a)
{
	struct follower	*f;

	if (a == NULL)
		return;
	a->shutting_down = 1;
	while ((f = TAILQ_FIRST(&a->followers)) != NULL) {
		evhttp_send_reply_end(f->req);
		follower_free(f);
	}
}

/* Free the API server and remove the socket file. Accepts NULL. */
void
api_stop(struct api *a)
{
	if (a == NULL)
		return;
	api_shutdown(a);
	if (a->sweep_ev != NULL)
		event_free(a->sweep_ev);
	if (a->http != NULL)
		evhttp_free(a->http);
	while (!TAILQ_EMPTY(&a->conns)) {
		struct apiconn *ac = TAILQ_FIRST(&a->conns);

		TAILQ_REMOVE(&a->conns, ac, entry);
		free(ac);
	}
	if (a->path != NULL)
		unlink(a->path);
	free(a->path);
	free(a);
}
