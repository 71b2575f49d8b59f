/*
 * Supervisor <-> worker framing. See msg.h for the wire format.
 */
#include <arpa/inet.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "log.h"
#include "msg.h"
#include "xmalloc.h"

/* Append one frame. */
void
msg_write(struct evbuffer *out, enum msg_type type, json_t *body)
{
	unsigned char	 hdr[MSG_HEADER_SIZE];
	char		*text;
	uint32_t	 len;
	uint16_t	 t = htons((uint16_t)type), v = htons(MSG_PROTOCOL_VERSION);

	text = json_dumps(body, JSON_COMPACT);
	if (text == NULL)
		fatalx("msg: cannot serialise frame %d", type);
	len = htonl((uint32_t)strlen(text));
	memcpy(hdr, &len, 4);
	memcpy(hdr + 4, &t, 2);
	memcpy(hdr + 6, &v, 2);
	evbuffer_add(out, hdr, sizeof hdr);
	evbuffer_add(out, text, strlen(text));
	free(text);
}

/* Take one frame if complete. */
int
msg_read(struct evbuffer *in, int *type, json_t **body, char **cause)
{
	unsigned char	 hdr[MSG_HEADER_SIZE];
	uint32_t	 len;
	uint16_t	 t, v;
	char		*text;
	json_error_t	 jerr;

	if (evbuffer_get_length(in) < MSG_HEADER_SIZE)
		return 0;
	evbuffer_copyout(in, hdr, sizeof hdr);
	memcpy(&len, hdr, 4);
	memcpy(&t, hdr + 4, 2);
	memcpy(&v, hdr + 6, 2);
	len = ntohl(len);
	if (ntohs(v) != MSG_PROTOCOL_VERSION) {
		xasprintf(cause, "frame version %u, expected %u", ntohs(v),
		    MSG_PROTOCOL_VERSION);
		return -1;
	}
	if (len > MSG_MAX_BODY) {
		xasprintf(cause, "frame of %u bytes is over the limit", len);
		return -1;
	}
	if (evbuffer_get_length(in) < MSG_HEADER_SIZE + (size_t)len)
		return 0;
	evbuffer_drain(in, MSG_HEADER_SIZE);
	text = xmalloc(len + 1);
	evbuffer_remove(in, text, len);
	text[len] = '\0';
	*body = json_loadb(text, len, 0, &jerr);
	free(text);
	if (*body == NULL || !json_is_object(*body)) {
		xasprintf(cause, "frame body is not a JSON object: %s",
		    *body == NULL ? jerr.text : "wrong type");
		json_decref(*body);
		*body = NULL;
		return -1;
	}
	*type = ntohs(t);
	return 1;
}
