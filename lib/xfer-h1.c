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
#include "xfer-h1.h"
#include "xmalloc.h"

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
void
h1_finish(struct xfer *x, int rc, const char *msg)
{
	h1_close(x->h1);
	x->h1->state = H1_FAILED;	/* the owner's calls do nothing now */
	x->loop->count--;
	x->ops->done(x->arg, x, rc, rc == CURLE_OK ? "No error" : msg);
	h1_free(x->h1);
	x->h1 = NULL;
	xfer_free(x);
}

/*
 * A failure: its done comes on the next loop turn, never from inside
 * xfer_start or the owner's own call.
 */
void
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

void
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
	h1_arm(h, h->paused ? 0 : h->idle_ms);	/* paused: not idle */
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

struct xfer *
h1_detached(struct xfer_loop *l, const struct xfer_ops *ops, void *arg)
{
	struct xfer	*x;
	struct h1	*h;

	x = xfer_new(l, ops, arg);
	h = x->h1 = xcalloc(1, sizeof *h);
	h->fd = -1;
	h->state = H1_HEAD;
	h->host = xstrdup("fuzz port 0");
	if ((h->tmo = evtimer_new(l->base, h1_tmo_cb, x)) == NULL)
		fatalx("evtimer_new");
	return x;
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
	if ((h->state != H1_HEAD && h->state != H1_BODY) || h->ev == NULL)
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

static void
h1_sock_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer	*x = arg;
	struct h1	*h = x->h1;

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
	h1_read(x);
}
