/*
 * Differential libFuzzer target for lib/jscan.c. For any input,
 * backend_event_parse (jscan's fast path) must decode exactly as
 * backend_event_parse_slow (jansson alone) does, in both dialects and
 * with and without an SSE name; and jscan_object must accept exactly
 * what json_loadb + json_is_object accepts, with the same kind and value
 * for each field it picks out, unless it says JSCAN_UNSURE. Any
 * difference is an abort().
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"
#include "jscan.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Abort with a note on stderr (libFuzzer keeps the input). */
static void
mismatch(const char *what)
{
	fprintf(stderr, "fuzz_jscan: mismatch: %s\n", what);
	abort();
}

/* Same string, or both NULL. */
static int
same(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

/* The fast and the reference decoder agree on one input. */
static void
check_event(enum backend_dialect d, const char *sse_type, const char *data,
    size_t size)
{
	struct backend_event	fast, slow;
	int			rf, rs;

	rf = backend_event_parse(d, sse_type, data, size, &fast);
	rs = backend_event_parse_slow(d, sse_type, data, size, &slow);
	if (rf != rs)
		mismatch("return code");
	if (!same(fast.type, slow.type))
		mismatch("type");
	if (fast.seq != slow.seq)
		mismatch("seq");
	if (!same(fast.response_id, slow.response_id))
		mismatch("response_id");
	if (!same(fast.nested_id, slow.nested_id))
		mismatch("nested_id");
	if (!same(fast.backend_status, slow.backend_status))
		mismatch("backend_status");
	if (!same(fast.terminal, slow.terminal))
		mismatch("terminal");
	if (fast.done_marker != slow.done_marker)
		mismatch("done_marker");
	if (!same(fast.response, slow.response))
		mismatch("response");
	if (strcmp(fast.error, slow.error) != 0)
		mismatch("error");
	backend_event_clear(&fast);
	backend_event_clear(&slow);
}

/* The kind jscan should report for a jansson value (NULL: absent). */
static enum jscan_kind
kind_of(json_t *v)
{
	if (v == NULL)
		return JSCAN_ABSENT;
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return JSCAN_OBJECT;
	case JSON_ARRAY:
		return JSCAN_ARRAY;
	case JSON_STRING:
		return JSCAN_STRING;
	case JSON_INTEGER:
		return JSCAN_INTEGER;
	case JSON_REAL:
		return JSCAN_REAL;
	case JSON_TRUE:
		return JSCAN_TRUE;
	case JSON_FALSE:
		return JSCAN_FALSE;
	default:
		return JSCAN_NULL;
	}
}

/* A field agrees with jansson's value for it. */
static void
check_field(const struct jscan_field *f, json_t *v)
{
	if (f->kind != kind_of(v))
		mismatch("field kind");
	if (f->kind == JSCAN_INTEGER && f->integer != json_integer_value(v))
		mismatch("field integer");
	if (f->kind == JSCAN_STRING && !f->escaped &&
	    (f->rawlen != json_string_length(v) ||
	    memcmp(f->raw, json_string_value(v), f->rawlen) != 0))
		mismatch("field string");
	if (f->kind == JSCAN_OBJECT || f->kind == JSCAN_ARRAY) {
		/* A container's span parses to the same value on its own. */
		json_t	*c = json_loadb(f->raw, f->rawlen, JSON_DECODE_ANY,
		    NULL);

		if (c == NULL || !json_equal(c, v))
			mismatch("field container");
		json_decref(c);
	}
}

/* jscan_object agrees with json_loadb on validity and on the fields. */
static void
check_scan(const char *data, size_t size)
{
	struct jscan_field	 f[] = {
		{ .key = "type" },
		{ .key = "sequence_number" },
		{ .key = "a" },
		{ .key = "id", .parent = "response" },
		{ .key = "status", .parent = "response" },
		{ .key = "a", .parent = "a" },
	};
	json_t			*o, *resp;
	int			 rc;

	rc = jscan_object(data, size, f, sizeof f / sizeof f[0]);
	o = json_loadb(data, size, 0, NULL);
	if (rc == JSCAN_UNSURE) {
		json_decref(o);
		return;
	}
	if ((rc == JSCAN_OK) != json_is_object(o))
		mismatch(rc == JSCAN_OK ? "jscan accepts, jansson refuses" :
		    "jscan refuses, jansson accepts");
	if (rc == JSCAN_OK) {
		check_field(&f[0], json_object_get(o, "type"));
		check_field(&f[1], json_object_get(o, "sequence_number"));
		check_field(&f[2], json_object_get(o, "a"));
		resp = json_object_get(o, "response");
		if (!json_is_object(resp))
			resp = NULL;
		check_field(&f[3], json_object_get(resp, "id"));
		check_field(&f[4], json_object_get(resp, "status"));
		resp = json_object_get(o, "a");
		if (!json_is_object(resp))
			resp = NULL;
		check_field(&f[5], json_object_get(resp, "a"));
	}
	json_decref(o);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char	*d = (const char *)data;

	check_scan(d, size);
	check_event(DIALECT_OPENAI, "message", d, size);
	check_event(DIALECT_OPENAI, "error", d, size);
	check_event(DIALECT_DATABRICKS, NULL, d, size);
	check_event(DIALECT_DATABRICKS, "response.failed", d, size);
	return 0;
}
