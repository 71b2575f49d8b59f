/*
 * Incremental text/event-stream parser (WHATWG HTML "event stream
 * interpretation"). Bytes may arrive split at any offset; events are
 * delivered through a callback. Owns no I/O. A line or an event's data
 * longer than the cap is an error for that stream, never a crash.
 */
#ifndef AGENTD_SSE_H
#define AGENTD_SSE_H

#include <stddef.h>

#define SSE_DEFAULT_MAX_LINE	(8u * 1024 * 1024)

/*
 * One dispatched event. Strings are NUL-terminated and valid only during
 * the callback. type is "message" when no event: field was given. id is
 * the last-event-ID buffer at dispatch ("" if none was ever set).
 */
struct sse_event {
	const char	*type;
	size_t		 type_len;
	const char	*data;
	size_t		 data_len;
	const char	*id;
};

/* Return 0 to continue, non-zero to stop parsing (feed returns -1). */
typedef int (*sse_event_cb)(void *arg, const struct sse_event *ev);

struct sse_parser;

/* Allocate a parser; max_line 0 means SSE_DEFAULT_MAX_LINE. Never NULL. */
struct sse_parser	*sse_parser_new(size_t max_line, sse_event_cb cb,
			    void *arg);
void			 sse_parser_free(struct sse_parser *p);

/* Forget all state, as at the start of a new stream (BOM accepted again). */
void			 sse_parser_reset(struct sse_parser *p);

/*
 * Feed len bytes. Return 0, or -1 when a line or the data buffer exceeded
 * the cap or the callback asked to stop; *cause (if not NULL) is set to an
 * allocated message the caller frees. After -1 the parser must be reset.
 */
int			 sse_parser_feed(struct sse_parser *p, const char *buf,
			    size_t len, char **cause);

/* Last valid retry: value in ms, or -1 if none was seen. */
long			 sse_parser_retry(const struct sse_parser *p);

#endif
