/*
 * For modules that extend the store with their own SQL (batch.c): the
 * database handle and the in-transaction run insert. Not for the rest of
 * agentd, which goes through store.h.
 */
#ifndef AGENTD_STORE_INTERNAL_H
#define AGENTD_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store.h"

sqlite3	*store_db(struct store *st);
/* Inside a write transaction: insert or find by idempotency key. */
int	 store_run_insert_txn(struct store *st, const struct run_new *rn,
	    char *id, size_t idlen, int *created);
json_t	*store_col_json(sqlite3_stmt *s, int i);

#endif
