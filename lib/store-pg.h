/*
 * The PostgreSQL engine of the run store: what store.c, store-sched.c and
 * store-read.c hand a call to when the store was opened on a libpq
 * conninfo or URI instead of a file. Each pgs_* function does what its
 * store_* namesake in store.h documents, with the same results; the SQL
 * lives here (store-pg*.c), never in callers. Internal to the store.
 *
 * store-pg.c: the connection, migrations (schema/pg/, under an advisory
 * lock), transactions and the helpers below; store-pg-write.c: a run's
 * insert and the workers' writes; store-pg-sched.c: leases, claims,
 * retries, cancel, resume, prune; store-pg-read.c: the API's reads.
 */
#ifndef AGENTD_STORE_PG_H
#define AGENTD_STORE_PG_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "store.h"

struct pgstore {
	PGconn		*conn;
	char		*conninfo;	/* as given: may name a passfile */
	char		*endpoint;	/* stamped on runs without one */
	int		 max_inflight;	/* --max-inflight, for reads */
	int		 in_txn;
	int		 timeout_ms;	/* statement_timeout */
	char		 sqlstate[6];	/* of the last failed statement */
	int		 broken;	/* dropped: no answer in time */
	int64_t		 retry_mono;	/* no reconnect before (mono ms) */
	/*
	 * The host this process serves (agentd's --host-id) and its term
	 * (hosts.epoch), set once it joined; host_id NULL in tools that open
	 * the store without being a host (agentctl's offline commands).
	 * Claims stamp runs with both; rearm and inflight count only this
	 * host's; queue limits count every host's.
	 */
	char		*host_id;
	int64_t		 epoch;
	int		 ttl_ms;	/* this host's lease */
	/*
	 * The database's clock minus this host's (ms), measured at connect
	 * and every 30 s: every time the engine writes or compares is the
	 * database's, so a host whose clock is off neither abandons others'
	 * runs as stale nor has its own look fresh forever.
	 */
	int64_t		 clock_offset;
	int64_t		 clock_mono;	/* when it was measured */
	/* Progress to tell the other hosts (store-pg-notify.c). */
	struct pgs_note {
		int64_t	 n;
		int64_t	 seq;
	}		*notify;
	size_t		 nnotify;
};

/* Connect, migrate, check the schema; NULL with *cause on failure. */
struct pgstore *pgs_open(const char *conninfo, char **cause);

/*
 * Run sql with n text parameters (NULL is SQL NULL). Returns the result
 * (PGRES_COMMAND_OK or PGRES_TUPLES_OK; PQclear it), or NULL on error,
 * which is logged with what (never the conninfo). A lost connection is
 * reset on the next call made outside a transaction.
 */
PGresult *pgs_exec(struct pgstore *ps, const char *what, const char *sql,
	    int n, const char *const *params);
/* As pgs_exec, for statements whose rows are not needed: rows or -1. */
int64_t	 pgs_cmd(struct pgstore *ps, const char *what, const char *sql,
	    int n, const char *const *params);
/* Integer parameter text (buf of 24 bytes). */
const char *pgs_i64(char *buf, int64_t v);
/* Column access: an integer (def if NULL), a copy (NULL if NULL). */
int64_t	 pgs_int(const PGresult *r, int row, int col, int64_t def);
char	*pgs_dup(const PGresult *r, int row, int col);
/* A text column parsed as JSON (NULL if NULL or not JSON); new ref. */
json_t	*pgs_json(const PGresult *r, int row, int col);
/* Now on the database's clock (unix ms); a host time on it. */
int64_t	 pgs_now(struct pgstore *ps);
int64_t	 pgs_rebase(struct pgstore *ps, int64_t host_ms);
/*
 * A text[] or bigint[] literal built for one parameter: open, elements
 * (a text element always quoted with '\\' and '"' escaped, so that empty
 * strings, the word NULL, braces, commas and blanks are taken as they
 * are; s NULL is SQL NULL), close; pgs_arr_add appends raw bytes (the
 * buffer serves as a plain string builder too). Free p when done.
 */
struct pgs_arr {
	char	*p;
	size_t	 len, cap;
};
void	 pgs_arr_add(struct pgs_arr *a, const char *s, size_t len);
void	 pgs_arr_open(struct pgs_arr *a);
void	 pgs_arr_text(struct pgs_arr *a, const char *s, size_t len);
void	 pgs_arr_int(struct pgs_arr *a, int64_t v);
const char *pgs_arr_close(struct pgs_arr *a);
/* *cause for a failed statement of what, by its SQLSTATE (busy, down). */
void	 pgs_cause(struct pgstore *ps, const char *what, char **cause);
/* SQLSTATE of the last failed pgs_exec, or "" (e.g. 23505, 40001). */
const char *pgs_sqlstate(struct pgstore *ps);

/* store-pg.c */
void	pgs_set_busy_timeout(struct pgstore *ps, int ms);
void	pgs_close(struct pgstore *ps);
int	pgs_begin(struct pgstore *ps);
int	pgs_commit(struct pgstore *ps);
void	pgs_rollback(struct pgstore *ps);
void	pgs_set_endpoint(struct pgstore *ps, const char *endpoint);
void	pgs_set_max_inflight(struct pgstore *ps, int max);

/* store-pg-write.c */
int	pgs_row_load(struct pgstore *ps, int64_t n, int64_t gen,
	    struct run_row *r);
int	pgs_run_insert(struct pgstore *ps, const struct run_new *rn, char *id,
	    size_t idlen, int *created, char **cause);
int	pgs_events_append(struct pgstore *ps, int64_t n, int64_t gen,
	    const struct store_event *ev, size_t nev, int64_t last_seq,
	    int64_t now);
int	pgs_run_patch(struct pgstore *ps, int64_t n, int64_t gen,
	    const struct run_patch *p);
int	pgs_run_released(struct pgstore *ps, int64_t n, int64_t gen,
	    const char *reason, int64_t until);
char	*pgs_delta_text(struct pgstore *ps, int64_t n);
int	pgs_caps_get(struct pgstore *ps, const char *endpoint,
	    struct endpoint_caps *c);
int	pgs_caps_set(struct pgstore *ps, const char *endpoint,
	    const char *what, int value);

/* store-pg-sched.c */
int	pgs_rearm(struct pgstore *ps);
int	pgs_release_owner(struct pgstore *ps, const char *owner);
int	pgs_assign(struct pgstore *ps, const char *owner, int64_t expires,
	    struct store_assign *out, int max);
int	pgs_inflight(struct pgstore *ps);
int	pgs_attempt_end(struct pgstore *ps, int64_t n, const char *status,
	    int error_status, const char *error_message);
int	pgs_run_retry(struct pgstore *ps, int64_t n, int64_t gen,
	    const char *status, int error_status, const char *error_message,
	    int64_t delay_ms);
int	pgs_renew(struct pgstore *ps, const char *owner, int64_t expires);
int	pgs_abandon_stale(struct pgstore *ps, int64_t now, int64_t stale_ms,
	    int64_t retry_ms, store_abandon_cb cb, void *arg);
int	pgs_resume(struct pgstore *ps, const char *id, const char **msg);
json_t	*pgs_resume_stale(struct pgstore *ps);
int	pgs_cancel(struct pgstore *ps, const char *id, int64_t *n,
	    char **owner, char **backend_id, char **endpoint,
	    const char **msg);
int	pgs_prune_slice(struct pgstore *ps, int64_t cutoff, int64_t *from,
	    int max);
int	pgs_run_delete(struct pgstore *ps, const char *id);

/* store-pg-hosts.c */
int	pgs_host_join(struct pgstore *ps, const struct store_host *h,
	    char **cause);
int	pgs_host_beat(struct pgstore *ps, int runs_held, int workers);
int	pgs_hosts_reap(struct pgstore *ps, store_abandon_cb cb, void *arg);
json_t	*pgs_hosts_json(struct pgstore *ps);
int	pgs_host_share(struct pgstore *ps);
int	pgs_endpoint_pause(struct pgstore *ps, const char *endpoint,
	    int64_t ms);
int64_t	pgs_endpoint_paused(struct pgstore *ps, const char *endpoint);
void	pgs_host_leave(struct pgstore *ps);

/* store-pg-notify.c */
void	pgs_notify_progress(struct pgstore *ps, int64_t n, int64_t last_seq);
int	pgs_notify_flush(struct pgstore *ps);
struct store_listener *pgs_listen(struct pgstore *ps, char **cause);

/* store-pg-read.c */
json_t	*pgs_run_json(struct pgstore *ps, const char *id);
int64_t	pgs_run_n(struct pgstore *ps, const char *id);
char	*pgs_run_list(struct pgstore *ps, const char *status,
	    const char *queue, int64_t since, const char *after, int limit,
	    size_t *len, char **cause);
int	pgs_events_each(struct pgstore *ps, int64_t n, int64_t after,
	    int limit, store_event_cb cb, void *arg);
json_t	*pgs_events_json(struct pgstore *ps, const char *id, int64_t after,
	    int limit, int raw, int64_t *next);
json_t	*pgs_result_json(struct pgstore *ps, const char *id);
json_t	*pgs_counts_json(struct pgstore *ps);
int	pgs_run_state(struct pgstore *ps, int64_t n, char *status, size_t len,
	    int64_t *last_seq);
int64_t	pgs_count_events(struct pgstore *ps);
json_t	*pgs_waiting_json(struct pgstore *ps);
int	pgs_run_view(struct pgstore *ps, const char *id, struct run_view *v);

#endif
