/*
 * The API's request guard: frames HTTP/1.x requests the way evhttp 2.1
 * does, passes the good ones through unchanged and replaces the first bad
 * one with a refusal request the API handler answers in JSON. See
 * reqguard.h.
 *
 * Framing follows evhttp so the two never disagree on where a request
 * ends: HEAD has no body; every other accepted method has the body its
 * Content-Length or chunked Transfer-Encoding says; chunk-size lines are
 * hex digits optionally followed by a space and anything; empty lines in
 * place of a chunk size are skipped. Where evhttp is more lenient (header
 * folding, a request with both Content-Length and Transfer-Encoding,
 * repeated Content-Length) the guard refuses, which is safe: a refused
 * request is never passed.
 */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "reqguard.h"
#include "xmalloc.h"

#define CHUNK_LINE_MAX	1024
#define HANDOFF_MAX	(64 * 1024)
/*
 * A body over --max-body but under this is read and dropped before the
 * 413: closing a socket with unread bytes resets it, and a client still
 * sending (undici, the OpenAI SDKs) then loses the answer.
 */
#define SWALLOW_MAX	(64ULL * 1024 * 1024)
#define CONTINUE_100	"HTTP/1.1 100 Continue\r\n\r\n"

enum rg_state {
	RG_HEAD,	/* looking for the end of a header block */
	RG_BODY,	/* holding a request until its Content-Length body */
	RG_CHUNKED,	/* holding a chunked request until its end */
	RG_SWALLOW,	/* an oversize body: drop it, then refuse */
	RG_DISCARD	/* refused: drop everything that follows */
};

enum rg_chunk {
	CH_SIZE,	/* a chunk-size line */
	CH_DATA,	/* left bytes of chunk data */
	CH_TRAILER	/* trailer lines up to an empty one */
};

struct reqguard {
	size_t		 max_header;
	size_t		 max_body;
	char		 token[REQGUARD_TOKEN_LEN + 1];
	struct bufferevent *under;	/* the socket */
	struct bufferevent *bev;	/* the filter evhttp uses */
	struct event	*flush_ev;
	int		 flushing;	/* inside flush_cb */
	enum rg_state	 state;
	enum rg_chunk	 chunk;
	size_t		 scanned;	/* bytes of src seen or held */
	size_t		 head_len;	/* RG_BODY, RG_CHUNKED: head size */
	uint64_t	 left;		/* RG_BODY: body size; CH_DATA: to go */
	struct event	*timer_ev;	/* a request's time to arrive */
	int		 timeout_s;
	uint64_t	 body;		/* RG_CHUNKED: data so far */
	int		 sw_status;	/* RG_SWALLOW: the refusal to come */
	const char	*sw_code;
	char		 sw_why[256];
};

/* What parsing a header block found. */
struct rg_head {
	int		 status;	/* 0 if fine, else the HTTP status */
	const char	*code;
	char		 why[256];
	int		 is_head;
	int		 chunked;
	int		 expect_continue;
	size_t		 expect_at;	/* offset of the Expect name */
	uint64_t	 length;
	int		 has_length;
};

struct reqguard *
reqguard_new(size_t max_header, size_t max_body, const char *token,
    struct bufferevent *under)
{
	struct reqguard	*g = xcalloc(1, sizeof *g);

	g->max_header = max_header;
	g->max_body = max_body;
	snprintf(g->token, sizeof g->token, "%s", token);
	g->under = under;
	g->state = RG_HEAD;
	return g;
}

static void	timer_cb(evutil_socket_t, short, void *);

/*
 * Whether evhttp still owns the connection. bufferevent_free clears the
 * callbacks at once but the memory goes only when its finalizer runs, so
 * the guard's events can fire in between; touching the bufferevent then
 * would re-add its timers to a block about to be freed. evhttp always
 * keeps an event callback on a live connection.
 */
static int
bev_alive(struct reqguard *g)
{
	bufferevent_event_cb	 ecb = NULL;

	if (g->bev == NULL)
		return 0;
	bufferevent_getcb(g->bev, NULL, NULL, &ecb, NULL);
	return ecb != NULL;
}

/*
 * Output is written only from here, on a loop turn of its own. libevent
 * 2.1 runs the output filter when bytes are added and when the socket has
 * drained, and in both cases, once the filter empties the output, calls
 * evhttp's "response sent" callback without holding a reference: evhttp
 * may free the connection there (Connection: close), after which libevent
 * re-arms the filter's write timer on the freed bufferevent (a timer in
 * freed memory; valgrind saw it after a big answer to a slow reader). It
 * also does not run the filter when writing is enabled, and evhttp adds a
 * response before it enables writing. bufferevent_flush holds a reference
 * across all of it, and by the next loop turn evhttp has enabled writing.
 */
static void
flush_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reqguard	*g = arg;

	(void)fd;
	(void)what;
	if (!bev_alive(g))
		return;
	g->flushing = 1;
	bufferevent_flush(g->bev, EV_WRITE, BEV_NORMAL);
	g->flushing = 0;
}

static void
flush_soon(struct reqguard *g)
{
	if (g->flush_ev != NULL && !event_pending(g->flush_ev, EV_TIMEOUT,
	    NULL))
		event_active(g->flush_ev, EV_TIMEOUT, 0);
}

static void
output_added(struct evbuffer *b, const struct evbuffer_cb_info *info,
    void *arg)
{
	(void)b;
	if (info->n_added > 0)
		flush_soon(arg);
}

int
reqguard_attach(struct reqguard *g, struct bufferevent *bev, int timeout_s)
{
	g->bev = bev;
	g->timeout_s = timeout_s;
	g->flush_ev = event_new(bufferevent_get_base(bev), -1, 0, flush_cb,
	    g);
	if (timeout_s > 0)
		g->timer_ev = evtimer_new(bufferevent_get_base(bev), timer_cb,
		    g);
	if (g->flush_ev == NULL || (timeout_s > 0 && g->timer_ev == NULL) ||
	    evbuffer_add_cb(bufferevent_get_output(bev), output_added,
	    g) == NULL)
		return -1;
	return 0;
}

void
reqguard_free(struct reqguard *g)
{
	if (g == NULL)
		return;
	if (g->flush_ev != NULL)
		event_free(g->flush_ev);
	if (g->timer_ev != NULL)
		event_free(g->timer_ev);
	free(g);
}

static int
is_tchar(int c)
{
	return isalnum(c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) !=
	    NULL);
}

/* Refuse with why = before, at most 63 printable bytes of arg, after. */
static void
head_fail(struct rg_head *h, int status, const char *code, const char *before,
    const char *arg, size_t arglen, const char *after)
{
	char	 clean[64];
	size_t	 i, n;

	n = arglen < sizeof clean - 1 ? arglen : sizeof clean - 1;
	for (i = 0; i < n; i++)
		clean[i] = isprint((unsigned char)arg[i]) ? arg[i] : '?';
	clean[n] = '\0';
	h->status = status;
	h->code = code;
	snprintf(h->why, sizeof h->why, "%s%s%s", before, clean, after);
}

/* Trim spaces and tabs around [*p, *p + *n). */
static void
trim(const char **p, size_t *n)
{
	while (*n > 0 && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*n)--;
	}
	while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
		(*n)--;
}

static int
method_known(const char *m, size_t n, int *is_head)
{
	static const char *const ok[] = { "GET", "POST", "PUT", "DELETE",
	    "PATCH", "OPTIONS", "HEAD" };
	size_t	 i;

	for (i = 0; i < sizeof ok / sizeof ok[0]; i++)
		if (strlen(ok[i]) == n && memcmp(ok[i], m, n) == 0) {
			*is_head = i == 6;
			return 1;
		}
	return 0;
}

/* One header line of a request: note what framing needs. */
static void
head_field(struct rg_head *h, const char *line, size_t n, size_t max_body,
    size_t at)
{
	const char	*colon, *v;
	size_t		 nl, vl, i;
	uint64_t	 len = 0;

	if (line[0] == ' ' || line[0] == '\t') {
		head_fail(h, 400, "bad_request",
		    "folded header lines are not accepted: \"", line, n, "\"");
		return;
	}
	colon = memchr(line, ':', n);
	if (colon == NULL || colon == line) {
		head_fail(h, 400, "bad_request",
		    "malformed header line \"", line, n, "\"");
		return;
	}
	nl = (size_t)(colon - line);
	for (i = 0; i < nl; i++)
		if (!is_tchar((unsigned char)line[i])) {
			head_fail(h, 400, "bad_request",
			    "malformed header name \"", line, nl, "\"");
			return;
		}
	v = colon + 1;
	vl = n - nl - 1;
	trim(&v, &vl);
	if (nl == 14 && strncasecmp(line, "Content-Length", 14) == 0) {
		if (vl == 0 || vl > 19) {
			head_fail(h, 400, "bad_request",
			    "bad Content-Length \"", v, vl, "\"");
			return;
		}
		for (i = 0; i < vl; i++) {
			if (!isdigit((unsigned char)v[i])) {
				head_fail(h, 400, "bad_request",
				    "bad Content-Length \"", v, vl, "\"");
				return;
			}
			len = len * 10 + (uint64_t)(v[i] - '0');
		}
		if (h->has_length && len != h->length) {
			head_fail(h, 400, "bad_request",
			    "two different Content-Length headers", "", 0, "");
			return;
		}
		h->has_length = 1;
		h->length = len;
		if (len > max_body) {
			h->status = 413;
			h->code = "payload_too_large";
			snprintf(h->why, sizeof h->why, "request body of %llu "
			    "bytes is over the limit of %zu (--max-body)",
			    (unsigned long long)len, max_body);
		}
	} else if (nl == 17 && strncasecmp(line, "Transfer-Encoding",
	    17) == 0) {
		if (h->chunked) {
			head_fail(h, 400, "bad_request",
			    "two Transfer-Encoding headers", "", 0, "");
			return;
		}
		if (vl != 7 || strncasecmp(v, "chunked", 7) != 0) {
			head_fail(h, 501, "not_implemented",
			    "transfer coding \"", v, vl, "\" is not "
			    "supported; send chunked or a Content-Length");
			return;
		}
		h->chunked = 1;
	} else if (nl == 6 && strncasecmp(line, "Expect", 6) == 0) {
		if (vl != 12 || strncasecmp(v, "100-continue", 12) != 0) {
			head_fail(h, 417, "expectation_failed",
			    "cannot meet Expect: \"", v, vl, "\"");
			return;
		}
		h->expect_continue = 1;
		h->expect_at = at;
	}
}

/* Parse the header block buf[0..len), which ends with its empty line. */
static void
head_parse(struct rg_head *h, const char *buf, size_t len, size_t max_body)
{
	const char	*p = buf, *end = buf + len, *nl, *sp1, *sp2, *ver;
	size_t		 n, i;
	int		 first = 1;

	memset(h, 0, sizeof *h);
	while (p < end && h->status == 0) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		n = (size_t)(nl - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;		/* the empty line: the end */
		if (memchr(p, '\0', n) != NULL) {
			head_fail(h, 400, "bad_request",
			    "NUL byte in the request head", "", 0, "");
			return;
		}
		if (!first) {
			head_field(h, p, n, max_body, (size_t)(p - buf));
			p = nl + 1;
			continue;
		}
		/* METHOD SP request-target SP HTTP/1.x */
		first = 0;
		sp1 = memchr(p, ' ', n);
		sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(p + n -
		    sp1 - 1)) : NULL;
		if (sp1 == NULL || sp2 == NULL || sp1 == p || sp2 == sp1 + 1) {
			head_fail(h, 400, "bad_request",
			    "malformed request line \"", p, n, "\"");
			return;
		}
		for (i = 0; p + i < sp1; i++)
			if (!is_tchar((unsigned char)p[i])) {
				head_fail(h, 400, "bad_request",
				    "malformed request line \"", p, n, "\"");
				return;
			}
		for (i = 1; sp1 + i < sp2; i++)
			if ((unsigned char)sp1[i] <= ' ' ||
			    (unsigned char)sp1[i] == 0x7f) {
				head_fail(h, 400, "bad_request",
				    "malformed request line \"", p, n, "\"");
				return;
			}
		ver = sp2 + 1;
		if ((size_t)(p + n - ver) != 8 || (memcmp(ver, "HTTP/1.1",
		    8) != 0 && memcmp(ver, "HTTP/1.0", 8) != 0)) {
			if ((size_t)(p + n - ver) >= 5 && memcmp(ver, "HTTP/",
			    5) == 0)
				head_fail(h, 505, "http_version_not_supported",
				    "HTTP version \"",
				    ver, (size_t)(p + n - ver), "\" is not "
				    "supported; use HTTP/1.1");
			else
				head_fail(h, 400, "bad_request",
				    "malformed request line \"", p, n, "\"");
			return;
		}
		if (!method_known(p, (size_t)(sp1 - p), &h->is_head)) {
			head_fail(h, 501, "not_implemented",
			    "method \"", p, (size_t)(sp1 - p), "\" is not "
			    "supported");
			return;
		}
		if (sp1[1] != '/' && !(sp2 - sp1 == 2 && sp1[1] == '*')) {
			head_fail(h, 400, "bad_request",
			    "the request target must be a path: \"",
			    sp1 + 1, (size_t)(sp2 - sp1 - 1), "\"");
			return;
		}
		p = nl + 1;
	}
	if (h->status != 0)
		return;
	if (first) {
		head_fail(h, 400, "bad_request",
		    "empty request", "", 0, "");
		return;
	}
	if (h->chunked && h->has_length) {
		head_fail(h, 400, "bad_request",
		    "both Content-Length and Transfer-Encoding", "", 0, "");
		return;
	}
	if (h->is_head && (h->chunked || h->length > 0))
		head_fail(h, 400, "bad_request",
		    "a HEAD request has no body", "", 0, "");
}

/* Replace the rest of the connection's input with a refusal request. */
static void
refuse(struct reqguard *g, struct evbuffer *src, struct evbuffer *dst,
    int status, const char *code, const char *why)
{
	char	body[512];
	int	n;

	n = snprintf(body, sizeof body, "%d %s %s", status, code, why);
	if (n < 0 || (size_t)n >= sizeof body)
		n = (int)strlen(body);
	evbuffer_drain(src, evbuffer_get_length(src));
	evbuffer_add_printf(dst, "POST " REQGUARD_PATH " HTTP/1.1\r\n"
	    REQGUARD_HEADER ": %s\r\nContent-Length: %d\r\n"
	    "Connection: close\r\n\r\n", g->token, n);
	evbuffer_add(dst, body, (size_t)n);
	g->state = RG_DISCARD;
}

/*
 * Find the end of the header block in src, searching from g->scanned.
 * Its length, or 0 if it is not all there yet.
 */
static size_t
head_end(struct reqguard *g, struct evbuffer *src)
{
	struct evbuffer_ptr	 at, a, b;
	size_t			 len = evbuffer_get_length(src), from;

	from = g->scanned >= 2 ? g->scanned - 2 : 0;
	if (evbuffer_ptr_set(src, &at, from, EVBUFFER_PTR_SET) != 0)
		return 0;
	a = evbuffer_search(src, "\n\n", 2, &at);
	b = evbuffer_search(src, "\n\r\n", 3, &at);
	g->scanned = len;
	if (a.pos == -1 && b.pos == -1)
		return 0;
	if (b.pos == -1 || (a.pos != -1 && a.pos < b.pos))
		return (size_t)a.pos + 2;
	return (size_t)b.pos + 3;
}

/*
 * One line of src starting at offset off, without its "\r\n": copied to
 * line (NUL-terminated, at most CHUNK_LINE_MAX bytes). Its length with the
 * newline in *used; -1 if no full line yet, -2 if it is too long.
 */
static int
line_at(struct evbuffer *src, size_t off, char *line, size_t *used)
{
	struct evbuffer_ptr	 at, nl;
	size_t			 n;

	if (evbuffer_ptr_set(src, &at, off, EVBUFFER_PTR_SET) != 0)
		return -1;
	nl = evbuffer_search(src, "\n", 1, &at);
	if (nl.pos == -1)
		return evbuffer_get_length(src) - off > CHUNK_LINE_MAX ? -2 :
		    -1;
	n = (size_t)nl.pos - off;
	if (n > CHUNK_LINE_MAX)
		return -2;
	evbuffer_copyout_from(src, &at, line, n);
	line[n] = '\0';
	*used = n + 1;
	if (n > 0 && line[n - 1] == '\r')
		line[n - 1] = '\0';
	return 0;
}

/* Advance a held chunked request. 1: done (passed), 0: need more. */
static int
chunked_step(struct reqguard *g, struct evbuffer *src, struct evbuffer *dst)
{
	char		 line[CHUNK_LINE_MAX + 1];
	size_t		 used, len, i, avail;
	uint64_t	 n;
	int		 r;

	for (;;) {
		len = evbuffer_get_length(src);
		if (g->chunk == CH_DATA) {
			avail = len - g->scanned;
			if (avail < g->left) {
				g->scanned += avail;
				g->left -= avail;
				return 0;
			}
			g->scanned += (size_t)g->left;
			g->left = 0;
			g->chunk = CH_SIZE;
			continue;
		}
		if ((r = line_at(src, g->scanned, line, &used)) == -1)
			return 0;
		if (r == -2) {
			refuse(g, src, dst, 400, "bad_request", g->chunk ==
			    CH_SIZE ? "chunk-size line too long" :
			    "trailer line too long");
			return 1;
		}
		g->scanned += used;
		if (g->chunk == CH_TRAILER) {
			if (line[0] == '\0') {
				evbuffer_remove_buffer(src, dst, g->scanned);
				g->state = RG_HEAD;
				g->scanned = 0;
				return 1;
			}
			if (strchr(line, ':') == NULL || line[0] == ' ' ||
			    line[0] == '\t') {
				refuse(g, src, dst, 400, "bad_request",
				    "malformed trailer line");
				return 1;
			}
		}
		/*
		 * Bound what framing (1-byte chunks, endless trailers or
		 * blank lines) can make the guard hold.
		 */
		if (g->scanned - g->head_len > 2 * g->max_body +
		    g->max_header) {
			refuse(g, src, dst, 413, "payload_too_large",
			    "chunked request framing too large");
			return 1;
		}
		if (g->chunk == CH_TRAILER || line[0] == '\0')
			continue;	/* a trailer, or the CRLF after data */
		n = 0;
		for (i = 0; isxdigit((unsigned char)line[i]); i++) {
			if (i == 15) {
				refuse(g, src, dst, 413, "payload_too_large",
				    "chunk size too large");
				return 1;
			}
			n = n * 16 + (uint64_t)(isdigit((unsigned char)line[i])
			    ? line[i] - '0' : (tolower((unsigned char)line[i])
			    - 'a' + 10));
		}
		if (i == 0 || (line[i] != '\0' && line[i] != ' ')) {
			refuse(g, src, dst, 400, "bad_request", "malformed "
			    "chunk-size line (chunk extensions are not "
			    "accepted)");
			return 1;
		}
		if (n > g->max_body - g->body) {
			char	why[128];

			snprintf(why, sizeof why, "chunked request body over "
			    "the limit of %zu bytes (--max-body)", g->max_body);
			refuse(g, src, dst, 413, "payload_too_large", why);
			return 1;
		}
		g->body += n;
		if (n == 0)
			g->chunk = CH_TRAILER;
		else {
			g->chunk = CH_DATA;
			g->left = n;
		}
	}
}

/*
 * The end of a filter call: a request partly received has --api-timeout
 * seconds from its first byte to arrive whole; evhttp's own idle timeout
 * on the connection is pushed one second later so that the guard's 408
 * comes first.
 */
static enum bufferevent_filter_result
done(struct reqguard *g, struct evbuffer *src, int passed)
{
	struct timeval	 tv, later;

	if (g->timer_ev != NULL) {
		if (g->state == RG_DISCARD || (evbuffer_get_length(src) ==
		    0 && g->state != RG_SWALLOW))
			evtimer_del(g->timer_ev);
		else if (!evtimer_pending(g->timer_ev, NULL)) {
			tv.tv_sec = g->timeout_s;
			tv.tv_usec = 0;
			later.tv_sec = g->timeout_s + 1;
			later.tv_usec = 0;
			evtimer_add(g->timer_ev, &tv);
			bufferevent_set_timeouts(g->bev, &later, &later);
		}
	}
	return passed ? BEV_OK : BEV_NEED_MORE;
}

/* A request did not arrive whole in time: refuse it with 408. */
static void
timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct reqguard	*g = arg;
	char		 why[128];

	(void)fd;
	(void)what;
	if (g->state == RG_DISCARD || !bev_alive(g))
		return;
	snprintf(why, sizeof why, "the request did not arrive whole within "
	    "%d s (--api-timeout)", g->timeout_s);
	if (g->state == RG_SWALLOW)
		refuse(g, bufferevent_get_input(g->under),
		    bufferevent_get_input(g->bev), g->sw_status, g->sw_code,
		    g->sw_why);
	else
		refuse(g, bufferevent_get_input(g->under),
		    bufferevent_get_input(g->bev), 408, "request_timeout", why);
	bufferevent_trigger(g->bev, EV_READ, BEV_TRIG_IGNORE_WATERMARKS);
}

enum bufferevent_filter_result
reqguard_filter(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct reqguard	*g = ctx;
	struct rg_head	 h;
	unsigned char	*p;
	size_t		 len, end, n;
	int		 passed = 0;

	(void)limit;
	(void)mode;
	for (;;) {
		len = evbuffer_get_length(src);
		switch (g->state) {
		case RG_DISCARD:
			evbuffer_drain(src, len);
			return done(g, src, passed);
		case RG_SWALLOW:
			n = len < g->left ? len : (size_t)g->left;
			evbuffer_drain(src, n);
			g->left -= n;
			if (g->left > 0)
				return done(g, src, passed);
			refuse(g, src, dst, g->sw_status, g->sw_code,
			    g->sw_why);
			return done(g, src, 1);
		case RG_BODY:
			if (len - g->head_len < g->left)
				return done(g, src, passed);
			evbuffer_remove_buffer(src, dst, g->head_len +
			    (size_t)g->left);
			g->state = RG_HEAD;
			g->scanned = 0;
			passed = 1;
			continue;
		case RG_CHUNKED:
			if (!chunked_step(g, src, dst))
				return done(g, src, passed);
			passed = 1;
			continue;
		case RG_HEAD:
			break;
		}
		/* Blank lines before a request line are skipped. */
		while (g->scanned == 0 && len > 0) {
			p = evbuffer_pullup(src, len < 2 ? (ev_ssize_t)len : 2);
			if (p[0] == '\n')
				n = 1;
			else if (p[0] == '\r' && len < 2)
				return done(g, src, passed);
			else if (p[0] == '\r' && p[1] == '\n')
				n = 2;
			else
				break;
			evbuffer_drain(src, n);
			len -= n;
		}
		if (len == 0)
			return done(g, src, passed);
		end = head_end(g, src);
		if (end > g->max_header || (end == 0 && len > g->max_header)) {
			char	why[128];

			snprintf(why, sizeof why, "request head over the "
			    "limit of %zu bytes", g->max_header);
			refuse(g, src, dst, 431,
			    "request_header_fields_too_large", why);
			return done(g, src, 1);
		}
		if (end == 0)
			return done(g, src, passed);
		p = evbuffer_pullup(src, (ev_ssize_t)end);
		head_parse(&h, (const char *)p, end, g->max_body);
		if (h.status == 413 && h.has_length && !h.chunked &&
		    !h.expect_continue && h.length <= SWALLOW_MAX) {
			/* The answer waits until the client sent it all. */
			evbuffer_drain(src, end);
			g->state = RG_SWALLOW;
			g->left = h.length;
			g->sw_status = h.status;
			g->sw_code = h.code;
			snprintf(g->sw_why, sizeof g->sw_why, "%s", h.why);
			continue;
		}
		if (h.status != 0) {
			refuse(g, src, dst, h.status, h.code, h.why);
			return done(g, src, 1);
		}
		if (h.expect_continue) {
			/*
			 * The guard answers "100 Continue" itself, straight to
			 * the socket, and renames the field so that evhttp
			 * does not answer it too (its answer would wait in the
			 * filter's output).
			 */
			p[h.expect_at] = 'X';
			if (g->under != NULL)
				bufferevent_write(g->under, CONTINUE_100,
				    sizeof CONTINUE_100 - 1);
		}
		if (h.chunked) {
			g->state = RG_CHUNKED;
			g->chunk = CH_SIZE;
			g->head_len = end;
			g->scanned = end;
			g->body = 0;
			continue;
		}
		/*
		 * The body is held too, so evhttp only ever sees whole
		 * requests and a refusal can always be put in their place.
		 */
		g->state = RG_BODY;
		g->head_len = end;
		g->left = h.length;
	}
}

enum bufferevent_filter_result
reqguard_output(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
    enum bufferevent_flush_mode mode, void *ctx)
{
	struct reqguard	*g = ctx;
	evutil_socket_t	 fd;
	size_t		 len, n;
	int		 w, progress = 0;

	(void)limit;
	(void)mode;
	fd = g->under != NULL ? bufferevent_getfd(g->under) : -1;
	if (fd == -1) {
		evbuffer_add_buffer(dst, src);
		return BEV_OK;
	}
	if (!g->flushing) {
		/* See flush_cb: libevent's own calls only schedule a flush. */
		if (evbuffer_get_length(dst) == 0 &&
		    evbuffer_get_length(src) > 0)
			flush_soon(g);
		return BEV_NEED_MORE;
	}
	/* Invariant: src is empty only when dst (the socket's queue) is. */
	if (evbuffer_get_length(dst) > 0 ||
	    (len = evbuffer_get_length(src)) == 0)
		return BEV_NEED_MORE;	/* called again once dst drains */
	while (len > 0) {
		if ((w = evbuffer_write(src, fd)) <= 0) {
			if (w == -1 && errno == EINTR)
				continue;
			if (w == -1 && errno != EAGAIN &&
			    errno != EWOULDBLOCK) {
				/* Let the socket bufferevent meet the error. */
				evbuffer_add_buffer(dst, src);
				return BEV_OK;
			}
			break;
		}
		progress = 1;
		len = evbuffer_get_length(src);
	}
	if (len == 0)
		return BEV_OK;
	/*
	 * The socket is full: queue a part on the socket bufferevent, which
	 * calls the filter once it has written it, and keep a byte; with
	 * one byte left, just ask it to call once the socket is writable.
	 */
	if (len > 1) {
		n = len - 1 < HANDOFF_MAX ? len - 1 : HANDOFF_MAX;
		evbuffer_remove_buffer(src, dst, n);
		progress = 1;
	} else
		bufferevent_enable(g->under, EV_WRITE);
	return progress ? BEV_OK : BEV_NEED_MORE;
}

int
reqguard_refusal(const char *body, size_t len, int *status, char *code,
    size_t codesz, const char **message)
{
	const char	*sp1, *sp2;
	size_t		 n;

	if (len < 5 || !isdigit((unsigned char)body[0]))
		return -1;
	*status = atoi(body);
	if (*status < 400 || *status > 599)
		return -1;
	if ((sp1 = memchr(body, ' ', len)) == NULL ||
	    (sp2 = memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - body))) ==
	    NULL)
		return -1;
	n = (size_t)(sp2 - sp1 - 1);
	if (n == 0 || n >= codesz)
		return -1;
	memcpy(code, sp1 + 1, n);
	code[n] = '\0';
	*message = sp2 + 1;
	return 0;
}
