/*
 * Hosts sharing one store (store.h, "hosts"): the PostgreSQL engine keeps
 * one row per host with a lease on the database's clock (store-pg-hosts.c);
 * a SQLite store has one host, agentd itself, kept out of the way of a
 * second one by its lock file, so these calls have nothing to do there.
 */
#include <unistd.h>

#include <jansson.h>

#include "store-internal.h"
#include "store-pg.h"

int
store_shared(struct store *st)
{
	return store_pg(st) != NULL;
}

int
store_host_join(struct store *st, const struct store_host *h, char **cause)
{
	if (store_pg(st) != NULL)
		return pgs_host_join(store_pg(st), h, cause);
	return 0;
}

int
store_host_beat(struct store *st, int runs_held, int workers)
{
	if (store_pg(st) != NULL)
		return pgs_host_beat(store_pg(st), runs_held, workers);
	return 1;
}

int
store_hosts_reap(struct store *st, store_abandon_cb cb, void *arg)
{
	if (store_pg(st) != NULL)
		return pgs_hosts_reap(store_pg(st), cb, arg);
	return 0;
}

int
store_host_share(struct store *st)
{
	if (store_pg(st) != NULL)
		return pgs_host_share(store_pg(st));
	return -1;
}

int
store_endpoint_pause(struct store *st, const char *endpoint, int64_t ms)
{
	if (store_pg(st) != NULL)
		return pgs_endpoint_pause(store_pg(st), endpoint, ms);
	return 0;
}

int64_t
store_endpoint_paused(struct store *st, const char *endpoint)
{
	if (store_pg(st) != NULL)
		return pgs_endpoint_paused(store_pg(st), endpoint);
	return 0;
}

void
store_notify_progress(struct store *st, int64_t n, int64_t last_seq)
{
	if (store_pg(st) != NULL)
		pgs_notify_progress(store_pg(st), n, last_seq);
}

int
store_notify_flush(struct store *st)
{
	if (store_pg(st) != NULL)
		return pgs_notify_flush(store_pg(st));
	return 0;
}

struct store_listener *
store_listen(struct store *st, char **cause)
{
	*cause = NULL;
	if (store_pg(st) != NULL)
		return pgs_listen(store_pg(st), cause);
	return NULL;
}

json_t *
store_hosts_json(struct store *st)
{
	if (store_pg(st) != NULL)
		return pgs_hosts_json(store_pg(st));
	return json_array();
}

void
store_host_leave(struct store *st)
{
	if (store_pg(st) != NULL)
		pgs_host_leave(store_pg(st));
}
