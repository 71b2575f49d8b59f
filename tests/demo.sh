#!/bin/sh
# make demo: agent-mock + agentd in a temporary directory; submit a handful
# of runs, SIGKILL agentd mid-stream, restart it, and show that every run
# finished with as many events stored as the backend sent. Exit 0 only then.
set -u
BIN=${BIN:-bin}
BIN=$(cd "$BIN" && pwd)
RUNS=${RUNS:-6}
T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-demo-XXXXXX")
SOCK=$T/agentd.sock
DB=$T/agentd.db
MOCK_PID=
AGENTD_PID=
ok=0

cleanup() {
	[ -n "$AGENTD_PID" ] && kill "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "$ok" = 1 ]; then
		rm -rf "$T"
	else
		echo "demo: logs kept in $T (agentd.log, mock.log)"
	fi
}
trap cleanup EXIT INT TERM

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
ctl() { "$BIN/agentctl" -s "$SOCK" "$@"; }
q() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }

wait_until() {
	i=0
	while ! "$@" >/dev/null 2>&1; do
		i=$((i + 1))
		[ "$i" -gt 600 ] && return 1
		sleep 0.1
	done
}

start_agentd() {
	"$BIN/agentd" --db "$DB" --socket "$SOCK" \
	    --endpoint "http://127.0.0.1:$PORT/v1" --workers 2 \
	    >>"$T/agentd.log" 2>&1 &
	AGENTD_PID=$!
	wait_until ctl status || { echo "demo: agentd did not start"; exit 1; }
}

say "starting the bundled mock backend (agent-mock) and agentd in $T"
"$BIN/agent-mock" --port-file "$T/port" >"$T/mock.log" 2>&1 &
MOCK_PID=$!
wait_until test -s "$T/port" || { echo "demo: agent-mock did not start"; exit 1; }
PORT=$(cat "$T/port")
start_agentd
echo "agent-mock on 127.0.0.1:$PORT, agentd on $SOCK, store $DB"

say "submitting $RUNS runs (200 text deltas each, 15 ms apart)"
i=0
while [ "$i" -lt "$RUNS" ]; do
	printf '{"model":"mock","input":"demo run %s","metadata":{"mock_events":"200","mock_interval_ms":"15"}}' "$i" |
	    ctl submit -f - || exit 1
	i=$((i + 1))
done

sleep 1.2
say "kill -9 agentd mid-stream"
kill -9 "$AGENTD_PID"
wait "$AGENTD_PID" 2>/dev/null
AGENTD_PID=
echo "stored so far: $(q "SELECT count(*) FROM events") events; runs by status:"
q "SELECT '  ' || status || ': ' || count(*) FROM runs GROUP BY status"

say "restarting agentd on the same store"
start_agentd
while [ "$(q "SELECT count(*) FROM runs WHERE status IN ('pending','starting','running')")" != 0 ]; do
	printf '\r%s events stored, %s runs still running ' \
	    "$(q "SELECT count(*) FROM events")" \
	    "$(q "SELECT count(*) FROM runs WHERE status IN ('pending','starting','running')")"
	sleep 0.5
done
printf '\n'

say "agentctl list"
ctl list

say "checking every run against the backend's own record"
bad=0
for id in $(q "SELECT id FROM runs ORDER BY n"); do
	bid=$(q "SELECT backend_id FROM runs WHERE id = '$id'")
	stored=$(q "SELECT count(*) FROM events e JOIN runs r ON r.n = e.run_n WHERE r.id = '$id'")
	status=$(q "SELECT status FROM runs WHERE id = '$id'")
	sent=$(curl -s "http://127.0.0.1:$PORT/mock/runs/$bid/events" |
	    python3 -c 'import json,sys; print(len(json.load(sys.stdin)["events"]))' 2>/dev/null)
	mark=ok
	if [ "$status" != completed ] || [ "$stored" != "$sent" ]; then
		mark=MISMATCH
		bad=$((bad + 1))
	fi
	printf '  %s %-10s backend sent %4s events, agentd stored %4s  %s\n' \
	    "$id" "$status" "$sent" "$stored" "$mark"
done
first=$(q "SELECT id FROM runs ORDER BY n LIMIT 1")
echo "output of $first (first 80 characters):"
ctl result "$first" | cut -c1-80
if [ "$bad" -eq 0 ]; then
	say "demo passed: $RUNS runs survived kill -9 with every event stored exactly once"
	ok=1
	exit 0
fi
say "demo FAILED: $bad runs differ"
exit 1
