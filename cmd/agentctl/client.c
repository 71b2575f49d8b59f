/*
 * HTTP/1.1 over agentd's Unix socket with libcurl: a plain request that
 * returns the status and the whole body, a streaming variant that hands
 * the body to a callback, and the mapping of failures to exit codes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "agentctl.h"
#include "util.h"
#include "xmalloc.h"

#define CTL_MAX_BODY		(256u * 1024 * 1024)
#define CTL_CONNECT_TIMEOUT_MS	5000L
#define CTL_REQUEST_TIMEOUT_MS	300000L

struct xfer_state {
	struct ctl_xfer	*x;
	CURL		*curl;
	int		 started;	/* first body bytes seen */
	int		 streaming;	/* 2xx and a stream callback */
	int		 stopped;	/* the callback asked to stop */
	int		 too_large;
};

/* libcurl write callback: stream 2xx bodies, buffer everything else. */
static size_t
xfer_write(char *buf, size_t size, size_t nmemb, void *arg)
{
	struct xfer_state	*st = arg;
	struct ctl_xfer		*x = st->x;
	size_t			 len = size * nmemb;
	long			 code = 0;

	if (!st->started) {
		st->started = 1;
		curl_easy_getinfo(st->curl, CURLINFO_RESPONSE_CODE, &code);
		st->streaming = x->stream != NULL && code >= 200 && code < 300;
	}
	if (st->streaming) {
		if (x->stream(x->stream_arg, buf, len) != 0) {
			st->stopped = 1;
			return 0;
		}
		return len;
	}
	if (x->resp_len + len > CTL_MAX_BODY) {
		st->too_large = 1;
		return 0;
	}
	x->resp = xrealloc(x->resp, x->resp_len + len + 1);
	memcpy(x->resp + x->resp_len, buf, len);
	x->resp_len += len;
	x->resp[x->resp_len] = '\0';
	return len;
}

/* Return the context's curl handle, made on first use and reset after. */
static CURL *
client_handle(struct ctl_ctx *ctx)
{
	if (ctx->curl == NULL) {
		if ((ctx->curl = curl_easy_init()) == NULL) {
			fprintf(stderr, "agentctl: curl_easy_init failed\n");
			exit(CTL_EXIT_DAEMON);
		}
	} else
		curl_easy_reset(ctx->curl);
	return ctx->curl;
}

/* Perform one exchange described by x; fills the result fields of x. */
void
ctl_xfer(struct ctl_ctx *ctx, struct ctl_xfer *x)
{
	struct xfer_state	 st;
	struct curl_slist	*hdrs = NULL;
	char			 errbuf[CURL_ERROR_SIZE], *url, *h;
	CURL			*c;
	CURLcode		 cc;
	long			 oserr = 0;

	x->result = CTL_XFER_OK;
	x->status = 0;
	x->resp = NULL;
	x->resp_len = 0;
	x->os_errno = 0;
	x->errmsg = NULL;

	c = client_handle(ctx);
	memset(&st, 0, sizeof st);
	st.x = x;
	st.curl = c;
	errbuf[0] = '\0';

	xasprintf(&url, "http://localhost%s", x->path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_UNIX_SOCKET_PATH, ctx->socket);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, CTL_CONNECT_TIMEOUT_MS);
	if (x->timeout_ms > 0)
		curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, x->timeout_ms);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, xfer_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &st);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "agentctl/" AGENTD_VERSION);

	xasprintf(&h, "Accept: %s",
	    x->accept != NULL ? x->accept : "application/json");
	hdrs = curl_slist_append(hdrs, h);
	free(h);
	hdrs = curl_slist_append(hdrs, "Expect:");
	if (x->body != NULL)
		hdrs = curl_slist_append(hdrs,
		    "Content-Type: application/json");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);

	if (x->method == NULL || strcmp(x->method, "GET") == 0)
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
	else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS,
		    x->body != NULL ? x->body : "");
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE,
		    (curl_off_t)(x->body != NULL ? strlen(x->body) : 0));
		if (strcmp(x->method, "POST") != 0)
			curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, x->method);
	}

	cc = curl_easy_perform(c);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &x->status);
	if (cc == CURLE_OK)
		x->result = CTL_XFER_OK;
	else if (cc == CURLE_WRITE_ERROR && st.stopped)
		x->result = CTL_XFER_STOPPED;
	else if (cc == CURLE_COULDNT_CONNECT && x->status == 0) {
		x->result = CTL_XFER_NOCONN;
		curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &oserr);
		x->os_errno = (int)oserr;
	} else {
		x->result = CTL_XFER_BROKEN;
		if (st.too_large)
			x->errmsg = xstrdup("response too large");
		else
			x->errmsg = xstrdup(errbuf[0] != '\0' ? errbuf :
			    curl_easy_strerror(cc));
	}
	if (x->result == CTL_XFER_NOCONN)
		x->errmsg = xstrdup(x->os_errno != 0 ?
		    strerror(x->os_errno) : (errbuf[0] != '\0' ? errbuf :
		    curl_easy_strerror(cc)));

	/* Do not leave pointers to our stack or headers in the handle. */
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hdrs);
	free(url);
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

/* Release the context's curl handle and messages. */
void
ctl_client_free(struct ctl_ctx *ctx)
{
	if (ctx->curl != NULL) {
		curl_easy_cleanup(ctx->curl);
		ctx->curl = NULL;
	}
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
