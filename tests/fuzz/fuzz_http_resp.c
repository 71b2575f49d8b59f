/*
 * libFuzzer target for agentctl's HTTP response parser (cmd/agentctl/
 * http-resp.c). The input is what a daemon sent; it is fed whole, split in
 * two, in small pieces and byte by byte, then the connection closes. Every
 * way must give the same outcome, status, body and error, the body can
 * never be longer than the input, and an error always says why.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http-resp.h"
#include "xmalloc.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* What one way of feeding produced. */
struct outcome {
	enum http_resp_rc	 rc;
	int			 status;
	char			 err[160];
	unsigned char		*body;
	size_t			 len;
};

static int
on_body(void *arg, const char *buf, size_t len)
{
	struct outcome	*o = arg;

	o->body = xrealloc(o->body, o->len + len + 1);
	memcpy(o->body + o->len, buf, len);
	o->len += len;
	return 0;
}

/* Feed data in pieces of step bytes (0: whole; first: a first piece). */
static void
run(const uint8_t *data, size_t size, size_t first, size_t step,
    struct outcome *o)
{
	struct http_resp	*p;
	enum http_resp_rc	 rc = HTTP_RESP_MORE;
	size_t			 off = 0, n;

	memset(o, 0, sizeof *o);
	p = http_resp_new(on_body, o);
	while (off < size && rc == HTTP_RESP_MORE) {
		n = off == 0 && first > 0 ? first : step;
		if (n == 0 || n > size - off)
			n = size - off;
		rc = http_resp_feed(p, (const char *)data + off, n);
		off += n;
	}
	if (rc == HTTP_RESP_MORE)
		rc = http_resp_eof(p);
	if (http_resp_feed(p, "x", 1) != rc || http_resp_eof(p) != rc)
		abort();	/* a final result stays final */
	o->rc = rc;
	o->status = http_resp_status(p);
	strncpy(o->err, http_resp_error(p), sizeof o->err - 1);
	if ((rc == HTTP_RESP_ERROR) != (o->err[0] != '\0'))
		abort();
	if (o->status != 0 && (o->status < 200 || o->status > 599))
		abort();
	if (o->len > size || (o->len > 0 && o->status == 0))
		abort();
	http_resp_free(p);
}

static void
same(const struct outcome *a, const struct outcome *b)
{
	if (a->rc != b->rc || a->status != b->status ||
	    strcmp(a->err, b->err) != 0 || a->len != b->len ||
	    (a->len > 0 && memcmp(a->body, b->body, a->len) != 0))
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct outcome	whole, o;
	size_t		steps[] = { 1, 2, 3, 7, 64 }, i;

	run(data, size, 0, 0, &whole);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		run(data, size, 0, steps[i], &o);
		same(&whole, &o);
		free(o.body);
	}
	if (size > 1) {
		run(data, size, size / 2, 0, &o);
		same(&whole, &o);
		free(o.body);
	}
	free(whole.body);
	return 0;
}
