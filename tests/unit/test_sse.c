/*
 * Unit tests for lib/sse.c: WHATWG event-stream semantics, the line and
 * data caps, consumer stop, reset, and a fixture table where every stream
 * is fed whole, split at every offset and one byte at a time.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "sse.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define S(lit)		lit, sizeof(lit) - 1

/* One event as the parser delivered it, copied out of the callback. */
struct rec_event {
	char	*type;
	size_t	 type_len;
	char	*data;
	size_t	 data_len;
	char	*id;
};

/* Everything a parser delivered; stop_at > 0 stops at that event. */
struct rec {
	struct rec_event	*ev;
	size_t			 n;
	size_t			 cap;
	size_t			 stop_at;
};

/* One expected event; data_len 0 means strlen(data). */
struct want {
	const char	*type;
	const char	*data;
	size_t		 data_len;
	const char	*id;
};

/* A stream and the events (and retry) it must produce in any split. */
struct fixture {
	const char		*name;
	const char		*in;
	size_t			 len;
	const struct want	*want;
	size_t			 nwant;
	long			 retry;
};

static int	rec_cb(void *, const struct sse_event *);
static void	rec_clear(struct rec *);
static void	check_events(const struct rec *, const struct want *, size_t,
		    const char *, const char *);
static void	feed_ok(struct sse_parser *, const char *, size_t);
static void	expect_split(const char *, const char *, size_t,
		    const struct want *, size_t, long, size_t);
static void	expect_stream(const char *, const char *, size_t,
		    const struct want *, size_t, long);

/* Record an event, checking the NUL-termination promised by sse.h. */
static int
rec_cb(void *arg, const struct sse_event *ev)
{
	struct rec		*r = arg;
	struct rec_event	*e;

	assert_non_null(ev->type);
	assert_non_null(ev->data);
	assert_non_null(ev->id);
	assert_true(ev->type_len > 0);
	assert_int_equal(ev->type[ev->type_len], '\0');
	assert_int_equal(ev->data[ev->data_len], '\0');
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 16;
		r->ev = xreallocarray(r->ev, r->cap, sizeof(*r->ev));
	}
	e = &r->ev[r->n++];
	e->type = xmalloc(ev->type_len + 1);
	memcpy(e->type, ev->type, ev->type_len + 1);
	e->type_len = ev->type_len;
	e->data = xmalloc(ev->data_len + 1);
	memcpy(e->data, ev->data, ev->data_len + 1);
	e->data_len = ev->data_len;
	e->id = xstrdup(ev->id);
	if (r->stop_at != 0 && r->n >= r->stop_at)
		return 1;
	return 0;
}

/* Free every recorded event. */
static void
rec_clear(struct rec *r)
{
	size_t	i;

	for (i = 0; i < r->n; i++) {
		free(r->ev[i].type);
		free(r->ev[i].data);
		free(r->ev[i].id);
	}
	free(r->ev);
	r->ev = NULL;
	r->n = r->cap = 0;
}

/* Fail unless the recorded events equal want exactly. */
static void
check_events(const struct rec *r, const struct want *want, size_t nwant,
    const char *name, const char *mode)
{
	const struct rec_event	*e;
	size_t			 i, dlen;

	if (r->n != nwant)
		fail_msg("%s (%s): %zu events, want %zu", name, mode, r->n,
		    nwant);
	for (i = 0; i < nwant; i++) {
		e = &r->ev[i];
		dlen = want[i].data_len ? want[i].data_len :
		    strlen(want[i].data);
		if (e->type_len != strlen(want[i].type) ||
		    memcmp(e->type, want[i].type, e->type_len) != 0)
			fail_msg("%s (%s) event %zu: type \"%s\", want \"%s\"",
			    name, mode, i, e->type, want[i].type);
		if (e->data_len != dlen ||
		    memcmp(e->data, want[i].data, dlen) != 0)
			fail_msg("%s (%s) event %zu: data \"%s\" (%zu), "
			    "want \"%s\" (%zu)", name, mode, i, e->data,
			    e->data_len, want[i].data, dlen);
		if (strcmp(e->id, want[i].id) != 0)
			fail_msg("%s (%s) event %zu: id \"%s\", want \"%s\"",
			    name, mode, i, e->id, want[i].id);
	}
}

/* Feed and require success. */
static void
feed_ok(struct sse_parser *p, const char *buf, size_t len)
{
	char	*cause = NULL;
	int	 rc;

	rc = sse_parser_feed(p, buf, len, &cause);
	if (rc != 0)
		fail_msg("feed failed: %s", cause ? cause : "(no cause)");
	assert_null(cause);
}

/*
 * Feed in whole, split into two at every step-th offset, and byte by byte;
 * each way must give exactly want and the expected retry.
 */
static void
expect_split(const char *name, const char *in, size_t len,
    const struct want *want, size_t nwant, long retry, size_t step)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;
	char			 mode[64];
	size_t			 i;

	p = sse_parser_new(0, rec_cb, &r);

	feed_ok(p, in, len);
	check_events(&r, want, nwant, name, "whole");
	assert_int_equal(sse_parser_retry(p), retry);
	rec_clear(&r);

	for (i = 0; i <= len; i += step) {
		sse_parser_reset(p);
		feed_ok(p, in, i);
		feed_ok(p, in + i, len - i);
		snprintf(mode, sizeof(mode), "split at %zu", i);
		check_events(&r, want, nwant, name, mode);
		assert_int_equal(sse_parser_retry(p), retry);
		rec_clear(&r);
	}

	sse_parser_reset(p);
	for (i = 0; i < len; i++)
		feed_ok(p, in + i, 1);
	check_events(&r, want, nwant, name, "bytewise");
	assert_int_equal(sse_parser_retry(p), retry);
	rec_clear(&r);

	sse_parser_free(p);
}

/* expect_split at every offset. */
static void
expect_stream(const char *name, const char *in, size_t len,
    const struct want *want, size_t nwant, long retry)
{
	expect_split(name, in, len, want, nwant, retry, 1);
}

#define EXPECT(in, want, retry) \
	expect_stream(__func__, S(in), want, NELEM(want), retry)
#define EXPECT_NONE(in, retry) \
	expect_stream(__func__, S(in), NULL, 0, retry)

static void
test_sse_openai_frames(void **state)
{
	static const struct want want[] = {
		{ "response.created",
		    "{\"type\":\"response.created\",\"sequence_number\":0,"
		    "\"response\":{\"id\":\"resp_1\",\"status\":\"queued\"}}",
		    0, "" },
		{ "response.output_text.delta",
		    "{\"type\":\"response.output_text.delta\","
		    "\"sequence_number\":1,\"delta\":\"Hi\"}", 0, "" },
		{ "response.completed",
		    "{\"type\":\"response.completed\",\"sequence_number\":2}",
		    0, "" },
	};

	(void)state;
	EXPECT("event: response.created\n"
	    "data: {\"type\":\"response.created\",\"sequence_number\":0,"
	    "\"response\":{\"id\":\"resp_1\",\"status\":\"queued\"}}\n"
	    "\n"
	    "event: response.output_text.delta\n"
	    "data: {\"type\":\"response.output_text.delta\","
	    "\"sequence_number\":1,\"delta\":\"Hi\"}\n"
	    "\n"
	    "event: response.completed\n"
	    "data: {\"type\":\"response.completed\",\"sequence_number\":2}\n"
	    "\n", want, -1);
}

static void
test_sse_data_only_done(void **state)
{
	static const struct want want[] = {
		{ "message", "{\"delta\":\"x\"}", 0, "" },
		{ "message", "[DONE]", 0, "" },
	};

	(void)state;
	EXPECT("data: {\"delta\":\"x\"}\n\ndata: [DONE]\n\n", want, -1);
}

static void
test_sse_multiline_data(void **state)
{
	static const struct want want[] = {
		{ "message", "first\nsecond\nthird", 0, "" },
		{ "message", "a\n\nb", 0, "" },
		{ "message", "\n", 0, "" },
	};

	(void)state;
	EXPECT("data: first\ndata: second\ndata: third\n\n"
	    "data: a\ndata:\ndata: b\n\n"
	    "data\ndata\n\n", want, -1);
}

static void
test_sse_line_endings(void **state)
{
	static const struct want want[] = {
		{ "message", "lf", 0, "" },
		{ "message", "cr", 0, "" },
		{ "message", "crlf", 0, "" },
		{ "message", "x\ny\nz", 0, "" },
		{ "t", "cr-lf-mix", 0, "" },
	};

	(void)state;
	EXPECT("data: lf\n\n"
	    "data: cr\r\r"
	    "data: crlf\r\n\r\n"
	    "data: x\rdata: y\ndata: z\r\n\n"
	    "event: t\r\ndata: cr-lf-mix\n\r", want, -1);
}

static void
test_sse_cr_lf_split_across_feeds(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;

	(void)state;
	p = sse_parser_new(0, rec_cb, &r);
	/* If CR|LF counted as two line ends, "a" would dispatch alone. */
	feed_ok(p, S("data: a\r"));
	feed_ok(p, S("\ndata: b\r"));
	feed_ok(p, S("\n"));
	assert_int_equal(r.n, 0);
	feed_ok(p, S("\r"));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "a\nb");
	/* An LF after an empty feed still pairs with the CR before it. */
	feed_ok(p, S("data: c\r"));
	feed_ok(p, "", 0);
	feed_ok(p, S("\n"));
	assert_int_equal(r.n, 1);
	feed_ok(p, S("\r\n"));
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].data, "c");
	/* A CR followed by a non-LF byte in the next feed: two lines. */
	feed_ok(p, S("data: d\r"));
	feed_ok(p, S("\r"));
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[2].data, "d");
	rec_clear(&r);
	sse_parser_free(p);
}

static void
test_sse_bom_whole(void **state)
{
	static const struct want want[] = {
		{ "message", "bom", 0, "" },
	};

	(void)state;
	EXPECT("\xEF\xBB\xBF" "data: bom\n\n", want, -1);
}

static void
test_sse_bom_split_across_feeds(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;

	(void)state;
	p = sse_parser_new(0, rec_cb, &r);
	feed_ok(p, S("\xEF"));
	feed_ok(p, S("\xBB"));
	feed_ok(p, S("\xBF"));
	feed_ok(p, S("data: x\n\n"));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "x");
	rec_clear(&r);
	sse_parser_free(p);
}

static void
test_sse_bom_only_first_stripped(void **state)
{
	static const struct want want[] = {
		{ "message", "y", 0, "" },
	};

	(void)state;
	/* The second BOM belongs to the field name "\uFEFFdata": ignored. */
	EXPECT("\xEF\xBB\xBF\xEF\xBB\xBF" "data: x\n\ndata: y\n\n", want, -1);
}

static void
test_sse_bom_not_at_start_kept(void **state)
{
	static const struct want want[] = {
		{ "message", "\xEF\xBB\xBF" "v", 0, "" },
		{ "message", "z", 0, "" },
	};

	(void)state;
	EXPECT("data: \xEF\xBB\xBF" "v\n\n"
	    "\xEF\xBB\xBF" "data: ignored\n\n"
	    "data: z\n\n", want, -1);
}

static void
test_sse_bom_partial_prefix_kept(void **state)
{
	static const struct want want[] = {
		{ "message", "ok", 0, "" },
	};

	(void)state;
	/* "\xEF\xBB" is not a BOM: the bytes start the field name. */
	EXPECT("\xEF\xBB" "data: no\n\ndata: ok\n\n", want, -1);
	EXPECT("\xEF\n\ndata: ok\n\n", want, -1);
	EXPECT("\xEF\xBB\n\ndata: ok\n\n", want, -1);
}

static void
test_sse_comments(void **state)
{
	static const struct want want[] = {
		{ "message", "a", 0, "" },
		{ "message", "b", 0, "" },
	};

	(void)state;
	EXPECT(": keep-alive\n"
	    ":\n"
	    "data: a\n"
	    ": inside an event\n"
	    "\n"
	    ":data: not data\n\n"
	    "data: b\n\n", want, -1);
}

static void
test_sse_field_without_colon(void **state)
{
	static const struct want want[] = {
		{ "message", "", 0, "" },
		{ "message", "x", 0, "" },
	};

	(void)state;
	/* "data" alone appends "" + "\n": an event with empty data. */
	EXPECT("data\n\nevent\ndata: x\n\n", want, -1);
}

static void
test_sse_value_leading_spaces(void **state)
{
	static const struct want want[] = {
		{ "message", "nospace", 0, "" },
		{ "message", " two", 0, "" },
		{ "message", "a:b: c", 0, "" },
		{ "message", "\tt", 0, "" },
	};

	(void)state;
	EXPECT("data:nospace\n\n"
	    "data:  two\n\n"
	    "data: a:b: c\n\n"
	    "data : not the data field\n\n"
	    "data:\tt\n\n", want, -1);
}

static void
test_sse_empty_event_is_message(void **state)
{
	static const struct want want[] = {
		{ "message", "m", 0, "" },
		{ "message", "n", 0, "" },
	};

	(void)state;
	EXPECT("event:\ndata: m\n\nevent: x\nevent\ndata: n\n\n", want, -1);
}

static void
test_sse_event_type_reset(void **state)
{
	static const struct want want[] = {
		{ "first", "1", 0, "" },
		{ "message", "2", 0, "" },
		{ "message", "3", 0, "" },
	};

	(void)state;
	/* A typed block without data leaves no type for the next one. */
	EXPECT("event: first\ndata: 1\n\n"
	    "data: 2\n\n"
	    "event: lonely\n\n"
	    "data: 3\n\n", want, -1);
}

static void
test_sse_id_persistence(void **state)
{
	static const struct want want[] = {
		{ "message", "a", 0, "1" },
		{ "message", "b", 0, "1" },
		{ "message", "c", 0, "" },
		{ "message", "d", 0, "42" },
		{ "message", "e", 0, " sp" },
	};

	(void)state;
	EXPECT("id: 1\ndata: a\n\n"
	    "data: b\n\n"
	    "id\ndata: c\n\n"
	    "data: d\nid: 42\n\n"
	    "id:  sp\ndata: e\n\n", want, -1);
}

static void
test_sse_id_with_nul_ignored(void **state)
{
	static const struct want want[] = {
		{ "message", "a", 0, "7" },
		{ "message", "b", 0, "7" },
	};

	(void)state;
	EXPECT("id: 7\ndata: a\n\nid: 8\0x\ndata: b\n\n", want, -1);
}

static void
test_sse_id_only_block(void **state)
{
	static const struct want want[] = {
		{ "message", "after", 0, "evt-9" },
	};

	(void)state;
	EXPECT("id: evt-9\n\ndata: after\n\n", want, -1);
}

static void
test_sse_retry(void **state)
{
	static const struct want want[] = {
		{ "message", "r", 0, "" },
	};

	(void)state;
	EXPECT_NONE("retry: 1500\n", 1500);
	EXPECT_NONE("retry:250\n", 250);
	EXPECT_NONE("retry: 0\n", 0);
	EXPECT("retry: 1500\n"
	    "retry: 12a\n"
	    "retry:\n"
	    "retry\n"
	    "retry: -5\n"
	    "retry: +5\n"
	    "retry: 2000 \n"
	    "retry:  3000\n"
	    "retry: 1e3\n"
	    "data: r\n\n", want, 1500);
	EXPECT_NONE("retry: 99999999999999999999999999\n", LONG_MAX);
	EXPECT_NONE("data: x\n", -1);
}

static void
test_sse_unknown_fields_ignored(void **state)
{
	static const struct want want[] = {
		{ "message", "kept", 0, "" },
	};

	(void)state;
	EXPECT("foo: bar\nDATA: upper\nEvent: e\nID: 5\nRetry: 9\n"
	    "dat: short\ndatas: long\nid2: x\n"
	    "data: kept\n\n"
	    "foo\n\n", want, -1);
}

static void
test_sse_partial_event_at_eof(void **state)
{
	static const struct want want[] = {
		{ "message", "one", 0, "" },
	};

	(void)state;
	EXPECT("data: one\n\ndata: two\n", want, -1);
	EXPECT("data: one\n\ndata: three", want, -1);
	EXPECT("data: one\n\nevent: x\ndata: four\r", want, -1);
}

static void
test_sse_embedded_nul_in_data(void **state)
{
	static const struct want want[] = {
		{ "message", "a\0b", 3, "" },
	};

	(void)state;
	EXPECT("data: a\0b\n\n", want, -1);
}

static void
test_sse_line_over_cap(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;
	char			*cause, *big;
	size_t			 i, fed, chunk = 65536;
	int			 rc = 0;

	(void)state;
	/* Exactly at the cap is fine; one more byte is not. */
	p = sse_parser_new(16, rec_cb, &r);
	feed_ok(p, S("data: 0123456789\n\n"));		/* 16-byte line */
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "0123456789");
	rc = sse_parser_feed(p, S("data: 0123456789A\n\n"), &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: line exceeds 16 bytes");
	free(cause);
	assert_int_equal(r.n, 1);
	/* Sticky until reset. */
	rc = sse_parser_feed(p, S("data: ok\n\n"), &cause);
	assert_int_equal(rc, -1);
	assert_non_null(cause);
	free(cause);
	assert_int_equal(r.n, 1);

	/* A long line arriving in pieces fails when the tail passes the cap. */
	sse_parser_reset(p);
	feed_ok(p, S("data: 01234"));
	feed_ok(p, S("56789"));
	rc = sse_parser_feed(p, S("AB"), &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: line exceeds 16 bytes");
	free(cause);
	/* ...or when the line ends in the feed after a partial tail. */
	sse_parser_reset(p);
	feed_ok(p, S("data: 01234"));
	rc = sse_parser_feed(p, S("56789A\n"), &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: line exceeds 16 bytes");
	free(cause);
	/* A comment line counts too, and a NULL cause is allowed. */
	sse_parser_reset(p);
	rc = sse_parser_feed(p, S(": a comment that is too long\n"), NULL);
	assert_int_equal(rc, -1);
	assert_int_equal(r.n, 1);
	sse_parser_free(p);
	rec_clear(&r);

	/* Default cap: an endless line is refused within one chunk. */
	p = sse_parser_new(0, rec_cb, &r);
	big = xmalloc(chunk);
	memset(big, 'x', chunk);
	memcpy(big, "data: ", 6);
	cause = NULL;
	for (i = 0, fed = 0; i < 1000; i++) {
		rc = sse_parser_feed(p, big, chunk, &cause);
		if (i == 0)
			memset(big, 'x', 6);
		if (rc != 0)
			break;
		fed += chunk;
	}
	assert_int_equal(rc, -1);
	assert_true(fed <= SSE_DEFAULT_MAX_LINE);
	assert_true(fed + chunk > SSE_DEFAULT_MAX_LINE);
	assert_string_equal(cause, "sse: line exceeds 8388608 bytes");
	free(cause);
	free(big);
	assert_int_equal(r.n, 0);
	sse_parser_free(p);
}

static void
test_sse_data_over_cap(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;
	char			*cause;
	int			 rc;

	(void)state;
	/* Data buffer holds "0123456789\n" (11) + "abcd\n" (5) = 16: ok. */
	p = sse_parser_new(16, rec_cb, &r);
	feed_ok(p, S("data: 0123456789\ndata: abcd\n\n"));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].data, "0123456789\nabcd");
	/* One more byte of data and the event is refused. */
	rc = sse_parser_feed(p, S("data: 0123456789\ndata: abcde\n\n"),
	    &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: event data exceeds 16 bytes");
	free(cause);
	assert_int_equal(r.n, 1);
	/* Many short data lines: the same. */
	sse_parser_reset(p);
	rc = sse_parser_feed(p, S("data\ndata\ndata\ndata\ndata\ndata\n"
	    "data\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\ndata\n"
	    "data\n\n"), &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: event data exceeds 16 bytes");
	free(cause);
	assert_int_equal(r.n, 1);
	rec_clear(&r);
	sse_parser_free(p);
}

static void
test_sse_consumer_stop(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;
	char			*cause;
	int			 rc;

	(void)state;
	r.stop_at = 2;
	p = sse_parser_new(0, rec_cb, &r);
	rc = sse_parser_feed(p, S("data: 1\n\ndata: 2\n\ndata: 3\n\n"),
	    &cause);
	assert_int_equal(rc, -1);
	assert_string_equal(cause, "sse: stopped by consumer");
	free(cause);
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].data, "2");
	/* Nothing more is delivered until reset. */
	rc = sse_parser_feed(p, S("data: 4\n\n"), &cause);
	assert_int_equal(rc, -1);
	free(cause);
	assert_int_equal(r.n, 2);
	r.stop_at = 0;
	sse_parser_reset(p);
	feed_ok(p, S("data: 5\n\n"));
	assert_int_equal(r.n, 3);
	assert_string_equal(r.ev[2].data, "5");
	rec_clear(&r);
	sse_parser_free(p);
}

static void
test_sse_reset_then_reuse(void **state)
{
	struct rec		 r = { 0 };
	struct sse_parser	*p;
	char			*big;
	size_t			 bigsz = 1024 * 1024;

	(void)state;
	p = sse_parser_new(0, rec_cb, &r);
	/* Leave every kind of state behind: id, retry, event, data, tail. */
	feed_ok(p, S("\xEF\xBB\xBFid: 3\nretry: 10\n\n"
	    "event: half\ndata: pending\ndata: tai"));
	assert_int_equal(sse_parser_retry(p), 10);
	assert_int_equal(r.n, 0);
	sse_parser_reset(p);
	assert_int_equal(sse_parser_retry(p), -1);
	/* The BOM is accepted again and no old state leaks in. */
	feed_ok(p, S("\xEF\xBB\xBF" "data: fresh\n\n"));
	assert_int_equal(r.n, 1);
	assert_string_equal(r.ev[0].type, "message");
	assert_string_equal(r.ev[0].data, "fresh");
	assert_string_equal(r.ev[0].id, "");
	/* A partial line is forgotten: "tial" alone is an unknown field. */
	feed_ok(p, S("data: par"));
	sse_parser_reset(p);
	feed_ok(p, S("tial\n\ndata: after\n\n"));
	assert_int_equal(r.n, 2);
	assert_string_equal(r.ev[1].data, "after");
	/* A large event, then reset, then small events still work. */
	big = xmalloc(bigsz);
	memset(big, 'b', bigsz);
	memcpy(big, "data: ", 6);
	big[bigsz - 2] = '\n';
	big[bigsz - 1] = '\n';
	feed_ok(p, big, bigsz - 1);
	sse_parser_reset(p);
	feed_ok(p, big + bigsz - 1, 1);		/* a lone "\n": nothing */
	assert_int_equal(r.n, 2);
	feed_ok(p, big, bigsz);
	assert_int_equal(r.n, 3);
	assert_int_equal(r.ev[2].data_len, bigsz - 8);
	sse_parser_reset(p);
	feed_ok(p, S("event: small\ndata: s\n\n"));
	assert_int_equal(r.n, 4);
	assert_string_equal(r.ev[3].type, "small");
	assert_string_equal(r.ev[3].data, "s");
	free(big);
	rec_clear(&r);
	sse_parser_free(p);
}

static void
test_sse_long_lines_all_endings(void **state)
{
	static const size_t	 base[] = { 0, 4090, 8186, 12282 };
	static const char	*ends[][2] = {	/* never CR then LF */
		{ "\n", "\n" }, { "\r", "\r" }, { "\r\n", "\r\n" },
		{ "\n", "\r" }, { "\r", "\r\n" }, { "\r\n", "\n" },
		{ "\n", "\r\n" }, { "\r\n", "\r" },
	};
	struct want		*want;
	char			*in, *d;
	size_t			 i, j, k, n, len = 0, nwant = 0;

	(void)state;
	/* Lines around multiples of 4 KiB, with every kind of line end. */
	want = xreallocarray(NULL, NELEM(base) * 16, sizeof(*want));
	in = xmalloc(NELEM(base) * 16 * (12300 + 16));
	for (i = 0; i < NELEM(base); i++) {
		for (j = 0; j < 16; j++) {
			n = base[i] + j;
			d = xmalloc(n + 1);
			for (k = 0; k < n; k++)
				d[k] = k % 61 == 60 ? ':' : 'a' + k % 26;
			d[n] = '\0';
			k = (i * 16 + j) % NELEM(ends);
			len += sprintf(in + len, "data: %s%s%s", d,
			    ends[k][0], ends[k][1]);
			want[nwant].type = "message";
			want[nwant].data = d;
			want[nwant].data_len = 0;
			want[nwant].id = "";
			nwant++;
		}
	}
	expect_split(__func__, in, len, want, nwant, -1, 509);
	for (i = 0; i < nwant; i++)
		free((char *)want[i].data);
	free(want);
	free(in);
}

static void
test_sse_null_callback(void **state)
{
	struct sse_parser	*p;

	(void)state;
	p = sse_parser_new(0, NULL, NULL);
	feed_ok(p, S("retry: 5\ndata: dropped\n\n"));
	assert_int_equal(sse_parser_retry(p), 5);
	sse_parser_free(p);
	sse_parser_free(NULL);
}

/* The fixture table: diverse streams checked under every split. */

static const struct want fx_openai[] = {
	{ "response.created", "{\"type\":\"response.created\","
	    "\"response\":{\"id\":\"resp_abc\",\"background\":true}}", 0, "" },
	{ "response.output_text.delta", "{\"delta\":\"Bonjour, \\u00e7a va\"}",
	    0, "" },
	{ "message", "[DONE]", 0, "" },
};
static const struct want fx_utf8[] = {
	{ "grüße", "日本語 ✓ 😀\nñandú", 0, "ид-1" },
	{ "message", "\xF0\x9F\x98\x80", 0, "ид-1" },
};
static const struct want fx_endings[] = {
	{ "message", "a\nb", 0, "" },
	{ "message", "c", 0, "" },
	{ "e", "d\n", 0, "" },
	{ "message", "f", 0, "" },
};
static const struct want fx_bom[] = {
	{ "message", "x", 0, "" },
	{ "message", "\xEF\xBB\xBF", 0, "" },
};
static const struct want fx_fields[] = {
	{ "message", "", 0, "" },
	{ "message", " two", 0, "" },
	{ "message", "no-space", 0, "" },
	{ "message", "v:w", 0, "" },
};
static const struct want fx_ids[] = {
	{ "message", "1", 0, "a" },
	{ "message", "2", 0, "a" },
	{ "message", "3", 0, "b" },
	{ "message", "4", 0, "" },
};
static const struct want fx_retry[] = {
	{ "message", "z", 0, "" },
};
static const struct want fx_eof[] = {
	{ "done", "yes", 0, "" },
};
static const struct want fx_nul[] = {
	{ "t", "\0\0", 2, "" },
};
static const struct want fx_crlf_run[] = {
	{ "message", "p", 0, "" },
	{ "message", "q", 0, "" },
	{ "message", "r", 0, "" },
};

static const struct fixture fixtures[] = {
	{ "openai", S("event: response.created\r\n"
	    "data: {\"type\":\"response.created\","
	    "\"response\":{\"id\":\"resp_abc\",\"background\":true}}\r\n"
	    "\r\n"
	    ": ping\r\n"
	    "event: response.output_text.delta\r\n"
	    "data: {\"delta\":\"Bonjour, \\u00e7a va\"}\r\n"
	    "\r\n"
	    "data: [DONE]\r\n\r\n"), fx_openai, NELEM(fx_openai), -1 },
	{ "utf8", S("\xEF\xBB\xBFid: ид-1\nevent: grüße\n"
	    "data: 日本語 ✓ 😀\ndata: ñandú\n\n"
	    "data:\xF0\x9F\x98\x80\n\n"), fx_utf8, NELEM(fx_utf8), -1 },
	{ "endings", S("data: a\rdata: b\r\r"
	    "data: c\r\n\r\n"
	    "event: e\ndata: d\ndata\r\n\r"
	    "data: f\n\r\n"), fx_endings, NELEM(fx_endings), -1 },
	{ "bom", S("\xEF\xBB\xBF" "data: x\n\n"
	    "\xEF\xBB\xBF" "data: hidden\n\n"
	    "data: \xEF\xBB\xBF\n\n"), fx_bom, NELEM(fx_bom), -1 },
	{ "fields", S(": c1\ndata\n\n"
	    "data:  two\n:c2\n\n"
	    "data:no-space\nevent:\n\n"
	    "bogus: 1\nbogus\ndata: v:w\n\n"), fx_fields, NELEM(fx_fields),
	    -1 },
	{ "ids", S("id: a\ndata: 1\n\ndata: 2\n\n"
	    "id: b\n\ndata: 3\nid: c\0d\n\n"
	    "id\ndata: 4\n\n"), fx_ids, NELEM(fx_ids), -1 },
	{ "retry", S("retry: 3000\nretry: x1\nretry: 45 \n"
	    "retry: 700\r\ndata: z\r\n\r\nretry: 7e\n"), fx_retry,
	    NELEM(fx_retry), 700 },
	{ "eof", S("event: done\ndata: yes\n\nevent: half\ndata: no\n"),
	    fx_eof, NELEM(fx_eof), -1 },
	{ "nul", S("event: t\nid: \0\ndata: \0\0\n\n"), fx_nul, NELEM(fx_nul),
	    -1 },
	{ "crlf-run", S("\r\n\r\n\n\rdata: p\r\n\r\n\r\r\n"
	    "data: q\n\n\n\ndata: r\r\r\r"), fx_crlf_run, NELEM(fx_crlf_run),
	    -1 },
	{ "empty", "", 0, NULL, 0, -1 },
	{ "only-bom", S("\xEF\xBB\xBF"), NULL, 0, -1 },
};

static void
test_sse_fixture_table_any_split(void **state)
{
	const struct fixture	*f;
	size_t			 i;

	(void)state;
	for (i = 0; i < NELEM(fixtures); i++) {
		f = &fixtures[i];
		expect_stream(f->name, f->in, f->len, f->want, f->nwant,
		    f->retry);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sse_openai_frames),
		cmocka_unit_test(test_sse_data_only_done),
		cmocka_unit_test(test_sse_multiline_data),
		cmocka_unit_test(test_sse_line_endings),
		cmocka_unit_test(test_sse_cr_lf_split_across_feeds),
		cmocka_unit_test(test_sse_bom_whole),
		cmocka_unit_test(test_sse_bom_split_across_feeds),
		cmocka_unit_test(test_sse_bom_only_first_stripped),
		cmocka_unit_test(test_sse_bom_not_at_start_kept),
		cmocka_unit_test(test_sse_bom_partial_prefix_kept),
		cmocka_unit_test(test_sse_comments),
		cmocka_unit_test(test_sse_field_without_colon),
		cmocka_unit_test(test_sse_value_leading_spaces),
		cmocka_unit_test(test_sse_empty_event_is_message),
		cmocka_unit_test(test_sse_event_type_reset),
		cmocka_unit_test(test_sse_id_persistence),
		cmocka_unit_test(test_sse_id_with_nul_ignored),
		cmocka_unit_test(test_sse_id_only_block),
		cmocka_unit_test(test_sse_retry),
		cmocka_unit_test(test_sse_unknown_fields_ignored),
		cmocka_unit_test(test_sse_partial_event_at_eof),
		cmocka_unit_test(test_sse_embedded_nul_in_data),
		cmocka_unit_test(test_sse_line_over_cap),
		cmocka_unit_test(test_sse_data_over_cap),
		cmocka_unit_test(test_sse_consumer_stop),
		cmocka_unit_test(test_sse_reset_then_reuse),
		cmocka_unit_test(test_sse_long_lines_all_endings),
		cmocka_unit_test(test_sse_null_callback),
		cmocka_unit_test(test_sse_fixture_table_any_split),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
