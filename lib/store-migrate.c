/*
 * The SQLite store's schema: the embedded migrations (schema.h) applied in
 * order, each in its own transaction; a database written by a newer agentd,
 * or one agentd did not create, is refused.
 */
#include <stdio.h>
#include <stdlib.h>

#include <sqlite3.h>

#include "log.h"
#include "schema.h"
#include "store.h"
#include "store-internal.h"
#include "xmalloc.h"

/* Return the newest schema version embedded in this build. */
int
store_schema_version(void)
{
	int	i, v = 0;

	for (i = 0; schema_migrations[i].sql != NULL; i++)
		if (schema_migrations[i].version > v)
			v = schema_migrations[i].version;
	return v;
}

/* Run sql (no rows); -1 with an allocated *cause (if not NULL). */
int
store_exec_sql(sqlite3 *db, const char *sql, char **cause)
{
	char	*err = NULL;

	if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
		if (cause != NULL)
			xasprintf(cause, "%s", err != NULL ? err :
			    sqlite3_errmsg(db));
		sqlite3_free(err);
		return -1;
	}
	return 0;
}

static int
pragma_int(sqlite3 *db, const char *sql, int *out)
{
	sqlite3_stmt	*s;
	int		 rc;

	if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) != SQLITE_OK)
		return -1;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*out = sqlite3_column_int(s, 0);
	sqlite3_finalize(s);
	return rc == SQLITE_ROW ? 0 : -1;
}

/* Apply the missing migrations in one transaction each. */
int
store_migrate(sqlite3 *db, const char *path, char **cause)
{
	int	 i, have = 0, want = store_schema_version();
	char	*err = NULL, *set;

	if (pragma_int(db, "PRAGMA user_version", &have) != 0) {
		xasprintf(cause, "%s: not an agentd database: %s", path,
		    sqlite3_errmsg(db));
		return -1;
	}
	if (have > want) {
		xasprintf(cause, "%s: database schema version %d is newer than "
		    "this agentd supports (%d); upgrade agentd", path, have,
		    want);
		return -1;
	}
	if (have == 0) {
		int tables = 0;

		/* A non-empty database we did not create is not ours. */
		if (pragma_int(db, "SELECT count(*) FROM sqlite_master",
		    &tables) != 0 || tables != 0) {
			xasprintf(cause, "%s: not an agentd database (it has "
			    "tables but no agentd schema version)", path);
			return -1;
		}
	}
	for (i = 0; schema_migrations[i].sql != NULL; i++) {
		if (schema_migrations[i].version <= have)
			continue;
		if (store_exec_sql(db, "BEGIN IMMEDIATE", cause) != 0)
			return -1;
		/* Another process (agentctl batch, agentd) may have won. */
		if (pragma_int(db, "PRAGMA user_version", &have) != 0 ||
		    schema_migrations[i].version <= have) {
			store_exec_sql(db, "ROLLBACK", NULL);
			continue;
		}
		if (store_exec_sql(db, schema_migrations[i].sql, &err) != 0) {
			xasprintf(cause, "%s: migration %s: %s", path,
			    schema_migrations[i].name, err);
			free(err);
			store_exec_sql(db, "ROLLBACK", NULL);
			return -1;
		}
		xasprintf(&set, "PRAGMA user_version = %d",
		    schema_migrations[i].version);
		if (store_exec_sql(db, set, cause) != 0 ||
		    store_exec_sql(db, "COMMIT", cause) != 0) {
			free(set);
			store_exec_sql(db, "ROLLBACK", NULL);
			return -1;
		}
		free(set);
		log_info("store: applied migration %s", schema_migrations[i].name);
	}
	return 0;
}
