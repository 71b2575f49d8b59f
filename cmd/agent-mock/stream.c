/*
 * agent-mock clients: requests attached to a run that wait for its events,
 * as an event stream or as a delayed JSON reply. Owns the per-run timers,
 * flow control (at most one batch in flight per connection), disconnect
 * detection (close callback) and the --drop-after fault.
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

static void	client_pump(struct client *);
static void	run_schedule(struct run *);

/* Detach a client from its run and free it (not its request). */
static void
client_free(struct client *c)
{
	struct run	*r = c->run;

	TAILQ_REMOVE(&r->clients, c, entry);
	if (c->in_flight)
		r->nflight--;
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

/* The last chunk reached the kernel: drop the connection or send more. */
static void
client_flushed(struct evhttp_connection *evcon, void *arg)
{
	struct client	*c = arg;
	struct mock	*m = c->m;
	struct run	*r = c->run;

	c->in_flight = 0;
	r->nflight--;
	if (m->opts.drop_after > 0 && c->written >= m->opts.drop_after) {
		log_debug("%s: dropping stream after %lld events", r->id,
		    c->written);
		/* Calls client_closecb, which frees c; libevent frees req. */
		evhttp_connection_free(evcon);
		return;
	}
	client_pump(c);
	run_schedule(r);
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
 * Write every due event the client has not seen yet, in one chunk (up to
 * MOCK_BATCH_BYTES; the rest follows when it is flushed). Ends the reply
 * after the terminal event. May free c.
 */
static void
client_pump(struct client *c)
{
	struct mock	*m = c->m;
	struct run	*r = c->run;
	long long	 avail, end, first, left;
	int		 term;

	if (c->in_flight)
		return;
	avail = run_avail(r, util_mono_ms());
	term = run_is_terminal(r, avail);
	if (c->kind == CLIENT_JSON) {
		client_pump_json(c, avail);
		return;
	}
	end = avail;
	if (m->opts.drop_after > 0) {
		left = m->opts.drop_after - c->written;
		if (end - c->next > left)
			end = c->next + left;
	}
	mbuf_reset(&m->scratch);
	first = c->next;
	while (c->next < end && m->scratch.len < MOCK_BATCH_BYTES)
		run_write_frame(m, r, c->next++, &m->scratch);
	c->written += c->next - first;
	if (term && c->next >= avail) {
		if (m->opts.dialect == DIALECT_DATABRICKS &&
		    run_kind(r, avail - 1) == EV_COMPLETED)
			mbuf_adds(&m->scratch, "data: [DONE]\n\n");
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
	evbuffer_add(m->out, m->scratch.p, m->scratch.len);
	c->in_flight = 1;
	r->nflight++;
	evhttp_send_reply_chunk_with_cb(c->req, m->out, client_flushed, c);
	evbuffer_drain(m->out, evbuffer_get_length(m->out));
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
 * Arm the run's timer for the next moment a client needs: the next event
 * for streams that can take more, the terminal event when only JSON
 * waiters are attached. Streams waiting for a flush are pumped by it.
 */
static void
run_schedule(struct run *r)
{
	struct timeval	tv;
	int64_t		now = util_mono_ms(), delay;
	long long	avail = run_avail(r, now), cap = run_cap(r), target;
	int		ready = r->nsse - r->nflight;

	if (ready + r->njson == 0 || avail >= cap ||
	    (ready == 0 && !run_done(r))) {
		if (r->timer != NULL)
			evtimer_del(r->timer);
		return;
	}
	target = ready > 0 ? avail : cap - 1;
	delay = run_due(r, target) - now;
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
 * peer closing, and send whatever is already due.
 */
void
client_attach(struct mock *m, struct run *r, struct evhttp_request *req,
    enum client_kind kind, long long start)
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
	c->next = start;
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
	client_pump(c);
	run_schedule(r);
}
