/*
 * Unit tests for lib/front-stream.c: the event stream and Response objects
 * the Responses front shows SDK clients, built from a run's stored backend
 * events (FRONT.md part C). Every scenario is checked for well-formedness,
 * replayed, and fed whole and one event at a time.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "harness.h"

#include "front-stream.h"

#define RUN_ID	"r_0123abcd"
#define RESP_ID	"resp_r_0123abcd"
#define MSG0	"msg_0123abcd_0"
#define MSG1	"msg_0123abcd_1"

/* The events one build emitted. */
struct out {
	size_t	 n;
	int64_t	 seq[512];
	char	*type[512];
	char	*json[512];
};

/* Keep one emitted event. */
static void
out_cb(void *arg, int64_t seq, const char *type, const char *json,
    size_t len)
{
	struct out	*o = arg;

	assert_true(o->n < 512);
	assert_int_equal(strlen(json), len);
	o->seq[o->n] = seq;
	o->type[o->n] = strdup(type);
	o->json[o->n] = strdup(json);
	o->n++;
}

/* Free a build's events. */
static void
out_free(struct out *o)
{
	size_t	i;

	for (i = 0; i < o->n; i++) {
		free(o->type[i]);
		free(o->json[i]);
	}
	free(o);
}

/* Two builds emitted the same bytes with the same numbers. */
static void
out_same(const struct out *a, const struct out *b)
{
	size_t	i;

	assert_int_equal(a->n, b->n);
	for (i = 0; i < a->n; i++) {
		assert_int_equal(a->seq[i], b->seq[i]);
		assert_string_equal(a->type[i], b->type[i]);
		assert_string_equal(a->json[i], b->json[i]);
	}
}

/* Event i parsed (a new reference; it must be an object). */
static json_t *
out_obj(const struct out *o, size_t i)
{
	json_t	*j;

	assert_true(i < o->n);
	j = json_loads(o->json[i], 0, NULL);
	assert_true(json_is_object(j));
	return j;
}

/* Index of the first event of type at or after from, or -1. */
static long
out_find(const struct out *o, const char *type, size_t from)
{
	size_t	i;

	for (i = from; i < o->n; i++)
		if (strcmp(o->type[i], type) == 0)
			return (long)i;
	return -1;
}

/* How many events of type a build emitted. */
static size_t
out_count(const struct out *o, const char *type)
{
	size_t	i, c = 0;

	for (i = 0; i < o->n; i++)
		c += strcmp(o->type[i], type) == 0;
	return c;
}

/* String member k of o, or NULL. */
static const char *
sget(json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Is t a terminal lifecycle event type? */
static int
is_terminal(const char *t)
{
	return strcmp(t, "response.completed") == 0 ||
	    strcmp(t, "response.failed") == 0 ||
	    strcmp(t, "response.incomplete") == 0;
}

/*
 * FRONT.md part C, checked on one build: valid JSON whose type and seq
 * match the callback's; seq contiguous from 0; created then in_progress;
 * ids stable; indices in order; every added item closed before the one
 * terminal event, which is last and carries the full output (the texts
 * the deltas built) and a numeric usage; no top-level error but in error.
 */
static void
out_check(const struct out *o)
{
	char	*ids[64], *texts[64];
	int	 open[64];
	size_t	 nitems = 0, i, k, terminals = 0;
	json_t	*ev, *r, *item, *out;
	const char *t, *id;
	int64_t	 oi;

	assert_true(o->n >= 3);
	for (i = 0; i < o->n; i++) {
		ev = out_obj(o, i);
		t = o->type[i];
		assert_string_equal(sget(ev, "type"), t);
		assert_int_equal(o->seq[i], (int64_t)i);
		assert_int_equal(json_integer_value(json_object_get(ev,
		    "sequence_number")), (int64_t)i);
		if (strcmp(t, "error") != 0)
			assert_null(json_object_get(ev, "error"));
		assert_true(i != 0 || strcmp(t, "response.created") == 0);
		assert_true(i != 1 || strcmp(t, "response.in_progress") == 0);
		assert_true(i < 2 || strcmp(t, "response.created") != 0);
		assert_int_equal(terminals, 0);
		r = json_object_get(ev, "response");
		if (r != NULL) {
			assert_string_equal(sget(r, "id"), RESP_ID);
			assert_string_equal(sget(r, "object"), "response");
			assert_true(json_is_array(json_object_get(r,
			    "output")));
		}
		oi = json_integer_value(json_object_get(ev, "output_index"));
		id = sget(ev, "item_id");
		if (strcmp(t, "response.output_item.added") == 0) {
			assert_int_equal(oi, (int64_t)nitems);
			assert_true(nitems < 64);
			item = json_object_get(ev, "item");
			ids[nitems] = strdup(sget(item, "id"));
			texts[nitems] = strdup("");
			open[nitems] = 1;
			for (k = 0; k < nitems; k++)
				assert_string_not_equal(ids[k], ids[nitems]);
			nitems++;
		} else if (strcmp(t, "response.output_item.done") == 0) {
			assert_true(oi < (int64_t)nitems && open[oi]);
			item = json_object_get(ev, "item");
			assert_string_equal(sget(item, "id"), ids[oi]);
			if (sget(item, "status") != NULL)
				assert_string_not_equal(sget(item, "status"),
				    "in_progress");
			open[oi] = 0;
		} else if (id != NULL) {
			assert_true(oi < (int64_t)nitems && open[oi]);
			assert_string_equal(id, ids[oi]);
		}
		if (strcmp(t, "response.output_text.delta") == 0) {
			char	*s;

			assert_true(json_is_array(json_object_get(ev,
			    "logprobs")));
			assert_int_equal(asprintf(&s, "%s%s", texts[oi],
			    sget(ev, "delta")) >= 0, 1);
			free(texts[oi]);
			texts[oi] = s;
		}
		if (strcmp(t, "response.output_text.done") == 0)
			assert_string_equal(sget(ev, "text"), texts[oi]);
		if (is_terminal(t)) {
			terminals++;
			for (k = 0; k < nitems; k++)
				assert_int_equal(open[k], 0);
			out = json_object_get(r, "output");
			assert_int_equal(json_array_size(out), nitems);
			json_array_foreach(out, k, item) {
				assert_string_equal(sget(item, "id"), ids[k]);
				if (strcmp(sget(item, "type"), "message") == 0)
					assert_string_equal(sget(json_array_get(
					    json_object_get(item, "content"),
					    0), "text"), texts[k]);
			}
			assert_true(json_is_integer(json_object_get(
			    json_object_get(r, "usage"), "input_tokens")));
			assert_true(json_is_integer(json_object_get(
			    json_object_get(r, "usage"), "output_tokens")));
		}
		json_decref(ev);
	}
	assert_int_equal(terminals, 1);
	assert_true(is_terminal(o->type[o->n - 1]));
	for (k = 0; k < nitems; k++) {
		free(ids[k]);
		free(texts[k]);
	}
}

/* The run every test uses, in dialect d. */
static struct front_run
mkrun(enum backend_dialect d, int background)
{
	struct front_run	r = {
		.run_id = RUN_ID,
		.created_at = 1741290958,
		.model = NULL,
		.background = background,
		.request = "{\"model\":\"gpt-x\",\"input\":\"hi\","
		    "\"instructions\":\"be brief\",\"metadata\":{\"k\":\"v\"}}",
		.dialect = d
	};

	return r;
}

/* Shorthand for a stored event. */
#define EV(s, j)	{ (s), NULL, (j), sizeof(j) - 1 }

/*
 * Build one stream: how 0 feeds everything in one call, 1 emits the
 * prelude first (accept time) then one event at a time, 2 one at a time.
 */
static struct out *
build(const struct front_run *run, const struct front_event *ev, size_t n,
    const struct front_end *end, int how)
{
	struct out		*o = calloc(1, sizeof *o);
	struct front_stream	*fs = front_stream_new(run, out_cb, o);
	size_t			 i;

	if (how == 0)
		front_stream_events(fs, ev, n);
	else {
		if (how == 1)
			front_stream_begin(fs);
		for (i = 0; i < n; i++)
			front_stream_event(fs, ev[i].seq, ev[i].type,
			    ev[i].data, ev[i].len);
	}
	if (end != NULL)
		front_stream_end(fs, end);
	assert_int_equal(front_stream_ended(fs), end != NULL);
	assert_int_equal(front_stream_next_seq(fs), (int64_t)o->n);
	front_stream_free(fs);
	return o;
}

/* Build all ways, check each, check they agree; the first is returned. */
static struct out *
scenario(const struct front_run *run, const struct front_event *ev, size_t n,
    const struct front_end *end)
{
	struct out	*a, *b;
	int		 how;

	a = build(run, ev, n, end, 0);
	out_check(a);
	for (how = 0; how < 3; how++) {
		/* how 0 again: a replay after a restart. */
		b = build(run, ev, n, end, how);
		out_same(a, b);
		out_free(b);
	}
	return a;
}

static const struct front_end END_OK = { "completed", NULL, NULL, NULL,
    1741290970 };

/* A full OpenAI background stream, as tests/unit/test_backend.c feeds. */
static const struct front_event openai_full[] = {
	EV(0, "{\"type\":\"response.created\",\"sequence_number\":0,"
	    "\"response\":{\"id\":\"resp_up\",\"status\":\"queued\"}}"),
	EV(1, "{\"type\":\"response.queued\",\"sequence_number\":1,"
	    "\"response\":{\"id\":\"resp_up\",\"status\":\"queued\"}}"),
	EV(2, "{\"type\":\"response.in_progress\",\"sequence_number\":2,"
	    "\"response\":{\"id\":\"resp_up\",\"status\":\"in_progress\"}}"),
	EV(3, "{\"type\":\"keepalive\",\"sequence_number\":3}"),
	EV(4, "{\"type\":\"response.output_item.added\",\"sequence_number\":4,"
	    "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":"
	    "\"msg_up\",\"status\":\"in_progress\",\"role\":\"assistant\","
	    "\"content\":[]}}"),
	EV(5, "{\"type\":\"response.content_part.added\",\"sequence_number\":5,"
	    "\"item_id\":\"msg_up\",\"output_index\":0,\"content_index\":0,"
	    "\"part\":{\"type\":\"output_text\",\"text\":\"\"}}"),
	EV(6, "{\"type\":\"response.output_text.delta\",\"sequence_number\":6,"
	    "\"item_id\":\"msg_up\",\"output_index\":0,\"content_index\":0,"
	    "\"delta\":\"Hi\",\"logprobs\":[]}"),
	EV(7, "{\"type\":\"response.output_text.delta\",\"sequence_number\":7,"
	    "\"item_id\":\"msg_up\",\"output_index\":0,\"content_index\":0,"
	    "\"delta\":\" there\",\"logprobs\":[]}"),
	EV(8, "{\"type\":\"response.output_text.done\",\"sequence_number\":8,"
	    "\"item_id\":\"msg_up\",\"output_index\":0,\"content_index\":0,"
	    "\"text\":\"Hi there\"}"),
	EV(9, "{\"type\":\"response.content_part.done\",\"sequence_number\":9,"
	    "\"item_id\":\"msg_up\",\"output_index\":0,\"content_index\":0,"
	    "\"part\":{\"type\":\"output_text\",\"text\":\"Hi there\"}}"),
	EV(10, "{\"type\":\"response.output_item.done\",\"sequence_number\":10,"
	    "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":"
	    "\"msg_up\",\"status\":\"completed\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"Hi there\"}]}}"),
	EV(11, "{\"type\":\"response.completed\",\"sequence_number\":11,"
	    "\"response\":{\"id\":\"resp_up\",\"status\":\"completed\","
	    "\"usage\":{\"input_tokens\":5,\"output_tokens\":2,"
	    "\"total_tokens\":7}}}")
};
#define NEV(a)	(sizeof(a) / sizeof((a)[0]))

static void
test_front_stream_prelude(void **state)
{
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*early = calloc(1, sizeof *early), *full;
	struct front_stream	*fs;
	json_t			*ev, *r;
	size_t			 i;

	(void)state;
	fs = front_stream_new(&run, out_cb, early);
	front_stream_begin(fs);
	front_stream_begin(fs);		/* once only */
	assert_int_equal(early->n, 2);
	assert_int_equal(front_stream_next_seq(fs), 2);
	front_stream_free(fs);
	ev = out_obj(early, 0);
	assert_string_equal(early->type[0], "response.created");
	r = json_object_get(ev, "response");
	assert_string_equal(sget(r, "status"), "queued");
	assert_string_equal(sget(r, "model"), "gpt-x");
	assert_string_equal(sget(r, "instructions"), "be brief");
	assert_string_equal(sget(json_object_get(r, "metadata"), "k"), "v");
	assert_true(json_is_null(json_object_get(r, "usage")));
	assert_true(json_is_null(json_object_get(r, "error")));
	assert_true(json_is_null(json_object_get(r, "incomplete_details")));
	assert_int_equal(json_array_size(json_object_get(r, "output")), 0);
	assert_int_equal(json_integer_value(json_object_get(r, "created_at")),
	    1741290958);
	assert_true(json_is_true(json_object_get(r, "background")));
	assert_true(json_is_array(json_object_get(r, "tools")));
	assert_string_equal(sget(r, "tool_choice"), "auto");
	json_decref(ev);
	ev = out_obj(early, 1);
	assert_string_equal(sget(json_object_get(ev, "response"), "status"),
	    "in_progress");
	json_decref(ev);
	/* A later rebuild from the log starts with the same bytes. */
	full = scenario(&run, openai_full, NEV(openai_full), &END_OK);
	for (i = 0; i < 2; i++)
		assert_string_equal(early->json[i], full->json[i]);
	out_free(early);
	out_free(full);
	/* Not background: created says in_progress. */
	run = mkrun(DIALECT_OPENAI, 0);
	run.model = "override";
	run.request = "not json";
	full = build(&run, NULL, 0, NULL, 0);
	ev = out_obj(full, 0);
	r = json_object_get(ev, "response");
	assert_string_equal(sget(r, "status"), "in_progress");
	assert_string_equal(sget(r, "model"), "override");
	assert_true(json_is_null(json_object_get(r, "instructions")));
	json_decref(ev);
	out_free(full);
}

static void
test_front_stream_openai_background(void **state)
{
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*o;
	json_t			*ev, *r, *u, *item;
	const char		*want[] = { "response.created",
				    "response.in_progress",
				    "response.output_item.added",
				    "response.content_part.added",
				    "response.output_text.delta",
				    "response.output_text.delta",
				    "response.output_text.done",
				    "response.content_part.done",
				    "response.output_item.done",
				    "response.completed" };
	size_t			 i;

	(void)state;
	o = scenario(&run, openai_full, NEV(openai_full), &END_OK);
	assert_int_equal(o->n, NEV(want));
	for (i = 0; i < o->n; i++)
		assert_string_equal(o->type[i], want[i]);
	ev = out_obj(o, 4);
	assert_string_equal(sget(ev, "item_id"), MSG0);
	assert_string_equal(sget(ev, "delta"), "Hi");
	json_decref(ev);
	assert_non_null(strstr(o->json[3], "\"part\":{\"type\":\"output_text\","
	    "\"text\":\"\",\"annotations\":[],\"logprobs\":[]}"));
	ev = out_obj(o, o->n - 1);
	r = json_object_get(ev, "response");
	assert_string_equal(sget(r, "status"), "completed");
	assert_int_equal(json_integer_value(json_object_get(r,
	    "completed_at")), 1741290970);
	u = json_object_get(r, "usage");
	assert_int_equal(json_integer_value(json_object_get(u,
	    "input_tokens")), 5);
	assert_int_equal(json_integer_value(json_object_get(u,
	    "output_tokens")), 2);
	assert_int_equal(json_integer_value(json_object_get(u,
	    "total_tokens")), 7);
	assert_int_equal(json_integer_value(json_object_get(
	    json_object_get(u, "input_tokens_details"), "cached_tokens")), 0);
	item = json_array_get(json_object_get(r, "output"), 0);
	assert_string_equal(sget(item, "id"), MSG0);
	assert_string_equal(sget(item, "status"), "completed");
	assert_string_equal(sget(item, "role"), "assistant");
	json_decref(ev);
	/* Nothing upstream leaks: its ids, lifecycle, keepalive. */
	for (i = 0; i < o->n; i++) {
		assert_null(strstr(o->json[i], "msg_up"));
		assert_null(strstr(o->json[i], "resp_up"));
	}
	assert_int_equal(out_count(o, "keepalive"), 0);
	assert_int_equal(out_count(o, "response.queued"), 0);
	out_free(o);
}

/* The same run in each dialect and resolved mode. */
static void
test_front_stream_modes(void **state)
{
	static const struct front_event dbx[] = {
		EV(0, "{\"type\":\"response.output_text.delta\",\"delta\":"
		    "\"Hel\",\"item_id\":\"i1\",\"sequence_number\":0,"
		    "\"response_id\":\"resp_0123\"}"),
		EV(1, "{\"type\":\"response.output_text.delta\",\"delta\":"
		    "\"lo\",\"item_id\":\"i1\",\"sequence_number\":1}"),
		EV(2, "{\"type\":\"response.output_item.done\",\"item\":{"
		    "\"type\":\"message\",\"id\":\"i1\",\"role\":\"assistant\","
		    "\"content\":[{\"type\":\"output_text\",\"text\":"
		    "\"Hello\"}]},\"sequence_number\":2}")
	};
	struct front_end	 poll = { "completed", NULL,
	    "{\"id\":\"resp_up\",\"status\":\"completed\",\"output\":[{\"type"
	    "\":\"message\",\"id\":\"m\",\"status\":\"completed\",\"role\":"
	    "\"assistant\",\"content\":[{\"type\":\"output_text\",\"text\":"
	    "\"Hello\"}]}],\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}",
	    "Hello", 0 };
	enum backend_dialect	 d;
	enum backend_mode	 m;
	struct front_run	 run;
	struct out		*o;
	json_t			*ev, *item;

	(void)state;
	for (d = DIALECT_OPENAI; d <= DIALECT_DATABRICKS; d++) {
		for (m = MODE_BACKGROUND; m <= MODE_BATCH; m++) {
			run = mkrun(d, m == MODE_BACKGROUND || m == MODE_POLL);
			if (m == MODE_POLL || m == MODE_BATCH)
				o = scenario(&run, NULL, 0, &poll);
			else if (d == DIALECT_OPENAI)
				o = scenario(&run, openai_full,
				    NEV(openai_full), &END_OK);
			else
				o = scenario(&run, dbx, NEV(dbx), &END_OK);
			ev = out_obj(o, o->n - 1);
			item = json_array_get(json_object_get(
			    json_object_get(ev, "response"), "output"), 0);
			assert_int_equal(json_array_size(json_object_get(
			    json_object_get(ev, "response"), "output")), 1);
			assert_string_equal(sget(item, "id"), MSG0);
			assert_string_equal(sget(json_array_get(
			    json_object_get(item, "content"), 0), "text"),
			    d == DIALECT_OPENAI && (m == MODE_BACKGROUND ||
			    m == MODE_STREAM) ? "Hi there" : "Hello");
			json_decref(ev);
			out_free(o);
		}
	}
}

static void
test_front_stream_databricks_tool_steps(void **state)
{
	static const struct front_event ev[] = {
		EV(0, "{\"type\":\"response.created\",\"response\":{\"id\":"
		    "\"resp_h1\"},\"sequence_number\":0}"),
		EV(0, "{\"type\":\"response.created\",\"response\":{\"id\":"
		    "\"resp_h1\"},\"sequence_number\":0}"),
		EV(1, "{\"type\":\"response.output_item.added\","
		    "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":"
		    "\"__fake_id__\",\"content\":[]},\"sequence_number\":1}"),
		EV(2, "{\"type\":\"response.output_text.delta\",\"output_index"
		    "\":0,\"item_id\":\"__fake_id__\",\"delta\":\"Looking\","
		    "\"sequence_number\":2}"),
		EV(3, "{\"type\":\"response.output_item.done\",\"output_index"
		    "\":0,\"item\":{\"type\":\"message\",\"id\":"
		    "\"__fake_id__\","
		    "\"content\":[{\"type\":\"output_text\",\"text\":"
		    "\"Looking up.\"}]},\"sequence_number\":3}"),
		EV(4, "{\"type\":\"response.output_item.done\",\"output_index"
		    "\":1,\"item\":{\"type\":\"function_call\",\"id\":"
		    "\"__fake_id__\",\"call_id\":\"c1\",\"name\":\"lookup\","
		    "\"arguments\":\"{}\"},\"sequence_number\":4}"),
		EV(5, "{\"type\":\"response.completed\",\"response\":{\"id\":"
		    "\"resp_h1\",\"usage\":{\"input_tokens\":10,"
		    "\"output_tokens\":3}},\"sequence_number\":5}"),
		EV(6, "{\"type\":\"response.output_item.done\",\"item\":{"
		    "\"type\":"
		    "\"function_call_output\",\"call_id\":\"c1\",\"output\":"
		    "\"42\"},\"sequence_number\":6}"),
		EV(7, "{\"type\":\"response.resumed\",\"attempt\":2,"
		    "\"from_seq\":7,\"sequence_number\":7}"),
		EV(8, "{\"type\":\"response.created\",\"response\":{\"id\":"
		    "\"resp_h2\"},\"sequence_number\":8}"),
		EV(9, "{\"type\":\"response.output_item.added\","
		    "\"output_index\":0,\"item\":{\"type\":\"message\",\"id\":"
		    "\"__fake_id__\",\"content\":[]},\"sequence_number\":9}"),
		EV(10, "{\"type\":\"response.output_text.delta\","
		    "\"output_index\":0,\"item_id\":\"__fake_id__\",\"delta\":"
		    "\"It is 42.\",\"sequence_number\":10}"),
		EV(11, "{\"type\":\"response.completed\",\"response\":{\"id\":"
		    "\"resp_h2\",\"usage\":{\"input_tokens\":20,"
		    "\"output_tokens\":4}},\"sequence_number\":11}")
	};
	struct front_run	 run = mkrun(DIALECT_DATABRICKS, 1);
	struct out		*o;
	json_t			*last, *r, *out, *u;
	size_t			 i;

	(void)state;
	o = scenario(&run, ev, NEV(ev), &END_OK);
	/* One created (seq 0), one terminal, nothing custom. */
	assert_int_equal(out_count(o, "response.created"), 1);
	assert_int_equal(out_count(o, "response.completed"), 1);
	assert_int_equal(out_count(o, "response.resumed"), 0);
	assert_int_equal(out_count(o, "response.output_item.added"), 2);
	for (i = 0; i < o->n; i++) {
		assert_null(strstr(o->json[i], "function_call"));
		assert_null(strstr(o->json[i], "__fake_id__"));
		assert_null(strstr(o->json[i], "resp_h"));
	}
	/* One message item per upstream message, across the tool steps. */
	last = out_obj(o, o->n - 1);
	r = json_object_get(last, "response");
	out = json_object_get(r, "output");
	assert_int_equal(json_array_size(out), 2);
	assert_string_equal(sget(json_array_get(out, 0), "id"), MSG0);
	assert_string_equal(sget(json_array_get(out, 1), "id"), MSG1);
	assert_string_equal(sget(json_array_get(json_object_get(
	    json_array_get(out, 0), "content"), 0), "text"), "Looking up.");
	assert_string_equal(sget(json_array_get(json_object_get(
	    json_array_get(out, 1), "content"), 0), "text"), "It is 42.");
	/* Each tool step's usage adds up. */
	u = json_object_get(r, "usage");
	assert_int_equal(json_integer_value(json_object_get(u,
	    "input_tokens")), 30);
	assert_int_equal(json_integer_value(json_object_get(u,
	    "output_tokens")), 7);
	assert_int_equal(json_integer_value(json_object_get(u,
	    "total_tokens")), 37);
	json_decref(last);
	out_free(o);
}

static void
test_front_stream_duplicates_dropped(void **state)
{
	static const struct front_event ev[] = {
		EV(0, "{\"type\":\"response.output_text.delta\",\"delta\":\"a"
		    "\","
		    "\"item_id\":\"x\",\"sequence_number\":0}"),
		EV(0, "{\"type\":\"response.output_text.delta\",\"delta\":\"a"
		    "\","
		    "\"item_id\":\"x\",\"sequence_number\":0}"),
		EV(0, "{\"type\":\"response.output_text.delta\",\"delta\":\"a"
		    "\","
		    "\"item_id\":\"x\",\"sequence_number\":0}"),
		EV(1, "{\"type\":\"response.output_text.delta\",\"delta\":\"b"
		    "\","
		    "\"item_id\":\"x\",\"sequence_number\":1}"),
		EV(0, "{\"type\":\"response.output_text.delta\",\"delta\":\"a"
		    "\","
		    "\"item_id\":\"x\",\"sequence_number\":0}")
	};
	struct front_run	 run = mkrun(DIALECT_DATABRICKS, 1);
	struct out		*o;
	json_t			*e;

	(void)state;
	o = scenario(&run, ev, NEV(ev), &END_OK);
	assert_int_equal(out_count(o, "response.output_text.delta"), 2);
	e = out_obj(o, out_find(o, "response.output_text.done", 0));
	assert_string_equal(sget(e, "text"), "ab");
	json_decref(e);
	out_free(o);
}

static void
test_front_stream_malformed_ignored(void **state)
{
	static const struct front_event bad[] = {
		EV(6, "{\"type\":\"response.output_text.delta\",\"delta\":\"Hi"
		    "\","
		    "\"item_id\":\"x\""),
		EV(7, "[1,2,3]"),
		EV(8, "\"response.output_text.delta\""),
		EV(9, "{\"type\":\"response.output_text.delta\",\"delta\":42}"),
		EV(10, "{\"type\":\"response.output_item.added\",\"item\":\"m"
		    "\"}"),
		EV(11, "{\"type\":\"response.output_item.done\",\"item\":{}}"),
		EV(12, "{\"type\":7}"),
		EV(13, "{\"type\":\"response.content_part.done\",\"part\":[]}"),
		EV(14, "{\"type\":\"error\",\"error\":\"x\"}"),
		EV(15, "\xff\xfe{{"),
		{ 16, "response.output_text.delta", NULL, 0 }
	};
	struct front_event	 ev[NEV(openai_full) + NEV(bad)];
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*clean, *o;
	size_t			 i, n = 0;

	(void)state;
	/* The garbage sits between the good events' seqs. */
	for (i = 0; i < NEV(openai_full); i++) {
		ev[n] = openai_full[i];
		ev[n++].seq = (int64_t)i * 100;
		if (i == 6) {
			memcpy(ev + n, bad, sizeof bad);
			for (size_t k = 0; k < NEV(bad); k++)
				ev[n + k].seq = 601 + (int64_t)k;
			n += NEV(bad);
		}
	}
	clean = scenario(&run, openai_full, NEV(openai_full), &END_OK);
	o = scenario(&run, ev, n, &END_OK);
	out_same(clean, o);
	out_free(clean);
	out_free(o);
}

static void
test_front_stream_failure_shape(void **state)
{
	struct front_end	 end = { "failed", "backend said no", NULL,
	    NULL, 0 };
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*o;
	json_t			*e, *err, *r, *item;
	long			 ie;

	(void)state;
	/* Cut after the first delta. */
	o = scenario(&run, openai_full, 7, &end);
	ie = out_find(o, "error", 0);
	assert_int_equal(ie, (long)o->n - 2);
	assert_string_equal(o->type[o->n - 1], "response.failed");
	/* Items closed before the error event. */
	assert_true(out_find(o, "response.output_item.done", 0) < ie);
	e = out_obj(o, ie);
	assert_string_equal(sget(e, "code"), "server_error");
	assert_string_equal(sget(e, "message"), "backend said no");
	assert_true(json_is_null(json_object_get(e, "param")));
	err = json_object_get(e, "error");
	assert_string_equal(sget(err, "type"), "server_error");
	assert_string_equal(sget(err, "code"), "server_error");
	assert_string_equal(sget(err, "message"), "backend said no");
	assert_true(json_is_null(json_object_get(err, "param")));
	json_decref(e);
	e = out_obj(o, o->n - 1);
	r = json_object_get(e, "response");
	assert_string_equal(sget(r, "status"), "failed");
	assert_string_equal(sget(json_object_get(r, "error"), "code"),
	    "server_error");
	assert_string_equal(sget(json_object_get(r, "error"), "message"),
	    "backend said no");
	item = json_array_get(json_object_get(r, "output"), 0);
	assert_string_equal(sget(item, "status"), "incomplete");
	assert_null(json_object_get(r, "completed_at"));
	json_decref(e);
	out_free(o);
	/* Abandoned, no message: failed still says why; upstream's wins. */
	end.status = "abandoned";
	end.error = NULL;
	o = scenario(&run, NULL, 0, &end);
	assert_non_null(strstr(o->json[o->n - 1], "the run was abandoned"));
	out_free(o);
	{
		static const struct front_event up[] = {
			EV(0, "{\"type\":\"error\",\"error\":{\"type\":"
			    "\"server_error\",\"code\":\"task_failed\","
			    "\"message\":\"tool crashed\"}}")
		};

		run = mkrun(DIALECT_DATABRICKS, 1);
		end.status = "failed";
		o = scenario(&run, up, 1, &end);
		assert_non_null(strstr(o->json[o->n - 2], "tool crashed"));
		assert_null(strstr(o->json[o->n - 2], "task_failed"));
		out_free(o);
	}
}

static void
test_front_stream_cancel_shape(void **state)
{
	struct front_end	 end = { "cancelled", NULL, NULL, NULL, 0 };
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*o;
	json_t			*e, *r;

	(void)state;
	o = scenario(&run, openai_full, 7, &end);
	assert_string_equal(o->type[o->n - 1], "response.incomplete");
	assert_int_equal(out_count(o, "error"), 0);
	e = out_obj(o, o->n - 1);
	r = json_object_get(e, "response");
	assert_string_equal(sget(r, "status"), "cancelled");
	assert_true(json_is_null(json_object_get(r, "error")));
	assert_string_equal(sget(json_array_get(json_object_get(r, "output"),
	    0), "status"), "incomplete");
	json_decref(e);
	out_free(o);
	/* incomplete keeps the backend's reason. */
	end.status = "incomplete";
	end.response = "{\"status\":\"incomplete\",\"incomplete_details\":"
	    "{\"reason\":\"max_output_tokens\"}}";
	o = scenario(&run, openai_full, 7, &end);
	e = out_obj(o, o->n - 1);
	r = json_object_get(e, "response");
	assert_string_equal(sget(r, "status"), "incomplete");
	assert_string_equal(sget(json_object_get(r, "incomplete_details"),
	    "reason"), "max_output_tokens");
	json_decref(e);
	out_free(o);
}

static void
test_front_stream_json_only(void **state)
{
	static const char body[] = "{\"id\":\"resp_up\",\"status\":"
	    "\"completed\",\"output\":["
	    "{\"type\":\"reasoning\",\"id\":\"rs_1\",\"summary\":[]},"
	    "{\"type\":\"message\",\"id\":\"m1\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"One\"},"
	    "{\"type\":\"output_text\",\"text\":\" two\"}]},"
	    "{\"type\":\"function_call\",\"id\":\"fc_9\",\"call_id\":\"c\","
	    "\"name\":\"f\",\"arguments\":\"{\\\"a\\\":1}\",\"status\":"
	    "\"completed\"}],"
	    "\"usage\":{\"input_tokens\":3,\"output_tokens\":4,"
	    "\"output_tokens_details\":{\"reasoning_tokens\":2}}}";
	struct front_end	 end = { "completed", NULL, body, "One two",
	    0 };
	struct front_run	 run = mkrun(DIALECT_OPENAI, 0);
	struct out		*o, *live;
	struct front_stream	*fs;
	json_t			*e, *r, *out;
	const char		*want[] = { "response.created",
				    "response.in_progress",
				    "response.output_item.added",
				    "response.output_item.done",
				    "response.output_item.added",
				    "response.content_part.added",
				    "response.output_text.delta",
				    "response.output_text.done",
				    "response.content_part.done",
				    "response.output_item.done",
				    "response.output_item.added",
				    "response.function_call_arguments.delta",
				    "response.function_call_arguments.done",
				    "response.output_item.done",
				    "response.completed" };
	size_t			 i;

	(void)state;
	o = scenario(&run, NULL, 0, &end);
	assert_int_equal(o->n, NEV(want));
	for (i = 0; i < o->n; i++)
		assert_string_equal(o->type[i], want[i]);
	e = out_obj(o, 6);
	assert_string_equal(sget(e, "delta"), "One two");
	assert_string_equal(sget(e, "item_id"), MSG1);
	json_decref(e);
	e = out_obj(o, o->n - 1);
	r = json_object_get(e, "response");
	out = json_object_get(r, "output");
	assert_string_equal(sget(json_array_get(out, 0), "id"), "rs_1");
	assert_string_equal(sget(json_array_get(out, 2), "id"), "fc_9");
	assert_string_equal(sget(json_array_get(out, 2), "arguments"),
	    "{\"a\":1}");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    json_object_get(r, "usage"), "output_tokens_details"),
	    "reasoning_tokens")), 2);
	assert_int_equal(json_integer_value(json_object_get(json_object_get(
	    r, "usage"), "total_tokens")), 7);
	json_decref(e);
	/* The body fed when it came, then the end: the same stream. */
	live = calloc(1, sizeof *live);
	fs = front_stream_new(&run, out_cb, live);
	front_stream_begin(fs);
	front_stream_response(fs, body, sizeof body - 1);
	front_stream_response(fs, body, sizeof body - 1);
	front_stream_end(fs, &end);
	front_stream_free(fs);
	out_same(o, live);
	out_free(live);
	out_free(o);
	/* Databricks: its agent server ran the tools; only messages show. */
	run = mkrun(DIALECT_DATABRICKS, 0);
	o = scenario(&run, NULL, 0, &end);
	assert_int_equal(out_count(o, "response.output_item.added"), 1);
	out_free(o);
	/* No body, only the assembled text. */
	end.response = NULL;
	o = scenario(&run, NULL, 0, &end);
	assert_int_equal(out_count(o, "response.output_item.added"), 1);
	assert_non_null(strstr(o->json[4], "\"delta\":\"One two\""));
	out_free(o);
	/* Nothing at all: still a well-formed empty completion. */
	end.output_text = NULL;
	o = scenario(&run, NULL, 0, &end);
	assert_int_equal(o->n, 3);
	out_free(o);
}

static void
test_front_stream_stream_only(void **state)
{
	/* Bare deltas: no ids, no items, no lifecycle. */
	static const struct front_event bare[] = {
		EV(0, "{\"type\":\"response.output_text.delta\","
		    "\"delta\":\"Hel\"}"),
		EV(1, "{\"type\":\"response.output_text.delta\",\"delta\":\""
		    "\"}"),
		EV(2, "{\"type\":\"response.output_text.delta\","
		    "\"delta\":\"lo\"}"),
	};
	/* Deltas and a done text, no item events. */
	static const struct front_event keyed[] = {
		EV(0, "{\"type\":\"response.output_text.delta\",\"item_id\":"
		    "\"a\",\"output_index\":0,\"delta\":\"Hel\"}"),
		EV(1, "{\"type\":\"response.output_text.done\",\"item_id\":"
		    "\"a\",\"output_index\":0,\"text\":\"Hello\"}"),
		EV(2, "{\"type\":\"response.content_part.done\",\"item_id\":"
		    "\"a\",\"output_index\":0,\"part\":{\"type\":\"output_text"
		    "\","
		    "\"text\":\"Hello\"}}"),
		EV(3, "{\"type\":\"response.output_text.delta\",\"item_id\":"
		    "\"b\",\"output_index\":1,\"delta\":\"Bye\"}"),
		EV(4, "{\"type\":\"response.completed\",\"response\":{}}")
	};
	struct front_run	 run = mkrun(DIALECT_OPENAI, 0);
	struct out		*o;
	json_t			*e, *out;

	(void)state;
	o = scenario(&run, bare, NEV(bare), &END_OK);
	assert_int_equal(out_count(o, "response.output_item.added"), 1);
	assert_int_equal(out_count(o, "response.output_text.delta"), 2);
	assert_int_equal(o->n, 10);
	out_free(o);
	o = scenario(&run, keyed, NEV(keyed), &END_OK);
	assert_int_equal(out_count(o, "response.output_item.added"), 2);
	assert_int_equal(out_count(o, "response.output_text.done"), 2);
	e = out_obj(o, o->n - 1);
	out = json_object_get(json_object_get(e, "response"), "output");
	assert_string_equal(sget(json_array_get(json_object_get(
	    json_array_get(out, 0), "content"), 0), "text"), "Hello");
	assert_string_equal(sget(json_array_get(json_object_get(
	    json_array_get(out, 1), "content"), 0), "text"), "Bye");
	json_decref(e);
	out_free(o);
	/* With upstream item events: openai_full, in the stream mode. */
	o = scenario(&run, openai_full, NEV(openai_full), &END_OK);
	assert_int_equal(out_count(o, "response.output_item.added"), 1);
	out_free(o);
}

static void
test_front_stream_function_call(void **state)
{
	static const struct front_event ev[] = {
		EV(0, "{\"type\":\"response.created\",\"response\":{}}"),
		EV(1, "{\"type\":\"response.output_item.added\",\"output_index"
		    "\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_u\","
		    "\"summary\":[]}}"),
		EV(2, "{\"type\":\"response.reasoning_summary_part.added\","
		    "\"item_id\":\"rs_u\",\"output_index\":0,\"summary_index"
		    "\":0,"
		    "\"part\":{\"type\":\"summary_text\",\"text\":\"\"}}"),
		EV(3, "{\"type\":\"response.output_item.done\",\"output_index"
		    "\":0,\"item\":{\"type\":\"reasoning\",\"id\":\"rs_u\","
		    "\"summary\":[{\"type\":\"summary_text\",\"text\":\"t"
		    "\"}]}}"),
		EV(4, "{\"type\":\"response.output_item.added\",\"output_index"
		    "\":1,\"item\":{\"type\":\"function_call\",\"id\":\"fc_u\","
		    "\"call_id\":\"call_1\",\"name\":\"get\",\"arguments\":\""
		    "\","
		    "\"status\":\"in_progress\"}}"),
		EV(5, "{\"type\":\"response.function_call_arguments.delta\","
		    "\"item_id\":\"fc_u\",\"output_index\":1,\"delta\":\"{\\"
		    "\"q\","
		    "\"error\":\"x\",\"response_id\":\"resp_up\"}"),
		EV(6, "{\"type\":\"response.function_call_arguments.delta\","
		    "\"item_id\":\"fc_u\",\"output_index\":1,\"delta\":"
		    "\"\\\":1}\"}"),
		EV(7, "{\"type\":\"response.function_call_arguments.delta\","
		    "\"item_id\":\"nobody\",\"output_index\":7,\"delta\":\"x"
		    "\"}"),
		EV(8, "{\"type\":\"response.made_up.delta\",\"item_id\":"
		    "\"fc_u\",\"output_index\":1}")
	};
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*o;
	json_t			*e, *item;
	long			 i;

	(void)state;
	/* Cancelled before the call was done: agentd closes it. */
	{
		struct front_end end = { "cancelled", NULL, NULL, NULL, 0 };

		o = scenario(&run, ev, NEV(ev), &end);
	}
	assert_int_equal(out_count(o, "response.reasoning_summary_part.added"),
	    1);
	assert_int_equal(out_count(o, "response.made_up.delta"), 0);
	assert_int_equal(out_count(o, "response.function_call_arguments.delta"),
	    2);
	i = out_find(o, "response.function_call_arguments.delta", 0);
	e = out_obj(o, i);
	assert_string_equal(sget(e, "item_id"), "fc_u");
	assert_int_equal(json_integer_value(json_object_get(e,
	    "output_index")), 1);
	assert_null(json_object_get(e, "response_id"));
	json_decref(e);
	i = out_find(o, "response.function_call_arguments.done", 0);
	assert_true(i > 0);
	e = out_obj(o, i);
	assert_string_equal(sget(e, "arguments"), "{\"q\":1}");
	json_decref(e);
	e = out_obj(o, o->n - 1);
	item = json_array_get(json_object_get(json_object_get(e, "response"),
	    "output"), 1);
	assert_string_equal(sget(item, "call_id"), "call_1");
	assert_string_equal(sget(item, "arguments"), "{\"q\":1}");
	assert_string_equal(sget(item, "status"), "incomplete");
	item = json_array_get(json_object_get(json_object_get(e, "response"),
	    "output"), 0);
	assert_string_equal(sget(json_array_get(json_object_get(item,
	    "summary"), 0), "text"), "t");
	json_decref(e);
	out_free(o);
}

static void
test_front_stream_snapshot(void **state)
{
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct out		*o = calloc(1, sizeof *o);
	struct front_stream	*fs = front_stream_new(&run, out_cb, o);
	json_t			*s, *e, *item;
	char			*t;
	size_t			 len;

	(void)state;
	front_stream_events(fs, openai_full, 7);
	t = front_stream_snapshot(fs, &len);
	assert_int_equal(strlen(t), len);
	s = json_loads(t, 0, NULL);
	free(t);
	assert_string_equal(sget(s, "status"), "in_progress");
	assert_true(json_is_null(json_object_get(s, "usage")));
	item = json_array_get(json_object_get(s, "output"), 0);
	assert_string_equal(sget(item, "status"), "in_progress");
	assert_string_equal(sget(json_array_get(json_object_get(item,
	    "content"), 0), "text"), "Hi");
	json_decref(s);
	front_stream_events(fs, openai_full + 7, NEV(openai_full) - 7);
	front_stream_end(fs, &END_OK);
	front_stream_end(fs, &END_OK);	/* once only */
	/* After the end, the snapshot is the terminal event's response. */
	t = front_stream_snapshot(fs, NULL);
	e = out_obj(o, o->n - 1);
	s = json_loads(t, 0, NULL);
	assert_true(json_equal(s, json_object_get(e, "response")));
	/* Events after the end change nothing. */
	len = o->n;
	front_stream_event(fs, 99, NULL, openai_full[6].data,
	    openai_full[6].len);
	assert_int_equal(o->n, len);
	json_decref(s);
	json_decref(e);
	free(t);
	front_stream_free(fs);
	out_free(o);
	t = front_deleted_json(RESP_ID);
	assert_string_equal(t, "{\"id\":\"" RESP_ID "\",\"object\":"
	    "\"response\",\"deleted\":true}");
	free(t);
}

static void
test_front_stream_bad_strings(void **state)
{
	struct front_run	 run = mkrun(DIALECT_OPENAI, 1);
	struct front_end	 end = { "failed", "cut \xe2\x82", NULL,
	    "x\xff", 0 };
	struct out		*o;
	json_t			*e;
	size_t			 i;

	(void)state;
	run.run_id = "r_\"bad\xff";
	run.model = "m\xc3";
	o = build(&run, NULL, 0, &end, 0);
	for (i = 0; i < o->n; i++) {
		e = json_loads(o->json[i], 0, NULL);
		assert_non_null(e);
		json_decref(e);
	}
	assert_non_null(strstr(o->json[0], "\"resp_r__bad_\""));
	assert_non_null(strstr(o->json[o->n - 2], "cut ??"));
	out_free(o);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_front_stream_prelude),
		cmocka_unit_test(test_front_stream_openai_background),
		cmocka_unit_test(test_front_stream_modes),
		cmocka_unit_test(test_front_stream_databricks_tool_steps),
		cmocka_unit_test(test_front_stream_duplicates_dropped),
		cmocka_unit_test(test_front_stream_malformed_ignored),
		cmocka_unit_test(test_front_stream_failure_shape),
		cmocka_unit_test(test_front_stream_cancel_shape),
		cmocka_unit_test(test_front_stream_json_only),
		cmocka_unit_test(test_front_stream_stream_only),
		cmocka_unit_test(test_front_stream_function_call),
		cmocka_unit_test(test_front_stream_snapshot),
		cmocka_unit_test(test_front_stream_bad_strings),
	};

	return cmocka_run_group_tests_name("front_stream", tests, NULL, NULL);
}
