/*
 * Protocol decisions for OpenAI Responses API compatible backends and the
 * Databricks long-running agent server (see the README's protocol notes).
 * Everything here is a pure function of its arguments.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "backend.h"
#include "jscan.h"
#include "xmalloc.h"

static const char *const mode_names[] = {
	[MODE_BACKGROUND] = "background",
	[MODE_STREAM] = "stream",
	[MODE_POLL] = "poll",
	[MODE_BATCH] = "batch",
};

/* Name of a mode. */
const char *
backend_mode_name(enum backend_mode m)
{
	return mode_names[m];
}

/* Parse a mode name; 0 or -1. */
int
backend_mode_parse(const char *s, enum backend_mode *m)
{
	size_t	i;

	for (i = 0; i < sizeof mode_names / sizeof mode_names[0]; i++)
		if (strcmp(s, mode_names[i]) == 0) {
			*m = (enum backend_mode)i;
			return 0;
		}
	return -1;
}

/* Parse a dialect name; 0 or -1. */
int
backend_dialect_parse(const char *s, enum backend_dialect *d)
{
	if (strcmp(s, "openai") == 0)
		*d = DIALECT_OPENAI;
	else if (strcmp(s, "databricks") == 0)
		*d = DIALECT_DATABRICKS;
	else
		return -1;
	return 0;
}

/* Name of a dialect. */
const char *
backend_dialect_name(enum backend_dialect d)
{
	return d == DIALECT_DATABRICKS ? "databricks" : "openai";
}

/* First mode to try given the request and what the endpoint supports. */
enum backend_mode
backend_first_mode(const char *requested, int background, int stream)
{
	enum backend_mode	m;

	if (requested != NULL && strcmp(requested, "auto") != 0 &&
	    backend_mode_parse(requested, &m) == 0)
		return m;
	if (background == 0 && stream == 0)
		return MODE_BATCH;
	if (background == 0)
		return MODE_STREAM;
	if (stream == 0)
		return MODE_POLL;
	return MODE_BACKGROUND;
}

/* Step down the negotiation ladder. */
int
backend_next_mode(enum backend_mode m, enum backend_verdict v)
{
	if (v == VERDICT_NO_BACKGROUND) {
		if (m == MODE_BACKGROUND)
			return MODE_STREAM;
		if (m == MODE_POLL)
			return MODE_BATCH;
	}
	if (v == VERDICT_NO_STREAM) {
		if (m == MODE_BACKGROUND)
			return MODE_POLL;
		if (m == MODE_STREAM)
			return MODE_BATCH;
	}
	return -1;
}

/* The request with the mode's flags set. */
char *
backend_create_body(const char *request, enum backend_mode m, char **cause)
{
	json_error_t	 jerr;
	json_t		*req;
	char		*out;
	int		 bg, stream;

	req = json_loads(request, JSON_REJECT_DUPLICATES, &jerr);
	if (req == NULL || !json_is_object(req)) {
		xasprintf(cause, "request is not a JSON object%s%s",
		    req == NULL ? ": " : "", req == NULL ? jerr.text : "");
		json_decref(req);
		return NULL;
	}
	bg = m == MODE_BACKGROUND || m == MODE_POLL;
	stream = m == MODE_BACKGROUND || m == MODE_STREAM;
	if (bg)
		json_object_set_new(req, "background", json_true());
	else
		json_object_del(req, "background");
	json_object_set_new(req, "stream", json_boolean(stream));
	/* Unstored background responses vanish after about 10 minutes. */
	if (bg && json_object_get(req, "store") == NULL)
		json_object_set_new(req, "store", json_true());
	out = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	if (out == NULL)
		xasprintf(cause, "cannot serialise request");
	return out;
}

/* Build a URL from a base and a path template. */
char *
backend_url(const char *base, const char *tmpl, const char *id, int stream,
    int64_t starting_after)
{
	const char	*p;
	char		*esc = NULL, *path, *url;
	size_t		 blen = strlen(base);

	if (id != NULL)
		esc = curl_easy_escape(NULL, id, 0);
	if ((p = strstr(tmpl, "{id}")) != NULL && esc != NULL)
		xasprintf(&path, "%.*s%s%s", (int)(p - tmpl), tmpl, esc,
		    p + 4);
	else
		path = xstrdup(tmpl);
	curl_free(esc);
	while (blen > 0 && base[blen - 1] == '/')
		blen--;
	if (!stream)
		xasprintf(&url, "%.*s%s", (int)blen, base, path);
	else if (starting_after < 0)
		xasprintf(&url, "%.*s%s?stream=true", (int)blen, base, path);
	else
		xasprintf(&url, "%.*s%s?stream=true&starting_after=%lld",
		    (int)blen, base, path, (long long)starting_after);
	free(path);
	return url;
}

/* Case-insensitive substring search in a bounded buffer. */
static int
mentions(const char *body, size_t len, const char *word)
{
	size_t	wl = strlen(word), i;

	if (body == NULL || len < wl)
		return 0;
	for (i = 0; i + wl <= len; i++)
		if (strncasecmp(body + i, word, wl) == 0)
			return 1;
	return 0;
}

/* Classify an HTTP answer. */
enum backend_verdict
backend_classify(long status, const char *body, size_t len, int is_create)
{
	if (status >= 200 && status < 300)
		return VERDICT_OK;
	if (status == 429 || status >= 500 || status == 408)
		return VERDICT_RETRY;
	if (status == 406)
		return VERDICT_NO_STREAM;
	if (!is_create && status == 404)
		return VERDICT_GONE;
	if (is_create && (status == 400 || status == 422)) {
		if (mentions(body, len, "background"))
			return VERDICT_NO_BACKGROUND;
		if (mentions(body, len, "stream"))
			return VERDICT_NO_STREAM;
	}
	return VERDICT_FAIL;
}

/* Copy a jansson string or number field into out, escaped for display. */
static int
copy_field(json_t *o, const char *key, char *out, size_t outlen)
{
	json_t	*v = json_object_get(o, key);

	if (json_is_string(v)) {
		snprintf(out, outlen, "%s", json_string_value(v));
		return 1;
	}
	if (v != NULL && !json_is_null(v)) {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);

		snprintf(out, outlen, "%s", s != NULL ? s : "?");
		free(s);
		return 1;
	}
	return 0;
}

/* Human message from a stream error event, nested or flat. */
void
backend_event_error(json_t *ev, char *out, size_t outlen)
{
	json_t	*e = json_object_get(ev, "error");
	char	 msg[1024] = "", code[128] = "";

	if (!json_is_object(e))
		e = ev;
	copy_field(e, "message", msg, sizeof msg);
	if (!copy_field(e, "code", code, sizeof code))
		copy_field(e, "type", code, sizeof code);
	if (*msg == '\0')
		snprintf(msg, sizeof msg, "error event without a message");
	if (*code != '\0')
		snprintf(out, outlen, "%s (%s)", msg, code);
	else
		snprintf(out, outlen, "%s", msg);
}

/* Human message from an HTTP error body. */
void
backend_error_message(const char *body, size_t len, char *out, size_t outlen)
{
	json_t	*o;
	size_t	 i, n;

	if (outlen == 0)
		return;
	*out = '\0';
	if (body == NULL || len == 0) {
		snprintf(out, outlen, "empty response body");
		return;
	}
	o = json_loadb(body, len, 0, NULL);
	if (json_is_object(o)) {
		if (json_is_object(json_object_get(o, "error")) ||
		    json_object_get(o, "message") != NULL)
			backend_event_error(o, out, outlen);
		else if (!copy_field(o, "detail", out, outlen))
			*out = '\0';
	}
	json_decref(o);
	if (*out != '\0')
		return;
	/* Not JSON we know: show the start of the text, printable only. */
	n = len < outlen - 1 ? len : outlen - 1;
	if (n > 200)
		n = 200;
	for (i = 0; i < n; i++)
		out[i] = isprint((unsigned char)body[i]) ? body[i] : ' ';
	out[n] = '\0';
}

/* Parse Retry-After: delta-seconds or an HTTP date. */
int64_t
backend_retry_after_ms(const char *value, int64_t now_ms)
{
	struct tm	 tm;
	char		*end;
	double		 secs;
	time_t		 t;

	if (value == NULL)
		return -1;
	while (isspace((unsigned char)*value))
		value++;
	if (*value == '\0')
		return -1;
	if (isdigit((unsigned char)*value)) {
		secs = strtod(value, &end);
		while (isspace((unsigned char)*end))
			end++;
		if (*end != '\0' || secs < 0 || secs > 86400)
			return -1;
		return (int64_t)(secs * 1000);
	}
	memset(&tm, 0, sizeof tm);
	end = strptime(value, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL)
		return -1;
	t = timegm(&tm);
	if ((int64_t)t * 1000 <= now_ms)
		return 0;
	if ((int64_t)t * 1000 - now_ms > 86400000)
		return 86400000;
	return (int64_t)t * 1000 - now_ms;
}

/* Parse a Go-style duration ("6m0s", "250ms", "0.5s") into ms. */
int64_t
backend_duration_ms(const char *value)
{
	const char	*p = value;
	double		 total = 0, v;
	char		*end;
	int		 parts = 0;

	if (p == NULL)
		return -1;
	while (isspace((unsigned char)*p))
		p++;
	while (*p != '\0' && !isspace((unsigned char)*p)) {
		if (!isdigit((unsigned char)*p) && *p != '.')
			return -1;
		v = strtod(p, &end);
		if (end == p || v < 0)
			return -1;
		p = end;
		if (strncmp(p, "ms", 2) == 0) {
			total += v;
			p += 2;
		} else if (*p == 'h') {
			total += v * 3600000;
			p++;
		} else if (*p == 'm') {
			total += v * 60000;
			p++;
		} else if (*p == 's') {
			total += v * 1000;
			p++;
		} else
			return -1;
		parts++;
	}
	while (isspace((unsigned char)*p))
		p++;
	if (parts == 0 || *p != '\0' || total > 86400000.0)
		return -1;
	return (int64_t)total;
}

/* Delay before retry number attempt: base * 2^attempt, capped, jittered
 * into [d/2, d]. */
int64_t
backend_backoff_ms(int attempt, int64_t base_ms, int64_t cap_ms, uint32_t rnd)
{
	int64_t	d = base_ms;
	int	i;

	for (i = 0; i < attempt && d < cap_ms; i++)
		d *= 2;
	if (d > cap_ms)
		d = cap_ms;
	if (d < 2)
		return d;
	return d / 2 + (int64_t)(rnd % (uint32_t)(d / 2 + 1));
}

/* Terminal status for an event type, or NULL. */
const char *
backend_event_terminal(enum backend_dialect d, const char *type)
{
	if (type == NULL)
		return NULL;
	if (strcmp(type, "error") == 0 || strcmp(type, "response.failed") == 0)
		return "failed";
	/* Databricks: completed may repeat per tool iteration; [DONE] ends. */
	if (d == DIALECT_DATABRICKS)
		return NULL;
	if (strcmp(type, "response.completed") == 0)
		return "completed";
	if (strcmp(type, "response.incomplete") == 0)
		return "incomplete";
	if (strcmp(type, "response.cancelled") == 0)
		return "cancelled";
	return NULL;
}

/* Is a backend Response.status terminal? */
int
backend_status_terminal(const char *status)
{
	if (status == NULL)
		return 0;
	return strcmp(status, "queued") != 0 &&
	    strcmp(status, "in_progress") != 0;
}

/*
 * Local status for a terminal backend status: a static string, never the
 * argument (which usually lives in a JSON object about to be freed).
 */
const char *
backend_status_local(const char *status)
{
	if (strcmp(status, "completed") == 0)
		return "completed";
	if (strcmp(status, "cancelled") == 0)
		return "cancelled";
	if (strcmp(status, "incomplete") == 0)
		return "incomplete";
	return "failed";
}

/* The output text of a Response object. */
char *
backend_output_text(json_t *response)
{
	json_t	*output, *item, *content, *part, *text;
	size_t	 i, j, len = 0;
	char	*buf = xstrdup("");

	output = json_object_get(response, "output");
	json_array_foreach(output, i, item) {
		if (!json_is_string(json_object_get(item, "type")) ||
		    strcmp(json_string_value(json_object_get(item, "type")),
		    "message") != 0)
			continue;
		content = json_object_get(item, "content");
		json_array_foreach(content, j, part) {
			const char	*pt;
			size_t		 tl;

			pt = json_string_value(json_object_get(part, "type"));
			text = json_object_get(part, "text");
			if (pt == NULL || strcmp(pt, "output_text") != 0 ||
			    !json_is_string(text))
				continue;
			tl = json_string_length(text);
			buf = xrealloc(buf, len + tl + 1);
			memcpy(buf + len, json_string_value(text), tl);
			len += tl;
			buf[len] = '\0';
		}
	}
	return buf;
}

/* Decode one stream event with jansson. */
int
backend_event_parse_slow(enum backend_dialect d, const char *sse_type,
    const char *data, size_t len, struct backend_event *ev)
{
	json_t	*o, *v, *resp;

	memset(ev, 0, sizeof *ev);
	ev->seq = -1;
	if (len == 6 && memcmp(data, "[DONE]", 6) == 0) {
		/* Databricks ends a successful run so; OpenAI never sends it. */
		ev->done_marker = 1;
		ev->type = "[DONE]";
		if (d == DIALECT_DATABRICKS)
			ev->terminal = "completed";
		return 0;
	}
	o = json_loadb(data, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		return -1;
	}
	ev->obj = o;
	ev->type = json_string_value(json_object_get(o, "type"));
	if (ev->type == NULL)
		ev->type = sse_type != NULL ? sse_type : "message";
	resp = json_object_get(o, "response");
	if (json_is_object(resp)) {
		ev->nested_id = json_string_value(json_object_get(resp, "id"));
		/* Under Databricks a nested status is the handler's. */
		if (d != DIALECT_DATABRICKS)
			ev->backend_status = json_string_value(
			    json_object_get(resp, "status"));
	}
	/*
	 * The run's id: the Databricks server's is the flat response_id it
	 * adds to every frame; the nested response.id is its agent handler's
	 * (PROTOCOL.md 2.5, 1). OpenAI sends the nested one.
	 */
	if (d != DIALECT_DATABRICKS)
		ev->response_id = ev->nested_id;
	if (ev->response_id == NULL)
		ev->response_id = json_string_value(json_object_get(o,
		    "response_id"));
	v = json_object_get(o, "sequence_number");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		ev->seq = json_integer_value(v);
	ev->terminal = backend_event_terminal(d, ev->type);
	if (ev->terminal == NULL)
		return 0;
	if (json_is_object(resp))
		ev->response = json_dumps(resp, JSON_COMPACT);
	if (strcmp(ev->terminal, "failed") != 0)
		return 0;
	if (strcmp(ev->type, "error") == 0 || !json_is_object(resp))
		backend_event_error(o, ev->error, sizeof ev->error);
	else if (json_is_object(json_object_get(resp, "error")))
		backend_event_error(resp, ev->error, sizeof ev->error);
	else
		snprintf(ev->error, sizeof ev->error, "the backend reported "
		    "the response failed");
	return 0;
}

/* The members of an event jscan picks out for backend_event_parse. */
enum {
	EVF_TYPE,
	EVF_SEQ,
	EVF_RESPONSE_ID,
	EVF_RESP_ID,
	EVF_RESP_STATUS,
	EVF_COUNT
};

/*
 * Point *out at a NUL-terminated copy in ev->buf of the string field f,
 * or NULL if f is no string (as json_string_value). -1 if the copy would
 * need unescaping or does not fit: the caller then asks jansson.
 */
static int
event_string(struct backend_event *ev, size_t *used,
    const struct jscan_field *f, const char **out)
{
	*out = NULL;
	if (f->kind != JSCAN_STRING)
		return 0;
	if (f->escaped || f->rawlen >= sizeof ev->buf - *used)
		return -1;
	memcpy(ev->buf + *used, f->raw, f->rawlen);
	ev->buf[*used + f->rawlen] = '\0';
	*out = ev->buf + *used;
	*used += f->rawlen + 1;
	return 0;
}

/*
 * Decode one stream event. The common case, a delta, is scanned once
 * without building a tree (jansson's tree was half of a worker's CPU).
 * Terminal events need the response and the error as JSON, so they go to
 * jansson, as does whatever jscan is unsure of.
 */
int
backend_event_parse(enum backend_dialect d, const char *sse_type,
    const char *data, size_t len, struct backend_event *ev)
{
	struct jscan_field	 f[EVF_COUNT] = {
		[EVF_TYPE] = { .key = "type" },
		[EVF_SEQ] = { .key = "sequence_number" },
		[EVF_RESPONSE_ID] = { .key = "response_id" },
		[EVF_RESP_ID] = { .key = "id", .parent = "response" },
		[EVF_RESP_STATUS] = { .key = "status", .parent = "response" },
	};
	size_t			 used = 0;

	if (len == 6 && memcmp(data, "[DONE]", 6) == 0)
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	switch (jscan_object(data, len, f, EVF_COUNT)) {
	case JSCAN_OK:
		break;
	case JSCAN_INVALID:
		memset(ev, 0, sizeof *ev);
		ev->seq = -1;
		return -1;
	default:
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	}

	memset(ev, 0, sizeof *ev);
	ev->seq = -1;
	if (event_string(ev, &used, &f[EVF_TYPE], &ev->type) == -1)
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	if (ev->type == NULL)
		ev->type = sse_type != NULL ? sse_type : "message";
	if (backend_event_terminal(d, ev->type) != NULL)
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	/*
	 * As the slow path: OpenAI takes response.id first, then a flat
	 * response_id; Databricks the flat response_id only.
	 */
	if (event_string(ev, &used, &f[EVF_RESP_ID], &ev->nested_id) == -1 ||
	    (d != DIALECT_DATABRICKS && event_string(ev, &used,
	    &f[EVF_RESP_STATUS], &ev->backend_status) == -1))
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	if (d != DIALECT_DATABRICKS)
		ev->response_id = ev->nested_id;
	if (ev->response_id == NULL && event_string(ev, &used,
	    &f[EVF_RESPONSE_ID], &ev->response_id) == -1)
		return backend_event_parse_slow(d, sse_type, data, len, ev);
	if (f[EVF_SEQ].kind == JSCAN_INTEGER && f[EVF_SEQ].integer >= 0)
		ev->seq = f[EVF_SEQ].integer;
	return 0;
}

/* Release what backend_event_parse allocated. */
void
backend_event_clear(struct backend_event *ev)
{
	json_decref(ev->obj);		/* NULL after the fast path */
	free(ev->response);
	memset(ev, 0, sizeof *ev);
	ev->seq = -1;
}
