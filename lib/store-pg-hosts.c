/*
 * The PostgreSQL store: hosts. Each agentd host has one row in hosts with
 * a term (epoch, from a sequence) and a lease whose expiry is the
 * database's clock (clock_timestamp()), never a host's: a host whose clock
 * is an hour off neither steals nor loses anything. A host renews its row;
 * any host deletes rows past their expiry and releases their runs, fenced
 * (lease_gen + 1), for any host to claim and resume from their cursor.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

/* This machine's boot: a dead predecessor on it can be told apart. */
static void
boot_id(char *buf, size_t len)
{
	FILE	*f = fopen("/proc/sys/kernel/random/boot_id", "r");

	buf[0] = '\0';
	if (f == NULL)
		return;
	if (fgets(buf, (int)len, f) == NULL)
		buf[0] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	fclose(f);
}

/*
 * Is the live row of host_id held by someone else? A row from this boot
 * of this machine whose process is gone is a predecessor killed before it
 * could leave (kill -9): it is taken over at once, not after its TTL.
 */
static int
held_elsewhere(const PGresult *r, const char *mine, int mypid, char **cause,
    const char *host_id)
{
	int	 pid = (int)pgs_int(r, 0, 0, 0);
	int64_t	 age = pgs_int(r, 0, 2, 0), left = pgs_int(r, 0, 3, 0);

	if (strcmp(PQgetvalue(r, 0, 4), mine) == 0 && *mine != '\0') {
		if (pid == mypid || (kill(pid, 0) == -1 && errno == ESRCH))
			return 0;
		xasprintf(cause, "host id '%s' is held by another agentd on "
		    "this machine (pid %d); give each its own --host-id",
		    host_id, pid);
		return 1;
	}
	xasprintf(cause, "host id '%s' is held by a live agentd on another "
	    "machine (pid %d there, version %s, heartbeat %" PRId64 " ms "
	    "ago, lease for %" PRId64 " ms more): give each host its own "
	    "--host-id, or, if that host is dead, wait for its lease to run "
	    "out", host_id, pid, PQgetvalue(r, 0, 1), age, left);
	return 1;
}

int
pgs_host_join(struct pgstore *ps, const struct store_host *h, char **cause)
{
	PGresult	*r;
	char		 boot[64], pid[24], ttl[24], workers[24];
	const char	*p[6];
	int		 busy;

	boot_id(boot, sizeof boot);
	if (pgs_begin(ps) != 0) {
		xasprintf(cause, "PostgreSQL: cannot join as host '%s'",
		    h->host_id);
		return -1;
	}
	p[0] = h->host_id;
	r = pgs_exec(ps, "host join", "SELECT pid, version, (extract(epoch "
	    "FROM clock_timestamp() - heartbeat_at) * 1000)::bigint, "
	    "(extract(epoch FROM expires_at - clock_timestamp()) * 1000)"
	    "::bigint, boot_id FROM hosts WHERE host_id = $1 AND "
	    "expires_at > clock_timestamp() FOR UPDATE", 1, p);
	if (r == NULL)
		goto fail;
	busy = PQntuples(r) == 1 && held_elsewhere(r, boot, h->pid, cause,
	    h->host_id);
	PQclear(r);
	if (busy) {
		pgs_rollback(ps);
		return -1;
	}
	p[1] = h->version;
	p[2] = pgs_i64(pid, h->pid);
	p[3] = boot;
	p[4] = pgs_i64(workers, h->workers);
	p[5] = pgs_i64(ttl, h->ttl_ms);
	r = pgs_exec(ps, "host join", "INSERT INTO hosts (host_id, epoch, "
	    "version, pid, boot_id, workers, started_at, heartbeat_at, "
	    "expires_at) VALUES ($1, nextval('host_epoch'), $2, $3, $4, $5, "
	    "clock_timestamp(), clock_timestamp(), clock_timestamp() + "
	    "make_interval(secs => $6::bigint / 1000.0)) ON CONFLICT (host_id) "
	    "DO UPDATE SET epoch = EXCLUDED.epoch, version = EXCLUDED.version, "
	    "pid = EXCLUDED.pid, boot_id = EXCLUDED.boot_id, workers = "
	    "EXCLUDED.workers, runs_held = 0, started_at = EXCLUDED.started_at, "
	    "heartbeat_at = EXCLUDED.heartbeat_at, expires_at = "
	    "EXCLUDED.expires_at RETURNING epoch", 6, p);
	if (r == NULL || PQntuples(r) != 1) {
		PQclear(r);
		goto fail;
	}
	ps->epoch = pgs_int(r, 0, 0, 0);
	PQclear(r);
	if (pgs_commit(ps) != 0)
		goto fail;
	free(ps->host_id);
	ps->host_id = xstrdup(h->host_id);
	ps->ttl_ms = h->ttl_ms;
	log_info("store: joined as host %s, term %" PRId64 " (lease %d ms on "
	    "the database's clock)", h->host_id, ps->epoch, h->ttl_ms);
	return 0;
fail:
	pgs_rollback(ps);
	xasprintf(cause, "PostgreSQL: cannot join as host '%s' (%s)",
	    h->host_id, *pgs_sqlstate(ps) != '\0' ? pgs_sqlstate(ps) :
	    "no answer");
	return -1;
}

int
pgs_host_beat(struct pgstore *ps, int runs_held, int workers)
{
	char		 e[24], ttl[24], runs[24], w[24];
	const char	*p[5];
	int64_t		 rows;

	if (ps->host_id == NULL)
		return 1;
	p[0] = ps->host_id;
	p[1] = pgs_i64(e, ps->epoch);
	p[2] = pgs_i64(ttl, ps->ttl_ms);
	p[3] = pgs_i64(runs, runs_held);
	p[4] = pgs_i64(w, workers);
	rows = pgs_cmd(ps, "host heartbeat", "UPDATE hosts SET heartbeat_at "
	    "= clock_timestamp(), expires_at = clock_timestamp() + "
	    "make_interval(secs => $3::bigint / 1000.0), runs_held = $4, "
	    "workers = $5 WHERE host_id = $1 AND epoch = $2 AND expires_at > "
	    "clock_timestamp()", 5, p);
	if (rows < 0)
		return -1;
	return rows == 1;
}

int
pgs_hosts_reap(struct pgstore *ps, store_abandon_cb cb, void *arg)
{
	PGresult	*r;
	json_t		*dead;
	char		 now[24], *ids;
	const char	*p[2];
	int		 i, n;

	/*
	 * Two statements in one transaction: the DELETE waits for a claim
	 * holding the host's row (a key-share lock) to commit, and the
	 * UPDATE, a new snapshot under READ COMMITTED, then sees the runs
	 * that claim took, so none stays leased to a dead host.
	 */
	if (pgs_begin(ps) != 0)
		return -1;
	r = pgs_exec(ps, "reap hosts", "DELETE FROM hosts WHERE expires_at < "
	    "clock_timestamp() RETURNING host_id", 0, NULL);
	if (r == NULL || PQntuples(r) == 0) {
		PQclear(r);
		pgs_rollback(ps);
		return r == NULL ? -1 : 0;
	}
	dead = json_array();
	for (i = 0; i < PQntuples(r); i++)
		json_array_append_new(dead, json_string(PQgetvalue(r, i, 0)));
	PQclear(r);
	ids = json_dumps(dead, JSON_COMPACT);
	p[0] = pgs_i64(now, pgs_now(ps));
	p[1] = ids;
	r = pgs_exec(ps, "reap hosts", "UPDATE runs SET lease_owner = NULL, "
	    "lease_host = NULL, lease_epoch = NULL, lease_expires = NULL, "
	    "lease_gen = lease_gen + 1, wait_reason = NULL, wait_until = NULL, "
	    "wait_tries = 0, released_at = $1, updated_at = $1 WHERE lease_host "
	    "IN (SELECT json_array_elements_text($2::json)) RETURNING n, id, "
	    "backend_id", 2, p);
	free(ids);
	if (r == NULL) {
		pgs_rollback(ps);
		json_decref(dead);
		return -1;
	}
	n = PQntuples(r);
	/* Nothing between the DELETE and here but the UPDATE: a host
	   frozen inside holds the others' rows (and the server ends it). */
	if (pgs_commit(ps) != 0) {
		PQclear(r);
		json_decref(dead);
		return -1;
	}
	for (i = 0; i < (int)json_array_size(dead); i++)
		log_warnx("store: host %s missed its lease; its runs go to the "
		    "live hosts", json_string_value(json_array_get(dead, i)));
	json_decref(dead);
	for (i = 0; cb != NULL && i < n; i++)
		cb(arg, pgs_int(r, i, 0, 0), PQgetvalue(r, i, 1), NULL,
		    PQgetisnull(r, i, 2) ? NULL : PQgetvalue(r, i, 2), 0);
	PQclear(r);
	return n;
}

int
pgs_host_share(struct pgstore *ps)
{
	PGresult	*r;
	const char	*p[1];
	int64_t		 hosts, active, mine, share;

	if (ps->host_id == NULL)
		return -1;
	p[0] = ps->host_id;
	r = pgs_exec(ps, "fair share", "SELECT (SELECT count(*) FROM hosts "
	    "WHERE expires_at > clock_timestamp()), (SELECT count(*) FROM runs "
	    "WHERE status IN " ACTIVE_SQL "), (SELECT count(*) FROM runs WHERE "
	    "lease_host = $1 AND status IN " ACTIVE_SQL ")", 1, p);
	if (r == NULL)
		return -2;
	hosts = pgs_int(r, 0, 0, 1);
	active = pgs_int(r, 0, 1, 0);
	mine = pgs_int(r, 0, 2, 0);
	PQclear(r);
	if (hosts < 1)
		hosts = 1;
	share = (active + hosts - 1) / hosts - mine;
	return share > 0 ? (int)(share > 1000000 ? 1000000 : share) : 0;
}

int
pgs_endpoint_pause(struct pgstore *ps, const char *endpoint, int64_t ms)
{
	char		 b[24];
	const char	*p[2];

	p[0] = endpoint;
	p[1] = pgs_i64(b, ms);
	/* The later end wins: a shorter pause never cuts a longer one. */
	return pgs_cmd(ps, "endpoint pause", "INSERT INTO endpoints (endpoint, "
	    "updated_at, paused_until) VALUES ($1, (extract(epoch FROM "
	    "clock_timestamp()) * 1000)::bigint, (extract(epoch FROM "
	    "clock_timestamp()) * 1000)::bigint + $2::bigint) ON CONFLICT "
	    "(endpoint) DO UPDATE SET paused_until = greatest(coalesce("
	    "endpoints.paused_until, 0), EXCLUDED.paused_until)", 2, p) < 0 ?
	    -1 : 0;
}

int64_t
pgs_endpoint_paused(struct pgstore *ps, const char *endpoint)
{
	PGresult	*r;
	const char	*p[1];
	int64_t		 ms;

	p[0] = endpoint;
	r = pgs_exec(ps, "endpoint paused", "SELECT greatest(0, coalesce("
	    "paused_until, 0) - (extract(epoch FROM clock_timestamp()) * "
	    "1000)::bigint) FROM endpoints WHERE endpoint = $1", 1, p);
	if (r == NULL)
		return -1;
	ms = PQntuples(r) == 1 ? pgs_int(r, 0, 0, 0) : 0;
	PQclear(r);
	return ms;
}

json_t *
pgs_hosts_json(struct pgstore *ps)
{
	PGresult	*r;
	json_t		*a;
	int		 i;

	r = pgs_exec(ps, "hosts", "SELECT host_id, version, pid, epoch, "
	    "(extract(epoch FROM clock_timestamp() - heartbeat_at) * 1000)"
	    "::bigint, expires_at > clock_timestamp(), workers, (SELECT "
	    "count(*) FROM runs WHERE lease_host = h.host_id AND status IN "
	    ACTIVE_SQL ") FROM hosts h ORDER BY host_id", 0, NULL);
	if (r == NULL)
		return NULL;
	a = json_array();
	for (i = 0; i < PQntuples(r); i++)
		json_array_append_new(a, json_pack("{ss ss sI sI sI sb sI sI sb}",
		    "host_id", PQgetvalue(r, i, 0), "version",
		    PQgetvalue(r, i, 1), "pid", (json_int_t)pgs_int(r, i, 2, 0),
		    "term", (json_int_t)pgs_int(r, i, 3, 0), "heartbeat_age_ms",
		    (json_int_t)pgs_int(r, i, 4, 0), "live",
		    strcmp(PQgetvalue(r, i, 5), "t") == 0, "workers",
		    (json_int_t)pgs_int(r, i, 6, 0), "runs",
		    (json_int_t)pgs_int(r, i, 7, 0), "self",
		    ps->host_id != NULL && strcmp(ps->host_id,
		    PQgetvalue(r, i, 0)) == 0));
	PQclear(r);
	return a;
}

void
pgs_host_leave(struct pgstore *ps)
{
	char		 e[24], now[24];
	const char	*p[3];

	if (ps->host_id == NULL)
		return;
	p[0] = ps->host_id;
	p[1] = pgs_i64(e, ps->epoch);
	p[2] = pgs_i64(now, pgs_now(ps));
	/* Its runs go back to the pool at once, fenced: no TTL to wait. */
	if (pgs_cmd(ps, "host leave", "WITH gone AS (DELETE FROM hosts WHERE "
	    "host_id = $1 AND epoch = $2 RETURNING host_id) UPDATE runs SET "
	    "lease_owner = NULL, lease_host = NULL, lease_epoch = NULL, "
	    "lease_expires = NULL, lease_gen = lease_gen + 1, wait_reason = "
	    "NULL, wait_until = NULL, wait_tries = 0, released_at = $3, "
	    "updated_at = $3 WHERE lease_host IN (SELECT host_id FROM gone)",
	    3, p) >= 0)
		log_info("store: host %s left", ps->host_id);
}
