/*
 * The front's TCP listener (--listen HOST:PORT): every request must carry
 * the bearer token (compared in constant time, never logged); refusals and
 * errors are in OpenAI's shape. What it serves is front.c's /v1/responses.
 */
#include <sys/queue.h>
#include <sys/socket.h>

#include <netinet/in.h>

#include <netdb.h>
#include <unistd.h>

#include <errno.h>
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
#include "config.h"
#include "log.h"
#include "reqguard.h"
#include "util.h"
#include "xmalloc.h"

#define FRONT_BACKLOG	4096	/* connections waiting to be accepted */

/*
 * 1 if the Authorization header carries want as its bearer token. The
 * time taken depends on the length of what was sent, never on how much
 * of it matches.
 */
int
front_token_ok(const char *want, const char *auth)
{
	const char	*got;
	size_t		 lw, lg, i;
	unsigned char	 d;

	if (want == NULL || auth == NULL || strncasecmp(auth, "Bearer ", 7) !=
	    0)
		return 0;
	got = auth + 7;
	while (*got == ' ')
		got++;
	lw = strlen(want);
	lg = strlen(got);
	if (lw == 0)
		return 0;
	d = lw != lg;
	for (i = 0; i < lg; i++)
		d |= (unsigned char)got[i] ^ (unsigned char)want[i % lw];
	return d == 0;
}

/* The peer's address as text, for the log. */
static void
front_peer(struct evhttp_request *req, char *buf, size_t len)
{
	struct evhttp_connection	*conn = evhttp_request_get_connection(req);
	const char			*host = NULL;
	ev_uint16_t			 port = 0;

	evhttp_connection_get_peer(conn, (char **)&host, &port);
	snprintf(buf, len, "%s:%u", host != NULL ? host : "?", port);
}

/* Answer in OpenAI's shape: {"error":{"message","type","param","code"}}. */
static void
listen_error(struct evhttp_request *req, int status, const char *reason,
    const char *type, const char *code, const char *msg)
{
	struct evbuffer	*b = evbuffer_new();
	json_t		*o;
	char		*text;

	o = json_pack("{s{ss ss sn ss}}", "error", "message", msg, "type",
	    type, "param", "code", code);
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	evbuffer_add(b, text, strlen(text));
	evbuffer_add(b, "\n", 1);
	free(text);
	front_request_id(req);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evhttp_send_reply(req, status, reason, b);
	evbuffer_free(b);
}

/* Route a TCP request: limits, the guard's refusals, the token, then front.c. */
static void
front_tcp_route(struct evhttp_request *req, void *arg)
{
	struct api		*a = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = evhttp_uri_get_path(uri);
	const char		*query = evhttp_uri_get_query(uri), *tok, *msg;
	struct evkeyvalq	*in = evhttp_request_get_input_headers(req);
	struct evkeyvalq	 q;
	struct apiconn		*ac;
	char			 peer[80], code[64], *body;
	int			 status;

	a->requests++;
	front_peer(req, peer, sizeof peer);
	if ((ac = api_conn(a, req)) == NULL) {
		a->refused++;
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		listen_error(req, 503, "Service Unavailable", "server_error",
		    "too_many_connections", "agentd has too many connections "
		    "open; try again");
		return;
	}
	if (path != NULL && strcmp(path, REQGUARD_PATH) == 0 &&
	    (tok = evhttp_find_header(in, REQGUARD_HEADER)) != NULL &&
	    strcmp(tok, a->guard_token) == 0) {
		body = api_refusal(a, req, &status, code, sizeof code, &msg);
		log_warnx("front: refused a request from %s: %s (HTTP %d)",
		    peer, msg, status);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Connection", "close");
		listen_error(req, status, status == 413 ? "Payload Too Large" :
		    "Bad Request", "invalid_request_error", code, msg);
		free(body);
		return;
	}
	if (!front_token_ok(a->h.cfg->front_token, evhttp_find_header(in,
	    "Authorization"))) {
		a->refused++;
		log_warnx("front: refused a request from %s: %s bearer token "
		    "(HTTP 401)", peer, evhttp_find_header(in,
		    "Authorization") == NULL ? "no" : "a wrong");
		listen_error(req, 401, "Unauthorized", "invalid_request_error",
		    "invalid_api_key", "Incorrect API key provided: agentd's "
		    "front wants the token of AGENTD_FRONT_TOKEN or "
		    "--front-token-file as Authorization: Bearer");
		return;
	}
	if (a->shutting_down) {
		listen_error(req, 503, "Service Unavailable", "server_error",
		    "shutting_down", "agentd is stopping; try again shortly");
		return;
	}
	TAILQ_INIT(&q);
	if (query != NULL && evhttp_parse_query_str(query, &q) != 0)
		listen_error(req, 400, "Bad Request", "invalid_request_error",
		    "bad_request", "malformed query string");
	else if (path == NULL || !front_route(a, req, path, &q,
	    evhttp_request_get_command(req), ac))
		listen_error(req, 404, "Not Found", "invalid_request_error",
		    "not_found", "agentd's front serves /v1/responses only");
	evhttp_clear_headers(&q);
}

/* A non-blocking TCP socket listening on host:port; -1 with *cause. */
static int
front_socket(const char *host, int port, char **cause)
{
	struct addrinfo	 hints, *res = NULL;
	char		 ps[16];
	int		 fd, on = 1, rc;

	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_PASSIVE;
	snprintf(ps, sizeof ps, "%d", port);
	if ((rc = getaddrinfo(host, ps, &hints, &res)) != 0) {
		xasprintf(cause, "--listen %s:%d: %s", host, port,
		    gai_strerror(rc));
		return -1;
	}
	fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    0);
	if (fd == -1 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on,
	    sizeof on) == -1 || bind(fd, res->ai_addr, res->ai_addrlen) == -1 ||
	    listen(fd, FRONT_BACKLOG) == -1) {
		xasprintf(cause, "--listen %s:%d: cannot listen there: %s",
		    host, port, strerror(errno));
		if (fd != -1)
			close(fd);
		freeaddrinfo(res);
		return -1;
	}
	freeaddrinfo(res);
	return fd;
}

/* Bind --listen and serve the front there. 0, or -1 with *cause. */
int
front_listen(struct api *a, char **cause)
{
	struct evhttp_bound_socket	*bs;
	struct sockaddr_storage		 ss;
	socklen_t			 sl = sizeof ss;
	char				 host[256];
	int				 port, bound = 0, fd;

	if (a->h.cfg->listen == NULL)
		return 0;
	if (config_listen_addr(a->h.cfg->listen, host, sizeof host,
	    &port) != 0) {
		xasprintf(cause, "bad --listen %s", a->h.cfg->listen);
		return -1;
	}
	a->front_http = evhttp_new(a->h.base);
	evhttp_set_max_body_size(a->front_http, (ev_ssize_t)a->h.cfg->max_body);
	evhttp_set_max_headers_size(a->front_http, HEADER_MAX);
	evhttp_set_bevcb(a->front_http, api_bevcb, a);
	evhttp_set_allowed_methods(a->front_http, EVHTTP_REQ_GET |
	    EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT |
	    EVHTTP_REQ_DELETE | EVHTTP_REQ_PATCH | EVHTTP_REQ_OPTIONS);
	evhttp_set_gencb(a->front_http, front_tcp_route, a);
	evhttp_set_timeout(a->front_http, (int)a->h.cfg->api_timeout_s);
	/*
	 * Our own socket for a deep backlog: evhttp's bind listens with 128,
	 * and 200 clients connecting at once lost SYNs, retried after 1 and
	 * 3 s (time to first event p99 3 s).
	 */
	if ((fd = front_socket(host, port, cause)) == -1)
		return -1;
	if ((bs = evhttp_accept_socket_with_handle(a->front_http, fd)) ==
	    NULL) {
		xasprintf(cause, "--listen %s: evhttp cannot accept there",
		    a->h.cfg->listen);
		close(fd);
		return -1;
	}
	if (getsockname(evhttp_bound_socket_get_fd(bs), (struct sockaddr *)&ss,
	    &sl) == 0) {
		if (ss.ss_family == AF_INET)
			bound = ntohs(((struct sockaddr_in *)&ss)->sin_port);
		else if (ss.ss_family == AF_INET6)
			bound = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	}
	log_info("front: serving /v1/responses on %s:%d (bearer token "
	    "required)", host, bound);
	if (strcmp(host, "127.0.0.1") != 0 && strcmp(host, "::1") != 0 &&
	    strcmp(host, "localhost") != 0)
		log_warnx("front: %s is not a loopback address: anyone who can "
		    "reach it and has the token can run agents; put TLS in "
		    "front of it", host);
	return 0;
}
