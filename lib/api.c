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
#include "api-internal.h"
#include "batch.h"
#include "log.h"
#include "reqguard.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"


/* Send {"error":{"code","message"}} with status. */
void
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
void
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
void
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
char *
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
json_t *
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
int
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

int
api_valid_name(const char *s, size_t max)
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

int
api_valid_run_id(const char *s)
{
	return api_valid_name(s, 31);
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
		api_follower_free(ac->f);
	}
	if (ac->ff != NULL)
		front_follow_free(ac->ff);	/* the run goes on */
	if (ac->prune != NULL)
		api_prune_detach(ac->prune);	/* the prune goes on */
	TAILQ_REMOVE(&ac->a->conns, ac, entry);
	ac->a->nconns--;
	free(ac);
}

/*
 * The tracked connection of req, created on its first request; NULL when
 * the connection limit is reached.
 */
struct apiconn *
api_conn(struct api *a, struct evhttp_request *req)
{
	struct evhttp_connection	*conn;
	struct apiconn			*ac;

	conn = evhttp_request_get_connection(req);
	TAILQ_FOREACH(ac, &a->conns, entry)
		if (ac->conn == conn)
			return ac;
	if (a->nconns >= a->h.cfg->max_conns)
		return NULL;
	ac = xcalloc(1, sizeof *ac);
	ac->a = a;
	ac->conn = conn;
	evhttp_connection_set_closecb(conn, api_conn_closed, ac);
	TAILQ_INSERT_TAIL(&a->conns, ac, entry);
	a->nconns++;
	return ac;
}

/*
 * Decode the guard's refusal request req (reqguard.h) into its status,
 * code (of codelen) and message, and count it. Returns the body, which
 * *msg may point into: the caller frees it.
 */
char *
api_refusal(struct api *a, struct evhttp_request *req, int *status,
    char *code, size_t codelen, const char **msg)
{
	char	*body;
	size_t	 len;

	a->refused++;
	body = api_body(req, &len);
	if (reqguard_refusal(body, len, status, code, codelen, msg) != 0) {
		*status = 400;
		snprintf(code, codelen, "bad_request");
		*msg = "malformed request";
	}
	return body;
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
	int		 status;

	body = api_refusal(a, req, &status, code, sizeof code, &msg);
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

/* The run id a path names: a front response id maps to its run. */
void
api_run_id(const char *in, char *out, size_t len)
{
	if (front_run_id(in, out, len) != 0)
		snprintf(out, len, "%s", in);
}

/* Ask the host to assign runs soon. */
void
api_schedule_soon(struct api *a)
{
	a->h.ops->schedule_soon(a->h.ctx);
}

/* Ask the host to let run n go (and, with cancel, cancel it upstream). */
void
api_drop(struct api *a, int64_t n, const char *id, const char *owner,
    const char *backend_id, int cancel)
{
	a->h.ops->drop(a->h.ctx, n, id, owner, backend_id, cancel);
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
	if (front_route(a, req, path, &q, m, ac))
		;	/* /v1/responses: the front */
	else if (strcmp(path, "/v1/health") == 0 ||
	    strcmp(path, "/metrics") == 0) {
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
			json_t *ids = store_resume_stale(a->h.st);

			api_schedule_soon(a);
			api_json(req, 200, json_pack("{so}", "resumed",
			    ids != NULL ? ids : json_array()));
		}
	} else if (strcmp(path, "/v1/batches") == 0) {
		if (m == EVHTTP_REQ_POST)
			api_batch_submit(a, req);
		else if (m == EVHTTP_REQ_GET)
			api_json(req, 200, batch_list_json(a->h.st));
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
			api_json(req, 200, queue_list_json(a->h.st));
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
		memcpy(sub, rest, idlen);
		sub[idlen] = '\0';
		api_run_id(sub, id, sizeof id);
		rest += idlen;
		if (!api_valid_run_id(id)) {
			api_error(req, 404, "not_found", "no such run");
			goto out;
		}
		snprintf(sub, sizeof sub, "%s", rest);
		if (*sub == '\0') {
			json_t *o;

			if (m != EVHTTP_REQ_GET)
				api_error(req, 405, "method_not_allowed",
				    "use GET");
			else if ((o = store_run_json(a->h.st, id)) == NULL)
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
			else if ((o = store_result_json(a->h.st, id)) ==
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
struct bufferevent *
api_bevcb(struct event_base *base, void *arg)
{
	struct api		*a = arg;
	struct bufferevent	*under, *bev;
	struct reqguard		*g;

	if ((under = bufferevent_socket_new(base, -1,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL)
		return NULL;
	g = reqguard_new(HEADER_MAX, a->h.cfg->max_body, a->guard_token,
	    under);
	bev = bufferevent_filter_new(under, reqguard_filter, reqguard_output,
	    BEV_OPT_CLOSE_ON_FREE, api_guard_free, g);
	if (bev == NULL) {
		reqguard_free(g);
		bufferevent_free(under);
		return NULL;
	}
	if (reqguard_attach(g, bev, (int)a->h.cfg->api_timeout_s) != 0) {
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
api_start(const struct api_host *h, char **cause)
{
	struct api	*a;
	struct group	*gr;
	struct timeval	 one = { 1, 0 };

	a = xcalloc(1, sizeof *a);
	a->h = *h;
	a->fd = -1;
	TAILQ_INIT(&a->followers);
	TAILQ_INIT(&a->prunes);
	TAILQ_INIT(&a->ffollowers);
	TAILQ_INIT(&a->conns);
	if (h->cfg->socket_group != NULL) {
		if ((gr = getgrnam(h->cfg->socket_group)) == NULL) {
			xasprintf(cause, "unknown group %s",
			    h->cfg->socket_group);
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
	if ((a->fd = api_listen(a, h->cfg->socket_path, cause)) == -1) {
		free(a);
		return NULL;
	}
	a->path = xstrdup(h->cfg->socket_path);
	a->http = evhttp_new(h->base);
	/* The guard enforces both; evhttp's limits are a backstop. */
	evhttp_set_max_body_size(a->http, (ev_ssize_t)h->cfg->max_body);
	evhttp_set_max_headers_size(a->http, HEADER_MAX);
	evhttp_set_bevcb(a->http, api_bevcb, a);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
	    EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
	    EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->http, api_route, a);
	evhttp_set_timeout(a->http, (int)h->cfg->api_timeout_s);
	if (evhttp_accept_socket(a->http, a->fd) != 0) {
		xasprintf(cause, "evhttp cannot accept on %s", a->path);
		api_stop(a);
		return NULL;
	}
	if (front_listen(a, cause) != 0) {
		api_stop(a);
		return NULL;
	}
	a->sweep_ev = event_new(h->base, -1, EV_PERSIST, api_sweep_cb, a);
	event_add(a->sweep_ev, &one);
	/*
	 * On a shared store the events of a run held by another host come
	 * with no word from this host's workers: look for them every 50 ms.
	 */
	if (store_shared(h->st)) {
		struct timeval	poll = { 0, 50 * 1000 };

		api_store_listen(a);
		a->poll_ev = evtimer_new(h->base, api_poll_cb, a);
		event_add(a->poll_ev, &poll);
	}
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
	api_prunes_free(a);
	while ((f = TAILQ_FIRST(&a->followers)) != NULL) {
		struct evhttp_request	*req = f->req;

		/* Detached first: the reply may free the connection. */
		f->req = NULL;
		api_follower_free(f);
		evhttp_send_reply_end(req);
	}
	front_shutdown(a);
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
	if (a->poll_ev != NULL)
		event_free(a->poll_ev);
	api_unlisten(a);
	if (a->http != NULL)
		evhttp_free(a->http);
	if (a->front_http != NULL)
		evhttp_free(a->front_http);
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
