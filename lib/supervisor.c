/*
 * Supervisor: the parent of all workers. It never dies with a child: a dead
 * worker is logged, its leases are fenced and released, and it is restarted
 * with capped backoff while its runs go to the others (invariant 5). Leases
 * are re-armed at start (invariant 3); staleness is judged on the backend's
 * progress, not on worker liveness (invariant 4).
 */
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "api.h"
#include "log.h"
#include "msg.h"
#include "store.h"
#include "supervisor.h"
#include "util.h"
#include "xmalloc.h"

/*
 * Runs leased per round, each round to the least loaded worker: small
 * rounds split a burst of submissions evenly (one round of 129 gave one
 * worker 65% of a 200-run burst).
 */
#define ASSIGN_BATCH	16
#define WATCHDOG_MS	15000
#define LEASE_TTL_MS	30000
#define RESTART_MAX_MS	30000
#define RETRY_DELAY_MS	2000	/* before a run's next attempt */

static void	sup_spawn(struct sup *, struct child *);

/* Find a child by owner tag. */
struct child *
sup_child_by_owner(struct sup *s, const char *owner)
{
	int	i;

	if (owner == NULL)
		return NULL;
	for (i = 0; i < s->nchildren; i++)
		if (strcmp(s->children[i].owner, owner) == 0)
			return &s->children[i];
	return NULL;
}

void
sup_send(struct child *c, enum msg_type type, json_t *body)
{
	if (c->alive && c->bev != NULL)
		msg_write(bufferevent_get_output(c->bev), type, body);
	json_decref(body);
}

/* Record a hold interval; the oldest is forgotten when the ring is full. */
void
sup_hold(struct sup *s, int64_t start, int64_t end)
{
	int	n = (int)(sizeof s->holds / sizeof s->holds[0]);

	if (end <= start)
		return;
	if (s->nholds == n) {
		memmove(s->holds, s->holds + 1, sizeof s->holds[0] * (n - 1));
		s->nholds--;
	}
	s->holds[s->nholds].start = start;
	s->holds[s->nholds].end = end;
	s->nholds++;
}

/* Time within [from, to] covered by at least one hold. */
int64_t
sup_held_ms(const struct sup *s, int64_t from, int64_t to)
{
	int64_t	total = 0, cur = from, a, b;
	int	i, progressed = 1;

	/* Sweep forward: extend cur through holds that cover it. */
	while (cur < to && progressed) {
		int64_t next = to;

		progressed = 0;
		for (i = 0; i < s->nholds; i++) {
			a = s->holds[i].start > cur ? s->holds[i].start : cur;
			b = s->holds[i].end < to ? s->holds[i].end : to;
			if (a == cur && b > cur) {
				total += b - cur;
				cur = b;
				progressed = 1;
				break;
			}
			if (a > cur && a < next)
				next = a;
		}
		if (!progressed && next < to) {
			cur = next;
			progressed = 1;
		}
	}
	return total;
}

/* Sum the counters of every worker, living and dead. */
void
sup_stats(struct sup *s, struct wstats *out)
{
	int	i;

	*out = s->dead_stats;
	for (i = 0; i < s->nchildren; i++)
		stats_add(out, &s->children[i].stats);
}

/* Tell the owner of run n to let go of it. */
void
sup_drop(struct sup *s, int64_t n, const char *id, const char *owner,
    const char *backend_id, int cancel)
{
	struct child	*c = sup_child_by_owner(s, owner);
	int		 i;
	json_t		*b;

	if (c != NULL && c->runs > 0)
		c->runs--;
	if (c == NULL || !c->alive) {
		/* No owner: any live worker can send the backend cancel. */
		c = NULL;
		for (i = 0; i < s->nchildren && c == NULL; i++)
			if (s->children[i].alive && s->children[i].ready)
				c = &s->children[i];
		if (c == NULL || !cancel || backend_id == NULL)
			return;
	}
	/*
	 * Without a stored backend id the owner may still know it (a
	 * cancel that raced the create): it cancels with its own.
	 */
	b = json_pack("{sI ss sb}", "n", (json_int_t)n, "id", id, "cancel",
	    cancel);
	if (backend_id != NULL)
		json_object_set_new(b, "backend_id", json_string(backend_id));
	sup_send(c, MSG_DROP, b);
}

/* Lease unowned runs to the least loaded ready workers. */
static void
sup_schedule(struct sup *s)
{
	struct store_assign	 a[ASSIGN_BATCH];
	struct child		*best;
	int			 i, k, got, rounds, share;
	int64_t			 exp = util_mono_ms() + LEASE_TTL_MS;

	s->sched_armed = 0;
	if (s->shutting_down)
		return;
	if (s->paused_until > util_mono_ms())
		return;		/* the endpoint asked us to wait (429) */
	if (s->host.untrusted)
		return;		/* our lease may be gone (sup-host.c) */
	share = store_host_share(s->st);
	if (share == 0 || share == -2)
		return;		/* its share held, or the store failed */
	for (rounds = 0; rounds < 64; rounds++) {
		int	want = ASSIGN_BATCH;

		if (share > 0 && want > share)
			want = share;

		if (s->cfg->max_inflight > 0) {
			int inflight = store_inflight(s->st);

			if (inflight < 0 || inflight >= s->cfg->max_inflight)
				return;
			if (want > s->cfg->max_inflight - inflight)
				want = s->cfg->max_inflight - inflight;
		}
		best = NULL;
		for (i = 0; i < s->nchildren; i++) {
			struct child *c = &s->children[i];

			if (c->alive && c->ready &&
			    (best == NULL || c->runs < best->runs))
				best = c;
		}
		if (best == NULL)
			return;
		got = store_assign(s->st, best->owner, exp, a, want);
		if (got <= 0)
			return;
		for (k = 0; k < got; k++) {
			log_debug("run %s: leased to %s (generation %lld)",
			    a[k].id, best->owner, (long long)a[k].gen);
			sup_send(best, MSG_ASSIGN, json_pack("{sI sI}", "n",
			    (json_int_t)a[k].n, "gen", (json_int_t)a[k].gen));
		}
		best->runs += got;
		s->m.assigned += (uint64_t)got;
		if (share > 0 && (share -= got) <= 0)
			return;
	}
	sup_schedule_soon(s);
}

static void
sup_sched_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	sup_schedule(arg);
}

/* Assign runs on the next loop turn. */
void
sup_schedule_soon(struct sup *s)
{
	struct timeval	tv = { 0, 0 };

	if (!s->sched_armed) {
		s->sched_armed = 1;
		evtimer_add(s->sched_ev, &tv);
	}
}

/* A frame from worker c. */
static void
sup_dispatch_worker(struct sup *s, struct child *c, int type, json_t *b)
{
	json_int_t	n;

	c->last_hb_mono = util_mono_ms();
	switch (type) {
	case MSG_HELLO:
		c->ready = 1;
		log_info("worker %d ready (pid %ld)", c->instance,
		    (long)c->pid);
		sup_schedule_soon(s);
		break;
	case MSG_HEARTBEAT:
		if (json_is_object(json_object_get(b, "stats")))
			stats_from_json(&c->stats, json_object_get(b, "stats"));
		break;
	case MSG_PROGRESS:
		s->m.progress_frames++;
		n = json_integer_value(json_object_get(b, "n"));
		api_progress(s->api, n);
		sup_host_note(s, n, json_integer_value(json_object_get(b,
		    "last_seq")));
		break;
	case MSG_RATELIMIT: {
		json_int_t	ms = json_integer_value(json_object_get(b,
		    "pause_ms"));

		if (ms <= 0 || ms > 86400000)
			break;
		/* Every host of a shared store holds back too. */
		store_endpoint_pause(s->st, s->cfg->endpoint, ms);
		sup_pause(s, ms, c);
		break;
	}
	case MSG_HELD: {
		json_int_t	ms = json_integer_value(json_object_get(b, "ms"));

		if (ms > 0 && ms <= 30LL * 86400000)
			sup_hold(s, util_mono_ms() - ms, util_mono_ms());
		break;
	}
	case MSG_DONE:
		n = json_integer_value(json_object_get(b, "n"));
		if (c->runs > 0)
			c->runs--;
		s->m.finished++;
		api_progress(s->api, n);
		sup_host_note(s, n, -1);
		sup_schedule_soon(s);
		break;
	default:
		log_warnx("worker %d: unknown frame type %d; restarting it",
		    c->instance, type);
		kill(c->pid, SIGKILL);
		break;
	}
}

static struct child *
sup_child_by_bev(struct sup *s, struct bufferevent *bev)
{
	int	i;

	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].bev == bev)
			return &s->children[i];
	return NULL;
}

static void
sup_read_cb(struct bufferevent *bev, void *arg)
{
	struct sup	*s = arg;
	struct child	*c = sup_child_by_bev(s, bev);
	json_t		*b;
	int		 type, rc;
	char		*cause = NULL;

	if (c == NULL)
		return;
	while ((rc = msg_read(bufferevent_get_input(bev), &type, &b,
	    &cause)) == 1) {
		sup_dispatch_worker(s, c, type, b);
		json_decref(b);
	}
	if (rc < 0) {
		log_warnx("worker %d: bad frame: %s; restarting it",
		    c->instance, cause);
		free(cause);
		kill(c->pid, SIGKILL);
	}
}

static void
sup_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct sup	*s = arg;
	struct child	*c = sup_child_by_bev(s, bev);

	if (c != NULL && (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))) {
		/* The process is reaped by SIGCHLD; stop reading it. */
		bufferevent_free(c->bev);
		c->bev = NULL;
		c->ready = 0;
	}
}

/* Fork and exec worker c on a socketpair at fd 3. */
static void
sup_spawn(struct sup *s, struct child *c)
{
	int	 sv[2], argc, i;
	char	**argv, inst[16];
	pid_t	 pid;

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("socketpair");
		c->next_start_mono = util_mono_ms() + 1000;
		return;
	}
	for (argc = 0; s->argv[argc] != NULL; argc++)
		;
	argv = xcalloc((size_t)argc + 3, sizeof *argv);
	for (i = 0; i < argc; i++)
		argv[i] = s->argv[i];
	snprintf(inst, sizeof inst, "%d", c->instance);
	argv[argc] = (char *)"--worker";
	argv[argc + 1] = inst;
	switch ((pid = fork())) {
	case -1:
		log_warn("fork");
		close(sv[0]);
		close(sv[1]);
		free(argv);
		c->next_start_mono = util_mono_ms() + 1000;
		return;
	case 0:
		/* Workers die with the supervisor (invariant 5). */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() == 1)
			_exit(1);
		if (dup2(sv[1], 3) == -1)
			_exit(1);
		/* fd 4: the writer waits (store_waits_fd), if any. */
		if (s->waits_fd != -1 ? dup2(s->waits_fd, 4) == -1 :
		    close(4) == -1 && errno != EBADF)
			_exit(1);
		execv(s->exe, argv);
		_exit(127);
	default:
		break;
	}
	free(argv);
	close(sv[1]);
	evutil_make_socket_nonblocking(sv[0]);
	c->pid = pid;
	c->alive = 1;
	c->ready = 0;
	c->runs = 0;
	c->started_mono = c->last_hb_mono = util_mono_ms();
	c->bev = bufferevent_socket_new(s->base, sv[0], BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, sup_read_cb, NULL, sup_event_cb, s);
	bufferevent_enable(c->bev, EV_READ);
	log_info("worker %d started (pid %ld)", c->instance, (long)pid);
}

static void
sup_describe_status(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exited with status %d",
		    WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, len, "stopped (status 0x%x)", status);
}

/* Reap dead workers, fence their leases, plan restarts. */
static void
sup_reap(struct sup *s)
{
	pid_t	 pid;
	int	 status, i, released;
	char	 what[128];
	int64_t	 delay, lived;

	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		for (i = 0; i < s->nchildren; i++)
			if (s->children[i].pid == pid && s->children[i].alive)
				break;
		if (i == s->nchildren)
			continue;
		struct child *c = &s->children[i];

		sup_describe_status(status, what, sizeof what);
		stats_add(&s->dead_stats, &c->stats);
		memset(&c->stats, 0, sizeof c->stats);
		c->alive = c->ready = 0;
		c->runs = 0;
		if (c->bev != NULL) {
			bufferevent_free(c->bev);
			c->bev = NULL;
		}
		released = store_release_owner(s->st, c->owner);
		if (s->shutting_down) {
			log_info("worker %d (pid %ld) %s", c->instance,
			    (long)pid, what);
			continue;
		}
		lived = util_mono_ms() - c->started_mono;
		if (lived > 60000)
			c->restarts = 0;
		delay = 250;
		for (int k = 0; k < c->restarts && delay < RESTART_MAX_MS; k++)
			delay *= 2;
		if (delay > RESTART_MAX_MS)
			delay = RESTART_MAX_MS;
		c->restarts++;
		s->m.worker_restarts++;
		c->next_start_mono = util_mono_ms() + delay;
		log_warnx("worker %d (pid %ld) %s; %d runs handed to other "
		    "workers, restart in %lld ms", c->instance, (long)pid,
		    what, released > 0 ? released : 0, (long long)delay);
		sup_schedule_soon(s);
	}
}

static void
sup_abandoned(void *arg, int64_t n, const char *id, const char *owner,
    const char *backend_id, int retried)
{
	struct sup	*s = arg;

	s->m.abandoned++;
	log_warnx("run %s: %s: no progress from the backend for %lds%s", id,
	    retried ? "stale, retrying as a new attempt" : "abandoned",
	    s->cfg->stale_after_s, s->cfg->cancel_abandoned &&
	    backend_id != NULL ? "; cancelling at the backend" : "");
	sup_drop(s, n, id, owner, backend_id, s->cfg->cancel_abandoned);
	api_progress(s->api, n);
}

/* Once a second: restarts, watchdog, stale runs, lease renewal. */
static void
sup_tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct sup	*s = arg;
	int64_t		 mono = util_mono_ms();
	int		 i, alive = 0;

	(void)fd;
	(void)what;
	sup_reap(s);
	sup_host_tick(s);
	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		if (c->alive) {
			alive++;
			if (mono - c->last_hb_mono > WATCHDOG_MS) {
				log_warnx("worker %d (pid %ld) silent for %ds; "
				    "killing it", c->instance, (long)c->pid,
				    WATCHDOG_MS / 1000);
				kill(c->pid, SIGKILL);
			} else if (c->ready)
				store_renew(s->st, c->owner,
				    mono + LEASE_TTL_MS);
		} else if (!s->shutting_down && !s->host.untrusted &&
		    mono >= c->next_start_mono)
			sup_spawn(s, c);
	}
	if (s->shutting_down) {
		if (alive == 0 || mono > s->shutdown_deadline) {
			for (i = 0; i < s->nchildren; i++)
				if (s->children[i].alive)
					kill(s->children[i].pid, SIGKILL);
			event_base_loopexit(s->base, NULL);
		}
		return;
	}
	/*
	 * Invariant 4: staleness is the backend's lack of progress. Time
	 * agentd held runs back itself (429 pauses, store outages) within
	 * the window does not count, so the window grows by it.
	 */
	{
		int64_t	stale = s->cfg->stale_after_s * 1000, held;

		held = sup_held_ms(s, mono - stale, mono);
		held = sup_held_ms(s, mono - stale - held, mono);
		store_abandon_stale(s->st, util_now_ms(), stale + held,
		    RETRY_DELAY_MS, sup_abandoned, s);
	}
	sup_schedule_soon(s);
}

static void
sup_signal_cb(evutil_socket_t sig, short what, void *arg)
{
	struct sup	*s = arg;
	int		 i;

	(void)what;
	if (sig == SIGCHLD) {
		sup_reap(s);
		if (s->shutting_down) {
			for (i = 0; i < s->nchildren; i++)
				if (s->children[i].alive)
					return;
			event_base_loopexit(s->base, NULL);
		}
		return;
	}
	if (s->shutting_down) {
		log_info("second signal: stopping now");
		for (i = 0; i < s->nchildren; i++)
			if (s->children[i].alive)
				kill(s->children[i].pid, SIGKILL);
		event_base_loopexit(s->base, NULL);
		return;
	}
	log_info("%s: stopping; runs stay resumable", strsignal((int)sig));
	s->shutting_down = 1;
	s->shutdown_deadline = util_mono_ms() + 5000;
	api_shutdown(s->api);
	for (i = 0; i < s->nchildren; i++)
		if (s->children[i].alive) {
			sup_send(&s->children[i], MSG_SHUTDOWN, json_object());
			kill(s->children[i].pid, SIGTERM);
		}
}

/* The supervisor process body. */
/* The API's host: assign soon. */
static void
host_schedule_soon(void *ctx)
{
	sup_schedule_soon(ctx);
}

/* The API's host: let a run go, at the worker and maybe the backend. */
static void
host_drop(void *ctx, int64_t n, const char *id, const char *owner,
    const char *backend_id, int cancel)
{
	sup_drop(ctx, n, id, owner, backend_id, cancel);
}

/* The API's host: every worker's counters. */
static void
host_stats(void *ctx, struct wstats *out)
{
	sup_stats(ctx, out);
}

/* The API's host: the workers for /v1/health. */
static json_t *
host_workers(void *ctx)
{
	struct sup	*s = ctx;
	json_t		*workers = json_array();
	int		 i;

	for (i = 0; i < s->nchildren; i++) {
		struct child *c = &s->children[i];

		json_array_append_new(workers, json_pack("{si sI si si sb}",
		    "instance", c->instance, "pid", (json_int_t)c->pid,
		    "runs", c->runs, "restarts", c->restarts, "alive",
		    c->alive && c->ready));
	}
	return workers;
}

/* The API's host: the supervisor's own Prometheus lines. */
static void
host_metrics(void *ctx, struct evbuffer *b)
{
	struct sup	*s = ctx;
	int		 i, alive = 0;

	for (i = 0; i < s->nchildren; i++)
		alive += s->children[i].alive;
	evbuffer_add_printf(b, "# TYPE agentd_workers gauge\n"
	    "agentd_workers %d\n"
	    "# TYPE agentd_worker_restarts_total counter\n"
	    "agentd_worker_restarts_total %llu\n"
	    "# TYPE agentd_runs_assigned_total counter\n"
	    "agentd_runs_assigned_total %llu\n"
	    "# TYPE agentd_runs_finished_total counter\n"
	    "agentd_runs_finished_total %llu\n"
	    "# TYPE agentd_runs_abandoned_total counter\n"
	    "agentd_runs_abandoned_total %llu\n", alive,
	    (unsigned long long)s->m.worker_restarts,
	    (unsigned long long)s->m.assigned,
	    (unsigned long long)s->m.finished,
	    (unsigned long long)s->m.abandoned);
}

/* The API's host: stopping? */
static int
host_stopping(void *ctx)
{
	return ((struct sup *)ctx)->shutting_down;
}

static const struct api_host_ops sup_api_ops = {
	.schedule_soon = host_schedule_soon,
	.drop = host_drop,
	.stats = host_stats,
	.workers = host_workers,
	.metrics = host_metrics,
	.stopping = host_stopping,
};

int
supervisor_main(const struct agentd_config *cfg, char **argv)
{
	struct sup	 s;
	struct api_host	 host;
	struct timeval	 one = { 1, 0 };
	char		*cause = NULL, *desc = NULL;
	ssize_t		 len;
	int		 i, rc, ret = 1;
	static const int sigs[] = { SIGCHLD, SIGTERM, SIGINT, SIGHUP };

	memset(&s, 0, sizeof s);
	s.cfg = cfg;
	s.argv = argv;
	s.lock_fd = -1;
	s.waits_fd = -1;
	s.started_ms = util_now_ms();
	log_setrole("supervisor");
	signal(SIGPIPE, SIG_IGN);
	sup_raise_nofile();
	len = readlink("/proc/self/exe", s.exe, sizeof s.exe - 1);
	if (len <= 0)
		snprintf(s.exe, sizeof s.exe, "%s", argv[0]);
	else
		s.exe[len] = '\0';
	if (sup_host_lock(&s, &cause) != 0)
		goto out;
	if ((s.st = store_open(cfg->db_path, &cause)) == NULL)
		goto out;
	desc = store_describe(cfg->db_path);
	store_set_endpoint(s.st, cfg->endpoint);
	store_set_max_inflight(s.st, cfg->max_inflight);
	/* Keep the loop (API, reaping) responsive when another process
	 * holds the write lock; failed writes are retried next tick. */
	store_set_busy_timeout(s.st, 2000);
	/* The workers checkpoint; this is only a safety net (store.c). */
	store_set_autocheckpoint(s.st, 16384);
	/* Its waits for the lock make the workers yield (store.c). */
	if (!store_shared(s.st) &&
	    ((s.waits_fd = store_waits_fd()) == -1 ||
	    store_waits_attach(s.st, s.waits_fd, 1) != 0))
		log_warn("writer waits not shared; workers will not yield");
	if (sup_host_join(&s, &cause) != 0)
		goto out;
	/* Invariant 3: leases from a previous life are fenced. */
	if ((rc = store_rearm(s.st)) < 0) {
		xasprintf(&cause, "cannot re-arm leases in %s", desc);
		goto out;
	}
	if (rc > 0)
		log_info("%d unfinished runs in the store will be resumed", rc);
	s.base = event_base_new();
	host.cfg = cfg;
	host.st = s.st;
	host.base = s.base;
	host.started_ms = s.started_ms;
	host.ops = &sup_api_ops;
	host.ctx = &s;
	if ((s.api = api_start(&host, &cause)) == NULL)
		goto out;
	s.nchildren = cfg->workers;
	s.children = xcalloc((size_t)s.nchildren, sizeof *s.children);
	for (i = 0; i < s.nchildren; i++) {
		s.children[i].instance = i;
		if (s.host.shared)
			snprintf(s.children[i].owner,
			    sizeof s.children[i].owner, "%s/w%d",
			    cfg->host_id, i);
		else
			snprintf(s.children[i].owner,
			    sizeof s.children[i].owner, "w%d", i);
	}
	s.sched_ev = evtimer_new(s.base, sup_sched_cb, &s);
	s.tick_ev = event_new(s.base, -1, EV_PERSIST, sup_tick_cb, &s);
	event_add(s.tick_ev, &one);
	for (i = 0; i < 4; i++) {
		s.sig_ev[i] = evsignal_new(s.base, sigs[i], sup_signal_cb, &s);
		event_add(s.sig_ev[i], NULL);
	}
	for (i = 0; i < s.nchildren; i++)
		sup_spawn(&s, &s.children[i]);
	log_info("agentd %s serving %s on %s (store %s, %d workers)",
	    AGENTD_VERSION, cfg->endpoint, cfg->socket_path, desc,
	    cfg->workers);
	event_base_dispatch(s.base);
	sup_reap(&s);
	sup_host_leave(&s);
	ret = 0;
out:
	if (cause != NULL) {
		log_warnx("%s", cause);
		fprintf(stderr, "agentd: %s\n", cause);
		free(cause);
	}
	api_stop(s.api);
	for (i = 0; i < s.nchildren; i++)
		if (s.children[i].bev != NULL)
			bufferevent_free(s.children[i].bev);
	free(s.children);
	if (s.sched_ev != NULL)
		event_free(s.sched_ev);
	if (s.tick_ev != NULL)
		event_free(s.tick_ev);
	for (i = 0; i < 4; i++)
		if (s.sig_ev[i] != NULL)
			event_free(s.sig_ev[i]);
	if (s.base != NULL)
		event_base_free(s.base);
	store_close(s.st);
	free(desc);
	if (s.lock_fd != -1)
		close(s.lock_fd);
	return ret;
}
