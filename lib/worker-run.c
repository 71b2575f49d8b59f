/*
 * A worker's run state: the events it keeps for the next flush, its
 * backend id and status, errors and waits noted in the store, retries and
 * their backoff, and what follows a stream that ended without a terminal
 * event. Transfers themselves are in worker-xfer.c.
 */
#include <sys/queue.h>
#include <sys/random.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "backend.h"
#include "log.h"
#include "msg.h"
#include "sse.h"
#include "stats.h"
#include "store.h"
#include "util.h"
#include "worker.h"
#include "worker-internal.h"
#include "xfer.h"
#include "xmalloc.h"


struct wrun *
run_find(struct worker *w, int64_t n)
{
	struct wrun	*r;

	TAILQ_FOREACH(r, &w->runs, entry)
		if (r->n == n)
			return r;
	return NULL;
}

void
run_pend_clear(struct wrun *r)
{
	run_pend_drop(r, r->npend);
}

/* Drop the first k buffered events of r (they are stored). */
void
run_pend_drop(struct wrun *r, size_t k)
{
	size_t	i, bytes = 0;

	if (k > r->npend)
		k = r->npend;
	for (i = 0; i < k; i++) {
		bytes += r->pend[i].len;
		free(r->pend[i].type);
		free(r->pend[i].data);
	}
	if (k > 0 && k < r->npend)
		memmove(r->pend, r->pend + k, (r->npend - k) * sizeof *r->pend);
	r->npend -= k;
	if (r->npend == 0) {
		bytes = r->pend_bytes;	/* exact, whatever was counted */
		/* A slow run's few slots: not held between its events. */
		if (r->cap <= 64) {
			free(r->pend);
			r->pend = NULL;
			r->cap = 0;
		}
	}
	r->w->pend_bytes -= bytes;
	r->pend_bytes -= bytes;
}

/*
 * After the data of a transfer's read was taken: stop reading while too
 * much is buffered (see PEND_RUN_MAX_BYTES), or while the store refuses
 * writes. The backend's bytes wait in the socket buffers meanwhile: a
 * blip of the store (a lock held elsewhere for a second) breaks no stream
 * and resubmits no create. worker_unpause goes on.
 */
void
run_backpressure(struct wrun *r)
{
	if (r->paused || r->x == NULL || (r->pend_bytes < PEND_RUN_MAX_BYTES &&
	    r->w->pend_bytes < PEND_MAX_BYTES && !r->w->store_down))
		return;
	r->paused = 1;
	r->w->npaused++;
	r->w->stats.pauses++;
	xfer_pause(r->x, 1);
}

/*
 * After a flush: the paused runs go on reading once the worker's and
 * their own buffered data are down to half the limits. Not inside the
 * flush's walk of the dirty list: going on may feed events at once.
 */
void
worker_unpause(struct worker *w)
{
	struct wrun	*r, **v;
	int		 n = 0, i;

	if (w->npaused == 0 || w->pend_bytes > PEND_MAX_BYTES / 2 ||
	    w->store_down)
		return;
	v = xreallocarray(NULL, (size_t)w->npaused, sizeof *v);
	TAILQ_FOREACH(r, &w->runs, entry) {
		if (!r->paused || r->pend_bytes > PEND_RUN_MAX_BYTES / 2 ||
		    n == w->npaused)
			continue;
		r->paused = 0;
		v[n++] = r;
	}
	w->npaused -= n;
	for (i = 0; i < n; i++)
		xfer_pause(v[i]->x, 0);
	free(v);
}

/* Forget a run locally: stop its transfer and timers and free it. */
void
run_free(struct wrun *r)
{
	struct worker	*w = r->w;

	TAILQ_REMOVE(&w->runs, r, entry);
	if (r->dirty)
		TAILQ_REMOVE(&w->dirty, r, dirty_entry);
	w->nruns--;
	xfer_abort(r->x);
	if (r->paused)
		w->npaused--;
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->idle_ev != NULL)
		event_free(r->idle_ev);
	sse_parser_free(r->sse);
	run_pend_clear(r);
	free(r->pend);
	free(r->body);
	free(r->endpoint);
	free(r->request);
	free(r->mode_req);
	free(r->backend_id);
	free(r->backend_status);
	free(r->final_response);
	free(r->final_error);
	free(r->final_body);
	free(r->poll_sig);
	free(r);
}

/* The run's lease was lost (a cancel, a takeover): remember, then free. */
void
run_lease_lost(struct wrun *r)
{
	struct worker	*w = r->w;
	struct fenced	*f;

	if (r->cancel_on_id && r->x != NULL)
		return;		/* its create's answer is to come: worker_drop */
	log_info("run %s: lease lost, dropping it", r->id);
	if (r->backend_id != NULL) {
		f = &w->fenced[w->nfenced++ % (int)(sizeof w->fenced /
		    sizeof w->fenced[0])];
		f->n = r->n;
		snprintf(f->backend_id, sizeof f->backend_id, "%s",
		    r->backend_id);
	}
	run_free(r);
}

/* Queue r for the next flush. */
void
run_dirty(struct wrun *r)
{
	if (!r->dirty) {
		r->dirty = 1;
		TAILQ_INSERT_TAIL(&r->w->dirty, r, dirty_entry);
	}
	worker_flush_soon(r->w, 0);
}

/* Record that the run ended; the next flush writes it. */
void
run_finish(struct wrun *r, const char *status, const char *response)
{
	if (r->final_status != NULL)
		return;
	r->final_status = status;
	if (response != NULL) {
		free(r->final_response);
		r->final_response = xstrdup(response);
	}
	/*
	 * A transfer still in flight is not aborted here: this may run inside
	 * its write callback. The data callback returns -1 (r->stop) and the
	 * done callback finds final_status set.
	 */
	if (r->timer != NULL)
		evtimer_del(r->timer);
	run_dirty(r);
}

/* Fail the run with an HTTP status (0 none), message and body. */
void
run_fail(struct wrun *r, int http, const char *message, const char *body)
{
	if (r->final_status != NULL)
		return;
	log_warnx("run %s: failed: %s%s%.*s", r->id, message,
	    http != 0 ? ", HTTP body: " : "", http != 0 ? 200 : 0,
	    body != NULL ? body : "");
	r->final_http = http;
	free(r->final_error);
	r->final_error = xstrdup(message);
	free(r->final_body);
	r->final_body = body != NULL ? xstrdup(body) : NULL;
	run_finish(r, RUN_FAILED, NULL);
}

/*
 * Store why the run waits before its next try (reason a WAIT_* string,
 * delay_ms from now) and, if message is not NULL, the error that made it
 * wait: shown by the API while it retries. Returns -1 when fenced: r is
 * freed (run_lease_lost), and the caller must not touch it; else 0.
 */
int
run_note_wait(struct wrun *r, const char *reason, int64_t delay_ms, int http,
    const char *message, const char *body)
{
	struct run_patch	p = RUN_PATCH_INIT;

	if (message != NULL) {
		p.set_error = 1;
		p.error_status = http;
		p.error_message = message;
		p.error_body = body;
	}
	p.set_wait = 1;
	p.wait_reason = reason;
	p.wait_until = util_now_ms() + (delay_ms > 0 ? delay_ms : 0);
	p.wait_tries = r->retries;
	switch (store_run_patch(r->w->st, r->n, r->gen, &p)) {
	case 0:
		run_lease_lost(r);
		return -1;
	case 1:
		r->waiting = 1;
		r->tries_shown = 1;
		break;
	default:
		break;		/* only the display suffers */
	}
	return 0;
}

/*
 * The run moves again: its failures in a row are over. The next flush
 * clears what the store says of its retries.
 */
void
run_retries_reset(struct wrun *r)
{
	r->retries = 0;
	if (r->tries_shown) {
		r->meta_dirty = 1;
		run_dirty(r);
	}
}

/* Keep one event for the next flush (dedupe happened already). */
void
run_keep_event(struct wrun *r, int64_t seq, const char *type,
    const char *data, size_t len)
{
	struct pevent	*pe;

	if (r->npend == r->cap) {
		r->cap = r->cap == 0 ? 16 : r->cap * 2;
		r->pend = xreallocarray(r->pend, r->cap, sizeof *r->pend);
	}
	pe = &r->pend[r->npend++];
	pe->seq = seq;
	pe->type = xstrdup(type);
	pe->data = xstrndup(data, len);
	pe->len = len;
	r->pend_bytes += len;
	r->w->pend_bytes += len;
	r->recv_seq = seq;
	r->last_event_at = util_now_ms();
	r->progress = 1;
	if (r->retries > 0)
		run_retries_reset(r);
	run_dirty(r);
}

void
run_set_backend_id(struct wrun *r, const char *id)
{
	if (id == NULL || *id == '\0')
		return;
	if (r->backend_id == NULL) {
		r->backend_id = xstrdup(id);
		r->meta_dirty = 1;
		run_dirty(r);
		log_info("run %s: backend id %s", r->id, id);
		if (r->cancel_on_id) {	/* see worker_drop */
			r->cancel_on_id = 0;
			worker_backend_cancel(r->w, r->id, id);
		}
	} else if (strcmp(r->backend_id, id) != 0 &&
	    r->dialect == DIALECT_DATABRICKS)
		/* Only the flat id gets here: the server's never changes. */
		log_warnx("run %s: the server's response_id changed mid-run "
		    "from %s to %.64s (suspicious: it names the run); keeping "
		    "%s", r->id, r->backend_id, id, r->backend_id);
	else if (strcmp(r->backend_id, id) != 0)
		log_warnx("run %s: backend sent response id %.64s, expected "
		    "%s; keeping %s", r->id, id, r->backend_id, r->backend_id);
}

void
run_set_backend_status(struct wrun *r, const char *status)
{
	if (status == NULL)
		return;
	if (r->backend_status == NULL ||
	    strcmp(r->backend_status, status) != 0) {
		free(r->backend_status);
		r->backend_status = xstrdup(status);
		r->meta_dirty = 1;
		run_dirty(r);
	}
}

/*
 * Backoff after a failure, honouring Retry-After; *reason (may be NULL)
 * says which of the two it is.
 */
int64_t
run_backoff(struct wrun *r, const char *retry_after, const char **reason)
{
	int64_t	d, ra;

	d = backend_backoff_ms(r->retries, 500, r->w->cfg->retry_max_s * 1000,
	    worker_rand());
	ra = backend_retry_after_ms(retry_after, util_now_ms());
	if (reason != NULL)
		*reason = ra >= 0 ? WAIT_RETRY_AFTER : WAIT_BACKOFF;
	if (ra >= 0)
		d = ra;
	r->retries++;
	return d;
}

/*
 * Try kind again after agentd's backoff, saying so in the store (with the
 * error, if message is not NULL). May free r (fenced).
 */
static void
run_retry_later(struct wrun *r, enum xkind kind, const char *message)
{
	int64_t	d = run_backoff(r, NULL, NULL);

	if (run_note_wait(r, WAIT_BACKOFF, d, 0, message, NULL) == 0)
		run_schedule(r, d, kind);
}

/* Decide what follows a stream that ended without a terminal event. */
void
run_stream_ended(struct wrun *r)
{
	struct endpoint_caps	caps;

	if (r->backend_id == NULL || r->mode == MODE_STREAM ||
	    r->mode == MODE_BATCH || !r->resumable) {
		if (r->backend_id == NULL && !r->w->cfg->at_most_once) {
			log_warnx("run %s: stream ended before the response "
			    "id arrived; submitting again", r->id);
			run_retry_later(r, XK_CREATE, "the stream ended before "
			    "the response id arrived; submitting again");
			return;
		}
		run_fail(r, 0, r->backend_id == NULL ? "outcome unknown: the "
		    "stream ended before the response id arrived "
		    "(--at-most-once)" : "the stream ended before the "
		    "response finished and the backend cannot resume it "
		    "(no background mode)", NULL);
		/* A broken plain stream is worth a fresh attempt. */
		r->final_retryable = r->backend_id != NULL;
		return;
	}
	if (r->progress) {
		run_retries_reset(r);
		r->empty_streams = 0;
	} else
		r->empty_streams++;
	if (store_caps_get(r->w->st, r->endpoint, &caps) == 0 &&
	    caps.resume == 0) {
		run_schedule(r, 0, XK_POLL);
		return;
	}
	/* After an empty stream, confirm the state with a retrieve. */
	if (r->empty_streams >= 2 && r->empty_streams % 2 == 0) {
		run_retry_later(r, XK_POLL, NULL);
		return;
	}
	log_info("run %s: stream ended at seq %lld, resuming", r->id,
	    (long long)r->recv_seq);
	if (r->progress)
		run_schedule(r, 0, XK_RESUME);
	else
		run_retry_later(r, XK_RESUME, NULL);
}

void
run_ladder_down(struct wrun *r, enum backend_verdict v)
{
	int	next = backend_next_mode(r->mode, v);

	store_caps_set(r->w->st, r->endpoint,
	    v == VERDICT_NO_BACKGROUND ? "background" : "stream", 0);
	log_warnx("run %s: backend refused %s mode, trying %s", r->id,
	    backend_mode_name(r->mode), backend_mode_name(next));
	r->mode = (enum backend_mode)next;
	r->resumable = r->mode == MODE_BACKGROUND || r->mode == MODE_POLL;
	run_schedule(r, 0, XK_CREATE);
}

/*
 * The transfer of kind ended without an HTTP answer (or went silent):
 * decide whether to submit again, poll again or resume.
 */
void
run_lost(struct wrun *r, enum xkind kind, int rc, const char *err)
{
	char	msg[1200];

	if (kind == XK_CREATE && r->backend_id == NULL) {
		if (r->w->cfg->at_most_once && rc != CURLE_COULDNT_CONNECT &&
		    rc != CURLE_COULDNT_RESOLVE_HOST) {
			run_fail(r, 0, "outcome unknown: the create request may "
			    "have reached the backend (--at-most-once)", NULL);
			return;
		}
		snprintf(msg, sizeof msg, "create: %s", err);
		run_retry_later(r, XK_CREATE, msg);
		return;
	}
	if (kind == XK_POLL) {
		snprintf(msg, sizeof msg, "retrieve: %s", err);
		run_retry_later(r, XK_POLL, msg);
		return;
	}
	run_stream_ended(r);
}

void
run_idle_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wrun	*r = arg;
	enum xkind	 kind = r->kind;

	(void)fd;
	(void)what;
	if (r->x == NULL || r->final_status != NULL)
		return;
	log_warnx("run %s: no bytes from the backend for %llds after seq "
	    "%lld; %s", r->id, (long long)(r->idle_ms / 1000),
	    (long long)r->recv_seq, kind == XK_CREATE && r->backend_id == NULL ?
	    "retrying the create" : "resuming");
	/* Not inside a curl callback: aborting here is safe. */
	xfer_abort(r->x);
	r->x = NULL;
	r->kind = XK_NONE;
	run_lost(r, kind, CURLE_OPERATION_TIMEDOUT, "idle timeout");
}

/* (Re)start the idle timer of the current transfer. */
void
run_idle_arm(struct wrun *r)
{
	struct timeval	tv;

	tv.tv_sec = r->idle_ms / 1000;
	tv.tv_usec = (r->idle_ms % 1000) * 1000;
	evtimer_add(r->idle_ev, &tv);
}
