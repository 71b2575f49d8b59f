/*
 * A worker's transfers for a run: the create, resume and poll requests,
 * the SSE events and bodies they bring, and what each answer means for
 * the run (the negotiation ladder, retries, a 429's pause).
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


/* One SSE event from the backend. Return non-zero to stop reading. */
int
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
		if (r->stop)
			return -1;
		run_backpressure(r);
		return 0;
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
		if (rc != 0)
			log_info("run %s: stream broke after seq %lld: %s",
			    r->id, (long long)r->recv_seq, err);
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
		if (run_note_wait(r, why, d, (int)status, msg, r->body) == 0)
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
void
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
	/*
	 * libcurl's 16 KB receive buffer, of which a slow stream keeps a
	 * page resident, was a fifth of an open run's memory. With many runs
	 * open at once (each then gets a small share of the store's rate
	 * anyway) a new transfer reads 1 KB at a time; a few fast runs keep
	 * the big reads.
	 */
	if (xfer_loop_count(r->w->xl) >= XFER_SMALL_BUF_RUNS)
		req.buffer_size = 1024;
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
		req.stream = stream;
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
		req.stream = 1;
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
	if (r->paused) {	/* the transfer it paused is gone */
		r->paused = 0;
		r->w->npaused--;
	}
	r->x = xfer_start(r->w->xl, &req, &run_xfer_ops, r);
	if (xfer_is_lean(r->x))
		r->w->stats.lean++;
	run_idle_arm(r);
	free(url);
	free(body);
}

void
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
void
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
void
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
