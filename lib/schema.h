/*
 * The embedded schema migrations (generated from schema/NNN_*.sql). Applied
 * in order by store_open(); the version is kept in PRAGMA user_version.
 */
#ifndef AGENTD_SCHEMA_H
#define AGENTD_SCHEMA_H

struct schema_migration {
	int		 version;
	const char	*name;
	const char	*sql;
};

extern const struct schema_migration schema_migrations[];
/* schema/pg/NNN_*.sql: the PostgreSQL store's. */
extern const struct schema_migration schema_pg_migrations[];

#endif
