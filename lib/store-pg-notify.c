/*
 * The PostgreSQL store: word of new events between hosts. A host queues
 * (run, last seq) as its workers commit and sends the queue in one
 * autocommit statement (pg_notify outside every write transaction: a
 * NOTIFY inside one takes a cluster-wide lock across its commit); every
 * host listens on a connection of its own, non-blocking in the event
 * loop. Notifications are hints: followers also poll, and read again
 * after the listener reconnects, so a lost one costs latency, not events.
 */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "store-internal.h"
#include "store-pg.h"
#include "util.h"
#include "xmalloc.h"

#define NOTIFY_CHANNEL	"agentd_events"
#define NOTIFY_MAX	256	/* runs queued between two sends */

struct store_listener {
	PGconn	*conn;
};

void
pgs_notify_progress(struct pgstore *ps, int64_t n, int64_t last_seq)
{
	size_t	i;

	for (i = 0; i < ps->nnotify; i++)
		if (ps->notify[i].n == n) {
			if (last_seq > ps->notify[i].seq)
				ps->notify[i].seq = last_seq;
			return;
		}
	if (ps->nnotify == NOTIFY_MAX)
		return;		/* a hint: the followers' poll finds it */
	if (ps->notify == NULL)
		ps->notify = xcalloc(NOTIFY_MAX, sizeof *ps->notify);
	ps->notify[ps->nnotify].n = n;
	ps->notify[ps->nnotify].seq = last_seq;
	ps->nnotify++;
}

int
pgs_notify_flush(struct pgstore *ps)
{
	char		*arr, *p;
	const char	*params[1];
	size_t		 i, len;
	int64_t		 rc;

	if (ps->nnotify == 0 || ps->in_txn)
		return 0;
	/* A text[] literal of "n:seq" items: digits, so nothing to quote. */
	len = ps->nnotify * 44 + 3;
	p = arr = xmalloc(len);
	*p++ = '{';
	for (i = 0; i < ps->nnotify; i++)
		p += snprintf(p, len - (size_t)(p - arr), "%s%" PRId64 ":%" PRId64,
		    i > 0 ? "," : "", ps->notify[i].n, ps->notify[i].seq);
	*p++ = '}';
	*p = '\0';
	ps->nnotify = 0;
	params[0] = arr;
	rc = pgs_cmd(ps, "notify", "SELECT pg_notify('" NOTIFY_CHANNEL "', x) "
	    "FROM unnest($1::text[]) x", 1, params);
	free(arr);
	return rc < 0 ? -1 : 0;
}

/* Drive a started connection for up to a second. */
static void
listen_connect(PGconn *c)
{
	PostgresPollingStatusType	 st = PGRES_POLLING_WRITING;
	struct pollfd			 pfd;
	int64_t				 deadline = util_mono_ms() + 1000, left;

	while (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED) {
		if ((left = deadline - util_mono_ms()) <= 0)
			return;
		pfd.fd = PQsocket(c);
		pfd.events = st == PGRES_POLLING_READING ? POLLIN : POLLOUT;
		if (poll(&pfd, 1, (int)left) < 0 && errno != EINTR)
			return;
		st = PQconnectPoll(c);
	}
}

struct store_listener *
pgs_listen(struct pgstore *ps, char **cause)
{
	const char *const keys[] = { "dbname", "fallback_application_name",
	    "connect_timeout", NULL };
	const char *const vals[] = { ps->conninfo, "agentd-listen", "5", NULL };
	struct store_listener	*l;
	PGresult		*r;
	char			 msg[256];

	l = xcalloc(1, sizeof *l);
	/* The caller's loop waits on this: one second at most. */
	l->conn = PQconnectStartParams(keys, vals, 1);
	if (l->conn != NULL && PQstatus(l->conn) != CONNECTION_BAD)
		listen_connect(l->conn);
	if (l->conn == NULL || PQstatus(l->conn) != CONNECTION_OK) {
		snprintf(msg, sizeof msg, "%s", l->conn != NULL ?
		    PQerrorMessage(l->conn) : "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		xasprintf(cause, "PostgreSQL listener: %s", msg);
		PQfinish(l->conn);
		free(l);
		return NULL;
	}
	r = PQexec(l->conn, "LISTEN " NOTIFY_CHANNEL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK) {
		xasprintf(cause, "PostgreSQL listener: LISTEN failed");
		PQclear(r);
		PQfinish(l->conn);
		free(l);
		return NULL;
	}
	PQclear(r);
	if (PQsetnonblocking(l->conn, 1) != 0) {
		xasprintf(cause, "PostgreSQL listener: not non-blocking");
		PQfinish(l->conn);
		free(l);
		return NULL;
	}
	return l;
}

int
store_listener_fd(struct store_listener *l)
{
	return l != NULL ? PQsocket(l->conn) : -1;
}

int
store_listener_read(struct store_listener *l, store_progress_cb cb,
    void *arg)
{
	PGnotify	*nt;
	long long	 n, seq;

	if (PQconsumeInput(l->conn) == 0 ||
	    PQstatus(l->conn) != CONNECTION_OK)
		return -1;
	while ((nt = PQnotifies(l->conn)) != NULL) {
		if (sscanf(nt->extra, "%lld:%lld", &n, &seq) == 2 && n > 0)
			cb(arg, (int64_t)n, (int64_t)seq);
		PQfreemem(nt);
	}
	return 0;
}

void
store_listener_close(struct store_listener *l)
{
	if (l == NULL)
		return;
	PQfinish(l->conn);
	free(l);
}
