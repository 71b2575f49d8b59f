/*
 * The API's runs: submit, list, one run, its result, resume, cancel,
 * resume-stale and prune (/v1/runs...). Routed by api.c.
 */
#include <sys/queue.h>

#include <stdint.h>
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

/* POST /v1/runs */
void
api_submit(struct api *a, struct evhttp_request *req)
{
	json_t		*body, *request, *v, *run;
	struct run_new	 rn;
	const char	*mode = "auto", *key = NULL, *queue = "default";
	char		*text = NULL, *cause = NULL, id[32];
	int		 created;
	long long	 prio = 0;

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	request = json_object_get(body, "request");
	if (request == NULL)
		request = body;		/* a bare Responses API request */
	else if (!json_is_object(request)) {
		api_error(req, 400, "bad_request", "request must be a JSON "
		    "object");
		goto out;
	} else {
		if ((v = json_object_get(body, "mode")) != NULL) {
			mode = json_string_value(v);
			if (mode == NULL || (strcmp(mode, "auto") != 0 &&
			    strcmp(mode, "background") != 0 &&
			    strcmp(mode, "stream") != 0 &&
			    strcmp(mode, "poll") != 0 &&
			    strcmp(mode, "batch") != 0)) {
				api_error(req, 400, "bad_request", "mode must "
				    "be auto, background, stream, poll or "
				    "batch");
				goto out;
			}
		}
		if ((v = json_object_get(body, "idempotency_key")) != NULL &&
		    !json_is_null(v)) {
			key = json_string_value(v);
			if (key == NULL || *key == '\0' || strlen(key) > 256) {
				api_error(req, 400, "bad_request",
				    "idempotency_key must be a string of 1 to "
				    "256 characters");
				goto out;
			}
		}
		if ((v = json_object_get(body, "queue")) != NULL &&
		    !json_is_null(v)) {
			queue = json_string_value(v);
			if (!api_valid_name(queue, 64)) {
				api_error(req, 400, "bad_request", "queue must "
				    "be 1 to 64 characters of [A-Za-z0-9_.:-]");
				goto out;
			}
		}
		if ((v = json_object_get(body, "priority")) != NULL &&
		    !json_is_null(v)) {
			if (!json_is_integer(v) || json_integer_value(v) <
			    -1000 || json_integer_value(v) > 1000) {
				api_error(req, 400, "bad_request", "priority "
				    "must be an integer from -1000 to 1000");
				goto out;
			}
			prio = json_integer_value(v);
		}
	}
	text = json_dumps(request, JSON_COMPACT);
	memset(&rn, 0, sizeof rn);
	rn.request = text;
	rn.mode = mode;
	rn.idempotency_key = key;
	rn.queue = queue;
	rn.priority = (int)prio;
	rn.endpoint = a->h.cfg->endpoint;
	rn.dialect = backend_dialect_name(a->h.cfg->dialect);
	if (store_run_insert(a->h.st, &rn, id, sizeof id, &created,
	    &cause) != 0) {
		api_error(req, 503, "store_error", "cannot store the run: %s",
		    cause);
		free(cause);
		goto out;
	}
	if ((run = store_run_json(a->h.st, id)) == NULL)
		run = json_pack("{ss}", "id", id);
	json_object_set_new(run, "created", json_boolean(created));
	if (created) {
		log_info("run %s: accepted%s%s", id, key != NULL ?
		    ", idempotency key " : "", key != NULL ? key : "");
		api_schedule_soon(a);
	}
	api_json(req, created ? 201 : 200, run);
out:
	free(text);
	json_decref(body);
}

/* GET /v1/runs */
void
api_list(struct api *a, struct evhttp_request *req, struct evkeyvalq *q)
{
	long long	 limit = LIST_LIMIT, since = 0;
	const char	*status, *queue, *after;
	char		*text, *cause = NULL;
	size_t		 len;

	if (api_query_int(req, q, "limit", 1, LIST_MAX, &limit) != 0 ||
	    api_query_int(req, q, "since", 0, INT64_MAX, &since) != 0)
		return;
	status = evhttp_find_header(q, "status");
	queue = evhttp_find_header(q, "queue");
	after = evhttp_find_header(q, "after");
	if (status != NULL && !api_valid_name(status, 32)) {
		api_error(req, 400, "bad_request", "bad status filter");
		return;
	}
	if (queue != NULL && !api_valid_name(queue, 64)) {
		api_error(req, 400, "bad_request", "bad queue filter");
		return;
	}
	if (after != NULL && !api_valid_run_id(after)) {
		api_error(req, 400, "bad_request", "after must be a run id");
		return;
	}
	text = store_run_list(a->h.st, status, queue, since, after,
	    (int)limit, &len, &cause);
	if (text == NULL) {
		api_error(req, 400, "bad_request", "%s", cause != NULL ? cause :
		    "cannot list runs");
		free(cause);
		return;
	}
	api_text(req, 200, text, len);
	free(text);
}

/* POST /v1/runs/{id}/resume */
void
api_resume(struct api *a, struct evhttp_request *req, const char *id)
{
	const char	*msg = NULL;
	int		 rc = store_resume(a->h.st, id, &msg);

	if (rc == STORE_NOTFOUND)
		api_error(req, 404, "not_found", "no run %s", id);
	else if (rc == STORE_CONFLICT)
		api_error(req, 409, "conflict", "run %s: %s", id, msg);
	else if (rc != STORE_OK)
		api_error(req, 503, "store_error", "cannot resume run %s", id);
	else {
		log_info("run %s: resumed by request", id);
		api_schedule_soon(a);
		api_json(req, 200, store_run_json(a->h.st, id));
	}
}

/* POST /v1/runs/{id}/cancel */
void
api_cancel(struct api *a, struct evhttp_request *req, const char *id)
{
	const char	*msg = NULL;
	char		*owner, *backend_id, *endpoint;
	int64_t		 n = -1;
	int		 rc;

	rc = store_cancel(a->h.st, id, &n, &owner, &backend_id, &endpoint,
	    &msg);
	if (rc == STORE_NOTFOUND)
		api_error(req, 404, "not_found", "no run %s", id);
	else if (rc == STORE_CONFLICT)
		api_error(req, 409, "conflict", "run %s: %s", id, msg);
	else if (rc != STORE_OK)
		api_error(req, 503, "store_error", "cannot cancel run %s", id);
	else {
		log_info("run %s: cancelled by request", id);
		api_drop(a, n, id, owner, backend_id, 1);
		api_progress(a, n);
		api_json(req, 200, store_run_json(a->h.st, id));
	}
	free(owner);
	free(backend_id);
	free(endpoint);
}

/*
 * POST /v1/runs/prune: a prune under way. One store_prune_slice per loop
 * turn, each sized to take about PRUNE_TURN_MS, so the API, followers and
 * assignments go on between them (a store of 1,000,000 runs took 30 s to
 * prune in one transaction, all of it with the loop and the write lock
 * held). The reply comes once the prune is done, or max_runs are gone.
 */
#define PRUNE_TURN_MS	4
#define PRUNE_WAL_PAGES		8192	/* 32 MB of 4 KB pages */
#define PRUNE_WAL_WAIT_MS	250

struct prune_job {
	TAILQ_ENTRY(prune_job)	 entry;
	struct api		*a;
	struct evhttp_request	*req;	/* NULL once its client left */
	struct apiconn		*ac;
	struct event		*ev;
	int64_t			 cutoff;
	int64_t			 from;	/* next key; -1 done */
	int64_t			 t0;	/* mono ms */
	long long		 max_runs;	/* 0: all */
	long long		 deleted;
	int			 slice;	/* runs a turn examines */
	int			 waited;	/* for the WAL, before this slice */
	int			 turns;
};

static void
prune_job_free(struct prune_job *j)
{
	TAILQ_REMOVE(&j->a->prunes, j, entry);
	if (j->ac != NULL)
		j->ac->prune = NULL;
	event_free(j->ev);
	free(j);
}

void
api_prune_detach(struct prune_job *j)
{
	j->req = NULL;
	j->ac = NULL;
}

/* Shutdown: a prune not done answers 503; what it deleted stays deleted. */
void
api_prunes_free(struct api *a)
{
	struct prune_job	*j;

	while ((j = TAILQ_FIRST(&a->prunes)) != NULL) {
		if (j->req != NULL)
			api_error(j->req, 503, "shutting_down", "agentd is "
			    "stopping; %lld runs were pruned", j->deleted);
		prune_job_free(j);
	}
}

static void
prune_turn(evutil_socket_t fd, short what, void *arg)
{
	struct prune_job	*j = arg;
	struct timeval		 gap = { 0, 0 };
	int64_t			 t0 = util_mono_us(), dt;
	int			 max = j->slice, n;

	(void)fd;
	(void)what;
	/*
	 * The prune writes the WAL faster than the workers' checkpoints
	 * (each second, store.c) empty it, and a WAL that is never emptied
	 * is never restarted: it grew to the supervisor's safety net, whose
	 * checkpoint held the loop 120-240 ms. Past PRUNE_WAL_PAGES, wait
	 * for them once per slice.
	 */
	if (store_wal_frames(j->a->h.st) > PRUNE_WAL_PAGES && !j->waited) {
		struct timeval	 later = { 0, PRUNE_WAL_WAIT_MS * 1000 };

		j->waited = 1;
		event_add(j->ev, &later);
		return;
	}
	j->waited = 0;
	if (j->max_runs > 0 && j->max_runs - j->deleted < max)
		max = (int)(j->max_runs - j->deleted);
	if ((n = store_prune_slice(j->a->h.st, j->cutoff, &j->from, max)) <
	    0) {
		log_warnx("prune failed after %lld runs", j->deleted);
		if (j->req != NULL)
			api_error(j->req, 503, "store_error", "prune failed "
			    "after %lld runs", j->deleted);
		prune_job_free(j);
		return;
	}
	j->deleted += n;
	j->turns++;
	/* Aim each turn at PRUNE_TURN_MS. */
	dt = util_mono_us() - t0;
	if (dt < PRUNE_TURN_MS * 400 && j->slice < 65536)
		j->slice *= 2;
	else if (dt > PRUNE_TURN_MS * 1500 && j->slice > 16)
		j->slice /= 2;
	if (j->from >= 0 && (j->max_runs == 0 || j->deleted < j->max_runs)) {
		/*
		 * A request takes several loop turns (accept, read, reply):
		 * one slice per turn made each wait for three or four slices.
		 * A pause after each (half its time, 1 ms at least) lets the
		 * loop run dry first.
		 */
		gap.tv_usec = dt / 2 > 1000 ? (suseconds_t)(dt / 2) : 1000;
		if (gap.tv_usec > 100000)
			gap.tv_usec = 100000;
		event_add(j->ev, &gap);
		return;
	}
	log_info("pruned %lld finished runs in %lld ms (%d turns)",
	    j->deleted, (long long)(util_mono_ms() - j->t0), j->turns);
	if (j->req != NULL)
		api_json(j->req, 200, json_pack("{sI sb}", "deleted",
		    (json_int_t)j->deleted, "more", j->from >= 0));
	prune_job_free(j);
}

void
api_prune(struct api *a, struct evhttp_request *req)
{
	struct prune_job	*j;
	json_t			*body, *v, *m;
	struct timeval		 now = { 0, 0 };

	if ((body = api_body_json(req, 0)) == NULL)
		return;
	v = json_object_get(body, "older_than_s");
	m = json_object_get(body, "max_runs");
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > INT64_MAX / 1000) {
		json_decref(body);
		api_error(req, 400, "bad_request", "older_than_s must be a "
		    "non-negative integer (seconds)");
		return;
	}
	if (m != NULL && !json_is_null(m) && (!json_is_integer(m) ||
	    json_integer_value(m) <= 0)) {
		json_decref(body);
		api_error(req, 400, "bad_request", "max_runs must be a "
		    "positive integer");
		return;
	}
	j = xcalloc(1, sizeof *j);
	j->a = a;
	j->req = req;
	j->cutoff = util_now_ms() - json_integer_value(v) * 1000;
	j->max_runs = json_is_integer(m) ? json_integer_value(m) : 0;
	j->slice = 256;
	j->t0 = util_mono_ms();
	json_decref(body);
	/* Tracked (api.c refuses what is not), so its close is seen. */
	if ((j->ac = api_conn(a, req)) == NULL || j->ac->prune != NULL) {
		if (j->ac == NULL)
			api_error(req, 503, "too_many_connections", "too many "
			    "connections");
		else
			api_error(req, 409, "conflict", "a prune is under way "
			    "on this connection");
		free(j);
		return;
	}
	j->ac->prune = j;
	j->ev = evtimer_new(a->h.base, prune_turn, j);
	TAILQ_INSERT_TAIL(&a->prunes, j, entry);
	event_add(j->ev, &now);
}
