/*
 * The front's event stream: the prelude, the Response objects its
 * lifecycle events and GET carry, the terminal event and its error shapes
 * (FRONT.md part C, rules 1, 4, 6-8). Output items and the mapping of
 * upstream events live in front-stream-items.c.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "front-stream-internal.h"
#include "log.h"
#include "xmalloc.h"

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0. */
static size_t
fs_utf8_len(const unsigned char *s, size_t n)
{
	unsigned int	c = s[0], cp;
	size_t		len, i;

	if (c < 0x80)
		return c == 0 ? 0 : 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, cp = c & 0x07;
	else
		return 0;
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/*
 * A JSON string of len bytes of s (NULL: ""), any byte that is not valid
 * UTF-8 replaced by '?', so text from outside never breaks the output.
 * Never NULL.
 */
json_t *
front_jstrn(const char *s, size_t len)
{
	const unsigned char	*u = (const unsigned char *)s;
	json_t			*j;
	char			*copy;
	size_t			 i, k;

	if (s == NULL)
		return json_string("");
	if ((j = json_stringn(s, len)) != NULL)
		return j;
	copy = xmalloc(len + 1);
	for (i = 0; i < len; i += k) {
		if ((k = fs_utf8_len(u + i, len - i)) == 0) {
			copy[i] = '?';
			k = 1;
		} else
			memcpy(copy + i, s + i, k);
	}
	if ((j = json_stringn(copy, len)) == NULL)
		fatalx("front: cannot hold a sanitized string");
	free(copy);
	return j;
}

/* The same for a NUL-terminated string (NULL: ""). Never NULL. */
json_t *
front_jstr(const char *s)
{
	return front_jstrn(s, s != NULL ? strlen(s) : 0);
}

/* Copy run_id keeping [A-Za-z0-9_-] (others become '_'). Allocated. */
static char *
fs_clean_id(const char *run_id)
{
	char	*s;
	size_t	 i, n;

	if (run_id == NULL)
		run_id = "";
	n = strnlen(run_id, 64);
	s = xstrndup(run_id, n);
	for (i = 0; i < n; i++) {
		char	c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '-'))
			s[i] = '_';
	}
	return s;
}

/* Copy member key of req into base if it has one of the given types. */
static void
fs_echo(json_t *base, json_t *req, const char *key, int types,
    json_t *dflt)
{
	json_t	*v = json_object_get(req, key);

	if (v != NULL && (types & (1 << json_typeof(v))))
		json_object_set(base, key, v);
	else if (dflt != NULL)
		json_object_set(base, key, dflt);
	json_decref(dflt);
}

#define T(t)	(1 << (t))
#define TNUM	(T(JSON_INTEGER) | T(JSON_REAL))
/*
 * The request fields every Response echoes, in a fixed order: the ones
 * FRONT.md 2.1 requires (with defaults), then a few optional ones when
 * the request has them. New reference.
 */
static json_t *
fs_base(const struct front_run *run)
{
	json_t		*req, *base = json_object(), *model;
	const char	*m;

	req = run->request != NULL ? json_loads(run->request, 0, NULL) : NULL;
	if (!json_is_object(req)) {
		json_decref(req);
		req = json_object();
	}
	fs_echo(base, req, "instructions", T(JSON_STRING) | T(JSON_ARRAY),
	    json_null());
	fs_echo(base, req, "metadata", T(JSON_OBJECT), json_object());
	m = run->model;
	if (m == NULL)
		m = json_string_value(json_object_get(req, "model"));
	model = front_jstr(m);
	json_object_set_new(base, "model", model);
	fs_echo(base, req, "parallel_tool_calls", T(JSON_TRUE) | T(JSON_FALSE),
	    json_true());
	fs_echo(base, req, "temperature", TNUM, json_null());
	fs_echo(base, req, "tool_choice", T(JSON_STRING) | T(JSON_OBJECT),
	    json_string("auto"));
	fs_echo(base, req, "tools", T(JSON_ARRAY), json_array());
	fs_echo(base, req, "top_p", TNUM, json_null());
	fs_echo(base, req, "max_output_tokens", T(JSON_INTEGER), NULL);
	fs_echo(base, req, "previous_response_id", T(JSON_STRING), NULL);
	fs_echo(base, req, "reasoning", T(JSON_OBJECT), NULL);
	fs_echo(base, req, "store", T(JSON_TRUE) | T(JSON_FALSE), NULL);
	fs_echo(base, req, "text", T(JSON_OBJECT), NULL);
	fs_echo(base, req, "truncation", T(JSON_STRING), NULL);
	fs_echo(base, req, "user", T(JSON_STRING), NULL);
	json_decref(req);
	return base;
}
#undef T
#undef TNUM

/* Create a front stream (see front-stream.h). */
struct front_stream *
front_stream_new(const struct front_run *run, front_emit_cb cb, void *arg)
{
	struct front_stream	*fs = xcalloc(1, sizeof *fs);
	char			*id = fs_clean_id(run->run_id);

	fs->cb = cb;
	fs->arg = arg;
	xasprintf(&fs->resp_id, "resp_%s", id);
	fs->idpart = xstrdup(strncmp(id, "r_", 2) == 0 ? id + 2 : id);
	free(id);
	fs->created_at = run->created_at;
	fs->background = run->background != 0;
	fs->dialect = run->dialect;
	fs->base = fs_base(run);
	fs->last_up_seq = -1;
	return fs;
}

/* Free fs and everything it holds; NULL is fine. */
void
front_stream_free(struct front_stream *fs)
{
	if (fs == NULL)
		return;
	front_items_free(fs);
	json_decref(fs->base);
	json_decref(fs->incomplete);
	free(fs->resp_id);
	free(fs->idpart);
	free(fs->up_error);
	free(fs->end_error);
	free(fs);
}

/* A new event object {"type","sequence_number"} for the next seq. */
json_t *
front_event_new(struct front_stream *fs, const char *type)
{
	json_t	*ev = json_object();

	json_object_set_new(ev, "type", json_string(type));
	json_object_set_new(ev, "sequence_number",
	    json_integer(fs->next_seq));
	return ev;
}

/* Write ev (made by front_event_new; reference taken) to the callback. */
void
front_emit(struct front_stream *fs, json_t *ev)
{
	char	*s;

	s = json_dumps(ev, JSON_COMPACT);
	if (s == NULL)
		fatalx("front: cannot encode an event");
	if (fs->cb != NULL)
		fs->cb(fs->arg, fs->next_seq,
		    json_string_value(json_object_get(ev, "type")), s,
		    strlen(s));
	fs->next_seq++;
	free(s);
	json_decref(ev);
}

/* A non-negative integer member of o, or 0. */
static int64_t
fs_count(json_t *o, const char *key)
{
	json_int_t	v = json_integer_value(json_object_get(o, key));

	return v > 0 ? v : 0;
}

/* Saturating a + b for token counts. */
static int64_t
fs_sum(int64_t a, int64_t b)
{
	return a > INT64_MAX - b ? INT64_MAX : a + b;
}

/*
 * Read resp's usage into u, adding to it when add is set (Databricks tool
 * steps each report their own). A usage without input or output token
 * counts leaves u as it was.
 */
void
front_usage_read(json_t *resp, struct fs_usage *u, int add)
{
	json_t		*us = json_object_get(resp, "usage");
	struct fs_usage	 n;

	if (!json_is_integer(json_object_get(us, "input_tokens")) &&
	    !json_is_integer(json_object_get(us, "output_tokens")))
		return;
	n.known = 1;
	n.input = fs_count(us, "input_tokens");
	n.output = fs_count(us, "output_tokens");
	n.cached = fs_count(json_object_get(us, "input_tokens_details"),
	    "cached_tokens");
	n.reasoning = fs_count(json_object_get(us, "output_tokens_details"),
	    "reasoning_tokens");
	n.total = json_is_integer(json_object_get(us, "total_tokens")) ?
	    fs_count(us, "total_tokens") : fs_sum(n.input, n.output);
	if (add && u->known) {
		u->input = fs_sum(u->input, n.input);
		u->output = fs_sum(u->output, n.output);
		u->cached = fs_sum(u->cached, n.cached);
		u->reasoning = fs_sum(u->reasoning, n.reasoning);
		u->total = fs_sum(u->total, n.total);
	} else
		*u = n;
}

/* Keep the message of an upstream error event or failed response. */
void
front_note_error(struct front_stream *fs, json_t *o)
{
	json_t		*e = json_object_get(o, "error");
	const char	*m;

	m = json_string_value(json_object_get(json_is_object(e) ? e : o,
	    "message"));
	if (m == NULL || *m == '\0')
		return;
	free(fs->up_error);
	fs->up_error = xstrdup(m);
}

/* The usage object to report: the final body's, the stream's, or zeros. */
static json_t *
fs_usage_json(const struct front_stream *fs)
{
	const struct fs_usage	*u = fs->resp_usage.known ? &fs->resp_usage :
				    &fs->usage;

	return json_pack("{sI so sI so sI}",
	    "input_tokens", (json_int_t)u->input,
	    "input_tokens_details", json_pack("{sI}", "cached_tokens",
	    (json_int_t)u->cached),
	    "output_tokens", (json_int_t)u->output,
	    "output_tokens_details", json_pack("{sI}", "reasoning_tokens",
	    (json_int_t)u->reasoning),
	    "total_tokens", (json_int_t)u->total);
}

/*
 * The Response object with status (a static string); usage and the end's
 * error, incomplete_details and completed_at once the stream has ended.
 * New reference.
 */
static json_t *
fs_response(const struct front_stream *fs, const char *status)
{
	json_t	*r = json_object(), *out = json_array();
	size_t	 i;

	json_object_set_new(r, "id", json_string(fs->resp_id));
	json_object_set_new(r, "object", json_string("response"));
	json_object_set_new(r, "created_at", json_integer(fs->created_at));
	json_object_set_new(r, "status", json_string(status));
	json_object_set_new(r, "background", json_boolean(fs->background));
	if (fs->ended && strcmp(status, "completed") == 0)
		json_object_set_new(r, "completed_at",
		    json_integer(fs->completed_at));
	if (fs->ended && fs->end_error != NULL)
		json_object_set_new(r, "error", json_pack("{ss so}", "code",
		    "server_error", "message", front_jstr(fs->end_error)));
	else
		json_object_set_new(r, "error", json_null());
	json_object_set(r, "incomplete_details", fs->ended &&
	    fs->incomplete != NULL ? fs->incomplete : json_null());
	json_object_update(r, fs->base);
	for (i = 0; i < fs->nitems; i++)
		json_array_append_new(out, front_item_json(fs, &fs->items[i]));
	json_object_set_new(r, "output", out);
	json_object_set_new(r, "usage", fs->ended ? fs_usage_json(fs) :
	    json_null());
	return r;
}

/* Emit the lifecycle event type with a Response of status. */
static void
fs_lifecycle(struct front_stream *fs, const char *type, const char *status)
{
	json_t	*ev = front_event_new(fs, type);

	json_object_set_new(ev, "response", fs_response(fs, status));
	front_emit(fs, ev);
}

/* Emit the prelude once (rule 1): created, then in_progress. */
void
front_stream_begin(struct front_stream *fs)
{
	if (fs->begun)
		return;
	fs->begun = 1;
	fs_lifecycle(fs, "response.created", fs->background ? "queued" :
	    "in_progress");
	fs_lifecycle(fs, "response.in_progress", "in_progress");
}

/* Feed one stored backend event (see front-stream.h). */
void
front_stream_event(struct front_stream *fs, int64_t seq, const char *type,
    const char *data, size_t len)
{
	json_t	*o;

	front_stream_begin(fs);
	if (fs->ended)
		return;
	if (seq >= 0) {
		/* Upstream duplicates, e.g. Databricks's repeated seq 0. */
		if (seq <= fs->last_up_seq)
			return;
		fs->last_up_seq = seq;
	}
	if (data == NULL)
		return;
	/* The common case, a text delta, without building a tree. */
	if (!fs->no_fast && front_fast_event(fs, type, data, len))
		return;
	o = json_loadb(data, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return;
	}
	if (type == NULL)
		type = json_string_value(json_object_get(o, "type"));
	if (type != NULL)
		front_upstream(fs, type, o);
	json_decref(o);
}

/* Feed n stored events in order. */
void
front_stream_events(struct front_stream *fs, const struct front_event *ev,
    size_t n)
{
	size_t	i;

	front_stream_begin(fs);
	for (i = 0; i < n; i++)
		front_stream_event(fs, ev[i].seq, ev[i].type, ev[i].data,
		    ev[i].len);
}

/* Take a parsed final body: items if none streamed, and its usage. */
static void
fs_take_response(struct front_stream *fs, json_t *resp)
{
	fs->response_fed = 1;
	if (!json_is_object(resp))
		return;
	front_usage_read(resp, &fs->resp_usage, 0);
	if (fs->nitems == 0)
		front_synth_output(fs, resp);
}

/* Feed the final Response body (see front-stream.h). */
void
front_stream_response(struct front_stream *fs, const char *json, size_t len)
{
	json_t	*resp;

	front_stream_begin(fs);
	if (fs->ended || fs->response_fed)
		return;
	resp = json != NULL ? json_loadb(json, len, 0, NULL) : NULL;
	fs_take_response(fs, resp);
	json_decref(resp);
}

/* Emit rule 7's hybrid error event: flat fields and a nested error. */
static void
fs_error_event(struct front_stream *fs, const char *msg)
{
	json_t	*ev = front_event_new(fs, "error");

	json_object_set_new(ev, "code", json_string("server_error"));
	json_object_set_new(ev, "message", front_jstr(msg));
	json_object_set_new(ev, "param", json_null());
	json_object_set_new(ev, "error", json_pack("{ss ss so sn}", "type",
	    "server_error", "code", "server_error", "message", front_jstr(msg),
	    "param"));
	front_emit(fs, ev);
}

/* End the stream with the one terminal event (see front-stream.h). */
void
front_stream_end(struct front_stream *fs, const struct front_end *end)
{
	const char	*st = end != NULL ? end->status : NULL;
	json_t		*resp = NULL, *inc;
	int		 failed = 0;

	front_stream_begin(fs);
	if (fs->ended)
		return;
	/* Once the items are known, only three members are read. */
	if (end != NULL && end->response != NULL && !fs->no_fast &&
	    (fs->nitems > 0 || fs->response_fed))
		resp = front_fast_end_response(end->response,
		    strlen(end->response));
	if (resp == NULL && end != NULL && end->response != NULL)
		resp = json_loads(end->response, 0, NULL);
	if (!fs->response_fed && resp != NULL)
		fs_take_response(fs, resp);
	if (fs->nitems == 0 && end != NULL && end->output_text != NULL &&
	    *end->output_text != '\0')
		front_synth_text(fs, end->output_text, st != NULL &&
		    strcmp(st, "completed") == 0 ? "completed" : "incomplete");
	if (st != NULL && strcmp(st, "completed") == 0)
		fs->end_status = "completed";
	else if (st != NULL && strcmp(st, "cancelled") == 0)
		fs->end_status = "cancelled";
	else if (st != NULL && strcmp(st, "incomplete") == 0) {
		fs->end_status = "incomplete";
		inc = json_object_get(resp, "incomplete_details");
		if (json_is_object(inc) && json_is_string(json_object_get(inc,
		    "reason")))
			fs->incomplete = json_pack("{sO}", "reason",
			    json_object_get(inc, "reason"));
	} else {
		fs->end_status = "failed";
		failed = 1;
		if (end != NULL && end->error != NULL && *end->error != '\0')
			fs->end_error = xstrdup(end->error);
		else if (fs->up_error != NULL)
			fs->end_error = xstrdup(fs->up_error);
		else
			fs->end_error = xstrdup(st != NULL &&
			    strcmp(st, "abandoned") == 0 ?
			    "the run was abandoned" : "the run failed");
	}
	/* completed_at is an input, never the clock, so replays agree. */
	if (end != NULL && end->finished_at > 0)
		fs->completed_at = end->finished_at;
	else if (json_integer_value(json_object_get(resp, "completed_at")) > 0)
		fs->completed_at = json_integer_value(json_object_get(resp,
		    "completed_at"));
	else
		fs->completed_at = fs->created_at;
	json_decref(resp);
	/* Rule 3: every item closed before the terminal event. */
	front_close_open(fs, strcmp(fs->end_status, "completed") == 0 ?
	    "completed" : "incomplete");
	fs->ended = 1;
	if (failed) {
		fs_error_event(fs, fs->end_error);
		fs_lifecycle(fs, "response.failed", "failed");
	} else if (strcmp(fs->end_status, "completed") == 0)
		fs_lifecycle(fs, "response.completed", "completed");
	else
		/* Rule 8: no spec event for cancel; incomplete throws least. */
		fs_lifecycle(fs, "response.incomplete", fs->end_status);
}

/* The seq of the next event. */
int64_t
front_stream_next_seq(const struct front_stream *fs)
{
	return fs->next_seq;
}

/* Has the terminal event gone out? */
int
front_stream_ended(const struct front_stream *fs)
{
	return fs->ended;
}

/* The Response snapshot as JSON text (allocated). */
char *
front_stream_snapshot(const struct front_stream *fs, size_t *len)
{
	json_t	*r;
	char	*s;

	r = fs_response(fs, fs->ended ? fs->end_status : "in_progress");
	if ((s = json_dumps(r, JSON_COMPACT)) == NULL)
		fatalx("front: cannot encode a response");
	json_decref(r);
	if (len != NULL)
		*len = strlen(s);
	return s;
}

/* The DELETE answer for resp_id (allocated). */
char *
front_deleted_json(const char *resp_id)
{
	json_t	*o;
	char	*s;

	o = json_pack("{so ss sb}", "id", front_jstr(resp_id), "object",
	    "response", "deleted", 1);
	if ((s = json_dumps(o, JSON_COMPACT)) == NULL)
		fatalx("front: cannot encode a response");
	json_decref(o);
	return s;
}

/* Turn the scanner's fast path for text deltas on or off. */
void
front_stream_fast_path(struct front_stream *fs, int on)
{
	fs->no_fast = !on;
}
