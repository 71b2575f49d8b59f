/*
 * agent-mock byte buffers and hash tables: a growable buffer with fast
 * appenders (integers, JSON-escaped strings) used to build every event and
 * reply without per-event allocations, and the string-keyed table that
 * indexes runs by id and by idempotency key.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xmalloc.h"
#include "mock.h"

/* Initialise an empty buffer. */
void
mbuf_init(struct mbuf *b)
{
	b->p = NULL;
	b->len = 0;
	b->cap = 0;
}

/* Release a buffer's memory. */
void
mbuf_free(struct mbuf *b)
{
	free(b->p);
	mbuf_init(b);
}

/* Empty a buffer, keeping its memory; shrink it if it grew very large. */
void
mbuf_reset(struct mbuf *b)
{
	if (b->cap > 16 * 1024 * 1024) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

/* Make room for n more bytes and return where they go (len unchanged). */
char *
mbuf_reserve(struct mbuf *b, size_t n)
{
	size_t	ncap;

	if (b->cap - b->len < n + 1) {
		ncap = b->cap < 4096 ? 4096 : b->cap;
		while (ncap - b->len < n + 1)
			ncap *= 2;
		b->p = xrealloc(b->p, ncap);
		b->cap = ncap;
	}
	return b->p + b->len;
}

/* Append n bytes. */
void
mbuf_add(struct mbuf *b, const void *data, size_t n)
{
	memcpy(mbuf_reserve(b, n), data, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append a NUL-terminated string. */
void
mbuf_adds(struct mbuf *b, const char *s)
{
	mbuf_add(b, s, strlen(s));
}

/* Append one byte. */
void
mbuf_addc(struct mbuf *b, char c)
{
	char	*p = mbuf_reserve(b, 1);

	p[0] = c;
	p[1] = '\0';
	b->len++;
}

/* Append a decimal integer. */
void
mbuf_addll(struct mbuf *b, long long v)
{
	char			 tmp[24], *p = tmp + sizeof tmp;
	unsigned long long	 u;
	int			 neg = v < 0;

	u = neg ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u != 0);
	if (neg)
		*--p = '-';
	mbuf_add(b, p, (size_t)(tmp + sizeof tmp - p));
}

/* Return the length of the valid UTF-8 sequence at s (0 if invalid). */
static size_t
utf8_seq(const unsigned char *s, size_t n)
{
	size_t		need, i;
	unsigned int	cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		need = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		need = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		need = 4;
		cp = s[0] & 0x07;
	} else
		return 0;
	if (n < need)
		return 0;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
	    (need == 4 && (cp < 0x10000 || cp > 0x10ffff)))
		return 0;
	return need;
}

/*
 * Append s (n bytes) as a quoted JSON string. Invalid UTF-8 becomes
 * U+FFFD, so the output is always valid JSON on one line.
 */
void
mbuf_addjstr(struct mbuf *b, const char *s, size_t n)
{
	static const char	 hex[] = "0123456789abcdef";
	const unsigned char	*u = (const unsigned char *)s;
	size_t			 i = 0, run, k;
	char			 esc[8];

	mbuf_addc(b, '"');
	while (i < n) {
		run = 0;
		while (i + run < n && u[i + run] >= 0x20 && u[i + run] < 0x80 &&
		    u[i + run] != '"' && u[i + run] != '\\')
			run++;
		if (run > 0) {
			mbuf_add(b, s + i, run);
			i += run;
			continue;
		}
		if (u[i] >= 0x80) {
			if ((k = utf8_seq(u + i, n - i)) == 0) {
				mbuf_adds(b, "\\ufffd");
				i++;
			} else {
				mbuf_add(b, s + i, k);
				i += k;
			}
			continue;
		}
		switch (u[i]) {
		case '"':
			mbuf_adds(b, "\\\"");
			break;
		case '\\':
			mbuf_adds(b, "\\\\");
			break;
		case '\n':
			mbuf_adds(b, "\\n");
			break;
		case '\r':
			mbuf_adds(b, "\\r");
			break;
		case '\t':
			mbuf_adds(b, "\\t");
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[u[i] >> 4];
			esc[5] = hex[u[i] & 0xf];
			mbuf_add(b, esc, 6);
			break;
		}
		i++;
	}
	mbuf_addc(b, '"');
}

/* Append a NUL-terminated string as a quoted JSON string. */
void
mbuf_addjs(struct mbuf *b, const char *s)
{
	mbuf_addjstr(b, s, strlen(s));
}

/* Return the FNV-1a hash of a string. */
static uint64_t
htab_hash(const char *s)
{
	uint64_t	h = 1469598103934665603ULL;

	while (*s != '\0') {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

/* Initialise an empty table. */
void
htab_init(struct htab *t)
{
	t->nb = 64;
	t->n = 0;
	t->b = xcalloc(t->nb, sizeof *t->b);
}

/* Free a table's entries (not the keys or values). */
void
htab_free(struct htab *t)
{
	struct hent	*e, *next;
	size_t		 i;

	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	}
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}

/* Return the value stored under key, or NULL. */
void *
htab_get(const struct htab *t, const char *key)
{
	struct hent	*e;

	for (e = t->b[htab_hash(key) & (t->nb - 1)]; e != NULL; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e->val;
	return NULL;
}

/* Double the bucket array. */
static void
htab_grow(struct htab *t)
{
	struct hent	**nb, *e, *next;
	size_t		  i, n = t->nb * 2, h;

	nb = xcalloc(n, sizeof *nb);
	for (i = 0; i < t->nb; i++) {
		for (e = t->b[i]; e != NULL; e = next) {
			next = e->next;
			h = htab_hash(e->key) & (n - 1);
			e->next = nb[h];
			nb[h] = e;
		}
	}
	free(t->b);
	t->b = nb;
	t->nb = n;
}

/* Store val under key; the key must stay valid while it is stored. */
void
htab_put(struct htab *t, const char *key, void *val)
{
	struct hent	*e;
	size_t		 h;

	if (t->n >= t->nb)
		htab_grow(t);
	h = htab_hash(key) & (t->nb - 1);
	e = xmalloc(sizeof *e);
	e->key = key;
	e->val = val;
	e->next = t->b[h];
	t->b[h] = e;
	t->n++;
}
