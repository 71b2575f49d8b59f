/*
 * agent-mock HTTP front end: evhttp setup, routing (with and without the
 * /v1 prefix), the Responses API handlers (create, retrieve, resume,
 * cancel), request validation, the server fault flags (and the injected
 * 429s and 500s of --chaos-429/--chaos-500), the html misbehaviour and the
 * error bodies of both dialects. Every handler answers or attaches its
 * request.
 */
#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "mock.h"

#define ALL_METHODS	(EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD | \
			 EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE | \
			 EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | \
			 EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH)

/* Natural delta length upper bound: "r" + 20 digits + "-tok" + 7 + " ". */
#define NATURAL_DELTA_MAX	33

/* Return the request method as text. */
const char *
http_method(struct evhttp_request *req)
{
	switch (evhttp_request_get_command(req)) {
	case EVHTTP_REQ_GET:
		return "GET";
	case EVHTTP_REQ_POST:
		return "POST";
	case EVHTTP_REQ_HEAD:
		return "HEAD";
	case EVHTTP_REQ_PUT:
		return "PUT";
	case EVHTTP_REQ_DELETE:
		return "DELETE";
	case EVHTTP_REQ_OPTIONS:
		return "OPTIONS";
	case EVHTTP_REQ_TRACE:
		return "TRACE";
	case EVHTTP_REQ_CONNECT:
		return "CONNECT";
	case EVHTTP_REQ_PATCH:
		return "PATCH";
	}
	return "?";
}

/* Log one line for a request when --verbose is on. */
void
http_log(struct mock *m, struct evhttp_request *req, int code,
    const char *note)
{
	const char	*uri;

	if (!m->opts.verbose)
		return;
	if ((uri = evhttp_request_get_uri(req)) == NULL)
		uri = "?";
	log_info("%s %s -> %d%s%s", http_method(req), uri, code,
	    note != NULL ? " " : "", note != NULL ? note : "");
}

/* Return the reason phrase of an HTTP status (libevent's table is short). */
static const char *
http_reason(int code)
{
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 406:
		return "Not Acceptable";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 413:
		return "Content Too Large";
	case 422:
		return "Unprocessable Content";
	case 425:
		return "Too Early";
	case 429:
		return "Too Many Requests";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	}
	return code >= 500 ? "Server Error" : "Client Error";
}

/* Send a complete JSON reply with the given status. */
void
http_reply(struct mock *m, struct evhttp_request *req, int code,
    struct mbuf *body)
{
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "Content-Type", "application/json");
	evbuffer_add(m->out, body->p, body->len);
	evhttp_send_reply(req, code, http_reason(code), m->out);
	/* Normally moved out already; never let it leak into another reply. */
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
}

/*
 * Send an error reply: {"error":{message,type,param,code}} in the OpenAI
 * dialect, {"detail":message} in the Databricks one. param and ecode may
 * be NULL.
 */
void
http_error(struct mock *m, struct evhttp_request *req, int code,
    const char *msg, const char *param, const char *ecode)
{
	struct mbuf	*b = &m->reply;
	const char	*type;

	http_log(m, req, code, msg);
	mbuf_reset(b);
	if (m->opts.dialect == DIALECT_DATABRICKS) {
		mbuf_adds(b, "{\"detail\":");
		mbuf_addjs(b, msg);
		mbuf_addc(b, '}');
		http_reply(m, req, code, b);
		return;
	}
	if (code == 429)
		type = "requests";
	else if (code >= 500)
		type = "server_error";
	else
		type = "invalid_request_error";
	mbuf_adds(b, "{\"error\":{\"message\":");
	mbuf_addjs(b, msg);
	mbuf_adds(b, ",\"type\":");
	mbuf_addjs(b, type);
	mbuf_adds(b, ",\"param\":");
	if (param != NULL)
		mbuf_addjs(b, param);
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"code\":");
	if (ecode != NULL)
		mbuf_addjs(b, ecode);
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, "}}");
	http_reply(m, req, code, b);
}

/* Reply 405 with an Allow header. */
static void
http_bad_method(struct mock *m, struct evhttp_request *req,
    const char *allow)
{
	char	*msg;

	evhttp_add_header(evhttp_request_get_output_headers(req), "Allow",
	    allow);
	if (m->opts.dialect == DIALECT_DATABRICKS)
		msg = xstrdup("Method Not Allowed");
	else
		xasprintf(&msg, "Method %s is not allowed for this URL; "
		    "use %s.", http_method(req), allow);
	http_error(m, req, 405, msg, NULL, NULL);
	free(msg);
}

/* Reply 404 for an unknown or non-retrievable response id. */
static void
http_no_response(struct mock *m, struct evhttp_request *req, const char *id)
{
	char	*msg;

	if (m->opts.dialect == DIALECT_DATABRICKS) {
		http_error(m, req, 404, "Response not found", NULL, NULL);
		return;
	}
	xasprintf(&msg, "Response with id '%s' not found.", id);
	http_error(m, req, 404, msg, NULL, NULL);
	free(msg);
}

/* Reply 404 for a URL that matches no route. */
static void
http_bad_url(struct mock *m, struct evhttp_request *req)
{
	const char	*uri = evhttp_request_get_uri(req);
	char		*msg;

	if (m->opts.dialect == DIALECT_DATABRICKS) {
		http_error(m, req, 404, "Not Found", NULL, NULL);
		return;
	}
	xasprintf(&msg, "Invalid URL (%s %s)", http_method(req),
	    uri != NULL ? uri : "");
	http_error(m, req, 404, msg, NULL, NULL);
	free(msg);
}

/* Return 1 if the request's Accept header asks for an event stream. */
static int
wants_event_stream(struct evhttp_request *req)
{
	const char	*a;

	a = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Accept");
	return a != NULL && strstr(a, "text/event-stream") != NULL;
}

/* Reply 406 for --reject-stream. */
static void
http_reject_stream(struct mock *m, struct evhttp_request *req)
{
	http_error(m, req, 406, "Streaming is not supported by this server "
	    "(agent-mock --reject-stream).", "stream", "unsupported_parameter");
}

/* Answer a create with an error and count it by status. */
static void
create_error(struct mock *m, struct evhttp_request *req, int code,
    const char *msg, const char *param, const char *ecode)
{
	m->st.by_status[code]++;
	http_error(m, req, code, msg, param, ecode);
}

/* Read an optional boolean member; return -1 with err set if mistyped. */
static int
get_bool(json_t *root, const char *key, int *out, char *err, size_t errlen)
{
	json_t	*v = json_object_get(root, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v)) {
		snprintf(err, errlen, "Invalid type for '%s': expected a "
		    "boolean.", key);
		return -1;
	}
	*out = json_is_true(v);
	return 0;
}

/* Parse an integer knob given as a string or a JSON number. */
static int
knob_int(json_t *v, long long min, long long max, long long *out)
{
	double	d;

	if (json_is_string(v))
		return util_parse_int(json_string_value(v), min, max, out);
	if (json_is_integer(v)) {
		if (json_integer_value(v) < min || json_integer_value(v) > max)
			return -1;
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_real(v)) {
		d = json_real_value(v);
		if (!(d >= (double)min && d <= (double)max) ||
		    d != (double)(long long)d)
			return -1;
		*out = (long long)d;
		return 0;
	}
	return -1;
}

/*
 * Read the mock_* knobs of the request metadata into p. Return -1 with a
 * message naming the knob (and the param path) on a bad or unknown knob.
 */
static int
parse_knobs(json_t *md, struct run_params *p, int db, char *err,
    size_t errlen, char *param, size_t paramlen)
{
	const char	*key, *s;
	json_t		*v;
	long long	 per;
	int		 bad;

	json_object_foreach(md, key, v) {
		if (strncmp(key, "mock_", 5) != 0)
			continue;
		snprintf(param, paramlen, "metadata.%s", key);
		bad = 0;
		if (strcmp(key, "mock_events") == 0) {
			if (knob_int(v, 0, MOCK_MAX_EVENTS, &p->events) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_events: expected an integer "
				    "from 0 to %lld.", MOCK_MAX_EVENTS);
				return -1;
			}
		} else if (strcmp(key, "mock_interval_ms") == 0) {
			if (knob_int(v, 0, MOCK_MAX_INTERVAL,
			    &p->interval) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_interval_ms: expected an "
				    "integer from 0 to %lld.",
				    MOCK_MAX_INTERVAL);
				return -1;
			}
		} else if (strcmp(key, "mock_delta_bytes") == 0) {
			if (knob_int(v, 1, MOCK_MAX_DELTA_BYTES,
			    &p->delta_bytes) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_delta_bytes: expected an "
				    "integer from 1 to %lld.",
				    MOCK_MAX_DELTA_BYTES);
				return -1;
			}
		} else if (strcmp(key, "mock_stall_after") == 0) {
			if (knob_int(v, 0, MOCK_MAX_EVENTS,
			    &p->stall_after) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_stall_after: expected an "
				    "integer from 0 to %lld.", MOCK_MAX_EVENTS);
				return -1;
			}
		} else if (strcmp(key, "mock_fail") == 0) {
			s = json_is_string(v) ? json_string_value(v) : NULL;
			if (s == NULL)
				bad = 1;
			else if (strcmp(s, "failed") == 0)
				p->fail = FAIL_FAILED;
			else if (strcmp(s, "error_event") == 0)
				p->fail = FAIL_ERROR_EVENT;
			else if (*s == '\0' || strcmp(s, "none") == 0)
				p->fail = FAIL_NONE;
			else
				bad = 1;
			if (bad) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_fail: expected \"failed\", "
				    "\"error_event\" or \"none\".");
				return -1;
			}
		} else if (strcmp(key, "mock_misbehave") == 0) {
			s = json_is_string(v) ? json_string_value(v) : NULL;
			if (s == NULL || mb_parse(s, &p->mb) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_misbehave: expected "
				    "no_seq, gap, out_of_order, duplicate, "
				    "huge_line, bad_json, silent, trickle, "
				    "id_change, html or none.");
				return -1;
			}
		} else if (db && strcmp(key, "mock_tool_steps") == 0) {
			if (knob_int(v, 1, MOCK_MAX_STEPS,
			    &p->tool_steps) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_tool_steps: expected an "
				    "integer from 1 to %d.", MOCK_MAX_STEPS);
				return -1;
			}
		} else if (db && strcmp(key, "mock_failover_after") == 0) {
			if (knob_int(v, 1, MOCK_MAX_EVENTS,
			    &p->failover_after) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_failover_after: expected an "
				    "integer from 1 to %lld.", MOCK_MAX_EVENTS);
				return -1;
			}
		} else if (db && strcmp(key, "mock_cut_after_seq") == 0) {
			if (knob_int(v, 0, MOCK_MAX_EVENTS,
			    &p->cut_after_seq) != 0) {
				snprintf(err, errlen, "Invalid value for "
				    "metadata.mock_cut_after_seq: expected an "
				    "integer from 0 to %lld.", MOCK_MAX_EVENTS);
				return -1;
			}
		} else if (db) {
			snprintf(err, errlen, "Unknown mock knob "
			    "'metadata.%.64s' (known: mock_events, "
			    "mock_interval_ms, mock_delta_bytes, mock_fail, "
			    "mock_stall_after, mock_misbehave, "
			    "mock_tool_steps, mock_failover_after, "
			    "mock_cut_after_seq).", key);
			return -1;
		} else {
			snprintf(err, errlen, "Unknown mock knob "
			    "'metadata.%.64s' (known: mock_events, "
			    "mock_interval_ms, mock_delta_bytes, mock_fail, "
			    "mock_stall_after, mock_misbehave).", key);
			return -1;
		}
	}
	if (p->events < mb_min_events(p->mb)) {
		snprintf(param, paramlen, "metadata.mock_events");
		snprintf(err, errlen, "Invalid value for metadata.mock_events: "
		    "mock_misbehave %s needs at least %d.", mb_name(p->mb),
		    mb_min_events(p->mb));
		return -1;
	}
	per = p->delta_bytes > 0 ? p->delta_bytes : NATURAL_DELTA_MAX;
	if (p->events * per > MOCK_MAX_TEXT) {
		snprintf(param, paramlen, "metadata.mock_events");
		snprintf(err, errlen, "Invalid value for metadata.mock_events: "
		    "mock_events x mock_delta_bytes exceeds %lld bytes of "
		    "text.", MOCK_MAX_TEXT);
		return -1;
	}
	return 0;
}

/* Parsed create request. */
struct create_req {
	int			background;
	int			stream;
	struct run_params	p;
	char			*model_json;
	char			*metadata_json;
};

/*
 * Validate a create body into cr. Return 0, or the HTTP status of the
 * error already sent.
 */
static int
parse_create(struct mock *m, struct evhttp_request *req,
    struct create_req *cr)
{
	struct evbuffer	*in = evhttp_request_get_input_buffer(req);
	json_t		*root, *md, *model;
	json_error_t	 jerr;
	char		 err[512], param[128];
	size_t		 len = evbuffer_get_length(in);
	const char	*data;
	int		 code = 400;

	data = len > 0 ? (const char *)evbuffer_pullup(in, -1) : "";
	if (data == NULL)
		data = "";
	if ((root = json_loadb(data, len, 0, &jerr)) == NULL) {
		snprintf(err, sizeof err, "We could not parse the JSON body of "
		    "your request: %s (line %d, column %d).", jerr.text,
		    jerr.line, jerr.column);
		create_error(m, req, 400, err, NULL, NULL);
		return 400;
	}
	if (!json_is_object(root)) {
		create_error(m, req, 400, "Invalid body: expected a JSON "
		    "object.", NULL, NULL);
		goto fail;
	}
	if (get_bool(root, "background", &cr->background, err,
	    sizeof err) != 0) {
		create_error(m, req, 400, err, "background", "invalid_type");
		goto fail;
	}
	if (get_bool(root, "stream", &cr->stream, err, sizeof err) != 0) {
		create_error(m, req, 400, err, "stream", "invalid_type");
		goto fail;
	}
	if (m->opts.reject_stream && (cr->stream || wants_event_stream(req))) {
		code = 406;
		m->st.by_status[406]++;
		http_reject_stream(m, req);
		goto fail;
	}
	if (m->opts.reject_background && cr->background) {
		create_error(m, req, 400, "The 'background' parameter is not "
		    "supported.", "background", "unsupported_parameter");
		goto fail;
	}
	md = json_object_get(root, "metadata");
	if (md != NULL && !json_is_null(md) && !json_is_object(md)) {
		create_error(m, req, 400, "Invalid type for 'metadata': "
		    "expected an object.", "metadata", "invalid_type");
		goto fail;
	}
	run_params_default(&cr->p);
	if (json_is_object(md) && parse_knobs(md, &cr->p, dbx(m), err,
	    sizeof err, param, sizeof param) != 0) {
		create_error(m, req, 400, err, param, "invalid_value");
		goto fail;
	}
	cr->metadata_json = json_is_object(md) ?
	    json_dumps(md, JSON_COMPACT) : NULL;
	if (cr->metadata_json == NULL)
		cr->metadata_json = xstrdup("{}");
	model = json_object_get(root, "model");
	cr->model_json = json_is_string(model) ?
	    json_dumps(model, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
	if (cr->model_json == NULL)
		cr->model_json = xstrdup("\"mock-model\"");
	json_decref(root);
	return 0;
fail:
	json_decref(root);
	return code;
}

/* Answer a create of an html run: 200 OK with an HTML page. */
static void
reply_html(struct mock *m, struct evhttp_request *req, const struct run *r)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);

	http_log(m, req, 200, "html");
	evhttp_add_header(h, "Content-Type", "text/html; charset=utf-8");
	evhttp_add_header(h, "X-Mock-Response-Id", r->id);
	evbuffer_add_printf(m->out, "<!DOCTYPE html>\n<html><head><title>502 "
	    "Bad Gateway</title></head>\n<body><h1>Bad Gateway</h1>\n<p>The "
	    "proxy could not reach the upstream server (agent-mock "
	    "mock_misbehave html, %s).</p></body></html>\n", r->id);
	evhttp_send_reply(req, 200, "OK", m->out);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
}

/* POST /responses (and /invocations): create a run or reuse a keyed one. */
static void
handle_create(struct mock *m, struct evhttp_request *req)
{
	struct create_req	 cr;
	struct run		*r = NULL;
	const char		*key;
	char			 buf[64], *msg;
	int			 chaos;

	m->st.creates++;
	/* A 500 may come after the run was created, like a real crash. */
	chaos = chaos_pick(m);
	if (chaos == 429 || (chaos == 500 && chaos_roll(m, 0.5))) {
		m->st.by_status[chaos]++;
		chaos_reply(m, req, chaos);
		return;
	}
	if (m->fail_left > 0) {
		m->fail_left--;
		if (m->opts.retry_after >= 0) {
			snprintf(buf, sizeof buf, "%lld", m->opts.retry_after);
			evhttp_add_header(
			    evhttp_request_get_output_headers(req),
			    "Retry-After", buf);
		}
		if (m->opts.fail_status == 429)
			msg = xstrdup("Rate limit reached (agent-mock "
			    "--fail-creates).");
		else if (m->opts.fail_status >= 500)
			xasprintf(&msg, "The server had an error while "
			    "processing your request (agent-mock "
			    "--fail-creates, status %d).", m->opts.fail_status);
		else
			xasprintf(&msg, "Injected failure (agent-mock "
			    "--fail-creates, status %d).", m->opts.fail_status);
		create_error(m, req, m->opts.fail_status, msg, NULL,
		    m->opts.fail_status == 429 ? "rate_limit_exceeded" : NULL);
		free(msg);
		return;
	}
	memset(&cr, 0, sizeof cr);
	if (parse_create(m, req, &cr) != 0)
		return;
	key = evhttp_find_header(evhttp_request_get_input_headers(req),
	    "Idempotency-Key");
	if (key != NULL && *key == '\0')
		key = NULL;
	if (key != NULL && (r = htab_get(&m->by_key, key)) != NULL) {
		r->creates++;
		m->st.dup_keys++;
	} else {
		r = run_new(m, &cr.p, cr.background, cr.stream, key,
		    cr.model_json, cr.metadata_json);
		if (dbx(m) && r->background)
			state_save(m);
	}
	free(cr.model_json);
	free(cr.metadata_json);
	if (chaos != 0) {
		m->st.by_status[chaos]++;
		chaos_reply(m, req, chaos);
		return;
	}
	m->st.by_status[200]++;
	if (r->p.mb == MB_HTML) {
		reply_html(m, req, r);
		return;
	}
	if (cr.stream && dbx(m) && r->background) {
		/* The server's own retrieve loop from starting_after=0. */
		http_log(m, req, 200, r->id);
		client_attach_db(m, r, req, 0, 0);
	} else if (cr.stream) {
		http_log(m, req, 200, r->id);
		client_attach(m, r, req, CLIENT_SSE, 0);
	} else if (cr.background) {
		http_log(m, req, 200, r->id);
		mbuf_reset(&m->reply);
		if (dbx(m))
			dbx_write_created(m, r, &m->reply);
		else
			run_write_response(m, r, 1, &m->reply);
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "X-Mock-Response-Id", r->id);
		http_reply(m, req, 200, &m->reply);
	} else {
		http_log(m, req, 200, r->id);
		client_attach(m, r, req, CLIENT_JSON, 0);
	}
}

/* Parse a query boolean ("true"/"1"/"false"/"0"); -1 if malformed. */
static int
query_bool(const char *s)
{
	if (s == NULL || *s == '\0' || strcasecmp(s, "false") == 0 ||
	    strcmp(s, "0") == 0)
		return 0;
	if (strcasecmp(s, "true") == 0 || strcmp(s, "1") == 0)
		return 1;
	return -1;
}

/* Parse a query boolean as FastAPI does; -1 if malformed. */
static int
query_bool_db(const char *s)
{
	static const char *const yes[] = { "true", "1", "yes", "on", "t", "y" };
	static const char *const no[] = { "false", "0", "no", "off", "f", "n" };
	size_t			 i;

	if (s == NULL)
		return 0;
	for (i = 0; i < sizeof yes / sizeof yes[0]; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return 1;
		if (strcasecmp(s, no[i]) == 0)
			return 0;
	}
	return -1;
}

/* Append one FastAPI validation error of a query parameter. */
static void
write_invalid(struct mbuf *b, const char *type, const char *name,
    const char *msg, const char *input, const char *ctx)
{
	mbuf_adds(b, "{\"type\":\"");
	mbuf_adds(b, type);
	mbuf_adds(b, "\",\"loc\":[\"query\",\"");
	mbuf_adds(b, name);
	mbuf_adds(b, "\"],\"msg\":\"");
	mbuf_adds(b, msg);
	mbuf_adds(b, "\",\"input\":");
	mbuf_addjs(b, input);
	if (ctx != NULL) {
		mbuf_adds(b, ",\"ctx\":");
		mbuf_adds(b, ctx);
	}
	mbuf_addc(b, '}');
}

/*
 * Validate the Databricks retrieve query as FastAPI does (stream: bool,
 * starting_after: int >= 0) into *stream and *after (-1 if absent).
 * Return 0, or -1 with the 422 already sent.
 */
static int
db_query(struct mock *m, struct evhttp_request *req, const char *st,
    const char *sa, int *stream, long long *after)
{
	struct mbuf	*b = &m->reply;
	long long	 v = 0;
	int		 bad_sa = 0, n = 0;

	*stream = query_bool_db(st);
	*after = -1;
	if (sa != NULL && util_parse_int(sa, LLONG_MIN + 1, LLONG_MAX - 1,
	    &v) != 0)
		bad_sa = 1;
	else if (sa != NULL && v < 0)
		bad_sa = 2;
	else if (sa != NULL)
		*after = v;
	if (*stream >= 0 && bad_sa == 0)
		return 0;
	mbuf_reset(b);
	mbuf_adds(b, "{\"detail\":[");
	if (*stream < 0) {
		write_invalid(b, "bool_parsing", "stream", "Input should be a "
		    "valid boolean, unable to interpret input", st, NULL);
		n++;
	}
	if (bad_sa != 0) {
		if (n > 0)
			mbuf_addc(b, ',');
		if (bad_sa == 1)
			write_invalid(b, "int_parsing", "starting_after",
			    "Input should be a valid integer, unable to parse "
			    "string as an integer", sa, NULL);
		else
			write_invalid(b, "greater_than_equal",
			    "starting_after", "Input should be greater than "
			    "or equal to 0", sa, "{\"ge\":0}");
	}
	mbuf_adds(b, "]}");
	http_log(m, req, 422, "invalid query");
	http_reply(m, req, 422, b);
	return -1;
}

/*
 * The Databricks GET /responses/{id} once its query is valid: a run past
 * --task-timeout fails first; then the minimal poll object, or the
 * retrieve loop from starting_after (0 or absent: from seq 0, inclusive).
 */
static void
get_db(struct mock *m, struct evhttp_request *req, const char *id,
    int stream, long long after)
{
	struct run	*r;
	int64_t		 now = util_mono_ms();
	long long	 avail;
	int		 chaos;

	if (stream)
		m->st.resumes++;
	else
		m->st.polls++;
	if ((chaos = chaos_pick(m)) != 0) {
		chaos_reply(m, req, chaos);
		return;
	}
	if (m->opts.reject_stream && (stream || wants_event_stream(req))) {
		http_reject_stream(m, req);
		return;
	}
	if (!stream && after > 0) {
		http_error(m, req, 400, "starting_after is only supported "
		    "when stream=true.", NULL, NULL);
		return;
	}
	if ((r = htab_get(&m->by_id, id)) == NULL || !r->background) {
		http_no_response(m, req, id);
		return;
	}
	if (dbx_check_timeout(r, now)) {
		state_save(m);
		run_wake(r);
	}
	avail = run_avail(r, now);
	state_commit(m, r, avail);
	if (!stream) {
		http_log(m, req, 200, "poll");
		mbuf_reset(&m->reply);
		dbx_write_poll(m, r, avail, &m->reply);
		http_reply(m, req, 200, &m->reply);
		return;
	}
	if (m->opts.no_resume) {
		http_error(m, req, 400, "Streaming is not enabled for this "
		    "response", NULL, NULL);
		return;
	}
	http_log(m, req, 200, "resume");
	client_attach_db(m, r, req, after <= 0 ? 0 : mb_after(r, after),
	    after < 0 ? 0 : after);
}

/* GET /responses/{id}: retrieve JSON, or resume with ?stream=true. */
static void
handle_get(struct mock *m, struct evhttp_request *req, const char *id)
{
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	struct evkeyvalq	 q;
	struct run		*r;
	const char		*qs, *sa;
	long long		 after = -1, start;
	int			 stream, chaos, rc;

	TAILQ_INIT(&q);
	qs = uri != NULL ? evhttp_uri_get_query(uri) : NULL;
	if (qs != NULL && *qs != '\0' && evhttp_parse_query_str(qs, &q) != 0) {
		m->st.polls++;
		http_error(m, req, 400, "Invalid query string.", NULL, NULL);
		return;
	}
	sa = evhttp_find_header(&q, "starting_after");
	if (dbx(m)) {
		rc = db_query(m, req, evhttp_find_header(&q, "stream"), sa,
		    &stream, &after);
		evhttp_clear_headers(&q);
		if (rc != 0) {
			m->st.polls++;
			return;
		}
		get_db(m, req, id, stream, after);
		return;
	}
	stream = query_bool(evhttp_find_header(&q, "stream"));
	if (stream < 0 || (sa != NULL &&
	    util_parse_int(sa, -1, LLONG_MAX - 1, &after) != 0)) {
		evhttp_clear_headers(&q);
		m->st.polls++;
		http_error(m, req, 400, stream < 0 ? "Invalid value for "
		    "'stream': expected true or false." : "Invalid value for "
		    "'starting_after': expected an integer.",
		    stream < 0 ? "stream" : "starting_after", "invalid_value");
		return;
	}
	evhttp_clear_headers(&q);
	if (stream)
		m->st.resumes++;
	else
		m->st.polls++;
	if ((chaos = chaos_pick(m)) != 0) {
		chaos_reply(m, req, chaos);
		return;
	}
	if (m->opts.reject_stream && (stream || wants_event_stream(req))) {
		http_reject_stream(m, req);
		return;
	}
	if ((r = htab_get(&m->by_id, id)) == NULL || !r->background) {
		http_no_response(m, req, id);
		return;
	}
	if (!stream) {
		http_log(m, req, 200, "poll");
		mbuf_reset(&m->reply);
		run_write_response(m, r, run_avail(r, util_mono_ms()),
		    &m->reply);
		http_reply(m, req, 200, &m->reply);
		return;
	}
	if (m->opts.no_resume) {
		http_error(m, req, 400, "Streaming is not enabled for this "
		    "response", NULL, NULL);
		return;
	}
	start = after < 0 ? 0 : mb_after(r, after);
	http_log(m, req, 200, "resume");
	client_attach(m, r, req, CLIENT_SSE, start);
}

/* POST /responses/{id}/cancel. */
static void
handle_cancel(struct mock *m, struct evhttp_request *req, const char *id)
{
	struct run	*r;
	long long	 before;

	m->st.cancels++;
	if (m->opts.dialect == DIALECT_DATABRICKS) {
		/* The Databricks server's own answer, word for word. */
		http_error(m, req, 501, "Cancellation is not yet implemented.",
		    NULL, NULL);
		return;
	}
	if ((r = htab_get(&m->by_id, id)) == NULL || !r->background) {
		http_no_response(m, req, id);
		return;
	}
	before = r->cancel_at;
	run_cancel(r, util_mono_ms());
	if (r->cancel_at != before)
		run_wake(r);
	http_log(m, req, 200, "cancel");
	mbuf_reset(&m->reply);
	run_write_response(m, r, run_avail(r, util_mono_ms()), &m->reply);
	http_reply(m, req, 200, &m->reply);
}

/* Route /responses/{id}[/cancel]. */
static void
route_response(struct mock *m, struct evhttp_request *req, const char *rest)
{
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	const char		*slash = strchr(rest, '/');
	char			*id;

	if (slash == NULL) {
		if (cmd != EVHTTP_REQ_GET)
			http_bad_method(m, req, "GET");
		else
			handle_get(m, req, rest);
		return;
	}
	id = xstrndup(rest, (size_t)(slash - rest));
	if (strcmp(slash, "/cancel") == 0) {
		if (cmd != EVHTTP_REQ_POST)
			http_bad_method(m, req, "POST");
		else
			handle_cancel(m, req, id);
	} else
		http_bad_url(m, req);
	free(id);
}

/* The single request callback: count, route, answer. */
static void
http_gencb(struct evhttp_request *req, void *arg)
{
	struct mock		*m = arg;
	const struct evhttp_uri	*uri = evhttp_request_get_evhttp_uri(req);
	const char		*path = NULL;

	m->st.requests++;
	if (uri != NULL)
		path = evhttp_uri_get_path(uri);
	if (path == NULL)
		path = "";
	if (strncmp(path, "/v1/", 4) == 0)
		path += 3;
	if (admin_route(m, req, path))
		return;
	if (strcmp(path, "/responses") == 0 ||
	    (m->opts.dialect == DIALECT_DATABRICKS &&
	    strcmp(path, "/invocations") == 0)) {
		if (evhttp_request_get_command(req) != EVHTTP_REQ_POST)
			http_bad_method(m, req, "POST");
		else
			handle_create(m, req);
		return;
	}
	if (strncmp(path, "/responses/", 11) == 0 && path[11] != '\0' &&
	    path[11] != '/') {
		route_response(m, req, path + 11);
		return;
	}
	http_bad_url(m, req);
}

/* Create the evhttp server object with limits and the router. */
void
http_setup(struct mock *m)
{
	if ((m->http = evhttp_new(m->base)) == NULL)
		fatalx("evhttp_new");
	evhttp_set_max_body_size(m->http, MOCK_MAX_BODY);
	/*
	 * Read and drop the rest of a body over the limit before closing:
	 * closing with unread bytes resets the connection, and a client still
	 * sending could lose the 413 (seen under load).
	 */
	evhttp_set_flags(m->http, EVHTTP_SERVER_LINGERING_CLOSE);
	evhttp_set_max_headers_size(m->http, MOCK_MAX_HEADERS);
	evhttp_set_allowed_methods(m->http, ALL_METHODS);
	evhttp_set_default_content_type(m->http, "application/json");
	evhttp_set_gencb(m->http, http_gencb, m);
}
