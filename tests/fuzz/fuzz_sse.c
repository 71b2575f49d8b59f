/*
 * libFuzzer target for lib/sse.c. The input is an event stream; it is fed
 * whole, split in two, in small chunks and byte by byte, and every way must
 * give the same events, result and retry as each other and as a slow,
 * literal reference reading of the WHATWG rules. Any difference aborts.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sse.h"
#include "xmalloc.h"

/* What one way of feeding produced. */
struct outcome {
	unsigned char	*log;		/* events, length-prefixed */
	size_t		 len;
	size_t		 cap;
	size_t		 nev;
	size_t		 stop_at;	/* stop at this event; 0 never */
	size_t		 max_line;
	int		 rc;
	char		 cause[128];
	long		 retry;
};

/* The reference parser's per-stream state. */
struct ref {
	struct outcome	*o;
	unsigned char	*data;
	size_t		 dlen;
	unsigned char	*type;
	size_t		 tlen;
	unsigned char	*id;
	size_t		 idlen;
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void	log_bytes(struct outcome *, const void *, size_t);
static void	log_event(struct outcome *, const char *, size_t,
		    const char *, size_t, const char *, size_t);
static int	fuzz_cb(void *, const struct sse_event *);
static void	run_chunks(const uint8_t *, size_t, size_t, size_t,
		    struct outcome *);
static int	ref_line(struct ref *, const unsigned char *, size_t);
static void	ref_parse(const uint8_t *, size_t, struct outcome *);
static void	compare(const struct outcome *, const struct outcome *,
		    const char *);

/* Append raw bytes to an outcome's log. */
static void
log_bytes(struct outcome *o, const void *p, size_t n)
{
	if (o->len + n > o->cap) {
		while (o->len + n > o->cap)
			o->cap = o->cap ? o->cap * 2 : 256;
		o->log = xrealloc(o->log, o->cap);
	}
	if (n > 0)
		memcpy(o->log + o->len, p, n);
	o->len += n;
}

/* Append one event as (length, bytes) triples. */
static void
log_event(struct outcome *o, const char *type, size_t tlen,
    const char *data, size_t dlen, const char *id, size_t idlen)
{
	log_bytes(o, &tlen, sizeof(tlen));
	log_bytes(o, type, tlen);
	log_bytes(o, &dlen, sizeof(dlen));
	log_bytes(o, data, dlen);
	log_bytes(o, &idlen, sizeof(idlen));
	log_bytes(o, id, idlen);
	o->nev++;
}

/* Record a parser event after checking the promises sse.h makes. */
static int
fuzz_cb(void *arg, const struct sse_event *ev)
{
	struct outcome	*o = arg;
	size_t		 idlen;

	idlen = strlen(ev->id);
	if (ev->type_len == 0 || ev->type[ev->type_len] != '\0' ||
	    ev->data[ev->data_len] != '\0' || ev->data_len >= o->max_line ||
	    idlen > o->max_line || (ev->type_len > o->max_line &&
	    strcmp(ev->type, "message") != 0))
		abort();
	log_event(o, ev->type, ev->type_len, ev->data, ev->data_len, ev->id,
	    idlen);
	return o->stop_at != 0 && o->nev >= o->stop_at;
}

/* Feed in[0, split), then the rest in chunk-byte pieces (0: one piece). */
static void
run_chunks(const uint8_t *in, size_t len, size_t split, size_t chunk,
    struct outcome *o)
{
	struct sse_parser	*p;
	char			*cause = NULL;
	size_t			 pos, n;

	p = sse_parser_new(o->max_line, fuzz_cb, o);
	o->rc = sse_parser_feed(p, (const char *)in, split, &cause);
	for (pos = split; o->rc == 0 && pos < len; pos += n) {
		n = chunk == 0 ? len - pos : chunk;
		if (n > len - pos)
			n = len - pos;
		o->rc = sse_parser_feed(p, (const char *)in + pos, n, &cause);
	}
	if ((o->rc == 0) != (cause == NULL))
		abort();
	if (cause != NULL)
		snprintf(o->cause, sizeof(o->cause), "%s", cause);
	free(cause);
	o->retry = sse_parser_retry(p);
	/* A failed parser must stay failed until reset, then work again. */
	if (o->rc != 0) {
		if (sse_parser_feed(p, "data: x\n\n", 9, NULL) != -1)
			abort();
		sse_parser_reset(p);
		if (sse_parser_retry(p) != -1)
			abort();
	}
	sse_parser_free(p);
}

/* Apply one line the slow way; return -1 on a cap or consumer stop. */
static int
ref_line(struct ref *r, const unsigned char *l, size_t n)
{
	struct outcome	*o = r->o;
	size_t		 i, flen, vstart;
	long		 ms;
	int		 d;

	if (n == 0) {
		if (r->dlen == 0) {
			r->tlen = 0;
			return 0;
		}
		r->dlen--;
		if (r->tlen == 0)
			log_event(o, "message", 7, (char *)r->data, r->dlen,
			    (char *)r->id, r->idlen);
		else
			log_event(o, (char *)r->type, r->tlen,
			    (char *)r->data, r->dlen, (char *)r->id,
			    r->idlen);
		r->dlen = r->tlen = 0;
		if (o->stop_at != 0 && o->nev >= o->stop_at) {
			snprintf(o->cause, sizeof(o->cause),
			    "sse: stopped by consumer");
			return -1;
		}
		return 0;
	}
	if (l[0] == ':')
		return 0;
	for (flen = 0; flen < n && l[flen] != ':'; flen++)
		;
	vstart = flen < n ? flen + 1 : n;
	if (vstart < n && l[vstart] == ' ')
		vstart++;
	if (flen == 4 && memcmp(l, "data", 4) == 0) {
		if (r->dlen + (n - vstart) + 1 > o->max_line) {
			snprintf(o->cause, sizeof(o->cause),
			    "sse: event data exceeds %zu bytes", o->max_line);
			return -1;
		}
		for (i = vstart; i < n; i++)
			r->data[r->dlen++] = l[i];
		r->data[r->dlen++] = '\n';
	} else if (flen == 5 && memcmp(l, "event", 5) == 0) {
		r->tlen = 0;
		for (i = vstart; i < n; i++)
			r->type[r->tlen++] = l[i];
	} else if (flen == 2 && memcmp(l, "id", 2) == 0) {
		for (i = vstart; i < n; i++)
			if (l[i] == '\0')
				return 0;
		r->idlen = 0;
		for (i = vstart; i < n; i++)
			r->id[r->idlen++] = l[i];
	} else if (flen == 5 && memcmp(l, "retry", 5) == 0) {
		if (vstart == n)
			return 0;
		for (i = vstart; i < n; i++)
			if (l[i] < '0' || l[i] > '9')
				return 0;
		ms = 0;
		for (i = vstart; i < n; i++) {
			d = l[i] - '0';
			ms = ms > (LONG_MAX - d) / 10 ? LONG_MAX : ms * 10 + d;
		}
		o->retry = ms;
	}
	return 0;
}

/* The whole input through a literal, byte-at-a-time reading of the spec. */
static void
ref_parse(const uint8_t *in, size_t len, struct outcome *o)
{
	struct ref	 r;
	size_t		 pos = 0, start;

	memset(&r, 0, sizeof(r));
	r.o = o;
	r.data = xmalloc(len + 1);
	r.type = xmalloc(len + 1);
	r.id = xmalloc(len + 1);
	o->rc = 0;
	o->retry = -1;
	if (len >= 3 && memcmp(in, "\xEF\xBB\xBF", 3) == 0)
		pos = 3;
	else if (len > 0 && len < 3 && memcmp(in, "\xEF\xBB\xBF", len) == 0)
		pos = len;		/* maybe a BOM; more would tell */
	while (pos < len) {
		start = pos;
		while (pos < len && in[pos] != '\r' && in[pos] != '\n')
			pos++;
		if (pos - start > o->max_line) {
			snprintf(o->cause, sizeof(o->cause),
			    "sse: line exceeds %zu bytes", o->max_line);
			o->rc = -1;
			break;
		}
		if (pos == len)
			break;		/* unterminated: dropped at EOF */
		if (ref_line(&r, in + start, pos - start) != 0) {
			o->rc = -1;
			break;
		}
		if (in[pos] == '\r' && pos + 1 < len && in[pos + 1] == '\n')
			pos++;
		pos++;
	}
	free(r.data);
	free(r.type);
	free(r.id);
}

/* Abort with a note unless two outcomes are identical. */
static void
compare(const struct outcome *a, const struct outcome *b, const char *what)
{
	if (a->nev == b->nev && a->len == b->len &&
	    (a->len == 0 || memcmp(a->log, b->log, a->len) == 0) &&
	    a->rc == b->rc &&
	    strcmp(a->cause, b->cause) == 0 && a->retry == b->retry)
		return;
	fprintf(stderr, "fuzz_sse: %s differs: events %zu/%zu rc %d/%d "
	    "cause \"%s\"/\"%s\" retry %ld/%ld\n", what, a->nev, b->nev,
	    a->rc, b->rc, a->cause, b->cause, a->retry, b->retry);
	abort();
}

/* One input: derive cap, stop point and split from it, then cross-check. */
int
LLVMFuzzerTestOneInput(const uint8_t *in, size_t len)
{
	struct outcome	 o[5];
	uint64_t	 h = 1469598103934665603ULL;
	size_t		 i, max_line, stop_at, split, chunk;

	for (i = 0; i < len; i++)
		h = (h ^ in[i]) * 1099511628211ULL;
	max_line = (h & 3) == 0 ? 1 + (h >> 8) % 48 : SSE_DEFAULT_MAX_LINE;
	stop_at = ((h >> 4) & 7) == 0 ? 1 + (h >> 16) % 4 : 0;
	split = len == 0 ? 0 : (h >> 24) % (len + 1);
	chunk = 1 + (h >> 40) % 17;

	memset(o, 0, sizeof(o));
	for (i = 0; i < 5; i++) {
		o[i].max_line = max_line;
		o[i].stop_at = stop_at;
	}
	run_chunks(in, len, len, 0, &o[0]);		/* whole */
	run_chunks(in, len, split, 0, &o[1]);		/* two pieces */
	run_chunks(in, len, 0, chunk, &o[2]);		/* small chunks */
	run_chunks(in, len, 0, 1, &o[3]);		/* byte by byte */
	ref_parse(in, len, &o[4]);
	compare(&o[0], &o[1], "two-piece split");
	compare(&o[0], &o[2], "chunked feed");
	compare(&o[0], &o[3], "bytewise feed");
	compare(&o[0], &o[4], "reference parser");
	for (i = 0; i < 5; i++)
		free(o[i].log);
	return 0;
}
