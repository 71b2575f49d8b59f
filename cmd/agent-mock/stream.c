/*
 * agent-mock clients: requests attached to a run that wait for its events,
 * as an event stream or as a delayed JSON reply. Owns the per-run timers,
 * flow control (at most one batch in flight per connection), disconnect
 * detection (close callback), the --drop-after fault, the stream faults of
 * --chaos-drop, --chaos-stall and --chaos-split (a client may wait on its
 * own timer), the silent and trickling streams of mock_misbehave, and
 * the Databricks retrieve loop: a stream of a background run is a poller
 * that wakes every --db-poll-ms and sends everything stored since its
 * last poll in one write, from the start again while seq 0 is the last
 * one it sent.
 */
#include <sys/time.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>

#include <stdlib.h>

#include "log.h"
#include "util.h"
#include "xmalloc.h"
#include "mock.h"

#define TRICKLE_LEAD	"data: {\"type\":\"response.created\",\"response\":"

static void	client_pump(struct client *);
static void	client_pump_db(struct client *);
static void	client_flushed(struct evhttp_connection *, void *);
static void	client_wait_cb(evutil_socket_t, short, void *);
static void	run_schedule(struct run *);

/* Detach a client from its run and free it (not its request). */
static void
client_free(struct client *c)
{
	struct run	*r = c->run;

	TAILQ_REMOVE(&r->clients, c, entry);
	if (c->in_flight)
		r->nflight--;
	if (c->waiting)
		r->nwait--;
	if (c->wait_ev != NULL)
		event_free(c->wait_ev);
	mbuf_free(&c->rest);
	if (c->kind == CLIENT_SSE) {
		r->nsse--;
		c->m->st.streams_open--;
	} else {
		r->njson--;
		c->m->st.waiters--;
	}
	free(c);
}

/*
 * The connection under a client is going away: the peer left, we dropped
 * it, or the server is shutting down. An unfinished request is detached by
 * libevent when the peer fails, and then it is ours to free.
 */
static void
client_closecb(struct evhttp_connection *evcon, void *arg)
{
	struct client	*c = arg;

	(void)evcon;
	log_debug("%s: client gone after %lld events", c->run->id,
	    c->written);
	if (evhttp_request_get_connection(c->req) == NULL)
		evhttp_request_free(c->req);
	client_free(c);
}

/* Finish a client's reply normally and free the client. */
static void
client_finish(struct client *c)
{
	struct evhttp_request	*req = c->req;

	evhttp_connection_set_closecb(c->evcon, NULL, NULL);
	client_free(c);
	evhttp_send_reply_end(req);
}

/* Put a client on its own timer for ms milliseconds. */
static void
client_wait(struct client *c, int64_t ms)
{
	struct timeval	tv;

	if (!c->waiting) {
		c->waiting = 1;
		c->run->nwait++;
	}
	if (c->wait_ev == NULL &&
	    (c->wait_ev = evtimer_new(c->m->base, client_wait_cb, c)) == NULL)
		fatalx("evtimer_new");
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	evtimer_add(c->wait_ev, &tv);
}

/* Send the next byte of an event that never ends, a second from now. */
static void
client_trickle(struct client *c)
{
	static const char	 lead[] = TRICKLE_LEAD;
	struct mock		*m = c->m;
	char			 ch;

	ch = c->written < (long long)sizeof lead - 1 ? lead[c->written] : 'x';
	c->written++;
	evbuffer_add(m->out, &ch, 1);
	evhttp_send_reply_chunk(c->req, m->out);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
	client_wait(c, 1000);
}

/* Wait timer (trickle, a stall, a pause between split writes) ran out. */
static void
client_wait_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client	*c = arg;
	struct run	*r = c->run;

	(void)fd;
	(void)what;
	if (c->trickle) {
		client_trickle(c);
		return;
	}
	c->waiting = 0;
	r->nwait--;
	client_pump(c);
	run_schedule(r);
}

/*
 * Write the next piece of a split batch (--chaos-split): cut it once at a
 * random byte, and the rest again half of the time.
 */
static void
client_piece(struct client *c)
{
	struct mock	*m = c->m;
	size_t		 left = c->rest.len - c->rest_off, n = left;

	if (left > 1 && (c->rest_off == 0 || chaos_roll(m, 0.5)))
		n = (size_t)chaos_range(m, 1, (long long)left - 1);
	m->chaos.splits++;
	evbuffer_add(m->out, c->rest.p + c->rest_off, n);
	c->rest_off += n;
	if (c->rest_off == c->rest.len) {
		mbuf_reset(&c->rest);
		c->rest_off = 0;
	}
	c->in_flight = 1;
	c->run->nflight++;
	evhttp_send_reply_chunk_with_cb(c->req, m->out, client_flushed, c);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
}

/* Send a batch of frames, whole or (--chaos-split) in small pieces. */
static void
client_send(struct client *c, const char *p, size_t len)
{
	struct mock	*m = c->m;

	if (m->opts.chaos_split) {
		mbuf_reset(&c->rest);
		mbuf_add(&c->rest, p, len);
		c->rest_off = 0;
		client_piece(c);
		return;
	}
	evbuffer_add(m->out, p, len);
	c->in_flight = 1;
	c->run->nflight++;
	evhttp_send_reply_chunk_with_cb(c->req, m->out, client_flushed, c);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
}

/*
 * The last chunk reached the kernel: send the rest of a split batch, drop
 * the connection, finish the reply, stall, or send more.
 */
static void
client_flushed(struct evhttp_connection *evcon, void *arg)
{
	struct client	*c = arg;
	struct mock	*m = c->m;
	struct run	*r = c->run;
	int64_t		 ms;

	c->in_flight = 0;
	r->nflight--;
	if (c->rest.len > 0) {
		client_wait(c, chaos_range(m, 0, 2));
		return;
	}
	if (c->dropping || (m->opts.drop_after > 0 &&
	    c->written >= m->opts.drop_after)) {
		log_debug("%s: dropping stream after %lld events", r->id,
		    c->written);
		/* Calls client_closecb, which frees c; libevent frees req. */
		evhttp_connection_free(evcon);
		return;
	}
	if (c->ending) {
		client_finish(c);
		run_schedule(r);
		return;
	}
	if (c->stall_ms > 0) {
		ms = c->stall_ms;
		c->stall_ms = 0;
		log_debug("%s: stalling stream for %lld ms", r->id,
		    (long long)ms);
		client_wait(c, ms);
		run_schedule(r);
		return;
	}
	client_pump(c);
	run_schedule(r);
}

/*
 * Roll the per-event stream faults for the frame just written at mark:
 * --chaos-drop cuts it at a random point and closes the connection once
 * the batch is out, --chaos-stall pauses the stream after the batch.
 * Return 1 to end the batch here.
 */
static int
client_chaos(struct client *c, size_t mark)
{
	struct mock	*m = c->m;
	struct mbuf	*b = &m->scratch;

	/* Keep a byte at least: an empty chunk is never flushed. */
	if (chaos_roll(m, m->opts.chaos_drop)) {
		b->len = mark + (size_t)chaos_range(m, mark == 0 ? 1 : 0,
		    (long long)(b->len - mark));
		b->p[b->len] = '\0';
		c->dropping = 1;
		m->chaos.drops++;
		return 1;
	}
	if (chaos_roll(m, m->opts.chaos_stall)) {
		c->stall_ms = chaos_range(m, 500, 5000);
		m->chaos.stalls++;
		return 1;
	}
	return m->opts.chaos_split;	/* one event per split batch */
}

/* Send the JSON reply of a waiting client once its run is terminal. */
static void
client_pump_json(struct client *c, long long avail)
{
	struct mock	*m = c->m;

	if (!run_is_terminal(c->run, avail))
		return;
	mbuf_reset(&m->reply);
	run_write_response(m, c->run, avail, &m->reply);
	evbuffer_add(m->out, m->reply.p, m->reply.len);
	evhttp_send_reply_chunk(c->req, m->out);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
	client_finish(c);
}

/*
 * Write every due event the client has not seen yet, in stream-position
 * order (misbehave.c), in one chunk (up to MOCK_BATCH_BYTES; the rest
 * follows when it is flushed). Ends the reply after the terminal event.
 * May free c.
 */
static void
client_pump(struct client *c)
{
	struct mock	*m = c->m;
	struct run	*r = c->run;
	long long	 avail, npos, end, first, left;
	size_t		 mark;
	int		 term, chaos = chaos_active(m);

	if (c->poller) {
		client_pump_db(c);
		return;
	}
	if (c->in_flight || c->waiting)
		return;
	if (c->rest.len > 0) {
		client_piece(c);
		return;
	}
	avail = run_avail(r, util_mono_ms());
	term = run_is_terminal(r, avail);
	if (c->kind == CLIENT_JSON) {
		client_pump_json(c, avail);
		return;
	}
	npos = mb_npos(r, avail);
	end = npos;
	if (m->opts.drop_after > 0) {
		left = m->opts.drop_after - c->written;
		if (end - c->next > left)
			end = c->next + left;
	}
	mbuf_reset(&m->scratch);
	first = c->next;
	while (c->next < end && m->scratch.len < MOCK_BATCH_BYTES) {
		mark = m->scratch.len;
		run_write_frame(m, r, mb_at(r, c->next++), &m->scratch);
		if (chaos && client_chaos(c, mark))
			break;
	}
	c->written += c->next - first;
	if (term && c->next >= npos && !c->dropping) {
		if (m->opts.dialect == DIALECT_DATABRICKS &&
		    run_kind(r, avail - 1) == EV_COMPLETED)
			mbuf_adds(&m->scratch, "data: [DONE]\n\n");
		if (m->opts.chaos_split && m->scratch.len > 0) {
			c->ending = 1;
			client_send(c, m->scratch.p, m->scratch.len);
			return;
		}
		if (m->scratch.len > 0) {
			evbuffer_add(m->out, m->scratch.p, m->scratch.len);
			evhttp_send_reply_chunk(c->req, m->out);
			evbuffer_drain(m->out, evbuffer_get_length(m->out));
		}
		client_finish(c);
		return;
	}
	if (c->next == first)
		return;
	client_send(c, m->scratch.p, m->scratch.len);
}

/*
 * One round of the Databricks retrieve loop: at the start of a poll, fix
 * its target (every stored event) and, while the last seq sent is 0,
 * start again at seq 0 (the server's after_seq is -1 then). Send up to
 * the target in one write (MOCK_BATCH_BYTES at a time), then wait for
 * the next poll, or end the reply once the run is over: [DONE] after a
 * completed run, a bare close after a failed one. May free c.
 */
static void
client_pump_db(struct client *c)
{
	struct mock	*m = c->m;
	struct run	*r = c->run;
	long long	 avail, end, first, left, idx;
	int64_t		 now;
	size_t		 mark;
	int		 chaos = chaos_active(m);

	if (c->in_flight || c->waiting)
		return;
	if (c->rest.len > 0) {
		client_piece(c);
		return;
	}
	if (c->poll_end < 0) {
		now = util_mono_ms();
		if (now < c->next_poll) {
			client_wait(c, c->next_poll - now);
			return;
		}
		c->next_poll = now + m->opts.db_poll_ms;
		if (dbx_check_timeout(r, now))
			state_save(m);
		avail = run_avail(r, now);
		state_commit(m, r, avail);
		if (c->last_seq == 0)
			c->next = 0;
		c->poll_end = mb_npos(r, avail);
		c->poll_term = run_is_terminal(r, avail);
	}
	end = c->poll_end;
	if (m->opts.drop_after > 0) {
		left = m->opts.drop_after - c->written;
		if (end - c->next > left)
			end = c->next + left;
	}
	mbuf_reset(&m->scratch);
	first = c->next;
	while (c->next < end && m->scratch.len < MOCK_BATCH_BYTES) {
		mark = m->scratch.len;
		idx = mb_at(r, c->next++);
		run_write_frame(m, r, idx, &m->scratch);
		c->last_seq = mb_seq(r, idx);
		if (r->p.cut_after_seq >= 0 && !r->cut_done &&
		    c->last_seq == r->p.cut_after_seq) {
			/* mock_cut_after_seq: once, right after that frame. */
			r->cut_done = 1;
			c->dropping = 1;
			break;
		}
		if (chaos && client_chaos(c, mark))
			break;
	}
	c->written += c->next - first;
	if (c->next >= c->poll_end && !c->dropping) {
		if (c->poll_term) {
			if (run_kind(r, run_cap(r) - 1) == EV_COMPLETED)
				mbuf_adds(&m->scratch, "data: [DONE]\n\n");
			if (m->opts.chaos_split && m->scratch.len > 0) {
				c->ending = 1;
				client_send(c, m->scratch.p, m->scratch.len);
				return;
			}
			if (m->scratch.len > 0) {
				evbuffer_add(m->out, m->scratch.p,
				    m->scratch.len);
				evhttp_send_reply_chunk(c->req, m->out);
				evbuffer_drain(m->out,
				    evbuffer_get_length(m->out));
			}
			client_finish(c);
			return;
		}
		c->poll_end = -1;
		if (c->next > first)
			client_send(c, m->scratch.p, m->scratch.len);
		/* After the send: a flush then finds the poller waiting. */
		now = c->next_poll - util_mono_ms();
		client_wait(c, now > 1 ? now : 1);
		return;
	}
	if (c->next > first)
		client_send(c, m->scratch.p, m->scratch.len);
}

/* Timer: events of the run became due. */
static void
run_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	run_wake(arg);
}

/*
 * Return 1 if a client that is neither awaiting a flush nor on its own
 * timer has something due now: an event it has not been sent, or (the
 * run being over) the end of its reply.
 */
static int
run_behind(struct run *r, long long avail)
{
	struct client	*c;
	long long	 npos = mb_npos(r, avail);
	int		 term = run_is_terminal(r, avail);

	TAILQ_FOREACH(c, &r->clients, entry) {
		if (c->poller || c->in_flight || c->waiting)
			continue;
		if (term || (c->kind == CLIENT_SSE && c->next < npos))
			return 1;
	}
	return 0;
}

/*
 * Arm the run's timer for the next moment a client needs: the next event
 * for streams that can take more, the terminal event when only JSON
 * waiters are attached. Streams waiting for a flush are pumped by it.
 * A client the pump before this found one event short is pumped at
 * once: the clock moved on between its reading and this one. Waiting for
 * the next event instead sent that one an interval late, and the
 * terminal one never (one stream in 5,000, until its reader's idle
 * timeout).
 */
static void
run_schedule(struct run *r)
{
	struct timeval	tv;
	int64_t		now = util_mono_ms() + r->m->opts.sched_lag_ms, delay;
	long long	avail = run_avail(r, now), cap = run_cap(r), target;
	int		ready = r->nsse - r->nflight - r->nwait, behind;

	/* Databricks pollers keep their own time: they are never ready. */
	if (ready < 0)
		ready = 0;

	behind = ready + r->njson > 0 && run_behind(r, avail);
	if (ready + r->njson == 0 || (ready == 0 && !run_done(r)) ||
	    (avail >= cap && !behind)) {
		if (r->timer != NULL)
			evtimer_del(r->timer);
		return;
	}
	if (behind)
		delay = 1;
	else {
		target = ready > 0 ? avail : cap - 1;
		delay = run_due(r, target) - now;
	}
	if (delay < 1)
		delay = 1;
	if (r->timer == NULL &&
	    (r->timer = evtimer_new(r->m->base, run_timer_cb, r)) == NULL)
		fatalx("evtimer_new");
	tv.tv_sec = (time_t)(delay / 1000);
	tv.tv_usec = (suseconds_t)(delay % 1000) * 1000;
	evtimer_add(r->timer, &tv);
}

/* Push due events to every client of the run, then re-arm its timer. */
void
run_wake(struct run *r)
{
	struct client	*c, *next;

	for (c = TAILQ_FIRST(&r->clients); c != NULL; c = next) {
		next = TAILQ_NEXT(c, entry);
		client_pump(c);
	}
	run_schedule(r);
}

/*
 * Attach req to run r: start a 200 reply (event stream from event index
 * start, or a JSON body sent when the run is terminal), watch for the
 * peer closing, and send whatever is already due. A silent run's stream
 * then sends nothing; a trickling one a byte a second.
 */
static void
attach(struct mock *m, struct run *r, struct evhttp_request *req,
    enum client_kind kind, long long start, int poller, long long after)
{
	struct evhttp_connection	*evcon;
	struct evkeyvalq		*hdrs;
	struct client			*c;

	if ((evcon = evhttp_request_get_connection(req)) == NULL)
		return;
	hdrs = evhttp_request_get_output_headers(req);
	if (kind == CLIENT_SSE) {
		evhttp_add_header(hdrs, "Content-Type", "text/event-stream");
		evhttp_add_header(hdrs, "Cache-Control", "no-cache");
	} else
		evhttp_add_header(hdrs, "Content-Type", "application/json");
	evhttp_add_header(hdrs, "X-Mock-Response-Id", r->id);
	evhttp_send_reply_start(req, 200, "OK");

	c = xcalloc(1, sizeof *c);
	c->m = m;
	c->run = r;
	c->req = req;
	c->evcon = evcon;
	c->kind = kind;
	c->next = mb_pos_of(r, start);
	c->poller = poller;
	c->poll_end = -1;
	c->last_seq = after;
	mbuf_init(&c->rest);
	TAILQ_INSERT_TAIL(&r->clients, c, entry);
	if (kind == CLIENT_SSE) {
		r->nsse++;
		if (++m->st.streams_open > m->st.streams_peak)
			m->st.streams_peak = m->st.streams_open;
	} else {
		r->njson++;
		m->st.waiters++;
	}
	evhttp_connection_set_closecb(evcon, client_closecb, c);
	/* Reading stays on (with no read callback) to notice a close. */
	bufferevent_enable(evhttp_connection_get_bufferevent(evcon), EV_READ);
	if (kind == CLIENT_SSE && mb_mute(r) != 0) {
		c->waiting = 1;
		r->nwait++;
		if (mb_mute(r) == 2) {
			c->trickle = 1;
			client_wait(c, 1000);
		}
		return;
	}
	client_pump(c);
	run_schedule(r);
}

/*
 * Attach req to run r (see attach): an event stream from event index
 * start that sends events as they come due, or a JSON waiter.
 */
void
client_attach(struct mock *m, struct run *r, struct evhttp_request *req,
    enum client_kind kind, long long start)
{
	attach(m, r, req, kind, start, 0, -1);
}

/*
 * Attach req to a background Databricks run as the server's retrieve
 * loop: a stream from event index start that polls every --db-poll-ms;
 * after is the starting_after it was asked for (0: from the start).
 */
void
client_attach_db(struct mock *m, struct run *r, struct evhttp_request *req,
    long long start, long long after)
{
	attach(m, r, req, CLIENT_SSE, start, 1, after);
}
