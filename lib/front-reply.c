/*
 * The Responses-compatible front's replies: errors in OpenAI's shape, its
 * 404 wording, JSON bodies, each with an x-request-id (see front.c).
 */
#include <sys/random.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api-internal.h"

/* Add an x-request-id header to the reply. */
void
front_request_id(struct evhttp_request *req)
{
	unsigned char	r[8];
	char		id[24];
	size_t		i;

	if (getrandom(r, sizeof r, GRND_NONBLOCK) != (ssize_t)sizeof r)
		memset(r, 0, sizeof r);
	memcpy(id, "req_", 4);
	for (i = 0; i < sizeof r; i++)
		snprintf(id + 4 + 2 * i, 3, "%02x", r[i]);
	evhttp_add_header(evhttp_request_get_output_headers(req),
	    "x-request-id", id);
}

/*
 * Answer an error in OpenAI's shape {"error":{"message","type","param",
 * "code"}}. accepted: the run exists already, so tell the SDKs not to
 * retry the request (x-should-retry: false) whatever the status.
 */
void
front_error(struct evhttp_request *req, int status, const char *type,
    const char *param, int accepted, const char *fmt, ...)
{
	struct evkeyvalq	*h = evhttp_request_get_output_headers(req);
	json_t			*o;
	char			 msg[1024], *text, *p;
	const char		*reason;
	va_list			 ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	/*
	 * A client's bytes in the message (an id from the path, or one cut
	 * by %.64s mid-character) need not be UTF-8, and jansson packs only
	 * UTF-8: mask the bytes that are not ASCII.
	 */
	if ((o = json_string(msg)) == NULL) {
		for (p = msg; *p != '\0'; p++)
			if ((unsigned char)*p >= 0x80)
				*p = '?';
	} else
		json_decref(o);
	o = json_pack("{s{ss ss so so}}", "error", "message", msg, "type",
	    type, "param", param != NULL ? json_string(param) : json_null(),
	    "code", json_null());
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	front_request_id(req);
	if (accepted || status >= 500)
		evhttp_add_header(h, "x-should-retry", "false");
	switch (status) {
	case 400: reason = "Bad Request"; break;
	case 401: reason = "Unauthorized"; break;
	case 404: reason = "Not Found"; break;
	case 405: reason = "Method Not Allowed"; break;
	case 413: reason = "Payload Too Large"; break;
	case 503: reason = "Service Unavailable"; break;
	default: reason = "Error"; break;
	}
	{
		struct evbuffer	*b = evbuffer_new();

		evbuffer_add(b, text, strlen(text));
		evbuffer_add(b, "\n", 1);
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_send_reply(req, status, reason, b);
		evbuffer_free(b);
	}
	free(text);
}

/* 404 for a response id, worded as OpenAI words it. */
void
front_not_found(struct evhttp_request *req, const char *rid)
{
	front_error(req, 404, "invalid_request_error", NULL, 0, "Response "
	    "with id '%.64s' not found.", rid);
}

/* Answer JSON text (len bytes) with status 200. Frees text. */
void
front_json_text(struct evhttp_request *req, char *text, size_t len)
{
	front_request_id(req);
	api_text(req, 200, text, len);
	free(text);
}
