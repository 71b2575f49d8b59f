/*
 * agent-mock ground truth for tests: GET /mock/stats (counters, injected
 * faults), GET /mock/runs[/{id}] (every run, its status, event count,
 * text and misbehaviour; in the Databricks dialect also its steps, attempt
 * and stored events), GET /mock/runs/{id}/events (each event exactly as
 * streamed, in stream order, once: a Databricks stream's repeats of seq 0
 * are not listed) and POST /mock/reset-stats. Answers only
 * paths under /mock/.
 */
#include <event2/buffer.h>
#include <event2/http.h>

#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xmalloc.h"
#include "mock.h"

/* Append the stats object. */
static void
write_stats(struct mock *m, struct mbuf *b)
{
	const struct mock_stats	*s = &m->st;
	int			 i, first = 1;

	mbuf_adds(b, "{\"creates\":");
	mbuf_addll(b, s->creates);
	mbuf_adds(b, ",\"creates_by_status\":{");
	for (i = 0; i < 600; i++) {
		if (s->by_status[i] == 0)
			continue;
		if (!first)
			mbuf_addc(b, ',');
		first = 0;
		mbuf_addc(b, '"');
		mbuf_addll(b, i);
		mbuf_adds(b, "\":");
		mbuf_addll(b, s->by_status[i]);
	}
	mbuf_adds(b, "},\"requests\":");
	mbuf_addll(b, s->requests);
	mbuf_adds(b, ",\"streams_open\":");
	mbuf_addll(b, s->streams_open);
	mbuf_adds(b, ",\"streams_peak\":");
	mbuf_addll(b, s->streams_peak);
	mbuf_adds(b, ",\"runs\":");
	mbuf_addll(b, m->nruns);
	mbuf_adds(b, ",\"duplicate_idempotency_keys\":");
	mbuf_addll(b, s->dup_keys);
	mbuf_adds(b, ",\"resumes\":");
	mbuf_addll(b, s->resumes);
	mbuf_adds(b, ",\"polls\":");
	mbuf_addll(b, s->polls);
	mbuf_adds(b, ",\"cancels\":");
	mbuf_addll(b, s->cancels);
	mbuf_adds(b, ",\"waiters\":");
	mbuf_addll(b, s->waiters);
	mbuf_adds(b, ",\"fail_creates_left\":");
	mbuf_addll(b, m->fail_left);
	mbuf_adds(b, ",\"chaos\":{\"seed\":");
	mbuf_addll(b, (long long)m->opts.seed);
	mbuf_adds(b, ",\"drops\":");
	mbuf_addll(b, m->chaos.drops);
	mbuf_adds(b, ",\"stalls\":");
	mbuf_addll(b, m->chaos.stalls);
	mbuf_adds(b, ",\"http429\":");
	mbuf_addll(b, m->chaos.http429);
	mbuf_adds(b, ",\"http500\":");
	mbuf_addll(b, m->chaos.http500);
	mbuf_adds(b, ",\"split_writes\":");
	mbuf_addll(b, m->chaos.splits);
	mbuf_adds(b, "}}");
}

/* Append one run's ground-truth object. */
static void
write_run(struct mock *m, const struct run *r, struct mbuf *b)
{
	long long	avail = run_avail(r, util_mono_ms()), deltas;
	const char	*status = run_status(r, avail);

	if (m->opts.dialect == DIALECT_DATABRICKS &&
	    strcmp(status, "queued") == 0)
		status = "in_progress";
	deltas = avail - 4;
	if (deltas < 0)
		deltas = 0;
	if (deltas > r->p.events)
		deltas = r->p.events;
	mbuf_adds(b, "{\"id\":\"");
	mbuf_adds(b, r->id);
	mbuf_adds(b, "\",\"idempotency_key\":");
	if (r->idem_key != NULL)
		mbuf_addjs(b, r->idem_key);
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"creates\":");
	mbuf_addll(b, r->creates);
	mbuf_adds(b, ",\"status\":\"");
	mbuf_adds(b, status);
	mbuf_adds(b, "\",\"events\":");
	mbuf_addll(b, avail);
	mbuf_adds(b, ",\"total_events\":");
	if (run_done(r))
		mbuf_addll(b, run_cap(r));
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"background\":");
	mbuf_adds(b, r->background ? "true" : "false");
	mbuf_adds(b, ",\"stream\":");
	mbuf_adds(b, r->stream ? "true" : "false");
	mbuf_adds(b, ",\"clients\":");
	mbuf_addll(b, r->nsse + r->njson);
	mbuf_adds(b, ",\"created_at\":");
	mbuf_addll(b, r->created_ms / 1000);
	if (r->p.mb != MB_NONE) {
		mbuf_adds(b, ",\"misbehave\":\"");
		mbuf_adds(b, mb_name(r->p.mb));
		mbuf_addc(b, '"');
	}
	if (r->p.mb == MB_ID_CHANGE) {
		mbuf_adds(b, ",\"alt_id\":\"");
		mbuf_adds(b, r->alt_id);
		mbuf_addc(b, '"');
	}
	if (dbx(m)) {
		mbuf_adds(b, ",\"tool_steps\":");
		mbuf_addll(b, r->p.tool_steps);
		mbuf_adds(b, ",\"attempt\":");
		mbuf_addll(b, dbx_attempt(r, avail));
		mbuf_adds(b, ",\"stored\":");
		mbuf_addll(b, r->stored);
		deltas = dbx_deltas(r, avail);
	}
	mbuf_adds(b, ",\"text\":\"");
	run_write_text(r, deltas, b);
	mbuf_adds(b, "\"}");
}

/*
 * Reply to GET /mock/runs/{id}/events: every event a stream from the start
 * would have sent so far, exactly as streamed and in stream order (copies
 * included); none for a run whose streams send no events. Large bodies
 * move to the output buffer a megabyte at a time.
 */
static void
send_events(struct mock *m, struct evhttp_request *req, const struct run *r)
{
	struct mbuf	*b = &m->reply;
	long long	 avail = run_avail(r, util_mono_ms()), pos, npos, idx;
	int		 first = 1;

	npos = mb_mute(r) != 0 || r->p.mb == MB_HTML ? 0 : mb_npos(r, avail);
	mbuf_reset(b);
	mbuf_adds(b, "{\"events\":[");
	for (pos = 0; pos < npos; pos++) {
		idx = mb_at(r, pos);
		if (!mb_is_event(r, idx))
			continue;
		if (!first)
			mbuf_addc(b, ',');
		first = 0;
		run_write_event(m, r, idx, b);
		if (b->len >= 1024 * 1024) {
			evbuffer_add(m->out, b->p, b->len);
			mbuf_reset(b);
		}
	}
	mbuf_adds(b, "]}");
	http_log(m, req, 200, NULL);
	http_reply(m, req, 200, b);
}

/* Zero the counters (open streams and waiters stay as they are). */
static void
reset_stats(struct mock *m)
{
	long long	open = m->st.streams_open, waiters = m->st.waiters;

	memset(&m->st, 0, sizeof m->st);
	m->st.streams_open = open;
	m->st.streams_peak = open;
	m->st.waiters = waiters;
}

/* Answer /mock/runs/{id}[/events]. */
static void
route_run(struct mock *m, struct evhttp_request *req, const char *rest)
{
	const char	*slash = strchr(rest, '/');
	struct run	*r;
	char		*id;

	id = slash != NULL ? xstrndup(rest, (size_t)(slash - rest)) :
	    xstrdup(rest);
	if ((r = htab_get(&m->by_id, id)) == NULL ||
	    (slash != NULL && strcmp(slash, "/events") != 0)) {
		http_error(m, req, 404, r == NULL ? "Unknown run." :
		    "Unknown /mock URL.", NULL, NULL);
		free(id);
		return;
	}
	free(id);
	if (slash != NULL) {
		send_events(m, req, r);
		return;
	}
	mbuf_reset(&m->reply);
	write_run(m, r, &m->reply);
	http_log(m, req, 200, NULL);
	http_reply(m, req, 200, &m->reply);
}

/* Handle path if it is under /mock/; return 1 if it was answered. */
int
admin_route(struct mock *m, struct evhttp_request *req, const char *path)
{
	enum evhttp_cmd_type	 cmd = evhttp_request_get_command(req);
	struct run		*r;
	const char		*rest;
	int			 want_post;

	if (strncmp(path, "/mock/", 6) != 0)
		return 0;
	rest = path + 6;
	want_post = strcmp(rest, "reset-stats") == 0;
	if (strcmp(rest, "stats") != 0 && strcmp(rest, "runs") != 0 &&
	    !want_post && (strncmp(rest, "runs/", 5) != 0 || rest[5] == '\0')) {
		http_error(m, req, 404, "Unknown /mock URL.", NULL, NULL);
		return 1;
	}
	if (cmd != (want_post ? EVHTTP_REQ_POST : EVHTTP_REQ_GET)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
		    "Allow", want_post ? "POST" : "GET");
		http_error(m, req, 405, "Method not allowed.", NULL, NULL);
		return 1;
	}
	if (strncmp(rest, "runs/", 5) == 0) {
		route_run(m, req, rest + 5);
		return 1;
	}
	mbuf_reset(&m->reply);
	if (want_post) {
		reset_stats(m);
		mbuf_adds(&m->reply, "{\"ok\":true}");
	} else if (strcmp(rest, "stats") == 0)
		write_stats(m, &m->reply);
	else {
		mbuf_adds(&m->reply, "{\"runs\":[");
		TAILQ_FOREACH(r, &m->runs, entry) {
			if (r != TAILQ_FIRST(&m->runs))
				mbuf_addc(&m->reply, ',');
			write_run(m, r, &m->reply);
		}
		mbuf_adds(&m->reply, "]}");
	}
	http_log(m, req, 200, NULL);
	http_reply(m, req, 200, &m->reply);
	return 1;
}
