/*
 * The own HTTP/1.1 client's response side: the status line and headers,
 * the body by Content-Length, chunks or the connection's close, and what
 * a pause held back. Bytes are handed to the owner where they lie in the
 * loop's read buffer; only a paused transfer's rest is copied.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <event2/event.h>

#include "util.h"
#include "xfer.h"
#include "xfer-internal.h"
#include "xfer-h1.h"
#include "xmalloc.h"

/*
 * The response head h->head[0, headlen) is whole: the status line and
 * the headers. 0: a final response, its body framing set; 1: an interim
 * 1xx, skipped; -1: failed (h1_fail called).
 */
static int
h1_head_parse(struct xfer *x)
{
	struct h1	*h = x->h1;
	char		*p = h->head, *end = h->head + h->headlen, *eol;
	const char	*v;
	int64_t		 clen = -1;
	int		 chunked = 0;
	size_t		 n, i;
	long		 status;

	eol = memchr(p, '\n', (size_t)(end - p));
	if (eol == NULL || eol - p < 12 || strncmp(p, "HTTP/1.", 7) != 0 ||
	    !isdigit((unsigned char)p[7]) || p[8] != ' ' ||
	    !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
	    !isdigit((unsigned char)p[11]) ||
	    (p[12] != ' ' && p[12] != '\r' && p[12] != '\n')) {
		h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Invalid status line "
		    "from %s", h->host);
		return -1;
	}
	status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	xfer_response_reset(x);
	x->status = status;
	for (p = eol + 1; p < end; p = eol + 1) {
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		n = (size_t)(eol - p);
		if (n > 0 && p[n - 1] == '\r')
			n--;
		if (n == 0)
			break;
		xfer_header_line(x, p, (size_t)(eol + 1 - p));
		if (n > 15 && strncasecmp(p, "content-length:", 15) == 0) {
			for (v = p + 15; v < p + n && (*v == ' ' ||
			    *v == '\t'); v++)
				;
			for (clen = 0, i = 0; v < p + n &&
			    isdigit((unsigned char)*v) &&
			    clen <= INT64_MAX / 10 - 10; v++, i++)
				clen = clen * 10 + (*v - '0');
			while (v < p + n && (*v == ' ' || *v == '\t'))
				v++;
			if (v != p + n || i == 0) {
				h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Invalid "
				    "Content-Length from %s", h->host);
				return -1;
			}
		} else if (n > 18 && strncasecmp(p, "transfer-encoding:",
		    18) == 0) {
			for (i = 18; i + 7 <= n; i++)
				if (strncasecmp(p + i, "chunked", 7) == 0)
					chunked = 1;
		}
	}
	if (status < 200 && status != 101)
		return 1;
	if (status == 204 || status == 304)
		h->body = BODY_NONE;
	else if (chunked) {
		h->body = BODY_CHUNKED;
		h->ck = CK_SIZE;
		h->left = 0;
		h->line = 0;
	} else if (clen >= 0) {
		h->body = BODY_LEN;
		h->left = clen;
	} else
		h->body = BODY_CLOSE;
	return 0;
}

/* Body bytes for the owner; -1 if it said stop (h1_fail called). */
static int
h1_deliver(struct xfer *x, const char *p, size_t n)
{
	if (n == 0)
		return 0;
	if (x->ops->data(x->arg, x, p, n) != 0) {
		h1_fail(x, CURLE_WRITE_ERROR, "Failure writing output to "
		    "destination");
		return -1;
	}
	return 0;
}

/*
 * Take the head bytes of p[0, n): returns how many were the head's, or
 * -1 (failed, or the transfer ended).
 */
static ssize_t
h1_feed_head(struct xfer *x, const char *p, size_t n)
{
	struct h1	*h = x->h1;
	size_t		 from = h->headlen > 3 ? h->headlen - 3 : 0, take, i;
	size_t		 room = H1_HEAD_MAX + 4 - h->headlen, endlen = 0;
	int		 rc;

	take = n < room ? n : room;
	h->head = xrealloc(h->head, h->headlen + take + 1);
	memcpy(h->head + h->headlen, p, take);
	h->headlen += take;
	h->got = 1;
	if (strncmp(h->head, "HTTP/", h->headlen < 5 ? h->headlen : 5) != 0) {
		h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Received a response "
		    "that is not HTTP/1.x from %s", h->host);
		return -1;
	}
	for (i = from; i < h->headlen; i++) {
		if (h->head[i] != '\n')
			continue;
		if (i + 1 < h->headlen && h->head[i + 1] == '\n')
			endlen = i + 2;
		else if (i + 2 < h->headlen && h->head[i + 1] == '\r' &&
		    h->head[i + 2] == '\n')
			endlen = i + 3;
		if (endlen > 0)
			break;
	}
	if (endlen == 0) {
		if (h->headlen > H1_HEAD_MAX) {
			h1_fail(x, CURLE_WEIRD_SERVER_REPLY, "Response head "
			    "from %s over %d bytes", h->host, H1_HEAD_MAX);
			return -1;
		}
		return (ssize_t)take;
	}
	take -= h->headlen - endlen;	/* the rest is the body's */
	h->headlen = endlen;
	rc = h1_head_parse(x);
	free(h->head);
	h->head = NULL;
	h->headlen = 0;
	if (rc < 0)
		return -1;
	if (rc == 1)
		return (ssize_t)take;	/* 1xx: the real head follows */
	h->state = H1_BODY;
	if (h->body == BODY_NONE || (h->body == BODY_LEN && h->left == 0)) {
		h1_finish(x, CURLE_OK, NULL);
		return -1;
	}
	return (ssize_t)take;
}

/*
 * Bytes from the socket (or held back by a pause): returns how many were
 * taken (fewer when the owner paused), or -1 when the transfer failed or
 * ended; x may be gone then.
 */
ssize_t
h1_feed(struct xfer *x, const char *p, size_t n)
{
	struct h1	*h = x->h1;
	size_t		 off = 0, k;
	ssize_t		 t;
	int		 c, v;

	while (off < n) {
		if (h->paused)
			return (ssize_t)off;
		if (h->state == H1_HEAD) {
			if ((t = h1_feed_head(x, p + off, n - off)) < 0)
				return -1;
			off += (size_t)t;
			continue;
		}
		if (h->body == BODY_CLOSE) {
			if (h1_deliver(x, p + off, n - off) < 0)
				return -1;
			off = n;
			continue;
		}
		if (h->body == BODY_LEN || h->ck == CK_DATA) {
			k = n - off;
			if ((int64_t)k > h->left)
				k = (size_t)h->left;
			h->left -= (int64_t)k;
			if (h1_deliver(x, p + off, k) < 0)
				return -1;
			off += k;
			if (h->left > 0)
				continue;
			if (h->body == BODY_LEN) {
				h1_finish(x, CURLE_OK, NULL);
				return -1;
			}
			h->ck = CK_DATA_CR;
			continue;
		}
		c = (unsigned char)p[off++];
		switch (h->ck) {
		case CK_SIZE:
			if ((v = util_hexval(c)) >= 0) {
				if (h->left > (INT64_MAX >> 4))
					goto bad;
				h->left = h->left * 16 + v;
				h->line = 1;
				break;
			}
			if (c != ';' && c != ' ' && c != '\t' && c != '\r' &&
			    c != '\n')
				goto bad;
			h->ck = CK_EXT;
			if (c != '\n')
				break;
			/* FALLTHROUGH */
		case CK_EXT:
			if (c != '\n')
				break;
			if (!h->line)
				goto bad;
			h->line = 0;
			h->ck = h->left > 0 ? CK_DATA : CK_TRAILER;
			break;
		case CK_DATA_CR:
			if (c == '\r')
				h->ck = CK_DATA_LF;
			else if (c == '\n')
				h->ck = CK_SIZE;
			else
				goto bad;
			break;
		case CK_DATA_LF:
			if (c != '\n')
				goto bad;
			h->ck = CK_SIZE;
			break;
		case CK_TRAILER:
			if (c == '\n') {
				if (!h->line) {
					h1_finish(x, CURLE_OK, NULL);
					return -1;
				}
				h->line = 0;
			} else if (c != '\r')
				h->line = 1;
			break;
		default:
			break;
		}
	}
	return (ssize_t)off;
bad:
	h1_fail(x, CURLE_RECV_ERROR, "Chunk size parse error in the "
	    "response from %s", h->host);
	return -1;
}

/* The server closed the connection. */
void
h1_eof(struct xfer *x)
{
	struct h1	*h = x->h1;

	if (h->state == H1_HEAD && !h->got)
		h1_fail(x, CURLE_GOT_NOTHING, "Empty reply from server");
	else if (h->state == H1_HEAD)
		h1_fail(x, CURLE_RECV_ERROR, "Connection closed in the "
		    "response head from %s", h->host);
	else if (h->body == BODY_CLOSE)
		h1_finish(x, CURLE_OK, NULL);
	else if (h->body == BODY_LEN)
		h1_fail(x, CURLE_PARTIAL_FILE, "transfer closed with %lld "
		    "bytes remaining to read", (long long)h->left);
	else
		h1_fail(x, CURLE_PARTIAL_FILE, "transfer closed with "
		    "outstanding read data remaining");
}

/* The socket is readable, or a pause ended: take what came. */
void
h1_read(struct xfer *x)
{
	struct h1	*h = x->h1;
	struct xfer_loop *l = x->loop;
	ssize_t		 n, c;

	if (h->stash != NULL) {		/* held back by a pause */
		if (h->paused)
			return;
		if ((c = h1_feed(x, h->stash, h->stashlen)) < 0)
			return;
		if ((size_t)c < h->stashlen) {
			memmove(h->stash, h->stash + c, h->stashlen -
			    (size_t)c);
			h->stashlen -= (size_t)c;
			return;
		}
		free(h->stash);
		h->stash = NULL;
		h->stashlen = 0;
	}
	if (h->paused)
		return;
	if (l->rbuf == NULL)
		l->rbuf = xmalloc(H1_READ_BUF);
	n = recv(h->fd, l->rbuf, H1_READ_BUF, 0);
	if (n < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			return;
		h1_fail(x, CURLE_RECV_ERROR, "Recv failure: %s",
		    strerror(errno));
		return;
	}
	if (n == 0) {
		h1_eof(x);
		return;
	}
	h1_arm(h, h->idle_ms);
	if ((c = h1_feed(x, l->rbuf, (size_t)n)) < 0)
		return;
	if (c < n) {
		h->stashlen = (size_t)(n - c);
		h->stash = xmalloc(h->stashlen);
		memcpy(h->stash, l->rbuf + c, h->stashlen);
	}
}
