/*
 * libFuzzer target for lib/reqguard.c, the API's request guard. The input
 * is the bytes a client sends on one connection; they are fed whole, in
 * small pieces and byte by byte, and every way must pass on exactly the
 * same bytes. Unless a request was refused, what passes must be the input
 * in order with at most blank lines left out and "Expect" renamed
 * "Xxpect"; a refusal must come last.
 * Any difference aborts.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>

#include "reqguard.h"
#include "xmalloc.h"

#define TOKEN	"0123456789abcdef0123456789abcdef"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* What the guard passed on for data fed in pieces of step bytes. */
static unsigned char *
feed(const uint8_t *d, size_t len, size_t step, size_t *outlen)
{
	struct reqguard	*g = reqguard_new(512, 256, TOKEN, NULL);
	struct evbuffer	*src = evbuffer_new(), *dst = evbuffer_new();
	unsigned char	*out;
	size_t		 off = 0, n;

	while (off < len) {
		n = len - off < step ? len - off : step;
		evbuffer_add(src, d + off, n);
		off += n;
		reqguard_filter(src, dst, -1, BEV_NORMAL, g);
	}
	*outlen = evbuffer_get_length(dst);
	out = xmalloc(*outlen + 1);
	evbuffer_remove(dst, out, *outlen);
	evbuffer_free(src);
	evbuffer_free(dst);
	reqguard_free(g);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *d, size_t len)
{
	static const char	 marker[] = "POST " REQGUARD_PATH " HTTP/1.1\r\n"
	    REQGUARD_HEADER ": " TOKEN "\r\n";
	unsigned char		*whole, *other;
	const unsigned char	*refusal;
	size_t			 wl, ol, i, j, passed;
	size_t			 steps[] = { 1, 3, 64 };

	if (len > 4096)
		return 0;
	whole = feed(d, len, len > 0 ? len : 1, &wl);
	for (i = 0; i < sizeof steps / sizeof steps[0]; i++) {
		other = feed(d, len, steps[i], &ol);
		if (ol != wl || memcmp(other, whole, wl) != 0) {
			fprintf(stderr, "step %zu passed %zu bytes, whole %zu\n",
			    steps[i], ol, wl);
			abort();
		}
		free(other);
	}
	/* Bytes before any refusal: the input in order, blank lines aside. */
	refusal = wl >= sizeof marker - 1 ? memmem(whole, wl, marker,
	    sizeof marker - 1) : NULL;
	passed = refusal != NULL ? (size_t)(refusal - whole) : wl;
	for (i = 0, j = 0; i < passed; i++, j++) {
		while (j < len && d[j] != whole[i] && (d[j] == '\r' ||
		    d[j] == '\n'))
			j++;
		if (j < len && whole[i] == 'X' && (d[j] == 'E' || d[j] == 'e'))
			continue;
		if (j >= len || d[j] != whole[i]) {
			fprintf(stderr, "passed byte %zu is not the input's\n", i);
			abort();
		}
	}
	if (refusal != NULL && memmem(refusal + 1, wl - passed - 1, marker,
	    sizeof marker - 1) != NULL) {
		fprintf(stderr, "two refusals\n");
		abort();
	}
	free(whole);
	return 0;
}
