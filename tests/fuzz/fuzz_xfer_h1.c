/*
 * libFuzzer target for the own HTTP/1.1 client's response side
 * (lib/xfer-h1-read.c). The input is what a backend sends; it is fed
 * whole, split in two where its first byte says, in chunks of 7 and byte
 * by byte, and whole again with the owner pausing at every delivery (and
 * going on before the next piece), then the connection closes. Every way
 * must end the same: done called exactly once, with the same result,
 * status, content type and body bytes. Any difference aborts. done
 * pauses and goes on too, which must do nothing.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "xfer.h"
#include "xfer-internal.h"
#include "xfer-h1.h"
#include "xmalloc.h"

struct outcome {
	unsigned char	*body;
	size_t		 len;
	int		 done;
	int		 pause_each;	/* the owner pauses at every delivery */
	int		 rc;
	long		 status;
	char		 ctype[64];
};

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static int
fz_data(void *arg, struct xfer *x, const char *buf, size_t len)
{
	struct outcome	*o = arg;

	(void)x;
	if (len == 0)
		abort();	/* never an empty delivery */
	o->body = xrealloc(o->body, o->len + len);
	memcpy(o->body + o->len, buf, len);
	o->len += len;
	if (o->pause_each)
		xfer_pause(x, 1);
	return 0;
}

static void
fz_done(void *arg, struct xfer *x, int rc, const char *err)
{
	struct outcome	*o = arg;

	if (err == NULL)
		abort();
	o->done++;
	xfer_pause(x, 1);	/* a finished transfer: nothing happens */
	xfer_pause(x, 0);
	o->rc = rc;
	o->status = xfer_status(x);
	snprintf(o->ctype, sizeof o->ctype, "%s", xfer_content_type(x));
}

static const struct xfer_ops fz_ops = { fz_data, fz_done };

/* Feed data in pieces of step bytes (the first piece first bytes). */
static void
run(const uint8_t *data, size_t size, size_t first, size_t step,
    int pause_each, struct outcome *o)
{
	struct event_base	*base = event_base_new();
	struct xfer_loop	*l = xfer_loop_new(base, 1);
	struct xfer		*x;
	size_t			 off = 0, n;
	ssize_t			 t;
	int			 live = 1;

	memset(o, 0, sizeof *o);
	o->pause_each = pause_each;
	x = h1_detached(l, &fz_ops, o);
	while (off < size && live) {
		n = off == 0 && first > 0 ? first : step;
		if (n > size - off)
			n = size - off;
		t = h1_feed(x, (const char *)data + off, n);
		if (t < 0)
			live = 0;
		else if ((size_t)t != n && (!pause_each || t == 0))
			abort();	/* all taken, or up to a pause */
		else if ((size_t)t != n) {
			xfer_pause(x, 0);	/* the rest on the next turn */
			n = (size_t)t;
		}
		off += n;
	}
	if (live)
		h1_eof(x);
	/* A failure's done comes on the next loop turn. */
	event_base_loop(base, EVLOOP_NONBLOCK);
	if (o->done != 1 || xfer_loop_count(l) != 0)
		abort();
	xfer_loop_free(l);
	event_base_free(base);
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->status != b->status ||
	    strcmp(a->ctype, b->ctype) != 0 || a->len != b->len ||
	    (a->len > 0 && memcmp(a->body, b->body, a->len) != 0)) {
		fprintf(stderr, "outcomes differ: rc %d/%d status %ld/%ld "
		    "len %zu/%zu\n", a->rc, b->rc, a->status, b->status,
		    a->len, b->len);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome	whole, split, seven, bytes, paused;

	run(data, size, 0, size > 0 ? size : 1, 0, &whole);
	run(data, size, size > 0 ? 1 + data[0] % size : 0, size + 1, 0,
	    &split);
	run(data, size, 0, 7, 0, &seven);
	run(data, size, 0, 1, 0, &bytes);
	run(data, size, 0, size > 0 ? size : 1, 1, &paused);
	same(&whole, &split);
	same(&whole, &seven);
	same(&whole, &bytes);
	same(&whole, &paused);
	free(paused.body);
	free(whole.body);
	free(split.body);
	free(seven.body);
	free(bytes.body);
	return 0;
}
