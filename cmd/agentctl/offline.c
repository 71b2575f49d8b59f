/*
 * Working without agentd: when the socket cannot be connected to, the batch
 * and queue commands open the store themselves (--db PATH, else $AGENTD_DB)
 * and call the same lib/batch.c functions the daemon's API uses, so what
 * they print is the same. SQLite's locking makes this safe next to a
 * daemon that is starting or running on the same database.
 */
#include <sys/stat.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agentctl.h"
#include "log.h"
#include "store.h"

/* The store path: opt if given, else $AGENTD_DB, else NULL. */
const char *
ctl_db_path(const char *opt)
{
	const char	*s;

	if (opt != NULL && *opt != '\0') {
		/* argv is world readable: no password there (store.h). */
		if (store_is_pg(opt) && store_pg_has_password(opt)) {
			fprintf(stderr, "agentctl: --db holds a password, which "
			    "every user of this machine can read on the command "
			    "line (ps); put it in a pgpass file (PGPASSFILE, or "
			    "passfile= in the conninfo) or give the conninfo in "
			    "$AGENTD_DB\n");
			return NULL;
		}
		return opt;
	}
	if ((s = getenv("AGENTD_DB")) != NULL && *s != '\0')
		return s;
	return NULL;
}

/*
 * Report that agentd cannot be reached (the reason is in ctx->noconn);
 * without a store path, say how to work on the store directly. Returns 3.
 */
int
ctl_unreachable(struct ctl_ctx *ctx, const char *db)
{
	const char	*why = ctx->noconn != NULL ? ctx->noconn :
			    "cannot connect";

	if (db == NULL)
		ctl_error(ctx, "agentd unreachable (%s; is agentd running?); "
		    "pass --db PATH or set AGENTD_DB to use its store "
		    "directly", why);
	else
		ctl_error(ctx, "agentd unreachable (%s; is agentd running?)",
		    why);
	return CTL_EXIT_UNREACHABLE;
}

/*
 * Open the store at db for direct use; unless create, the file must
 * exist already. Reports failures; NULL then.
 */
struct store *
ctl_store_open(struct ctl_ctx *ctx, const char *db, int create)
{
	struct stat	 sb;
	struct store	*st;
	char		*cause = NULL;

	if (!create && !store_is_pg(db) && stat(db, &sb) != 0) {
		ctl_error(ctx, "agentd is not running and there is no store "
		    "at %s: %s", db, strerror(errno));
		return NULL;
	}
	log_init("agentctl", 0);	/* the store logs warnings only */
	if ((st = store_open(db, &cause)) == NULL) {
		ctl_error(ctx, "cannot open the store: %s", cause);
		free(cause);
		return NULL;
	}
	return st;
}

/* Say on stderr that agentd is not running and the store is used. */
void
ctl_offline_note(struct ctl_ctx *ctx, const char *db)
{
	char	*d = store_describe(db);

	ctl_error(ctx, "agentd is not running (%s); using its store %s "
	    "directly", ctx->noconn != NULL ? ctx->noconn : "unreachable", d);
	free(d);
}

/*
 * One request to agentd; if it is not running and a store path is known
 * (dbopt, else $AGENTD_DB), open the store instead and say so. Returns 0
 * with either *out (the reply) or *stp (the store; *out NULL) set, else an
 * exit code after reporting the failure.
 */
int
ctl_call(struct ctl_ctx *ctx, const char *method, const char *path,
    json_t *body, const char *dbopt, int create, json_t **out,
    struct store **stp)
{
	const char	*db;
	int		 rc;

	*stp = NULL;
	rc = ctl_request_ex(ctx, method, path, body, CTL_REQ_QUIET_NOCONN,
	    NULL, out);
	if (rc != CTL_EXIT_UNREACHABLE || ctx->noconn == NULL)
		return rc;
	if ((db = ctl_db_path(dbopt)) == NULL)
		return ctl_unreachable(ctx, NULL);
	if ((*stp = ctl_store_open(ctx, db, create)) == NULL)
		return CTL_EXIT_UNREACHABLE;
	ctl_offline_note(ctx, db);
	return CTL_EXIT_OK;
}
