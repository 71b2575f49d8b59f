#!/bin/sh
# agentd's own input: flags are checked (exit 2 with a message), a second
# agentd on the same store or socket is refused, a foreign or corrupt --db
# is refused and left untouched.
. "$(dirname "$0")/lib.sh"

agentd_rc() { "$BIN/agentd" "$@" >"$T/out" 2>&1; echo $?; }

check "--help exits 0 and documents exit codes" sh -c "'$BIN/agentd' --help | grep -q 'exit status'"
check "--version" sh -c "'$BIN/agentd' --version | grep -q '^agentd '"
check "no --endpoint: exit 2" [ "$(agentd_rc --db "$DB")" -eq 2 ]
check "no --endpoint: says what is missing" grep -q -- "--endpoint URL is required" "$T/out"
check "--workers 0: exit 2" [ "$(agentd_rc --endpoint http://x --workers 0)" -eq 2 ]
check "--workers abc: message names the flag" grep -q -- "--workers must be a whole number" "$T/out"
check "--stale-after -5: exit 2" [ "$(agentd_rc --endpoint http://x --stale-after -5)" -eq 2 ]
check "ftp endpoint: exit 2" [ "$(agentd_rc --endpoint ftp://x)" -eq 2 ]
check "bad dialect: exit 2" [ "$(agentd_rc --endpoint http://x --dialect foo)" -eq 2 ]
check "retrieve path without {id}: exit 2" [ "$(agentd_rc --endpoint http://x --path-retrieve /r)" -eq 2 ]
check "stray argument: exit 2" [ "$(agentd_rc --endpoint http://x extra)" -eq 2 ]

start_mock
start_agentd
check "second agentd on the same store: exit 1" \
    [ "$(agentd_rc --db "$DB" --socket "$T/other.sock" --endpoint "$MOCK_URL/v1")" -eq 1 ]
check "second agentd: says the store is in use" grep -q "in use by another agentd" "$T/out"
check "second agentd on the same socket: exit 1" \
    [ "$(agentd_rc --db "$T/other.db" --socket "$SOCK" --endpoint "$MOCK_URL/v1")" -eq 1 ]
check "second agentd: says the socket is served" grep -q "another agentd is serving" "$T/out"
check "first agentd still serves" ctl status
# Workers run nicer than the supervisor (--worker-nice, default 10).
nice_of() { awk '{ sub(/.*\) /, ""); print $17 }' "/proc/$1/stat"; }
wpid=$(pgrep -P "$AGENTD_PID" | head -1)
check "workers are 10 nicer than the supervisor" \
    [ "$(( $(nice_of "$wpid") - $(nice_of "$AGENTD_PID") ))" -eq 10 ]
check "--worker-nice 20: exit 2" [ "$(agentd_rc --endpoint http://x --worker-nice 20)" -eq 2 ]
kill_agentd 9
check "stale socket file from a dead agentd is replaced" sh -c "
    '$BIN/agentd' --db '$DB' --socket '$SOCK' --endpoint '$MOCK_URL/v1' >>'$T/agentd.log' 2>&1 &
    echo \$! > '$T/pid'; i=0; while [ \$i -lt 50 ]; do '$BIN/agentctl' -s '$SOCK' status >/dev/null 2>&1 && exit 0; sleep 0.1; i=\$((i+1)); done; exit 1"
AGENTD_PID=$(cat "$T/pid")
kill_agentd 15

printf 'not a database at all, just text that should never be touched\n' > "$T/junk.db"
sum=$(md5sum < "$T/junk.db")
check "foreign --db: exit 1" [ "$(agentd_rc --db "$T/junk.db" --socket "$T/j.sock" --endpoint "$MOCK_URL/v1")" -eq 1 ]
check "foreign --db: clear message" grep -q "not a usable SQLite database\|not an agentd database" "$T/out"
check "foreign --db: file untouched" [ "$(md5sum < "$T/junk.db")" = "$sum" ]
sqlite3 "$T/foreign.db" "CREATE TABLE t (x); INSERT INTO t VALUES (42);"
check "another program's SQLite --db: exit 1" [ "$(agentd_rc --db "$T/foreign.db" --socket "$T/o.sock" --endpoint "$MOCK_URL/v1")" -eq 1 ]
check "another program's SQLite --db: data untouched" [ "$(sqlite3 "$T/foreign.db" 'SELECT x FROM t')" = 42 ]
sqlite3 "$DB" "PRAGMA user_version = 99"
check "newer schema: exit 1" [ "$(agentd_rc --db "$DB" --socket "$T/n.sock" --endpoint "$MOCK_URL/v1")" -eq 1 ]
check "newer schema: says upgrade" grep -q "newer than this agentd supports" "$T/out"
exit 0
