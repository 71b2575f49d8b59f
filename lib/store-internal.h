/*
 * For modules that extend the store with their own SQL (batch.c): the
 * database handle and the in-transaction run insert. Not for the rest of
 * agentd, which goes through store.h.
 */
#ifndef AGENTD_STORE_INTERNAL_H
#define AGENTD_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

/* The statuses of a run that is not finished, as an SQL list. */
#define ACTIVE_SQL	"('pending','starting','running')"

sqlite3	*store_db(struct store *st);
/* The PostgreSQL engine behind st, or NULL for SQLite (store-pg.h). */
struct pgstore;
struct pgstore *store_pg(struct store *st);
/* Inside a write transaction: insert or find by idempotency key. */
int	 store_run_insert_txn(struct store *st, const struct run_new *rn,
	    char *id, size_t idlen, int *created);
json_t	*store_col_json(sqlite3_stmt *s, int i);
/* A copy of text column i (NULL for NULL); caller frees. */
char	*store_col_dup(sqlite3_stmt *s, int i);
/* Step a statement that returns no rows, then reset it; 0 or -1. */
int	 store_step_done(sqlite3_stmt *s);
/* Log the database's last error, saying what was being done. */
void	 store_err(struct store *st, const char *what);
/* The endpoint stamped on runs enqueued without one, or NULL. */
const char *store_endpoint(struct store *st);
int	 store_max_inflight(struct store *st);
/* store-migrate.c: run sql; bring the schema of db (at path) up to date. */
int	 store_exec_sql(sqlite3 *db, const char *sql, char **cause);
int	 store_migrate(sqlite3 *db, const char *path, char **cause);

#endif
