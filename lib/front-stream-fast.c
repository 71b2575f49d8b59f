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
