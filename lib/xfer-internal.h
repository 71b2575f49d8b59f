/*
 * What xfer.c (libcurl) and xfer-h1.c (the own HTTP/1.1 client) share:
 * the loop, the transfer and the parsing of response header lines.
 */
#ifndef AGENTD_XFER_INTERNAL_H
#define AGENTD_XFER_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

struct event;
struct event_base;
struct evdns_base;
struct h1;

/* The own client reads into one buffer per loop, this big. */
#define H1_READ_BUF	16384

struct xfer_loop {
	struct event_base	*base;
	CURLM			*multi;
	struct event		*timer;
	int			 count;
	int			 lean;	/* the own client may be used */
	struct evdns_base	*dns;	/* made at the first name to resolve */
	char			*rbuf;	/* H1_READ_BUF, made at first use */
};

struct xfer {
	struct xfer_loop	*loop;
	CURL			*easy;	/* libcurl's, or NULL */
	struct h1		*h1;	/* the own client's, or NULL */
	struct curl_slist	*headers;
	const struct xfer_ops	*ops;
	void			*arg;
	long			 status;
	char			 ctype[64];
	char			*retry_after;
	int64_t			 ratelimit_reset_ms;
	char			*errbuf;	/* libcurl's CURL_ERROR_SIZE */
};

/* A response's status line starts again: forget the last one's headers. */
void	xfer_response_reset(struct xfer *x);
/* One response header line ("Name: value", CRLF or not). */
void	xfer_header_line(struct xfer *x, const char *p, size_t len);
/* A new transfer of l's, counted in it, for the owner's ops and arg. */
struct xfer *xfer_new(struct xfer_loop *l, const struct xfer_ops *ops,
	    void *arg);
/* Free x and what it holds (either client's). */
void	xfer_free(struct xfer *x);

/* xfer-h1.c */
/* 1 if the own client can take req (plain http, a URL it can parse). */
int	h1_accepts(const struct xfer_loop *l, const struct xfer_req *req);
/* Start req on x (x->loop, ops and arg set); failures come through done. */
void	h1_start(struct xfer *x, const struct xfer_req *req);
void	h1_abort(struct xfer *x);
void	h1_pause(struct xfer *x, int pause);
void	h1_loop_free(struct xfer_loop *l);

#endif
