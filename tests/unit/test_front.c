/*
 * Unit tests for the front's pure pieces: the bearer token compare
 * (front-listen.c), response ids, the POST body, Idempotency-Key and GET
 * query checks (front-req.c), and --listen's HOST:PORT (config.c).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "api-internal.h"
#include "config.h"
#include "front-req.h"

static void
test_front_token_ok(void **state)
{
	(void)state;
	assert_true(front_token_ok("s3cret-token", "Bearer s3cret-token"));
	assert_true(front_token_ok("s3cret-token", "bearer s3cret-token"));
	assert_true(front_token_ok("s3cret-token", "BEARER s3cret-token"));
	assert_true(front_token_ok("s3cret-token", "Bearer   s3cret-token"));
	/* Anything else is refused. */
	assert_false(front_token_ok(NULL, "Bearer s3cret-token"));
	assert_false(front_token_ok("s3cret-token", NULL));
	assert_false(front_token_ok("", "Bearer "));
	assert_false(front_token_ok("", "Bearer x"));
	assert_false(front_token_ok("s3cret-token", "Bearer "));
	assert_false(front_token_ok("s3cret-token", "Bearer"));
	assert_false(front_token_ok("s3cret-token", ""));
	assert_false(front_token_ok("s3cret-token", "s3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Basic s3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Bearers3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Bearer\ts3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Bearer s3cret-token "));
	assert_false(front_token_ok("s3cret-token", "Bearer s3cret-tokenx"));
	assert_false(front_token_ok("s3cret-token", "Bearer s3cret-toke"));
	assert_false(front_token_ok("s3cret-token", "Bearer S3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Bearer x3cret-token"));
	assert_false(front_token_ok("s3cret-token", "Bearer s3cret-tokex"));
	/* The token repeated: the compare wraps over want, the length not. */
	assert_false(front_token_ok("abcdefgh", "Bearer abcdefghabcdefgh"));
	assert_false(front_token_ok("abcdefgh", "Bearer abcd"));
}

static void
test_front_run_id(void **state)
{
	char	id[32];

	(void)state;
	assert_int_equal(front_run_id("resp_0123456789abcdef", id, sizeof id),
	    0);
	assert_string_equal(id, "r_0123456789abcdef");
	assert_int_equal(front_run_id("resp_a", id, sizeof id), 0);
	assert_string_equal(id, "r_a");
	/* 16 hex need 19 bytes ("r_" + 16 + NUL). */
	assert_int_equal(front_run_id("resp_0123456789abcdef", id, 19), 0);
	assert_string_equal(id, "r_0123456789abcdef");
	assert_int_equal(front_run_id("resp_0123456789abcdef", id, 18), -1);
	assert_int_equal(front_run_id("resp_0", id, 0), -1);
	/* 29 hex is the most id[32] holds. */
	assert_int_equal(front_run_id("resp_0123456789abcdef0123456789abc",
	    id, sizeof id), 0);
	assert_int_equal(front_run_id("resp_0123456789abcdef0123456789abcd",
	    id, sizeof id), -1);
	assert_int_equal(front_run_id(NULL, id, sizeof id), -1);
	assert_int_equal(front_run_id("", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp", id, sizeof id), -1);
	assert_int_equal(front_run_id("RESP_abc", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_ABC", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_abg", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_ab/c", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_ab c", id, sizeof id), -1);
	assert_int_equal(front_run_id("resp_-1", id, sizeof id), -1);
	assert_int_equal(front_run_id("r_0123456789abcdef", id, sizeof id),
	    -1);
	assert_int_equal(front_run_id(" resp_abc", id, sizeof id), -1);
}

/* Parse body s; return its rc and fill cr and err. */
static int
create(const char *s, struct front_create_req *cr,
    struct front_req_error *err)
{
	memset(err, 0, sizeof *err);
	return front_req_create(s, s != NULL ? strlen(s) : 0, cr, err);
}

static void
test_front_req_create(void **state)
{
	struct front_create_req	cr;
	struct front_req_error	err;

	(void)state;
	assert_int_equal(create("{\"model\":\"m\"}", &cr, &err), 0);
	assert_non_null(cr.body);
	assert_int_equal(cr.stream, 0);
	assert_int_equal(cr.background, 0);
	assert_null(cr.previous);
	json_decref(cr.body);

	assert_int_equal(create("{\"stream\":true,\"background\":false,"
	    "\"previous_response_id\":\"resp_ab\"}", &cr, &err), 0);
	assert_int_equal(cr.stream, 1);
	assert_int_equal(cr.background, 0);
	assert_string_equal(cr.previous, "resp_ab");
	json_decref(cr.body);

	assert_int_equal(create("{\"stream\":null,\"background\":true,"
	    "\"previous_response_id\":null}", &cr, &err), 0);
	assert_int_equal(cr.stream, 0);
	assert_int_equal(cr.background, 1);
	assert_null(cr.previous);
	json_decref(cr.body);

	/* Not JSON, or not an object: no param. */
	assert_int_equal(create("{\"model\":", &cr, &err), -1);
	assert_null(cr.body);
	assert_null(err.param);
	assert_non_null(strstr(err.message, "could not parse the JSON body"));
	assert_int_equal(create("", &cr, &err), -1);
	assert_int_equal(create(NULL, &cr, &err), -1);
	assert_int_equal(create("[1]", &cr, &err), -1);
	assert_string_equal(err.message, "The request body must be a JSON "
	    "object");
	assert_int_equal(create("\"x\"", &cr, &err), -1);
	assert_int_equal(create("null", &cr, &err), -1);
	assert_int_equal(create("{} {}", &cr, &err), -1);
	assert_int_equal(create("{\"a\":1,\"a\":2}", &cr, &err), -1);
	assert_null(cr.body);

	/* A wrong type names its member; stream is checked first. */
	assert_int_equal(create("{\"stream\":\"yes\"}", &cr, &err), -1);
	assert_string_equal(err.param, "stream");
	assert_string_equal(err.message, "stream must be a boolean");
	assert_int_equal(create("{\"stream\":1,\"background\":1}", &cr, &err),
	    -1);
	assert_string_equal(err.param, "stream");
	assert_int_equal(create("{\"background\":0}", &cr, &err), -1);
	assert_string_equal(err.param, "background");
	assert_int_equal(create("{\"background\":true,"
	    "\"previous_response_id\":7}", &cr, &err), -1);
	assert_string_equal(err.param, "previous_response_id");
	assert_int_equal(create("{\"previous_response_id\":[]}", &cr, &err),
	    -1);
	assert_string_equal(err.param, "previous_response_id");
	assert_null(cr.body);

	/* Not NUL-terminated: only len bytes count. */
	memset(&err, 0, sizeof err);
	assert_int_equal(front_req_create("{}xyz", 2, &cr, &err), 0);
	json_decref(cr.body);
}

static void
test_front_req_key(void **state)
{
	struct front_req_error	 err;
	char			 k[FRONT_KEY_MAX + 2];

	(void)state;
	assert_int_equal(front_req_key(NULL, &err), 0);
	assert_int_equal(front_req_key("k", &err), 0);
	memset(k, 'k', sizeof k);
	k[FRONT_KEY_MAX] = '\0';
	assert_int_equal(front_req_key(k, &err), 0);
	k[FRONT_KEY_MAX] = 'k';
	k[FRONT_KEY_MAX + 1] = '\0';
	assert_int_equal(front_req_key(k, &err), -1);
	assert_string_equal(err.message, "Idempotency-Key must be 1 to 256 "
	    "characters");
	assert_int_equal(front_req_key("", &err), -1);
}

static void
test_front_req_get(void **state)
{
	struct front_req_error	err;
	int64_t			after;
	int			stream;

	(void)state;
	assert_int_equal(front_req_get(NULL, NULL, &stream, &after, &err), 0);
	assert_int_equal(stream, 0);
	assert_int_equal(after, -1);
	assert_int_equal(front_req_get("true", "5", &stream, &after, &err), 0);
	assert_int_equal(stream, 1);
	assert_int_equal(after, 5);
	assert_int_equal(front_req_get("1", "-1", &stream, &after, &err), 0);
	assert_int_equal(stream, 1);
	assert_int_equal(after, -1);
	assert_int_equal(front_req_get("false", "0", &stream, &after, &err),
	    0);
	assert_int_equal(stream, 0);
	assert_int_equal(after, 0);
	assert_int_equal(front_req_get("0", "9223372036854775807", &stream,
	    &after, &err), 0);
	assert_int_equal(after, INT64_MAX);

	assert_int_equal(front_req_get("yes", NULL, &stream, &after, &err),
	    -1);
	assert_string_equal(err.param, "stream");
	assert_int_equal(front_req_get("TRUE", NULL, &stream, &after, &err),
	    -1);
	assert_int_equal(front_req_get("", NULL, &stream, &after, &err), -1);
	assert_int_equal(front_req_get("true", "x", &stream, &after, &err),
	    -1);
	assert_string_equal(err.param, "starting_after");
	assert_int_equal(front_req_get("true", "", &stream, &after, &err), -1);
	assert_int_equal(front_req_get("true", "-2", &stream, &after, &err),
	    -1);
	assert_int_equal(front_req_get("true", " 1", &stream, &after, &err),
	    -1);
	assert_int_equal(front_req_get("true", "1 ", &stream, &after, &err),
	    -1);
	assert_int_equal(front_req_get("true", "1.5", &stream, &after, &err),
	    -1);
	assert_int_equal(front_req_get("true", "9223372036854775808", &stream,
	    &after, &err), -1);
}

/* config_listen_addr into a 64-byte host; return rc. */
static int
listen_addr(const char *s, char *host, int *port)
{
	*port = -1;
	host[0] = '\0';
	return config_listen_addr(s, host, 64, port);
}

static void
test_config_listen_addr(void **state)
{
	char	host[64], small[4];
	int	port;

	(void)state;
	assert_int_equal(listen_addr("8600", host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8600);
	assert_int_equal(listen_addr(":8600", host, &port), 0);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, 8600);
	assert_int_equal(listen_addr("0.0.0.0:1", host, &port), 0);
	assert_string_equal(host, "0.0.0.0");
	assert_int_equal(port, 1);
	assert_int_equal(listen_addr("localhost:65535", host, &port), 0);
	assert_string_equal(host, "localhost");
	assert_int_equal(port, 65535);
	assert_int_equal(listen_addr("[::1]:8600", host, &port), 0);
	assert_string_equal(host, "::1");
	assert_int_equal(port, 8600);
	/* Unbracketed IPv6: the last colon is the port's. */
	assert_int_equal(listen_addr("::1:8600", host, &port), 0);
	assert_string_equal(host, "::1");

	assert_int_equal(listen_addr(NULL, host, &port), -1);
	assert_int_equal(listen_addr("", host, &port), -1);
	assert_int_equal(listen_addr(":", host, &port), -1);
	assert_int_equal(listen_addr("host:", host, &port), -1);
	assert_int_equal(listen_addr("host", host, &port), -1);
	assert_int_equal(listen_addr("host:0", host, &port), -1);
	assert_int_equal(listen_addr("host:65536", host, &port), -1);
	assert_int_equal(listen_addr("host:-1", host, &port), -1);
	assert_int_equal(listen_addr("host:80x", host, &port), -1);
	assert_int_equal(listen_addr("host: 80", host, &port), -1);
	assert_int_equal(listen_addr("host:+80", host, &port), -1);
	assert_int_equal(listen_addr("+80", host, &port), -1);
	assert_int_equal(listen_addr("0", host, &port), -1);
	assert_int_equal(listen_addr("99999999999999999999", host, &port), -1);
	assert_int_equal(listen_addr("[::1]", host, &port), -1);
	assert_int_equal(listen_addr("[::1]8600", host, &port), -1);
	assert_int_equal(listen_addr("[::1:8600", host, &port), -1);
	assert_int_equal(listen_addr("[]:8600", host, &port), -1);
	assert_int_equal(port, -1);
	/* A host that does not fit is refused, not cut. */
	port = -1;
	assert_int_equal(config_listen_addr("abcd:80", small, sizeof small,
	    &port), -1);
	assert_int_equal(config_listen_addr("abc:80", small, sizeof small,
	    &port), 0);
	assert_string_equal(small, "abc");
	assert_int_equal(config_listen_addr("[::1]:80", small, sizeof small,
	    &port), 0);
	assert_int_equal(config_listen_addr("[::12]:80", small, sizeof small,
	    &port), -1);
	assert_int_equal(config_listen_addr("1", host, 9, &port), -1);
	assert_int_equal(config_listen_addr("1", host, 10, &port), 0);
	assert_string_equal(host, "127.0.0.1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front_token_ok),
		cmocka_unit_test(test_front_run_id),
		cmocka_unit_test(test_front_req_create),
		cmocka_unit_test(test_front_req_key),
		cmocka_unit_test(test_front_req_get),
		cmocka_unit_test(test_config_listen_addr),
	};

	return cmocka_run_group_tests_name("front", tests, NULL, NULL);
}
