# Shared helpers for the integration scripts (sourced, not run). Each script
# gets a temporary directory, starts agent-mock and agentd there, and prints
# "PASS name" / "FAIL name: why" lines. Logs are kept only on failure.
set -u
BIN=${BIN:-$(pwd)/bin}
T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-it-XXXXXX")
SOCK=$T/agentd.sock
DB=$T/agentd.db
MOCK_PID=
AGENTD_PID=
FAILS=0

cleanup() {
	# A clean stop lets sanitizer builds report leaks at exit.
	[ -n "$AGENTD_PID" ] && kill "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	sleep 0.3
	[ -n "$AGENTD_PID" ] && kill -9 "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill -9 "$MOCK_PID" 2>/dev/null
	pkill -9 -f "$T/" 2>/dev/null
	wait 2>/dev/null
	# valgrind -q writes only reports: a non-empty log is one.
	for f in "$T"/valgrind.*.log; do
		[ -s "$f" ] && fail "valgrind report in $(basename "$f")"
	done
	if grep -lE 'ERROR: (Address|Leak)Sanitizer|runtime error:|Invalid read|Invalid write|definitely lost: [1-9]' \
	    "$T"/*.log >/dev/null 2>&1; then
		fail "sanitizer or valgrind report in $(grep -lE 'Sanitizer|runtime error:|Invalid (read|write)|definitely lost: [1-9]' "$T"/*.log | xargs -n1 basename | tr '\n' ' ')"
	fi
	if [ "$FAILS" -eq 0 ]; then
		rm -rf "$T"
	else
		echo "logs kept in $T"
		for f in "$T"/*.log; do
			[ -f "$f" ] || continue
			echo "--- $f (last 30 lines)"
			tail -30 "$f"
		done
	fi
}
trap cleanup EXIT INT TERM

pass() { echo "PASS $*"; }
fail() { echo "FAIL $*"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP $*"; }

# check NAME CONDITION...: PASS if the command succeeds.
check() {
	name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# wait_for SECONDS COMMAND...: poll every 0.1 s until COMMAND succeeds.
wait_for() {
	limit=$1
	shift
	i=0
	while [ "$i" -lt $((limit * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# start_mock [FLAGS...]: agent-mock on a free port; sets MOCK_URL.
start_mock() {
	rm -f "$T/mock.port"
	"$BIN/agent-mock" --port-file "$T/mock.port" "$@" \
	    >>"$T/mock.log" 2>&1 &
	MOCK_PID=$!
	wait_for 10 test -s "$T/mock.port" || { fail "agent-mock did not start"; exit 1; }
	MOCK_PORT=$(cat "$T/mock.port")
	MOCK_URL=http://127.0.0.1:$MOCK_PORT
}

stop_mock() {
	kill "$MOCK_PID" 2>/dev/null
	wait "$MOCK_PID" 2>/dev/null
	MOCK_PID=
}

# start_agentd [FLAGS...]: agentd on $SOCK and $DB against the mock.
# VALGRIND=1 runs agentd and its workers under memcheck; every report
# lands in $T/valgrind.*.log and fails the script at cleanup.
start_agentd() {
	if [ "${VALGRIND:-0}" = 1 ]; then
		valgrind -q --trace-children=yes --leak-check=full \
		    --errors-for-leak-kinds=definite --error-exitcode=99 \
		    --log-file="$T/valgrind.%p.log" \
		    "$BIN/agentd" --db "$DB" --socket "$SOCK" \
		    --endpoint "$MOCK_URL/v1" "$@" >>"$T/agentd.log" 2>&1 &
		AGENTD_PID=$!
		wait_for 60 ctl status || { fail "agentd did not start"; exit 1; }
		return
	fi
	"$BIN/agentd" --db "$DB" --socket "$SOCK" --endpoint "$MOCK_URL/v1" \
	    "$@" >>"$T/agentd.log" 2>&1 &
	AGENTD_PID=$!
	wait_for 10 ctl status || { fail "agentd did not start"; exit 1; }
}

kill_agentd() {
	kill "-${1:-9}" "$AGENTD_PID" 2>/dev/null
	wait "$AGENTD_PID" 2>/dev/null
	AGENTD_PID=
}

ctl() { "$BIN/agentctl" -s "$SOCK" "$@"; }
api() { curl -sS --unix-socket "$SOCK" "$@"; }
mock() { curl -sS "$MOCK_URL$1"; }
sql() { sqlite3 -cmd ".timeout 5000" "$DB" "$1"; }

# submit N EVENTS INTERVAL_MS [extra metadata json]: prints run ids.
submit() {
	n=$1; ev=$2; iv=$3; extra=${4:-}
	i=0
	while [ "$i" -lt "$n" ]; do
		printf '{"model":"mock","input":"run %s","metadata":{"mock_events":"%s","mock_interval_ms":"%s"%s}}' \
		    "$i" "$ev" "$iv" "$extra" | ctl submit -f - || return 1
		i=$((i + 1))
	done
}

# all_terminal: every run is finished.
all_terminal() {
	[ "$(sql "SELECT count(*) FROM runs WHERE status IN ('pending','starting','running')")" = 0 ]
}

count_status() { sql "SELECT count(*) FROM runs WHERE status = '$1'"; }

# verify [--completed-only]: every run's stored events equal the mock's
# ground truth (no loss, no duplicate, same content, in order); prints a
# summary line and fails on any difference.
verify() {
	python3 "$(dirname "$0")/verify.py" "$DB" "$MOCK_URL" "$@"
}
