/*
 * JSON text written straight into a growable buffer, byte for byte as
 * jansson's json_dumps(JSON_COMPACT) writes the same values, for replies
 * too large to build as a jansson tree first (a page of runs). The caller
 * writes the punctuation and keys; this module gets strings and numbers
 * right. No state beyond the buffer.
 */
#ifndef AGENTD_JSONBUF_H
#define AGENTD_JSONBUF_H

#include <stddef.h>
#include <stdint.h>

struct jsonbuf;

/* An empty buffer. Never NULL. */
struct jsonbuf	*jsonbuf_new(void);
void		 jsonbuf_free(struct jsonbuf *b);

/* Append raw text (punctuation, a quoted key, "null") as it is. */
void		 jsonbuf_raw(struct jsonbuf *b, const char *s);

/*
 * Append len bytes of s as a JSON string, escaped as jansson does. Text
 * that is not valid UTF-8, which jansson refuses to hold, becomes null.
 */
void		 jsonbuf_str(struct jsonbuf *b, const char *s, size_t len);

void		 jsonbuf_int(struct jsonbuf *b, int64_t v);

/* The text so far, NUL-terminated; *len its length. Owned by b. */
const char	*jsonbuf_text(const struct jsonbuf *b, size_t *len);

/* Take the text (NUL-terminated, the caller frees it) and free b. */
char		*jsonbuf_steal(struct jsonbuf *b, size_t *len);

#endif
