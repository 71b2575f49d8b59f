/*
 * The backend protocol as pure decisions: which mode to try, the create
 * body, URLs, how to read errors, terminal events and statuses, Retry-After
 * and backoff, the output text. No I/O here (transfers live in xfer.c, the
 * per-run state machine in worker.c), so all of it is unit-tested.
 */
#ifndef AGENTD_BACKEND_H
#define AGENTD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

enum backend_mode {
	MODE_BACKGROUND,	/* background + stream: resumable stream */
	MODE_STREAM,		/* plain stream: not resumable */
	MODE_POLL,		/* background, no stream: poll retrieve */
	MODE_BATCH		/* neither: one synchronous JSON answer */
};

enum backend_dialect {
	DIALECT_OPENAI,
	DIALECT_DATABRICKS
};

/* What to do with an HTTP answer to create. */
enum backend_verdict {
	VERDICT_OK,		/* 2xx */
	VERDICT_RETRY,		/* 429, 5xx: back off and retry */
	VERDICT_NO_BACKGROUND,	/* background rejected: step down */
	VERDICT_NO_STREAM,	/* 406 or stream rejected: step down */
	VERDICT_GONE,		/* 404 on retrieve: backend forgot the run */
	VERDICT_FAIL		/* anything else: fail with the error */
};

struct backend_paths {
	const char	*create;	/* "/responses" */
	const char	*retrieve;	/* "/responses/{id}" */
	const char	*cancel;	/* "/responses/{id}/cancel" */
};

const char	*backend_mode_name(enum backend_mode m);
int		 backend_mode_parse(const char *s, enum backend_mode *m);
int		 backend_dialect_parse(const char *s,
		    enum backend_dialect *d);
const char	*backend_dialect_name(enum backend_dialect d);

/*
 * Pick the first mode to try. requested is "auto" or a mode name (an
 * explicit mode skips the ladder); caps are -1 unknown, 0 no, 1 yes.
 */
enum backend_mode backend_first_mode(const char *requested, int background,
		    int stream);
/* Next rung of the ladder after verdict, or -1 if there is none. */
int		 backend_next_mode(enum backend_mode m,
		    enum backend_verdict v);

/*
 * The create body: the user's request (a JSON object) with background,
 * stream and store set for mode ("store": true unless the request says).
 * Allocated; NULL with *cause if the request is not a JSON object.
 */
char		*backend_create_body(const char *request, enum backend_mode m,
		    char **cause);

/*
 * URL for path template tmpl ("{id}" replaced by the url-escaped id) under
 * base; starting_after < -1 means no query, -1 "?stream=true", >= 0 adds
 * "&starting_after=N". Allocated.
 */
char		*backend_url(const char *base, const char *tmpl,
		    const char *id, int stream, int64_t starting_after);

/* Classify an HTTP status (+ error body) answered to create or retrieve. */
enum backend_verdict backend_classify(long status, const char *body,
		    size_t len, int is_create);

/*
 * Extract a human message from an error body: {"error":{"message"}},
 * {"detail": ...}, a flat {"message"}, or the raw text (truncated).
 * Writes into out (always NUL-terminated).
 */
void		 backend_error_message(const char *body, size_t len,
		    char *out, size_t outlen);
/* The same for a parsed stream "error" event (nested or flat). */
void		 backend_event_error(json_t *ev, char *out, size_t outlen);

/* Retry-After header value (seconds or HTTP date) in ms, or -1. */
int64_t		 backend_retry_after_ms(const char *value, int64_t now_ms);
/*
 * A rate-limit reset duration as OpenAI sends it in x-ratelimit-reset-*
 * ("1s", "6m0s", "1h2m3s", "250ms", "0.5s") in ms, or -1.
 */
int64_t		 backend_duration_ms(const char *value);
/* Exponential backoff with jitter: attempt 0.., rnd any 32-bit value. */
int64_t		 backend_backoff_ms(int attempt, int64_t base_ms,
		    int64_t cap_ms, uint32_t rnd);

/*
 * The local terminal status for a stream event type, or NULL if the event
 * is not terminal in this dialect.
 */
const char	*backend_event_terminal(enum backend_dialect d,
		    const char *type);
/* 1 if a backend Response.status is terminal (not queued/in_progress). */
int		 backend_status_terminal(const char *status);
/* Map a terminal backend status to agentd's run status. */
const char	*backend_status_local(const char *status);

/*
 * One stream event, decoded: what the worker needs to dedupe, store and
 * finish a run. Pointers are into obj, buf or the caller's sse_type and
 * live until backend_event_clear; the struct must not be copied (buf).
 */
#define BACKEND_EVENT_BUF	256
struct backend_event {
	json_t		*obj;		/* the parsed data, owned; NULL when
					   the scanner sufficed */
	const char	*type;		/* JSON "type", else the SSE name */
	int64_t		 seq;		/* -1: missing or invalid */
	const char	*response_id;	/* the backend's id for the run, per
					   dialect: OpenAI response.id, else
					   the flat response_id; Databricks
					   the flat response_id only */
	const char	*nested_id;	/* response.id as sent: under
					   Databricks the agent handler's own
					   id (a new one per tool step), data,
					   never the id to resume with */
	const char	*backend_status;	/* response.status (OpenAI) */
	const char	*terminal;	/* local final status, or NULL */
	int		 done_marker;	/* data: [DONE] */
	char		*response;	/* final response JSON (allocated) */
	char		 error[1024];	/* why it failed, "" if not */
	char		 buf[BACKEND_EVENT_BUF];	/* fast path strings */
};
/*
 * Decode one event's data. 0, or -1 if the data is neither [DONE] nor a
 * JSON object (ev is then empty). Always call backend_event_clear.
 * Non-terminal events are decoded by one pass of jscan, without jansson;
 * the rest, and what jscan is unsure of, by backend_event_parse_slow.
 */
int		 backend_event_parse(enum backend_dialect d,
		    const char *sse_type, const char *data, size_t len,
		    struct backend_event *ev);
/*
 * The same with jansson alone: the reference backend_event_parse must
 * agree with (tests/fuzz/fuzz_jscan.c checks it does) and its fallback.
 */
int		 backend_event_parse_slow(enum backend_dialect d,
		    const char *sse_type, const char *data, size_t len,
		    struct backend_event *ev);
void		 backend_event_clear(struct backend_event *ev);

/* Concatenate output[].content[].text of message items. Allocated. */
char		*backend_output_text(json_t *response);

#endif
