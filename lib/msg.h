/*
 * Frames between the supervisor and its workers over a socketpair:
 * {uint32 body length, uint16 type, uint16 version} in network order, then
 * a JSON object. The receiver checks length, version and JSON; a bad frame
 * ends the peer (the supervisor restarts a worker that sent one).
 */
#ifndef AGENTD_MSG_H
#define AGENTD_MSG_H

#include <jansson.h>

struct evbuffer;

#define MSG_PROTOCOL_VERSION	1
#define MSG_HEADER_SIZE		8
#define MSG_MAX_BODY		(1024 * 1024)

enum msg_type {
	/* worker -> supervisor */
	MSG_HELLO = 100,	/* {instance, pid} */
	MSG_HEARTBEAT = 101,	/* {runs} */
	MSG_PROGRESS = 102,	/* {n, last_seq} after a commit */
	MSG_DONE = 103,		/* {n, status}: the worker let go of run n */
	MSG_RATELIMIT = 104,	/* {pause_ms}: the endpoint said 429 */
	MSG_HELD = 105,		/* {ms}: the store refused writes that long */

	/* supervisor -> worker */
	MSG_ASSIGN = 200,	/* {n, gen} */
	MSG_DROP = 201,		/* {n, cancel, backend_id, endpoint} */
	MSG_SHUTDOWN = 202,	/* {} */
	MSG_PAUSE = 203		/* {pause_ms}: no new requests for that long */
};

/* Append a frame to out. body is borrowed. */
void	msg_write(struct evbuffer *out, enum msg_type type, json_t *body);
/*
 * Take one frame from in: 1 with *type and a new reference in *body,
 * 0 if more bytes are needed, -1 on a bad frame (*cause allocated).
 */
int	msg_read(struct evbuffer *in, int *type, json_t **body,
	    char **cause);

#endif
