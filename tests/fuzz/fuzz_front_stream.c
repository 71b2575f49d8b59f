/*
 * libFuzzer target for lib/front-stream.c: arbitrary stored backend events
 * and ends. Byte 0 picks the dialect, background, the end status and
 * whether the final body is fed early; then each line is one event (its
 * first byte picks the seq step and the stored type, the rest is data);
 * a line starting with '!' is the final Response body. Checked: every
 * output is valid JSON with the callback's type and seq, seq contiguous
 * from 0, created then in_progress first, no stray top-level error, at
 * most one terminal event and it is last, item ids and indices consistent,
 * every added item closed before it; a rebuild fed one event at a time
 * (prelude first) is byte-identical; the snapshot is valid JSON.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "front-stream.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXITEMS	4096

struct check {
	/* First build: every event kept for the replay comparison. */
	char	**json;
	size_t	  n;
	size_t	  cap;
	int	  replay;	/* second build: compare, do not keep */
	size_t	  at;
	/* Invariants. */
	char	 *ids[MAXITEMS];
	int	  open[MAXITEMS];
	size_t	  nitems;
	int	  terminal;
};

static const char *const types[] = {
	NULL, "response.created", "response.in_progress",
	"response.output_item.added", "response.content_part.added",
	"response.output_text.delta", "response.output_text.done",
	"response.content_part.done", "response.output_item.done",
	"response.completed", "response.failed", "response.incomplete",
	"error", "keepalive", "response.resumed",
	"response.function_call_arguments.delta",
	"response.function_call_arguments.done",
	"response.reasoning_summary_text.delta", "message"
};
#define NTYPES	(sizeof types / sizeof types[0])

static const char *const statuses[] = {
	"completed", "failed", "cancelled", "incomplete", "abandoned",
	"running", NULL, "completed"
};

/*
 * Check one emitted event against the invariants (first build) or against
 * the first build's bytes (replay); abort on any difference.
 */
static void
check_event(struct check *c, int64_t seq, const char *type, const char *s,
    size_t len)
{
	json_t		*ev, *item;
	const char	*t, *id;
	json_int_t	 oi;
	size_t		 i;

	if (c->replay) {
		if (c->at >= c->n || strcmp(c->json[c->at], s) != 0)
			abort();	/* a rebuild differs */
		c->at++;
		return;
	}
	if (c->n == c->cap) {
		c->cap = c->cap == 0 ? 64 : c->cap * 2;
		c->json = realloc(c->json, c->cap * sizeof *c->json);
	}
	c->json[c->n] = strdup(s);
	if (strlen(s) != len || seq != (int64_t)c->n || c->terminal)
		abort();
	c->n++;
	ev = json_loads(s, 0, NULL);
	if (!json_is_object(ev))
		abort();
	t = json_string_value(json_object_get(ev, "type"));
	if (t == NULL || strcmp(t, type) != 0 ||
	    json_integer_value(json_object_get(ev, "sequence_number")) != seq)
		abort();
	if ((seq == 0) != (strcmp(t, "response.created") == 0) ||
	    (seq == 1 && strcmp(t, "response.in_progress") != 0))
		abort();
	if (strcmp(t, "error") != 0 && json_object_get(ev, "error") != NULL)
		abort();
	oi = json_integer_value(json_object_get(ev, "output_index"));
	id = json_string_value(json_object_get(ev, "item_id"));
	item = json_object_get(ev, "item");
	if (strcmp(t, "response.output_item.added") == 0) {
		if (oi != (json_int_t)c->nitems || c->nitems == MAXITEMS)
			abort();
		id = json_string_value(json_object_get(item, "id"));
		if (id == NULL)
			abort();
		for (i = 0; i < c->nitems; i++)
			if (strcmp(c->ids[i], id) == 0)
				abort();
		c->ids[c->nitems] = strdup(id);
		c->open[c->nitems++] = 1;
	} else if (strcmp(t, "response.output_item.done") == 0) {
		id = json_string_value(json_object_get(item, "id"));
		if (oi < 0 || oi >= (json_int_t)c->nitems || !c->open[oi] ||
		    id == NULL || strcmp(id, c->ids[oi]) != 0)
			abort();
		c->open[oi] = 0;
	} else if (id != NULL) {
		if (oi < 0 || oi >= (json_int_t)c->nitems || !c->open[oi] ||
		    strcmp(id, c->ids[oi]) != 0)
			abort();
	}
	if (strcmp(t, "response.completed") == 0 ||
	    strcmp(t, "response.failed") == 0 ||
	    strcmp(t, "response.incomplete") == 0) {
		json_t *out = json_object_get(json_object_get(ev, "response"),
		    "output");

		c->terminal = 1;
		if (json_array_size(out) != c->nitems)
			abort();
		for (i = 0; i < c->nitems; i++)
			if (c->open[i] || strcmp(json_string_value(
			    json_object_get(json_array_get(out, i), "id")),
			    c->ids[i]) != 0)
				abort();
	}
	json_decref(ev);
}

/* The emit callback: check the event. */
static void
check_cb(void *arg, int64_t seq, const char *type, const char *json,
    size_t len)
{
	check_event(arg, seq, type, json, len);
}

/* One build from the input; how 0 in one go, 1 event by event. */
static void
build(const uint8_t *data, size_t size, struct check *c, int how)
{
	struct front_run	 run;
	struct front_stream	*fs;
	struct front_event	*ev;
	struct front_end	 end;
	const char		*d = (const char *)data, *p, *nl, *body = NULL;
	size_t			 n = 0, bodylen = 0, i;
	int64_t			 seq = -1;
	char			*snap;
	json_t			*j;

	memset(&run, 0, sizeof run);
	run.run_id = "r_fuzz";
	run.created_at = 1700000000;
	run.background = data[0] & 1;
	run.dialect = data[0] & 2 ? DIALECT_DATABRICKS : DIALECT_OPENAI;
	run.request = "{\"model\":\"m\",\"tools\":[]}";
	ev = calloc(size, sizeof *ev);
	for (p = d + 1; p < d + size; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(d + size - p));
		if (nl == NULL)
			nl = d + size;
		if (nl == p)
			continue;
		if (*p == '!') {
			body = p + 1;
			bodylen = (size_t)(nl - p - 1);
			continue;
		}
		/* Steps -1 .. 2: duplicates and gaps; 3: no seq. */
		switch (((unsigned char)*p >> 5) & 3) {
		case 0:
			seq = seq > 0 ? seq - 1 : 0;
			break;
		case 3:
			ev[n].seq = -1;
			break;
		default:
			seq += ((unsigned char)*p >> 5) & 3;
		}
		if ((((unsigned char)*p >> 5) & 3) != 3)
			ev[n].seq = seq;
		ev[n].type = types[(unsigned char)*p % NTYPES];
		ev[n].data = p + 1;
		ev[n].len = (size_t)(nl - p - 1);
		n++;
	}
	memset(&end, 0, sizeof end);
	end.status = statuses[(data[0] >> 2) & 7];
	end.error = data[0] & 0x40 ? "boom \xe2" : NULL;
	end.output_text = data[0] & 0x80 ? "text" : NULL;
	end.finished_at = 1700000005;
	fs = front_stream_new(&run, check_cb, c);
	/* The rebuild decodes deltas with jansson: both must agree. */
	front_stream_fast_path(fs, how == 0);
	if (how == 0)
		front_stream_events(fs, ev, n);
	else {
		front_stream_begin(fs);
		for (i = 0; i < n; i++)
			front_stream_event(fs, ev[i].seq, ev[i].type,
			    ev[i].data, ev[i].len);
	}
	snap = front_stream_snapshot(fs, NULL);
	if ((j = json_loads(snap, 0, NULL)) == NULL)
		abort();
	json_decref(j);
	free(snap);
	if (body != NULL) {
		char *b = strndup(body, bodylen);

		if (how == 1 && (data[0] & 0x20))
			front_stream_response(fs, b, bodylen);
		end.response = b;
		front_stream_end(fs, &end);
		free(b);
	} else
		front_stream_end(fs, &end);
	if (!front_stream_ended(fs) || !c->terminal)
		abort();
	snap = front_stream_snapshot(fs, NULL);
	if ((j = json_loads(snap, 0, NULL)) == NULL)
		abort();
	json_decref(j);
	free(snap);
	front_stream_free(fs);
	free(ev);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct check	*c;
	size_t		 i;

	if (size < 1)
		return 0;
	c = calloc(1, sizeof *c);
	build(data, size, c, 0);
	c->replay = 1;
	build(data, size, c, 1);
	if (c->at != c->n)
		abort();
	for (i = 0; i < c->n; i++)
		free(c->json[i]);
	free(c->json);
	for (i = 0; i < c->nitems; i++)
		free(c->ids[i]);
	free(c);
	return 0;
}
