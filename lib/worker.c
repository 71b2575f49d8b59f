/*
 * Worker process. Each leased run is a small state machine (create, stream,
 * resume, poll, wait) with at most one HTTP transfer in flight. Events are
 * buffered per run and committed for all runs in one transaction per loop
 * turn; the cursor moves only in that transaction (invariant 1), and every
 * write is fenced by the run's lease generation (invariant 3). This file:
 * the process, its frames with the supervisor and the flush; a run's state
 * is in worker-run.c, its transfers in worker-xfer.c.
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


static void	worker_store_up(struct worker *);

uint32_t
worker_rand(void)
{
	uint32_t	r;

	if (getrandom(&r, sizeof r, GRND_NONBLOCK) != sizeof r)
		r = (uint32_t)util_mono_ms() * 2654435761u;
	return r;
}

/* Send a frame to the supervisor. */
void
worker_send(struct worker *w, enum msg_type type, json_t *body)
{
	msg_write(bufferevent_get_output(w->sup), type, body);
	json_decref(body);
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
	if (rc == -1)	/* a lost connection is remade on the next call */
		rc = store_row_load(w->st, n, gen, &row);
	if (rc == -1) {
		log_warnx("run %lld: cannot read it from the store; it waits "
		    "for this worker's next restart or --stale-after",
		    (long long)n);
		return;
	}
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

static int
run_n_cmp(const void *a, const void *b)
{
	int64_t	x = (*(struct wrun *const *)a)->n;
	int64_t	y = (*(struct wrun *const *)b)->n;

	return x < y ? -1 : x > y;
}

/*
 * Put the dirty runs in key order: every transaction that locks several
 * runs' rows then takes them in the same order (a shared store's other
 * writers lock in key order too), so none waits on another in a cycle.
 */
static void
dirty_sort(struct worker *w)
{
	struct wrun	**v = NULL, *r;
	size_t		  n = 0, cap = 0, i;

	TAILQ_FOREACH(r, &w->dirty, dirty_entry) {
		if (n == cap) {
			cap = cap == 0 ? 64 : cap * 2;
			v = xreallocarray(v, cap, sizeof *v);
		}
		v[n++] = r;
	}
	if (n > 1) {
		qsort(v, n, sizeof *v, run_n_cmp);
		TAILQ_INIT(&w->dirty);
		for (i = 0; i < n; i++)
			TAILQ_INSERT_TAIL(&w->dirty, v[i], dirty_entry);
	}
	free(v);
}

/*
 * Inside the flush transaction: write r's buffered events (sev, as many
 * as r->npend), FLUSH_RUN_CHUNK at a time. If the supervisor waits for
 * the lock between two chunks, stop there: r->flushed says how many went
 * in, and the cursor stored is the last of them. Returns what
 * store_events_append does (-2 fenced, -1 error) or 0, adding the events
 * stored to *nevents.
 */
static int
flush_run_events(struct worker *w, struct wrun *r, struct store_event *sev,
    int64_t now, uint64_t *nevents)
{
	size_t	off, k;
	int	rc, end;

	for (off = 0; off < r->npend; off += k) {
		k = r->npend - off < FLUSH_RUN_CHUNK ? r->npend - off :
		    FLUSH_RUN_CHUNK;
		end = off + k == r->npend;
		rc = store_events_append(w->st, r->n, r->gen, sev + off, k,
		    end ? r->recv_seq : sev[off + k - 1].seq, now);
		if (rc < 0)
			return rc;	/* r->flushed is still 0 (the caller's) */
		*nevents += (uint64_t)rc;
		if (!end && store_writer_waits(w->st)) {
			w->stats.yields++;
			r->flushed = off + k;
			break;
		}
	}
	return 0;
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
	size_t			 nwritten = 0;
	struct wrun		*last = NULL;
	int			 more;

	w->flush_armed = 0;
	if (TAILQ_EMPTY(&w->dirty)) {
		worker_unpause(w);	/* nothing buffered: nothing holds them */
		/* Nothing buffered: probe whether the store takes writes. */
		if (w->store_down) {
			if (store_begin(w->st) == 0 &&
			    store_commit(w->st) == 0) {
				worker_store_up(w);
				worker_unpause(w);
			} else
				worker_flush_soon(w, STORE_DOWN_RETRY_MS);
		}
		return;
	}
	/* The supervisor waits for the lock: let it have it first. */
	if (store_writer_waits(w->st)) {
		w->stats.yields++;
		worker_flush_soon(w, 1);
		return;
	}
	t0 = util_mono_us();
	dirty_sort(w);
	if (store_begin(w->st) != 0) {
		worker_store_down(w);
		return;
	}
	TAILQ_FOREACH_SAFE(r, &w->dirty, dirty_entry, tmp) {
		if (nwritten >= FLUSH_MAX_EVENTS)
			break;	/* the rest in the next transaction */
		if (nwritten > 0 && store_writer_waits(w->st)) {
			w->stats.yields++;
			break;	/* the same, after the supervisor's write */
		}
		last = r;
		rc = 1;
		r->flushed = 0;
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
			rc = flush_run_events(w, r, sev, now, &nevents);
			if (rc == -1) {
				failed = 1;
				break;
			}
			rc = rc == -2 ? 0 : 1;
		}
		nwritten += r->flushed > 0 ? r->flushed : r->npend;
		if (r->flushed > 0)
			break;	/* the supervisor waits: the rest later */
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

		more = r != last;
		if (r->flushed > 0) {	/* part of its events, and the last */
			b = json_pack("{sI sI}", "n", (json_int_t)r->n,
			    "last_seq", (json_int_t)r->pend[r->flushed - 1].seq);
			run_pend_drop(r, r->flushed);
			r->flushed = 0;
			worker_send(w, MSG_PROGRESS, b);
			break;
		}
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
			run_pend_clear(r);
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
		if (!more)
			break;
	}
	if (!TAILQ_EMPTY(&w->dirty))
		worker_flush_soon(w, 0);
	worker_unpause(w);
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
void
worker_store_down(struct worker *w)
{
	if (!w->store_down) {
		w->store_down = 1;
		w->store_down_since = util_mono_ms();
		log_warnx("worker: the store refuses writes; pausing ingestion "
		    "and retrying every %d ms (buffered events are kept, "
		    "streams stop reading until writes work)",
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
void
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
	struct wrun	*r = NULL;
	const char	*bid, *id;
	int		 i, cancel;
	json_int_t	 n = json_integer_value(json_object_get(b, "n"));

	bid = json_string_value(json_object_get(b, "backend_id"));
	id = json_string_value(json_object_get(b, "id"));
	cancel = json_is_true(json_object_get(b, "cancel"));
	/*
	 * A cancel that raced the create: the store had no backend id yet,
	 * but this worker may have it, in the run or in what it dropped.
	 */
	if (bid == NULL && (r = run_find(w, n)) != NULL)
		bid = r->backend_id;
	for (i = 0; bid == NULL &&
	    i < (int)(sizeof w->fenced / sizeof w->fenced[0]); i++)
		if (w->fenced[i].n == n && w->fenced[i].backend_id[0] != '\0')
			bid = w->fenced[i].backend_id;
	if (r != NULL && cancel && bid == NULL && r->x != NULL &&
	    r->kind == XK_CREATE) {
		/*
		 * Cancelled while its create was in flight: the backend may
		 * have the run already, and only the answer names it. Keep
		 * the transfer to learn the id (run_set_backend_id tells the
		 * backend then); the revoked lease fences every write, and
		 * the first flush frees the run.
		 */
		log_info("run %s: cancelled while its create was in flight; "
		    "the backend's run is cancelled once its id comes", r->id);
		r->cancel_on_id = 1;
		return;
	}
	if (cancel && bid != NULL)	/* copied before r, which holds it, goes */
		worker_backend_cancel(w, id != NULL ? id : "?", bid);
	if ((r = run_find(w, n)) != NULL) {
		log_info("run %s: released by the supervisor", r->id);
		run_free(r);
	}
}

/* Ask the backend to cancel its run bid (agentd's id), fire and forget. */
void
worker_backend_cancel(struct worker *w, const char *id, const char *bid)
{
	struct xfer_req		 req;
	struct cancel_ctx	*c;
	char			*url;

	c = xcalloc(1, sizeof *c);
	snprintf(c->backend_id, sizeof c->backend_id, "%s", bid);
	snprintf(c->id, sizeof c->id, "%s", id);
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

/*
 * Checkpoint the WAL (store_checkpoint): the supervisor leaves it to the
 * workers. Each second, and each 100 ms while it holds over 4,096 pages
 * (a prune writes 30-90 MB a second, and only a checkpoint that catches
 * up lets the WAL restart).
 */
static void
worker_ckpt_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker	*w = arg;
	struct timeval	 tv = { 1, 0 };

	(void)fd;
	(void)what;
	if (store_checkpoint(w->st) > 4096)
		tv = (struct timeval){ 0, 100 * 1000 };
	evtimer_add(w->ckpt_ev, &tv);
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
	/*
	 * Ingestion yields the CPU to the supervisor, which answers the API
	 * and feeds followers (measured: README, "Performance"). Nothing
	 * waits on it but throughput, which is buffered end to end.
	 */
	errno = 0;
	if (cfg->worker_nice > 0 && nice(cfg->worker_nice) == -1 &&
	    errno != 0)
		log_warn("nice %d", cfg->worker_nice);
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
	/*
	 * A shared store's statements travel to a server that may be busy
	 * with other hosts: 5 s each, still far below any lease TTL.
	 */
	store_set_busy_timeout(w.st, store_shared(w.st) ? 5000 :
	    BUSY_TIMEOUT_MS);
	/* fd 4: the supervisor's waits for the write lock (store.c). */
	if (!store_shared(w.st))
		(void)store_waits_attach(w.st, 4, 0);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		fatalx("curl_global_init failed");
	w.base = event_base_new();
	w.xl = xfer_loop_new(w.base, !cfg->http_curl_only);
	w.sup = bufferevent_socket_new(w.base, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(w.sup, worker_read_cb, NULL, worker_event_cb, &w);
	bufferevent_enable(w.sup, EV_READ);
	w.flush_ev = evtimer_new(w.base, worker_flush_cb, &w);
	w.hb_ev = event_new(w.base, -1, EV_PERSIST, worker_hb_cb, &w);
	event_add(w.hb_ev, &one);
	w.ckpt_ev = evtimer_new(w.base, worker_ckpt_cb, &w);
	if (!store_shared(w.st))
		evtimer_add(w.ckpt_ev, &one);
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
	event_free(w.ckpt_ev);
	event_free(w.sigterm_ev);
	bufferevent_free(w.sup);
	xfer_loop_free(w.xl);
	event_base_free(w.base);
	store_close(w.st);
	curl_global_cleanup();
	return 0;
}
