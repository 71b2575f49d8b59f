/*
 * agentctl's HTTP/1.1 response parser: the status line, the header fields
 * and a body framed by Content-Length, chunked coding or the end of the
 * connection. No I/O: client.c feeds it what it reads from the socket.
 * Separate from client.c so it is fuzzed on its own (tests/fuzz).
 */
#ifndef AGENTCTL_HTTP_RESP_H
#define AGENTCTL_HTTP_RESP_H

#include <stddef.h>

#define HTTP_RESP_MAX_HEAD	(64u * 1024)	/* status line + fields */
#define HTTP_RESP_MAX_LINE	(8u * 1024)	/* one field or chunk line */

enum http_resp_rc {
	HTTP_RESP_MORE,		/* give me more bytes (or the end) */
	HTTP_RESP_DONE,		/* the response is complete */
	HTTP_RESP_STOPPED,	/* the body callback asked to stop */
	HTTP_RESP_ERROR		/* malformed or truncated: see _error() */
};

/* Body bytes as they arrive, after the header; non-zero stops. */
typedef int (*http_resp_body_cb)(void *arg, const char *buf, size_t len);

struct http_resp;

/* Allocate a parser for one response. Never NULL. */
struct http_resp	*http_resp_new(http_resp_body_cb cb, void *arg);
void			 http_resp_free(struct http_resp *p);

/*
 * Feed len bytes read from the connection. Returns MORE until the
 * response is complete (DONE; any bytes after it are ignored) or fails;
 * once not MORE, every later call returns the same.
 */
enum http_resp_rc	 http_resp_feed(struct http_resp *p, const char *buf,
			    size_t len);

/* The peer closed the connection: DONE if that ends the body, else ERROR. */
enum http_resp_rc	 http_resp_eof(struct http_resp *p);

/* The final status code once the header is complete, else 0. */
int			 http_resp_status(const struct http_resp *p);

/* Why the parser failed ("" if it has not). Valid until _free. */
const char		*http_resp_error(const struct http_resp *p);

#endif
