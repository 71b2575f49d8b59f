/*
 * Unit tests for lib/backend.c: the negotiation ladder, create bodies,
 * URLs, error parsing, Retry-After, backoff, terminal events, output text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#include "backend.h"

static void
test_backend_first_mode(void **state)
{
	(void)state;
	assert_int_equal(backend_first_mode("auto", -1, -1), MODE_BACKGROUND);
	assert_int_equal(backend_first_mode("auto", 1, 1), MODE_BACKGROUND);
	assert_int_equal(backend_first_mode("auto", 0, -1), MODE_STREAM);
	assert_int_equal(backend_first_mode("auto", -1, 0), MODE_POLL);
	assert_int_equal(backend_first_mode("auto", 0, 0), MODE_BATCH);
	/* An explicit mode skips what the endpoint is known to support. */
	assert_int_equal(backend_first_mode("batch", 1, 1), MODE_BATCH);
	assert_int_equal(backend_first_mode("background", 0, 0),
	    MODE_BACKGROUND);
	assert_int_equal(backend_first_mode(NULL, -1, -1), MODE_BACKGROUND);
}

static void
test_backend_ladder(void **state)
{
	(void)state;
	assert_int_equal(backend_next_mode(MODE_BACKGROUND,
	    VERDICT_NO_BACKGROUND), MODE_STREAM);
	assert_int_equal(backend_next_mode(MODE_BACKGROUND,
	    VERDICT_NO_STREAM), MODE_POLL);
	assert_int_equal(backend_next_mode(MODE_STREAM, VERDICT_NO_STREAM),
	    MODE_BATCH);
	assert_int_equal(backend_next_mode(MODE_POLL, VERDICT_NO_BACKGROUND),
	    MODE_BATCH);
	assert_int_equal(backend_next_mode(MODE_BATCH, VERDICT_NO_STREAM), -1);
	assert_int_equal(backend_next_mode(MODE_STREAM,
	    VERDICT_NO_BACKGROUND), -1);
	assert_int_equal(backend_next_mode(MODE_BACKGROUND, VERDICT_FAIL), -1);
}

static void
test_backend_create_body(void **state)
{
	char	*b, *cause = NULL;

	(void)state;
	b = backend_create_body("{\"model\":\"m\",\"input\":\"hi\"}",
	    MODE_BACKGROUND, &cause);
	assert_non_null(b);
	assert_non_null(strstr(b, "\"background\":true"));
	assert_non_null(strstr(b, "\"stream\":true"));
	assert_non_null(strstr(b, "\"store\":true"));
	assert_non_null(strstr(b, "\"input\":\"hi\""));
	free(b);
	/* The user's explicit store wins. */
	b = backend_create_body("{\"store\":false}", MODE_POLL, &cause);
	assert_non_null(strstr(b, "\"store\":false"));
	assert_non_null(strstr(b, "\"stream\":false"));
	free(b);
	b = backend_create_body("{\"background\":true}", MODE_BATCH, &cause);
	assert_null(strstr(b, "background"));
	assert_null(strstr(b, "store"));
	free(b);
	b = backend_create_body("[1,2]", MODE_BATCH, &cause);
	assert_null(b);
	assert_non_null(strstr(cause, "not a JSON object"));
	free(cause);
	cause = NULL;
	b = backend_create_body("{bad", MODE_BATCH, &cause);
	assert_null(b);
	assert_non_null(cause);
	free(cause);
}

static void
test_backend_url(void **state)
{
	char	*u;

	(void)state;
	u = backend_url("http://h:1/v1/", "/responses", NULL, 0, 0);
	assert_string_equal(u, "http://h:1/v1/responses");
	free(u);
	u = backend_url("http://h:1/v1", "/responses/{id}", "resp_1", 1, 41);
	assert_string_equal(u,
	    "http://h:1/v1/responses/resp_1?stream=true&starting_after=41");
	free(u);
	u = backend_url("http://h", "/responses/{id}", "resp_1", 1, -1);
	assert_string_equal(u, "http://h/responses/resp_1?stream=true");
	free(u);
	/* An id from the backend is escaped, never spliced raw. */
	u = backend_url("http://h", "/r/{id}/cancel", "a/b?c", 0, 0);
	assert_string_equal(u, "http://h/r/a%2Fb%3Fc/cancel");
	free(u);
}

static void
test_backend_classify(void **state)
{
	const char	*bg = "{\"error\":{\"message\":\"The 'background' "
	    "parameter is not supported.\",\"param\":\"background\"}}";

	(void)state;
	assert_int_equal(backend_classify(200, NULL, 0, 1), VERDICT_OK);
	assert_int_equal(backend_classify(429, NULL, 0, 1), VERDICT_RETRY);
	assert_int_equal(backend_classify(500, NULL, 0, 0), VERDICT_RETRY);
	assert_int_equal(backend_classify(503, NULL, 0, 1), VERDICT_RETRY);
	assert_int_equal(backend_classify(406, NULL, 0, 1), VERDICT_NO_STREAM);
	assert_int_equal(backend_classify(400, bg, strlen(bg), 1),
	    VERDICT_NO_BACKGROUND);
	assert_int_equal(backend_classify(400, "stream unsupported", 18, 1),
	    VERDICT_NO_STREAM);
	assert_int_equal(backend_classify(400, "bad model", 9, 1),
	    VERDICT_FAIL);
	assert_int_equal(backend_classify(404, NULL, 0, 0), VERDICT_GONE);
	assert_int_equal(backend_classify(404, NULL, 0, 1), VERDICT_FAIL);
	assert_int_equal(backend_classify(401, NULL, 0, 1), VERDICT_FAIL);
}

static void
test_backend_error_message(void **state)
{
	char		 m[256];
	const char	*openai = "{\"error\":{\"message\":\"Rate limit\","
	    "\"type\":\"requests\",\"param\":null,\"code\":\"rate_limit\"}}";
	const char	*detail = "{\"detail\":\"Response not found\"}";
	const char	*html = "<html>\n<b>502</b></html>";

	(void)state;
	backend_error_message(openai, strlen(openai), m, sizeof m);
	assert_string_equal(m, "Rate limit (rate_limit)");
	backend_error_message(detail, strlen(detail), m, sizeof m);
	assert_string_equal(m, "Response not found");
	backend_error_message(html, strlen(html), m, sizeof m);
	assert_string_equal(m, "<html> <b>502</b></html>");
	backend_error_message(NULL, 0, m, sizeof m);
	assert_string_equal(m, "empty response body");
	backend_error_message(openai, strlen(openai), m, 5);
	assert_string_equal(m, "Rate");
}

static void
test_backend_event_error(void **state)
{
	char	 m[256];
	json_t	*flat, *nested;

	(void)state;
	flat = json_loads("{\"type\":\"error\",\"code\":\"server_error\","
	    "\"message\":\"boom\",\"param\":null,\"sequence_number\":3}", 0,
	    NULL);
	nested = json_loads("{\"type\":\"error\",\"sequence_number\":2,"
	    "\"error\":{\"type\":\"too_many_requests\",\"code\":"
	    "\"too_many_requests\",\"message\":\"Too Many Requests\"}}", 0,
	    NULL);
	backend_event_error(flat, m, sizeof m);
	assert_string_equal(m, "boom (server_error)");
	backend_event_error(nested, m, sizeof m);
	assert_string_equal(m, "Too Many Requests (too_many_requests)");
	json_decref(flat);
	json_decref(nested);
}

static void
test_backend_retry_after(void **state)
{
	(void)state;
	assert_int_equal(backend_retry_after_ms("2", 0), 2000);
	assert_int_equal(backend_retry_after_ms(" 1.5 ", 0), 1500);
	assert_int_equal(backend_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT",
	    1445412470000LL), 10000);
	assert_int_equal(backend_retry_after_ms("Wed, 21 Oct 2015 07:28:00 GMT",
	    1445412490000LL), 0);
	assert_int_equal(backend_retry_after_ms("soon", 0), -1);
	assert_int_equal(backend_retry_after_ms("-3", 0), -1);
	assert_int_equal(backend_retry_after_ms("", 0), -1);
	assert_int_equal(backend_retry_after_ms(NULL, 0), -1);
	assert_int_equal(backend_retry_after_ms("99999999", 0), -1);
}

static void
test_backend_duration(void **state)
{
	(void)state;
	assert_int_equal(backend_duration_ms("1s"), 1000);
	assert_int_equal(backend_duration_ms("6m0s"), 360000);
	assert_int_equal(backend_duration_ms("1h2m3s"), 3723000);
	assert_int_equal(backend_duration_ms("250ms"), 250);
	assert_int_equal(backend_duration_ms("0.5s"), 500);
	assert_int_equal(backend_duration_ms(" 2s "), 2000);
	assert_int_equal(backend_duration_ms(""), -1);
	assert_int_equal(backend_duration_ms("5"), -1);
	assert_int_equal(backend_duration_ms("5x"), -1);
	assert_int_equal(backend_duration_ms("-1s"), -1);
	assert_int_equal(backend_duration_ms("s"), -1);
	assert_int_equal(backend_duration_ms("999999h"), -1);
	assert_int_equal(backend_duration_ms(NULL), -1);
}

static void
test_backend_backoff(void **state)
{
	int64_t		d;
	uint32_t	r;
	int		a;

	(void)state;
	for (a = 0; a < 20; a++)
		for (r = 0; r < 5000; r += 97) {
			int64_t full = 500;

			for (int i = 0; i < a && full < 30000; i++)
				full *= 2;
			if (full > 30000)
				full = 30000;
			d = backend_backoff_ms(a, 500, 30000, r * 2654435761u);
			assert_true(d >= full / 2);
			assert_true(d <= full);
		}
	/* It grows: attempt 3 never waits less than attempt 0 at most. */
	assert_true(backend_backoff_ms(3, 500, 30000, 0) >=
	    backend_backoff_ms(0, 500, 30000, 0xffffffffu));
}

static void
test_backend_terminal(void **state)
{
	(void)state;
	assert_string_equal(backend_event_terminal(DIALECT_OPENAI,
	    "response.completed"), "completed");
	assert_string_equal(backend_event_terminal(DIALECT_OPENAI,
	    "response.incomplete"), "incomplete");
	assert_string_equal(backend_event_terminal(DIALECT_OPENAI,
	    "response.cancelled"), "cancelled");
	assert_string_equal(backend_event_terminal(DIALECT_OPENAI, "error"),
	    "failed");
	assert_null(backend_event_terminal(DIALECT_OPENAI,
	    "response.output_text.delta"));
	/* Databricks: completed repeats per tool iteration; not the end. */
	assert_null(backend_event_terminal(DIALECT_DATABRICKS,
	    "response.completed"));
	assert_string_equal(backend_event_terminal(DIALECT_DATABRICKS,
	    "error"), "failed");
	assert_true(backend_status_terminal("completed"));
	assert_true(backend_status_terminal("cancelled"));
	assert_false(backend_status_terminal("queued"));
	assert_false(backend_status_terminal("in_progress"));
	assert_string_equal(backend_status_local("weird"), "failed");
	{
		/* Regression: the result must outlive the argument. */
		char		 buf[16] = "completed";
		const char	*l = backend_status_local(buf);

		memset(buf, 'x', sizeof buf - 1);
		assert_string_equal(l, "completed");
	}
}

static void
test_backend_output_text(void **state)
{
	json_t	*r;
	char	*t;

	(void)state;
	r = json_loads("{\"output\":[{\"type\":\"reasoning\",\"content\":[{"
	    "\"type\":\"output_text\",\"text\":\"no\"}]},{\"type\":\"message\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi \"},{\"type\":"
	    "\"refusal\",\"text\":\"x\"},{\"type\":\"output_text\",\"text\":"
	    "\"there\"}]},{\"type\":\"message\",\"content\":[{\"type\":"
	    "\"output_text\",\"text\":\"!\"}]}]}", 0, NULL);
	t = backend_output_text(r);
	assert_string_equal(t, "Hi there!");
	free(t);
	json_decref(r);
	t = backend_output_text(NULL);
	assert_string_equal(t, "");
	free(t);
}

static void
parse(enum backend_dialect d, const char *sse_type, const char *data,
    struct backend_event *ev, int want_rc)
{
	assert_int_equal(backend_event_parse(d, sse_type, data, strlen(data),
	    ev), want_rc);
}

static void
test_backend_event_parse(void **state)
{
	struct backend_event	ev;
	int			i;

	(void)state;
	parse(DIALECT_OPENAI, "response.created", "{\"type\":\"response."
	    "created\",\"sequence_number\":0,\"response\":{\"id\":\"resp_1\","
	    "\"status\":\"queued\"}}", &ev, 0);
	assert_int_equal(ev.seq, 0);
	assert_string_equal(ev.type, "response.created");
	assert_string_equal(ev.response_id, "resp_1");
	assert_string_equal(ev.backend_status, "queued");
	assert_null(ev.terminal);
	backend_event_clear(&ev);

	parse(DIALECT_OPENAI, NULL, "{\"type\":\"response.completed\","
	    "\"sequence_number\":9,\"response\":{\"id\":\"resp_1\",\"status\":"
	    "\"completed\",\"output\":[]}}", &ev, 0);
	assert_string_equal(ev.terminal, "completed");
	assert_non_null(strstr(ev.response, "\"status\":\"completed\""));
	assert_string_equal(ev.error, "");
	backend_event_clear(&ev);

	parse(DIALECT_OPENAI, NULL, "{\"type\":\"response.failed\","
	    "\"sequence_number\":4,\"response\":{\"id\":\"r\",\"status\":"
	    "\"failed\",\"error\":{\"code\":\"server_error\",\"message\":"
	    "\"boom\"}}}", &ev, 0);
	assert_string_equal(ev.terminal, "failed");
	assert_string_equal(ev.error, "boom (server_error)");
	backend_event_clear(&ev);

	parse(DIALECT_OPENAI, NULL, "{\"type\":\"error\",\"code\":\"x\","
	    "\"message\":\"flat\",\"sequence_number\":2}", &ev, 0);
	assert_string_equal(ev.terminal, "failed");
	assert_string_equal(ev.error, "flat (x)");
	backend_event_clear(&ev);

	/* Databricks: nested error, no seq; completed is not the end. */
	parse(DIALECT_DATABRICKS, NULL, "{\"error\":{\"message\":\"Response "
	    "not found\",\"type\":\"not_found\"},\"type\":\"error\"}", &ev, 0);
	assert_int_equal(ev.seq, -1);
	assert_string_equal(ev.terminal, "failed");
	assert_string_equal(ev.error, "Response not found (not_found)");
	backend_event_clear(&ev);
	parse(DIALECT_DATABRICKS, NULL, "{\"type\":\"response.completed\","
	    "\"sequence_number\":3,\"response_id\":\"resp_9\"}", &ev, 0);
	assert_null(ev.terminal);
	assert_string_equal(ev.response_id, "resp_9");
	backend_event_clear(&ev);
	/*
	 * Databricks: a handler's response.created carries the handler's own
	 * response.id; the run's id is the server's flat response_id, by both
	 * the scanner and jansson, and the handler's status is not the run's.
	 */
	for (i = 0; i < 2; i++) {
		const char	*h = "{\"type\":\"response.created\","
		    "\"response\":{\"id\":\"resp_handler_1\",\"status\":"
		    "\"completed\"},\"sequence_number\":0,\"response_id\":"
		    "\"resp_0123456789abcdef01234567\"}";

		assert_int_equal((i == 0 ? backend_event_parse :
		    backend_event_parse_slow)(DIALECT_DATABRICKS, NULL, h,
		    strlen(h), &ev), 0);
		assert_string_equal(ev.response_id,
		    "resp_0123456789abcdef01234567");
		assert_string_equal(ev.nested_id, "resp_handler_1");
		assert_null(ev.backend_status);
		backend_event_clear(&ev);
		/* A handler event without the flat id names no run id. */
		h = "{\"type\":\"response.created\",\"sequence_number\":0,"
		    "\"response\":{\"id\":\"resp_handler_1\"}}";
		assert_int_equal((i == 0 ? backend_event_parse :
		    backend_event_parse_slow)(DIALECT_DATABRICKS, NULL, h,
		    strlen(h), &ev), 0);
		assert_null(ev.response_id);
		backend_event_clear(&ev);
		/* OpenAI keeps taking response.id first. */
		h = "{\"type\":\"response.created\",\"sequence_number\":0,"
		    "\"response\":{\"id\":\"resp_a\"},\"response_id\":"
		    "\"resp_b\"}";
		assert_int_equal((i == 0 ? backend_event_parse :
		    backend_event_parse_slow)(DIALECT_OPENAI, NULL, h,
		    strlen(h), &ev), 0);
		assert_string_equal(ev.response_id, "resp_a");
		backend_event_clear(&ev);
	}
	parse(DIALECT_DATABRICKS, NULL, "[DONE]", &ev, 0);
	assert_true(ev.done_marker);
	assert_string_equal(ev.terminal, "completed");
	backend_event_clear(&ev);
	parse(DIALECT_OPENAI, NULL, "[DONE]", &ev, 0);
	assert_true(ev.done_marker);
	assert_null(ev.terminal);
	backend_event_clear(&ev);

	/* The SSE name stands in for a missing JSON type. */
	parse(DIALECT_OPENAI, "response.output_text.delta",
	    "{\"sequence_number\":5,\"delta\":\"x\"}", &ev, 0);
	assert_string_equal(ev.type, "response.output_text.delta");
	backend_event_clear(&ev);
	/* Bad input. */
	parse(DIALECT_OPENAI, NULL, "{\"sequence_number\":-3}", &ev, 0);
	assert_int_equal(ev.seq, -1);
	assert_string_equal(ev.type, "message");
	backend_event_clear(&ev);
	parse(DIALECT_OPENAI, NULL, "{\"sequence_number\":\"7\"}", &ev, 0);
	assert_int_equal(ev.seq, -1);
	backend_event_clear(&ev);
	parse(DIALECT_OPENAI, NULL, "[1,2]", &ev, -1);
	backend_event_clear(&ev);
	parse(DIALECT_OPENAI, NULL, "{not json", &ev, -1);
	backend_event_clear(&ev);
	parse(DIALECT_OPENAI, NULL, "", &ev, -1);
	backend_event_clear(&ev);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backend_first_mode),
		cmocka_unit_test(test_backend_ladder),
		cmocka_unit_test(test_backend_create_body),
		cmocka_unit_test(test_backend_url),
		cmocka_unit_test(test_backend_classify),
		cmocka_unit_test(test_backend_error_message),
		cmocka_unit_test(test_backend_event_error),
		cmocka_unit_test(test_backend_retry_after),
		cmocka_unit_test(test_backend_duration),
		cmocka_unit_test(test_backend_backoff),
		cmocka_unit_test(test_backend_terminal),
		cmocka_unit_test(test_backend_output_text),
		cmocka_unit_test(test_backend_event_parse),
	};

	return cmocka_run_group_tests_name("backend", tests, NULL, NULL);
}
