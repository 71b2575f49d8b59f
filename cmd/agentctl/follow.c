/*
 * Follow a run's event stream (GET /v1/runs/{id}/events as SSE) until the
 * final agentd.status event, printing text deltas or JSON lines, and
 * re-attaching after the last printed seq when the daemon goes away.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agentctl.h"
#include "sse.h"
#include "util.h"
#include "xmalloc.h"

#define FOLLOW_RETRY_MS		500
#define FOLLOW_GIVE_UP_MS	60000
#define FOLLOW_STEADY_MS	1000	/* a connection this old was working */

struct follow_state {
	struct ctl_ctx		*ctx;
	struct ctl_follow	*f;
	struct sse_parser	*parser;
	char			*cause;		/* SSE parse error */
	int			 done;		/* got agentd.status */
	int			 nevents;	/* events on this connection */
	int			 midline;	/* output lacks a final \n */
	char			*status;	/* final status */
	char			*message;	/* final error message */
};

/* Parse an SSE id as a seq; -1 if it is not a non-negative integer. */
static long long
parse_seq(const char *id)
{
	long long	v;

	if (id == NULL || util_parse_int(id, 0, INT64_MAX, &v) != 0)
		return -1;
	return v;
}

/* Print ev as one {"seq","type","data"} JSON line. */
static void
print_event_json(const struct sse_event *ev, const char *type,
    long long seq, json_t *data)
{
	json_t	*line;

	line = json_object();
	json_object_set_new(line, "seq", seq >= 0 ? json_integer(seq) :
	    json_null());
	json_object_set_new(line, "type", json_string(type));
	if (data != NULL)
		json_object_set(line, "data", data);
	else
		json_object_set_new(line, "data", json_stringn(ev->data,
		    ev->data_len));
	ctl_print_json_line(line);
	json_decref(line);
}

/* Record the final agentd.status event. */
static void
final_status(struct follow_state *st, json_t *data)
{
	json_t		*e;
	const char	*s;

	s = ctl_str(data, "status", "unknown");
	st->status = xstrdup(s);
	e = json_object_get(data, "error");
	if (json_is_object(e) && (s = ctl_str(e, "message", NULL)) != NULL)
		st->message = xstrdup(s);
	else if (json_is_string(e))
		st->message = xstrdup(json_string_value(e));
	st->done = 1;
}

/* SSE callback: print one event, or stop at the final status. */
static int
on_event(void *arg, const struct sse_event *ev)
{
	struct follow_state	*st = arg;
	struct ctl_follow	*f = st->f;
	json_t			*data;
	const char		*delta, *type;
	long long		 seq;
	int			 final;
	size_t			 n;

	st->nevents++;
	data = json_loadb(ev->data, ev->data_len, 0, NULL);
	type = ev->type;
	if (strcmp(type, "message") == 0)	/* no event: line */
		type = ctl_str(data, "type", type);
	final = strcmp(type, "agentd.status") == 0;
	seq = parse_seq(ev->id);
	if (!final && seq >= 0 && seq <= f->after) {
		json_decref(data);
		return 0;	/* already printed before a re-attach */
	}
	if (final && seq <= f->after)
		seq = -1;	/* a stale last-event-ID, not its own */

	if (!f->quiet && st->ctx->json)
		print_event_json(ev, type, seq, data);
	else if (!f->quiet && !final &&
	    strcmp(type, "response.output_text.delta") == 0 &&
	    (delta = ctl_str(data, "delta", NULL)) != NULL &&
	    (n = strlen(delta)) > 0) {
		fwrite(delta, 1, n, stdout);
		fflush(stdout);
		st->midline = delta[n - 1] != '\n';
	}
	if (seq >= 0)
		f->after = seq;
	if (final)
		final_status(st, data);
	json_decref(data);
	return final;
}

/* ctl_xfer stream callback: feed the SSE parser. */
static int
on_bytes(void *arg, const char *buf, size_t len)
{
	struct follow_state	*st = arg;

	if (sse_parser_feed(st->parser, buf, len, &st->cause) != 0) {
		if (st->done) {
			free(st->cause);
			st->cause = NULL;
		}
		return -1;
	}
	return 0;
}

/* Sleep for ms milliseconds. */
static void
sleep_ms(long ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Print the final line and return 0 for completed, else 1. */
static int
finish(struct follow_state *st)
{
	struct ctl_follow	*f = st->f;

	if (st->midline)
		fputc('\n', stdout);
	fflush(stdout);
	if (st->message != NULL && strcmp(st->status, "completed") != 0)
		fprintf(stderr, "run %s: %s: %s\n", f->id, st->status,
		    st->message);
	else
		fprintf(stderr, "run %s: %s\n", f->id, st->status);
	return strcmp(st->status, "completed") == 0 ? CTL_EXIT_OK :
	    CTL_EXIT_RUN;
}

/*
 * Follow run f->id from seq f->after until its agentd.status event. Return
 * 0 if it completed, 1 if it ended otherwise, else an error exit code.
 */
int
ctl_follow(struct ctl_ctx *ctx, struct ctl_follow *f)
{
	struct follow_state	 st;
	struct ctl_xfer		 x;
	char			*path, *msg;
	int64_t			 t0, lost_at = -1;
	int			 first = 1, rc, retry;

	memset(&st, 0, sizeof st);
	st.ctx = ctx;
	st.f = f;
	st.parser = sse_parser_new(0, on_event, &st);
	for (;;) {
		path = ctl_run_path(f->id, "/events");
		if (f->after >= 0)
			ctl_query_add_ll(&path, "after", f->after);
		sse_parser_reset(st.parser);
		st.nevents = 0;
		memset(&x, 0, sizeof x);
		x.method = "GET";
		x.path = path;
		x.accept = "text/event-stream";
		x.stream = on_bytes;
		x.stream_arg = &st;
		t0 = util_mono_ms();
		ctl_xfer(ctx, &x);
		free(path);

		if (st.done) {
			ctl_xfer_free(&x);
			rc = finish(&st);
			break;
		}
		if (st.cause != NULL) {
			ctl_error(ctx, "bad event stream from agentd: %s",
			    st.cause);
			ctl_xfer_free(&x);
			rc = CTL_EXIT_DAEMON;
			break;
		}
		if (x.result == CTL_XFER_NOCONN || x.status == 0)
			retry = !first;
		else if (x.status < 200 || x.status > 299)
			retry = !first && (x.status == 502 ||
			    x.status == 503 || x.status == 504);
		else
			retry = 1;	/* 2xx, ended without a status */
		if (!retry) {
			if (x.status == 0)
				rc = ctl_xfer_failed(ctx, &x);
			else {
				msg = ctl_error_message(&x);
				ctl_error(ctx, "%s", msg);
				free(msg);
				rc = ctl_status_exit(x.status);
			}
			ctl_xfer_free(&x);
			break;
		}
		/* A new loss, unless we were still failing to re-attach. */
		if (lost_at < 0 || (x.status >= 200 && x.status <= 299 &&
		    (st.nevents > 0 ||
		    util_mono_ms() - t0 >= FOLLOW_STEADY_MS))) {
			lost_at = util_mono_ms();
			if (st.midline && isatty(STDOUT_FILENO) &&
			    isatty(STDERR_FILENO))
				fputc('\n', stderr);	/* same terminal */
			ctl_error(ctx, "daemon connection lost, re-attaching");
		}
		first = 0;
		if (util_mono_ms() - lost_at >= FOLLOW_GIVE_UP_MS) {
			ctl_error(ctx, "gave up re-attaching to agentd at %s "
			    "after %ds%s%s", ctx->socket,
			    FOLLOW_GIVE_UP_MS / 1000,
			    x.errmsg != NULL ? ": " : "",
			    x.errmsg != NULL ? x.errmsg : "");
			ctl_xfer_free(&x);
			rc = CTL_EXIT_UNREACHABLE;
			break;
		}
		ctl_xfer_free(&x);
		sleep_ms(FOLLOW_RETRY_MS);
	}
	sse_parser_free(st.parser);
	free(st.cause);
	free(st.status);
	free(st.message);
	return rc;
}
