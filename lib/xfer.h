/*
 * HTTP transfers on a libevent loop: many concurrent requests per process,
 * idle and connect timeouts. Most go through libcurl's multi socket
 * interface (connection reuse, TLS, proxies). A long-lived stream over
 * plain http:// with no proxy configured may instead go through agentd's
 * own HTTP/1.1 client (xfer-h1.c), which holds about 0.8 KB a transfer
 * where libcurl holds about 11 KB. Knows nothing of runs or protocols.
 */
#ifndef AGENTD_XFER_H
#define AGENTD_XFER_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct xfer_loop;
struct xfer;

struct xfer_req {
	const char	*method;	/* "GET" or "POST" */
	const char	*url;
	const char	*body;		/* POST body (JSON) or NULL */
	const char	*accept;
	const char	*api_key;	/* bearer token or NULL; never logged */
	const char	*idempotency_key;
	long		 connect_timeout_s;
	long		 idle_timeout_s;	/* no bytes for this long: abort */
	long		 buffer_size;	/* receive buffer (0: libcurl's 16 KB) */
	int		 stream;	/* long-lived: may use the own client */
};

struct xfer_ops {
	/* Body bytes arrived; return 0 to go on, -1 to abort. */
	int	(*data)(void *arg, struct xfer *x, const char *buf,
		    size_t len);
	/*
	 * The transfer ended (not called after xfer_abort). curl_rc is a
	 * CURLcode (0 ok), err a message for a failed transfer. The xfer is
	 * freed when this returns.
	 */
	void	(*done)(void *arg, struct xfer *x, int curl_rc,
		    const char *err);
};

/*
 * lean: let stream requests over plain http:// without a proxy (the
 * http_proxy or all_proxy environment variables) use the own client.
 */
struct xfer_loop	*xfer_loop_new(struct event_base *base, int lean);
void			 xfer_loop_free(struct xfer_loop *l);
/* Number of transfers in flight. */
int			 xfer_loop_count(struct xfer_loop *l);

/* Start a transfer; never NULL (curl setup failure is fatal). */
struct xfer		*xfer_start(struct xfer_loop *l,
			    const struct xfer_req *req,
			    const struct xfer_ops *ops, void *arg);
/* Stop and free a transfer without calling done. Accepts NULL. */
void			 xfer_abort(struct xfer *x);
/* Stop (1) or go on (0) reading x's body; going on may call its data
   callback at once, with what was held back. A paused stream is not
   idle. Pause from a delivery or later: libcurl does not honour a pause
   asked before the response began (the own client does). Harmless from
   inside done. */
void			 xfer_pause(struct xfer *x, int pause);

/* HTTP status of the (last) response, 0 before headers. */
long			 xfer_status(const struct xfer *x);
/* Content-Type (lowercase, without parameters), "" if none. */
const char		*xfer_content_type(const struct xfer *x);
/* Retry-After header value or NULL. */
const char		*xfer_retry_after(const struct xfer *x);
/* Largest x-ratelimit-reset-* header of the response in ms, or -1. */
int64_t			 xfer_ratelimit_reset_ms(const struct xfer *x);
/* 1 if the transfer goes through the own HTTP/1.1 client. */
int			 xfer_is_lean(const struct xfer *x);
/* 1 if the response is text/event-stream. */
int			 xfer_is_sse(const struct xfer *x);

#endif
