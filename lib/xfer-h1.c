/*
 * agentd's own HTTP/1.1 client, for long-lived streams over plain http://
 * with no proxy. libcurl holds about 11 KB for each transfer (its easy
 * handle, connection and request state, its receive buffer); a stream
 * here holds its struct, two events and, only while they are needed, its
 * request bytes, its response head and what a pause held back. Every
 * socket reads into one buffer of the loop. TLS, proxies and anything
 * unusual in a URL stay with libcurl (xfer.c).
 *
 * The answers are libcurl's: the same CURLcode for the same failure
 * (the worker tells "never connected" from "may have reached the
 * backend" by them) and a message in libcurl's words.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "log.h"
#include "util.h"
#include "xfer.h"
#include "xfer-internal.h"
#include "xmalloc.h"

/* libcurl's CURL_MAX_HTTP_HEADER: a response head may not be longer. */
#define H1_HEAD_MAX	(100 * 1024)

enum h1_state {
	H1_RESOLVE,	/* waiting for evdns */
	H1_CONNECT,	/* connect() in progress */
	H1_SEND,	/* writing the request */
	H1_HEAD,	/* reading the status line and headers */
	H1_BODY,	/* reading the body */
	H1_FAILED	/* a failure waits for its done on the next turn */
};

enum h1_body { BODY_NONE, BODY_LEN, BODY_CHUNKED, BODY_CLOSE };

enum h1_chunk {
	CK_SIZE,	/* hex digits of the size line */
	CK_EXT,		/* the rest of the size line (extensions) */
	CK_DATA,
	CK_DATA_CR,	/* the CRLF after the data */
	CK_DATA_LF,
	CK_TRAILER	/* trailer lines up to an empty one */
};

struct h1_url {
	char	host[256];
	char	port[8];
	int	v6;		/* host was a bracketed literal */
	const char *path;	/* from the first '/' or '?' (not copied) */
	size_t	pathlen;
};

struct h1_dns {
	struct xfer	*x;	/* NULL once the transfer went away */
};

struct h1 {
	evutil_socket_t		 fd;
	struct event		*ev;	/* the socket */
	struct event		*tmo;	/* connect or idle timeout; a failure */
	struct h1_dns		*dns;
	struct evdns_getaddrinfo_request *dreq;
	struct evutil_addrinfo	*ai, *cur;	/* ai: ours to free */
	struct sockaddr_storage	 sa;	/* a literal address */
	socklen_t		 salen;
	char			*host;	/* host and port, for messages */
	char			*out;	/* the request, until sent */
	size_t			 outlen, outoff;
	char			*head;	/* the response head, until parsed */
	size_t			 headlen;
	char			*stash;	/* bytes read while paused */
	size_t			 stashlen;
	int64_t			 left;	/* body or chunk bytes to come */
	int64_t			 started;	/* ms, for messages */
	long			 connect_ms, idle_ms;
	int			 fail_rc;
	char			*fail_msg;
	unsigned		 state:3, body:2, ck:3, paused:1, got:1,
				 line:1;
	int			 last_errno;
};

static void	h1_sock_cb(evutil_socket_t, short, void *);
static void	h1_connect_next(struct xfer *);

/* Parse an http:// URL the own client takes; -1 for anything else. */
static int
h1_parse_url(const char *url, struct h1_url *u)
{
	const char	*p, *a, *e, *c;
	size_t		 n;
	long		 port = 80;

	if (url == NULL || strncasecmp(url, "http://", 7) != 0)
		return -1;
	for (p = url; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -1;	/* libcurl's to judge */
	a = url + 7;
	e = a + strcspn(a, "/?#");
	if (memchr(a, '@', (size_t)(e - a)) != NULL || e == a)
		return -1;
	memset(u, 0, sizeof *u);
	if (*a == '[') {
		if ((c = memchr(a, ']', (size_t)(e - a))) == NULL)
			return -1;
		n = (size_t)(c - a - 1);
		a++;
		c++;
		u->v6 = 1;
	} else {
		c = memchr(a, ':', (size_t)(e - a));
		if (c == NULL)
			c = e;
		n = (size_t)(c - a);
	}
	if (n == 0 || n >= sizeof u->host)
		return -1;
	memcpy(u->host, a, n);
	u->host[n] = '\0';
	if (c < e) {
		if (*c != ':' || c + 1 == e || e - c > 6)
			return -1;
		for (port = 0, c++; c < e; c++) {
			if (!isdigit((unsigned char)*c))
				return -1;
			port = port * 10 + (*c - '0');
		}
		if (port < 1 || port > 65535)
			return -1;
	}
	snprintf(u->port, sizeof u->port, "%ld", port);
	u->path = e;
	u->pathlen = strcspn(e, "#");
	return 0;
}

int
h1_accepts(const struct xfer_loop *l, const struct xfer_req *req)
{
	struct h1_url	u;

	return l->lean && req->stream && h1_parse_url(req->url, &u) == 0;
}

/* Close the socket and drop its event (the transfer goes on or ends). */
static void
h1_close(struct h1 *h)
{
	if (h->ev != NULL) {
		event_free(h->ev);
		h->ev = NULL;
	}
	if (h->fd >= 0) {
		close(h->fd);
		h->fd = -1;
	}
}

static void
h1_free(struct h1 *h)
{
	h1_close(h);
	if (h->tmo != NULL)
		event_free(h->tmo);
	if (h->dreq != NULL) {
		h->dns->x = NULL;	/* its callback frees it */
		evdns_getaddrinfo_cancel(h->dreq);
	} else
		free(h->dns);
	if (h->ai != NULL)
		evutil_freeaddrinfo(h->ai);
	free(h->host);
	if (h->out != NULL)
		explicit_bzero(h->out, h->outlen);	/* the bearer token */
	free(h->out);
	free(h->head);
	free(h->stash);
	free(h->fail_msg);
	free(h);
}

/* The end: tell the owner, then free everything. x is gone after. */
static void
h1_finish(struct xfer *x, int rc, const char *msg)
{
	h1_close(x->h1);
	x->loop->count--;
	x->ops->done(x->arg, x, rc, rc == CURLE_OK ? NULL : msg);
	h1_free(x->h1);
	x->h1 = NULL;
	xfer_free(x);
}

/*
 * A failure: its done comes on the next loop turn, never from inside
 * xfer_start or the owner's own call.
 */
static void
h1_fail(struct xfer *x, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
h1_fail(struct xfer *x, int rc, const char *fmt, ...)
{
	struct h1	*h = x->h1;
	va_list		 ap;

	h1_close(h);
	h->state = H1_FAILED;
	h->fail_rc = rc;
	free(h->fail_msg);
	va_start(ap, fmt);
	if (vasprintf(&h->fail_msg, fmt, ap) < 0)
		h->fail_msg = NULL;
	va_end(ap);
	event_del(h->tmo);
	event_active(h->tmo, EV_TIMEOUT, 1);
}

static void
h1_arm(struct h1 *h, long ms)
{
	struct timeval	tv;

	if (ms <= 0) {
		event_del(h->tmo);
		return;
	}
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	event_add(h->tmo, &tv);
}

static void
h1_tmo_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer	*x = arg;
	struct h1	*h = x->h1;

	(void)fd;
	(void)what;
	switch (h->state) {
	case H1_FAILED:
		h1_finish(x, h->fail_rc, h->fail_msg != NULL ? h->fail_msg :
		    "out of memory");
		break;
	case H1_RESOLVE:
	case H1_CONNECT:
		h1_fail(x, CURLE_OPERATION_TIMEDOUT, "Connection timed out "
		    "after %lld milliseconds",
		    (long long)(util_mono_ms() - h->started));
		break;
	default:
		h1_fail(x, CURLE_OPERATION_TIMEDOUT, "Operation too slow. "
		    "Less than 1 bytes/sec transferred the last %ld seconds",
		    h->idle_ms / 1000);
		break;
	}
}

/* Watch the socket for what (EV_READ or EV_WRITE), persistently. */
static void
h1_watch(struct xfer *x, short what)
{
	struct h1	*h = x->h1;

	if (h->ev != NULL)
		event_free(h->ev);
	h->ev = event_new(x->loop->base, h->fd, what | EV_PERSIST,
	    h1_sock_cb, x);
	if (h->ev == NULL)
		fatalx("event_new");
	if (!h->paused || what != EV_READ)
		event_add(h->ev, NULL);
}

/* Write what is left of the request; then read the response. */
static void
h1_send(struct xfer *x)
{
	struct h1	*h = x->h1;
	ssize_t		 n;

	while (h->outoff < h->outlen) {
		n = send(h->fd, h->out + h->outoff, h->outlen - h->outoff,
		    MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;		/* EV_WRITE goes on */
		if (n < 0) {
			h1_fail(x, CURLE_SEND_ERROR, "Send failure: %s",
			    strerror(errno));
			return;
		}
		h->outoff += (size_t)n;
	}
	explicit_bzero(h->out, h->outlen);
	free(h->out);
	h->out = NULL;
	h->state = H1_HEAD;
	h1_arm(h, h->idle_ms);
	h1_watch(x, EV_READ);
}

/* The socket of the address being tried is connected, or failed. */
static void
h1_connected(struct xfer *x)
{
	struct h1	*h = x->h1;
	int		 err = 0, one = 1;
	socklen_t	 len = sizeof err;

	if (getsockopt(h->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err != 0) {
		h->last_errno = err;
		h1_close(h);
		h1_connect_next(x);
		return;
	}
	(void)setsockopt(h->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	h->state = H1_SEND;
	h1_arm(h, 0);
	h1_watch(x, EV_WRITE);
	h1_send(x);
}

/* Try the next address (a literal is the only one). */
static void
h1_connect_next(struct xfer *x)
{
	struct h1		*h = x->h1;
	const struct sockaddr	*sa;
	socklen_t		 salen;
	int			 family;

	for (;;) {
		if (h->salen > 0) {
			sa = (const struct sockaddr *)&h->sa;
			salen = h->salen;
			h->salen = 0;
		} else if (h->cur != NULL) {
			sa = h->cur->ai_addr;
			salen = (socklen_t)h->cur->ai_addrlen;
			h->cur = h->cur->ai_next;
		} else {
			h1_fail(x, CURLE_COULDNT_CONNECT, "Failed to connect "
			    "to %s after %lld ms: %s", h->host,
			    (long long)(util_mono_ms() - h->started),
			    strerror(h->last_errno != 0 ? h->last_errno :
			    ECONNREFUSED));
			return;
		}
		family = sa->sa_family;
		h->fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
		if (h->fd < 0) {
			h->last_errno = errno;
			continue;
		}
		if (connect(h->fd, sa, salen) == 0 || errno == EINPROGRESS) {
			h->state = H1_CONNECT;
			h1_watch(x, EV_WRITE);
			return;
		}
		h->last_errno = errno;
		close(h->fd);
		h->fd = -1;
	}
}

static void
h1_dns_cb(int result, struct evutil_addrinfo *res, void *arg)
{
	struct h1_dns	*d = arg;
	struct xfer	*x = d->x;
	struct h1	*h;

	if (x == NULL) {	/* the transfer went away */
		if (res != NULL)
			evutil_freeaddrinfo(res);
		free(d);
		return;
	}
	h = x->h1;
	h->dreq = NULL;
	if (result != 0 || res == NULL) {
		if (res != NULL)
			evutil_freeaddrinfo(res);
		h1_fail(x, CURLE_COULDNT_RESOLVE_HOST, "Could not resolve "
		    "host: %.*s", (int)strcspn(h->host, ":"), h->host);
		return;
	}
	h->ai = h->cur = res;
	h1_connect_next(x);
}

/* Resolve the host: a literal or localhost at once, else by evdns. */
static void
h1_resolve(struct xfer *x, const struct h1_url *u)
{
	struct xfer_loop		*l = x->loop;
	struct h1			*h = x->h1;
	struct sockaddr_in		*s4 = (struct sockaddr_in *)&h->sa;
	struct sockaddr_in6		*s6 = (struct sockaddr_in6 *)&h->sa;
	struct evutil_addrinfo		 hints;
	struct evdns_getaddrinfo_request *r;
	uint16_t			 port = (uint16_t)atoi(u->port);
	const char			*name = u->host;

	memset(&h->sa, 0, sizeof h->sa);
	/* As libcurl does: localhost is the loopback, never asked for. */
	if (strcasecmp(name, "localhost") == 0)
		name = "127.0.0.1";
	if (!u->v6 && inet_pton(AF_INET, name, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		h->salen = sizeof *s4;
		h1_connect_next(x);
		return;
	}
	if (inet_pton(AF_INET6, name, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		h->salen = sizeof *s6;
		h1_connect_next(x);
		return;
	}
	if (u->v6) {
		h1_fail(x, CURLE_URL_MALFORMAT, "Bad IPv6 address: %s",
		    u->host);
		return;
	}
	if (l->dns == NULL && (l->dns = evdns_base_new(l->base,
	    EVDNS_BASE_INITIALIZE_NAMESERVERS |
	    EVDNS_BASE_DISABLE_WHEN_INACTIVE)) == NULL) {
		h1_fail(x, CURLE_COULDNT_RESOLVE_HOST, "Could not resolve "
		    "host: %s (no resolver)", u->host);
		return;
	}
	memset(&hints, 0, sizeof hints);
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = EVUTIL_AI_ADDRCONFIG;
	h->dns = xcalloc(1, sizeof *h->dns);
	h->dns->x = x;
	h->state = H1_RESOLVE;
	/* Answers from /etc/hosts come at once, inside this call. */
	r = evdns_getaddrinfo(l->dns, u->host, u->port, &hints, h1_dns_cb,
	    h->dns);
	/* NULL: answered (or failed) already, h1_dns_cb went on. */
	h->dreq = r;
}

void
h1_start(struct xfer *x, const struct xfer_req *req)
{
	struct h1	*h;
	struct h1_url	 u;
	size_t		 blen = req->body != NULL ? strlen(req->body) : 0;
	int		 post = strcmp(req->method, "POST") == 0, n, dport;

	(void)h1_parse_url(req->url, &u);	/* h1_accepts said yes */
	dport = strcmp(u.port, "80") == 0;
	h = x->h1 = xcalloc(1, sizeof *h);
	h->fd = -1;
	h->started = util_mono_ms();
	h->connect_ms = (req->connect_timeout_s > 0 ?
	    req->connect_timeout_s : 10) * 1000;
	h->idle_ms = req->idle_timeout_s * 1000;
	xasprintf(&h->host, "%s%s%s port %s", u.v6 ? "[" : "", u.host,
	    u.v6 ? "]" : "", u.port);
	if ((h->tmo = evtimer_new(x->loop->base, h1_tmo_cb, x)) == NULL)
		fatalx("evtimer_new");
	n = asprintf(&h->out, "%s %s%.*s HTTP/1.1\r\n"
	    "Host: %s%s%s%s%s\r\n"
	    "User-Agent: agentd/0.1\r\n"
	    "%s%s%s"
	    "%s%s%s"
	    "%s%s%s"
	    "%s",
	    req->method, *u.path == '/' ? "" : "/", (int)u.pathlen, u.path,
	    u.v6 ? "[" : "", u.host, u.v6 ? "]" : "", dport ? "" : ":",
	    dport ? "" : u.port,
	    req->accept != NULL ? "Accept: " : "",
	    req->accept != NULL ? req->accept : "",
	    req->accept != NULL ? "\r\n" : "",
	    req->api_key != NULL && *req->api_key != '\0' ?
	    "Authorization: Bearer " : "",
	    req->api_key != NULL && *req->api_key != '\0' ? req->api_key : "",
	    req->api_key != NULL && *req->api_key != '\0' ? "\r\n" : "",
	    req->idempotency_key != NULL ? "Idempotency-Key: " : "",
	    req->idempotency_key != NULL ? req->idempotency_key : "",
	    req->idempotency_key != NULL ? "\r\n" : "",
	    post ? "Content-Type: application/json\r\n" : "");
	if (n < 0)
		fatalx("out of memory");
	h->outlen = (size_t)n;
	if (post) {
		char	cl[48];
		int	m = snprintf(cl, sizeof cl, "Content-Length: %zu\r\n\r\n",
			    blen);

		h->out = xrealloc(h->out, h->outlen + (size_t)m + blen + 1);
		memcpy(h->out + h->outlen, cl, (size_t)m);
		memcpy(h->out + h->outlen + (size_t)m, req->body, blen);
		h->outlen += (size_t)m + blen;
	} else {
		h->out = xrealloc(h->out, h->outlen + 3);
		memcpy(h->out + h->outlen, "\r\n", 2);
		h->outlen += 2;
	}
	h1_arm(h, h->connect_ms);
	h1_resolve(x, &u);
}

void
h1_abort(struct xfer *x)
{
	h1_free(x->h1);
	x->h1 = NULL;
	xfer_free(x);
}

/* Stop reading (the socket's bytes wait in the kernel) or go on. */
void
h1_pause(struct xfer *x, int pause)
{
	struct h1	*h = x->h1;

	if (h->paused == (unsigned)(pause != 0))
		return;
	h->paused = pause != 0;
	if (h->state != H1_HEAD && h->state != H1_BODY)
		return;
	if (h->paused) {
		event_del(h->ev);
		event_del(h->tmo);	/* not idle: held back */
		return;
	}
	event_add(h->ev, NULL);
	h1_arm(h, h->idle_ms);
	if (h->stash != NULL)
		event_active(h->ev, EV_READ, 1);	/* what was held back */
}

void
h1_loop_free(struct xfer_loop *l)
{
	if (l->dns != NULL)
		evdns_base_free(l->dns, 1);
	free(l->rbuf);
}


/*
 * The response head h->head[0, headlen) is whole: the status line and
 * the headers. 0: a final response, its body framing set; 1: an interim
 * 1xx, skipped; -1: failed (h1_fail called).
 */
static int
h1_head_parse(struct xfer *x)
{
	struct h1	*h = x->h1;
	char		*p = h->head, *end = h->head + h->headlen, *eol;
	const char	*v;
	int64_t		 clen = -1;
	int		 chunked = 0;
	size_t		 n, i;
	long		 status;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)p[7]) || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]) ||
	    (p[12] != ' ' && p[12] != '\r' && p[12] != '\n')) {
		h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Invalid status line "
		    "from %s", h->host);
		return -1;
	}
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	xfer_response_reset(x);
	x->status = status;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		xfer_header_line(x, p, (size_t)(eol + 1 - p));
		if (n > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			for (v = p + 15; v < p + n && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			for (clen = 0; v < p + n && isdigit((unsigned char)*v);
			    v++) {
				if (clen > INT64_MAX / 10 - 10)
					break;
				clen = clen * 10 + (*v - '0');
			}
			while (v < p + n && (*v == ' ' || *v == '\t'))
				v++;
			if (v != p + n || !isdigit((unsigned char)p[n - 1])) {
				h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Invalid "
				    "Content-Length from %s", h->host);
				return -1;
			}
		} else if (n > 18 && strncasecmp(p, "transfer-encoding:",
		    18) == 0) {
			for (i = 18; i + 7 <= n; i++)
				if (strncasecmp(p + i, "chunked", 7) == 0)
					chunked = 1;
		}
	}
	if (status < 200 && status != 101)
		return 1;
	if (status == 204 || status == 304)
		h->body = BODY_NONE;
	else if (chunked) {
		h->body = BODY_CHUNKED;
		h->ck = CK_SIZE;
		h->left = 0;
		h->line = 0;
	} else if (clen >= 0) {
		h->body = BODY_LEN;
		h->left = clen;
	} else
		h->body = BODY_CLOSE;
	return 0;
}

/* Body bytes for the owner; -1 if it said stop (h1_fail called). */
static int
h1_deliver(struct xfer *x, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (x->ops->data(x->arg, x, p, n) != 0) {
		h1_fail(x, CURLE_WRITE_ERROR, "Failure writing output to "
		    "destination");
		return -1;
	}
	return 0;
}

/*
 * Take the head bytes of p[0, n): returns how many were the head's, or
 * -1 (failed, or the transfer ended).
 */
static ssize_t
h1_feed_head(struct xfer *x, const char *p, size_t n)
{
	struct h1	*h = x->h1;
	size_t		 from = h->headlen > 3 ? h->headlen - 3 : 0, take, i;
	size_t		 room = H1_HEAD_MAX + 4 - h->headlen, endlen = 0;
	int		 rc;

	take = n < room ? n : room;
	h->head = xrealloc(h->head, h->headlen + take + 1);
	memcpy(h->head + h->headlen, p, take);
	h->headlen += take;
	h->got = 1;
	if (strncmp(h->head, "HTTP/", h->headlen < 5 ? h->headlen : 5) != 0) {
		h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Received a response "
		    "that is not HTTP/1.x from %s", h->host);
		return -1;
	}
	for (i = from; i < h->headlen; i++) {
		if (h->head[i] != '\n')
			continue;
		if (i + 1 < h->headlen && h->head[i + 1] == '\n')
			endlen = i + 2;
		else if (i + 2 < h->headlen && h->head[i + 1] == '\r' &&
		    h->head[i + 2] == '\n')
			endlen = i + 3;
		if (endlen > 0)
			break;
	}
	if (endlen == 0) {
		if (h->headlen > H1_HEAD_MAX) {
			h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Response head "
			    "from %s over %d bytes", h->host, H1_HEAD_MAX);
			return -1;
		}
		return (ssize_t)take;
	}
	take -= h->headlen - endlen;	/* the rest is the body's */
	h->headlen = endlen;
	rc = h1_head_parse(x);
	free(h->head);
	h->head = NULL;
	h->headlen = 0;
	if (rc < 0)
		return -1;
	if (rc == 1)
		return (ssize_t)take;	/* 1xx: the real head follows */
	h->state = H1_BODY;
	if (h->body == BODY_NONE || (h->body == BODY_LEN && h->left == 0)) {
		h1_finish(x, CURLE_OK, NULL);
		return -1;
	}
	return (ssize_t)take;
}

static int
h1_hex(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Bytes from the socket (or held back by a pause): returns how many were
 * taken (fewer when the owner paused), or -1 when the transfer failed or
 * ended; x may be gone then.
 */
static ssize_t
h1_feed(struct xfer *x, const char *p, size_t n)
{
	struct h1	*h = x->h1;
	size_t		 off = 0, k;
	ssize_t		 t;
	int		 c, v;

	while (off < n) {
		if (h->paused)
			return (ssize_t)off;
		if (h->state == H1_HEAD) {
			if ((t = h1_feed_head(x, p + off, n - off)) < 0)
				return -1;
			off += (size_t)t;
			continue;
		}
		if (h->body == BODY_CLOSE) {
			if (h1_deliver(x, p + off, n - off) < 0)
				return -1;
			off = n;
			continue;
		}
		if (h->body == BODY_LEN || h->ck == CK_DATA) {
			k = n - off;
			if ((int64_t)k > h->left)
				k = (size_t)h->left;
			h->left -= (int64_t)k;
			if (h1_deliver(x, p + off, k) < 0)
				return -1;
			off += k;
			if (h->left > 0)
				continue;
			if (h->body == BODY_LEN) {
				h1_finish(x, CURLE_OK, NULL);
				return -1;
			}
			h->ck = CK_DATA_CR;
			continue;
		}
		c = (unsigned char)p[off++];
		switch (h->ck) {
		case CK_SIZE:
			if ((v = h1_hex(c)) >= 0) {
				if (h->left > (INT64_MAX >> 4))
					goto bad;
				h->left = h->left * 16 + v;
				h->line = 1;
				break;
			}
			if (c != ';' && c != ' ' && c != '\t' && c != '\r' &&
			    c != '\n')
				goto bad;
			h->ck = CK_EXT;
			if (c != '\n')
				break;
			/* FALLTHROUGH */
		case CK_EXT:
			if (c != '\n')
				break;
			if (!h->line)
				goto bad;
			h->line = 0;
			h->ck = h->left > 0 ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA_CR:
			if (c == '\r')
				h->ck = CK_DATA_LF;
			else if (c == '\n')
				h->ck = CK_SIZE;
			else
				goto bad;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto bad;
			h->ck = CK_SIZE;
			break;
		case CK_TRAILER:
			if (c == '\n') {
				if (!h->line) {
					h1_finish(x, CURLE_OK, NULL);
					return -1;
				}
				h->line = 0;
			} else if (c != '\r')
				h->line = 1;
			break;
		default:
			break;
		}
	}
	return (ssize_t)off;
bad:
	h1_fail(x, CURLE_RECV_ERROR, "Chunk size parse error in the "
	    "response from %s", h->host);
	return -1;
}

/* The server closed the connection. */
static void
h1_eof(struct xfer *x)
{
	struct h1	*h = x->h1;

	if (h->state == H1_HEAD && !h->got)
		h1_fail(x, CURLE_GOT_NOTHING, "Empty reply from server");
	else if (h->state == H1_HEAD)
		h1_fail(x, CURLE_RECV_ERROR, "Connection closed in the "
		    "response head from %s", h->host);
	else if (h->body == BODY_CLOSE)
		h1_finish(x, CURLE_OK, NULL);
	else if (h->body == BODY_LEN)
		h1_fail(x, CURLE_PARTIAL_FILE, "transfer closed with %lld "
		    "bytes remaining to read", (long long)h->left);
	else
		h1_fail(x, CURLE_PARTIAL_FILE, "transfer closed with "
		    "outstanding read data remaining");
}

static void
h1_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer	*x = arg;
	struct h1	*h = x->h1;
	struct xfer_loop *l = x->loop;
	ssize_t		 n, c;

	(void)fd;
	(void)what;
	switch (h->state) {
	case H1_CONNECT:
		h1_connected(x);
		return;
	case H1_SEND:
		h1_send(x);
		return;
	case H1_HEAD:
	case H1_BODY:
		break;
	default:
		return;
	}
	if (h->stash != NULL) {		/* held back by a pause */
		if (h->paused)
			return;
		if ((c = h1_feed(x, h->stash, h->stashlen)) < 0)
			return;
		if ((size_t)c < h->stashlen) {
			memmove(h->stash, h->stash + c, h->stashlen -
			    (size_t)c);
			h->stashlen -= (size_t)c;
			return;
		}
		free(h->stash);
		h->stash = NULL;
		h->stashlen = 0;
	}
	if (h->paused)
		return;
	if (l->rbuf == NULL)
		l->rbuf = xmalloc(H1_READ_BUF);
	n = recv(h->fd, l->rbuf, H1_READ_BUF, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		h1_fail(x, CURLE_RECV_ERROR, "Recv failure: %s",
		    strerror(errno));
		return;
	}
	if (n == 0) {
		h1_eof(x);
		return;
	}
	h1_arm(h, h->idle_ms);
	if ((c = h1_feed(x, l->rbuf, (size_t)n)) < 0)
		return;
	if (c < n) {
		h->stashlen = (size_t)(n - c);
		h->stash = xmalloc(h->stashlen);
		memcpy(h->stash, l->rbuf + c, h->stashlen);
	}
}
