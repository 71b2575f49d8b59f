/*
 * Incremental text/event-stream parser. Owns the state carried between
 * feeds (partial line, pending CR, BOM detection) and the per-stream
 * buffers (event data, event type, last-event-ID, retry). Lines wholly
 * inside one feed are parsed in place; only a partial tail is copied.
 */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "xmalloc.h"

#define SSE_BUF_INIT	256
#define SSE_BUF_KEEP	(64u * 1024)	/* reset() frees bigger buffers */
#define SSE_BOM		"\xef\xbb\xbf"
#define SSE_BOM_DONE	3		/* bytes in SSE_BOM */
#define SSE_CR_WINDOW	4096		/* look-ahead for CR per scan */

struct sse_buf {
	char	*p;
	size_t	 len;
	size_t	 cap;
};

struct sse_parser {
	size_t		 max_line;
	sse_event_cb	 cb;
	void		*arg;
	struct sse_buf	 line;		/* partial line carried across feeds */
	struct sse_buf	 data;		/* data buffer, each line + "\n" */
	struct sse_buf	 type;		/* event type buffer */
	struct sse_buf	 id;		/* last-event-ID buffer */
	long		 retry;		/* reconnection time, -1 if unset */
	int		 bom;		/* BOM bytes matched, or SSE_BOM_DONE */
	int		 last_cr;	/* previous feed ended in CR */
	int		 failed;	/* feed returned -1; reset required */
};

static void	sse_buf_reserve(struct sse_buf *, size_t);
static void	sse_buf_append(struct sse_buf *, const char *, size_t);
static void	sse_buf_set(struct sse_buf *, const char *, size_t);
static void	sse_buf_trim(struct sse_buf *);
static void	sse_buf_release(struct sse_buf *);
static int	sse_fail(struct sse_parser *, char **, const char *, size_t);
static int	sse_dispatch(struct sse_parser *, char **);
static void	sse_retry(struct sse_parser *, const char *, size_t);
static int	sse_line(struct sse_parser *, const char *, size_t, char **);
static size_t	sse_scan(const char *, size_t, size_t, int);

/* Make room for extra more bytes plus a NUL, growing geometrically. */
static void
sse_buf_reserve(struct sse_buf *b, size_t extra)
{
	size_t	need, cap;

	need = b->len + extra + 1;
	if (need <= b->cap)
		return;
	cap = b->cap != 0 ? b->cap : SSE_BUF_INIT;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	b->p = xrealloc(b->p, cap);
	b->cap = cap;
}

/* Append n bytes and keep the buffer NUL-terminated. */
static void
sse_buf_append(struct sse_buf *b, const char *s, size_t n)
{
	sse_buf_reserve(b, n);
	if (n > 0)
		memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Replace the contents with n bytes, NUL-terminated. */
static void
sse_buf_set(struct sse_buf *b, const char *s, size_t n)
{
	b->len = 0;
	sse_buf_append(b, s, n);
}

/* Empty a buffer, releasing its memory if it grew large. */
static void
sse_buf_trim(struct sse_buf *b)
{
	if (b->cap > SSE_BUF_KEEP) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
	b->len = 0;
}

/* Free an empty buffer's memory. */
static void
sse_buf_release(struct sse_buf *b)
{
	if (b->len == 0 && b->p != NULL) {
		free(b->p);
		b->p = NULL;
		b->cap = 0;
	}
}

/* Allocate a parser with empty buffers and no retry value. */
struct sse_parser *
sse_parser_new(size_t max_line, sse_event_cb cb, void *arg)
{
	struct sse_parser	*p;

	p = xcalloc(1, sizeof(*p));
	p->max_line = max_line != 0 ? max_line : SSE_DEFAULT_MAX_LINE;
	p->cb = cb;
	p->arg = arg;
	sse_parser_reset(p);
	return p;
}

/* Free a parser and its buffers; NULL is accepted. */
void
sse_parser_free(struct sse_parser *p)
{
	if (p == NULL)
		return;
	free(p->line.p);
	free(p->data.p);
	free(p->type.p);
	free(p->id.p);
	free(p);
}

/* Return to the start-of-stream state, keeping small buffers for reuse. */
void
sse_parser_reset(struct sse_parser *p)
{
	sse_buf_trim(&p->line);
	sse_buf_trim(&p->data);
	sse_buf_trim(&p->type);
	sse_buf_trim(&p->id);
	sse_buf_set(&p->data, "", 0);
	sse_buf_set(&p->type, "", 0);
	sse_buf_set(&p->id, "", 0);
	p->retry = -1;
	p->bom = 0;
	p->last_cr = 0;
	p->failed = 0;
}

/* Return the last valid retry value in ms, or -1. */
long
sse_parser_retry(const struct sse_parser *p)
{
	return p->retry;
}

/* Mark the parser failed, set *cause ("what exceeds n bytes" if n), -1. */
static int
sse_fail(struct sse_parser *p, char **cause, const char *what, size_t n)
{
	p->failed = 1;
	if (cause != NULL) {
		if (n != 0)
			xasprintf(cause, "sse: %s exceeds %zu bytes", what, n);
		else
			xasprintf(cause, "sse: %s", what);
	}
	return -1;
}

/* Dispatch the pending event, if it has data, and reset data and type. */
static int
sse_dispatch(struct sse_parser *p, char **cause)
{
	struct sse_event	 ev;
	int			 rc = 0;

	if (p->data.len == 0) {
		p->type.len = 0;
		return 0;
	}
	p->data.len--;			/* the "\n" after the last line */
	p->data.p[p->data.len] = '\0';
	if (p->type.len != 0) {
		ev.type = p->type.p;
		ev.type_len = p->type.len;
	} else {
		ev.type = "message";
		ev.type_len = sizeof("message") - 1;
	}
	ev.data = p->data.p;
	ev.data_len = p->data.len;
	ev.id = p->id.p;
	if (p->cb != NULL)
		rc = p->cb(p->arg, &ev);
	p->data.len = 0;
	p->type.len = 0;
	if (rc != 0)
		return sse_fail(p, cause, "stopped by consumer", 0);
	return 0;
}

/* Apply a retry field: only a non-empty run of ASCII digits counts. */
static void
sse_retry(struct sse_parser *p, const char *v, size_t n)
{
	long	ms = 0;
	size_t	i;
	int	d;

	if (n == 0)
		return;
	for (i = 0; i < n; i++)
		if (v[i] < '0' || v[i] > '9')
			return;
	for (i = 0; i < n; i++) {
		d = v[i] - '0';
		if (ms > (LONG_MAX - d) / 10) {
			ms = LONG_MAX;	/* saturate absurd values */
			break;
		}
		ms = ms * 10 + d;
	}
	p->retry = ms;
}

/* Interpret one line (without its terminator). */
static int
sse_line(struct sse_parser *p, const char *l, size_t n, char **cause)
{
	const char	*colon, *v;
	size_t		 flen, vlen;

	if (n == 0)
		return sse_dispatch(p, cause);
	if (l[0] == ':')
		return 0;
	if ((colon = memchr(l, ':', n)) != NULL) {
		flen = (size_t)(colon - l);
		v = colon + 1;
		vlen = n - flen - 1;
		if (vlen > 0 && v[0] == ' ') {
			v++;
			vlen--;
		}
	} else {
		flen = n;
		v = "";
		vlen = 0;
	}

	switch (flen) {
	case 4:
		if (memcmp(l, "data", 4) != 0)
			break;
		if (vlen + 1 > p->max_line - p->data.len)
			return sse_fail(p, cause, "event data", p->max_line);
		sse_buf_reserve(&p->data, vlen + 1);
		memcpy(p->data.p + p->data.len, v, vlen);
		p->data.len += vlen;
		p->data.p[p->data.len++] = '\n';
		break;
	case 5:
		if (memcmp(l, "event", 5) == 0)
			sse_buf_set(&p->type, v, vlen);
		else if (memcmp(l, "retry", 5) == 0)
			sse_retry(p, v, vlen);
		break;
	case 2:
		if (memcmp(l, "id", 2) == 0 && memchr(v, '\0', vlen) == NULL)
			sse_buf_set(&p->id, v, vlen);
		break;
	}
	return 0;
}

/* Offset of the first byte c in buf[from, to), or to if none. */
static size_t
sse_scan(const char *buf, size_t from, size_t to, int c)
{
	const char	*q;

	if (from >= to)
		return to;
	q = memchr(buf + from, c, to - from);
	return q != NULL ? (size_t)(q - buf) : to;
}

/* Consume len bytes, delivering every event they complete. */
int
sse_parser_feed(struct sse_parser *p, const char *buf, size_t len,
    char **cause)
{
	size_t	pos = 0, lf, cr, crend, to, e, n;
	int	rc;

	if (cause != NULL)
		*cause = NULL;
	if (p->failed)
		return sse_fail(p, cause, "parser failed earlier; reset it",
		    0);
	if (len == 0)
		return 0;

	/* A BOM may arrive in pieces; a mismatch gives its bytes back. */
	if (p->bom != SSE_BOM_DONE) {
		while (pos < len && p->bom < SSE_BOM_DONE &&
		    buf[pos] == SSE_BOM[p->bom]) {
			p->bom++;
			pos++;
		}
		if (p->bom != SSE_BOM_DONE) {
			if (pos == len)
				return 0;
			sse_buf_append(&p->line, SSE_BOM, (size_t)p->bom);
			p->bom = SSE_BOM_DONE;
			if (p->line.len > p->max_line)
				return sse_fail(p, cause, "line", p->max_line);
		}
	}

	/* The LF of a CRLF split across feeds ends nothing. */
	if (p->last_cr && pos < len) {
		p->last_cr = 0;
		if (buf[pos] == '\n')
			pos++;
	}

	/*
	 * Offsets of the next LF and CR are cached so that every byte is
	 * scanned at most once for each. cr == crend means no CR is in
	 * [pos, crend); CRs are looked for a window ahead, not to the end.
	 */
	lf = sse_scan(buf, pos, len, '\n');
	cr = crend = pos;
	for (;;) {
		if (lf < pos)
			lf = sse_scan(buf, pos, len, '\n');
		if (cr < pos)
			cr = crend = pos;
		if (cr == crend && crend < lf) {
			to = len - crend > SSE_CR_WINDOW ?
			    crend + SSE_CR_WINDOW : len;
			if (to < lf)
				to = lf;
			cr = sse_scan(buf, crend, to, '\r');
			crend = to;
		}
		if ((e = lf < cr ? lf : cr) == len)
			break;
		n = e - pos;
		if (p->line.len != 0) {
			if (n > p->max_line - p->line.len)
				return sse_fail(p, cause, "line", p->max_line);
			sse_buf_append(&p->line, buf + pos, n);
			rc = sse_line(p, p->line.p, p->line.len, cause);
			p->line.len = 0;
		} else {
			if (n > p->max_line)
				return sse_fail(p, cause, "line", p->max_line);
			rc = sse_line(p, buf + pos, n, cause);
		}
		if (rc != 0)
			return -1;
		pos = e + 1;
		if (buf[e] == '\r') {
			if (pos == len) {
				p->last_cr = 1;
				break;
			}
			if (buf[pos] == '\n')
				pos++;
		}
	}

	/* Keep the unterminated tail for the next feed. */
	n = len - pos;
	if (n > 0) {
		if (n > p->max_line - p->line.len)
			return sse_fail(p, cause, "line", p->max_line);
		sse_buf_append(&p->line, buf + pos, n);
	}
	/*
	 * Between events, hold nothing: a slow stream (most of thousands
	 * open at once) spends nearly all its life here, and its buffers
	 * were 1 KB of each run's memory. A fast one ends most feeds inside
	 * an event, so it keeps them.
	 */
	if (p->line.len == 0 && p->data.len == 0 && p->type.len == 0) {
		sse_buf_release(&p->line);
		sse_buf_release(&p->data);
		sse_buf_release(&p->type);
	}
	return 0;
}
