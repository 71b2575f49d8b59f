/*
 * The supervisor as a host: its machine's open-file limit, the endpoint's
 * rate-limit pauses (shared by every host of a shared store), and, on a
 * shared (PostgreSQL) store, its part among several hosts:
 * it joins as a new term, renews its lease on the database's clock every
 * sixth of --lease-ttl, reaps hosts whose lease ran out (their runs go to
 * whoever claims them), and leaves cleanly at a stop. A host that cannot
 * renew in time holds still before its lease can run out: its workers are
 * stopped (no backend request starts, no write is attempted) until a
 * renewal works again; one that finds itself reaped stops what it held at
 * once and joins again as a new term.
 */
#include <sys/file.h>
#include <sys/resource.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <stdlib.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "log.h"
#include "msg.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "xmalloc.h"


#define REAP_EVERY_MS	1000	/* +-20%: a dead host's runs move soon */
#define NOTIFY_GATHER_MS	5	/* words sent together */

/*
 * One agentd per SQLite store: an exclusive lock on FILE.lock next to it.
 * A shared store keeps its hosts apart itself (sup_host_join).
 */
int
sup_host_lock(struct sup *s, char **cause)
{
	char	*path;

	if (store_is_pg(s->cfg->db_path))
		return 0;
	xasprintf(&path, "%s.lock", s->cfg->db_path);
	s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd == -1) {
		xasprintf(cause, "%s: %s", path, strerror(errno));
		free(path);
		return -1;
	}
	if (flock(s->lock_fd, LOCK_EX | LOCK_NB) == -1) {
		xasprintf(cause, "%s is in use by another agentd (lock %s "
		    "held)", s->cfg->db_path, path);
		free(path);
		return -1;
	}
	free(path);
	return 0;
}

/* Stop every worker now: its runs are no longer (surely) this host's. */
static void
host_stop_workers(struct sup *s, const char *why)
{
	int	i;

	log_warnx("%s: stopping this host's workers; they restart once the "
	    "lease is renewed", why);
	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].alive)
			kill(s->children[i].pid, SIGKILL);
}

static int
host_join(struct sup *s, char **cause)
{
	struct store_host	h = {
		.host_id = s->cfg->host_id,
		.version = AGENTD_VERSION,
		.pid = (int)getpid(),
		.workers = s->cfg->workers,
		.ttl_ms = (int)(s->cfg->lease_ttl_s * 1000),
	};
	int64_t			sent = util_mono_ms();

	if (store_host_join(s->st, &h, cause) != 0)
		return -1;
	s->host.trusted_until = sent + h.ttl_ms - h.ttl_ms / 3;
	s->host.next_beat = sent + h.ttl_ms / 6;
	s->host.untrusted = 0;
	return 0;
}

/* Send the words queued in the last few ms, in one statement. */
static void
host_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup	*s = arg;

	(void)fd;
	(void)what;
	s->host.notify_armed = 0;
	store_notify_flush(s->st);
}

/*
 * Queue word of run n's progress for the other hosts' followers: sent
 * within NOTIFY_GATHER_MS, many runs in one statement.
 */
void
sup_host_note(struct sup *s, int64_t n, int64_t seq)
{
	struct timeval	tv = { 0, NOTIFY_GATHER_MS * 1000 };

	if (!s->host.shared || s->base == NULL)
		return;
	if (s->host.notify_ev == NULL)
		s->host.notify_ev = evtimer_new(s->base, host_notify_cb, s);
	store_notify_progress(s->st, n, seq);
	if (!s->host.notify_armed) {
		s->host.notify_armed = 1;
		evtimer_add(s->host.notify_ev, &tv);
	}
}

int
sup_host_join(struct sup *s, char **cause)
{
	if (!store_shared(s->st))
		return 0;
	s->host.shared = 1;

	s->host.next_reap = util_mono_ms();
	return host_join(s, cause);
}

/* A run of a dead host was released: any host (this one too) claims it. */
static void
host_reaped_run(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id, int retried)
{
	(void)arg;
	(void)n;
	(void)backend_id;
	(void)retried;
	(void)owner;
	log_info("run %s: released from a dead host", id);
}

void
sup_host_tick(struct sup *s)
{
	int64_t	 ttl = s->cfg->lease_ttl_s * 1000, mono = util_mono_ms(), pause;
	int	 i, runs = 0, rc;
	char	*cause = NULL;

	if (!s->host.shared || s->shutting_down)
		return;
	if (mono >= s->host.next_beat) {
		for (i = 0; i < s->nchildren; i++)
			runs += s->children[i].runs;
		rc = store_host_beat(s->st, runs, s->nchildren);
		s->host.next_beat = mono + ttl / 6;
		if (rc == 1) {
			s->host.trusted_until = mono + ttl - ttl / 3;
			if (s->host.untrusted) {
				log_warnx("host %s: lease renewed; resuming",
				    s->cfg->host_id);
				s->host.untrusted = 0;
			}
		} else if (rc == 0) {
			/* Reaped (or expired): another host may hold our runs. */
			host_stop_workers(s, "this host's lease was lost");
			s->host.untrusted = 1;
			if (host_join(s, &cause) != 0) {
				log_warnx("%s", cause);
				free(cause);
			} else if (store_rearm(s->st) < 0)
				s->host.untrusted = 1;
		}
	}
	if (!s->host.untrusted && mono > s->host.trusted_until) {
		host_stop_workers(s, "the lease could not be renewed in time");
		s->host.untrusted = 1;
	}
	/* A 429 seen by another host holds this one back too. */
	if ((pause = store_endpoint_paused(s->st, s->cfg->endpoint)) > 0 &&
	    mono + pause > s->paused_until + 500)
		sup_pause(s, pause, NULL);
	if (mono >= s->host.next_reap) {
		s->host.next_reap = mono + REAP_EVERY_MS * 4 / 5 +
		    (int64_t)arc4random_uniform(REAP_EVERY_MS * 2 / 5);
		if (store_hosts_reap(s->st, host_reaped_run, s) > 0)
			sup_schedule_soon(s);
	}
}

void
sup_host_leave(struct sup *s)
{
	if (s->host.notify_ev != NULL) {
		event_free(s->host.notify_ev);
		s->host.notify_ev = NULL;
	}
	if (s->host.shared)
		store_host_leave(s->st);
}

/*
 * The endpoint asked us to wait ms (a 429, here or on another host): no
 * dispatch, and no new backend request from any worker but except (which
 * knows).
 */
void
sup_pause(struct sup *s, int64_t ms, struct child *except)
{
	int	i;

	sup_hold(s, util_mono_ms(), util_mono_ms() + ms);
	if (util_mono_ms() + ms <= s->paused_until)
		return;
	s->paused_until = util_mono_ms() + ms;
	log_warnx("endpoint rate-limited: no dispatch and no new backend "
	    "requests for %lld ms", (long long)ms);
	for (i = 0; i < s->nchildren; i++)
		if (&s->children[i] != except)
			sup_send(&s->children[i], MSG_PAUSE, json_pack("{sI}",
			    "pause_ms", (json_int_t)ms));
}

/*
 * Raise the open-file soft limit to the hard limit: each run in flight
 * holds a connection. Workers inherit it. Says so when the hard limit is
 * low for many concurrent runs.
 */
void
sup_raise_nofile(void)
{
	struct rlimit	rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t	old = rl.rlim_cur;

		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == 0)
			log_info("open-file limit raised from %llu to %llu",
			    (unsigned long long)old,
			    (unsigned long long)rl.rlim_cur);
	}
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 16384)
		log_warnx("open-file hard limit is %llu: at most about %llu "
		    "runs can stream at once; raise it (ulimit -Hn, LimitNOFILE=)",
		    (unsigned long long)rl.rlim_max,
		    (unsigned long long)(rl.rlim_max - 64));
}
