/*
 * The Responses-compatible front's event stream, as a pure function of what
 * agentd stored for one run: run metadata, the backend events in store
 * order, the final Response body and the run's end. It emits the events an
 * unchanged OpenAI SDK client must see (FRONT.md part C) with agentd's own
 * contiguous sequence numbers, and the Response snapshot for GET. No I/O,
 * no store, no HTTP: the caller feeds it and writes what it emits.
 *
 * Determinism: the output depends only on the inputs, never on a clock or
 * on how the inputs were split into calls, so rebuilding from the durable
 * log after a restart yields byte-identical events with the same numbers
 * and starting_after=N works without storing the output.
 */
#ifndef AGENTD_FRONT_STREAM_H
#define AGENTD_FRONT_STREAM_H

#include <stddef.h>
#include <stdint.h>

#include "backend.h"

struct front_stream;

/*
 * The run as accepted. Only these fields shape the prelude (seq 0 and 1),
 * so the prelude written at accept time equals a later rebuild's as long
 * as the caller passes the same values (take them from the run row). The
 * resolved mode is deliberately not an input: the ladder may change it
 * after the prelude went out, and synthesis follows what actually arrives.
 */
struct front_run {
	const char		*run_id;	/* "r_0123..."; the response id
						   is "resp_" + run_id */
	int64_t			 created_at;	/* unix seconds */
	const char		*model;		/* NULL: the request's model */
	int			 background;	/* as the client asked */
	const char		*request;	/* the client's JSON; NULL
						   or malformed is fine */
	enum backend_dialect	 dialect;
};

/* One stored backend event. */
struct front_event {
	int64_t		 seq;		/* backend sequence number; -1 none */
	const char	*type;		/* stored type; NULL: the data's */
	const char	*data;		/* raw JSON as sent; may be garbage */
	size_t		 len;
};

/* The run's end, as the run row holds it. */
struct front_end {
	const char	*status;	/* completed, failed, cancelled,
					   incomplete, abandoned */
	const char	*error;		/* message, or NULL */
	const char	*response;	/* final Response JSON, or NULL */
	const char	*output_text;	/* assembled text, or NULL */
	int64_t		 finished_at;	/* unix seconds; 0: unknown */
};

/*
 * Receives each client event: its seq, its type (for an SSE "event:" line)
 * and its JSON text (len bytes, NUL-terminated, always valid JSON, never a
 * top-level "error" member except in the "error" event). json is owned by
 * the stream and lives until the callback returns.
 */
typedef void (*front_emit_cb)(void *arg, int64_t seq, const char *type,
    const char *json, size_t len);

/*
 * A stream for run, emitting through cb. Copies what it needs from run.
 * Emits nothing yet. Never NULL; free with front_stream_free.
 */
struct front_stream	*front_stream_new(const struct front_run *run,
			    front_emit_cb cb, void *arg);
void			 front_stream_free(struct front_stream *fs);

/*
 * Emit the prelude, response.created (seq 0) then response.in_progress
 * (seq 1), unless already emitted. Every other feeding call starts with
 * it, so calling it at accept time only makes it happen earlier.
 */
void	front_stream_begin(struct front_stream *fs);

/*
 * Feed one stored backend event. Duplicates (seq <= the last seq fed),
 * malformed data, lifecycle, keepalive, resumed and unknown events are
 * absorbed; the rest become client events with agentd's ids and indices.
 * Ignored after front_stream_end.
 */
void	front_stream_event(struct front_stream *fs, int64_t seq,
	    const char *type, const char *data, size_t len);

/* Feed n events in order: the same as n calls to front_stream_event. */
void	front_stream_events(struct front_stream *fs,
	    const struct front_event *ev, size_t n);

/*
 * Feed the final Response body of a poll or JSON-only run (len bytes).
 * If no output item was streamed, each of its output items is emitted
 * whole (a message as added, part, one delta, three dones); its usage is
 * kept either way. Call it at most once, with the final body only;
 * front_stream_end with the same body adds no item after it.
 */
void	front_stream_response(struct front_stream *fs, const char *json,
	    size_t len);

/*
 * End the stream: synthesize items from end->response or end->output_text
 * if none was streamed, close every open item (status "incomplete" unless
 * the run completed), then emit the one terminal event: response.completed;
 * the error event then response.failed (failed, abandoned, any unknown
 * status); response.incomplete with status "cancelled" or "incomplete".
 * Later calls do nothing.
 */
void	front_stream_end(struct front_stream *fs, const struct front_end *end);

/*
 * Decode text deltas with the one-pass scanner (on, the default) or with
 * jansson like every other event (off). The output is the same either
 * way; tests and the fuzz target check that it is.
 */
void	front_stream_fast_path(struct front_stream *fs, int on);

/* The seq the next event will carry (2 after the prelude). */
int64_t	front_stream_next_seq(const struct front_stream *fs);
/* 1 once the terminal event went out. */
int	front_stream_ended(const struct front_stream *fs);

/*
 * The Response object for GET /v1/responses/{id} and the cancel answer:
 * status, output so far (open items with their text so far), usage once
 * ended (null before). Allocated JSON text, *len its length if len is not
 * NULL; the caller frees it.
 */
char	*front_stream_snapshot(const struct front_stream *fs, size_t *len);

/*
 * The DELETE answer {"id","object":"response","deleted":true} for
 * response id resp_id. Allocated; the caller frees it.
 */
char	*front_deleted_json(const char *resp_id);

#endif
