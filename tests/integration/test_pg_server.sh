#!/bin/sh
# The throwaway PostgreSQL server of tests/pg/pg.sh: it starts (as an
# unprivileged user when run as root), answers as role agentd on database
# agentd, survives pg_terminate_backends and an immediate restart, and
# leaves neither data nor socket behind once stopped. Without PostgreSQL's
# server binaries it prints SKIP lines and exits 0.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../pg/pg.sh"

if ! pg_bindir >/dev/null; then
	skip "PostgreSQL server: no initdb/pg_ctl/postgres (pg_config --bindir, /usr/lib/postgresql/*/bin)"
	skip "PostgreSQL server: install with: apt-get install -y postgresql"
	exit 0
fi

PGD=$T/pg
# Stop the server before lib.sh's cleanup (whose pkill -f "$T/" would
# SIGKILL a postmaster whose data lives under $T), then run that cleanup.
pg_it_cleanup() {
	pg_stop "$PGD" >/dev/null 2>&1
	cleanup
}
trap pg_it_cleanup EXIT
trap 'exit 1' INT TERM

# The server log is kept with the other logs when a check fails.
keep_pg_log() { [ -f "$PG_LOG" ] && cp "$PG_LOG" "$T/postgres.log"; }

t0=$(date +%s.%N)
if ! pg_start "$PGD" >"$T/pg_start.log" 2>&1; then
	fail "pg_start: $(tail -5 "$T/pg_start.log" | tr '\n' ' ')"
	exit 1
fi
t1=$(date +%s.%N)
pass "pg_start ($(awk "BEGIN { printf \"%.2f\", $t1 - $t0 }")s)"

check "exports PGHOST (an existing socket directory)" test -d "$PGHOST"
check "socket path fits sun_path" [ "${#PGHOST}" -le 80 ]
check "exports PGPORT, PGUSER=agentd, PGDATABASE=agentd" \
    [ -n "$PGPORT" -a "$PGUSER" = agentd -a "$PGDATABASE" = agentd ]
check "PG_CONNINFO" [ "$PG_CONNINFO" = "host=$PGHOST port=$PGPORT user=agentd dbname=agentd" ]
check "PG_URI" [ "$PG_URI" = "postgresql://agentd@/agentd?host=$PGHOST&port=$PGPORT" ]
check "pg_env prints the same exports" sh -c "
    eval \"\$(sh '$(dirname "$0")/../pg/pg.sh' env '$PGD')\" && [ \"\$PG_URI\" = '$PG_URI' ]"
SOCKFILE=$PGHOST/.s.PGSQL.$PGPORT
DATA=$PG_DATA
check "the server listens on the Unix socket" test -S "$SOCKFILE"

check "SELECT 1" [ "$(pg_psql "$PGD" 'SELECT 1')" = 1 ]
check "connected as agentd to agentd" \
    [ "$(pg_psql "$PGD" "SELECT current_user || '/' || current_database()")" = agentd/agentd ]
check "no TCP listener (listen_addresses is empty)" \
    [ -z "$(pg_psql "$PGD" 'SHOW listen_addresses')" ]
check "max_connections >= 200" [ "$(pg_psql "$PGD" 'SHOW max_connections')" -ge 200 ]
if [ "$(id -u)" -eq 0 ]; then
	check "as root, the server runs as an unprivileged user" \
	    [ "$(stat -c %u "$DATA")" -ne 0 ]
else
	check "not root: the server runs as the caller" [ "$(stat -c %u "$DATA")" -eq "$(id -u)" ]
fi
check "libpq connection string works" \
    [ "$("$(pg_bindir)/psql" -X -Atc 'SELECT 2' "$PG_CONNINFO")" = 2 ]
check "libpq URI works" [ "$("$(pg_bindir)/psql" -X -Atc 'SELECT 3' "$PG_URI")" = 3 ]

check "agentd creates a table and inserts" pg_psql "$PGD" \
    "CREATE TABLE smoke (id int PRIMARY KEY, v text)" \
    "INSERT INTO smoke VALUES (1, 'one'), (2, 'two')"
check "and reads it back" \
    [ "$(pg_psql "$PGD" "SELECT string_agg(v, ',' ORDER BY id) FROM smoke")" = one,two ]
check "the table belongs to agentd" \
    [ "$(pg_psql "$PGD" "SELECT tableowner FROM pg_tables WHERE tablename = 'smoke'")" = agentd ]

# A client sleeping in the database; pg_terminate_backends ends it.
"$(pg_bindir)/psql" -X -q "$PG_CONNINFO" -c 'SELECT pg_sleep(60)' \
    >"$T/sleeper.log" 2>&1 &
SLEEPER=$!
sleeping() {
	[ "$(pg_psql "$PGD" "SELECT count(*) FROM pg_stat_activity
	    WHERE datname = 'agentd' AND query LIKE '%pg_sleep(60)%'
	    AND pid <> pg_backend_pid()")" -ge 1 ]
}
check "a second client is connected" wait_for 10 sleeping
n=$(pg_terminate_backends "$PGD")
check "pg_terminate_backends ends it (count $n)" [ "${n:-0}" -ge 1 ]
gone() { ! kill -0 "$SLEEPER" 2>/dev/null; }
check "the terminated client exits" wait_for 10 gone
wait "$SLEEPER" 2>/dev/null
check "its error says the connection was terminated" \
    grep -qi "terminat" "$T/sleeper.log"
check "the server still answers" [ "$(pg_psql "$PGD" 'SELECT 1')" = 1 ]

t2=$(date +%s.%N)
if pg_restart_immediate "$PGD" >"$T/pg_restart.log" 2>&1; then
	t3=$(date +%s.%N)
	pass "pg_restart_immediate ($(awk "BEGIN { printf \"%.2f\", $t3 - $t2 }")s)"
else
	fail "pg_restart_immediate: $(tail -5 "$T/pg_restart.log" | tr '\n' ' ')"
	keep_pg_log
fi
answers() { [ "$(pg_psql "$PGD" 'SELECT 1' 2>/dev/null)" = 1 ]; }
check "the server answers again within 30 s" wait_for 30 answers
check "committed rows survived the crash" \
    [ "$(pg_psql "$PGD" 'SELECT count(*) FROM smoke')" = 2 ]
check "the log shows crash recovery" \
    grep -q "database system was interrupted\|not properly shut down\|redo" "$PG_LOG"

[ "$FAILS" -eq 0 ] || keep_pg_log
PM_PID=$(head -1 "$DATA/postmaster.pid")
t4=$(date +%s.%N)
check "pg_stop" pg_stop "$PGD"
t5=$(date +%s.%N)
echo "timing: stop $(awk "BEGIN { printf \"%.2f\", $t5 - $t4 }")s"
check "the data directory is gone" test ! -e "$DATA"
check "the socket is gone" test ! -e "$SOCKFILE"
check "the socket directory is gone" test ! -e "$PGHOST"
check "no postmaster is left" sh -c "! kill -0 '$PM_PID' 2>/dev/null || grep -q '^[^ ]* ([^)]*) Z' /proc/$PM_PID/stat"
check "pg_stop twice is harmless" pg_stop "$PGD"
check "the server no longer answers" sh -c "! '$(pg_bindir)/psql' -X -Atc 'SELECT 1' '$PG_CONNINFO' >/dev/null 2>&1"
