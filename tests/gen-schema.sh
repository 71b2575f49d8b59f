#!/bin/sh
# Turn schema/NNN_*.sql into a C file: an array of migrations, applied in
# order by store.c. The version of a migration is its NNN prefix.
# SCHEMA_ARRAY names the array (default schema_migrations: SQLite's).
set -eu
array=${SCHEMA_ARRAY:-schema_migrations}
echo '/* generated from schema/NNN_name.sql by tests/gen-schema.sh; do not edit */'
echo '#include <stddef.h>'
echo '#include "schema.h"'
echo "const struct schema_migration $array[] = {"
for f in "$@"; do
	base=$(basename "$f")
	ver=$(echo "$base" | sed 's/^0*\([0-9][0-9]*\)_.*/\1/')
	printf '\t{ %s, "%s",\n' "$ver" "$base"
	sed -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/^/\t  "/' -e 's/$/\\n"/' "$f"
	printf '\t},\n'
done
echo '\t{ 0, NULL, NULL }'
echo '};'
