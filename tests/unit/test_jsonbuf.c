/*
 * Unit tests for lib/jsonbuf.c: every string and integer is written byte
 * for byte as jansson's json_dumps(JSON_COMPACT) writes it, and text that
 * jansson refuses (not UTF-8) becomes null.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

#include "jsonbuf.h"

/* Check s (len bytes) against jansson's rendering of the same string. */
static void
check_str(const char *s, size_t len)
{
	struct jsonbuf	*b = jsonbuf_new();
	json_t		*j;
	char		*want;
	const char	*got;
	size_t		 n;

	jsonbuf_str(b, s, len);
	got = jsonbuf_text(b, &n);
	if ((j = json_stringn(s, len)) == NULL)
		want = strdup("null");
	else {
		want = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(j);
	}
	assert_non_null(want);
	if (n != strlen(want) || memcmp(got, want, n) != 0)
		fail_msg("jsonbuf wrote %s, jansson %s", got, want);
	free(want);
	jsonbuf_free(b);
}

static void
test_jsonbuf_strings_as_jansson(void **state)
{
	static const char *const cases[] = {
		"", "plain", "quote \" and \\ backslash", "/ slash",
		"\b\f\n\r\t", "\x01\x1f\x7f", "caf\xc3\xa9", "\xe2\x82\xac",
		"\xf0\x9f\x98\x80", "\xf4\x8f\xbf\xbf",
		"\xc0\xaf",		/* overlong '/' */
		"\xe0\x80\xaf",		/* overlong, 3 bytes */
		"\xf0\x80\x80\xaf",	/* overlong, 4 bytes */
		"\xed\xa0\x80",		/* a surrogate */
		"\xf4\x90\x80\x80",	/* past U+10FFFF */
		"\xc3",			/* cut short */
		"a\xe2\x82",		/* cut short */
		"\x80", "\xbf", "\xf5\x80\x80\x80", "\xff",
	};
	size_t	i;

	(void)state;
	for (i = 0; i < sizeof cases / sizeof cases[0]; i++)
		check_str(cases[i], strlen(cases[i]));
	check_str("nul\0inside", 11);
	check_str("\0", 1);
}

static void
test_jsonbuf_random_bytes(void **state)
{
	/* Bytes that matter: ASCII, escapes, lead and continuation bytes. */
	static const unsigned char pool[] = {
		'a', 'z', ' ', '"', '\\', '/', 0, 1, '\n', 0x1f, 0x7f, 0x80,
		0x8f, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef,
		0xf0, 0xf4, 0xf5, 0xff
	};
	unsigned char	 buf[16];
	uint64_t	 x = 0x9e3779b97f4a7c15ULL;
	size_t		 len, i;
	int		 round;

	(void)state;
	for (round = 0; round < 200000; round++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		len = (size_t)(x % (sizeof buf + 1));
		for (i = 0; i < len; i++)
			buf[i] = pool[(x >> (i * 4 % 60)) % sizeof pool];
		check_str((const char *)buf, len);
	}
}

static void
test_jsonbuf_integers_and_text(void **state)
{
	static const int64_t	 v[] = { 0, 1, -1, 9, 10, 1795237416562LL,
	    INT64_MAX, INT64_MIN, INT64_MIN + 1 };
	struct jsonbuf		*b = jsonbuf_new();
	char			 want[32], *text;
	size_t			 i, n;

	(void)state;
	for (i = 0; i < sizeof v / sizeof v[0]; i++) {
		jsonbuf_free(b);
		b = jsonbuf_new();
		jsonbuf_int(b, v[i]);
		snprintf(want, sizeof want, "%lld", (long long)v[i]);
		assert_string_equal(jsonbuf_text(b, &n), want);
		assert_int_equal(n, strlen(want));
	}
	/* Growth past the first allocation keeps every byte. */
	jsonbuf_free(b);
	b = jsonbuf_new();
	for (i = 0; i < 10000; i++)
		jsonbuf_raw(b, i == 0 ? "[" : ",");
	jsonbuf_raw(b, "]");
	text = jsonbuf_steal(b, &n);
	assert_int_equal(n, 10001);
	assert_int_equal(strlen(text), 10001);
	assert_int_equal(text[0], '[');
	assert_int_equal(text[10000], ']');
	free(text);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_jsonbuf_strings_as_jansson),
		cmocka_unit_test(test_jsonbuf_random_bytes),
		cmocka_unit_test(test_jsonbuf_integers_and_text),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
