/*
 * The persistent run store: SQLite in WAL mode, schema migrations, and every
 * SQL statement agentd runs. Owns the database handle; does not know about
 * HTTP, processes or the event loop. Worker writes are fenced by the run's
 * lease generation (invariant 3); the cursor moves in the same transaction
 * as the events it covers (invariant 1).
 */
#ifndef AGENTD_STORE_H
#define AGENTD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct store;

/* Statuses a run can be in; the terminal ones never change again. */
#define RUN_PENDING	"pending"
#define RUN_STARTING	"starting"
#define RUN_RUNNING	"running"
#define RUN_COMPLETED	"completed"
#define RUN_FAILED	"failed"
#define RUN_CANCELLED	"cancelled"
#define RUN_INCOMPLETE	"incomplete"
#define RUN_ABANDONED	"abandoned"

int	store_status_terminal(const char *status);

/*
 * path names the store: a SQLite file, or a PostgreSQL database as a
 * libpq URI (postgresql://...) or key=value conninfo (host=... dbname=...).
 */
int	store_is_pg(const char *path);
/* Does a PostgreSQL conninfo hold a password (refused on argv)? */
int	store_pg_has_password(const char *conninfo);
/* path for a log line: a conninfo without its password. Allocated. */
char	*store_describe(const char *path);
/* Open (creating if needed) and migrate; NULL with *cause on failure. */
struct store	*store_open(const char *path, char **cause);
void		 store_close(struct store *st);
/* How long a write waits for another process's lock (default 10 s). */
void		 store_set_busy_timeout(struct store *st, int ms);
/* SQLite: writers yield to the supervisor (store.c, store_waits_fd). */
int		 store_waits_fd(void);
int		 store_waits_attach(struct store *st, int fd, int announce);
int		 store_writer_waits(struct store *st);
/* SQLite: who checkpoints the WAL (store.c). */
void		 store_set_autocheckpoint(struct store *st, int pages);
int		 store_checkpoint(struct store *st);
int		 store_wal_frames(struct store *st);
/* Highest schema version this build knows. */
int		 store_schema_version(void);

/* A run as a worker needs it. Strings are owned by the row. */
struct run_row {
	int64_t	 n;
	char	 id[32];
	char	*endpoint;
	char	*dialect;
	char	*request;
	char	*mode;
	char	*resolved_mode;
	char	*status;
	char	*backend_id;
	int	 resumable;
	int	 creates;
	int	 attempt;
	int	 max_attempts;
	int64_t	 last_seq;
	int64_t	 lease_gen;
	int64_t	 last_event_at;
};
void	store_row_clear(struct run_row *r);
/* Load run n if its lease generation is gen: 1 loaded, 0 fenced, -1 error. */
int	store_row_load(struct store *st, int64_t n, int64_t gen,
	    struct run_row *r);

/* New run from the API. */
struct run_new {
	const char	*request;	/* JSON text */
	const char	*mode;
	const char	*idempotency_key;	/* may be NULL */
	const char	*queue;
	int		 priority;
	const char	*endpoint;
	const char	*dialect;
	const char	*batch;		/* may be NULL */
	const char	*custom_id;	/* may be NULL */
	int		 max_attempts;	/* 0: 1 */
};
/*
 * Insert a run; *created is 0 when the idempotency key existed already (the
 * existing id is returned). Return 0, or -1 with *cause.
 */
int	store_run_insert(struct store *st, const struct run_new *rn,
	    char *id, size_t idlen, int *created, char **cause);

/* --- worker writes, all fenced by (n, gen) --- */

int	store_begin(struct store *st);
int	store_commit(struct store *st);
void	store_rollback(struct store *st);

/*
 * Inside a transaction: insert events (duplicates by (run, seq) ignored)
 * and advance the run's cursor, conditioned on the lease generation.
 * Return the number of new events (>= 0), -2 if fenced (nothing written),
 * -1 on error (the caller must roll the whole transaction back).
 */
struct store_event {
	int64_t		 seq;
	const char	*type;
	const char	*data;
	size_t		 data_len;
};
int	store_events_append(struct store *st, int64_t n, int64_t gen,
	    const struct store_event *ev, size_t nev, int64_t last_seq,
	    int64_t now);

/* Optional fields of a run update; NULL/negative means "leave as is". */
struct run_patch {
	const char	*status;
	const char	*backend_id;
	const char	*backend_status;
	const char	*resolved_mode;
	const char	*response;
	const char	*output_text;
	int		 set_error;	/* 1 set, -1 clear, 0 keep */
	int		 error_status;	/* 0 = NULL */
	const char	*error_message;
	const char	*error_body;
	int		 resumable;	/* -1 keep */
	int		 creates_inc;
	int		 finished;	/* set finished_at, clear lease */
	int64_t		 last_event_at;	/* 0 keep */
	/*
	 * Why the run waits (a WAIT_* reason): 1 sets wait_reason,
	 * wait_until (unix ms, 0 = unknown) and wait_tries; 2 clears the
	 * reason and time but keeps the tries (the retry is under way); -1
	 * clears all three (the run moves again); 0 keeps them.
	 */
	int		 set_wait;
	const char	*wait_reason;
	int64_t		 wait_until;
	int		 wait_tries;
};
#define RUN_PATCH_INIT { .resumable = -1 }

/*
 * Why a run that is not moving waits, as the API shows it (the run's
 * "wait" object). A worker records the first six; the store derives the
 * rest for pending runs when it reads them.
 */
#define WAIT_RETRY_AFTER	"retry_after"	/* the backend's Retry-After */
#define WAIT_RATELIMIT_RESET	"ratelimit_reset"	/* x-ratelimit-reset-* */
#define WAIT_ENDPOINT_PAUSED	"endpoint_paused"	/* a 429 paused it all */
#define WAIT_BACKOFF		"backoff"	/* agentd's own backoff */
#define WAIT_RPM		"requests_per_minute"	/* the rpm budget */
#define WAIT_STORE		"store_unavailable"	/* no writes possible */
#define WAIT_QUEUE_PAUSED	"queue_paused"
#define WAIT_QUEUE_FULL		"queue_max_inflight"
#define WAIT_MAX_INFLIGHT	"max_inflight"	/* agentd's --max-inflight */
#define WAIT_ATTEMPT		"attempt_backoff"	/* next run-level try */
/* Apply a patch if the run's generation is gen: 1 applied, 0 fenced, -1. */
int	store_run_patch(struct store *st, int64_t n, int64_t gen,
	    const struct run_patch *p);
/*
 * agentd holds run n back itself (reason a WAIT_* string, until unix ms or
 * 0), or released it (reason NULL): restart its stale clock and record the
 * reason. 1, 0 fenced, -1 error.
 */
int	store_run_released(struct store *st, int64_t n, int64_t gen,
	    const char *reason, int64_t until);
/* Concatenated text deltas stored for run n (allocated, never NULL). */
char	*store_delta_text(struct store *st, int64_t n);

/* Endpoint capabilities: -1 unknown, 0 no, 1 yes. */
struct endpoint_caps {
	int	background;
	int	stream;
	int	resume;
};
int	store_caps_get(struct store *st, const char *endpoint,
	    struct endpoint_caps *c);
int	store_caps_set(struct store *st, const char *endpoint,
	    const char *what, int value);

/* --- supervisor --- */

/* Fence every lease (supervisor start): returns rows changed or -1. */
int	store_rearm(struct store *st);
/* Release the runs leased by owner (a dead worker); rows or -1. */
int	store_release_owner(struct store *st, const char *owner);

struct store_assign {
	int64_t	n;
	int64_t	gen;
	char	id[32];
};
/*
 * Lease up to max unowned active runs to owner, highest priority then
 * oldest first; fills out[] and returns the count, or -1.
 */
int	store_assign(struct store *st, const char *owner, int64_t expires,
	    struct store_assign *out, int max);
/* Runs leased and not finished; -1 on error. */
int	store_inflight(struct store *st);
/* Endpoint stamped on runs enqueued without one (agentctl offline). */
void	store_set_endpoint(struct store *st, const char *endpoint);
/*
 * agentd's --max-inflight (0: none), so that reads can say a pending run
 * waits for it.
 */
void	store_set_max_inflight(struct store *st, int max);
/* In a transaction: record the end of run n's current attempt. */
int	store_attempt_end(struct store *st, int64_t n, const char *status,
	    int error_status, const char *error_message);
/*
 * In a transaction: end the current attempt with status and queue the next
 * after delay_ms (a fresh create). Fenced by gen unless -1. 1, 0 fenced, -1.
 */
int	store_run_retry(struct store *st, int64_t n, int64_t gen,
	    const char *status, int error_status, const char *error_message,
	    int64_t delay_ms);
/* Extend the expiry of every lease held by owner. */
int	store_renew(struct store *st, const char *owner, int64_t expires);

/*
 * Abandon active runs with no progress for stale_ms (measured from the later
 * of last_event_at and the current lease's start); runs with attempts left
 * are queued for their next attempt after retry_ms instead (retried = 1).
 * Calls cb with each run's previous owner (may be NULL). Count or -1.
 */
typedef void (*store_abandon_cb)(void *arg, int64_t n, const char *id,
    const char *owner, const char *backend_id, int retried);
int	store_abandon_stale(struct store *st, int64_t now, int64_t stale_ms,
	    int64_t retry_ms, store_abandon_cb cb, void *arg);

/* Outcomes of API state changes. */
#define STORE_OK	 0
#define STORE_ERR	-1
#define STORE_NOTFOUND	-2
#define STORE_CONFLICT	-3
/* Resume an abandoned or failed run; *msg set on conflict (static). */
int	store_resume(struct store *st, const char *id, const char **msg);
/* Resume every abandoned run; returns a JSON array of ids or NULL. */
json_t	*store_resume_stale(struct store *st);
/*
 * Cancel a run locally: terminal, lease fenced. Fills owner/backend_id
 * (allocated, may be NULL) so the caller can tell the worker and backend.
 */
int	store_cancel(struct store *st, const char *id, int64_t *n,
	    char **owner, char **backend_id, char **endpoint,
	    const char **msg);
/* Delete finished runs older than cutoff (unix ms); count or -1. */
int	store_prune(struct store *st, int64_t cutoff);
/* One transaction of it: see store-sched.c. */
#define STORE_PRUNE_SLICE	500
int	store_prune_slice(struct store *st, int64_t cutoff, int64_t *from,
	    int max);

/* --- reads for the API (new references, NULL if absent or on error) --- */
json_t	*store_run_json(struct store *st, const char *id);
int64_t	 store_run_n(struct store *st, const char *id);
/* JSON text, allocated: a page holds up to 1,000 runs of ~550 bytes. */
char	*store_run_list(struct store *st, const char *status,
	    const char *queue, int64_t since, const char *after, int limit,
	    size_t *len, char **cause);
/* Events with seq > after; *next is the last seq returned or -1. */
json_t	*store_events_json(struct store *st, const char *id, int64_t after,
	    int limit, int raw, int64_t *next);
/* Iterate raw events of run n after seq; cb returns non-zero to stop. */
typedef int (*store_event_cb)(void *arg, int64_t seq, const char *type,
    const char *data);
int	store_events_each(struct store *st, int64_t n, int64_t after,
	    int limit, store_event_cb cb, void *arg);
json_t	*store_result_json(struct store *st, const char *id);
json_t	*store_counts_json(struct store *st);
/* Runs not moving by why they wait, and those waiting to retry. */
json_t	*store_waiting_json(struct store *st);
/* What the Responses front needs of a run; strings owned by the view. */
struct run_view {
	int64_t	 n;
	char	 id[32];
	char	 status[16];
	char	*request;
	char	*dialect;
	char	*backend_id;
	char	*resolved_mode;
	char	*response;
	char	*output_text;
	char	*error_message;
	int	 resumable;
	int64_t	 last_seq;
	int64_t	 created_at;	/* unix ms */
	int64_t	 finished_at;	/* unix ms, 0 while active */
};
/* Load run id into v: 1 found, 0 absent, -1 error. */
int	store_run_view(struct store *st, const char *id, struct run_view *v);
void	store_run_view_clear(struct run_view *v);
/*
 * Delete a finished run and its events and attempts: STORE_OK, or
 * STORE_NOTFOUND, STORE_CONFLICT (still active), STORE_ERR.
 */
int	store_run_delete(struct store *st, const char *id);

/* --- hosts sharing one store (PostgreSQL; SQLite has one host) --- */

/* Is the store shared by several hosts (the PostgreSQL engine)? */
int	store_shared(struct store *st);
/* A host as it joins. */
struct store_host {
	const char	*host_id;
	const char	*version;
	int		 pid;
	int		 workers;
	int		 ttl_ms;	/* lease: the database's clock */
};
/*
 * Join as host h, a new term: 0, or -1 with *cause (another live host has
 * the id, or the database failed). Runs this host held in an earlier term
 * are fenced by store_rearm afterwards. SQLite: nothing to do, 0.
 */
int	store_host_join(struct store *st, const struct store_host *h,
	    char **cause);
/*
 * Renew this host's lease (ttl from join) on the database's clock: 1
 * renewed, 0 this host was reaped (its runs were taken over: stop them,
 * then join again), -1 the database could not be reached.
 */
int	store_host_beat(struct store *st, int runs_held, int workers);
/*
 * Reap hosts whose lease expired: delete them and release their runs
 * (fenced: lease_gen + 1), so that any host claims them. Calls cb for each
 * run released (owner is the dead host's). Runs released, or -1.
 */
int	store_hosts_reap(struct store *st, store_abandon_cb cb, void *arg);
/*
 * How many more runs this host should claim to hold its fair share of the
 * active runs (their count over the live hosts, rounded up), so that runs
 * spread over the hosts rather than going to whichever saw them first: a
 * count >= 0, -1 for no limit (SQLite: one host), or -2 on error.
 */
int	store_host_share(struct store *st);
/*
 * A 429 paused endpoint for ms: on a shared store every host holds back
 * (store_endpoint_paused); SQLite: nothing to share, 0.
 */
int	store_endpoint_pause(struct store *st, const char *endpoint,
	    int64_t ms);
/* How long endpoint stays paused by any host, ms (0 none, -1 error). */
int64_t	store_endpoint_paused(struct store *st, const char *endpoint);
/*
 * Word of new events between hosts of a shared store: queue that run n
 * has events up to last_seq (store_notify_progress), send the queue in one
 * statement outside any transaction (store_notify_flush, 0 or -1). Every
 * host listens on a connection of its own (store_listen: NULL and no
 * *cause on SQLite, which has no other host); store_listener_read calls
 * cb for each word that came, 0, or -1 if the connection broke (listen
 * again, and read every follower again: words may have been lost).
 */
typedef void (*store_progress_cb)(void *arg, int64_t n, int64_t last_seq);
struct store_listener;
void	store_notify_progress(struct store *st, int64_t n, int64_t last_seq);
int	store_notify_flush(struct store *st);
struct store_listener *store_listen(struct store *st, char **cause);
int	store_listener_fd(struct store_listener *l);
int	store_listener_read(struct store_listener *l, store_progress_cb cb,
	    void *arg);
void	store_listener_close(struct store_listener *l);
/* Every host: id, version, pid, heartbeat age, runs, workers. New ref. */
json_t	*store_hosts_json(struct store *st);
/* This host stops cleanly: its row goes; its runs stay for any host. */
void	store_host_leave(struct store *st);

/* Status and last_seq of run n; 0, or -1 if absent. */
int	store_run_state(struct store *st, int64_t n, char *status,
	    size_t len, int64_t *last_seq);
int64_t	 store_count_events(struct store *st);

#endif
