/*
 * libcurl multi socket interface driven by libevent: curl tells us which
 * sockets to watch and when to time out; libevent tells curl when they are
 * ready. Completed transfers are reported through xfer_ops.done.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "backend.h"
#include "log.h"
#include "xfer.h"
#include "xfer-internal.h"
#include "xmalloc.h"

struct xfer_sock {
	struct event	*ev;
	curl_socket_t	 fd;
};

/* Report finished transfers to their owners. */
static void
xfer_check_done(struct xfer_loop *l)
{
	CURLMsg		*msg;
	int		 left;
	struct xfer	*x;

	while ((msg = curl_multi_info_read(l->multi, &left)) != NULL) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		curl_multi_remove_handle(l->multi, x->easy);
		l->count--;
		x->ops->done(x->arg, x, (int)msg->data.result,
		    x->errbuf[0] != '\0' ? x->errbuf :
		    curl_easy_strerror(msg->data.result));
		xfer_free(x);
	}
}

static void
xfer_event_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer_loop	*l = arg;
	int			 running, flags = 0;

	if (what & EV_READ)
		flags |= CURL_CSELECT_IN;
	if (what & EV_WRITE)
		flags |= CURL_CSELECT_OUT;
	curl_multi_socket_action(l->multi, fd, flags, &running);
	xfer_check_done(l);
}

static void
xfer_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct xfer_loop	*l = arg;
	int			 running;

	(void)fd;
	(void)what;
	curl_multi_socket_action(l->multi, CURL_SOCKET_TIMEOUT, 0, &running);
	xfer_check_done(l);
}

/* curl: arm the loop timer. */
static int
xfer_curl_timer(CURLM *multi, long timeout_ms, void *arg)
{
	struct xfer_loop	*l = arg;
	struct timeval		 tv;

	(void)multi;
	if (timeout_ms < 0) {
		evtimer_del(l->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	evtimer_add(l->timer, &tv);
	return 0;
}

/* curl: watch, change or forget a socket. */
static int
xfer_curl_socket(CURL *easy, curl_socket_t fd, int what, void *arg,
    void *sockp)
{
	struct xfer_loop	*l = arg;
	struct xfer_sock	*s = sockp;
	short			 kind;

	(void)easy;
	if (what == CURL_POLL_REMOVE) {
		if (s != NULL) {
			event_free(s->ev);
			free(s);
			curl_multi_assign(l->multi, fd, NULL);
		}
		return 0;
	}
	kind = EV_PERSIST;
	if (what & CURL_POLL_IN)
		kind |= EV_READ;
	if (what & CURL_POLL_OUT)
		kind |= EV_WRITE;
	if (s == NULL) {
		s = xcalloc(1, sizeof *s);
		s->fd = fd;
		curl_multi_assign(l->multi, fd, s);
	} else
		event_free(s->ev);
	s->ev = event_new(l->base, fd, kind, xfer_event_cb, l);
	event_add(s->ev, NULL);
	return 0;
}

/* Create a transfer loop on base. */
struct xfer_loop *
xfer_loop_new(struct event_base *base, int lean)
{
	struct xfer_loop	*l;

	l = xcalloc(1, sizeof *l);
	l->base = base;
	l->lean = lean && getenv("http_proxy") == NULL &&
	    getenv("all_proxy") == NULL && getenv("ALL_PROXY") == NULL;
	if ((l->multi = curl_multi_init()) == NULL)
		fatalx("curl_multi_init failed");
	l->timer = evtimer_new(base, xfer_timer_cb, l);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETFUNCTION, xfer_curl_socket);
	curl_multi_setopt(l->multi, CURLMOPT_SOCKETDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERFUNCTION, xfer_curl_timer);
	curl_multi_setopt(l->multi, CURLMOPT_TIMERDATA, l);
	curl_multi_setopt(l->multi, CURLMOPT_MAXCONNECTS, 64L);
	return l;
}

/* Free the loop; transfers must have been aborted. Accepts NULL. */
void
xfer_loop_free(struct xfer_loop *l)
{
	if (l == NULL)
		return;
	curl_multi_cleanup(l->multi);
	event_free(l->timer);
	h1_loop_free(l);
	free(l);
}

/* Transfers in flight. */
int
xfer_loop_count(struct xfer_loop *l)
{
	return l->count;
}

static size_t
xfer_write_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * nmemb;

	if (x->ops->data(x->arg, x, ptr, len) != 0)
		return 0;	/* CURLE_WRITE_ERROR */
	return len;
}

/* Forget the last response's headers (after 100-continue, a redirect). */
void
xfer_response_reset(struct xfer *x)
{
	x->status = 0;
	x->ctype[0] = '\0';
	free(x->retry_after);
	x->retry_after = NULL;
	x->ratelimit_reset_ms = -1;
}

/* One response header line: keep what the worker asks about. */
void
xfer_header_line(struct xfer *x, const char *ptr, size_t len)
{
	size_t		 i, n;
	const char	*v;

	if (len > 13 && strncasecmp(ptr, "content-type:", 13) == 0) {
		v = ptr + 13;
		while (v < ptr + len && (*v == ' ' || *v == '\t'))
			v++;
		for (n = 0, i = (size_t)(v - ptr); i < len &&
		    n < sizeof x->ctype - 1; i++) {
			if (ptr[i] == ';' || ptr[i] == '\r' ||
			    ptr[i] == '\n' || ptr[i] == ' ')
				break;
			x->ctype[n++] = (char)tolower((unsigned char)ptr[i]);
		}
		x->ctype[n] = '\0';
	} else if (len > 18 && strncasecmp(ptr, "x-ratelimit-reset-", 18) == 0 &&
	    (v = memchr(ptr, ':', len)) != NULL) {
		char	val[64];
		int64_t	ms;

		n = len - (size_t)(v + 1 - ptr);
		while (n > 0 && (v[n] == '\r' || v[n] == '\n'))
			n--;
		if (n >= sizeof val)
			n = sizeof val - 1;
		memcpy(val, v + 1, n);
		val[n] = '\0';
		if ((ms = backend_duration_ms(val)) > x->ratelimit_reset_ms)
			x->ratelimit_reset_ms = ms;
	} else if (len > 12 && strncasecmp(ptr, "retry-after:", 12) == 0) {
		v = ptr + 12;
		n = len - 12;
		while (n > 0 && (*v == ' ' || *v == '\t')) {
			v++;
			n--;
		}
		while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n'))
			n--;
		free(x->retry_after);
		x->retry_after = xstrndup(v, n);
	}
}

static size_t
xfer_header_cb(char *ptr, size_t size, size_t nmemb, void *arg)
{
	struct xfer	*x = arg;
	size_t		 len = size * nmemb;

	if (len > 5 && strncmp(ptr, "HTTP/", 5) == 0) {
		/* A new response (after 100-continue or a redirect). */
		xfer_response_reset(x);
		curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &x->status);
		return len;
	}
	xfer_header_line(x, ptr, len);
	return len;
}

/* Free a transfer of either client (after done, or aborted). */
void
xfer_free(struct xfer *x)
{
	if (x->easy != NULL)
		curl_easy_cleanup(x->easy);
	curl_slist_free_all(x->headers);
	free(x->retry_after);
	free(x->errbuf);
	free(x);
}

/* A new transfer, counted in its loop (xfer-internal.h). */
struct xfer *
xfer_new(struct xfer_loop *l, const struct xfer_ops *ops, void *arg)
{
	struct xfer	*x;

	x = xcalloc(1, sizeof *x);
	x->loop = l;
	x->ratelimit_reset_ms = -1;
	x->ops = ops;
	x->arg = arg;
	l->count++;
	return x;
}

/* Start a transfer: the own client's when it takes it, else libcurl's. */
struct xfer *
xfer_start(struct xfer_loop *l, const struct xfer_req *req,
    const struct xfer_ops *ops, void *arg)
{
	struct xfer	*x;
	char		*h;

	x = xfer_new(l, ops, arg);
	if (h1_accepts(l, req)) {
		h1_start(x, req);
		return x;
	}
	x->errbuf = xcalloc(1, CURL_ERROR_SIZE);
	if ((x->easy = curl_easy_init()) == NULL)
		fatalx("curl_easy_init failed");
	curl_easy_setopt(x->easy, CURLOPT_URL, req->url);
	curl_easy_setopt(x->easy, CURLOPT_PRIVATE, x);
	curl_easy_setopt(x->easy, CURLOPT_ERRORBUFFER, x->errbuf);
	curl_easy_setopt(x->easy, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(x->easy, CURLOPT_HTTP_VERSION,
	    (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(x->easy, CURLOPT_WRITEFUNCTION, xfer_write_cb);
	curl_easy_setopt(x->easy, CURLOPT_WRITEDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_HEADERFUNCTION, xfer_header_cb);
	curl_easy_setopt(x->easy, CURLOPT_HEADERDATA, x);
	curl_easy_setopt(x->easy, CURLOPT_USERAGENT, "agentd/" "0.1");
	if (req->buffer_size > 0)
		curl_easy_setopt(x->easy, CURLOPT_BUFFERSIZE, req->buffer_size);
	curl_easy_setopt(x->easy, CURLOPT_CONNECTTIMEOUT,
	    req->connect_timeout_s > 0 ? req->connect_timeout_s : 10L);
	if (req->idle_timeout_s > 0) {
		curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(x->easy, CURLOPT_LOW_SPEED_TIME,
		    req->idle_timeout_s);
	}
	if (strcmp(req->method, "POST") == 0) {
		curl_easy_setopt(x->easy, CURLOPT_POST, 1L);
		curl_easy_setopt(x->easy, CURLOPT_COPYPOSTFIELDS,
		    req->body != NULL ? req->body : "");
		x->headers = curl_slist_append(x->headers,
		    "Content-Type: application/json");
	}
	x->headers = curl_slist_append(x->headers, "Expect:");
	if (req->accept != NULL) {
		xasprintf(&h, "Accept: %s", req->accept);
		x->headers = curl_slist_append(x->headers, h);
		free(h);
	}
	if (req->api_key != NULL && *req->api_key != '\0') {
		xasprintf(&h, "Authorization: Bearer %s", req->api_key);
		x->headers = curl_slist_append(x->headers, h);
		explicit_bzero(h, strlen(h));
		free(h);
	}
	if (req->idempotency_key != NULL) {
		xasprintf(&h, "Idempotency-Key: %s", req->idempotency_key);
		x->headers = curl_slist_append(x->headers, h);
		free(h);
	}
	curl_easy_setopt(x->easy, CURLOPT_HTTPHEADER, x->headers);
	if (curl_multi_add_handle(l->multi, x->easy) != CURLM_OK)
		fatalx("curl_multi_add_handle failed");
	return x;
}

/* Stop a transfer without a done callback. */
void
xfer_abort(struct xfer *x)
{
	if (x == NULL)
		return;
	x->loop->count--;
	if (x->h1 != NULL) {
		h1_abort(x);
		return;
	}
	curl_multi_remove_handle(x->loop->multi, x->easy);
	xfer_free(x);
}

/* Pause or resume reading a transfer's body (see xfer.h). */
void
xfer_pause(struct xfer *x, int pause)
{
	if (x != NULL && x->h1 != NULL)
		h1_pause(x, pause);
	else if (x != NULL)
		curl_easy_pause(x->easy, pause ? CURLPAUSE_RECV :
		    CURLPAUSE_CONT);
}

long
xfer_status(const struct xfer *x)
{
	return x->status;
}

const char *
xfer_content_type(const struct xfer *x)
{
	return x->ctype;
}

const char *
xfer_retry_after(const struct xfer *x)
{
	return x->retry_after;
}

int64_t
xfer_ratelimit_reset_ms(const struct xfer *x)
{
	return x->ratelimit_reset_ms;
}

int
xfer_is_lean(const struct xfer *x)
{
	return x->h1 != NULL;
}

int
xfer_is_sse(const struct xfer *x)
{
	return strcmp(x->ctype, "text/event-stream") == 0;
}
