/*
 * libFuzzer target for lib/backend.c: everything agentd reads from a
 * backend besides the SSE framing. The input is taken as an event's data
 * (both dialects), an HTTP error body, a Retry-After and rate-limit value,
 * a Response object (output text) and a user request (create body).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "backend.h"

int	LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct backend_event	 ev;
	const char		*d = (const char *)data;
	char			 msg[256], small[128], *s, *cause = NULL;
	json_t			*o;
	int			 m;

	if (backend_event_parse(DIALECT_OPENAI, "message", d, size, &ev) == 0 &&
	    ev.terminal != NULL && strcmp(ev.terminal, "failed") == 0 &&
	    ev.error[0] == '\0')
		abort();	/* a failure always says why */
	backend_event_clear(&ev);
	backend_event_parse(DIALECT_DATABRICKS, NULL, d, size, &ev);
	backend_event_clear(&ev);
	backend_error_message(d, size, msg, sizeof msg);
	if (strlen(msg) >= sizeof msg)
		abort();
	backend_classify(size > 0 ? 100 + data[0] * 2 : 200, d, size,
	    size > 1 ? data[1] & 1 : 0);
	memcpy(small, d, size < sizeof small - 1 ? size : sizeof small - 1);
	small[size < sizeof small - 1 ? size : sizeof small - 1] = '\0';
	if (backend_retry_after_ms(small, 1700000000000LL) > 86400000)
		abort();
	if (backend_duration_ms(small) > 86400000)
		abort();
	o = json_loadb(d, size, 0, NULL);
	if (o != NULL) {
		s = backend_output_text(o);
		free(s);
		backend_event_error(o, msg, sizeof msg);
		json_decref(o);
	}
	s = malloc(size + 1);
	memcpy(s, d, size);
	s[size] = '\0';
	for (m = MODE_BACKGROUND; m <= MODE_BATCH; m++) {
		char *body = backend_create_body(s, (enum backend_mode)m,
		    &cause);

		if (body == NULL && cause == NULL)
			abort();
		free(body);
		free(cause);
		cause = NULL;
	}
	free(s);
	return 0;
}
