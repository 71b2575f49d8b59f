/*
 * The API's named batches and queues (/v1/batches..., /v1/queues...).
 */
#include <sys/queue.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>

#include "api.h"
#include "api-internal.h"
#include "batch.h"
#include "log.h"
#include "store.h"
#include "util.h"
#include "xmalloc.h"

/* POST /v1/batches: submit lines of a named batch in one transaction. */
void
api_batch_submit(struct api *a, struct evhttp_request *req)
{
	json_t			*body, *reqs, *it, *v;
	struct batch_new	 b;
	struct batch_item	*items = NULL;
	char			**texts = NULL, *cause = NULL;
	size_t			 i, n = 0;
	int			 submitted, present;

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	memset(&b, 0, sizeof b);
	b.name = json_string_value(json_object_get(body, "name"));
	if (!api_valid_name(b.name, 64)) {
		api_error(req, 400, "bad_request", "name must be 1 to 64 "
		    "characters of [A-Za-z0-9_.:-]");
		goto out;
	}
	if ((v = json_object_get(body, "queue")) != NULL && !json_is_null(v)) {
		b.queue = json_string_value(v);
		if (!api_valid_name(b.queue, 64)) {
			api_error(req, 400, "bad_request", "queue must be 1 to "
			    "64 characters of [A-Za-z0-9_.:-]");
			goto out;
		}
	}
	if ((v = json_object_get(body, "mode")) != NULL && !json_is_null(v)) {
		b.mode = json_string_value(v);
		if (b.mode == NULL || (strcmp(b.mode, "auto") != 0 &&
		    strcmp(b.mode, "background") != 0 &&
		    strcmp(b.mode, "stream") != 0 &&
		    strcmp(b.mode, "poll") != 0 &&
		    strcmp(b.mode, "batch") != 0)) {
			api_error(req, 400, "bad_request", "mode must be auto, "
			    "background, stream, poll or batch");
			goto out;
		}
	}
	if ((v = json_object_get(body, "max_attempts")) != NULL &&
	    !json_is_null(v)) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100) {
			api_error(req, 400, "bad_request", "max_attempts must be "
			    "an integer from 1 to 100");
			goto out;
		}
		b.max_attempts = (int)json_integer_value(v);
	}
	reqs = json_object_get(body, "requests");
	if (!json_is_array(reqs) || json_array_size(reqs) > 10000) {
		api_error(req, 400, "bad_request", "requests must be an array "
		    "of at most 10000 {\"custom_id\",\"request\"} objects");
		goto out;
	}
	n = json_array_size(reqs);
	items = xcalloc(n + 1, sizeof *items);
	texts = xcalloc(n + 1, sizeof *texts);
	json_array_foreach(reqs, i, it) {
		const char	*cid;

		cid = json_string_value(json_object_get(it, "custom_id"));
		if (cid == NULL || *cid == '\0' || strlen(cid) > 512) {
			api_error(req, 400, "bad_request", "requests[%zu]: "
			    "custom_id must be a string of 1 to 512 characters",
			    i);
			goto out;
		}
		if (!json_is_object(json_object_get(it, "request"))) {
			api_error(req, 400, "bad_request", "requests[%zu]: "
			    "request must be a JSON object", i);
			goto out;
		}
		texts[i] = json_dumps(json_object_get(it, "request"),
		    JSON_COMPACT);
		items[i].custom_id = cid;
		items[i].request = texts[i];
	}
	b.endpoint = a->h.cfg->endpoint;
	b.dialect = backend_dialect_name(a->h.cfg->dialect);
	if (batch_submit(a->h.st, &b, items, n, &submitted, &present,
	    &cause) != 0) {
		api_error(req, 503, "store_error", "cannot store the batch: %s",
		    cause);
		free(cause);
		goto out;
	}
	if (submitted > 0) {
		log_info("batch %s: %d runs accepted, %d already present",
		    b.name, submitted, present);
		api_schedule_soon(a);
	}
	api_json(req, 200, json_pack("{ss si si}", "name", b.name,
	    "submitted", submitted, "already_present", present));
out:
	for (i = 0; texts != NULL && i < n; i++)
		free(texts[i]);
	free(texts);
	free(items);
	json_decref(body);
}

static int
results_line_cb(void *arg, json_t *line)
{
	struct evbuffer	*b = arg;
	char		*text = json_dumps(line, JSON_COMPACT);

	evbuffer_add_printf(b, "%s\n", text != NULL ? text : "{}");
	free(text);
	return 0;
}

struct cancel_arg {
	struct api	*a;
};

static void
batch_cancel_tell(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id)
{
	struct cancel_arg	*c = arg;

	api_drop(c->a, n, id, owner, backend_id, 1);
	api_progress(c->a, n);
}

/* /v1/batches/{name}[/results|/cancel] */
void
api_batch_one(struct api *a, struct evhttp_request *req, const char *name,
    const char *sub, struct evkeyvalq *q, enum evhttp_cmd_type m)
{
	struct cancel_arg	 c;
	struct evbuffer		*b;
	const char		*eo;
	json_t			*o;
	int			 rc;

	if (!api_valid_name(name, 64)) {
		api_error(req, 404, "not_found", "no such batch");
		return;
	}
	if (*sub == '\0') {
		if (m != EVHTTP_REQ_GET)
			api_error(req, 405, "method_not_allowed", "use GET");
		else if ((o = batch_status_json(a->h.st, name)) == NULL)
			api_error(req, 404, "not_found", "no batch %s", name);
		else
			api_json(req, 200, o);
	} else if (strcmp(sub, "/results") == 0) {
		if (m != EVHTTP_REQ_GET) {
			api_error(req, 405, "method_not_allowed", "use GET");
			return;
		}
		eo = evhttp_find_header(q, "errors_only");
		b = evbuffer_new();
		rc = batch_results(a->h.st, name, eo != NULL &&
		    (strcmp(eo, "true") == 0 || strcmp(eo, "1") == 0),
		    results_line_cb, b);
		if (rc == -2)
			api_error(req, 404, "not_found", "no batch %s", name);
		else if (rc < 0)
			api_error(req, 503, "store_error", "cannot read batch "
			    "%s", name);
		else {
			evhttp_add_header(evhttp_request_get_output_headers(req),
			    "Content-Type", "application/x-ndjson");
			evhttp_send_reply(req, 200, "OK", b);
		}
		evbuffer_free(b);
	} else if (strcmp(sub, "/cancel") == 0) {
		if (m != EVHTTP_REQ_POST) {
			api_error(req, 405, "method_not_allowed", "use POST");
			return;
		}
		c.a = a;
		rc = batch_cancel(a->h.st, name, batch_cancel_tell, &c);
		if (rc == -2)
			api_error(req, 404, "not_found", "no batch %s", name);
		else if (rc < 0)
			api_error(req, 503, "store_error", "cannot cancel batch "
			    "%s", name);
		else {
			log_info("batch %s: cancelled %d unfinished runs", name,
			    rc);
			api_json(req, 200, json_pack("{ss si}", "name", name,
			    "cancelled", rc));
		}
	} else
		api_error(req, 404, "not_found", "no route for batch %s", name);
}

/* POST /v1/queues/{name} */
void
api_queue_set(struct api *a, struct evhttp_request *req, const char *name)
{
	struct queue_set	 qs = { QUEUE_KEEP, QUEUE_KEEP, QUEUE_KEEP,
				    QUEUE_KEEP };
	json_t			*body, *v;
	char			*cause = NULL;

	if (!api_valid_name(name, 64)) {
		api_error(req, 400, "bad_request", "queue name must be 1 to 64 "
		    "characters of [A-Za-z0-9_.:-]");
		return;
	}
	if ((body = api_body_json(req, 0)) == NULL)
		return;
	if ((v = json_object_get(body, "max_inflight")) != NULL) {
		if (json_is_null(v))
			qs.max_inflight = QUEUE_UNLIMITED;
		else if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    json_integer_value(v) <= 1000000)
			qs.max_inflight = (int)json_integer_value(v);
		else {
			api_error(req, 400, "bad_request", "max_inflight must be "
			    "null (unlimited) or an integer from 0 to 1000000");
			goto out;
		}
	}
	if ((v = json_object_get(body, "paused")) != NULL) {
		if (!json_is_boolean(v)) {
			api_error(req, 400, "bad_request", "paused must be true "
			    "or false");
			goto out;
		}
		qs.paused = json_is_true(v);
	}
	if ((v = json_object_get(body, "priority")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < -1000 ||
		    json_integer_value(v) > 1000) {
			api_error(req, 400, "bad_request", "priority must be an "
			    "integer from -1000 to 1000");
			goto out;
		}
		qs.priority = (int)json_integer_value(v);
	}
	if ((v = json_object_get(body, "max_attempts")) != NULL) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 100) {
			api_error(req, 400, "bad_request", "max_attempts must be "
			    "an integer from 1 to 100");
			goto out;
		}
		qs.max_attempts = (int)json_integer_value(v);
	}
	if (queue_set(a->h.st, name, &qs, &cause) != 0) {
		api_error(req, 503, "store_error", "%s", cause);
		free(cause);
		goto out;
	}
	log_info("queue %s: settings changed", name);
	api_schedule_soon(a);
	api_json(req, 200, queue_list_json(a->h.st));
out:
	json_decref(body);
}
