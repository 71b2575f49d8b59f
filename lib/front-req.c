/*
 * The front's request parsing (see front-req.h): what POST /v1/responses
 * and GET /v1/responses/{id} must carry, checked without HTTP or store so
 * that the same code is served, unit-tested and fuzzed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "front-req.h"
#include "util.h"

/* Fill err with param and a formatted message; return -1. */
static int
front_req_fail(struct front_req_error *err, const char *param,
    const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static int
front_req_fail(struct front_req_error *err, const char *param,
    const char *fmt, ...)
{
	va_list	ap;

	err->param = param;
	va_start(ap, fmt);
	vsnprintf(err->message, sizeof err->message, fmt, ap);
	va_end(ap);
	return -1;
}

/*
 * The boolean member key of body into *out (0 when absent or null). 0, or
 * -1 with err filled if it is not a boolean.
 */
static int
front_req_bool(json_t *body, const char *key, int *out,
    struct front_req_error *err)
{
	json_t	*v = json_object_get(body, key);

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_boolean(v))
		return front_req_fail(err, key, "%s must be a boolean", key);
	*out = json_is_true(v);
	return 0;
}

int
front_req_create(const char *buf, size_t len, struct front_create_req *cr,
    struct front_req_error *err)
{
	json_error_t	 jerr;
	json_t		*body, *p;

	memset(cr, 0, sizeof *cr);
	body = json_loadb(buf != NULL ? buf : "", buf != NULL ? len : 0,
	    JSON_REJECT_DUPLICATES, &jerr);
	if (body == NULL)
		return front_req_fail(err, NULL, "We could not parse the JSON "
		    "body of your request: %s (line %d, column %d)", jerr.text,
		    jerr.line, jerr.column);
	if (!json_is_object(body)) {
		json_decref(body);
		return front_req_fail(err, NULL, "The request body must be a "
		    "JSON object");
	}
	if (front_req_bool(body, "stream", &cr->stream, err) != 0 ||
	    front_req_bool(body, "background", &cr->background, err) != 0)
		goto fail;
	p = json_object_get(body, "previous_response_id");
	if (p != NULL && !json_is_null(p)) {
		if (!json_is_string(p)) {
			front_req_fail(err, "previous_response_id",
			    "previous_response_id must be a string");
			goto fail;
		}
		cr->previous = json_string_value(p);
	}
	cr->body = body;
	return 0;
fail:
	json_decref(body);
	memset(cr, 0, sizeof *cr);
	return -1;
}

int
front_req_key(const char *key, struct front_req_error *err)
{
	if (key != NULL && (*key == '\0' || strlen(key) > FRONT_KEY_MAX))
		return front_req_fail(err, NULL, "Idempotency-Key must be 1 to "
		    "%d characters", FRONT_KEY_MAX);
	return 0;
}

int
front_req_get(const char *stream, const char *starting_after, int *streamp,
    int64_t *after, struct front_req_error *err)
{
	long long	v = -1;

	*streamp = 0;
	*after = -1;
	if (stream != NULL) {
		if (strcmp(stream, "true") == 0 || strcmp(stream, "1") == 0)
			*streamp = 1;
		else if (strcmp(stream, "false") != 0 &&
		    strcmp(stream, "0") != 0)
			return front_req_fail(err, "stream", "stream must be "
			    "true or false");
	}
	if (starting_after != NULL &&
	    util_parse_int(starting_after, -1, INT64_MAX, &v) != 0)
		return front_req_fail(err, "starting_after", "starting_after "
		    "must be an integer sequence number");
	*after = v;
	return 0;
}

int
front_run_id(const char *rid, char *id, size_t idlen)
{
	size_t	i, n;

	if (rid == NULL || strncmp(rid, "resp_", 5) != 0)
		return -1;
	n = strlen(rid + 5);
	if (n == 0 || n + 3 > idlen)
		return -1;
	for (i = 0; i < n; i++)
		if (strchr("0123456789abcdef", rid[5 + i]) == NULL)
			return -1;
	snprintf(id, idlen, "r_%s", rid + 5);
	return 0;
}
