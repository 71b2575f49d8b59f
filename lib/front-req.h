/*
 * The front's request parsing, pure (no HTTP, no store): the JSON body of
 * POST /v1/responses, the Idempotency-Key header, the query of GET
 * /v1/responses/{id} and response ids. front.c calls these and answers
 * what they refuse with a 400 in OpenAI's shape; being pure, they are
 * unit-tested and fuzzed directly.
 */
#ifndef AGENTD_FRONT_REQ_H
#define AGENTD_FRONT_REQ_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#define FRONT_KEY_MAX	256	/* Idempotency-Key length */

/* Why a request was refused: a 400's param (NULL or static) and message. */
struct front_req_error {
	const char	*param;
	char		 message[512];
};

/* A POST /v1/responses body that passed the checks. */
struct front_create_req {
	json_t		*body;		/* the request object; caller decrefs */
	int		 stream;	/* stream: true */
	int		 background;	/* background: true */
	const char	*previous;	/* previous_response_id, or NULL;
					   owned by body */
};

/*
 * Parse the body buf (len bytes, not NUL-terminated) of POST
 * /v1/responses: a JSON object without duplicate keys, stream and
 * background booleans (or null or absent), previous_response_id a string
 * (or null or absent), checked in that order. 0 with cr filled (the
 * caller decrefs cr->body), or -1 with err filled and nothing to free.
 */
int	front_req_create(const char *buf, size_t len,
	    struct front_create_req *cr, struct front_req_error *err);
/*
 * Check an Idempotency-Key header value (NULL: none sent): 1 to
 * FRONT_KEY_MAX characters. 0, or -1 with err filled.
 */
int	front_req_key(const char *key, struct front_req_error *err);
/*
 * Parse the query of GET /v1/responses/{id}: stream (NULL, "true", "1",
 * "false" or "0") and starting_after (NULL, or an integer from -1). 0
 * with *stream and *after (-1 when absent) set, or -1 with err filled.
 */
int	front_req_get(const char *stream, const char *starting_after,
	    int *streamp, int64_t *after, struct front_req_error *err);
/*
 * The run id for response id rid ("resp_<hex>" is run "r_<hex>"), into id
 * (of idlen). 0, or -1 if rid is not one of agentd's response ids.
 */
int	front_run_id(const char *rid, char *id, size_t idlen);

#endif
