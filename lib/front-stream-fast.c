/*
 * The front stream's fast path: an upstream response.output_text.delta,
 * by far the most common event, decoded by one pass of jscan instead of a
 * jansson tree (which was over half of the supervisor's CPU when it served
 * 200 streams). Anything it is unsure of goes to the jansson path, which
 * gives the same result; tests/fuzz/fuzz_front_stream.c checks both agree.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "front-stream-internal.h"
#include "jscan.h"
#include "xmalloc.h"

/* The value of hex digit c (jscan validated it). */
static unsigned int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return (unsigned int)(c - '0');
	if (c >= 'a' && c <= 'f')
		return (unsigned int)(c - 'a' + 10);
	return (unsigned int)(c - 'A' + 10);
}

/* Append code point cp to out as UTF-8; return the bytes written. */
static size_t
put_utf8(char *out, unsigned int cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/*
 * Decode the body of a JSON string that jscan accepted (so its escapes
 * are well formed, its surrogates paired and it holds no \u0000) into an
 * allocated buffer; *outlen its length. NULL if something is off after
 * all: the caller then takes the jansson path.
 */
static char *
unescape(const char *raw, size_t len, size_t *outlen)
{
	char		*out = xmalloc(len + 1);
	size_t		 i = 0, o = 0;
	unsigned int	 cp, lo;

	while (i < len) {
		if (raw[i] != '\\') {
			out[o++] = raw[i++];
			continue;
		}
		if (i + 1 >= len)
			goto bad;
		switch (raw[i + 1]) {
		case '"':	out[o++] = '"'; break;
		case '\\':	out[o++] = '\\'; break;
		case '/':	out[o++] = '/'; break;
		case 'b':	out[o++] = '\b'; break;
		case 'f':	out[o++] = '\f'; break;
		case 'n':	out[o++] = '\n'; break;
		case 'r':	out[o++] = '\r'; break;
		case 't':	out[o++] = '\t'; break;
		case 'u':
			if (i + 6 > len)
				goto bad;
			cp = hexval(raw[i + 2]) << 12 | hexval(raw[i + 3]) << 8 |
			    hexval(raw[i + 4]) << 4 | hexval(raw[i + 5]);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (i + 12 > len || raw[i + 6] != '\\' ||
				    raw[i + 7] != 'u')
					goto bad;
				lo = hexval(raw[i + 8]) << 12 |
				    hexval(raw[i + 9]) << 8 |
				    hexval(raw[i + 10]) << 4 |
				    hexval(raw[i + 11]);
				if (lo < 0xdc00 || lo > 0xdfff)
					goto bad;
				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			} else if ((cp >= 0xdc00 && cp <= 0xdfff) || cp == 0)
				goto bad;
			/* 6 bytes of escape never decode to more than 4. */
			o += put_utf8(out + o, cp);
			i += 4;
			break;
		default:
			goto bad;
		}
		i += 2;
	}
	out[o] = '\0';
	*outlen = o;
	return out;
bad:
	free(out);
	return NULL;
}

static int	fast_reduced(struct front_stream *, const char *, const char *,
		    size_t);

/*
 * Feed a stored event by the fast path if it is a text delta the scanner
 * is sure of: 1 if done (the jansson path must not see it), 0 to take the
 * jansson path. The caller deduplicated by seq already.
 */
int
front_fast_event(struct front_stream *fs, const char *type, const char *data,
    size_t len)
{
	enum { F_TYPE, F_DELTA, F_ID, F_INDEX, F_COUNT };
	struct jscan_field	 f[F_COUNT] = {
		[F_TYPE] = { .key = "type" },
		[F_DELTA] = { .key = "delta" },
		[F_ID] = { .key = "item_id" },
		[F_INDEX] = { .key = "output_index" },
	};
	char			*delta = NULL, *id = NULL;
	size_t			 dlen, idlen;
	int64_t			 index = -1;

	if (type != NULL && strcmp(type, "response.output_text.delta") != 0)
		return fast_reduced(fs, type, data, len);
	if (jscan_object(data, len, f, F_COUNT) != JSCAN_OK)
		return 0;
	/* As the jansson path: the stored type, else the data's. */
	if (type == NULL) {
		if (f[F_TYPE].kind != JSCAN_STRING || f[F_TYPE].escaped ||
		    f[F_TYPE].rawlen != 26 || memcmp(f[F_TYPE].raw,
		    "response.output_text.delta", 26) != 0)
			return 0;
	} else if (strcmp(type, "response.output_text.delta") != 0)
		return 0;
	if (f[F_DELTA].kind != JSCAN_STRING)
		return 0;
	if (f[F_INDEX].kind == JSCAN_INTEGER && f[F_INDEX].integer >= 0)
		index = f[F_INDEX].integer;
	if (f[F_ID].kind == JSCAN_STRING &&
	    (id = unescape(f[F_ID].raw, f[F_ID].rawlen, &idlen)) == NULL)
		return 0;
	if (id != NULL && strlen(id) != idlen) {
		free(id);
		return 0;	/* an id with a NUL: as jansson sees it */
	}
	if ((delta = unescape(f[F_DELTA].raw, f[F_DELTA].rawlen,
	    &dlen)) == NULL) {
		free(id);
		return 0;
	}
	front_fast_delta(fs, id, index, delta, dlen);
	free(delta);
	free(id);
	return 1;
}

/*
 * The value jansson would give the member f found, or NULL if absent; *bad
 * set if the fast decoding is unsure (the caller then takes jansson's).
 */
static json_t *
field_json(const struct jscan_field *f, int *bad)
{
	json_t	*v;
	char	*s;
	size_t	 n;

	switch (f->kind) {
	case JSCAN_ABSENT:
		return NULL;
	case JSCAN_STRING:
		if ((s = unescape(f->raw, f->rawlen, &n)) == NULL ||
		    strlen(s) != n) {
			free(s);
			*bad = 1;
			return NULL;
		}
		v = json_stringn_nocheck(s, n);
		free(s);
		return v;
	case JSCAN_INTEGER:
		return json_integer(f->integer);
	default:
		/* A container's span, a real, true, false or null. */
		if ((v = json_loadb(f->raw, f->rawlen, JSON_DECODE_ANY,
		    NULL)) == NULL)
			*bad = 1;
		return v;
	}
}

/* Set key of o to the member f found, if any. */
static void
put(json_t *o, const char *key, const struct jscan_field *f, int *bad)
{
	json_t	*v = field_json(f, bad);

	if (v != NULL)
		json_object_set_new(o, key, v);
}

/*
 * The large events a run ends with (a done text, part and message, each
 * with the whole text, and the final response with the whole output)
 * reduced to the members front_upstream reads of them, without a tree of
 * the rest: 1 if fed, 0 to take the jansson path.
 */
static int
fast_reduced(struct front_stream *fs, const char *type, const char *data,
    size_t len)
{
	enum { R_ID, R_INDEX, R_TEXT, R_PART, R_PTYPE, R_PTEXT, R_ITEM,
	    R_ITYPE, R_IID, R_ISTATUS, R_RESP, R_USAGE, R_ERROR, R_COUNT };
	struct jscan_field	 f[R_COUNT] = {
		[R_ID] = { .key = "item_id" },
		[R_INDEX] = { .key = "output_index" },
		[R_TEXT] = { .key = "text" },
		[R_PART] = { .key = "part" },
		[R_PTYPE] = { .key = "type", .parent = "part" },
		[R_PTEXT] = { .key = "text", .parent = "part" },
		[R_ITEM] = { .key = "item" },
		[R_ITYPE] = { .key = "type", .parent = "item" },
		[R_IID] = { .key = "id", .parent = "item" },
		[R_ISTATUS] = { .key = "status", .parent = "item" },
		[R_RESP] = { .key = "response" },
		[R_USAGE] = { .key = "usage", .parent = "response" },
		[R_ERROR] = { .key = "error", .parent = "response" },
	};
	enum { K_TEXT, K_PART, K_ITEM, K_END }	 kind;
	json_t		*o, *sub, *t, *id;
	int64_t		 index = -1;
	int		 bad = 0;

	if (strcmp(type, "response.output_text.done") == 0)
		kind = K_TEXT;
	else if (strcmp(type, "response.content_part.done") == 0)
		kind = K_PART;
	else if (strcmp(type, "response.output_item.done") == 0)
		kind = K_ITEM;
	else if (strcmp(type, "response.completed") == 0 ||
	    strcmp(type, "response.failed") == 0 ||
	    strcmp(type, "response.incomplete") == 0)
		kind = K_END;
	else
		return 0;
	if (jscan_object(data, len, f, R_COUNT) != JSCAN_OK)
		return 0;
	o = json_object();
	put(o, "item_id", &f[R_ID], &bad);
	put(o, "output_index", &f[R_INDEX], &bad);
	switch (kind) {
	case K_TEXT:
		put(o, "text", &f[R_TEXT], &bad);
		break;
	case K_PART:
		if (f[R_PART].kind != JSCAN_OBJECT) {
			put(o, "part", &f[R_PART], &bad);
			break;
		}
		sub = json_object();
		put(sub, "type", &f[R_PTYPE], &bad);
		put(sub, "text", &f[R_PTEXT], &bad);
		json_object_set_new(o, "part", sub);
		break;
	case K_ITEM:
		if (f[R_ITEM].kind != JSCAN_OBJECT) {
			put(o, "item", &f[R_ITEM], &bad);
			break;
		}
		if (f[R_INDEX].kind == JSCAN_INTEGER &&
		    f[R_INDEX].integer >= 0)
			index = f[R_INDEX].integer;
		t = field_json(&f[R_ITYPE], &bad);
		id = field_json(&f[R_IID], &bad);
		if (json_is_string(t) && strcmp(json_string_value(t),
		    "message") == 0 && front_item_part_done(fs,
		    json_string_value(id), index)) {
			/* Only its status is read: no copy of its text. */
			sub = json_object();
			json_object_set(sub, "type", t);
			if (id != NULL)
				json_object_set(sub, "id", id);
			put(sub, "status", &f[R_ISTATUS], &bad);
		} else
			sub = field_json(&f[R_ITEM], &bad);
		json_decref(t);
		json_decref(id);
		if (sub != NULL)
			json_object_set_new(o, "item", sub);
		break;
	case K_END:
		if (f[R_RESP].kind != JSCAN_OBJECT) {
			put(o, "response", &f[R_RESP], &bad);
			break;
		}
		sub = json_object();
		put(sub, "usage", &f[R_USAGE], &bad);
		put(sub, "error", &f[R_ERROR], &bad);
		json_object_set_new(o, "response", sub);
		break;
	}
	if (bad) {
		json_decref(o);
		return 0;
	}
	front_upstream(fs, type, o);
	json_decref(o);
	return 1;
}

/*
 * The final Response body reduced to what front_stream_end reads of it
 * once the items are known (usage, incomplete_details, completed_at); NULL
 * to parse it whole.
 */
json_t *
front_fast_end_response(const char *json, size_t len)
{
	enum { E_USAGE, E_INCOMPLETE, E_AT, E_COUNT };
	struct jscan_field	 f[E_COUNT] = {
		[E_USAGE] = { .key = "usage" },
		[E_INCOMPLETE] = { .key = "incomplete_details" },
		[E_AT] = { .key = "completed_at" },
	};
	json_t		*o;
	int		 bad = 0;

	if (jscan_object(json, len, f, E_COUNT) != JSCAN_OK)
		return NULL;
	o = json_object();
	put(o, "usage", &f[E_USAGE], &bad);
	put(o, "incomplete_details", &f[E_INCOMPLETE], &bad);
	put(o, "completed_at", &f[E_AT], &bad);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}
