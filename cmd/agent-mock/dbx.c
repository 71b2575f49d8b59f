/*
 * agent-mock Databricks script: what the LongRunningAgentServer of
 * databricks-ai-bridge forwards from a tool-calling agent handler. A run
 * is mock_tool_steps handler steps, each a handler response.created (with
 * the handler's own response id), a message streamed as deltas and a
 * handler response.completed; the server's id is only the flat
 * response_id. A run may be taken over by another attempt (a
 * response.resumed event, then numbering goes on) and may be failed by
 * the task timeout. Every event is generated from the run's parameters
 * and its attempts (struct seg); nothing per event is stored.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "mock.h"

/* Return 1 in the Databricks dialect. */
int
dbx(const struct mock *m)
{
	return m->opts.dialect == DIALECT_DATABRICKS;
}

/* Number of handler steps of the run. */
static long long
steps(const struct run *r)
{
	return r->p.tool_steps > 0 ? r->p.tool_steps : 1;
}

/* Number of deltas of step s. */
static long long
step_deltas(const struct run *r, long long s)
{
	long long	n = steps(r);

	return r->p.events / n + (s < r->p.events % n ? 1 : 0);
}

/* Global index of the first delta of step s. */
static long long
step_first_delta(const struct run *r, long long s)
{
	long long	n = steps(r), rem = r->p.events % n;

	return s * (r->p.events / n) + (s < rem ? s : rem);
}

/* Return 1 if step s ends normally (not with the failure). */
static int
step_full(const struct run *r, long long s)
{
	return s < steps(r) - 1 || r->p.fail == FAIL_NONE;
}

/* Number of events of step s. */
static long long
step_len(const struct run *r, long long s)
{
	return (step_full(r, s) ? 8 : 5) + step_deltas(r, s);
}

/* Number of events of the base script (one attempt, no failover). */
static long long
base_len(const struct run *r)
{
	long long	s, n = 0;

	for (s = 0; s < steps(r); s++)
		n += step_len(r, s);
	return n;
}

/* Find base event b: its step in *sp, its place in the step in *op. */
static void
base_locate(const struct run *r, long long b, long long *sp, long long *op)
{
	long long	s, len;

	for (s = 0; s < steps(r) - 1; s++) {
		len = step_len(r, s);
		if (b < len)
			break;
		b -= len;
	}
	*sp = s;
	*op = b;
}

/* Base index of global delta k. */
static long long
delta_base(const struct run *r, long long k)
{
	long long	s, b = 0;

	for (s = 0; s < steps(r) - 1; s++) {
		if (k < step_first_delta(r, s + 1))
			break;
		b += step_len(r, s);
	}
	return b + 4 + k - step_first_delta(r, s);
}

/* The attempt (segment) that stream index idx belongs to. */
static int
seg_of(const struct run *r, long long idx)
{
	int	i = r->nseg - 1;

	while (i > 0 && r->segs[i].seq0 > idx)
		i--;
	return i;
}

/* Base index of stream index idx, or -1 for a response.resumed event. */
static long long
to_base(const struct run *r, long long idx)
{
	const struct seg	*g = &r->segs[seg_of(r, idx)];

	if (g != r->segs && idx == g->seq0)
		return -1;
	return g->base0 + idx - g->seq0 - (g != r->segs ? 1 : 0);
}

/* Stream index of base event b. */
static long long
to_stream(const struct run *r, long long b)
{
	int	i = r->nseg - 1;

	while (i > 0 && r->segs[i].base0 > b)
		i--;
	return r->segs[i].seq0 + (i > 0 ? 1 : 0) + b - r->segs[i].base0;
}

/*
 * Set up segment 0 of a new run and, for mock_failover_after K, the
 * attempt that takes over after the pause with a response.resumed at K.
 */
void
dbx_init(struct run *r)
{
	struct mock	*m = r->m;
	struct seg	*g = &r->segs[0];
	long long	 k = r->p.failover_after;

	if (r->p.tool_steps <= 0)
		r->p.tool_steps = MOCK_DB_STEPS;
	r->nseg = 1;
	g->seq0 = g->base0 = 0;
	g->attempt = 1;
	g->start_mono = r->created_mono;
	g->start_wall = r->created_ms;
	if (k < 1 || k >= base_len(r))
		return;
	g = &r->segs[r->nseg++];
	g->seq0 = g->base0 = k;
	g->attempt = 2;
	g->start_mono = r->created_mono + k * r->p.interval +
	    m->opts.failover_pause_ms;
	g->start_wall = r->created_ms + k * r->p.interval +
	    m->opts.failover_pause_ms;
}

/* Number of events in the run's stream if it is never stopped early. */
long long
dbx_len(const struct run *r)
{
	const struct seg	*g = &r->segs[r->nseg - 1];

	return g->seq0 + (r->nseg > 1 ? 1 : 0) + base_len(r) - g->base0;
}

/* Number of events the run will ever have (so far, if it stalls). */
long long
dbx_cap(const struct run *r)
{
	long long	k = r->p.stall_after, b, cap = dbx_len(r), n;

	if (r->timeout_at >= 0)
		return r->timeout_at + 1;
	if (k < 0)
		return cap;
	if (k < r->p.events)
		b = delta_base(r, k);
	else if (r->p.events > 0)
		b = delta_base(r, r->p.events - 1) + 1;
	else
		b = 4;
	n = to_stream(r, b);
	return n < cap ? n : cap;
}

/* Number of events stored at monotonic time now. */
long long
dbx_avail(const struct run *r, int64_t now)
{
	long long	cap = dbx_cap(r), end = LLONG_MAX, n;
	int64_t		el;
	int		i;

	if (r->timeout_at >= 0)
		return cap;
	for (i = r->nseg - 1; i > 0 && now < r->segs[i].start_mono; i--)
		;
	if (i + 1 < r->nseg)
		end = r->segs[i + 1].seq0;
	if (r->p.interval == 0)
		n = end;
	else {
		el = now - r->segs[i].start_mono;
		if (el < 0)
			el = 0;
		n = r->segs[i].seq0 + el / r->p.interval + 1;
	}
	if (n > end)
		n = end;
	return n < cap ? n : cap;
}

/* Monotonic time at which stream index idx is due. */
int64_t
dbx_due(const struct run *r, long long idx)
{
	const struct seg	*g = &r->segs[seg_of(r, idx)];

	if (r->timeout_at >= 0 && idx >= r->timeout_at)
		return r->timeout_mono;
	return g->start_mono + (idx - g->seq0) * r->p.interval;
}

/* Return what stream index idx of the run is. */
enum ev_kind
dbx_kind(const struct run *r, long long idx)
{
	long long	b, s, o, d;

	if (r->timeout_at >= 0 && idx == r->timeout_at)
		return EV_TASK_TIMEOUT;
	if ((b = to_base(r, idx)) < 0)
		return EV_RESUMED;
	base_locate(r, b, &s, &o);
	d = step_deltas(r, s);
	if (o < 4)
		return (enum ev_kind)o;		/* CREATED .. PART_ADDED */
	if (o < 4 + d)
		return EV_DELTA;
	if (!step_full(r, s))
		return EV_ERROR;
	switch (o - 4 - d) {
	case 0:
		return EV_TEXT_DONE;
	case 1:
		return EV_PART_DONE;
	case 2:
		return EV_ITEM_DONE;
	}
	return EV_COMPLETED;
}

/* Number of deltas among the first n stream events. */
long long
dbx_deltas(const struct run *r, long long n)
{
	long long	idx, nb = 0, s, b = 0, k, sum = 0;

	for (idx = n - 1; idx >= 0; idx--) {
		if ((r->timeout_at >= 0 && idx == r->timeout_at) ||
		    to_base(r, idx) < 0)
			continue;
		nb = to_base(r, idx) + 1;
		break;
	}
	for (s = 0; s < steps(r) && nb > b; s++) {
		k = nb - b - 4;
		if (k > step_deltas(r, s))
			k = step_deltas(r, s);
		if (k > 0)
			sum += k;
		b += step_len(r, s);
	}
	return sum;
}

/* The attempt number once n events are stored. */
long long
dbx_attempt(const struct run *r, long long n)
{
	int	i;

	for (i = r->nseg - 1; i > 0; i--)
		if (r->segs[i].seq0 < n)
			return r->segs[i].attempt;
	return 1;
}

/*
 * A GET found the run: if it is still in progress past --task-timeout,
 * fail it with a task_timeout error event now. Return 1 if it did.
 */
int
dbx_check_timeout(struct run *r, int64_t now)
{
	struct mock	*m = r->m;
	long long	 avail;

	if (m->opts.task_timeout <= 0 || r->timeout_at >= 0 ||
	    util_now_ms() - r->created_ms <= m->opts.task_timeout * 1000)
		return 0;
	avail = dbx_avail(r, now);
	if (run_is_terminal(r, avail))
		return 0;
	r->timeout_at = avail;
	r->timeout_mono = now;
	r->timeout_wall = util_now_ms();
	return 1;
}

/*
 * The mock restarted with this run loaded from --state: the attempts
 * after its stored events never happened. Unless it is finished, another
 * attempt takes over once the dead one's heartbeat is stale (the failover
 * pause from now) with a response.resumed at the first unstored seq.
 */
void
dbx_restart(struct run *r, int64_t now_mono, int64_t now_wall)
{
	struct mock	*m = r->m;
	struct seg	*g;
	long long	 s = r->stored, base;

	if (run_is_terminal(r, s))
		return;
	while (r->nseg > 1 && r->segs[r->nseg - 1].seq0 >= s)
		r->nseg--;
	g = &r->segs[r->nseg - 1];
	base = g->base0 + s - g->seq0 - (r->nseg > 1 ? 1 : 0);
	if (r->nseg == MOCK_MAX_SEGS)
		r->nseg--;	/* keep the newest attempts */
	g = &r->segs[r->nseg - 1];
	g[1].seq0 = s;
	g[1].base0 = base;
	g[1].attempt = g->attempt + 1;
	g[1].start_mono = now_mono + m->opts.failover_pause_ms;
	g[1].start_wall = now_wall + m->opts.failover_pause_ms;
	r->nseg++;
}

/* Append the id of the message item of step s. */
static void
write_item_id(const struct run *r, long long s, struct mbuf *b)
{
	mbuf_adds(b, r->item_id);
	if (s > 0) {
		mbuf_addc(b, '_');
		mbuf_addll(b, s);
	}
}

/* Append the text of step s (its deltas). */
static void
write_step_text(const struct run *r, long long s, struct mbuf *b)
{
	long long	k, first = step_first_delta(r, s);

	for (k = 0; k < step_deltas(r, s); k++)
		run_write_delta(r, first + k, b);
}

/* Append the finished message item of step s. */
static void
write_step_message(const struct run *r, long long s, struct mbuf *b)
{
	mbuf_adds(b, "{\"type\":\"message\",\"id\":\"");
	write_item_id(r, s, b);
	mbuf_adds(b, "\",\"status\":\"completed\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"");
	write_step_text(r, s, b);
	mbuf_adds(b, "\",\"annotations\":[]}]}");
}

/* Append the handler's own Response object of step s. */
static void
write_handler_response(const struct run *r, long long s, const char *status,
    struct mbuf *b)
{
	mbuf_adds(b, "{\"id\":\"resp_handler_");
	mbuf_addll(b, s + 1);
	mbuf_addc(b, '_');
	mbuf_adds(b, r->hex);
	mbuf_adds(b, "\",\"object\":\"response\",\"created_at\":");
	mbuf_addll(b, r->created_ms / 1000);
	mbuf_adds(b, ",\"status\":\"");
	mbuf_adds(b, status);
	mbuf_adds(b, "\",\"model\":");
	mbuf_adds(b, r->model_json);
	mbuf_adds(b, ",\"output\":[");
	if (strcmp(status, "completed") == 0)
		write_step_message(r, s, b);
	mbuf_adds(b, "]}");
}

/* Append the item fields of a text event of step s. */
static void
write_ids(const struct run *r, long long s, struct mbuf *b)
{
	mbuf_adds(b, ",\"item_id\":\"");
	write_item_id(r, s, b);
	mbuf_adds(b, "\",\"output_index\":0,\"content_index\":0");
}

/* Append the nested error object of a failed or timed-out run. */
static void
write_error(const struct run *r, int timeout, struct mbuf *b)
{
	mbuf_adds(b, "{\"message\":\"");
	if (timeout)
		mbuf_adds(b, "Task timed out");
	else
		mbuf_adds(b, r->p.fail == FAIL_FAILED ? "mock failure" :
		    "mock error event");
	mbuf_adds(b, "\",\"type\":\"server_error\",\"code\":\"");
	mbuf_adds(b, timeout ? "task_timeout" : "task_failed");
	mbuf_adds(b, "\"}");
}

/* Append ,"sequence_number":N unless the run's misbehaviour drops it. */
static void
write_seq(const struct run *r, long long idx, struct mbuf *b)
{
	if (mb_has_seq(r, idx)) {
		mbuf_adds(b, ",\"sequence_number\":");
		mbuf_addll(b, mb_seq(r, idx));
	}
}

/* Append the JSON object of stream index idx, exactly as streamed. */
void
dbx_write_event(struct mock *m, const struct run *r, long long idx,
    struct mbuf *b)
{
	enum ev_kind	 kind = dbx_kind(r, idx);
	long long	 s = 0, o = 0, at;

	(void)m;
	if (kind != EV_RESUMED && kind != EV_TASK_TIMEOUT)
		base_locate(r, to_base(r, idx), &s, &o);
	switch (kind) {
	case EV_RESUMED:
		at = r->segs[seg_of(r, idx)].attempt;
		mbuf_adds(b, "{\"type\":\"response.resumed\",\"attempt\":");
		mbuf_addll(b, at);
		mbuf_adds(b, ",\"from_seq\":");
		mbuf_addll(b, mb_seq(r, idx));
		mbuf_adds(b, ",\"conversation_id\":\"conv_");
		mbuf_adds(b, r->hex);
		mbuf_adds(b, "_a");
		mbuf_addll(b, at);
		mbuf_addc(b, '"');
		write_seq(r, idx, b);
		break;
	case EV_TASK_TIMEOUT:
	case EV_ERROR:
	case EV_FAILED:
		mbuf_adds(b, "{\"type\":\"error\",\"error\":");
		write_error(r, kind == EV_TASK_TIMEOUT, b);
		write_seq(r, idx, b);
		break;
	case EV_CREATED:
		run_write_head(b, "response.created", r, idx);
		mbuf_adds(b, ",\"response\":");
		write_handler_response(r, s, "in_progress", b);
		break;
	case EV_IN_PROGRESS:
		run_write_head(b, "response.in_progress", r, idx);
		mbuf_adds(b, ",\"response\":");
		write_handler_response(r, s, "in_progress", b);
		break;
	case EV_COMPLETED:
		run_write_head(b, "response.completed", r, idx);
		mbuf_adds(b, ",\"response\":");
		write_handler_response(r, s, "completed", b);
		break;
	case EV_ITEM_ADDED:
		run_write_head(b, "response.output_item.added", r, idx);
		mbuf_adds(b, ",\"output_index\":0,\"item\":"
		    "{\"type\":\"message\",\"id\":\"");
		write_item_id(r, s, b);
		mbuf_adds(b, "\",\"status\":\"in_progress\","
		    "\"role\":\"assistant\",\"content\":[]}");
		break;
	case EV_PART_ADDED:
		run_write_head(b, "response.content_part.added", r, idx);
		write_ids(r, s, b);
		mbuf_adds(b, ",\"part\":{\"type\":\"output_text\","
		    "\"text\":\"\",\"annotations\":[]}");
		break;
	case EV_DELTA:
		run_write_head(b, "response.output_text.delta", r, idx);
		write_ids(r, s, b);
		mbuf_adds(b, ",\"delta\":\"");
		run_write_delta(r, step_first_delta(r, s) + o - 4, b);
		mbuf_adds(b, "\",\"logprobs\":[]");
		if (mb_is_huge(r, idx)) {
			mbuf_adds(b, ",\"obfuscation\":\"");
			run_write_pad(b, MOCK_HUGE_PAD);
			mbuf_addc(b, '"');
		}
		break;
	case EV_TEXT_DONE:
		run_write_head(b, "response.output_text.done", r, idx);
		write_ids(r, s, b);
		mbuf_adds(b, ",\"text\":\"");
		write_step_text(r, s, b);
		mbuf_adds(b, "\",\"logprobs\":[]");
		break;
	case EV_PART_DONE:
		run_write_head(b, "response.content_part.done", r, idx);
		write_ids(r, s, b);
		mbuf_adds(b, ",\"part\":{\"type\":\"output_text\",\"text\":\"");
		write_step_text(r, s, b);
		mbuf_adds(b, "\",\"annotations\":[]}");
		break;
	case EV_ITEM_DONE:
		run_write_head(b, "response.output_item.done", r, idx);
		mbuf_adds(b, ",\"output_index\":0,\"item\":");
		write_step_message(r, s, b);
		break;
	case EV_CANCELLED:
		break;
	}
	mbuf_adds(b, ",\"response_id\":\"");
	mbuf_adds(b, mb_id(r, idx));
	mbuf_adds(b, "\"}");
}

/* Append the answer to a background create that does not stream. */
void
dbx_write_created(struct mock *m, const struct run *r, struct mbuf *b)
{
	(void)m;
	mbuf_adds(b, "{\"id\":\"");
	mbuf_adds(b, r->id);
	mbuf_adds(b, "\",\"object\":\"response\",\"created_at\":");
	mbuf_addll(b, r->created_ms / 1000);
	mbuf_adds(b, ",\"status\":\"in_progress\",\"error\":null,"
	    "\"incomplete_details\":null,\"output\":[],\"metadata\":{}}");
}

/* Append the poll object (GET without stream) once n events are stored. */
void
dbx_write_poll(struct mock *m, const struct run *r, long long n,
    struct mbuf *b)
{
	long long	s;

	(void)m;
	mbuf_adds(b, "{\"id\":\"");
	mbuf_adds(b, r->id);
	if (!run_is_terminal(r, n))
		mbuf_adds(b, "\",\"status\":\"in_progress\"");
	else if (dbx_kind(r, n - 1) == EV_COMPLETED) {
		mbuf_adds(b, "\",\"status\":\"completed\",\"output\":[");
		for (s = 0; s < steps(r); s++) {
			if (s > 0)
				mbuf_addc(b, ',');
			write_step_message(r, s, b);
		}
		mbuf_addc(b, ']');
	} else {
		mbuf_adds(b, "\",\"status\":\"failed\",\"error\":");
		write_error(r, dbx_kind(r, n - 1) == EV_TASK_TIMEOUT, b);
	}
	mbuf_adds(b, ",\"attempt_number\":");
	mbuf_addll(b, dbx_attempt(r, n));
	mbuf_addc(b, '}');
}

/* Append the text of the deltas among the first n stream events. */
void
dbx_write_text(const struct run *r, long long n, struct mbuf *b)
{
	run_write_text(r, dbx_deltas(r, n), b);
}
