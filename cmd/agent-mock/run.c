/*
 * agent-mock runs: creation, the server-clock schedule (event i is due at
 * created + i * interval), cancellation, and the deterministic generation
 * of every event and Response object from the run's parameters, with the
 * run's misbehaviour applied (misbehave.c). Nothing per event is stored;
 * the same index always yields the same bytes.
 */
#include <sys/random.h>

#include <event2/event.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"
#include "xmalloc.h"
#include "mock.h"

#define USAGE_INPUT_TOKENS	16

/* Fill p with the defaults used when the request sets no knob. */
void
run_params_default(struct run_params *p)
{
	p->events = MOCK_DEF_EVENTS;
	p->interval = MOCK_DEF_INTERVAL;
	p->delta_bytes = 0;
	p->stall_after = -1;
	p->fail = FAIL_NONE;
	p->mb = MB_NONE;
	p->tool_steps = 0;
	p->failover_after = -1;
	p->cut_after_seq = -1;
}

/* Write 24 random hex digits into buf (at least 25 bytes). */
static void
random_hex24(char *buf)
{
	static const char	 hex[] = "0123456789abcdef";
	unsigned char		 r[12];
	size_t			 i;

	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
		int64_t	t = util_mono_ms() ^ (util_now_ms() << 20);

		for (i = 0; i < sizeof r; i++)
			r[i] = (unsigned char)((t >> (i * 5)) ^ rand());
	}
	for (i = 0; i < sizeof r; i++) {
		buf[i * 2] = hex[r[i] >> 4];
		buf[i * 2 + 1] = hex[r[i] & 0xf];
	}
	buf[24] = '\0';
}

/*
 * Create and register a run. idem_key may be NULL; model_json and
 * metadata_json are JSON texts (copied).
 */
struct run *
run_new(struct mock *m, const struct run_params *p, int background,
    int stream, const char *idem_key, const char *model_json,
    const char *metadata_json)
{
	struct run	*r;
	char		 hex[25];

	r = xcalloc(1, sizeof *r);
	do {
		random_hex24(hex);
		snprintf(r->id, sizeof r->id, "resp_%s", hex);
	} while (htab_get(&m->by_id, r->id) != NULL);
	snprintf(r->item_id, sizeof r->item_id, "msg_%s", hex);
	memcpy(r->hex, hex, sizeof r->hex);
	if (p->mb == MB_ID_CHANGE) {
		do {
			random_hex24(hex);
			snprintf(r->alt_id, sizeof r->alt_id, "resp_%s", hex);
		} while (strcmp(r->alt_id, r->id) == 0 ||
		    htab_get(&m->by_id, r->alt_id) != NULL);
	}
	r->m = m;
	r->num = (unsigned long long)++m->nruns;
	r->created_ms = util_now_ms();
	r->created_mono = util_mono_ms();
	r->background = background;
	r->stream = stream;
	r->p = *p;
	r->cancel_at = -1;
	r->timeout_at = -1;
	r->creates = 1;
	r->model_json = xstrdup(model_json);
	r->metadata_json = xstrdup(metadata_json);
	TAILQ_INIT(&r->clients);
	if (dbx(m))
		dbx_init(r);
	TAILQ_INSERT_TAIL(&m->runs, r, entry);
	htab_put(&m->by_id, r->id, r);
	if (idem_key != NULL) {
		r->idem_key = xstrdup(idem_key);
		htab_put(&m->by_key, r->idem_key, r);
	}
	return r;
}

/* Free a run that has no clients left. */
void
run_free(struct run *r)
{
	if (r->timer != NULL)
		event_free(r->timer);
	free(r->idem_key);
	free(r->model_json);
	free(r->metadata_json);
	free(r);
}

/* Number of events in the run's script if it is never cancelled. */
long long
run_script_len(const struct run *r)
{
	if (dbx(r->m))
		return dbx_len(r);
	return r->p.events + (r->p.fail == FAIL_NONE ? 8 : 5);
}

/* Number of events the run will ever have (so far, if it stalls). */
long long
run_cap(const struct run *r)
{
	long long	k;

	if (dbx(r->m))
		return dbx_cap(r);
	if (r->cancel_at >= 0)
		return r->cancel_at + 1;
	if (r->p.stall_after >= 0) {
		k = r->p.stall_after < r->p.events ? r->p.stall_after :
		    r->p.events;
		return 4 + k;
	}
	return run_script_len(r);
}

/* Return 1 if the run ends once all run_cap() events are out. */
int
run_done(const struct run *r)
{
	return r->cancel_at >= 0 || r->timeout_at >= 0 ||
	    r->p.stall_after < 0;
}

/* Return 1 if after avail events the run is terminal. */
int
run_is_terminal(const struct run *r, long long avail)
{
	return run_done(r) && avail >= run_cap(r);
}

/* Number of events due at monotonic time now. */
long long
run_avail(const struct run *r, int64_t now)
{
	long long	cap = run_cap(r), n;
	int64_t		el;

	if (dbx(r->m))
		return dbx_avail(r, now);
	if (r->cancel_at >= 0 || r->p.interval == 0)
		return cap;
	el = now - r->created_mono;
	if (el < 0)
		el = 0;
	n = el / r->p.interval + 1;
	return n < cap ? n : cap;
}

/* Monotonic time at which event idx is due. */
int64_t
run_due(const struct run *r, long long idx)
{
	if (dbx(r->m))
		return dbx_due(r, idx);
	return r->created_mono + idx * r->p.interval;
}

/* Return what event idx of the run is. */
enum ev_kind
run_kind(const struct run *r, long long idx)
{
	long long	k;

	if (dbx(r->m))
		return dbx_kind(r, idx);
	if (r->cancel_at >= 0 && idx == r->cancel_at)
		return EV_CANCELLED;
	if (idx < 4)
		return (enum ev_kind)idx;	/* CREATED .. PART_ADDED */
	if (idx < 4 + r->p.events)
		return EV_DELTA;
	if (r->p.fail == FAIL_FAILED)
		return EV_FAILED;
	if (r->p.fail == FAIL_ERROR_EVENT)
		return EV_ERROR;
	k = idx - 4 - r->p.events;
	if (k == 0)
		return EV_TEXT_DONE;
	if (k == 1)
		return EV_PART_DONE;
	if (k == 2)
		return EV_ITEM_DONE;
	return EV_COMPLETED;
}

/* OpenAI status of the run once p events are out. */
const char *
run_status(const struct run *r, long long p)
{
	if (run_is_terminal(r, p)) {
		switch (run_kind(r, p - 1)) {
		case EV_COMPLETED:
			return "completed";
		case EV_CANCELLED:
			return "cancelled";
		default:
			return "failed";
		}
	}
	if (dbx(r->m))
		return "in_progress";
	return p <= 1 ? "queued" : "in_progress";
}

/* Cancel the run at monotonic time now unless it is already terminal. */
void
run_cancel(struct run *r, int64_t now)
{
	long long	avail = run_avail(r, now);

	if (run_is_terminal(r, avail))
		return;
	r->cancel_at = avail;
}

/* Write an unsigned decimal at p; return the number of bytes. */
static size_t
utoa(unsigned long long v, char *p)
{
	char	tmp[24];
	size_t	n = 0, i;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	for (i = 0; i < n; i++)
		p[i] = tmp[n - 1 - i];
	return n;
}

/* Append delta k of the run: "r<run>-tok<k> ", cut or padded with '.'. */
void
run_write_delta(const struct run *r, long long k, struct mbuf *b)
{
	char	tmp[64], *p;
	size_t	n = 0, d = (size_t)r->p.delta_bytes;

	tmp[n++] = 'r';
	n += utoa(r->num, tmp + n);
	memcpy(tmp + n, "-tok", 4);
	n += 4;
	n += utoa((unsigned long long)k, tmp + n);
	tmp[n++] = ' ';
	if (d == 0 || d == n) {
		mbuf_add(b, tmp, n);
		return;
	}
	if (d < n) {
		mbuf_add(b, tmp, d);
		return;
	}
	p = mbuf_reserve(b, d);
	memcpy(p, tmp, n);
	memset(p + n, '.', d - n);
	b->len += d;
	b->p[b->len] = '\0';
}

/* Append the concatenation of the run's first n deltas (JSON-safe). */
void
run_write_text(const struct run *r, long long n, struct mbuf *b)
{
	long long	k;

	for (k = 0; k < n; k++)
		run_write_delta(r, k, b);
}

/* Append the finished message item with the full text. */
void
run_write_message(const struct run *r, struct mbuf *b)
{
	mbuf_adds(b, "{\"type\":\"message\",\"id\":\"");
	mbuf_adds(b, r->item_id);
	mbuf_adds(b, "\",\"status\":\"completed\",\"role\":\"assistant\","
	    "\"content\":[{\"type\":\"output_text\",\"text\":\"");
	run_write_text(r, r->p.events, b);
	mbuf_adds(b, "\",\"annotations\":[]}]}");
}

/* Return the status string of the dialect for an OpenAI status. */
static const char *
dialect_status(const struct mock *m, const char *status)
{
	if (m->opts.dialect == DIALECT_DATABRICKS &&
	    strcmp(status, "queued") == 0)
		return "in_progress";
	return status;
}

/* Append the Response object with the given id once p events are out. */
static void
write_response(struct mock *m, const struct run *r, long long p,
    const char *id, struct mbuf *b)
{
	enum ev_kind	kind = EV_DELTA;
	int		term = run_is_terminal(r, p);

	if (term)
		kind = run_kind(r, p - 1);
	mbuf_adds(b, "{\"id\":\"");
	mbuf_adds(b, id);
	mbuf_adds(b, "\",\"object\":\"response\",\"created_at\":");
	mbuf_addll(b, r->created_ms / 1000);
	mbuf_adds(b, ",\"status\":\"");
	mbuf_adds(b, dialect_status(m, run_status(r, p)));
	mbuf_adds(b, r->background ? "\",\"background\":true" :
	    "\",\"background\":false");
	mbuf_adds(b, ",\"completed_at\":");
	if (kind == EV_COMPLETED)
		mbuf_addll(b, (r->created_ms + (p - 1) * r->p.interval) / 1000);
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"error\":");
	if (kind == EV_FAILED)
		mbuf_adds(b, "{\"code\":\"server_error\","
		    "\"message\":\"mock failure\"}");
	else if (kind == EV_ERROR)
		mbuf_adds(b, "{\"code\":\"server_error\","
		    "\"message\":\"mock error event\"}");
	else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"incomplete_details\":null,\"instructions\":null,"
	    "\"model\":");
	mbuf_adds(b, r->model_json);
	mbuf_adds(b, ",\"output\":[");
	if (r->p.fail == FAIL_NONE && p >= 7 + r->p.events)
		run_write_message(r, b);
	mbuf_adds(b, "],\"parallel_tool_calls\":true,"
	    "\"previous_response_id\":null,\"tool_choice\":\"auto\","
	    "\"tools\":[],\"usage\":");
	if (kind == EV_COMPLETED) {
		mbuf_adds(b, "{\"input_tokens\":");
		mbuf_addll(b, USAGE_INPUT_TOKENS);
		mbuf_adds(b, ",\"input_tokens_details\":{\"cached_tokens\":0},"
		    "\"output_tokens\":");
		mbuf_addll(b, r->p.events);
		mbuf_adds(b, ",\"output_tokens_details\":"
		    "{\"reasoning_tokens\":0},\"total_tokens\":");
		mbuf_addll(b, USAGE_INPUT_TOKENS + r->p.events);
		mbuf_addc(b, '}');
	} else
		mbuf_adds(b, "null");
	mbuf_adds(b, ",\"metadata\":");
	mbuf_adds(b, r->metadata_json);
	mbuf_addc(b, '}');
}

/* Append the full Response object as it is once p events are out. */
void
run_write_response(struct mock *m, const struct run *r, long long p,
    struct mbuf *b)
{
	write_response(m, r, p, r->id, b);
}

/* Append the nested Databricks error object for a failed run. */
static void
write_db_error(const struct run *r, struct mbuf *b)
{
	mbuf_adds(b, "{\"message\":\"");
	mbuf_adds(b, r->p.fail == FAIL_FAILED ? "mock failure" :
	    "mock error event");
	mbuf_adds(b, "\",\"type\":\"server_error\",\"code\":\"task_failed\"}");
}

/* Append the minimal Databricks poll object once p events are out. */
void
run_write_minimal(struct mock *m, const struct run *r, long long p,
    struct mbuf *b)
{
	if (dbx(m)) {
		dbx_write_poll(m, r, p, b);
		return;
	}
	mbuf_adds(b, "{\"id\":\"");
	mbuf_adds(b, r->id);
	if (!run_is_terminal(r, p)) {
		mbuf_adds(b, "\",\"status\":\"in_progress\"}");
		return;
	}
	switch (run_kind(r, p - 1)) {
	case EV_COMPLETED:
		mbuf_adds(b, "\",\"status\":\"completed\",\"output\":[");
		run_write_message(r, b);
		mbuf_adds(b, "]}");
		break;
	case EV_CANCELLED:
		mbuf_adds(b, "\",\"status\":\"cancelled\"}");
		break;
	default:
		mbuf_adds(b, "\",\"status\":\"failed\",\"error\":");
		write_db_error(r, b);
		mbuf_addc(b, '}');
		break;
	}
}

/* Return the event type name of event idx (as on the SSE event: line). */
static const char *
run_event_type(const struct mock *m, const struct run *r, long long idx)
{
	switch (run_kind(r, idx)) {
	case EV_CREATED:
		return "response.created";
	case EV_IN_PROGRESS:
		return "response.in_progress";
	case EV_ITEM_ADDED:
		return "response.output_item.added";
	case EV_PART_ADDED:
		return "response.content_part.added";
	case EV_DELTA:
		return "response.output_text.delta";
	case EV_TEXT_DONE:
		return "response.output_text.done";
	case EV_PART_DONE:
		return "response.content_part.done";
	case EV_ITEM_DONE:
		return "response.output_item.done";
	case EV_COMPLETED:
		return "response.completed";
	case EV_FAILED:
		return m->opts.dialect == DIALECT_DATABRICKS ? "error" :
		    "response.failed";
	case EV_ERROR:
		return "error";
	case EV_CANCELLED:
		return "response.cancelled";
	case EV_RESUMED:
		return "response.resumed";
	case EV_TASK_TIMEOUT:
		return "error";
	}
	return "error";
}

/*
 * Append {"type":TYPE,"sequence_number":N for event idx (the object stays
 * open); no_seq leaves the number out of its event.
 */
void
run_write_head(struct mbuf *b, const char *type, const struct run *r,
    long long idx)
{
	mbuf_adds(b, "{\"type\":\"");
	mbuf_adds(b, type);
	mbuf_addc(b, '"');
	if (mb_has_seq(r, idx)) {
		mbuf_adds(b, ",\"sequence_number\":");
		mbuf_addll(b, mb_seq(r, idx));
	}
}

/* Append n bytes of 'x' (the huge_line padding). */
void
run_write_pad(struct mbuf *b, size_t n)
{
	memset(mbuf_reserve(b, n), 'x', n);
	b->len += n;
	b->p[b->len] = '\0';
}

/* Append the item/output/content index fields of a text event. */
void
run_write_text_ids(const struct run *r, struct mbuf *b)
{
	mbuf_adds(b, ",\"item_id\":\"");
	mbuf_adds(b, r->item_id);
	mbuf_adds(b, "\",\"output_index\":0,\"content_index\":0");
}

/* Append the JSON object of event idx, exactly as streamed. */
void
run_write_event(struct mock *m, const struct run *r, long long idx,
    struct mbuf *b)
{
	enum ev_kind	kind = run_kind(r, idx);
	const char	*type = run_event_type(m, r, idx);
	int		 db = m->opts.dialect == DIALECT_DATABRICKS;

	if (db) {
		dbx_write_event(m, r, idx, b);
		return;
	}
	switch (kind) {
	case EV_CREATED:
	case EV_IN_PROGRESS:
	case EV_COMPLETED:
	case EV_CANCELLED:
		run_write_head(b, type, r, idx);
		mbuf_adds(b, ",\"response\":");
		write_response(m, r, idx + 1, mb_id(r, idx), b);
		break;
	case EV_ITEM_ADDED:
		run_write_head(b, type, r, idx);
		mbuf_adds(b, ",\"output_index\":0,\"item\":"
		    "{\"type\":\"message\",\"id\":\"");
		mbuf_adds(b, r->item_id);
		mbuf_adds(b, "\",\"status\":\"in_progress\","
		    "\"role\":\"assistant\",\"content\":[]}");
		break;
	case EV_PART_ADDED:
		run_write_head(b, type, r, idx);
		run_write_text_ids(r, b);
		mbuf_adds(b, ",\"part\":{\"type\":\"output_text\","
		    "\"text\":\"\",\"annotations\":[]}");
		break;
	case EV_DELTA:
		run_write_head(b, type, r, idx);
		run_write_text_ids(r, b);
		mbuf_adds(b, ",\"delta\":\"");
		run_write_delta(r, idx - 4, b);
		mbuf_adds(b, "\",\"logprobs\":[]");
		if (mb_is_huge(r, idx)) {
			mbuf_adds(b, ",\"obfuscation\":\"");
			run_write_pad(b, MOCK_HUGE_PAD);
			mbuf_addc(b, '"');
		}
		break;
	case EV_TEXT_DONE:
		run_write_head(b, type, r, idx);
		run_write_text_ids(r, b);
		mbuf_adds(b, ",\"text\":\"");
		run_write_text(r, r->p.events, b);
		mbuf_adds(b, "\",\"logprobs\":[]");
		break;
	case EV_PART_DONE:
		run_write_head(b, type, r, idx);
		run_write_text_ids(r, b);
		mbuf_adds(b, ",\"part\":{\"type\":\"output_text\",\"text\":\"");
		run_write_text(r, r->p.events, b);
		mbuf_adds(b, "\",\"annotations\":[]}");
		break;
	case EV_ITEM_DONE:
		run_write_head(b, type, r, idx);
		mbuf_adds(b, ",\"output_index\":0,\"item\":");
		run_write_message(r, b);
		break;
	case EV_FAILED:
		if (!db) {
			run_write_head(b, type, r, idx);
			mbuf_adds(b, ",\"response\":");
			write_response(m, r, idx + 1, mb_id(r, idx), b);
			break;
		}
		/* FALLTHROUGH */
	case EV_ERROR:
		if (db) {
			mbuf_adds(b, "{\"type\":\"error\",\"error\":");
			write_db_error(r, b);
		} else
			mbuf_adds(b, "{\"type\":\"error\","
			    "\"code\":\"server_error\","
			    "\"message\":\"mock error event\",\"param\":null");
		if (mb_has_seq(r, idx)) {
			mbuf_adds(b, ",\"sequence_number\":");
			mbuf_addll(b, mb_seq(r, idx));
		}
		break;
	case EV_RESUMED:
	case EV_TASK_TIMEOUT:
		break;		/* databricks only */
	}
	if (db) {
		mbuf_adds(b, ",\"response_id\":\"");
		mbuf_adds(b, mb_id(r, idx));
		mbuf_addc(b, '"');
	}
	mbuf_addc(b, '}');
}

/*
 * Append event idx framed for the dialect's event stream; bad_json cuts
 * the data of its event in half.
 */
void
run_write_frame(struct mock *m, const struct run *r, long long idx,
    struct mbuf *b)
{
	size_t	start;

	if (m->opts.dialect == DIALECT_OPENAI) {
		mbuf_adds(b, "event: ");
		mbuf_adds(b, run_event_type(m, r, idx));
		mbuf_addc(b, '\n');
	}
	mbuf_adds(b, "data: ");
	start = b->len;
	run_write_event(m, r, idx, b);
	if (!mb_is_event(r, idx)) {
		b->len = start + (b->len - start) / 2;
		b->p[b->len] = '\0';
	}
	mbuf_adds(b, "\n\n");
}
