/*
 * Worker process. Each leased run is a small state machine (create, stream,
 * resume, poll, wait) with at most one HTTP transfer in flight. Events are
 * buffered per run and committed for all runs in one transaction per loop
 * turn; the cursor moves only in that transaction (invariant 1), and every
 * write is fenced by the run's lease generation (invariant 3).
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
#include "xfer.h"
#include "xmalloc.h"

#define BODY_CAP_ERROR	(64 * 1024)		/* error bodies kept */
#define BODY_CAP_JSON	(32 * 1024 * 1024)	/* a Response object */
#define FLUSH_RETRY_MS	200
#define STORE_DOWN_RETRY_MS	1000	/* store refused writes: retry */
#define BUSY_TIMEOUT_MS	250		/* worker waits for a lock this long */

#ifndef TAILQ_FOREACH_SAFE	/* glibc's sys/queue.h lacks it */
#define TAILQ_FOREACH_SAFE(var, head, field, tvar)			\
	for ((var) = TAILQ_FIRST(head);					\
	    (var) != NULL && ((tvar) = TAILQ_NEXT(var, field), 1);	\
	    (var) = (tvar))
#endif

enum xkind {
	XK_NONE,
	XK_CREATE,
	XK_RESUME,
	XK_POLL
};

struct pevent {
	int64_t	 seq;
	char	*type;
	char	*data;
	size_t	 len;
};

struct worker;

struct wrun {
	TAILQ_ENTRY(wrun)	 entry;
	TAILQ_ENTRY(wrun)	 dirty_entry;
	struct worker		*w;
	int64_t			 n;
	int64_t			 gen;
	char			 id[32];
	char			*endpoint;
	char			*request;
	char			*mode_req;
	enum backend_dialect	 dialect;
	enum backend_mode	 mode;
	int			 resumable;
	char			*backend_id;
	char			*backend_status;
	int64_t			 recv_seq;	/* highest seq accepted */
	int			 retries;	/* consecutive failures */
	int			 waiting;	/* a wait is in the store */
	int			 tries_shown;	/* retries is in the store */
	int			 empty_streams;	/* streams with no event */
	int			 confirmed_terminal;	/* a retrieve said done */

	struct xfer		*x;
	enum xkind		 kind;
	int			 channel;	/* 0 unknown, 1 sse, 2 body */
	struct sse_parser	*sse;
	char			*body;
	size_t			 body_len;
	int			 progress;	/* new events this transfer */
	int64_t			 stream_max_seq;	/* highest seq this transfer */
	int			 held;		/* waited on a 429 pause/store */
	int64_t			 held_mark;	/* mono ms of the last note */
	int			 stop;		/* terminal seen: stop reading */

	struct pevent		*pend;
	size_t			 npend;
	size_t			 cap;
	int			 dirty;
	int			 meta_dirty;	/* backend id/status/mode */
	int64_t			 last_event_at;

	/* Set when the run ends; applied by the next flush. */
	const char		*final_status;
	char			*final_response;
	int			 final_http;
	int			 final_retryable;	/* a new attempt may work */
	int			 attempt;
	int			 max_attempts;
	char			*final_error;
	char			*final_body;

	struct event		*timer;
	struct event		*idle_ev;	/* no bytes for too long */
	int64_t			 idle_ms;
	int64_t			 poll_delay_ms;
	char			*poll_sig;
};

TAILQ_HEAD(wrun_list, wrun);

struct worker {
	const struct agentd_config	*cfg;
	int				 instance;
	struct event_base		*base;
	struct bufferevent		*sup;
	struct store			*st;
	struct xfer_loop		*xl;
	struct wrun_list		 runs;
	struct wrun_list		 dirty;
	int				 nruns;
	struct event			*flush_ev;
	struct event			*hb_ev;
	struct event			*sigterm_ev;
	int				 flush_armed;
	int				 exiting;
	struct wstats			 stats;
	int64_t				 paused_until;	/* mono ms: 429 */
	int				 store_down;	/* writes failing */
	int64_t				 store_down_since;
	int64_t				 next_req;	/* mono ms: rpm */
	/*
	 * Runs dropped because their lease was lost, with the backend id
	 * they had (perhaps never stored): a cancel that fenced them finds
	 * the id here when it arrives after the drop.
	 */
	struct fenced {
		int64_t	 n;
		char	 backend_id[128];
	}				 fenced[32];
	int				 nfenced;
	int64_t				 req_interval;	/* ms, 0 none */
};

static void	run_start(struct wrun *);
static void	run_schedule(struct wrun *, int64_t, enum xkind);
static void	run_fail(struct wrun *, int, const char *, const char *);
static void	worker_flush_soon(struct worker *, int64_t);
static void	run_idle_arm(struct wrun *);
static void	run_lost(struct wrun *, enum xkind, int, const char *);
static void	worker_rate_limited(struct worker *, struct xfer *, const char *);
static void	worker_store_down(struct worker *);
static void	worker_store_up(struct worker *);

static uint32_t
worker_rand(void)
{
	uint32_t	r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (uint32_t)util_mono_ms() * 2654435761u;
	return r;
}

/* Send a frame to the supervisor. */
static void
worker_send(struct worker *w, enum msg_type type, json_t *body)
{
	msg_write(bufferevent_get_output(w->sup), type, body);
	json_decref(body);
}

static struct wrun *
run_find(struct worker *w, int64_t n)
{
	struct wrun	*r;

	TAILQ_FOREACH(r, &w->runs, entry)
		if (r->n == n)
			return r;
	return NULL;
}

static void
pend_clear(struct wrun *r)
{
	size_t	i;

	for (i = 0; i < r->npend; i++) {
		free(r->pend[i].type);
		free(r->pend[i].data);
	}
	r->npend = 0;
}

/* Forget a run locally: stop its transfer and timers and free it. */
static void
run_free(struct wrun *r)
{
	struct worker	*w = r->w;

	TAILQ_REMOVE(&w->runs, r, entry);
	if (r->dirty)
		TAILQ_REMOVE(&w->dirty, r, dirty_entry);
	w->nruns--;
	xfer_abort(r->x);
	if (r->timer != NULL)
		event_free(r->timer);
	if (r->idle_ev != NULL)
		event_free(r->idle_ev);
	sse_parser_free(r->sse);
	pend_clear(r);
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
static void
run_lease_lost(struct wrun *r)
{
	struct worker	*w = r->w;
	struct fenced	*f;

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
static void
run_dirty(struct wrun *r)
{
	if (!r->dirty) {
		r->dirty = 1;
		TAILQ_INSERT_TAIL(&r->w->dirty, r, dirty_entry);
	}
	worker_flush_soon(r->w, 0);
}

/* Record that the run ended; the next flush writes it. */
static void
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
static void
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
 * wait: shown by the API while it retries. Frees r when fenced: callers
 * check run_find afterwards.
 */
static void
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
		return;
	case 1:
		r->waiting = 1;
		r->tries_shown = 1;
		break;
	default:
		break;		/* only the display suffers */
	}
}

/*
 * The run moves again: its failures in a row are over. The next flush
 * clears what the store says of its retries.
 */
static void
run_retries_reset(struct wrun *r)
{
	r->retries = 0;
	if (r->tries_shown) {
		r->meta_dirty = 1;
		run_dirty(r);
	}
}

/* Keep one event for the next flush (dedupe happened already). */
static void
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
	r->recv_seq = seq;
	r->last_event_at = util_now_ms();
	r->progress = 1;
	if (r->retries > 0)
		run_retries_reset(r);
	run_dirty(r);
}

static void
run_set_backend_id(struct wrun *r, const char *id)
{
	if (id == NULL || *id == '\0')
		return;
	if (r->backend_id == NULL) {
		r->backend_id = xstrdup(id);
		r->meta_dirty = 1;
		run_dirty(r);
		log_info("run %s: backend id %s", r->id, id);
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

static void
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

/* One SSE event from the backend. Return non-zero to stop reading. */
static int
run_sse_event(void *arg, const struct sse_event *sev)
{
	struct wrun		*r = arg;
	struct backend_event	 ev;

	if (backend_event_parse(r->dialect, sev->type, sev->data,
	    sev->data_len, &ev) != 0) {
		log_warnx("run %s: backend sent an event that is not a JSON "
		    "object after seq %lld; ignored", r->id,
		    (long long)r->recv_seq);
		return 0;
	}
	run_set_backend_id(r, ev.response_id);
	run_set_backend_status(r, ev.backend_status);
	if (ev.done_marker) {
		if (ev.terminal != NULL) {
			run_finish(r, RUN_COMPLETED, NULL);
			r->stop = 1;
		}
		backend_event_clear(&ev);
		return r->stop;
	}
	if (ev.seq < 0) {
		/* Without a sequence number it cannot be deduplicated. */
		if (ev.terminal == NULL) {
			log_warnx("run %s: event %.64s without a valid "
			    "sequence_number; ignored", r->id, ev.type);
			backend_event_clear(&ev);
			return 0;
		}
	} else if (ev.seq <= r->recv_seq) {
		/*
		 * Invariant 2: a replayed event is not stored twice. Replays
		 * after a resume are normal; a lower seq after a higher one in
		 * the same stream is out of order.
		 */
		if (ev.seq < r->stream_max_seq)
			log_warnx("run %s: event seq %lld arrived after seq "
			    "%lld in the same stream; dropped as already "
			    "covered by the cursor", r->id, (long long)ev.seq,
			    (long long)r->stream_max_seq);
		backend_event_clear(&ev);
		return 0;
	} else {
		r->stream_max_seq = ev.seq;
		if (ev.seq > r->recv_seq + 1 && r->recv_seq >= 0)
			log_debug("run %s: sequence gap %lld -> %lld", r->id,
			    (long long)r->recv_seq, (long long)ev.seq);
		run_keep_event(r, ev.seq, ev.type, sev->data, sev->data_len);
	}
	if (ev.terminal != NULL) {
		if (ev.error[0] != '\0')
			r->final_error = xstrdup(ev.error);
		run_finish(r, ev.terminal, ev.response);
		r->stop = 1;
	}
	backend_event_clear(&ev);
	return r->stop;
}

/* Body bytes of the current transfer. */
static int
run_xfer_data(void *arg, struct xfer *x, const char *buf, size_t len)
{
	struct wrun	*r = arg;
	long		 status = xfer_status(x);
	char		*cause = NULL;
	size_t		 cap;

	run_idle_arm(r);
	if (r->w->store_down && r->channel != 2 && !r->stop) {
		/*
		 * The store takes no writes: accept nothing more and drop the
		 * stream; it is resumed from the cursor once writes work.
		 */
		return -1;
	}
	if (r->channel == 0)
		r->channel = (status >= 200 && status < 300 &&
		    xfer_is_sse(x)) ? 1 : 2;
	if (r->channel == 1) {
		if (sse_parser_feed(r->sse, buf, len, &cause) != 0) {
			if (!r->stop) {
				log_warnx("run %s: %s", r->id, cause);
				run_fail(r, 0, cause, NULL);
				r->stop = 1;
			}
			free(cause);
			return -1;
		}
		return r->stop ? -1 : 0;
	}
	cap = (status >= 200 && status < 300) ? BODY_CAP_JSON : BODY_CAP_ERROR;
	if (r->body_len + len > cap) {
		if (cap == BODY_CAP_ERROR) {
			len = cap - r->body_len;	/* keep the start */
			if (len == 0)
				return 0;
		} else {
			r->stop = 1;
			run_fail(r, (int)status, "response body over 32 MiB",
			    NULL);
			return -1;
		}
	}
	r->body = xrealloc(r->body, r->body_len + len + 1);
	memcpy(r->body + r->body_len, buf, len);
	r->body_len += len;
	r->body[r->body_len] = '\0';
	return 0;
}

/* Handle a Response object (create JSON, poll, resume answered JSON). */
static void
run_response_object(struct wrun *r, const char *body, size_t len)
{
	json_t		*o;
	const char	*status;
	char		*text, *sig;
	int64_t		 out_len;

	o = json_loadb(body, len, 0, NULL);
	if (!json_is_object(o)) {
		json_decref(o);
		run_fail(r, 200, "backend answered 200 with a body that is "
		    "not a JSON object", body);
		return;
	}
	run_set_backend_id(r, json_string_value(json_object_get(o, "id")));
	status = json_string_value(json_object_get(o, "status"));
	if (status == NULL) {
		json_decref(o);
		run_fail(r, 200, "backend response has no status", body);
		return;
	}
	run_set_backend_status(r, status);
	if (backend_status_terminal(status)) {
		const char	*local = backend_status_local(status);
		char		 msg[1024];

		if (strcmp(local, RUN_FAILED) == 0) {
			if (json_is_object(json_object_get(o, "error")))
				backend_event_error(o, msg, sizeof msg);
			else
				snprintf(msg, sizeof msg, "backend status "
				    "%.64s", status);
			r->final_error = xstrdup(msg);
		}
		text = json_dumps(o, JSON_COMPACT);
		run_finish(r, local, text);
		free(text);
		json_decref(o);
		return;
	}
	/* Progress seen by polling: a status or output change. */
	text = json_dumps(json_object_get(o, "output"),
	    JSON_COMPACT | JSON_ENCODE_ANY);
	out_len = text != NULL ? (int64_t)strlen(text) : 0;
	free(text);
	xasprintf(&sig, "%s/%lld", status, (long long)out_len);
	if (r->poll_sig == NULL || strcmp(sig, r->poll_sig) != 0) {
		free(r->poll_sig);
		r->poll_sig = sig;
		r->last_event_at = util_now_ms();
		r->meta_dirty = 1;
		r->progress = 1;
		r->poll_delay_ms = r->w->cfg->poll_interval_s * 1000;
		run_dirty(r);
	} else
		free(sig);
	json_decref(o);
}

/*
 * Backoff after a failure, honouring Retry-After; *reason (may be NULL)
 * says which of the two it is.
 */
static int64_t
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

	run_note_wait(r, WAIT_BACKOFF, d, 0, message, NULL);
	if (run_find(r->w, r->n) == r)
		run_schedule(r, d, kind);
}

/* Decide what follows a stream that ended without a terminal event. */
static void
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

static void
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
static void
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

static void
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
static void
run_idle_arm(struct wrun *r)
{
	struct timeval	tv;

	tv.tv_sec = r->idle_ms / 1000;
	tv.tv_usec = (r->idle_ms % 1000) * 1000;
	evtimer_add(r->idle_ev, &tv);
}

/*
 * The endpoint answered 429: pause every new request of this worker for
 * Retry-After (or x-ratelimit-reset-*, else 1 s) and tell the supervisor,
 * which pauses dispatching and the other workers.
 */
static void
worker_rate_limited(struct worker *w, struct xfer *x, const char *ra)
{
	int64_t	pause, now = util_mono_ms();

	pause = backend_retry_after_ms(ra, util_now_ms());
	if (pause < 0)
		pause = xfer_ratelimit_reset_ms(x);
	if (pause < 0)
		pause = 1000;
	if (now + pause > w->paused_until) {
		w->paused_until = now + pause;
		log_warnx("worker: endpoint rate-limited (HTTP 429): no new "
		    "requests for %lld ms", (long long)pause);
		worker_send(w, MSG_RATELIMIT, json_pack("{sI}", "pause_ms",
		    (json_int_t)pause));
	}
}

/*
 * The answer to a retrieve that confirmed a resumable stream's state (the
 * stream came back empty): resume the stream from the cursor while the
 * run goes on, and once more when it says it is finished, so the events
 * after the cursor are stored. 1 if that was decided, 0 to treat the
 * answer as a poll (not a resumable stream, or a second terminal answer).
 */
static int
run_confirmed(struct wrun *r)
{
	struct endpoint_caps	 caps;
	json_t			*o;
	const char		*status;
	int			 terminal;

	if (r->mode != MODE_BACKGROUND || !r->resumable ||
	    r->backend_id == NULL ||
	    (store_caps_get(r->w->st, r->endpoint, &caps) == 0 &&
	    caps.resume == 0))
		return 0;
	o = json_loadb(r->body != NULL ? r->body : "", r->body_len, 0, NULL);
	status = json_string_value(json_object_get(o, "status"));
	if (status == NULL) {
		json_decref(o);
		return 0;
	}
	terminal = backend_status_terminal(status);
	if (terminal && r->confirmed_terminal) {
		json_decref(o);
		return 0;	/* the stream had nothing more: take this */
	}
	if (terminal)
		r->confirmed_terminal = 1;
	log_info("run %s: the backend says %.32s; resuming the stream after "
	    "seq %lld", r->id, status, (long long)r->recv_seq);
	json_decref(o);
	run_schedule(r, 0, XK_RESUME);
	return 1;
}

/* A transfer of this run ended. */
static void
run_xfer_done(void *arg, struct xfer *x, int rc, const char *err)
{
	struct wrun		*r = arg;
	long			 status = xfer_status(x);
	enum xkind		 kind = r->kind;
	enum backend_verdict	 v;
	char			 msg[1200], emsg[1024];
	const char		*ra = xfer_retry_after(x);
	int			 ok2xx = status >= 200 && status < 300;

	r->x = NULL;
	r->kind = XK_NONE;
	evtimer_del(r->idle_ev);
	stats_http(&r->w->stats, status);
	if (r->final_status != NULL)
		return;		/* terminal seen; flush writes it */
	if (status == 0) {
		log_warnx("run %s: %s: %s", r->id, kind == XK_CREATE ?
		    "create" : kind == XK_POLL ? "retrieve" : "stream", err);
		run_lost(r, kind, rc, err);
		return;
	}
	if (ok2xx && (r->channel == 1 || xfer_is_sse(x))) {
		/* A stream that ended without a terminal event. */
		run_stream_ended(r);
		return;
	}
	if (ok2xx) {
		if (strcmp(xfer_content_type(x), "application/json") != 0 &&
		    strstr(xfer_content_type(x), "json") == NULL) {
			snprintf(msg, sizeof msg, "backend answered %ld with "
			    "Content-Type '%s', expected JSON or an event "
			    "stream", status, *xfer_content_type(x) != '\0' ?
			    xfer_content_type(x) : "none");
			run_fail(r, (int)status, msg, r->body);
			return;
		}
		/*
		 * A retrieve that only confirmed the state of a resumable
		 * stream (after empty streams) leads back to the stream:
		 * polling would store none of the events after the cursor.
		 */
		if (kind == XK_POLL && run_confirmed(r))
			return;
		/*
		 * A Response object from a retrieve means the run is being
		 * polled, even if this first poll already finds it finished.
		 */
		if (kind != XK_CREATE && r->mode != MODE_POLL) {
			r->mode = MODE_POLL;
			r->meta_dirty = 1;
			run_dirty(r);
		}
		run_response_object(r, r->body != NULL ? r->body : "",
		    r->body_len);
		if (r->final_status != NULL)
			return;
		if (r->backend_id == NULL) {
			run_fail(r, (int)status, "backend answered without a "
			    "response id", r->body);
			return;
		}
		if (kind == XK_CREATE || r->mode != MODE_POLL) {
			if (r->mode != MODE_POLL) {
				r->mode = MODE_POLL;
				r->meta_dirty = 1;
				run_dirty(r);
			}
		}
		run_retries_reset(r);
		if (r->poll_delay_ms <= 0)
			r->poll_delay_ms = r->w->cfg->poll_interval_s * 1000;
		run_schedule(r, r->poll_delay_ms, XK_POLL);
		/* Unchanged: back off up to the cap. */
		r->poll_delay_ms = r->poll_delay_ms * 3 / 2;
		if (r->poll_delay_ms > r->w->cfg->poll_max_s * 1000)
			r->poll_delay_ms = r->w->cfg->poll_max_s * 1000;
		return;
	}
	/* Non-2xx. */
	v = backend_classify(status, r->body, r->body_len, kind == XK_CREATE);
	backend_error_message(r->body, r->body_len, emsg, sizeof emsg);
	if (kind == XK_CREATE) {
		if ((v == VERDICT_NO_BACKGROUND || v == VERDICT_NO_STREAM) &&
		    strcmp(r->mode_req, "auto") == 0 &&
		    backend_next_mode(r->mode, v) >= 0) {
			run_ladder_down(r, v);
			return;
		}
	} else if (v == VERDICT_GONE) {
		snprintf(msg, sizeof msg, "the backend no longer knows "
		    "response %s (HTTP 404): %s", r->backend_id, emsg);
		run_fail(r, (int)status, msg, r->body);
		return;
	} else if (kind == XK_RESUME && v != VERDICT_RETRY) {
		log_warnx("run %s: backend cannot resume streams (HTTP %ld: "
		    "%s); polling instead", r->id, status, emsg);
		store_caps_set(r->w->st, r->endpoint, "resume", 0);
		run_schedule(r, 0, XK_POLL);
		return;
	}
	snprintf(msg, sizeof msg, "HTTP %ld from %s: %s", status,
	    kind == XK_CREATE ? "create" : "retrieve", emsg);
	if (status == 429)
		worker_rate_limited(r->w, x, ra);
	if (v == VERDICT_RETRY) {
		const char	*why;
		int64_t		 d = run_backoff(r, ra, &why);

		if (status == 429 && r->w->paused_until - util_mono_ms() > d) {
			d = r->w->paused_until - util_mono_ms();
			why = xfer_ratelimit_reset_ms(x) >= 0 &&
			    strcmp(why, WAIT_RETRY_AFTER) != 0 ?
			    WAIT_RATELIMIT_RESET : WAIT_ENDPOINT_PAUSED;
		}
		log_warnx("run %s: %s; retrying in %lld ms (%s)", r->id, msg,
		    (long long)d, why);
		run_note_wait(r, why, d, (int)status, msg, r->body);
		/* run_note_wait frees r when fenced. */
		if (run_find(r->w, r->n) == r)
			run_schedule(r, d, kind);
		return;
	}
	run_fail(r, (int)status, msg, r->body);
}

static const struct xfer_ops run_xfer_ops = {
	.data = run_xfer_data,
	.done = run_xfer_done,
};

/* Start the transfer of the given kind now. */
static void
run_go(struct wrun *r, enum xkind kind)
{
	const struct agentd_config	*cfg = r->w->cfg;
	struct xfer_req			 req;
	struct run_patch		 p = RUN_PATCH_INIT;
	char				*url = NULL, *body = NULL, *cause = NULL;
	int				 stream;

	/*
	 * The endpoint asked us to slow down (429), or --requests-per-minute:
	 * no new request before its time.
	 */
	{
		struct worker	*w = r->w;
		int64_t		 now = util_mono_ms(), wait = 0;
		const char	*why = NULL;

		if (w->paused_until > now) {
			wait = w->paused_until - now;
			why = WAIT_ENDPOINT_PAUSED;
		}
		if (w->store_down && wait < STORE_DOWN_RETRY_MS) {
			wait = STORE_DOWN_RETRY_MS;	/* nowhere to write */
			why = WAIT_STORE;
		}
		if (w->req_interval > 0 && w->next_req - now > wait) {
			wait = w->next_req - now;
			why = WAIT_RPM;
		}
		/*
		 * Invariant 4: a run we hold back is not stalled by the
		 * backend. Its stale clock restarts when it is released, and
		 * every quarter of --stale-after while it waits.
		 */
		if ((wait > 0 && (!r->held || now - r->held_mark >
		    w->cfg->stale_after_s * 250)) || (wait == 0 && r->held)) {
			r->held_mark = now;
			if (store_run_released(w->st, r->n, r->gen, why,
			    wait > 0 ? util_now_ms() + wait : 0) == 0) {
				run_lease_lost(r);
				return;
			}
		}
		if (wait > 0) {
			r->held = 1;
			run_schedule(r, wait + (int64_t)(worker_rand() % 500),
			    kind);
			return;
		}
		if (r->held)
			r->waiting = 0;	/* the release cleared it */
		r->held = 0;
		if (w->req_interval > 0)
			w->next_req = (w->next_req > now ? w->next_req : now) +
			    w->req_interval;
	}
	if (r->waiting) {
		/* The retry is under way: no next try time to show. */
		p.set_wait = 2;
		if (store_run_patch(r->w->st, r->n, r->gen, &p) == 0) {
			run_lease_lost(r);
			return;
		}
		p.set_wait = 0;
		r->waiting = 0;
	}
	memset(&req, 0, sizeof req);
	free(r->body);
	r->body = NULL;
	r->body_len = 0;
	r->channel = 0;
	r->progress = 0;
	r->stream_max_seq = -1;
	r->stop = 0;
	sse_parser_reset(r->sse);
	req.api_key = cfg->api_key;
	req.connect_timeout_s = cfg->connect_timeout_s;
	req.idle_timeout_s = 0;		/* our own timer: run_idle_cb */
	r->idle_ms = cfg->idle_timeout_s * 1000;
	switch (kind) {
	case XK_CREATE:
		body = backend_create_body(r->request, r->mode, &cause);
		if (body == NULL) {
			run_fail(r, 0, cause, NULL);
			free(cause);
			return;
		}
		/* Record the attempt before sending (at-most-once needs it). */
		p.status = RUN_STARTING;
		p.creates_inc = 1;
		p.resolved_mode = backend_mode_name(r->mode);
		p.resumable = r->resumable;
		switch (store_run_patch(r->w->st, r->n, r->gen, &p)) {
		case 1:
			break;
		case 0:
			free(body);
			log_info("run %s: lease lost before create", r->id);
			run_free(r);
			return;
		default:
			/*
			 * The store refused the write (a lock held elsewhere,
			 * a full disk): not a lost lease. Wait and try again.
			 */
			free(body);
			worker_store_down(r->w);
			run_schedule(r, STORE_DOWN_RETRY_MS, XK_CREATE);
			return;
		}
		stream = r->mode == MODE_BACKGROUND || r->mode == MODE_STREAM;
		url = backend_url(cfg->endpoint, cfg->paths.create, NULL, 0,
		    0);
		req.method = "POST";
		req.body = body;
		req.accept = stream ? "text/event-stream" : "application/json";
		req.idempotency_key = r->id;
		/* A synchronous answer comes only at the end. */
		if (r->mode == MODE_BATCH)
			r->idle_ms = cfg->stale_after_s * 1000;
		log_info("run %s: create (%s mode, attempt %d)", r->id,
		    backend_mode_name(r->mode), r->retries + 1);
		break;
	case XK_RESUME:
		url = backend_url(cfg->endpoint, cfg->paths.retrieve,
		    r->backend_id, 1, r->recv_seq);
		req.method = "GET";
		req.accept = "text/event-stream";
		break;
	case XK_POLL:
		url = backend_url(cfg->endpoint, cfg->paths.retrieve,
		    r->backend_id, 0, 0);
		req.method = "GET";
		req.accept = "application/json";
		break;
	case XK_NONE:
		return;
	}
	req.url = url;
	r->kind = kind;
	if (kind == XK_CREATE)
		r->w->stats.creates++;
	else if (kind == XK_RESUME)
		r->w->stats.resumes++;
	else
		r->w->stats.polls++;
	r->x = xfer_start(r->w->xl, &req, &run_xfer_ops, r);
	run_idle_arm(r);
	free(url);
	free(body);
}

static void
run_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct wrun	*r = arg;
	enum xkind	 kind = r->kind;

	(void)fd;
	(void)what;
	r->kind = XK_NONE;
	if (r->final_status == NULL && r->x == NULL)
		run_go(r, kind);
}

/* Start a transfer of kind after delay_ms (0: now). */
static void
run_schedule(struct wrun *r, int64_t delay_ms, enum xkind kind)
{
	struct timeval	tv;

	if (delay_ms <= 0) {
		run_go(r, kind);
		return;
	}
	r->kind = kind;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

/* Decide the first step of a freshly leased run. */
static void
run_start(struct wrun *r)
{
	struct endpoint_caps	caps;

	if (r->backend_id == NULL) {
		store_caps_get(r->w->st, r->endpoint, &caps);
		r->mode = backend_first_mode(r->mode_req, caps.background,
		    caps.stream);
		r->resumable = r->mode == MODE_BACKGROUND ||
		    r->mode == MODE_POLL;
		run_go(r, XK_CREATE);
		return;
	}
	if (r->mode == MODE_STREAM || r->mode == MODE_BATCH || !r->resumable) {
		run_fail(r, 0, "agentd restarted while the run streamed and "
		    "the backend cannot resume it (no background mode)", NULL);
		return;
	}
	if (r->mode == MODE_POLL) {
		run_go(r, XK_POLL);
		return;
	}
	store_caps_get(r->w->st, r->endpoint, &caps);
	log_info("run %s: resuming %s after seq %lld", r->id, r->backend_id,
	    (long long)r->recv_seq);
	run_go(r, caps.resume == 0 ? XK_POLL : XK_RESUME);
}

/* Take run n leased at generation gen. */
static void
worker_assign(struct worker *w, int64_t n, int64_t gen)
{
	struct run_row	 row;
	struct wrun	*r;
	enum backend_mode m;
	int		 rc;

	if ((r = run_find(w, n)) != NULL) {
		if (r->gen == gen)
			return;
		run_free(r);
	}
	rc = store_row_load(w->st, n, gen, &row);
	if (rc != 1) {
		log_debug("run %lld: lease generation %lld is stale, ignored",
		    (long long)n, (long long)gen);
		return;
	}
	r = xcalloc(1, sizeof *r);
	r->w = w;
	r->n = n;
	r->gen = gen;
	memcpy(r->id, row.id, sizeof r->id);
	r->endpoint = xstrdup(row.endpoint);
	r->request = xstrdup(row.request);
	r->mode_req = xstrdup(row.mode);
	if (backend_dialect_parse(row.dialect, &r->dialect) != 0)
		r->dialect = w->cfg->dialect;
	r->mode = MODE_BACKGROUND;
	if (row.resolved_mode != NULL &&
	    backend_mode_parse(row.resolved_mode, &m) == 0)
		r->mode = m;
	r->resumable = row.resumable;
	r->backend_id = row.backend_id != NULL ? xstrdup(row.backend_id) :
	    NULL;
	r->recv_seq = row.last_seq;
	r->last_event_at = row.last_event_at;
	r->attempt = row.attempt;
	r->max_attempts = row.max_attempts;
	r->poll_delay_ms = w->cfg->poll_interval_s * 1000;
	r->sse = sse_parser_new(0, run_sse_event, r);
	r->timer = evtimer_new(w->base, run_timer_cb, r);
	r->idle_ev = evtimer_new(w->base, run_idle_cb, r);
	TAILQ_INSERT_TAIL(&w->runs, r, entry);
	w->nruns++;
	/*
	 * A create was sent in an earlier life and no response id was stored:
	 * the outcome is unknown. At-least-once submits again (same
	 * Idempotency-Key); --at-most-once fails the run.
	 */
	if (r->backend_id == NULL && row.creates > 0 &&
	    strcmp(row.status, RUN_STARTING) == 0) {
		if (w->cfg->at_most_once) {
			store_row_clear(&row);
			run_fail(r, 0, "outcome unknown: agentd stopped after "
			    "sending the create request and before the "
			    "backend's response id arrived; not submitted again "
			    "(--at-most-once)", NULL);
			return;
		}
		log_warnx("run %s: create outcome unknown after a restart; "
		    "submitting again with the same idempotency key", r->id);
	}
	store_row_clear(&row);
	run_start(r);
}

/* Write the final state of r inside the flush transaction. */
static int
run_write_final(struct wrun *r)
{
	struct run_patch	 p = RUN_PATCH_INIT;
	json_t			*resp = NULL;
	char			*text = NULL;
	int			 rc;

	if (r->final_retryable && r->attempt < r->max_attempts &&
	    strcmp(r->final_status, RUN_FAILED) == 0) {
		log_warnx("run %s: attempt %d of %d failed; retrying", r->id,
		    r->attempt, r->max_attempts);
		r->final_status = "retrying";
		return store_run_retry(r->w->st, r->n, r->gen, RUN_FAILED,
		    r->final_http, r->final_error, 2000);
	}
	p.status = r->final_status;
	p.finished = 1;
	p.response = r->final_response;
	p.backend_id = r->backend_id;
	p.backend_status = r->backend_status;
	p.resolved_mode = backend_mode_name(r->mode);
	if (r->final_response != NULL)
		resp = json_loads(r->final_response, 0, NULL);
	if (resp != NULL)
		text = backend_output_text(resp);
	json_decref(resp);
	if (text == NULL || *text == '\0') {
		free(text);
		text = store_delta_text(r->w->st, r->n);
	}
	p.output_text = text;
	if (r->final_error != NULL) {
		p.set_error = 1;
		p.error_status = r->final_http;
		p.error_message = r->final_error;
		p.error_body = r->final_body;
	} else
		p.set_error = -1;
	rc = store_run_patch(r->w->st, r->n, r->gen, &p);
	free(text);
	/* Only a write that was not fenced records the attempt. */
	if (rc == 1 && store_attempt_end(r->w->st, r->n, r->final_status,
	    r->final_http, r->final_error) != 0)
		rc = -1;
	return rc;
}

/* Commit buffered events and state of every dirty run. */
static void
worker_flush(struct worker *w)
{
	struct wrun		*r, *tmp;
	struct store_event	*sev = NULL;
	size_t			 nsev = 0, i;
	int64_t			 now = util_now_ms(), t0;
	int			 rc, failed = 0;
	struct run_patch	 p;
	uint64_t		 nevents = 0;

	w->flush_armed = 0;
	if (TAILQ_EMPTY(&w->dirty)) {
		/* Nothing buffered: probe whether the store takes writes. */
		if (w->store_down) {
			if (store_begin(w->st) == 0 && store_commit(w->st) == 0)
				worker_store_up(w);
			else
				worker_flush_soon(w, STORE_DOWN_RETRY_MS);
		}
		return;
	}
	t0 = util_mono_us();
	if (store_begin(w->st) != 0) {
		worker_store_down(w);
		return;
	}
	TAILQ_FOREACH_SAFE(r, &w->dirty, dirty_entry, tmp) {
		rc = 1;
		if (r->npend > 0) {
			if (r->npend > nsev) {
				nsev = r->npend;
				sev = xreallocarray(sev, nsev, sizeof *sev);
			}
			for (i = 0; i < r->npend; i++) {
				sev[i].seq = r->pend[i].seq;
				sev[i].type = r->pend[i].type;
				sev[i].data = r->pend[i].data;
				sev[i].data_len = r->pend[i].len;
			}
			rc = store_events_append(w->st, r->n, r->gen, sev,
			    r->npend, r->recv_seq, now);
			if (rc == -1) {
				failed = 1;
				break;
			}
			if (rc > 0)
				nevents += (uint64_t)rc;
			rc = rc == -2 ? 0 : 1;
		}
		if (rc == 1 && r->meta_dirty && r->final_status == NULL) {
			p = (struct run_patch)RUN_PATCH_INIT;
			p.backend_id = r->backend_id;
			p.backend_status = r->backend_status;
			p.resolved_mode = backend_mode_name(r->mode);
			if (r->backend_id != NULL)
				p.status = RUN_RUNNING;
			p.last_event_at = r->last_event_at;
			if (r->tries_shown && r->retries == 0)
				p.set_wait = -1;	/* see after commit */
			if ((rc = store_run_patch(w->st, r->n, r->gen, &p))
			    < 0) {
				failed = 1;
				break;
			}
		}
		if (rc == 1 && r->final_status != NULL &&
		    (rc = run_write_final(r)) < 0) {
			failed = 1;
			break;
		}
		if (rc == 0)
			r->gen = -1;	/* fenced: dropped after commit */
	}
	free(sev);
	if (failed || store_commit(w->st) != 0) {
		if (failed)
			store_rollback(w->st);
		worker_store_down(w);
		return;
	}
	if (w->store_down)
		worker_store_up(w);
	stats_write(&w->stats, (double)(util_mono_us() - t0) / 1000.0);
	w->stats.events += nevents;
	/* Invariant 1: only now is the cursor (recv_seq) durable. */
	TAILQ_FOREACH_SAFE(r, &w->dirty, dirty_entry, tmp) {
		json_t	*b;

		TAILQ_REMOVE(&w->dirty, r, dirty_entry);
		r->dirty = 0;
		if (r->meta_dirty && r->tries_shown && r->retries == 0)
			r->tries_shown = 0;	/* committed: cleared */
		r->meta_dirty = 0;
		if (r->gen == -1) {
			run_lease_lost(r);
			continue;
		}
		if (r->npend > 0) {
			pend_clear(r);
			b = json_pack("{sI sI}", "n", (json_int_t)r->n,
			    "last_seq", (json_int_t)r->recv_seq);
			worker_send(w, MSG_PROGRESS, b);
		}
		if (r->final_status != NULL) {
			log_info("run %s: %s (last seq %lld)", r->id,
			    r->final_status, (long long)r->recv_seq);
			b = json_pack("{sI ss}", "n", (json_int_t)r->n,
			    "status", r->final_status);
			worker_send(w, MSG_DONE, b);
			run_free(r);
		}
	}
}

static void
worker_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_flush(arg);
}

/*
 * The store refused a write (disk full, a lock held elsewhere, I/O error):
 * keep what is buffered, stop reading streams, retry every second.
 * Invariant 1 holds: nothing buffered counts until a commit succeeds.
 */
static void
worker_store_down(struct worker *w)
{
	if (!w->store_down) {
		w->store_down = 1;
		w->store_down_since = util_mono_ms();
		log_warnx("worker: the store refuses writes; pausing ingestion "
		    "and retrying every %d ms (buffered events are kept, "
		    "streams resume from the cursor afterwards)",
		    STORE_DOWN_RETRY_MS);
	}
	worker_flush_soon(w, STORE_DOWN_RETRY_MS);
}

/* Writes work again: runs waiting in run_go go ahead on their timers. */
static void
worker_store_up(struct worker *w)
{
	w->store_down = 0;
	log_warnx("worker: store writes work again after %lld ms; resuming "
	    "ingestion", (long long)(util_mono_ms() - w->store_down_since));
	/* That time must not make runs look stale (invariant 4). */
	worker_send(w, MSG_HELD, json_pack("{sI}", "ms",
	    (json_int_t)(util_mono_ms() - w->store_down_since)));
}

/* Arrange a flush after the current loop turn (or after delay_ms). */
static void
worker_flush_soon(struct worker *w, int64_t delay_ms)
{
	struct timeval	tv;

	if (w->flush_armed && delay_ms == 0)
		return;
	tv.tv_sec = delay_ms / 1000;
	tv.tv_usec = (delay_ms % 1000) * 1000;
	evtimer_add(w->flush_ev, &tv);
	w->flush_armed = 1;
}

/* Backend cancel request, fire and forget. */
struct cancel_ctx {
	char	id[32];
	char	backend_id[128];
};

static int
cancel_data(void *arg, struct xfer *x, const char *buf, size_t len)
{
	(void)arg;
	(void)x;
	(void)buf;
	(void)len;
	return 0;
}

static void
cancel_done(void *arg, struct xfer *x, int rc, const char *err)
{
	struct cancel_ctx	*c = arg;
	long			 status = xfer_status(x);

	if (rc != 0 && status == 0)
		log_warnx("run %s: backend cancel of %s failed: %s", c->id,
		    c->backend_id, err);
	else if (status == 501 || status == 404 || status == 405)
		log_warnx("run %s: backend cannot cancel %s (HTTP %ld); "
		    "abandoned locally only", c->id, c->backend_id, status);
	else
		log_info("run %s: backend cancel of %s answered %ld", c->id,
		    c->backend_id, status);
	free(c);
}

static const struct xfer_ops cancel_ops = {
	.data = cancel_data,
	.done = cancel_done,
};

/* The supervisor took run n away (abandoned or cancelled). */
static void
worker_drop(struct worker *w, json_t *b)
{
	struct wrun		*r;
	struct xfer_req		 req;
	struct cancel_ctx	*c;
	const char		*bid, *id;
	char			*url;
	int			 i;
	json_int_t		 n = json_integer_value(json_object_get(b, "n"));

	bid = json_string_value(json_object_get(b, "backend_id"));
	id = json_string_value(json_object_get(b, "id"));
	c = xcalloc(1, sizeof *c);
	/*
	 * A cancel that raced the create: the store had no backend id yet,
	 * but this worker may have it, in the run or in what it dropped.
	 */
	if (bid == NULL && (r = run_find(w, n)) != NULL && r->backend_id != NULL)
		snprintf(c->backend_id, sizeof c->backend_id, "%s",
		    r->backend_id);
	for (i = 0; bid == NULL && c->backend_id[0] == '\0' &&
	    i < (int)(sizeof w->fenced / sizeof w->fenced[0]); i++)
		if (w->fenced[i].n == n && w->fenced[i].backend_id[0] != '\0')
			snprintf(c->backend_id, sizeof c->backend_id, "%s",
			    w->fenced[i].backend_id);
	if (bid != NULL)
		snprintf(c->backend_id, sizeof c->backend_id, "%s", bid);
	if ((r = run_find(w, n)) != NULL) {
		log_info("run %s: released by the supervisor", r->id);
		run_free(r);
	}
	if (!json_is_true(json_object_get(b, "cancel")) ||
	    c->backend_id[0] == '\0') {
		free(c);
		return;
	}
	bid = c->backend_id;
	snprintf(c->id, sizeof c->id, "%s", id != NULL ? id : "?");
	memset(&req, 0, sizeof req);
	url = backend_url(w->cfg->endpoint, w->cfg->paths.cancel, bid, 0, 0);
	req.method = "POST";
	req.url = url;
	req.body = "{}";
	req.accept = "application/json";
	req.api_key = w->cfg->api_key;
	req.connect_timeout_s = w->cfg->connect_timeout_s;
	req.idle_timeout_s = 30;
	xfer_start(w->xl, &req, &cancel_ops, c);
	free(url);
}

static void
worker_exit(struct worker *w, int status)
{
	worker_flush(w);
	log_debug("worker exiting (%d)", status);
	event_base_loopexit(w->base, NULL);
	w->exiting = 1;
}

static void
worker_read_cb(struct bufferevent *bev, void *arg)
{
	struct worker	*w = arg;
	json_t		*b;
	int		 type, rc;
	char		*cause = NULL;

	while ((rc = msg_read(bufferevent_get_input(bev), &type, &b,
	    &cause)) == 1) {
		switch (type) {
		case MSG_ASSIGN:
			worker_assign(w, json_integer_value(json_object_get(b,
			    "n")), json_integer_value(json_object_get(b,
			    "gen")));
			break;
		case MSG_DROP:
			worker_drop(w, b);
			break;
		case MSG_SHUTDOWN:
			worker_exit(w, 0);
			break;
		case MSG_PAUSE: {
			json_int_t	ms = json_integer_value(json_object_get(b,
			    "pause_ms"));

			if (ms > 0 && ms <= 86400000 &&
			    util_mono_ms() + ms > w->paused_until)
				w->paused_until = util_mono_ms() + ms;
			break;
		}
		default:
			log_warnx("worker: unknown frame type %d", type);
			break;
		}
		json_decref(b);
		if (w->exiting)
			return;
	}
	if (rc < 0) {
		log_warnx("worker: bad frame from supervisor: %s", cause);
		free(cause);
		worker_exit(w, 1);
	}
}

static void
worker_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		log_info("worker: supervisor went away, exiting");
		worker_exit(arg, 0);
	}
}

static void
worker_hb_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;

	(void)fd;
	(void)what;
	worker_send(w, MSG_HEARTBEAT, json_pack("{si si so}", "runs", w->nruns,
	    "transfers", xfer_loop_count(w->xl), "stats",
	    stats_json(&w->stats)));
}

static void
worker_sigterm_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	worker_exit(arg, 0);
}

/* The worker process body. */
int
worker_main(const struct agentd_config *cfg, int instance, int fd)
{
	struct worker	 w;
	struct wrun	*r;
	struct timeval	 one = { 1, 0 };
	char		*cause = NULL, role[32];

	memset(&w, 0, sizeof w);
	snprintf(role, sizeof role, "worker/%d", instance);
	log_setrole(role);
	signal(SIGPIPE, SIG_IGN);
	w.cfg = cfg;
	w.instance = instance;
	if (cfg->requests_per_minute > 0)
		w.req_interval = 60000LL * cfg->workers /
		    cfg->requests_per_minute;
	TAILQ_INIT(&w.runs);
	TAILQ_INIT(&w.dirty);
	if ((w.st = store_open(cfg->db_path, &cause)) == NULL) {
		log_warnx("%s", cause);
		free(cause);
		return 1;
	}
	/* Never block the loop long on a lock: the flush retries instead. */
	store_set_busy_timeout(w.st, BUSY_TIMEOUT_MS);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
	w.base = event_base_new();
	w.xl = xfer_loop_new(w.base);
	w.sup = bufferevent_socket_new(w.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(w.sup, worker_read_cb, NULL, worker_event_cb, &w);
	bufferevent_enable(w.sup, EV_READ);
	w.flush_ev = evtimer_new(w.base, worker_flush_cb, &w);
	w.hb_ev = event_new(w.base, -1, EV_PERSIST, worker_hb_cb, &w);
	event_add(w.hb_ev, &one);
	w.sigterm_ev = evsignal_new(w.base, SIGTERM, worker_sigterm_cb, &w);
	event_add(w.sigterm_ev, NULL);
	worker_send(&w, MSG_HELLO, json_pack("{si si}", "instance", instance,
	    "pid", (int)getpid()));
	log_debug("worker started");
	event_base_dispatch(w.base);

	while ((r = TAILQ_FIRST(&w.runs)) != NULL)
		run_free(r);
	event_free(w.flush_ev);
	event_free(w.hb_ev);
	event_free(w.sigterm_ev);
	bufferevent_free(w.sup);
	xfer_loop_free(w.xl);
	event_base_free(w.base);
	store_close(w.st);
	curl_global_cleanup();
	return 0;
}
