/*
 * Shared by the worker's files: worker.c (the process: its loop, the
 * supervisor's frames, leases taken and dropped, the batched flush),
 * worker-run.c (a run's state: events kept, errors and waits noted,
 * retries, what follows a broken stream) and worker-xfer.c (a run's
 * transfers: create, resume, poll, and what their answers mean). Not for
 * the rest of agentd, which sees worker.h.
 */
#ifndef AGENTD_WORKER_INTERNAL_H
#define AGENTD_WORKER_INTERNAL_H

#include <sys/queue.h>

#include <stddef.h>
#include <stdint.h>

#include <event2/util.h>
#include <jansson.h>

#include "backend.h"
#include "config.h"
#include "msg.h"
#include "stats.h"

struct event;
struct event_base;
struct bufferevent;
struct sse_event;
struct sse_parser;
struct store;
struct xfer;
struct xfer_loop;

#define BODY_CAP_ERROR	(64 * 1024)		/* error bodies kept */
#define BODY_CAP_JSON	(32 * 1024 * 1024)	/* a Response object */
#define FLUSH_RETRY_MS	200
/*
 * One flush transaction takes whole runs until it holds this many events
 * (the rest go in the next one, after the loop has polled): a commit is
 * what makes events visible to followers and readers, so a transaction
 * that grew with the backlog (hundreds of ms) starved every client.
 */
#define FLUSH_MAX_EVENTS	4096
/*
 * A run's events go in by this many at a time; between two, a flush whose
 * supervisor waits for the write lock (store_writer_waits) commits what it
 * has and leaves the rest of the run for the next transaction. One fast
 * run can hold thousands of events; writing them whole kept the
 * supervisor, and so the API, waiting up to 28 ms.
 */
#define FLUSH_RUN_CHUNK		512
/* Transfers open in a worker from which new ones read 1 KB at a time. */
#define XFER_SMALL_BUF_RUNS	1000
/*
 * Backpressure: a run's transfer stops reading while the run has this much
 * event data buffered, or the worker this much in all, and goes on once a
 * flush has written it down to half (a backend faster than the store held
 * every event of a run in memory: 1.4 GB for 200 runs of 20,000 deltas).
 */
#define PEND_RUN_MAX_BYTES	(1024 * 1024)
#define PEND_MAX_BYTES		(32 * 1024 * 1024)
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
	size_t			 pend_bytes;	/* data of pend[] */
	size_t			 flushed;	/* of pend[], this flush: a part */
	int			 paused;	/* its transfer, by backpressure */
	int			 cancel_on_id;	/* cancelled mid-create: tell the
						   backend once its id comes */
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
	size_t				 pend_bytes;	/* of every run */
	int				 npaused;	/* runs paused */
	struct event			*flush_ev;
	struct event			*hb_ev;
	struct event			*ckpt_ev;	/* worker_ckpt_cb */
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

/* worker.c: the process, its frames, the flush. */
/* Ask the backend to cancel its run bid (of agentd's run id), fire and forget. */
void	worker_backend_cancel(struct worker *w, const char *id, const char *bid);
void	worker_flush_soon(struct worker *w, int64_t delay_ms);
uint32_t worker_rand(void);
void	worker_send(struct worker *w, enum msg_type type, json_t *body);
void	worker_store_down(struct worker *w);

/* worker-run.c: a run's state, notes and retries. */
void	run_pend_clear(struct wrun *r);
void	run_pend_drop(struct wrun *r, size_t k);
int64_t	run_backoff(struct wrun *r, const char *retry_after,
	    const char **reason);
void	run_dirty(struct wrun *r);
void	run_fail(struct wrun *r, int http, const char *message,
	    const char *body);
struct wrun	*run_find(struct worker *w, int64_t n);
void	run_finish(struct wrun *r, const char *status, const char *response);
void	run_free(struct wrun *r);
void	run_idle_arm(struct wrun *r);
void	run_idle_cb(evutil_socket_t fd, short what, void *arg);
void	run_keep_event(struct wrun *r, int64_t seq, const char *type,
	    const char *data, size_t len);
void	run_backpressure(struct wrun *r);
void	worker_unpause(struct worker *w);
void	run_ladder_down(struct wrun *r, enum backend_verdict v);
void	run_lease_lost(struct wrun *r);
void	run_lost(struct wrun *r, enum xkind kind, int rc, const char *err);
int	run_note_wait(struct wrun *r, const char *reason, int64_t delay_ms,
	    int http, const char *message, const char *body);
void	run_retries_reset(struct wrun *r);
void	run_set_backend_id(struct wrun *r, const char *id);
void	run_set_backend_status(struct wrun *r, const char *status);
void	run_stream_ended(struct wrun *r);

/* worker-xfer.c: a run's transfers. */
void	run_go(struct wrun *r, enum xkind kind);
void	run_schedule(struct wrun *r, int64_t delay_ms, enum xkind kind);
int	run_sse_event(void *arg, const struct sse_event *sev);
void	run_start(struct wrun *r);
void	run_timer_cb(evutil_socket_t fd, short what, void *arg);

#endif
