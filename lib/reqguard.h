/*
 * The API's request guard: a bufferevent input filter in front of evhttp.
 *
 * libevent 2.1 answers a request it cannot take (a body over the limit,
 * headers too large, a malformed request line, an unknown method or
 * transfer coding) itself, with an HTML page and no hook to log it. The
 * guard frames every request on a connection before evhttp sees it,
 * holds it until it is whole, checks it against the limits, and puts a
 * refusal request in place of one it will not pass or that does not
 * arrive whole in time: evhttp hands that to the API handler, which
 * answers with the JSON error and a log line, in order after any earlier
 * pipelined request, and closes the connection. The guard never passes
 * bytes it has not framed, so evhttp's own limits stay as a backstop only.
 */
#ifndef AGENTD_REQGUARD_H
#define AGENTD_REQGUARD_H

#include <stddef.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

/* The path and header of the request the guard puts in place of a bad one. */
#define REQGUARD_PATH	"/.agentd/refused"
#define REQGUARD_HEADER	"X-Agentd-Guard"
#define REQGUARD_TOKEN_LEN 32

struct reqguard;

/*
 * A guard for one connection. token is the daemon's secret (hex,
 * REQGUARD_TOKEN_LEN characters) that marks refusal requests as the
 * guard's own; under, if not NULL, is the socket bufferevent beneath the
 * filter (the guard's "100 Continue" goes to its output, and
 * reqguard_output writes through to its fd).
 */
struct reqguard	*reqguard_new(size_t max_header, size_t max_body,
		    const char *token, struct bufferevent *under);
/*
 * Tie the guard to the filter bufferevent made with it; a request partly
 * received is refused with 408 after timeout_s (0: never). 0 or -1.
 */
int		 reqguard_attach(struct reqguard *g, struct bufferevent *bev,
		    int timeout_s);
void		 reqguard_free(struct reqguard *g);
/* bufferevent_filter_cb for the input side; ctx is the guard. */
enum bufferevent_filter_result reqguard_filter(struct evbuffer *src,
		    struct evbuffer *dst, ev_ssize_t limit,
		    enum bufferevent_flush_mode mode, void *ctx);
/*
 * bufferevent_filter_cb for the output side. evhttp closes a connection
 * (shutdown, close) as soon as the filter's output is empty, which with
 * a plain pass-through filter is before the socket has the bytes: a
 * response with "Connection: close" would be lost. This one writes
 * straight to the socket and keeps at least one byte back until the
 * socket has taken everything before it, so evhttp sees the response
 * done only once it is.
 */
enum bufferevent_filter_result reqguard_output(struct evbuffer *src,
		    struct evbuffer *dst, ev_ssize_t limit,
		    enum bufferevent_flush_mode mode, void *ctx);

/*
 * Decode a refusal request's NUL-terminated body: "STATUS CODE MESSAGE".
 * 0, or -1 if the body is not one; *message points into body.
 */
int		 reqguard_refusal(const char *body, size_t len, int *status,
		    char *code, size_t codesz, const char **message);

#endif
