/*
 * The supervisor process: holds the database lock, re-arms leases at start,
 * forks and restarts workers, leases runs to them, abandons stale runs and
 * serves the local API (api.c, through struct api_host). The rest of agentd
 * sees supervisor_main().
 */
#ifndef AGENTD_SUPERVISOR_H
#define AGENTD_SUPERVISOR_H

#include <sys/types.h>

#include <stdint.h>

#include <jansson.h>

#include "config.h"
#include "msg.h"
#include "stats.h"

struct api;
struct bufferevent;
struct event;
struct event_base;
struct store;

struct child {
	pid_t			 pid;
	int			 instance;
	struct bufferevent	*bev;
	int			 alive;
	int			 ready;
	int			 restarts;
	int			 runs;
	int64_t			 started_mono;
	int64_t			 next_start_mono;
	int64_t			 last_hb_mono;
	char			 owner[80];	/* "w0"; "host/w0" shared */
	struct wstats		 stats;		/* last heartbeat's counters */
};

struct sup_metrics {
	uint64_t	worker_restarts;
	uint64_t	abandoned;
	uint64_t	assigned;
	uint64_t	finished;
	uint64_t	progress_frames;
};

struct sup {
	const struct agentd_config	*cfg;
	char				**argv;
	char				 exe[4096];
	struct event_base		*base;
	struct store			*st;
	struct api			*api;
	struct child			*children;
	int				 nchildren;
	struct event			*sched_ev;
	struct event			*tick_ev;
	struct event			*sig_ev[4];
	int				 sched_armed;
	int				 shutting_down;
	int64_t				 shutdown_deadline;
	int64_t				 started_ms;
	int				 lock_fd;
	int				 waits_fd;	/* store_waits_fd */
	struct sup_metrics		 m;
	struct wstats			 dead_stats;	/* of exited workers */
	int64_t				 paused_until;	/* mono ms: 429 */
	/*
	 * Recent times agentd itself held runs back (429 pauses, the store
	 * refusing writes), CLOCK_MONOTONIC ms: not counted as staleness.
	 */
	struct sup_hold {
		int64_t	start;
		int64_t	end;
	}				 holds[64];
	int				 nholds;
	/* A shared store (sup-host.c): this host's lease. */
	struct sup_host {
		int	 shared;
		int	 untrusted;	/* lease may be gone: hold still */
		int64_t	 trusted_until;	/* mono ms: last renewal + ttl - margin */
		int64_t	 next_beat;	/* mono ms */
		int64_t	 next_reap;	/* mono ms */
		struct event *notify_ev;	/* sends the queued words */
		int	 notify_armed;
	}				 host;
};

/* sup-host.c: join a shared store as a host, renew, reap, leave. */
int	sup_host_lock(struct sup *s, char **cause);
int	sup_host_join(struct sup *s, char **cause);
void	sup_host_tick(struct sup *s);
void	sup_host_leave(struct sup *s);
/* Raise the open-file soft limit to the hard one (each run holds one). */
void	sup_raise_nofile(void);
/* Tell the other hosts run n has events up to seq (-1: it ended). */
void	sup_host_note(struct sup *s, int64_t n, int64_t seq);

/* Record that runs were held back by agentd over [start, end] (mono ms). */
void	sup_hold(struct sup *s, int64_t start, int64_t end);
/* Milliseconds of [from, to] covered by holds (overlaps counted once). */
int64_t	sup_held_ms(const struct sup *s, int64_t from, int64_t to);

/* Sum of every worker's counters, living and dead. */
void	sup_stats(struct sup *s, struct wstats *out);

/* Run the supervisor until SIGTERM/SIGINT; returns the exit status. */
int	supervisor_main(const struct agentd_config *cfg, char **argv);
/* Assign runs soon (after a submit or resume). */
void	sup_schedule_soon(struct sup *s);
/* Tell the owner of run n (if any) to let go; cancel at the backend too. */
void	sup_drop(struct sup *s, int64_t n, const char *id, const char *owner,
	    const char *backend_id, int cancel);
/* The endpoint asked to wait ms: hold dispatch and every worker but one. */
void	sup_pause(struct sup *s, int64_t ms, struct child *except);
/* Send a frame to a worker. */
void	sup_send(struct child *c, enum msg_type type, json_t *body);
/* A child by owner tag ("w0"), or NULL. */
struct child *sup_child_by_owner(struct sup *s, const char *owner);

#endif
