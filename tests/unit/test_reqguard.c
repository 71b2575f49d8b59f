/*
 * Unit tests for lib/reqguard.c, the API's request guard: good requests
 * pass byte for byte whatever the read boundaries, a bad one is replaced by
 * a refusal request with the right status and nothing after it passes,
 * chunked bodies are held until complete, and the refusal body decodes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "harness.h"
#include "reqguard.h"
#include "xmalloc.h"

#define NELEM(a)	(sizeof(a) / sizeof((a)[0]))
#define TOKEN		"0123456789abcdef0123456789abcdef"
#define MAX_HEADER	1024
#define MAX_BODY	64

/* What the guard passed on for input fed in pieces of step bytes. */
static char *
feed(const char *in, size_t len, size_t step, size_t *outlen)
{
	struct reqguard	*g = reqguard_new(MAX_HEADER, MAX_BODY, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	size_t		 off = 0, n;
	char		*out;

	while (off < len) {
		n = len - off < step ? len - off : step;
		evbuffer_add(src, in + off, n);
		off += n;
		reqguard_filter(src, dst, -1, BEV_NORMAL, g);
	}
	*outlen = evbuffer_get_length(dst);
	out = xmalloc(*outlen + 1);
	evbuffer_remove(dst, out, *outlen);
	out[*outlen] = '\0';
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
	return out;
}

/* Input that must pass unchanged, fed whole, in 7s and byte by byte. */
static void
pass_all(const char *in)
{
	static const size_t	 steps[] = { 100000, 7, 1 };
	size_t			 i, n;
	char			*out;

	for (i = 0; i < NELEM(steps); i++) {
		out = feed(in, strlen(in), steps[i], &n);
		if (n != strlen(in) || memcmp(out, in, n) != 0)
			fail_msg("step %zu: passed \"%s\", want \"%s\"",
			    steps[i], out, in);
		free(out);
	}
}

/*
 * Input whose request number `skip` (0-based) is refused with status and
 * a message containing what: the earlier requests pass, then only the
 * refusal request, whatever the read boundaries.
 */
static void
refused_n(const char *in, size_t len, size_t prefix, int status,
    const char *what)
{
	static const size_t	 steps[] = { 100000, 7, 1 };
	size_t			 i, n;
	char			*out, *r, want[64];

	for (i = 0; i < NELEM(steps); i++) {
		out = feed(in, len, steps[i], &n);
		if (n < prefix || memcmp(out, in, prefix) != 0)
			fail_msg("step %zu: the good prefix did not pass: %s",
			    steps[i], out);
		r = out + prefix;
		if (strncmp(r, "POST " REQGUARD_PATH " HTTP/1.1\r\n"
		    REQGUARD_HEADER ": " TOKEN "\r\n", 30 +
		    strlen(REQGUARD_PATH) + strlen(REQGUARD_HEADER)) != 0)
			fail_msg("step %zu: no refusal request: \"%s\"",
			    steps[i], r);
		assert_non_null(strstr(r, "Connection: close\r\n"));
		snprintf(want, sizeof want, "\r\n\r\n%d ", status);
		if (strstr(r, want) == NULL || strstr(r, what) == NULL)
			fail_msg("step %zu: want %d and \"%s\" in \"%s\"",
			    steps[i], status, what, r);
		free(out);
	}
}

static void
refused(const char *in, size_t prefix, int status, const char *what)
{
	refused_n(in, strlen(in), prefix, status, what);
}

static void
test_reqguard_passes_good_requests(void **state)
{
	(void)state;
	pass_all("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
	pass_all("GET /v1/health HTTP/1.0\n\n");
	pass_all("POST /v1/runs HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}");
	pass_all("DELETE /v1/runs/r_1 HTTP/1.1\r\ncontent-length:  0 \r\n"
	    "\r\n");
	/* Pipelined, with bodies that look like requests. */
	pass_all("POST /a HTTP/1.1\r\nContent-Length: 19\r\n\r\n"
	    "GET /x HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
	    "PUT /c HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc");
	/* Chunked, with a chunk size followed by a space and a trailer. */
	pass_all("POST /v1/runs HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "2\r\n{}\r\n1a \r\nabcdefghijklmnopqrstuvwxyz\r\n0\r\nX-T: 1\r\n"
	    "\r\nGET /next HTTP/1.1\r\n\r\n");
	/* A body of exactly the limit passes. */
	pass_all("POST /v1/runs HTTP/1.1\r\nContent-Length: 64\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123");
	pass_all("OPTIONS * HTTP/1.1\r\n\r\n");
}

static void
test_reqguard_skips_blank_lines(void **state)
{
	size_t	 n;
	char	*out;

	(void)state;
	out = feed("\r\n\n\r\nGET / HTTP/1.1\r\n\r\n", 23, 1, &n);
	assert_string_equal(out, "GET / HTTP/1.1\r\n\r\n");
	free(out);
}

static void
test_reqguard_holds_chunked_until_complete(void **state)
{
	struct reqguard	*g = reqguard_new(MAX_HEADER, MAX_BODY, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	const char	*head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked"
	    "\r\n\r\n3\r\nabc\r\n";

	(void)state;
	evbuffer_add(src, head, strlen(head));
	assert_int_equal(reqguard_filter(src, dst, -1, BEV_NORMAL, g),
	    BEV_NEED_MORE);
	assert_int_equal(evbuffer_get_length(dst), 0);
	evbuffer_add(src, "0\r\n\r\n", 5);
	assert_int_equal(reqguard_filter(src, dst, -1, BEV_NORMAL, g), BEV_OK);
	assert_int_equal(evbuffer_get_length(dst), strlen(head) + 5);
	assert_int_equal(evbuffer_get_length(src), 0);
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
}

static void
test_reqguard_holds_body_until_complete(void **state)
{
	struct reqguard	*g = reqguard_new(MAX_HEADER, MAX_BODY, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	const char	*head = "POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\nabcd";

	(void)state;
	evbuffer_add(src, head, strlen(head));
	assert_int_equal(reqguard_filter(src, dst, -1, BEV_NORMAL, g),
	    BEV_NEED_MORE);
	assert_int_equal(evbuffer_get_length(dst), 0);
	evbuffer_add(src, "eGET", 4);
	assert_int_equal(reqguard_filter(src, dst, -1, BEV_NORMAL, g), BEV_OK);
	assert_int_equal(evbuffer_get_length(dst), strlen(head) + 1);
	assert_int_equal(evbuffer_get_length(src), 3);
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
}

static void
test_reqguard_refuses_bad_requests(void **state)
{
	const char	*ok = "GET /ok HTTP/1.1\r\n\r\n";
	size_t		 p = strlen(ok);
	char		 big[2048];

	(void)state;
	/*
	 * An oversize body is read and dropped first, so the client that is
	 * still sending gets the 413 instead of a reset; one over 64 MiB is
	 * refused at once.
	 */
	refused("POST / HTTP/1.1\r\nContent-Length: 65\r\n\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "4", 0, 413, "65 bytes is over the limit of 64");
	refused("GET /ok HTTP/1.1\r\n\r\nPOST / HTTP/1.1\r\nContent-Length: "
	    "99999999999\r\n\r\nGET /ok HTTP/1.1\r\n\r\n", p, 413, "limit");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n40\r\n"
	    "0123456789012345678901234567890123456789012345678901234567890123"
	    "\r\n1\r\nx\r\n0\r\n\r\n", 0, 413, "chunked request body over");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "ffffffffffffffffff\r\n", 0, 413, "chunk size");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "3;ext=1\r\nabc\r\n0\r\n\r\n", 0, 400, "chunk-size");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "+3\r\nabc\r\n0\r\n\r\n", 0, 400, "chunk-size");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
	    "0\r\nnot a trailer\r\n\r\n", 0, 400, "trailer");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 0, 501,
	    "\"gzip\" is not supported");
	refused("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n"
	    "Content-Length: 3\r\n\r\nabc", 0, 400, "both");
	refused("POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n"
	    "\r\nabc", 0, 400, "two different");
	refused("POST / HTTP/1.1\r\nContent-Length: -3\r\n\r\n", 0, 400,
	    "bad Content-Length");
	refused("POST / HTTP/1.1\r\nContent-Length: 3x\r\n\r\n", 0, 400,
	    "bad Content-Length");
	refused("GET / HTTP/1.1\r\nExpect: magic\r\n\r\n", 0, 417, "magic");
	refused("TRACE / HTTP/1.1\r\n\r\n", 0, 501, "\"TRACE\"");
	refused("GET / HTTP/2.0\r\n\r\n", 0, 505, "HTTP/2.0");
	refused("GET /\r\n\r\n", 0, 400, "malformed request line");
	refused("GET  / HTTP/1.1\r\n\r\n", 0, 400, "malformed request line");
	refused("G\x01T / HTTP/1.1\r\n\r\n", 0, 400, "malformed request line");
	refused("GET http://x/ HTTP/1.1\r\n\r\n", 0, 400, "must be a path");
	refused("GET /\x7f HTTP/1.1\r\n\r\n", 0, 400, "malformed request line");
	refused_n("\x00\xff\x13garbage\r\n\r\n", 14, 0, 400, "NUL");
	refused("GET / HTTP/1.1\r\n folded\r\n\r\n", 0, 400, "folded");
	refused("GET / HTTP/1.1\r\nno colon\r\n\r\n", 0, 400, "malformed "
	    "header line");
	refused("GET / HTTP/1.1\r\nbad name: 1\r\n\r\n", 0, 400, "header name");
	refused("HEAD / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc", 0, 400,
	    "HEAD");
	/* Headers over the limit, with and without their end. */
	memset(big, 'a', sizeof big);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	big[sizeof big - 1] = '\0';
	refused(big, 0, 431, "request head over the limit of 1024");
	memcpy(big + sizeof big - 5, "\r\n\r\n", 5);
	refused(big, 0, 431, "request head over the limit of 1024");
}

static void
test_reqguard_discards_after_refusal(void **state)
{
	struct reqguard	*g = reqguard_new(MAX_HEADER, MAX_BODY, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	const char	*bad = "TRACE / HTTP/1.1\r\n\r\n";
	size_t		 n;

	(void)state;
	evbuffer_add(src, bad, strlen(bad));
	reqguard_filter(src, dst, -1, BEV_NORMAL, g);
	n = evbuffer_get_length(dst);
	assert_true(n > 0);
	evbuffer_add(src, "GET / HTTP/1.1\r\n\r\n", 18);
	reqguard_filter(src, dst, -1, BEV_NORMAL, g);
	assert_int_equal(evbuffer_get_length(dst), n);
	assert_int_equal(evbuffer_get_length(src), 0);
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
}

static void
test_reqguard_renames_expect(void **state)
{
	const char	*in = "POST / HTTP/1.1\r\nExpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n{}";
	size_t		 n;
	char		*out;

	(void)state;
	/* evhttp must not see it: the guard answers 100 Continue itself. */
	out = feed(in, strlen(in), 1, &n);
	assert_string_equal(out, "POST / HTTP/1.1\r\nXxpect: 100-continue\r\n"
	    "Content-Length: 2\r\n\r\n{}");
	free(out);
}

static void
test_reqguard_refusal_decodes(void **state)
{
	char		 code[32];
	const char	*msg;
	int		 status;

	(void)state;
	assert_int_equal(reqguard_refusal("413 payload_too_large too big", 29,
	    &status, code, sizeof code, &msg), 0);
	assert_int_equal(status, 413);
	assert_string_equal(code, "payload_too_large");
	assert_string_equal(msg, "too big");
	assert_int_equal(reqguard_refusal("200 ok fine", 11, &status, code,
	    sizeof code, &msg), -1);
	assert_int_equal(reqguard_refusal("413 nomessage", 13, &status, code,
	    sizeof code, &msg), -1);
	assert_int_equal(reqguard_refusal("abc", 3, &status, code,
	    sizeof code, &msg), -1);
	assert_int_equal(reqguard_refusal("400 0123456789012345678901234567890"
	    "123456789 m", 48, &status, code, sizeof code, &msg), -1);
}

static void
test_reqguard_output_without_socket(void **state)
{
	struct reqguard	*g = reqguard_new(MAX_HEADER, MAX_BODY, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();

	(void)state;
	evbuffer_add(src, "HTTP/1.1 200 OK\r\n\r\n", 19);
	assert_int_equal(reqguard_output(src, dst, -1, BEV_NORMAL, g), BEV_OK);
	assert_int_equal(evbuffer_get_length(dst), 19);
	assert_int_equal(evbuffer_get_length(src), 0);
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reqguard_passes_good_requests),
		cmocka_unit_test(test_reqguard_skips_blank_lines),
		cmocka_unit_test(test_reqguard_holds_chunked_until_complete),
		cmocka_unit_test(test_reqguard_holds_body_until_complete),
		cmocka_unit_test(test_reqguard_refuses_bad_requests),
		cmocka_unit_test(test_reqguard_discards_after_refusal),
		cmocka_unit_test(test_reqguard_renames_expect),
		cmocka_unit_test(test_reqguard_refusal_decodes),
		cmocka_unit_test(test_reqguard_output_without_socket),
	};

	return cmocka_run_group_tests_name("reqguard", tests, NULL, NULL);
}
