/*
 * Unit tests for lib/jscan.c: every input is also given to json_loadb, so
 * each case pins jscan's verdict and checks it is jansson's too; then the
 * fields picked out, and backend_event_parse's use of them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

#include "backend.h"
#include "jscan.h"

/* jscan's verdict on len bytes at s, asserted to be jansson's as well. */
static int
scan(const char *s, size_t len)
{
	json_t	*o;
	int	 rc;

	rc = jscan_object(s, len, NULL, 0);
	o = json_loadb(s, len, 0, NULL);
	if (rc != JSCAN_UNSURE)
		assert_int_equal(rc == JSCAN_OK, json_is_object(o));
	json_decref(o);
	return rc;
}

/* Literals, so that embedded NULs count. */
#define ACCEPTS(lit)	assert_int_equal(scan(lit, sizeof lit - 1), JSCAN_OK)
#define REJECTS(lit)	assert_int_equal(scan(lit, sizeof lit - 1), \
			    JSCAN_INVALID)
#define UNSURE(lit)	assert_int_equal(scan(lit, sizeof lit - 1), \
			    JSCAN_UNSURE)

/* {"a":[[...]]} with n containers in all, innermost holding inner. */
static char *
nested(size_t n, const char *inner)
{
	char	*s, *p;
	size_t	 i;

	s = malloc(2 * n + strlen(inner) + 8);
	assert_non_null(s);
	p = s;
	p += sprintf(p, "{\"a\":");
	for (i = 1; i < n; i++)
		*p++ = '[';
	p += sprintf(p, "%s", inner);
	for (i = 1; i < n; i++)
		*p++ = ']';
	*p++ = '}';
	*p = '\0';
	return s;
}

static void
test_jscan_accepts(void **state)
{
	(void)state;
	ACCEPTS("{\"type\":\"response.output_text.delta\",\"sequence_number\":"
	    "17,\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
	    "\"delta\":\"hello\"}");
	ACCEPTS("{}");
	ACCEPTS(" \t\r\n{ \"a\" : [ 1 , { } , [ ] ] } \n");
	ACCEPTS("{\"a\":true,\"b\":false,\"c\":null,\"d\":\"\"}");
	ACCEPTS("{\"a\":[-0,0,0.5,-1.5e-3,1E+2,2e0,10.25E-01]}");
	ACCEPTS("{\"a\":9223372036854775807,\"b\":-9223372036854775808}");
	/* Underflow is no error to jansson (strtod gives 0 or subnormal). */
	ACCEPTS("{\"a\":1e-400,\"b\":-4.9e-324,\"c\":0e99999999999999999999}");
	ACCEPTS("{\"a\":1e307,\"b\":99999.9e303,\"c\":0.00001e312}");
	ACCEPTS("{\"a\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\u20AC\"}");
	/* A surrogate pair escape, and U+10FFFF raw. */
	ACCEPTS("{\"a\":\"\\ud83d\\ude00\",\"b\":\"\xf4\x8f\xbf\xbf\"}");
	ACCEPTS("{\"\xc3\xa9\":\"\xe2\x82\xac\xf0\x9f\x98\x80\x7f\"}");
	ACCEPTS("{\"a\":1,\"a\":{\"a\":2}}");
	/*
	 * jansson's quirk: a NUL right after a number or word is put back
	 * into its stream, which then takes it for an empty buffer.
	 */
	ACCEPTS("{\"a\":1\0,\"b\":-2.5e1\0,\"c\":true\0,\"d\":[null\0]}");
}

static void
test_jscan_rejects_utf8(void **state)
{
	(void)state;
	REJECTS("{\"a\":\"\x80\"}");		/* lone continuation */
	REJECTS("{\"a\":\"\xff\"}");
	REJECTS("{\"a\":\"\xc3\"}");		/* cut short */
	REJECTS("{\"a\":\"\xc3");		/* cut by the end */
	REJECTS("{\"a\":\"\xe2\x82\"}");
	REJECTS("{\"a\":\"\xc3\xc3\"}");	/* no continuation */
	REJECTS("{\"a\":\"\xc0\x80\"}");	/* overlong, 2 bytes */
	REJECTS("{\"a\":\"\xc1\xbf\"}");
	REJECTS("{\"a\":\"\xe0\x9f\xbf\"}");	/* overlong, 3 bytes */
	REJECTS("{\"a\":\"\xf0\x8f\xbf\xbf\"}");	/* overlong, 4 bytes */
	REJECTS("{\"a\":\"\xed\xa0\x80\"}");	/* U+D800 encoded */
	REJECTS("{\"a\":\"\xed\xbf\xbf\"}");	/* U+DFFF encoded */
	REJECTS("{\"a\":\"\xf4\x90\x80\x80\"}");	/* U+110000 */
	REJECTS("{\"a\":\"\xf5\x80\x80\x80\"}");
	REJECTS("{\"\xfe\":1}");		/* in a key */
	REJECTS("{\"a\":1}\xc3\xa9");		/* outside a string */
	REJECTS("{\"a\":\xc3\xa9}");
}

static void
test_jscan_rejects_strings(void **state)
{
	(void)state;
	REJECTS("{\"a\":\"\\ud800\"}");		/* lone high surrogate */
	REJECTS("{\"a\":\"\\udc00\"}");		/* lone low surrogate */
	REJECTS("{\"a\":\"\\udc00\\ud800\"}");	/* wrong order */
	REJECTS("{\"a\":\"\\ud800\\ud800\"}");
	REJECTS("{\"a\":\"\\ud800\\n\"}");
	REJECTS("{\"a\":\"\\ud800\\\\udc00\"}");
	REJECTS("{\"a\":\"\\ud800x\\udc00\"}");
	REJECTS("{\"a\":\"\\u0000\"}");		/* no JSON_ALLOW_NUL */
	REJECTS("{\"\\u0000\":1}");		/* nor in a key */
	REJECTS("{\"a\":\"\\x41\"}");		/* no such escape */
	REJECTS("{\"a\":\"\\u12\"}");
	REJECTS("{\"a\":\"\\u12g4\"}");
	REJECTS("{\"a\":\"\\U0041\"}");
	REJECTS("{\"a\":\"\\\"}");
	REJECTS("{\"a\":\"tab\there\"}");	/* raw control character */
	REJECTS("{\"a\":\"new\nline\"}");
	REJECTS("{\"a\":\"\0\"}");		/* raw NUL */
	REJECTS("{\"a\":\"open}");
	REJECTS("{\"a\":'single'}");
}

static void
test_jscan_rejects_numbers(void **state)
{
	(void)state;
	REJECTS("{\"a\":9223372036854775808}");	/* strtoll ERANGE */
	REJECTS("{\"a\":-9223372036854775809}");
	REJECTS("{\"a\":100000000000000000000}");
	REJECTS("{\"a\":1e309}");			/* strtod HUGE_VAL */
	REJECTS("{\"a\":-1e400}");
	REJECTS("{\"a\":1e99999999999999999999999}");
	REJECTS("{\"a\":0.001e312}");
	REJECTS("{\"a\":01}");				/* leading zero */
	REJECTS("{\"a\":-01}");
	REJECTS("{\"a\":00}");
	REJECTS("{\"a\":1.}");
	REJECTS("{\"a\":1.e5}");
	REJECTS("{\"a\":.5}");
	REJECTS("{\"a\":+1}");
	REJECTS("{\"a\":-}");
	REJECTS("{\"a\":-a}");
	REJECTS("{\"a\":1e}");
	REJECTS("{\"a\":1e+}");
	REJECTS("{\"a\":0x1}");
	REJECTS("{\"a\":NaN}");
	REJECTS("{\"a\":Infinity}");
	REJECTS("{\"a\":1a}");
	REJECTS("{\"a\":truex}");
	REJECTS("{\"a\":True}");
	REJECTS("{\"a\":nul}");
}

static void
test_jscan_rejects_structure(void **state)
{
	(void)state;
	REJECTS("");
	REJECTS(" \n");
	REJECTS("1");					/* bare values */
	REJECTS("\"s\"");
	REJECTS("true");
	REJECTS("null");
	REJECTS("[1,2]");				/* not an object */
	REJECTS("{}x");					/* trailing garbage */
	REJECTS("{}{}");
	REJECTS("{},");
	REJECTS("{\"a\":1,}");				/* trailing comma */
	REJECTS("{\"a\":[1,]}");
	REJECTS("{,}");
	REJECTS("{\"a\"}");
	REJECTS("{\"a\":}");
	REJECTS("{\"a\" 1}");
	REJECTS("{a:1}");
	REJECTS("{\"a\":1 \"b\":2}");
	REJECTS("{\"a\":[1}");
	REJECTS("{\"a\":{]}");
	REJECTS("{\"a\":1");
	REJECTS("{\"a\":1]");
	REJECTS("{\"a\":1}}");
	REJECTS("{\f}");				/* not JSON space */
	REJECTS("{\v}");
	REJECTS("{\"a\":1 /* c */}");
	/* NUL bytes, except the quirk above. */
	REJECTS("\0{}");
	REJECTS("{}\0");
	REJECTS("{\0}");
	REJECTS("{\"a\":1 \0}");
	REJECTS("{\"a\":1\0\0}");
	REJECTS("{\"a\":\"x\"\0}");
	REJECTS("{\"a\":{}\0}");
}

static void
test_jscan_depth(void **state)
{
	char	*s;

	(void)state;
	/* jansson's parse_value counts every value, scalars too. */
	s = nested(2048, "");
	assert_int_equal(scan(s, strlen(s)), JSCAN_OK);
	free(s);
	s = nested(2049, "");
	assert_int_equal(scan(s, strlen(s)), JSCAN_INVALID);
	free(s);
	s = nested(2047, "1");
	assert_int_equal(scan(s, strlen(s)), JSCAN_OK);
	free(s);
	s = nested(2048, "1");
	assert_int_equal(scan(s, strlen(s)), JSCAN_INVALID);
	free(s);
	s = nested(2047, "{\"b\":1}");
	assert_int_equal(scan(s, strlen(s)), JSCAN_INVALID);
	free(s);
	s = nested(100000, "");
	assert_int_equal(scan(s, strlen(s)), JSCAN_INVALID);
	free(s);
}

static void
test_jscan_unsure(void **state)
{
	struct jscan_field	f[] = { { .key = "type" } };

	(void)state;
	/* In [1e308, 1e309) strtod may round either way. */
	UNSURE("{\"a\":1e308}");
	UNSURE("{\"a\":1.7976931348623157e308}");
	UNSURE("{\"a\":1.8e308}");
	UNSURE("{\"a\":-17976931348623159e292}");
	/* An escaped key could be one asked for. */
	assert_int_equal(jscan_object("{\"typ\\u0065\":\"x\"}", 17, f, 1),
	    JSCAN_UNSURE);
	/* Not when nothing is asked for, nor at depth 2 outside a parent. */
	ACCEPTS("{\"typ\\u0065\":\"x\"}");
	assert_int_equal(jscan_object("{\"a\":{\"typ\\u0065\":1}}", 21, f, 1),
	    JSCAN_OK);
}

/* Containers come with their span, at the top level and in a parent. */
static void
test_jscan_spans(void **state)
{
	struct jscan_field	 f[] = {
		{ .key = "usage", .parent = "response" },
		{ .key = "item" },
		{ .key = "error", .parent = "response" },
	};
	const char		*s;

	(void)state;
	s = "{\"item\":[1,{\"a\":\"]}\"}], \"response\":{\"x\":[{}],"
	    "\"usage\":{\"in\":[1,2],\"o\":{}} ,\"error\":null}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 3), JSCAN_OK);
	assert_int_equal(f[0].kind, JSCAN_OBJECT);
	assert_int_equal(f[0].rawlen, 19);
	assert_memory_equal(f[0].raw, "{\"in\":[1,2],\"o\":{}}", 19);
	assert_int_equal(f[1].kind, JSCAN_ARRAY);
	assert_int_equal(f[1].rawlen, 14);
	assert_memory_equal(f[1].raw, "[1,{\"a\":\"]}\"}]", 14);
	assert_int_equal(f[2].kind, JSCAN_NULL);
	/* A later duplicate replaces the span. */
	s = "{\"item\":{\"a\":1},\"item\":{}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 3), JSCAN_OK);
	assert_int_equal(f[1].rawlen, 2);
	assert_memory_equal(f[1].raw, "{}", 2);
}

static void
test_jscan_fields(void **state)
{
	struct jscan_field	 f[] = {
		{ .key = "type" },
		{ .key = "sequence_number" },
		{ .key = "id", .parent = "response" },
		{ .key = "status", .parent = "response" },
		{ .key = "response" },
	};
	const char		*s;

	(void)state;
	s = "{\"type\":\"response.created\",\"sequence_number\":42,"
	    "\"response\":{\"id\":\"resp_1\",\"status\":\"queued\"}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[0].kind, JSCAN_STRING);
	assert_int_equal(f[0].rawlen, 16);
	assert_memory_equal(f[0].raw, "response.created", 16);
	assert_false(f[0].escaped);
	assert_int_equal(f[1].kind, JSCAN_INTEGER);
	assert_int_equal(f[1].integer, 42);
	assert_int_equal(f[2].kind, JSCAN_STRING);
	assert_memory_equal(f[2].raw, "resp_1", 6);
	assert_int_equal(f[3].kind, JSCAN_STRING);
	assert_memory_equal(f[3].raw, "queued", 6);
	assert_int_equal(f[4].kind, JSCAN_OBJECT);
	/* A container's span: its whole text, brackets included. */
	assert_int_equal(f[4].rawlen, 33);
	assert_memory_equal(f[4].raw, "{\"id\":\"resp_1\",\"status\":\"queued\"}",
	    33);

	/* A nested "type" is not the event's; a deeper id not response.id. */
	s = "{\"item\":{\"type\":\"message\",\"response\":{\"id\":\"no\"}},"
	    "\"response\":{\"output\":[{\"id\":\"no\",\"status\":\"no\"}],"
	    "\"x\":{\"id\":\"no\"}},\"list\":[\"type\",{\"type\":1}]}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[0].kind, JSCAN_ABSENT);
	assert_int_equal(f[1].kind, JSCAN_ABSENT);
	assert_int_equal(f[2].kind, JSCAN_ABSENT);
	assert_int_equal(f[3].kind, JSCAN_ABSENT);
	assert_int_equal(f[4].kind, JSCAN_OBJECT);

	/* Duplicate keys: the last wins, also over a string. */
	s = "{\"type\":\"a\",\"sequence_number\":1,\"type\":\"b\\n\","
	    "\"sequence_number\":-7,\"response\":{\"id\":\"r1\","
	    "\"id\":\"r2\"}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[0].kind, JSCAN_STRING);
	assert_true(f[0].escaped);
	assert_memory_equal(f[0].raw, "b\\n", 3);
	assert_int_equal(f[1].integer, -7);
	assert_memory_equal(f[2].raw, "r2", 2);

	/* A later "response" replaces all the earlier one held. */
	s = "{\"response\":{\"id\":\"r1\",\"status\":\"queued\"},"
	    "\"response\":{\"status\":\"in_progress\"}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[2].kind, JSCAN_ABSENT);
	assert_memory_equal(f[3].raw, "in_progress", 11);
	s = "{\"response\":{\"id\":\"r1\"},\"response\":[{\"id\":\"r2\"}]}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[2].kind, JSCAN_ABSENT);
	assert_int_equal(f[4].kind, JSCAN_ARRAY);
	assert_int_equal(f[4].rawlen, 13);
	assert_memory_equal(f[4].raw, "[{\"id\":\"r2\"}]", 13);
	s = "{\"response\":{\"id\":\"r1\"},\"response\":null}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[2].kind, JSCAN_ABSENT);
	assert_int_equal(f[4].kind, JSCAN_NULL);

	/* Kinds and numbers. */
	s = "{\"type\":1.5,\"sequence_number\":-9223372036854775808,"
	    "\"response\":{\"id\":true,\"status\":false}}";
	assert_int_equal(jscan_object(s, strlen(s), f, 5), JSCAN_OK);
	assert_int_equal(f[0].kind, JSCAN_REAL);
	assert_memory_equal(f[0].raw, "1.5", 3);
	assert_int_equal(f[1].kind, JSCAN_INTEGER);
	assert_true(f[1].integer == -9223372036854775807LL - 1);
	assert_int_equal(f[2].kind, JSCAN_TRUE);
	assert_int_equal(f[3].kind, JSCAN_FALSE);
}

static void
test_jscan_event_fast(void **state)
{
	struct backend_event	 ev;
	const char		*s;
	char			 big[600];

	(void)state;
	s = "{\"type\":\"response.output_text.delta\",\"sequence_number\":17,"
	    "\"item_id\":\"msg_1\",\"output_index\":0,\"content_index\":0,"
	    "\"delta\":\"hello\\n\",\"response_id\":\"resp_7\"}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, "message", s,
	    strlen(s), &ev), 0);
	assert_null(ev.obj);			/* no tree was built */
	assert_string_equal(ev.type, "response.output_text.delta");
	assert_int_equal(ev.seq, 17);
	assert_string_equal(ev.response_id, "resp_7");
	assert_null(ev.backend_status);
	assert_null(ev.terminal);
	assert_null(ev.response);
	backend_event_clear(&ev);
	assert_null(ev.obj);
	assert_int_equal(ev.seq, -1);

	/* response.id wins over response_id, as on the slow path. */
	s = "{\"type\":\"response.in_progress\",\"sequence_number\":1,"
	    "\"response_id\":\"flat\",\"response\":{\"id\":\"nested\","
	    "\"status\":\"in_progress\",\"output\":[{\"type\":\"x\"}]}}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, NULL, s,
	    strlen(s), &ev), 0);
	assert_null(ev.obj);
	assert_string_equal(ev.type, "response.in_progress");
	assert_string_equal(ev.response_id, "nested");
	assert_string_equal(ev.backend_status, "in_progress");
	backend_event_clear(&ev);

	/* No JSON type: the SSE name, which may make it terminal. */
	s = "{\"sequence_number\":3,\"message\":\"boom\"}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, "error", s,
	    strlen(s), &ev), 0);
	assert_non_null(ev.obj);
	assert_string_equal(ev.terminal, "failed");
	assert_string_equal(ev.error, "boom");
	backend_event_clear(&ev);

	/* Terminal events take jansson: they need the response JSON. */
	s = "{\"type\":\"response.completed\",\"sequence_number\":9,"
	    "\"response\":{\"id\":\"r\",\"status\":\"completed\"}}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, NULL, s,
	    strlen(s), &ev), 0);
	assert_non_null(ev.obj);
	assert_string_equal(ev.terminal, "completed");
	assert_non_null(ev.response);
	backend_event_clear(&ev);

	/* An escaped type is decoded by jansson. */
	s = "{\"type\":\"response.\\u006fk\",\"sequence_number\":2}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, NULL, s,
	    strlen(s), &ev), 0);
	assert_non_null(ev.obj);
	assert_string_equal(ev.type, "response.ok");
	assert_int_equal(ev.seq, 2);
	backend_event_clear(&ev);

	/* A string too long for buf, too. */
	memset(big, 'x', sizeof big);
	memcpy(big, "{\"response_id\":\"", 16);
	memcpy(big + sizeof big - 3, "\"}", 3);
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, NULL, big,
	    strlen(big), &ev), 0);
	assert_non_null(ev.obj);
	assert_int_equal(strlen(ev.response_id), sizeof big - 16 - 3);
	backend_event_clear(&ev);

	/* Refused input is refused without jansson. */
	s = "{\"type\":\"x\",\"sequence_number\":01}";
	assert_int_equal(backend_event_parse(DIALECT_OPENAI, NULL, s,
	    strlen(s), &ev), -1);
	assert_null(ev.obj);
	assert_null(ev.type);
	backend_event_clear(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jscan_accepts),
		cmocka_unit_test(test_jscan_rejects_utf8),
		cmocka_unit_test(test_jscan_rejects_strings),
		cmocka_unit_test(test_jscan_rejects_numbers),
		cmocka_unit_test(test_jscan_rejects_structure),
		cmocka_unit_test(test_jscan_depth),
		cmocka_unit_test(test_jscan_unsure),
		cmocka_unit_test(test_jscan_fields),
		cmocka_unit_test(test_jscan_spans),
		cmocka_unit_test(test_jscan_event_fast),
	};

	return cmocka_run_group_tests_name("jscan", tests, NULL, NULL);
}
