/*
 * The front's output items: upstream item and delta events re-keyed to
 * agentd's ids and output indices, items opened and closed in the order
 * clients require (FRONT.md part C, rules 2, 3 and 5), and whole items
 * synthesized from a final body or a bare text. Lifecycle and the end are
 * in front-stream.c.
 */
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "front-stream-internal.h"
#include "jsonbuf.h"
#include "xmalloc.h"

/*
 * Item-level event types of the spec that an OpenAI backend's non-message
 * items produce: forwarded with item_id and output_index re-mapped.
 */
static const char *const fs_item_events[] = {
	"response.code_interpreter_call.completed",
	"response.code_interpreter_call.in_progress",
	"response.code_interpreter_call.interpreting",
	"response.code_interpreter_call_code.delta",
	"response.code_interpreter_call_code.done",
	"response.custom_tool_call_input.delta",
	"response.custom_tool_call_input.done",
	"response.file_search_call.completed",
	"response.file_search_call.in_progress",
	"response.file_search_call.searching",
	"response.function_call_arguments.delta",
	"response.function_call_arguments.done",
	"response.image_generation_call.completed",
	"response.image_generation_call.generating",
	"response.image_generation_call.in_progress",
	"response.image_generation_call.partial_image",
	"response.mcp_call.completed",
	"response.mcp_call.failed",
	"response.mcp_call.in_progress",
	"response.mcp_call_arguments.delta",
	"response.mcp_call_arguments.done",
	"response.mcp_list_tools.completed",
	"response.mcp_list_tools.failed",
	"response.mcp_list_tools.in_progress",
	"response.reasoning_summary_part.added",
	"response.reasoning_summary_part.done",
	"response.reasoning_summary_text.delta",
	"response.reasoning_summary_text.done",
	"response.reasoning_text.delta",
	"response.reasoning_text.done",
	"response.web_search_call.completed",
	"response.web_search_call.in_progress",
	"response.web_search_call.searching",
	NULL
};

/* Is type one of fs_item_events? */
static int
fs_is_item_event(const char *type)
{
	size_t	i;

	for (i = 0; fs_item_events[i] != NULL; i++)
		if (strcmp(type, fs_item_events[i]) == 0)
			return 1;
	return 0;
}

/* Free every item of fs. */
void
front_items_free(struct front_stream *fs)
{
	size_t	i;

	for (i = 0; i < fs->nitems; i++) {
		free(fs->items[i].up_id);
		free(fs->items[i].id);
		free(fs->items[i].text);
		json_decref(fs->items[i].item);
	}
	free(fs->items);
	fs->items = NULL;
	fs->nitems = fs->cap = 0;
}

/* agentd's output_index of it. */
static int64_t
fs_index(const struct front_stream *fs, const struct fs_item *it)
{
	return (int64_t)(it - fs->items);
}

/* Append n bytes of s to it's text buffer (no event). */
static void
fs_text_append(struct fs_item *it, const char *s, size_t n)
{
	if (it->len + n + 1 > it->cap) {
		it->cap = it->cap == 0 ? 64 : it->cap;
		while (it->len + n + 1 > it->cap)
			it->cap *= 2;
		it->text = xrealloc(it->text, it->cap);
	}
	memcpy(it->text + it->len, s, n);
	it->len += n;
	it->text[it->len] = '\0';
}

/* Is id already the id of one of fs's items? */
static int
fs_id_taken(const struct front_stream *fs, const char *id)
{
	size_t	i;

	for (i = 0; i < fs->nitems; i++)
		if (strcmp(fs->items[i].id, id) == 0)
			return 1;
	return 0;
}

/*
 * A new open item at the end of items[] with agentd's id: derived from
 * the run id and output index ("msg_<run>_<i>"), except that a non-message
 * item keeps a usable upstream id (round trips of reasoning and call ids).
 * The pointer lives until the next fs_new_item.
 */
static struct fs_item *
fs_new_item(struct front_stream *fs, enum fs_kind kind, const char *type,
    const char *up_id, int64_t up_index)
{
	struct fs_item	*it;
	const char	*prefix;
	char		*mark;

	if (fs->nitems == fs->cap) {
		fs->cap = fs->cap == 0 ? 4 : fs->cap * 2;
		fs->items = xreallocarray(fs->items, fs->cap,
		    sizeof *fs->items);
	}
	it = &fs->items[fs->nitems];
	memset(it, 0, sizeof *it);
	it->kind = kind;
	it->open = 1;
	it->step = fs->step;
	it->up_index = up_index;
	it->up_id = up_id != NULL ? xstrdup(up_id) : NULL;
	xasprintf(&mark, "_%s_", fs->idpart);
	if (kind == FS_OTHER && up_id != NULL && *up_id != '\0' &&
	    strlen(up_id) <= 128 && strstr(up_id, mark) == NULL &&
	    !fs_id_taken(fs, up_id))
		it->id = xstrdup(up_id);
	else {
		if (kind == FS_MESSAGE)
			prefix = "msg";
		else if (strcmp(type, "function_call") == 0)
			prefix = "fc";
		else if (strcmp(type, "reasoning") == 0)
			prefix = "rs";
		else
			prefix = "item";
		xasprintf(&it->id, "%s%s%zu", prefix, mark, fs->nitems);
	}
	free(mark);
	fs->nitems++;
	return it;
}

/*
 * The open item of kind that an upstream event names: by item id, else by
 * output_index within the current upstream response, else (messages) the
 * latest open one. need_part skips messages whose part is done. NULL if
 * none is open.
 */
static struct fs_item *
fs_find(struct front_stream *fs, enum fs_kind kind, const char *id,
    int64_t index, int need_part)
{
	struct fs_item	*it;
	size_t		 i;
	int		 pass;

	for (pass = 0; pass < 3; pass++) {
		if ((pass == 0 && id == NULL) || (pass == 1 && index < 0) ||
		    (pass == 2 && (id != NULL || index >= 0 ||
		    kind != FS_MESSAGE)))
			continue;
		for (i = fs->nitems; i-- > 0;) {
			it = &fs->items[i];
			if (!it->open || it->kind != kind ||
			    (need_part && it->part_done))
				continue;
			if (pass == 0 && it->up_id != NULL &&
			    strcmp(it->up_id, id) == 0)
				return it;
			if (pass == 1 && it->step == fs->step &&
			    it->up_index == index &&
			    (id == NULL || it->up_id == NULL))
				return it;
			if (pass == 2)
				return it;
		}
	}
	return NULL;
}

/* A message's output_text part holding len bytes of text. */
static json_t *
fs_part(const char *text, size_t len)
{
	return json_pack("{ss so s[] s[]}", "type", "output_text", "text",
	    front_jstrn(text, len), "annotations", "logprobs");
}

/* The item as output[] and output_item.done carry it. New reference. */
json_t *
front_item_json(const struct front_stream *fs, const struct fs_item *it)
{
	json_t	*o;

	(void)fs;
	if (it->kind == FS_MESSAGE)
		return json_pack("{ss ss ss ss s[o]}", "type", "message", "id",
		    it->id, "status", it->open ? "in_progress" : it->status,
		    "role", "assistant", "content", fs_part(it->text, it->len));
	o = json_deep_copy(it->item);
	if (it->open && json_is_string(json_object_get(o, "arguments")))
		json_object_set_new(o, "arguments", front_jstrn(it->text,
		    it->len));
	return o;
}

/* Start an event about item it: type, seq, item_id, output_index. */
static json_t *
fs_item_event(struct front_stream *fs, const char *type,
    const struct fs_item *it, int content)
{
	json_t	*ev = front_event_new(fs, type);

	json_object_set_new(ev, "item_id", json_string(it->id));
	json_object_set_new(ev, "output_index",
	    json_integer(fs_index(fs, it)));
	if (content)
		json_object_set_new(ev, "content_index", json_integer(0));
	return ev;
}

/* Emit output_item.added or .done with item (reference taken). */
static void
fs_emit_item(struct front_stream *fs, const char *type, int64_t index,
    json_t *item)
{
	json_t	*ev = front_event_new(fs, type);

	json_object_set_new(ev, "output_index", json_integer(index));
	json_object_set_new(ev, "item", item);
	front_emit(fs, ev);
}

/* Open a message: output_item.added and its content_part.added. */
static struct fs_item *
fs_open_message(struct front_stream *fs, const char *up_id, int64_t up_index)
{
	struct fs_item	*it;
	json_t		*ev;

	it = fs_new_item(fs, FS_MESSAGE, "message", up_id, up_index);
	fs_emit_item(fs, "response.output_item.added", fs_index(fs, it),
	    json_pack("{ss ss ss ss s[]}", "type", "message", "id", it->id,
	    "status", "in_progress", "role", "assistant", "content"));
	ev = fs_item_event(fs, "response.content_part.added", it, 1);
	json_object_set_new(ev, "part", fs_part("", 0));
	front_emit(fs, ev);
	return it;
}

/* Append text to message it and emit it as a delta. */
static void
fs_text_add(struct front_stream *fs, struct fs_item *it, const char *s,
    size_t n)
{
	json_t	*ev;

	if (n == 0)
		return;
	fs_text_append(it, s, n);
	ev = fs_item_event(fs, "response.output_text.delta", it, 1);
	json_object_set_new(ev, "delta", front_jstrn(s, n));
	json_object_set_new(ev, "logprobs", json_array());
	front_emit(fs, ev);
}

/*
 * Bring message it up to an upstream full text: what extends the text so
 * far goes out as one delta; a text that does not extend it is ignored
 * (sent deltas cannot be taken back).
 */
static void
fs_text_catch_up(struct front_stream *fs, struct fs_item *it,
    const char *full, size_t n)
{
	if (full != NULL && n > it->len && (it->len == 0 ||
	    memcmp(full, it->text, it->len) == 0))
		fs_text_add(fs, it, full + it->len, n - it->len);
}

/* Emit output_text.done and content_part.done for message it, once. */
static void
fs_part_close(struct front_stream *fs, struct fs_item *it)
{
	json_t	*ev;

	if (it->part_done)
		return;
	it->part_done = 1;
	ev = fs_item_event(fs, "response.output_text.done", it, 1);
	json_object_set_new(ev, "text", front_jstrn(it->text, it->len));
	json_object_set_new(ev, "logprobs", json_array());
	front_emit(fs, ev);
	ev = fs_item_event(fs, "response.content_part.done", it, 1);
	json_object_set_new(ev, "part", fs_part(it->text, it->len));
	front_emit(fs, ev);
}

/* Is item a function call (whose arguments agentd accumulates)? */
static int
fs_is_call(json_t *item)
{
	const char	*t = json_string_value(json_object_get(item, "type"));

	return t != NULL && strcmp(t, "function_call") == 0;
}

/*
 * Close open item it with status (static): its remaining done events and
 * output_item.done. A non-message item keeps what upstream last said of
 * it, with the arguments so far and the status where it has one.
 */
static void
fs_item_close(struct front_stream *fs, struct fs_item *it, const char *status)
{
	json_t	*ev, *final;

	if (!it->open)
		return;
	if (it->kind == FS_MESSAGE) {
		fs_part_close(fs, it);
		it->status = status;
	} else {
		if (fs_is_call(it->item) && !it->part_done) {
			it->part_done = 1;
			ev = fs_item_event(fs,
			    "response.function_call_arguments.done", it, 0);
			json_object_set_new(ev, "arguments",
			    front_jstrn(it->text, it->len));
			front_emit(fs, ev);
		}
		final = front_item_json(fs, it);
		if (json_object_get(final, "status") != NULL ||
		    fs_is_call(final))
			json_object_set_new(final, "status",
			    json_string(status));
		json_decref(it->item);
		it->item = final;
	}
	it->open = 0;
	fs_emit_item(fs, "response.output_item.done", fs_index(fs, it),
	    front_item_json(fs, it));
}

/* Close every open item, in output order, with status (static). */
void
front_close_open(struct front_stream *fs, const char *status)
{
	size_t	i;

	for (i = 0; i < fs->nitems; i++)
		fs_item_close(fs, &fs->items[i], status);
}

/* The status to close a message with that upstream gave it. */
static const char *
fs_item_status(json_t *item)
{
	const char	*s = json_string_value(json_object_get(item, "status"));

	return s != NULL && strcmp(s, "incomplete") == 0 ? "incomplete" :
	    "completed";
}

/* The text of a message item's output_text parts, joined. Allocated. */
static char *
fs_message_text(json_t *item, size_t *len)
{
	struct fs_item	 b;
	json_t		*parts = json_object_get(item, "content"), *p;
	const char	*t;
	size_t		 i;

	memset(&b, 0, sizeof b);
	fs_text_append(&b, "", 0);
	json_array_foreach(parts, i, p) {
		t = json_string_value(json_object_get(p, "type"));
		if (t == NULL || strcmp(t, "output_text") != 0 ||
		    !json_is_string(json_object_get(p, "text")))
			continue;
		fs_text_append(&b, json_string_value(json_object_get(p,
		    "text")), json_string_length(json_object_get(p, "text")));
	}
	*len = b.len;
	return b.text;
}

/* A copy of item with id set to id. New reference. */
static json_t *
fs_with_id(json_t *item, const char *id)
{
	json_t	*c = json_deep_copy(item);

	json_object_set_new(c, "id", json_string(id));
	return c;
}

/*
 * Open a non-message item from its upstream added form (synth: from a
 * whole item, so it is shown in progress with no arguments yet).
 */
static struct fs_item *
fs_open_other(struct front_stream *fs, json_t *item, const char *up_id,
    int64_t up_index, int synth)
{
	struct fs_item	*it;
	json_t		*added;
	const char	*args;

	it = fs_new_item(fs, FS_OTHER, json_string_value(json_object_get(item,
	    "type")), up_id, up_index);
	it->item = fs_with_id(item, it->id);
	args = json_string_value(json_object_get(item, "arguments"));
	added = json_deep_copy(it->item);
	if (synth) {
		if (json_object_get(added, "status") != NULL ||
		    fs_is_call(added))
			json_object_set_new(added, "status",
			    json_string("in_progress"));
		if (fs_is_call(added))
			json_object_set_new(added, "arguments",
			    json_string(""));
	} else if (args != NULL)
		fs_text_append(it, args, strlen(args));
	fs_emit_item(fs, "response.output_item.added", fs_index(fs, it),
	    added);
	return it;
}

/* Emit one whole upstream item: added, its content, its dones. */
static void
fs_synth_item(struct front_stream *fs, json_t *item)
{
	struct fs_item	*it;
	const char	*type = json_string_value(json_object_get(item,
			    "type"));
	const char	*args;
	char		*text;
	size_t		 len;
	json_t		*ev;

	if (type == NULL)
		return;
	if (strcmp(type, "message") == 0) {
		it = fs_open_message(fs, NULL, -1);
		text = fs_message_text(item, &len);
		fs_text_add(fs, it, text, len);
		free(text);
		fs_item_close(fs, it, fs_item_status(item));
		return;
	}
	/* Databricks's tool steps ran on the agent server: not the client's. */
	if (fs->dialect == DIALECT_DATABRICKS)
		return;
	it = fs_open_other(fs, item, json_string_value(json_object_get(item,
	    "id")), -1, 1);
	args = json_string_value(json_object_get(item, "arguments"));
	if (fs_is_call(item)) {
		if (args != NULL && *args != '\0') {
			ev = fs_item_event(fs,
			    "response.function_call_arguments.delta", it, 0);
			json_object_set_new(ev, "delta", json_string(args));
			front_emit(fs, ev);
		}
		ev = fs_item_event(fs, "response.function_call_arguments.done",
		    it, 0);
		json_object_set_new(ev, "arguments", json_string(args != NULL ?
		    args : ""));
		front_emit(fs, ev);
		it->part_done = 1;
	}
	/* Done as upstream gave it (it->item), not a closing guess. */
	it->open = 0;
	fs_emit_item(fs, "response.output_item.done", fs_index(fs, it),
	    front_item_json(fs, it));
}

/* Emit every item of a final body's output; the number of items. */
size_t
front_synth_output(struct front_stream *fs, json_t *resp)
{
	json_t	*item;
	size_t	 i;

	json_array_foreach(json_object_get(resp, "output"), i, item)
		if (json_is_object(item))
			fs_synth_item(fs, item);
	return fs->nitems;
}

/* Emit one whole message of text, closed with status (static). */
void
front_synth_text(struct front_stream *fs, const char *text, const char *status)
{
	struct fs_item	*it = fs_open_message(fs, NULL, -1);

	fs_text_add(fs, it, text, strlen(text));
	fs_item_close(fs, it, status);
}

/* Forward an item-level event for it: ids, indices and seq agentd's. */
static void
fs_forward(struct front_stream *fs, const char *type, json_t *o,
    struct fs_item *it)
{
	json_t		*ev = front_event_new(fs, type), *v;
	const char	*k;

	json_object_foreach(o, k, v) {
		/* Rule 6: no top-level error outside the error event. */
		if (strcmp(k, "type") == 0 ||
		    strcmp(k, "sequence_number") == 0 ||
		    strcmp(k, "response_id") == 0 || strcmp(k, "error") == 0)
			continue;
		if (strcmp(k, "item_id") == 0)
			json_object_set_new(ev, k, json_string(it->id));
		else if (strcmp(k, "output_index") == 0)
			json_object_set_new(ev, k,
			    json_integer(fs_index(fs, it)));
		else
			json_object_set(ev, k, v);
	}
	/* Clients find the item by output_index: both always go out. */
	if (json_object_get(ev, "item_id") == NULL)
		json_object_set_new(ev, "item_id", json_string(it->id));
	if (json_object_get(ev, "output_index") == NULL)
		json_object_set_new(ev, "output_index",
		    json_integer(fs_index(fs, it)));
	front_emit(fs, ev);
}

/* An upstream output_item.added or .done. */
static void
fs_up_item(struct front_stream *fs, json_t *item, int64_t index, int done)
{
	struct fs_item	*it;
	const char	*type, *up;
	char		*text;
	size_t		 len;

	type = json_string_value(json_object_get(item, "type"));
	if (type == NULL)
		return;
	up = json_string_value(json_object_get(item, "id"));
	if (strcmp(type, "message") == 0) {
		it = fs_find(fs, FS_MESSAGE, up, index, 0);
		if (!done) {
			if (it == NULL)
				fs_open_message(fs, up, index);
			return;
		}
		if (it == NULL) {
			fs_synth_item(fs, item);
			return;
		}
		if (!it->part_done) {
			text = fs_message_text(item, &len);
			fs_text_catch_up(fs, it, text, len);
			free(text);
		}
		fs_item_close(fs, it, fs_item_status(item));
		return;
	}
	if (fs->dialect == DIALECT_DATABRICKS)
		return;
	it = fs_find(fs, FS_OTHER, up, index, 0);
	if (!done) {
		if (it == NULL)
			fs_open_other(fs, item, up, index, 0);
		return;
	}
	if (it == NULL) {
		fs_synth_item(fs, item);
		return;
	}
	json_decref(it->item);
	it->item = fs_with_id(item, it->id);
	it->open = 0;
	fs_emit_item(fs, "response.output_item.done", fs_index(fs, it),
	    front_item_json(fs, it));
}

/* An upstream output_text.done (text) or content_part.done (its part). */
static void
fs_up_text_done(struct front_stream *fs, const char *id, int64_t index,
    json_t *text)
{
	struct fs_item	*it = fs_find(fs, FS_MESSAGE, id, index, 0);
	const char	*s = json_string_value(text);
	size_t		 n = json_string_length(text);

	if (it == NULL) {
		if (s == NULL || n == 0)
			return;
		it = fs_open_message(fs, id, index);
	}
	if (it->part_done)
		return;
	fs_text_catch_up(fs, it, s, n);
	fs_part_close(fs, it);
}

/*
 * Would fs_up_item read no more of a done message item (id up, at index)
 * than its status? (Its part is closed, so its text is not needed.)
 */
int
front_item_part_done(struct front_stream *fs, const char *up, int64_t index)
{
	struct fs_item	*it = fs_find(fs, FS_MESSAGE, up, index, 0);

	return it != NULL && it->part_done;
}

/* Start a new upstream response (tool step, resumed attempt). */
static void
fs_step(struct front_stream *fs, const char *status)
{
	front_close_open(fs, status);
	fs->step++;
}

/* One parsed upstream event of type (see front_stream_event). */
void
front_upstream(struct front_stream *fs, const char *type, json_t *o)
{
	struct fs_item	*it;
	json_t		*v, *resp = json_object_get(o, "response");
	const char	*id = json_string_value(json_object_get(o, "item_id"));
	int64_t		 index = -1;
	int		 add = fs->dialect == DIALECT_DATABRICKS;

	v = json_object_get(o, "output_index");
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		index = json_integer_value(v);
	if (strcmp(type, "response.created") == 0) {
		fs_step(fs, "completed");
	} else if (strcmp(type, "response.completed") == 0) {
		/* Databricks: one per tool step, not terminal (2.3 #7). */
		front_usage_read(resp, &fs->usage, add);
		fs_step(fs, "completed");
	} else if (strcmp(type, "response.failed") == 0 ||
	    strcmp(type, "response.incomplete") == 0) {
		front_usage_read(resp, &fs->usage, add);
		if (json_is_object(json_object_get(resp, "error")))
			front_note_error(fs, resp);
	} else if (strcmp(type, "error") == 0) {
		front_note_error(fs, o);
	} else if (strcmp(type, "response.resumed") == 0) {
		/* A new attempt: what the dead one left open is cut short. */
		fs_step(fs, "incomplete");
	} else if (strcmp(type, "response.output_item.added") == 0 ||
	    strcmp(type, "response.output_item.done") == 0) {
		if (json_is_object(json_object_get(o, "item")))
			fs_up_item(fs, json_object_get(o, "item"), index,
			    strcmp(type, "response.output_item.done") == 0);
	} else if (strcmp(type, "response.content_part.added") == 0) {
		v = json_object_get(json_object_get(o, "part"), "type");
		if (json_is_string(v) && strcmp(json_string_value(v),
		    "output_text") == 0 &&
		    fs_find(fs, FS_MESSAGE, id, index, 0) == NULL)
			fs_open_message(fs, id, index);
	} else if (strcmp(type, "response.output_text.delta") == 0) {
		v = json_object_get(o, "delta");
		if (!json_is_string(v) || json_string_length(v) == 0)
			return;
		if ((it = fs_find(fs, FS_MESSAGE, id, index, 1)) == NULL)
			it = fs_open_message(fs, id, index);
		fs_text_add(fs, it, json_string_value(v),
		    json_string_length(v));
	} else if (strcmp(type, "response.output_text.done") == 0) {
		fs_up_text_done(fs, id, index, json_object_get(o, "text"));
	} else if (strcmp(type, "response.content_part.done") == 0) {
		v = json_object_get(o, "part");
		if (json_is_string(json_object_get(v, "type")) &&
		    strcmp(json_string_value(json_object_get(v, "type")),
		    "output_text") == 0)
			fs_up_text_done(fs, id, index,
			    json_object_get(v, "text"));
	} else if (fs->dialect == DIALECT_OPENAI && fs_is_item_event(type) &&
	    (it = fs_find(fs, FS_OTHER, id, index, 0)) != NULL) {
		v = json_object_get(o, strstr(type, ".delta") != NULL ?
		    "delta" : "arguments");
		if (strcmp(type, "response.function_call_arguments.delta") ==
		    0 && json_is_string(v) && !it->part_done)
			fs_text_append(it, json_string_value(v),
			    json_string_length(v));
		else if (strcmp(type,
		    "response.function_call_arguments.done") == 0 &&
		    json_is_string(v)) {
			it->len = 0;
			fs_text_append(it, json_string_value(v),
			    json_string_length(v));
			it->part_done = 1;
		}
		fs_forward(fs, type, o, it);
	}
	/* Everything else (queued, in_progress, keepalive, unknown) is
	   absorbed: agentd emits its own lifecycle (rule 5). */
}

/*
 * An upstream text delta decoded without jansson (front-stream-fast.c):
 * exactly what front_upstream does with response.output_text.delta, the
 * event written straight to JSON text, byte for byte as front_emit would.
 * id may be NULL, index -1 for none; s (n bytes) is valid UTF-8.
 */
void
front_fast_delta(struct front_stream *fs, const char *id, int64_t index,
    const char *s, size_t n)
{
	struct fs_item	*it;
	struct jsonbuf	*b;
	const char	*text;
	size_t		 len;

	if (n == 0)
		return;
	if ((it = fs_find(fs, FS_MESSAGE, id, index, 1)) == NULL)
		it = fs_open_message(fs, id, index);
	fs_text_append(it, s, n);
	b = jsonbuf_new();
	jsonbuf_raw(b, "{\"type\":\"response.output_text.delta\","
	    "\"sequence_number\":");
	jsonbuf_int(b, fs->next_seq);
	jsonbuf_raw(b, ",\"item_id\":");
	jsonbuf_str(b, it->id, strlen(it->id));
	jsonbuf_raw(b, ",\"output_index\":");
	jsonbuf_int(b, fs_index(fs, it));
	jsonbuf_raw(b, ",\"content_index\":0,\"delta\":");
	jsonbuf_str(b, s, n);
	jsonbuf_raw(b, ",\"logprobs\":[]}");
	text = jsonbuf_text(b, &len);
	if (fs->cb != NULL)
		fs->cb(fs->arg, fs->next_seq, "response.output_text.delta",
		    text, len);
	fs->next_seq++;
	jsonbuf_free(b);
}
