/*
 * JSON text writer. Strings are checked as jansson checks them (strict
 * UTF-8: no overlong forms, surrogates or code points past U+10FFFF) and
 * escaped as its dump.c escapes them: '"', '\\' and C0 controls only,
 * the short forms where JSON has them, else \u00XX in upper case.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "jsonbuf.h"
#include "xmalloc.h"

#define JSONBUF_INIT	4096

struct jsonbuf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

/* An empty buffer. Never NULL. */
struct jsonbuf *
jsonbuf_new(void)
{
	struct jsonbuf	*b;

	b = xcalloc(1, sizeof *b);
	b->cap = JSONBUF_INIT;
	b->p = xmalloc(b->cap);
	b->p[0] = '\0';
	return b;
}

/* Free b and its text; NULL is fine. */
void
jsonbuf_free(struct jsonbuf *b)
{
	if (b == NULL)
		return;
	free(b->p);
	free(b);
}

/* Make room for n more bytes and the NUL, doubling. */
static void
reserve(struct jsonbuf *b, size_t n)
{
	if (n < b->cap - b->len)
		return;
	while (n >= b->cap - b->len)
		b->cap *= 2;
	b->p = xrealloc(b->p, b->cap);
}

/* Append n bytes of s. */
static void
put(struct jsonbuf *b, const char *s, size_t n)
{
	reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append raw text (punctuation, a quoted key, "null") as it is. */
void
jsonbuf_raw(struct jsonbuf *b, const char *s)
{
	put(b, s, strlen(s));
}

/*
 * The length of the UTF-8 sequence at s (at most n bytes), 0 if it is not
 * one jansson accepts.
 */
static size_t
utf8_len(const unsigned char *s, size_t n)
{
	uint32_t	v;
	size_t		len, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		v = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		v = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		v = s[0] & 0x07;
	} else
		return 0;	/* a continuation byte, C0, C1, F5-FF */
	if (len > n)
		return 0;
	for (i = 1; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		v = (v << 6) | (s[i] & 0x3f);
	}
	if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff) ||
	    (len == 3 && v < 0x800) || (len == 4 && v < 0x10000))
		return 0;
	return len;
}

/* Append len bytes of s as a JSON string; null if not valid UTF-8. */
void
jsonbuf_str(struct jsonbuf *b, const char *s, size_t len)
{
	static const char	 hex[] = "0123456789ABCDEF";
	const unsigned char	*u = (const unsigned char *)s;
	const char		*esc;
	char			 seq[7];
	size_t			 i, n, run;

	for (i = 0; i < len; i += n) {
		if ((n = utf8_len(u + i, len - i)) == 0) {
			jsonbuf_raw(b, "null");
			return;
		}
	}
	reserve(b, len + 2);
	b->p[b->len++] = '"';
	for (i = 0; i < len; i = run + 1) {
		/* Copy the bytes that need no escape in one go. */
		for (run = i; run < len && u[run] >= 0x20 && u[run] != '"' &&
		    u[run] != '\\'; run++)
			;
		put(b, s + i, run - i);
		if (run == len)
			break;
		switch (u[run]) {
		case '"':	esc = "\\\""; break;
		case '\\':	esc = "\\\\"; break;
		case '\b':	esc = "\\b"; break;
		case '\f':	esc = "\\f"; break;
		case '\n':	esc = "\\n"; break;
		case '\r':	esc = "\\r"; break;
		case '\t':	esc = "\\t"; break;
		default:
			memcpy(seq, "\\u00", 4);
			seq[4] = hex[u[run] >> 4];
			seq[5] = hex[u[run] & 15];
			seq[6] = '\0';
			esc = seq;
			break;
		}
		jsonbuf_raw(b, esc);
	}
	put(b, "\"", 1);
}

/* Append v in decimal, as "%lld" would. */
void
jsonbuf_int(struct jsonbuf *b, int64_t v)
{
	char		 buf[24], *p = buf + sizeof buf;
	uint64_t	 u;

	/* Negate as unsigned: INT64_MIN has no positive counterpart. */
	u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (v < 0)
		*--p = '-';
	put(b, p, (size_t)(buf + sizeof buf - p));
}

/* The text so far, NUL-terminated; *len its length. Owned by b. */
const char *
jsonbuf_text(const struct jsonbuf *b, size_t *len)
{
	if (len != NULL)
		*len = b->len;
	return b->p;
}

/* Take the text (the caller frees it) and free b. */
char *
jsonbuf_steal(struct jsonbuf *b, size_t *len)
{
	char	*p = b->p;

	if (len != NULL)
		*len = b->len;
	free(b);
	return p;
}
