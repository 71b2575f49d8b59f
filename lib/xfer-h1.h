/*
 * The own HTTP/1.1 client's private parts, shared by xfer-h1.c (resolve,
 * connect, send, the transfer's life) and xfer-h1-read.c (the response).
 */
#ifndef AGENTD_XFER_H1_H
#define AGENTD_XFER_H1_H

#include <sys/socket.h>

#include <stdint.h>
#include <sys/types.h>

#include <event2/util.h>

struct event;
struct evdns_getaddrinfo_request;
struct xfer;

/* As libcurl 7.88 allows (100 KB a header line): a whole response head. */
#define H1_HEAD_MAX	(300 * 1024)

enum h1_state {
	H1_RESOLVE,	/* waiting for evdns */
	H1_CONNECT,	/* connect() in progress */
	H1_SEND,	/* writing the request */
	H1_HEAD,	/* reading the status line and headers */
	H1_BODY,	/* reading the body */
	H1_FAILED	/* a failure waits for its done on the next turn */
};

enum h1_body { BODY_NONE, BODY_LEN, BODY_CHUNKED, BODY_CLOSE };

enum h1_chunk {
	CK_SIZE,	/* hex digits of the size line */
	CK_EXT,		/* the rest of the size line (extensions) */
	CK_DATA,
	CK_DATA_CR,	/* the CRLF after the data */
	CK_DATA_LF,
	CK_TRAILER	/* trailer lines up to an empty one */
};

struct h1_dns;

struct h1 {
	evutil_socket_t		 fd;
	struct event		*ev;	/* the socket */
	struct event		*tmo;	/* connect or idle timeout; a failure */
	struct h1_dns		*dns;
	struct evdns_getaddrinfo_request *dreq;
	struct evutil_addrinfo	*ai, *cur;	/* ai: ours to free */
	struct sockaddr_storage	 sa;	/* a literal address */
	socklen_t		 salen;
	char			*host;	/* host and port, for messages */
	char			*out;	/* the request, until sent */
	size_t			 outlen, outoff;
	char			*head;	/* the response head, until parsed */
	size_t			 headlen;
	char			*stash;	/* bytes read while paused */
	size_t			 stashlen;
	int64_t			 left;	/* body or chunk bytes to come */
	int64_t			 started;	/* ms, for messages */
	long			 connect_ms, idle_ms;
	int			 fail_rc;
	char			*fail_msg;
	unsigned		 state:3, body:2, ck:3, paused:1, got:1,
				 line:1;
	int			 last_errno;
};

/* The end: tell the owner, then free everything. x is gone after. */
void	h1_finish(struct xfer *x, int rc, const char *msg);
/* A failure, its done on the next loop turn. */
void	h1_fail(struct xfer *x, int rc, const char *fmt, ...)
	    __attribute__((format(printf, 3, 4)));
/* (Re)arm the timeout (0: none). */
void	h1_arm(struct h1 *h, long ms);
/* xfer-h1-read.c: the socket is readable, or a pause ended. */
void	h1_read(struct xfer *x);
/*
 * Response bytes: how many were taken (fewer when the owner paused), or
 * -1 when the transfer failed (its done comes on the next loop turn) or
 * ended (x is gone).
 */
ssize_t	h1_feed(struct xfer *x, const char *p, size_t n);
/* The server closed the connection. */
void	h1_eof(struct xfer *x);
/*
 * For the fuzz target: a transfer with no socket, past its request and
 * waiting for the response that h1_feed and h1_eof bring.
 */
struct xfer *h1_detached(struct xfer_loop *l, const struct xfer_ops *ops,
	    void *arg);

#endif
