#!/bin/sh
# test-http.sh: agentctl's HTTP client against tests/cli/bad-http.py, a
# server that answers in one fixed way per run: unusual but valid framings
# must work; malformed status lines, oversize headers, bad chunk sizes,
# truncated bodies, streams cut short and a daemon that never accepts must
# each end in a clear message and exit 3 within seconds, never a hang or a
# crash. Prints one PASS/FAIL line per check; exits 1 if any failed.
#
# Environment: AGENTCTL (binary, default bin/agentctl), PYTHON (python3),
# VALGRIND=1 (agentctl is slower: more time before a run counts as hung;
# tests/cli/run-cli.sh sets up the memcheck wrapper).

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
AGENTCTL=${AGENTCTL:-$ROOT/bin/agentctl}
PYTHON=${PYTHON:-python3}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/agentctl-http.XXXXXX")
SOCK=$TMP/api.sock
REQLOG=$TMP/requests.jsonl
SERVER_PID=
LIMIT=20		# seconds any one agentctl may take
[ "${VALGRIND:-0}" = 1 ] && LIMIT=60
npass=0
nfail=0
rc=0

unset AGENTD_SOCKET NO_COLOR
export TERM=dumb

. "$HERE/harness.sh"

cleanup() {
	stop_server
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# start_server MODE: bad-http.py in MODE on $SOCK; wait for the socket.
start_server() {
	rm -f "$SOCK" "$REQLOG" "$TMP/go"
	"$PYTHON" "$HERE/bad-http.py" "$SOCK" "$1" --log "$REQLOG" \
	    --go "$TMP/go" 2>>"$TMP/server.log" &
	wait_server
}

# ctl ARGS...: agentctl on $SOCK, killed after $LIMIT s (rc 124 then);
# output in $TMP/out, $TMP/err; $rc.
ctl() {
	timeout -k 5 $LIMIT "$AGENTCTL" -s "$SOCK" "$@" >"$TMP/out" \
	    2>"$TMP/err"
	rc=$?
}

# check NAME WANT_RC [grep -E pattern for stdout] [pattern for stderr]
check() {
	name=$1 want=$2
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		fail "$name" "agentctl hung (killed after $LIMIT s)"
		return 1
	fi
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit $rc, want $want"
		return 1
	fi
	if [ $# -ge 3 ] && [ -n "$3" ] && ! grep -Eq -- "$3" "$TMP/out"; then
		fail "$name" "stdout lacks /$3/"
		return 1
	fi
	if [ $# -ge 4 ] && [ -n "$4" ] && ! grep -Eq -- "$4" "$TMP/err"; then
		fail "$name" "stderr lacks /$4/"
		return 1
	fi
	pass "$name"
}

# logcheck NAME EXPR: a Python expression over log (the requests).
logcheck() {
	if "$PYTHON" - "$REQLOG" "$2" <<'EOF' 2>"$TMP/py.err"
import json, sys
try:
    log = [json.loads(l) for l in open(sys.argv[1])]
except OSError:
    log = []
sys.exit(0 if eval(sys.argv[2]) else 1)
EOF
	then
		pass "$1"
	else
		fail "$1" "python: $2 $(cat "$TMP/py.err")"
	fi
}

[ -x "$AGENTCTL" ] || { echo "FAIL no agentctl binary at $AGENTCTL"; exit 1; }
FAILED="^agentctl: list: connection to agentd at $SOCK failed"

# ------------------------------------------------------------------
# Valid framings: each one must give the same table.

for mode in ok-length ok-drip ok-chunked ok-eof ok-continue ok-lf; do
	start_server $mode
	ctl list
	check "$mode: list works" 0 '^r_0123456789abcdef +completed +background'
	stop_server
done

start_server ok-length
ctl list --status failed
logcheck "request: GET, HTTP/1.1, Host, Accept, no body" \
    'log[0]["method"] == "GET" and log[0]["version"] == "HTTP/1.1" and log[0]["path"] == "/v1/runs?status=failed" and log[0]["headers"].get("host") == "localhost" and log[0]["headers"].get("accept") == "application/json" and log[0]["headers"].get("user-agent", "").startswith("agentctl/") and "content-length" not in log[0]["headers"]'
ctl submit --model m --input "héllo \"quoted\""
logcheck "request: POST body with Content-Length and type" \
    'log[1]["method"] == "POST" and log[1]["path"] == "/v1/runs" and int(log[1]["headers"]["content-length"]) == len(log[1]["body"].encode()) and log[1]["headers"]["content-type"] == "application/json" and json.loads(log[1]["body"])["request"]["input"] == "héllo \"quoted\""'
ctl cancel r_0123456789abcdef
logcheck "request: POST without a body says Content-Length: 0" \
    'log[2]["method"] == "POST" and log[2]["path"] == "/v1/runs/r_0123456789abcdef/cancel" and log[2]["headers"].get("content-length") == "0" and log[2]["body"] == ""'
stop_server

start_server error-chunked
ctl show r_x
check "chunked 404: the daemon's message, exit 4" 4 '' \
    '^agentctl: show: no run r_x$'
stop_server

# ------------------------------------------------------------------
# Broken responses: exit 3 and a message that says what was wrong.

bad() {
	mode=$1 name=$2 want=$3
	start_server "$mode"
	ctl list
	check "$mode: $name" 3 '' "$FAILED: $want"
	stop_server
}

bad bad-status "malformed status line" 'malformed status line$'
bad not-http "not HTTP at all" 'malformed status line$'
bad switching "101 refused" 'unexpected HTTP 101 response$'
bad many-continue "endless 100 Continue" 'unexpected HTTP 100 response$'
bad big-header "header over 64 KB" \
    'response header too large \(over 65536 bytes\)$'
bad long-line "one header line over 8 KB" \
    'response header line too long \(over 8192 bytes\)$'
bad nul-header "NUL in a header" 'NUL byte in the response header$'
bad bad-length "bad Content-Length" 'bad Content-Length$'
bad two-lengths "conflicting Content-Length" \
    'conflicting Content-Length fields$'
bad both-framings "Content-Length and chunked" \
    'both Content-Length and Transfer-Encoding$'
bad gzip-te "unknown Transfer-Encoding" 'unsupported Transfer-Encoding$'
bad bad-chunk "bad chunk size" 'bad chunk size$'
bad huge-chunk "chunk size over 64 bits" 'bad chunk size$'
bad chunk-no-crlf "chunk data without CRLF" \
    'malformed chunked body \(no CRLF after chunk data\)$'
bad short-body "truncated body" \
    'truncated response: connection closed after 10 of 1000 body bytes$'
bad short-chunked "truncated chunked body" \
    'truncated response: connection closed inside the chunked body after 10 bytes$'
bad empty "no response at all" 'connection closed without a response$'
bad short-header "truncated header" \
    'truncated response: connection closed inside the header$'

# A daemon that does not accept: the 5 s connect timeout, then exit 3.
start_server no-accept
t0=$(date +%s)
ctl list
check "no-accept: connect timeout" 3 '' "$FAILED: connect timed out after 5 s$"
[ $(($(date +%s) - t0)) -lt 15 ] && pass "no-accept: gave up in time" ||
    fail "no-accept: gave up in time"
stop_server

# Streamed bodies (batch results) fail the same way.
start_server short-chunked
ctl batch results nightly
check "batch results: truncated stream" 3 '' \
    '^agentctl: batch results: connection to agentd at .* failed: truncated response'
stop_server

# ------------------------------------------------------------------
# Event streams: delivered as they arrive; a cut or broken stream is
# re-attached after the last event printed, as when agentd restarts.

start_server sse-wait
: >"$TMP/wout"
"$AGENTCTL" -s "$SOCK" watch r_0123456789abcdef >"$TMP/wout" \
    2>"$TMP/werr" &
WPID=$!
i=0
while [ "$(cat "$TMP/wout")" != "one " ] && [ $i -lt 200 ]; do
	sleep 0.05
	i=$((i + 1))
done
[ "$(cat "$TMP/wout")" = "one " ] &&
    pass "sse: the first event is printed before the stream goes on" ||
    fail "sse: the first event is printed before the stream goes on"
touch "$TMP/go"
wait $WPID
rc=$?
cp "$TMP/wout" "$TMP/out"
cp "$TMP/werr" "$TMP/err"
check "sse: then the rest" 0 '^one two three$' \
    '^run r_0123456789abcdef: completed$'
stop_server

# MODE:seq of the last event the first connection delivers whole
for m in sse-cut:1 sse-bad-chunk:0; do
	mode=${m%:*} last=${m#*:}
	start_server $mode
	ctl watch r_0123456789abcdef
	check "$mode: re-attached and completed" 0 '^one two three$' \
	    '^agentctl: watch: daemon connection lost, re-attaching$'
	logcheck "$mode: re-attached after the last event printed" \
	    "len(log) == 2 and log[1]['path'].endswith('/events?after=$last') and log[1]['headers']['accept'] == 'text/event-stream'"
	stop_server
done

echo "agentctl http tests: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
