/*
 * Unit tests for lib/xfer.c and the own HTTP/1.1 client (xfer-h1*.c). A
 * scripted server on the transfers' own event loop answers each request
 * with exact bytes, cut into pieces written on later loop turns, and
 * keeps what it was sent. Every case runs over both clients, the own
 * ("lean") one and libcurl, against the same expectations: the worker
 * must not be able to tell them apart.
 */
#include <sys/socket.h>

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "harness.h"
#include "util.h"
#include "xfer.h"
#include "xfer-internal.h"
#include "xfer-h1.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define NMANY		200

struct srv;

/* What the server answers on each connection once the request is whole. */
struct script {
	const char	*resp;
	size_t		 piece;		/* bytes a write (0: all at once) */
	int		 random;	/* piece sizes 1..piece, fixed seed */
	int		 gap_ms;	/* between writes (0: next loop turn) */
	int		 hold;		/* keep the connection open after */
	char		*(*gen)(const char *);	/* resp from the request */
};

struct conn {
	struct srv	*s;
	int		 fd;
	struct event	*rev, *wtm;
	char		*req, *own;	/* what came (NUL-ended); gen's */
	const char	*out;		/* set when the request is whole */
	size_t		 reqlen, outlen, off;
	unsigned	 seed;
	struct conn	*next;
};

struct srv {
	struct event_base	*base;
	const struct script	*sc;
	int			 fd, port, naccepted, neof;
	struct event		*lev;
	struct conn		*conns;		/* newest first */
};

/* One transfer as its owner saw it. */
struct cli {
	struct xfer	*x;
	int		 lean, port, ndata, ndone, rc, sse, *total;
	int		 pause_first, paused, while_paused, fail;
	int		 pause_in_done;	/* done pauses and goes on */
	char		*buf, *seen;	/* the body; what the server got */
	size_t		 len, seenlen;
	long		 status;
	char		 err[CURL_ERROR_SIZE], ctype[64], *retry_after;
	int64_t		 rl_ms;
};

struct env {
	struct event_base	*base;
	struct srv		*srv;
	struct xfer_loop	*loop;
};

/* A response and what either client must make of it. */
struct fx {
	const char	*name;
	struct script	 sc;
	int		 rc;		/* -1: any failure */
	long		 status;
	const char	*body;
	const char	*ctype;		/* NULL: not checked */
	const char	*retry_after;	/* NULL: none */
	int64_t		 rl_ms;		/* 0: none (-1) */
	int		 fail;		/* the data callback refuses */
	int		 streamed;	/* delivered in many pieces */
};

/* A test's state: a fixture (or NULL) over one client. */
struct tcase {
	const struct fx	*fx;
	int		 lean;
	char		 name[64];
};

static int	in_start;	/* done must never come from inside xfer_start */
static const struct timeval now_tv = { 0, 0 };

static void
conn_close(struct conn *k)
{
	if (k->rev != NULL)
		event_free(k->rev);
	if (k->wtm != NULL)
		event_free(k->wtm);
	k->rev = k->wtm = NULL;
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
}

/* The next piece of the script, then the close (or not). */
static void
conn_write_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn		*k = arg;
	const struct script	*sc = k->s->sc;
	struct timeval		 tv = { 0, sc->gap_ms * 1000 };
	size_t			 n = k->outlen - k->off, want = n;
	ssize_t			 w = 0;

	(void)fd;
	(void)what;
	if (sc->piece > 0 && sc->random) {
		k->seed = k->seed * 1103515245u + 12345u;
		want = 1 + (k->seed >> 16) % sc->piece;
	} else if (sc->piece > 0)
		want = sc->piece;
	if (n > 0 && (w = send(k->fd, k->out + k->off, want < n ? want : n,
	    MSG_NOSIGNAL)) < 0 && errno != EAGAIN && errno != EINTR) {
		conn_close(k);		/* the client gave up (a big head) */
		return;
	}
	if (w > 0)
		k->off += (size_t)w;
	if (k->off < k->outlen)
		evtimer_add(k->wtm, &tv);
	else if (!sc->hold)
		conn_close(k);
}

/* Whole: the head and as many body bytes as its Content-Length says. */
static int
req_whole(const struct conn *k)
{
	const char	*e, *cl;

	if ((e = strstr(k->req, "\r\n\r\n")) == NULL)
		return 0;
	if ((cl = strcasestr(k->req, "\r\nContent-Length:")) == NULL || cl > e)
		return 1;
	return k->reqlen >= (size_t)(e + 4 - k->req) +
	    strtoul(cl + 17, NULL, 10);
}

static void
conn_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct conn	*k = arg;
	char		 b[4096];
	ssize_t		 n;

	(void)what;
	if ((n = recv(fd, b, sizeof b, 0)) < 0 && (errno == EAGAIN ||
	    errno == EINTR))
		return;
	if (n <= 0) {	/* the client closed (or reset) */
		k->s->neof++;
		conn_close(k);
		return;
	}
	k->req = xrealloc(k->req, k->reqlen + (size_t)n + 1);
	memcpy(k->req + k->reqlen, b, (size_t)n);
	k->reqlen += (size_t)n;
	k->req[k->reqlen] = '\0';
	if (k->out != NULL || !req_whole(k))
		return;
	if (k->s->sc->gen != NULL)
		k->out = k->own = k->s->sc->gen(k->req);
	else
		k->out = k->s->sc->resp;
	k->outlen = strlen(k->out);
	evtimer_add(k->wtm, &now_tv);
}

static void
srv_accept_cb(evutil_socket_t fd, short what, void *arg)
{
	struct srv	*s = arg;
	struct conn	*k;
	int		 c, one = 1;

	(void)what;
	while ((c = accept4(fd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		/* Each piece its own segment, for the client to read alone. */
		setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
		k = xcalloc(1, sizeof *k);
		k->s = s;
		k->fd = c;
		k->seed = 4242u + (unsigned)s->naccepted++;
		k->rev = event_new(s->base, c, EV_READ | EV_PERSIST,
		    conn_read_cb, k);
		k->wtm = evtimer_new(s->base, conn_write_cb, k);
		event_add(k->rev, NULL);
		k->next = s->conns;
		s->conns = k;
	}
}

/* A socket bound to some free loopback port. */
static int
bound_socket(int *port)
{
	struct sockaddr_in	 sin;
	socklen_t		 len = sizeof sin;
	int			 fd;

	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof sin), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &len), 0);
	*port = ntohs(sin.sin_port);
	return fd;
}

static struct srv *
srv_new(struct event_base *base, const struct script *sc)
{
	struct srv	*s = xcalloc(1, sizeof *s);

	s->base = base;
	s->sc = sc;
	s->fd = bound_socket(&s->port);
	assert_int_equal(listen(s->fd, 1024), 0);
	s->lev = event_new(base, s->fd, EV_READ | EV_PERSIST, srv_accept_cb,
	    s);
	event_add(s->lev, NULL);
	return s;
}

static void
srv_free(struct srv *s)
{
	struct conn	*k;

	while ((k = s->conns) != NULL) {
		s->conns = k->next;
		conn_close(k);
		free(k->req);
		free(k->own);
		free(k);
	}
	event_free(s->lev);
	close(s->fd);
	free(s);
}

static int
cli_data(void *arg, struct xfer *x, const char *buf, size_t len)
{
	struct cli	*c = arg;

	assert_ptr_equal(x, c->x);
	assert_int_equal(c->ndone, 0);
	assert_true(len > 0);
	c->while_paused += c->paused;
	c->buf = xrealloc(c->buf, c->len + len + 1);
	memcpy(c->buf + c->len, buf, len);
	c->len += len;
	c->buf[c->len] = '\0';
	if (c->ndata++ == 0 && c->pause_first) {
		c->paused = 1;
		xfer_pause(x, 1);
	}
	return c->fail ? -1 : 0;
}

static void
cli_done(void *arg, struct xfer *x, int rc, const char *err)
{
	struct cli	*c = arg;

	assert_false(in_start);
	assert_ptr_equal(x, c->x);
	assert_int_equal(c->ndone++, 0);
	assert_non_null(err);
	if (c->total != NULL)
		(*c->total)++;
	c->rc = rc;
	snprintf(c->err, sizeof c->err, "%s", err);
	c->status = xfer_status(x);
	snprintf(c->ctype, sizeof c->ctype, "%s", xfer_content_type(x));
	if (xfer_retry_after(x) != NULL)
		c->retry_after = xstrdup(xfer_retry_after(x));
	c->rl_ms = xfer_ratelimit_reset_ms(x);
	c->sse = xfer_is_sse(x);
	if (c->pause_in_done) {		/* harmless: nothing more comes */
		xfer_pause(x, 1);
		xfer_pause(x, 0);
	}
	c->x = NULL;
}

static const struct xfer_ops cli_ops = { cli_data, cli_done };

static void
cli_clear(struct cli *c)
{
	free(c->buf);
	free(c->seen);
	free(c->retry_after);
	memset(c, 0, sizeof *c);
}

static void
expire_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	*(int *)arg = 1;
}

/* Turn the loop until *count reaches want; 0 if ms passed first. */
static int
loop_until(struct event_base *base, const int *count, int want, int ms)
{
	struct timeval	 tv = { ms / 1000, (ms % 1000) * 1000 };
	struct event	*t;
	int		 expired = 0;

	t = evtimer_new(base, expire_cb, &expired);
	evtimer_add(t, &tv);
	while ((count == NULL || *count < want) && !expired)
		event_base_loop(base, EVLOOP_ONCE);
	event_free(t);
	return count != NULL && *count >= want;
}

static void
env_init(struct env *e, const struct script *sc, int lean)
{
	e->base = event_base_new();
	assert_non_null(e->base);
	e->srv = sc != NULL ? srv_new(e->base, sc) : NULL;
	e->loop = xfer_loop_new(e->base, lean);
}

static void
env_fini(struct env *e)
{
	xfer_loop_free(e->loop);
	if (e->srv != NULL)
		srv_free(e->srv);
	event_base_free(e->base);
}

/*
 * Start req as c: its url a path on the server, or with no server a whole
 * URL; NULL: a GET stream of /v1/stream.
 */
static void
env_start(struct env *e, const struct xfer_req *req, int lean, struct cli *c)
{
	struct xfer_req	 r = { "GET", "/v1/stream", NULL, "text/event-stream",
			    NULL, NULL, 5, 0, 0, 1 };
	char		 url[512];

	if (req != NULL)
		r = *req;
	if (e->srv != NULL) {
		c->port = e->srv->port;
		snprintf(url, sizeof url, "http://127.0.0.1:%d%s", c->port,
		    r.url);
		r.url = url;
	}
	c->lean = lean;
	in_start = 1;
	c->x = xfer_start(e->loop, &r, &cli_ops, c);
	in_start = 0;
	assert_non_null(c->x);
	assert_int_equal(xfer_is_lean(c->x), lean);
}

/* One whole transfer of req against sc (or no server) over one client. */
static void
fetch(const struct script *sc, const struct xfer_req *req, int lean,
    struct cli *c)
{
	struct env	 e;
	struct conn	*k;

	env_init(&e, sc, lean);
	env_start(&e, req, lean, c);
	assert_true(loop_until(e.base, &c->ndone, 1, 10000));
	assert_int_equal(xfer_loop_count(e.loop), 0);
	loop_until(e.base, NULL, 0, 5);		/* nothing comes after done */
	if (e.srv != NULL && (k = e.srv->conns) != NULL && k->req != NULL) {
		c->seen = xstrndup(k->req, k->reqlen);
		c->seenlen = k->reqlen;
	}
	env_fini(&e);
}

/* rc -1: any failure. Says which client on a mismatch. */
static void
expect(const struct cli *c, int rc, long status, const char *body)
{
	const char	*who = c->lean ? "lean" : "curl";
	size_t		 len = strlen(body);

	if (rc < 0 || c->rc != rc || c->len != len || (len > 0 &&
	    memcmp(c->buf, body, len) != 0))
		print_message("%s: rc %d (%s), want %d; body [%.*s], want "
		    "[%s]\n", who, c->rc, c->err, rc, (int)c->len,
		    c->buf != NULL ? c->buf : "", body);
	assert_true(rc >= 0 ? c->rc == rc : c->rc != 0);
	assert_int_equal(c->status, status);
	assert_int_equal(c->len, len);
	assert_true(len == 0 || memcmp(c->buf, body, len) == 0);
}

#define SSE_HEAD	"HTTP/1.1 200 OK\r\n" \
			"Content-Type: text/event-stream; charset=utf-8\r\n" \
			"Transfer-Encoding: chunked\r\n" \
			"\r\n"
/* Extensions, upper- and lowercase hex, a trailer section. */
#define SSE_RESP	SSE_HEAD \
			"5;ext=1\r\nevent\r\n" \
			"1A\r\n: delta\ndata: {\"t\":\"hi\"}\n\n\r\n" \
			"e;a=b;c=\"d\"\r\ndata: [DONE]\n\n\r\n" \
			"0;last\r\nX-Trailer: yes\r\nX-Other: 2\r\n\r\n"
#define SSE_BODY	"event: delta\ndata: {\"t\":\"hi\"}\n\ndata: [DONE]\n\n"
#define SSE		"text/event-stream"

/*
 * Chunked and Content-Length bodies are held open after their end: the
 * end must be the framing's, not the close.
 */
static const struct fx fixtures[] = {
	{ "sse-bytewise", { SSE_RESP, .piece = 1, .hold = 1 }, .status = 200,
	    .body = SSE_BODY, .ctype = SSE, .streamed = 1 },
	{ "sse-random-pieces", { SSE_RESP, .piece = 9, .random = 1,
	    .gap_ms = 1, .hold = 1 }, .status = 200, .body = SSE_BODY,
	    .ctype = SSE },
	{ "sse-one-write", { SSE_RESP, .hold = 1 }, .status = 200,
	    .body = SSE_BODY, .ctype = SSE },
	{ "content-length", { "HTTP/1.1 200 OK\r\n"
	    "Content-Type: Application/JSON\r\nContent-Length: 16\r\n\r\n"
	    "{\"id\":\"resp_1\"}\n", .piece = 3, .gap_ms = 1, .hold = 1 },
	    .status = 200, .body = "{\"id\":\"resp_1\"}\n",
	    .ctype = "application/json" },
	{ "close-delimited", { "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n"
	    "until the end\n", .piece = 4, .gap_ms = 1 }, .status = 200,
	    .body = "until the end\n", .ctype = "" },
	{ "closed-mid-chunk", { SSE_HEAD "5\r\nhello\r\n10\r\nonly-part",
	    .piece = 6, .gap_ms = 1 }, .rc = CURLE_PARTIAL_FILE, .status = 200,
	    .body = "helloonly-part", .ctype = SSE },
	{ "closed-mid-length", { "HTTP/1.1 200 OK\r\nContent-Length: 20\r\n"
	    "\r\n0123456789", .piece = 6, .gap_ms = 1 },
	    .rc = CURLE_PARTIAL_FILE, .status = 200, .body = "0123456789" },
	{ "got-nothing", { .resp = "" }, .rc = CURLE_GOT_NOTHING, .body = "" },
	{ "rate-limited", { "HTTP/1.1 429 Too Many Requests\r\n"
	    "Retry-After: 7\r\nx-ratelimit-reset-requests: 2s\r\n"
	    "X-RateLimit-Reset-Tokens: 250ms\r\n"
	    "Content-Type: application/json\r\nContent-Length: 31\r\n\r\n"
	    "{\"error\":{\"type\":\"rate_limit\"}}", .piece = 5, .hold = 1 },
	    .status = 429, .body = "{\"error\":{\"type\":\"rate_limit\"}}",
	    .ctype = "application/json", .retry_after = "7", .rl_ms = 2000 },
	/* The interim response's headers go with it. */
	{ "100-continue", { "HTTP/1.1 100 Continue\r\nRetry-After: 3\r\n\r\n"
	    "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", .piece = 4,
	    .hold = 1 }, .status = 200, .body = "hello", .ctype = "" },
	{ "garbage-status", { "FOO\r\n\r\n", .hold = 1 }, .rc = -1,
	    .body = "" },
	{ "bad-chunk-size", { SSE_HEAD "zz\r\nhello\r\n0\r\n\r\n",
	    .hold = 1 }, .rc = -1, .status = 200, .body = "" },
	{ "data-refused", { SSE_HEAD "5\r\nhello\r\n5\r\nworld\r\n0\r\n\r\n",
	    .hold = 1 }, .rc = CURLE_WRITE_ERROR,
	    .status = 200, .body = "hello", .fail = 1 },
};

static void
test_fixture(void **state)
{
	const struct tcase	*t = *state;
	const struct fx		*f = t->fx;
	struct cli		 c = { 0 };

	c.fail = f->fail;
	fetch(&f->sc, NULL, t->lean, &c);
	expect(&c, f->rc, f->status, f->body);
	if (f->ctype != NULL) {
		assert_string_equal(c.ctype, f->ctype);
		assert_int_equal(c.sse, strcmp(f->ctype, SSE) == 0);
	}
	if (f->retry_after != NULL) {
		assert_non_null(c.retry_after);
		assert_string_equal(c.retry_after, f->retry_after);
	} else
		assert_null(c.retry_after);
	assert_int_equal(c.rl_ms, f->rl_ms != 0 ? f->rl_ms : -1);
	if (f->streamed)	/* a delivery a byte, or nearly */
		assert_true(c.ndata >= 20);
	if (f->fail)
		assert_int_equal(c.ndata, 1);
	cli_clear(&c);
}

static void
test_connect_failures(void **state)
{
	const struct tcase	*t = *state;
	struct xfer_req		 r = { "GET", NULL, NULL, NULL, NULL, NULL, 5,
				    0, 0, 1 };
	struct cli		 c = { 0 };
	char			 url[64];
	int			 port;

	close(bound_socket(&port));	/* nothing listens there now */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/", port);
	r.url = url;
	fetch(NULL, &r, t->lean, &c);
	expect(&c, CURLE_COULDNT_CONNECT, 0, "");
	cli_clear(&c);
	r.url = "http://nonexistent.invalid:1/";
	fetch(NULL, &r, t->lean, &c);
	expect(&c, CURLE_COULDNT_RESOLVE_HOST, 0, "");
	cli_clear(&c);
}

/* A head of over 200 KB: one line, or many short ones. */
static void
test_big_head(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { NULL, .piece = 16384, .hold = 1 };
	struct cli		 c = { 0 };
	size_t			 n, cap = 400 * 1024;
	char			*b = xmalloc(cap);
	int			 i, one;

	for (one = 1; one >= 0; one--) {
		n = (size_t)snprintf(b, cap, "HTTP/1.1 200 OK\r\nX-Big: ");
		for (i = 0; i < 3100; i++)
			n += (size_t)snprintf(b + n, cap - n, one ? "%0100d" :
			    "\r\nX-Pad-%04d: %088d", i, i);
		snprintf(b + n, cap - n, "\r\nContent-Length: 2\r\n\r\nok");
		sc.resp = b;
		fetch(&sc, NULL, t->lean, &c);
		expect(&c, -1, c.status, "");
		cli_clear(&c);
	}
	free(b);
}

/* "\r\nline\r\n" is in the request's head. */
static void
expect_header(const struct cli *c, const char *line)
{
	char		 want[256];
	const char	*p, *e = strstr(c->seen, "\r\n\r\n");

	snprintf(want, sizeof want, "\r\n%s\r\n", line);
	if ((p = strstr(c->seen, want)) == NULL || p > e)
		print_message("%s: no \"%s\" in:\n%s\n", c->lean ? "lean" :
		    "curl", line, c->seen);
	assert_true(p != NULL && p < e);
}

static void
test_request(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { "HTTP/1.1 200 OK\r\nContent-Length: 2"
				    "\r\n\r\nok", .hold = 1 };
	struct xfer_req		 r = { "POST", "/v1/responses?x=1",
				    "{\"a\":1}", SSE, "sk-test", "run_1", 5,
				    0, 0, 1 };
	struct cli		 c = { 0 };
	char			 host[64];
	const char		*e, *line;

	fetch(&sc, &r, t->lean, &c);
	expect(&c, CURLE_OK, 200, "ok");
	line = "POST /v1/responses?x=1 HTTP/1.1\r\n";
	assert_true(strncmp(c.seen, line, strlen(line)) == 0);
	snprintf(host, sizeof host, "Host: 127.0.0.1:%d", c.port);
	expect_header(&c, host);
	expect_header(&c, "Authorization: Bearer sk-test");
	expect_header(&c, "Idempotency-Key: run_1");
	expect_header(&c, "Accept: text/event-stream");
	expect_header(&c, "Content-Type: application/json");
	expect_header(&c, "Content-Length: 7");
	assert_null(strcasestr(c.seen, "\r\nExpect:"));
	e = strstr(c.seen, "\r\n\r\n") + 4;
	assert_int_equal(c.seenlen, (size_t)(e - c.seen) + 7);
	assert_string_equal(e, "{\"a\":1}");
	cli_clear(&c);

	r.method = "GET";
	r.url = "/v1/responses/resp_1";
	r.body = r.idempotency_key = NULL;
	fetch(&sc, &r, t->lean, &c);
	expect(&c, CURLE_OK, 200, "ok");
	line = "GET /v1/responses/resp_1 HTTP/1.1\r\n";
	assert_true(strncmp(c.seen, line, strlen(line)) == 0);
	expect_header(&c, "Authorization: Bearer sk-test");
	assert_null(strcasestr(c.seen, "\r\nContent-Type:"));
	assert_null(strcasestr(c.seen, "\r\nContent-Length:"));
	assert_null(strcasestr(c.seen, "\r\nIdempotency-Key:"));
	assert_int_equal(c.seenlen, (size_t)(strstr(c.seen, "\r\n\r\n") + 4 -
	    c.seen));
	cli_clear(&c);
}

/* From a timer, outside any callback: go on if paused, else abort. */
static void
act_cb(evutil_socket_t fd, short what, void *arg)
{
	struct cli	*c = arg;

	(void)fd;
	(void)what;
	if (c->paused) {
		c->paused = 0;		/* going on may deliver at once */
		xfer_pause(c->x, 0);
	} else {
		xfer_abort(c->x);
		c->x = NULL;
	}
}

/* Start a stream of sc; return at its first delivery. */
static void
begin(struct env *e, const struct script *sc, int lean, struct cli *c)
{
	env_init(e, sc, lean);
	env_start(e, NULL, lean, c);
	assert_true(loop_until(e->base, &c->ndata, 1, 5000));
}

/* Paused at the first delivery, for 200 ms; then a timer goes on. */
static void
test_pause(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { SSE_RESP, 8, 0, 5, 1, NULL };
	struct cli		 c = { .pause_first = 1 };
	struct env		 e;
	struct event		*ev;
	size_t			 first;

	begin(&e, &sc, t->lean, &c);
	first = c.len;
	assert_true(first > 0 && first < strlen(SSE_BODY));
	loop_until(e.base, NULL, 0, 200);
	assert_int_equal(e.srv->conns->off, strlen(SSE_RESP));	/* all sent */
	assert_int_equal(c.len, first);
	assert_int_equal(c.ndone, 0);
	evtimer_add((ev = evtimer_new(e.base, act_cb, &c)), &now_tv);
	assert_true(loop_until(e.base, &c.ndone, 1, 5000));
	assert_int_equal(c.while_paused, 0);
	expect(&c, CURLE_OK, 200, SSE_BODY);
	event_free(ev);
	env_fini(&e);
	cli_clear(&c);
}

/* Aborted from a timer in a stream held open: no done, a close. */
static void
test_abort(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { SSE_HEAD "5\r\nhello\r\n", .hold = 1 };
	struct cli		 c = { 0 };
	struct env		 e;
	struct event		*ev;
	struct timeval		 tv = { 0, 20000 };

	begin(&e, &sc, t->lean, &c);
	assert_int_equal(xfer_loop_count(e.loop), 1);
	evtimer_add((ev = evtimer_new(e.base, act_cb, &c)), &tv);
	assert_true(loop_until(e.base, &e.srv->neof, 1, 5000));
	assert_null(c.x);
	assert_int_equal(xfer_loop_count(e.loop), 0);
	loop_until(e.base, NULL, 0, 50);
	assert_int_equal(c.ndone, 0);
	assert_string_equal(c.buf, "hello");
	event_free(ev);
	env_fini(&e);
	cli_clear(&c);
}

/*
 * Lean only: libcurl's low-speed check averages over about 5 s, so its
 * 1 s idle timeout fires after about 6 s.
 */
static void
test_idle_timeout(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { SSE_HEAD "5\r\nhello\r\n", .hold = 1 };
	struct xfer_req		 r = { "GET", "/v1/stream", NULL, NULL, NULL,
				    NULL, 5, 1, 0, 1 };
	struct cli		 c = { 0 };
	int64_t			 ms = util_mono_ms();

	fetch(&sc, &r, t->lean, &c);
	ms = util_mono_ms() - ms;
	expect(&c, CURLE_OPERATION_TIMEDOUT, 200, "hello");
	assert_true(ms >= 950 && ms <= 3000);
	cli_clear(&c);
}

/*
 * The owner pauses and goes on from inside done, of a stream that ended
 * and of one that failed: nothing happens, and nothing more comes.
 */
static void
test_pause_in_done(void **state)
{
	const struct tcase	*t = *state;
	struct script		 ok = { SSE_RESP, 8, 0, 1, 1, NULL };
	struct script		 cut = { SSE_HEAD "5\r\nhello\r\n10\r\npart",
				    .piece = 6, .gap_ms = 1 };
	struct cli		 c = { .pause_in_done = 1 };

	fetch(&ok, NULL, t->lean, &c);
	expect(&c, CURLE_OK, 200, SSE_BODY);
	cli_clear(&c);
	c.pause_in_done = 1;
	fetch(&cut, NULL, t->lean, &c);
	expect(&c, CURLE_PARTIAL_FILE, 200, "hellopart");
	cli_clear(&c);
}

/*
 * Lean only (libcurl does not honour a pause asked before the response
 * began, and xfer.h says so; the worker pauses only after a delivery):
 * paused before it connected, for longer than its 1 s idle timeout. A
 * paused stream is not idle, and nothing is delivered until it goes on;
 * then all of it, and it ends well.
 */
static void
test_pause_before_connect(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { SSE_RESP, 8, 0, 1, 1, NULL };
	struct xfer_req		 r = { "GET", "/v1/stream", NULL, SSE, NULL,
				    NULL, 5, 1, 0, 1 };
	struct cli		 c = { 0 };
	struct env		 e;

	env_init(&e, &sc, t->lean);
	env_start(&e, &r, t->lean, &c);
	c.paused = 1;
	xfer_pause(c.x, 1);
	loop_until(e.base, NULL, 0, 1500);
	assert_int_equal(c.ndata, 0);
	assert_int_equal(c.ndone, 0);
	c.paused = 0;
	xfer_pause(c.x, 0);
	assert_true(loop_until(e.base, &c.ndone, 1, 5000));
	assert_int_equal(c.while_paused, 0);
	expect(&c, CURLE_OK, 200, SSE_BODY);
	env_fini(&e);
	cli_clear(&c);
}

/*
 * Lean only: a transfer with no socket (the fuzz target's), its response
 * fed by hand. The owner pauses at the first delivery: the feed stops
 * there, and after going on the rest is taken and the stream ends well.
 */
static void
test_pause_detached(void **state)
{
	struct cli		 c = { .pause_first = 1, .lean = 1 };
	struct event_base	*base = event_base_new();
	struct xfer_loop	*l = xfer_loop_new(base, 1);
	const char		*resp = SSE_RESP;
	size_t			 n = strlen(resp);
	ssize_t			 t;

	(void)state;
	c.x = h1_detached(l, &cli_ops, &c);
	t = h1_feed(c.x, resp, n);
	assert_true(t > 0 && (size_t)t < n);
	assert_int_equal(c.ndata, 1);
	assert_int_equal(c.ndone, 0);
	c.paused = 0;
	xfer_pause(c.x, 0);
	assert_int_equal(h1_feed(c.x, resp + t, n - (size_t)t), -1);	/* ended */
	assert_int_equal(c.ndone, 1);
	assert_int_equal(xfer_loop_count(l), 0);
	expect(&c, CURLE_OK, 200, SSE_BODY);
	cli_clear(&c);
	xfer_loop_free(l);
	event_base_free(base);
}

/* Stream i's answer, made from the request's path; its chunks' data. */
static char *
many_gen(const char *req)
{
	char	*out;
	int	 i = -1;

	assert_int_equal(sscanf(req, "GET /n/%d ", &i), 1);
	xasprintf(&out, SSE_HEAD "14;i=1\r\ndata: stream %05d\n\n\r\n"
	    "11\r\ndata: end %05d\n\n\r\n0\r\n\r\n", i, i);
	return out;
}

static void
test_many(void **state)
{
	const struct tcase	*t = *state;
	struct script		 sc = { NULL, 16, 1, 1, 1, many_gen };
	struct xfer_req		 r = { "GET", NULL, NULL, SSE, NULL, NULL, 5,
				    10, 0, 1 };
	struct cli		*c = xcalloc(NMANY, sizeof *c);
	struct env		 e;
	char			 path[32], want[64];
	int			 i, total = 0;

	env_init(&e, &sc, t->lean);
	for (i = 0; i < NMANY; i++) {
		snprintf(path, sizeof path, "/n/%d", i);
		r.url = path;
		c[i].total = &total;
		env_start(&e, &r, t->lean, &c[i]);
	}
	assert_int_equal(xfer_loop_count(e.loop), NMANY);
	assert_true(loop_until(e.base, &total, NMANY, 15000));
	assert_int_equal(xfer_loop_count(e.loop), 0);
	assert_int_equal(e.srv->naccepted, NMANY);
	for (i = 0; i < NMANY; i++) {
		snprintf(want, sizeof want, "data: stream %05d\n\ndata: end "
		    "%05d\n\n", i, i);
		expect(&c[i], CURLE_OK, 200, want);
		cli_clear(&c[i]);
	}
	env_fini(&e);
	free(c);
}

static const struct {
	const char		*name;
	CMUnitTestFunction	 fn;
	int			 curl;	/* over libcurl too */
} others[] = {
	{ "connect-failures", test_connect_failures, 1 },
	{ "big-head", test_big_head, 1 },
	{ "request", test_request, 1 },
	{ "pause", test_pause, 1 },
	{ "abort", test_abort, 1 },
	{ "pause-in-done", test_pause_in_done, 1 },
	{ "pause-before-connect", test_pause_before_connect, 0 },
	{ "pause-detached", test_pause_detached, 0 },
	{ "idle-timeout", test_idle_timeout, 0 },
	{ "many-streams", test_many, 0 },
};

int
main(void)
{
	static struct tcase	 cases[2 * (NELEM(fixtures) + NELEM(others))];
	static struct CMUnitTest tests[NELEM(cases)];
	struct tcase		*t;
	size_t			 i, n = 0, nfx = NELEM(fixtures);
	int			 lean, rc;

	for (i = 0; i < nfx + NELEM(others); i++)
		for (lean = 1; lean >= 0; lean--) {
			if (i >= nfx && !lean && !others[i - nfx].curl)
				continue;
			t = &cases[n];
			t->fx = i < nfx ? &fixtures[i] : NULL;
			t->lean = lean;
			snprintf(t->name, sizeof t->name, "%s %s", i < nfx ?
			    fixtures[i].name : others[i - nfx].name,
			    lean ? "lean" : "curl");
			tests[n].name = t->name;
			tests[n].test_func = i < nfx ? test_fixture :
			    others[i - nfx].fn;
			tests[n++].initial_state = t;
		}
	/* Both clients go straight to the test server. */
	unsetenv("http_proxy");
	unsetenv("all_proxy");
	unsetenv("ALL_PROXY");
	unsetenv("no_proxy");
	unsetenv("NO_PROXY");
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	rc = _cmocka_run_group_tests("test_xfer", tests, n, NULL, NULL);
	curl_global_cleanup();
	return rc;
}
