/*
 * HTTP/1.1 response parser for agentctl (RFC 9112, the subset a client of
 * agentd meets). A state machine fed arbitrary slices of the byte stream:
 * lines (status, fields, chunk sizes, trailers) are assembled in a bounded
 * buffer, body bytes go to the callback straight from the caller's buffer.
 * Every limit is checked before a copy, so a broken or hostile peer gets
 * an error message, never an overflow; nothing the peer sent is echoed.
 */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http-resp.h"
#include "util.h"
#include "xmalloc.h"

#define HTTP_RESP_MAX_INTERIM	 8	/* 1xx responses before the final one */
#define HTTP_RESP_MAX_CHUNK_LINE 256	/* chunk size plus extensions */

enum http_resp_state {
	ST_STATUS,		/* the status line */
	ST_FIELDS,		/* header fields until an empty line */
	ST_BODY_LEN,		/* left more bytes of a Content-Length body */
	ST_BODY_EOF,		/* a body that ends when the peer closes */
	ST_CHUNK_SIZE,		/* a chunk-size line */
	ST_CHUNK_DATA,		/* left more bytes of chunk data */
	ST_CHUNK_CR,		/* the CRLF that ends chunk data */
	ST_CHUNK_LF,
	ST_TRAILER,		/* trailer fields until an empty line */
	ST_DONE,		/* states from here on are final */
	ST_STOPPED,
	ST_ERROR
};

struct http_resp {
	enum http_resp_state	 state;
	http_resp_body_cb	 cb;
	void			*arg;
	int			 status;	/* of the response being read */
	int			 final;		/* status, header complete */
	int			 interim;	/* 1xx responses skipped */
	int			 chunked;
	int			 has_length;
	int			 seen;		/* any byte at all arrived */
	uint64_t		 length;	/* Content-Length */
	uint64_t		 left;		/* of the body or chunk */
	uint64_t		 got;		/* body bytes delivered */
	size_t			 head;		/* header (or trailer) bytes */
	size_t			 llen;		/* bytes in line */
	char			 line[HTTP_RESP_MAX_LINE + 1];
	char			 err[128];
};

static void	fail(struct http_resp *, const char *, ...)
		    __attribute__((format(printf, 2, 3)));

/* Record why the response is unusable; every later call returns ERROR. */
static void
fail(struct http_resp *p, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(p->err, sizeof p->err, fmt, ap);
	va_end(ap);
	p->state = ST_ERROR;
}

/* Allocate a parser for one response. Never NULL. */
struct http_resp *
http_resp_new(http_resp_body_cb cb, void *arg)
{
	struct http_resp	*p;

	p = xcalloc(1, sizeof *p);
	p->state = ST_STATUS;
	p->cb = cb;
	p->arg = arg;
	return p;
}

/* Free p; NULL is fine. */
void
http_resp_free(struct http_resp *p)
{
	free(p);
}

/* "HTTP/1.x NNN[ reason]"; anything else is not an HTTP/1 response. */
static void
parse_status(struct http_resp *p)
{
	const char	*s = p->line;

	if (p->llen < 12 || strncmp(s, "HTTP/1.", 7) != 0 ||
	    s[7] < '0' || s[7] > '9' || s[8] != ' ' ||
	    s[9] < '1' || s[9] > '5' || s[10] < '0' || s[10] > '9' ||
	    s[11] < '0' || s[11] > '9' || (s[12] != '\0' && s[12] != ' ')) {
		fail(p, "malformed status line");
		return;
	}
	p->status = (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
	p->chunked = p->has_length = 0;
	p->state = ST_FIELDS;
}

/* A field-name character (RFC 9110 token). */
static int
is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || (c != '\0' &&
	    strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* Content-Length: digits only, no overflow, repeats must agree. */
static void
parse_length(struct http_resp *p, const char *v)
{
	uint64_t	n = 0;
	unsigned	d;

	if (*v == '\0')
		goto bad;
	for (; *v != '\0'; v++) {
		if (*v < '0' || *v > '9')
			goto bad;
		d = (unsigned)(*v - '0');
		if (n > (UINT64_MAX - d) / 10)
			goto bad;
		n = n * 10 + d;
	}
	if (p->has_length && p->length != n) {
		fail(p, "conflicting Content-Length fields");
		return;
	}
	p->has_length = 1;
	p->length = n;
	return;
bad:
	fail(p, "bad Content-Length");
}

/* One "name: value" line of the header; only the framing fields matter. */
static void
parse_field(struct http_resp *p)
{
	char	*s = p->line, *colon, *v, *end;

	/* Obsolete line folding (RFC 9112 5.2) is refused, not unfolded. */
	if ((colon = strchr(s, ':')) == NULL || colon == s) {
		fail(p, "malformed header field");
		return;
	}
	for (v = s; v < colon; v++) {
		if (!is_tchar((unsigned char)*v)) {
			fail(p, "malformed header field");
			return;
		}
	}
	*colon = '\0';
	v = colon + 1;
	while (*v == ' ' || *v == '\t')
		v++;
	end = s + p->llen;
	while (end > v && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	*end = '\0';

	if (strcasecmp(s, "Content-Length") == 0)
		parse_length(p, v);
	else if (strcasecmp(s, "Transfer-Encoding") == 0) {
		/* We send no TE: chunked, once, is all a server may use. */
		if (strcasecmp(v, "chunked") != 0 || p->chunked)
			fail(p, "unsupported Transfer-Encoding");
		p->chunked = 1;
	}
}

/* The empty line after the fields: skip a 1xx, else pick the framing. */
static void
head_done(struct http_resp *p)
{
	if (p->status < 200) {
		if (p->status == 101 ||
		    ++p->interim > HTTP_RESP_MAX_INTERIM) {
			fail(p, "unexpected HTTP %d response", p->status);
			return;
		}
		p->state = ST_STATUS;
		return;
	}
	p->final = p->status;
	if (p->status == 204 || p->status == 304)
		p->state = ST_DONE;
	else if (p->chunked && p->has_length)
		fail(p, "both Content-Length and Transfer-Encoding");
	else if (p->chunked)
		p->state = ST_CHUNK_SIZE;
	else if (p->has_length) {
		p->left = p->length;
		p->state = p->length == 0 ? ST_DONE : ST_BODY_LEN;
	} else
		p->state = ST_BODY_EOF;
}

/* "HEX[ ;ext...]": the size of the next chunk; 0 starts the trailer. */
static void
parse_chunk_size(struct http_resp *p)
{
	const char	*s = p->line;
	uint64_t	 n = 0;
	int		 d, digits = 0;

	for (; (d = util_hexval((unsigned char)*s)) != -1; s++) {
		if (n > (UINT64_MAX >> 4)) {
			fail(p, "bad chunk size");
			return;
		}
		n = (n << 4) | (uint64_t)d;
		digits++;
	}
	while (*s == ' ' || *s == '\t')
		s++;
	if (digits == 0 || (*s != '\0' && *s != ';')) {
		fail(p, "bad chunk size");
		return;
	}
	if (n == 0) {
		p->head = 0;
		p->state = ST_TRAILER;
	} else {
		p->left = n;
		p->state = ST_CHUNK_DATA;
	}
}

/*
 * Take bytes of the current line from *bufp and, once it is complete (LF,
 * an optional CR before it dropped), act on it.
 */
static void
feed_line(struct http_resp *p, const char **bufp, size_t *lenp)
{
	const char	*nl;
	size_t		 n, used, max;
	int		 head = p->state != ST_CHUNK_SIZE;

	max = head ? HTTP_RESP_MAX_LINE : HTTP_RESP_MAX_CHUNK_LINE;
	nl = memchr(*bufp, '\n', *lenp);
	n = nl != NULL ? (size_t)(nl - *bufp) : *lenp;
	used = n + (nl != NULL);
	if (p->llen + n > max) {
		if (head)
			fail(p, "response %s line too long (over %zu bytes)",
			    p->state == ST_TRAILER ? "trailer" : "header",
			    max);
		else
			fail(p, "bad chunk size");
		return;
	}
	memcpy(p->line + p->llen, *bufp, n);
	p->llen += n;
	*bufp += used;
	*lenp -= used;
	if (nl == NULL)
		return;
	/*
	 * The whole-header limit is checked on complete lines only, so the
	 * message does not depend on how the bytes were split.
	 */
	if (head) {
		p->head += p->llen + 1;
		if (p->head > HTTP_RESP_MAX_HEAD) {
			fail(p, "response %s too large (over %u bytes)",
			    p->state == ST_TRAILER ? "trailer" : "header",
			    HTTP_RESP_MAX_HEAD);
			return;
		}
	}
	if (p->llen > 0 && p->line[p->llen - 1] == '\r')
		p->llen--;
	p->line[p->llen] = '\0';
	/* The parsers below rely on the line being a C string. */
	if (memchr(p->line, '\0', p->llen) != NULL) {
		if (head)
			fail(p, "NUL byte in the response header");
		else
			fail(p, "bad chunk size");
	} else if (p->state == ST_STATUS)
		parse_status(p);
	else if (p->state == ST_FIELDS && p->llen > 0)
		parse_field(p);
	else if (p->state == ST_FIELDS)
		head_done(p);
	else if (p->state == ST_CHUNK_SIZE)
		parse_chunk_size(p);
	else if (p->llen == 0)		/* ST_TRAILER */
		p->state = ST_DONE;
	p->llen = 0;
}

/* Hand n body bytes to the callback; -1 if it asked to stop. */
static int
deliver(struct http_resp *p, const char *buf, size_t n)
{
	p->got += n;
	if (n > 0 && p->cb != NULL && p->cb(p->arg, buf, n) != 0) {
		p->state = ST_STOPPED;
		return -1;
	}
	return 0;
}

/* The caller's view of the state. */
static enum http_resp_rc
result(const struct http_resp *p)
{
	switch (p->state) {
	case ST_DONE:
		return HTTP_RESP_DONE;
	case ST_STOPPED:
		return HTTP_RESP_STOPPED;
	case ST_ERROR:
		return HTTP_RESP_ERROR;
	default:
		return HTTP_RESP_MORE;
	}
}

/* Parse len more bytes: lines are assembled, body bytes passed on. */
enum http_resp_rc
http_resp_feed(struct http_resp *p, const char *buf, size_t len)
{
	size_t	n;

	if (len > 0)
		p->seen = 1;
	while (len > 0 && p->state < ST_DONE) {
		switch (p->state) {
		case ST_STATUS:
		case ST_FIELDS:
		case ST_CHUNK_SIZE:
		case ST_TRAILER:
			feed_line(p, &buf, &len);
			break;
		case ST_BODY_LEN:
		case ST_CHUNK_DATA:
			n = (uint64_t)len < p->left ? len : (size_t)p->left;
			p->left -= n;
			if (p->left == 0)
				p->state = p->state == ST_BODY_LEN ? ST_DONE :
				    ST_CHUNK_CR;
			if (deliver(p, buf, n) != 0)
				break;
			buf += n;
			len -= n;
			break;
		case ST_BODY_EOF:
			if (deliver(p, buf, len) != 0)
				break;
			len = 0;
			break;
		case ST_CHUNK_CR:
		case ST_CHUNK_LF:
			if (*buf == '\n')
				p->state = ST_CHUNK_SIZE;
			else if (*buf == '\r' && p->state == ST_CHUNK_CR)
				p->state = ST_CHUNK_LF;
			else
				fail(p, "malformed chunked body (no CRLF "
				    "after chunk data)");
			buf++;
			len--;
			break;
		default:
			break;
		}
	}
	return result(p);
}

/* The end of the connection: the end of an unframed body, or too soon. */
enum http_resp_rc
http_resp_eof(struct http_resp *p)
{
	switch (p->state) {
	case ST_STATUS:
		if (!p->seen) {
			fail(p, "connection closed without a response");
			break;
		}
		/* FALLTHROUGH */
	case ST_FIELDS:
		fail(p, "truncated response: connection closed inside the "
		    "header");
		break;
	case ST_BODY_LEN:
		fail(p, "truncated response: connection closed after %llu of "
		    "%llu body bytes", (unsigned long long)p->got,
		    (unsigned long long)p->length);
		break;
	case ST_BODY_EOF:
		p->state = ST_DONE;
		break;
	case ST_CHUNK_SIZE:
	case ST_CHUNK_DATA:
	case ST_CHUNK_CR:
	case ST_CHUNK_LF:
	case ST_TRAILER:
		fail(p, "truncated response: connection closed inside the "
		    "chunked body after %llu bytes",
		    (unsigned long long)p->got);
		break;
	default:
		break;
	}
	return result(p);
}

/* The final status, 0 before the header is complete. */
int
http_resp_status(const struct http_resp *p)
{
	return p->final;
}

/* Why the parser failed, "" if it has not. */
const char *
http_resp_error(const struct http_resp *p)
{
	return p->state == ST_ERROR ? p->err : "";
}
