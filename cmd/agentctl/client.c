/*
 * HTTP/1.1 over agentd's Unix socket: a plain request that returns the
 * status and the whole body, a streaming variant that hands the body to a
 * callback as it arrives, and the mapping of failures to exit codes. One
 * connection per exchange ("Connection: close"). The response is parsed
 * by http-resp.c; this file owns the socket, the deadlines and the body.
 *
 * Not libcurl: agentctl is started once per command, and loading libcurl
 * (36 shared libraries with TLS, Kerberos and LDAP) and curl_global_init
 * took most of the time of a short command such as `agentctl list`.
 */
#include <sys/socket.h>
#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentctl.h"
#include "http-resp.h"
#include "util.h"
#include "xmalloc.h"

#define CTL_MAX_BODY		(256u * 1024 * 1024)
#define CTL_CONNECT_TIMEOUT_MS	5000L
#define CTL_REQUEST_TIMEOUT_MS	300000L
#define CTL_READ_SIZE		(64u * 1024)

/* The body sink: what the parser's body callback writes into. */
struct xfer_state {
	struct ctl_xfer		*x;
	struct http_resp	*resp;
	size_t			 cap;		/* of x->resp */
	int			 started;	/* first body bytes seen */
	int			 streaming;	/* 2xx and a stream callback */
	int			 too_large;	/* buffered body too big */
};

/* Body callback: stream 2xx bodies, buffer everything else. */
static int
xfer_body(void *arg, const char *buf, size_t len)
{
	struct xfer_state	*st = arg;
	struct ctl_xfer		*x = st->x;
	int			 code;

	if (!st->started) {
		st->started = 1;
		code = http_resp_status(st->resp);
		st->streaming = x->stream != NULL && code >= 200 && code < 300;
	}
	if (st->streaming) {
		return x->stream(x->stream_arg, buf, len) != 0 ? -1 : 0;
	}
	if (len > CTL_MAX_BODY - x->resp_len) {
		st->too_large = 1;
		return -1;
	}
	if (x->resp_len + len + 1 > st->cap) {
		if (st->cap == 0)
			st->cap = 4096;
		while (x->resp_len + len + 1 > st->cap)
			st->cap *= 2;
		x->resp = xrealloc(x->resp, st->cap);
	}
	memcpy(x->resp + x->resp_len, buf, len);
	x->resp_len += len;
	x->resp[x->resp_len] = '\0';
	return 0;
}

/* Record a transport failure of x after connecting; msg is copied. */
static void
xfer_broken(struct ctl_xfer *x, const char *msg)
{
	x->result = CTL_XFER_BROKEN;
	free(x->errmsg);
	x->errmsg = xstrdup(msg);
}

/*
 * Connect to the Unix socket at path; the fd (non-blocking from then on),
 * or -1 with errno set (EAGAIN: the connect timeout passed).
 */
static int
xfer_connect(const char *path)
{
	struct sockaddr_un	 sun;
	struct timeval		 tv;
	size_t			 len;
	int			 fd, saved;

	memset(&sun, 0, sizeof sun);
	sun.sun_family = AF_UNIX;
	if ((len = strlen(path)) >= sizeof sun.sun_path) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun.sun_path, path, len);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	/*
	 * A blocking connect to a Unix socket returns at once unless the
	 * listener's backlog is full; then it waits at most SO_SNDTIMEO and
	 * fails with EAGAIN. That is the connect timeout, without a poll.
	 */
	tv.tv_sec = CTL_CONNECT_TIMEOUT_MS / 1000;
	tv.tv_usec = (CTL_CONNECT_TIMEOUT_MS % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv) == -1)
		goto fail;
	while (connect(fd, (struct sockaddr *)&sun, sizeof sun) == -1) {
		if (errno != EINTR)
			goto fail;
	}
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == -1)
		goto fail;
	return fd;
fail:
	saved = errno;
	close(fd);
	errno = saved;
	return -1;
}

/*
 * Wait until fd is ready for events, or until deadline (CLOCK_MONOTONIC
 * ms; -1: none). 1 when ready, 0 on timeout, -1 with errno.
 */
static int
xfer_wait(int fd, short events, int64_t deadline)
{
	struct pollfd	pfd;
	int64_t		left;
	int		n, ms;

	for (;;) {
		ms = -1;
		if (deadline >= 0) {
			if ((left = deadline - util_mono_ms()) <= 0)
				return 0;
			ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		pfd.fd = fd;
		pfd.events = events;
		pfd.revents = 0;
		if ((n = poll(&pfd, 1, ms)) == -1) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n > 0)
			return 1;
	}
}

/*
 * Send len bytes of buf. 0, else -1: *why says why (timeout) or errno is
 * set.
 */
static int
xfer_send(int fd, const char *buf, size_t len, int64_t deadline,
    const char **why)
{
	ssize_t	n;
	int	w;

	while (len > 0) {
		/* MSG_NOSIGNAL: a daemon gone away is an error, not death. */
		n = send(fd, buf, len, MSG_NOSIGNAL);
		if (n >= 0) {
			buf += n;
			len -= (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		if ((w = xfer_wait(fd, POLLOUT, deadline)) == -1)
			return -1;
		if (w == 0) {
			*why = "timed out sending the request";
			return -1;
		}
	}
	return 0;
}

/* The request line and header fields of x. Allocated. */
static char *
xfer_head(const struct ctl_xfer *x, const char *method, size_t blen)
{
	char	*head, cl[48];

	cl[0] = '\0';
	if (strcmp(method, "GET") != 0)
		snprintf(cl, sizeof cl, "Content-Length: %zu\r\n", blen);
	xasprintf(&head, "%s %s HTTP/1.1\r\n"
	    "Host: localhost\r\n"
	    "User-Agent: agentctl/" AGENTD_VERSION "\r\n"
	    "Accept: %s\r\n"
	    "Connection: close\r\n"
	    "%s%s\r\n",
	    method, x->path,
	    x->accept != NULL ? x->accept : "application/json",
	    x->body != NULL ? "Content-Type: application/json\r\n" : "", cl);
	return head;
}

/* Read the response from fd into the parser until it is done or fails. */
static void
xfer_read(struct ctl_xfer *x, struct xfer_state *st, int fd,
    int64_t deadline, int send_errno)
{
	char			*buf, msg[256];
	ssize_t			 n;
	enum http_resp_rc	 rc = HTTP_RESP_MORE;
	int			 w, err = 0;

	buf = xmalloc(CTL_READ_SIZE);
	while (rc == HTTP_RESP_MORE) {
		n = recv(fd, buf, CTL_READ_SIZE, 0);
		if (n > 0)
			rc = http_resp_feed(st->resp, buf, (size_t)n);
		else if (n == 0)
			rc = http_resp_eof(st->resp);
		else if (errno == EINTR)
			continue;
		else if (errno != EAGAIN && errno != EWOULDBLOCK) {
			err = errno;
			break;
		} else if ((w = xfer_wait(fd, POLLIN, deadline)) == 0) {
			snprintf(msg, sizeof msg, "no complete response "
			    "within %ld s", x->timeout_ms / 1000);
			xfer_broken(x, msg);
			free(buf);
			return;
		} else if (w == -1) {
			err = errno;
			break;
		}
	}
	free(buf);
	x->status = http_resp_status(st->resp);
	switch (rc) {
	case HTTP_RESP_DONE:
		x->result = CTL_XFER_OK;
		break;
	case HTTP_RESP_STOPPED:
		if (st->too_large)
			xfer_broken(x, "response too large");
		else
			x->result = CTL_XFER_STOPPED;
		break;
	case HTTP_RESP_ERROR:
		/* The daemon closed early: what we could not send is why. */
		if (send_errno != 0 && x->status == 0)
			snprintf(msg, sizeof msg, "sending the request: %s",
			    strerror(send_errno));
		else
			snprintf(msg, sizeof msg, "%s",
			    http_resp_error(st->resp));
		xfer_broken(x, msg);
		break;
	case HTTP_RESP_MORE:
		snprintf(msg, sizeof msg, "reading the response: %s",
		    strerror(err));
		xfer_broken(x, msg);
		break;
	}
}

/* Perform one exchange described by x; fills the result fields of x. */
void
ctl_xfer(struct ctl_ctx *ctx, struct ctl_xfer *x)
{
	struct xfer_state	 st;
	const char		*method, *why = NULL;
	char			*head, msg[256];
	size_t			 blen;
	int64_t			 deadline = -1;
	int			 fd, send_errno = 0;

	x->result = CTL_XFER_OK;
	x->status = 0;
	x->resp = NULL;
	x->resp_len = 0;
	x->os_errno = 0;
	x->errmsg = NULL;

	method = x->method != NULL ? x->method : "GET";
	if (strcspn(x->path, " \t\r\n") != strlen(x->path) ||
	    strcspn(method, " \t\r\n") != strlen(method)) {
		xfer_broken(x, "bad request path");
		return;
	}
	if ((fd = xfer_connect(ctx->socket)) == -1) {
		x->os_errno = errno;
		if (errno == EAGAIN) {
			/*
			 * Something listens but does not accept: not the
			 * "agentd is not running" of NOCONN, so no command
			 * falls back to working on the store behind it.
			 */
			snprintf(msg, sizeof msg, "connect timed out after "
			    "%ld s", CTL_CONNECT_TIMEOUT_MS / 1000);
			xfer_broken(x, msg);
		} else {
			x->result = CTL_XFER_NOCONN;
			x->errmsg = xstrdup(strerror(x->os_errno));
		}
		return;
	}
	if (x->timeout_ms > 0)
		deadline = util_mono_ms() + x->timeout_ms;

	memset(&st, 0, sizeof st);
	st.x = x;
	st.resp = http_resp_new(xfer_body, &st);
	blen = x->body != NULL ? strlen(x->body) : 0;
	head = xfer_head(x, method, blen);
	if (xfer_send(fd, head, strlen(head), deadline, &why) != 0 ||
	    xfer_send(fd, x->body != NULL ? x->body : "", blen, deadline,
	    &why) != 0) {
		if (why != NULL)
			xfer_broken(x, why);
		else if (errno == EPIPE || errno == ECONNRESET)
			send_errno = errno;	/* a response may be waiting */
		else {
			snprintf(msg, sizeof msg, "sending the request: %s",
			    strerror(errno));
			xfer_broken(x, msg);
		}
	}
	if (x->result == CTL_XFER_OK)
		xfer_read(x, &st, fd, deadline, send_errno);
	free(head);
	http_resp_free(st.resp);
	close(fd);
}

/* Free what ctl_xfer allocated in x. */
void
ctl_xfer_free(struct ctl_xfer *x)
{
	free(x->resp);
	free(x->errmsg);
	x->resp = x->errmsg = NULL;
	x->resp_len = 0;
}

/* Report a transport failure of x (which socket, why); return 3. */
int
ctl_xfer_failed(struct ctl_ctx *ctx, const struct ctl_xfer *x)
{
	if (x->result == CTL_XFER_NOCONN)
		ctl_error(ctx, "cannot connect to agentd at %s: %s "
		    "(is agentd running?)", ctx->socket,
		    x->errmsg != NULL ? x->errmsg : "connect failed");
	else
		ctl_error(ctx, "connection to agentd at %s failed: %s",
		    ctx->socket, x->errmsg != NULL ? x->errmsg : "error");
	return CTL_EXIT_UNREACHABLE;
}

/*
 * The daemon's error.message for a non-2xx reply, verbatim; or a line
 * naming the HTTP status and the start of the body. Allocated.
 */
char *
ctl_error_message(const struct ctl_xfer *x)
{
	json_t		*j, *e, *m;
	char		*msg = NULL;
	size_t		 n;

	if (x->resp != NULL &&
	    (j = json_loadb(x->resp, x->resp_len, 0, NULL)) != NULL) {
		e = json_object_get(j, "error");
		if (json_is_object(e) &&
		    json_is_string(m = json_object_get(e, "message")))
			msg = xstrdup(json_string_value(m));
		else if (json_is_string(e))
			msg = xstrdup(json_string_value(e));
		json_decref(j);
		if (msg != NULL)
			return msg;
	}
	n = x->resp_len;
	while (n > 0 && (x->resp[n - 1] == '\n' || x->resp[n - 1] == '\r'))
		n--;
	if (n == 0)
		xasprintf(&msg, "HTTP %ld from agentd", x->status);
	else
		xasprintf(&msg, "HTTP %ld from agentd: %.*s", x->status,
		    (int)(n > 200 ? 200 : n), x->resp);
	return msg;
}

/* The exit code for a non-2xx HTTP status. */
int
ctl_status_exit(long status)
{
	return status == 404 ? CTL_EXIT_NOTFOUND : CTL_EXIT_DAEMON;
}

/*
 * One JSON request: send body (may be NULL), report any failure (returns
 * its exit code), else store the HTTP status and the parsed reply (if out
 * is not NULL; the caller json_decrefs it) and return 0.
 */
int
ctl_request(struct ctl_ctx *ctx, const char *method, const char *path,
    json_t *body, long *status, json_t **out)
{
	return ctl_request_ex(ctx, method, path, body, 0, status, out);
}

/*
 * ctl_request with flags: CTL_REQ_QUIET_NOCONN reports nothing when the
 * socket cannot be connected to (agentd is not running) and leaves the
 * reason in ctx->noconn instead; the return value is still 3.
 */
int
ctl_request_ex(struct ctl_ctx *ctx, const char *method, const char *path,
    json_t *body, int flags, long *status, json_t **out)
{
	struct ctl_xfer	 x;
	json_error_t	 jerr;
	json_t		*j;
	char		*text = NULL, *msg;
	int		 rc;

	if (out != NULL)
		*out = NULL;
	memset(&x, 0, sizeof x);
	if (body != NULL)
		text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
	x.method = method;
	x.path = path;
	x.body = text;
	x.timeout_ms = CTL_REQUEST_TIMEOUT_MS;
	ctl_xfer(ctx, &x);
	free(text);
	free(ctx->noconn);
	ctx->noconn = NULL;
	if (x.result == CTL_XFER_NOCONN && (flags & CTL_REQ_QUIET_NOCONN)) {
		xasprintf(&ctx->noconn, "cannot connect to %s: %s",
		    ctx->socket, x.errmsg != NULL ? x.errmsg :
		    "connect failed");
		ctl_xfer_free(&x);
		return CTL_EXIT_UNREACHABLE;
	}
	if (x.result != CTL_XFER_OK) {
		rc = ctl_xfer_failed(ctx, &x);
		ctl_xfer_free(&x);
		return rc;
	}
	if (status != NULL)
		*status = x.status;
	if (x.status < 200 || x.status > 299) {
		msg = ctl_error_message(&x);
		ctl_error(ctx, "%s", msg);
		free(msg);
		rc = ctl_status_exit(x.status);
		ctl_xfer_free(&x);
		return rc;
	}
	if (out != NULL) {
		j = json_loadb(x.resp != NULL ? x.resp : "", x.resp_len, 0,
		    &jerr);
		if (j == NULL) {
			ctl_error(ctx, "malformed reply from agentd "
			    "(HTTP %ld): %s", x.status, jerr.text);
			ctl_xfer_free(&x);
			return CTL_EXIT_DAEMON;
		}
		*out = j;
	}
	ctl_xfer_free(&x);
	return CTL_EXIT_OK;
}

/* Release the context's messages. */
void
ctl_client_free(struct ctl_ctx *ctx)
{
	free(ctx->noconn);
	ctx->noconn = NULL;
}

/* Percent-encode s for a URL path segment or query value. Allocated. */
char *
ctl_escape(const char *s)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*p;
	char			*out, *o;

	out = o = xmalloc(strlen(s) * 3 + 1);
	for (p = (const unsigned char *)s; *p != '\0'; p++) {
		if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') ||
		    (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' ||
		    *p == '.' || *p == '~')
			*o++ = (char)*p;
		else {
			*o++ = '%';
			*o++ = hex[*p >> 4];
			*o++ = hex[*p & 15];
		}
	}
	*o = '\0';
	return out;
}

/* "/v1/runs/<escaped id><suffix>". Allocated. */
char *
ctl_run_path(const char *id, const char *suffix)
{
	char	*e, *path;

	e = ctl_escape(id);
	xasprintf(&path, "/v1/runs/%s%s", e, suffix);
	free(e);
	return path;
}

/* "/v1/batches/<escaped name><suffix>". Allocated. */
char *
ctl_batch_path(const char *name, const char *suffix)
{
	char	*e, *path;

	e = ctl_escape(name);
	xasprintf(&path, "/v1/batches/%s%s", e, suffix);
	free(e);
	return path;
}

/* Append "?key=value" or "&key=value" (value escaped) to *path. */
void
ctl_query_add(char **path, const char *key, const char *value)
{
	char	*e, *n;

	e = ctl_escape(value);
	xasprintf(&n, "%s%c%s=%s", *path,
	    strchr(*path, '?') != NULL ? '&' : '?', key, e);
	free(e);
	free(*path);
	*path = n;
}

/* Append a numeric query parameter to *path. */
void
ctl_query_add_ll(char **path, const char *key, long long value)
{
	char	buf[32];

	snprintf(buf, sizeof buf, "%lld", value);
	ctl_query_add(path, key, buf);
}
