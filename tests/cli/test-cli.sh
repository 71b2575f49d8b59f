#!/bin/sh
# test-cli.sh: end-to-end checks of agentctl against an API server on a
# temporary Unix socket (by default tests/cli/fake-api.py). Prints one
# PASS/FAIL line per check; exits 1 if any failed.
#
# Environment: AGENTCTL (binary, default bin/agentctl), PYTHON (python3),
# FAKE_API (the server script). To run against the real daemon, redefine
# start_server/stop_server (and the run behaviours the fake keys on the
# input text: "[fail]", "[pending]", "[stale]", metadata fake_age_s, and
# model "bad" being refused with 400 "unknown model: bad").

set -u
HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
AGENTCTL=${AGENTCTL:-$ROOT/bin/agentctl}
PYTHON=${PYTHON:-python3}
FAKE_API=${FAKE_API:-$HERE/fake-api.py}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/agentctl-test.XXXXXX")
SOCK=$TMP/api.sock
REQLOG=$TMP/requests.jsonl
SERVER_PID=
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

# Start the API server on $SOCK with extra arguments; wait for the socket.
start_server() {
	rm -f "$SOCK"
	"$PYTHON" "$FAKE_API" "$SOCK" --state "$TMP/state.json" \
	    --log "$REQLOG" "$@" 2>>"$TMP/server.log" &
	wait_server
}

# ctl ARGS...: run agentctl on $SOCK; output in $TMP/out, $TMP/err; $rc.
ctl() {
	"$AGENTCTL" -s "$SOCK" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# ctl_in FILE ARGS...: like ctl with stdin from FILE.
ctl_in() {
	f=$1
	shift
	"$AGENTCTL" -s "$SOCK" "$@" <"$f" >"$TMP/out" 2>"$TMP/err"
	rc=$?
}

# check NAME WANT_RC [grep -E pattern for stdout] [pattern for stderr]
check() {
	name=$1 want=$2
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

# pycheck NAME EXPR: evaluate a Python expression over j (stdout as JSON),
# lines (stdout lines) and log (the request log as a list).
pycheck() {
	if "$PYTHON" - "$TMP/out" "$REQLOG" "$2" <<'EOF' 2>"$TMP/py.err"
import json, sys
out, logf, expr = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(out).read()
lines = text.splitlines()
try:
    j = json.loads(text)
except ValueError:
    j = None
try:
    log = [json.loads(l) for l in open(logf)]
except OSError:
    log = []
sys.exit(0 if eval(expr) else 1)
EOF
	then
		pass "$1"
	else
		fail "$1" "python: $2 $(cat "$TMP/py.err")"
	fi
}

# ------------------------------------------------------------------
# Without a server.

[ -x "$AGENTCTL" ] || { echo "FAIL no agentctl binary at $AGENTCTL"; exit 1; }

ctl --version
check "--version" 0 '^agentctl [0-9]+\.[0-9]+'
# Every command starts agentctl: it must not load libpq and its
# dependencies (cmd/agentctl/pq-dl.c opens libpq only for a PostgreSQL
# store), which cost 6-7 ms of each command.
if command -v readelf >/dev/null 2>&1 && readelf -h "$AGENTCTL" >/dev/null 2>&1; then
	if readelf -d "$AGENTCTL" | grep NEEDED | grep -q libpq; then
		fail "agentctl does not link libpq" "$(readelf -d "$AGENTCTL" | grep NEEDED | tr -s ' ' | tr '\n' ' ')"
	else
		pass "agentctl does not link libpq"
	fi
fi
ctl --help
check "--help lists commands" 0 'submit' && \
    check "--help lists exit codes" 0 'not found'
for c in batch cancel events help list prune queue result resume show \
    status submit watch; do
	ctl "$c" --help
	check "$c --help" 0 "^usage: agentctl $c"
	ctl help "$c"
	check "help $c" 0 "^usage: agentctl $c"
done
ctl help nosuch
check "help unknown command" 2 '' 'agentctl: help: unknown command'

ctl
check "no command: usage error" 2 '' 'usage:'
ctl frobnicate
check "unknown command" 2 '' 'unknown command: frobnicate'
ctl --bogus list
check "unknown global option" 2 '' 'unknown option'
ctl sh x
check "commands match exactly (no prefixes)" 2
ctl show
check "show: missing ID" 2 '' '^agentctl: show: missing argument'
grep -q '^usage: agentctl show ID' "$TMP/err" && pass "usage line on error" ||
    fail "usage line on error"
ctl show a b
check "show: too many arguments" 2 '' 'too many arguments'
ctl list --bogus
check "list: unknown option" 2 '' '^agentctl: list: unknown option: --bogus'
ctl list --limit x
check "list: bad --limit" 2 '' 'bad --limit'
ctl list --status
check "list: option missing argument" 2 '' 'requires an argument'
ctl submit
check "submit: no request" 2 '' 'need -f FILE or --input'
ctl submit --input hi --mode sideways
check "submit: bad --mode" 2 '' 'bad --mode'
ctl submit --input hi --metadata novalue
check "submit: bad --metadata" 2 '' 'KEY=VALUE'
ctl submit --input hi --priority high
check "submit: bad --priority" 2 '' 'bad --priority'
ctl prune
check "prune: --older-than required" 2 '' 'older-than'
ctl prune --older-than 7x
check "prune: bad duration" 2 '' 'bad duration'
ctl watch r_x --after z
check "watch: bad --after" 2 '' 'bad --after'
ctl resume
check "resume: nothing given" 2
ctl resume r_x --stale
check "resume: ID and --stale" 2
ctl batch
check "batch: no file" 2
ctl batch "$TMP/nonexistent.jsonl" --require-daemon
check "batch: missing file before the daemon" 2 '' 'nonexistent.jsonl'
printf '{"model":"m","input":"offline"}\n' >"$TMP/off.jsonl"
ctl batch "$TMP/off.jsonl" --require-daemon --db "$TMP/off.db"
check "batch --require-daemon, daemon down: exit 3" 3 '' 'require-daemon'
[ ! -e "$TMP/off.db" ] && pass "batch --require-daemon: no store made" ||
    fail "batch --require-daemon: no store made"
ctl batch "$TMP/off.jsonl"
check "batch, daemon down, no --db: exit 3" 3 '' 'AGENTD_DB'
ctl batch "$TMP/off.jsonl" --db "$TMP/off.db"
check "batch --db, daemon down: stored" 0 \
    '^batch off: submitted 1, already present 0, bad 0$' \
    "not running .*stored in $TMP/off.db for dispatch when it starts"
AGENTD_DB=$TMP/off.db "$AGENTCTL" -s "$SOCK" batch "$TMP/off.jsonl" \
    >"$TMP/out" 2>"$TMP/err"
rc=$?
check "batch with AGENTD_DB, daemon down: present" 0 \
    '^batch off: submitted 0, already present 1, bad 0$'
ctl batch status off --db "$TMP/off.db"
check "batch status --db, daemon down" 0 '^  pending +1$' \
    "using its store $TMP/off.db"
ctl queue list --db "$TMP/off.db"
check "queue list --db, daemon down" 0 '^default +- +false +0 +1 +0 +0 +0$'
ctl batch status off
check "batch status, daemon down, no --db: exit 3" 3 '' 'AGENTD_DB'
ctl batch list --db "$TMP/nonexistent.db"
check "batch list --db missing file: exit 3" 3 '' 'nonexistent.db'
ctl events r_x --limit 0
check "events: bad --limit" 2

ctl status
check "unreachable daemon: exit 3" 3 '' "$SOCK"
grep -q 'agentd running' "$TMP/err" && pass "unreachable names the cause" ||
    fail "unreachable names the cause"
AGENTD_SOCKET=$TMP/env.sock "$AGENTCTL" status >"$TMP/out" 2>"$TMP/err"
rc=$?
check "AGENTD_SOCKET is the default socket" 3 '' "$TMP/env.sock"
ctl watch r_0000000000000000
check "watch: unreachable at start: exit 3" 3

printf '{"model": "m",\n  "input": }\n' >"$TMP/bad.json"
ctl submit -f "$TMP/bad.json"
check "submit: invalid JSON file, line:column" 2 '' 'bad.json:2:[0-9]+:'
printf '[1, 2]\n' >"$TMP/array.json"
ctl submit -f "$TMP/array.json"
check "submit: file must hold an object" 2 '' 'must be a JSON object'
ctl submit -f "$TMP/nonexistent.json"
check "submit: missing file" 2 '' 'nonexistent.json'

# ------------------------------------------------------------------
# Against the server.

start_server

ctl status
check "status" 0 'workers' && check "status: runs by status" 0 'runs by'
ctl status --json
pycheck "status --json" 'j["status"] == "ok" and "version" in j'

ctl submit --model m --input "hello brave new world" --metadata team=red \
    --metadata k=v=w --idempotency-key key-1 --queue q1 --priority 7
check "submit --model --input prints the id" 0 '^r_[0-9a-f]{16}$'
ID=$(cat "$TMP/out")
pycheck "submit: envelope" '[e for e in log if e["method"] == "POST"][-1]["body"] == {"request": {"model": "m", "input": "hello brave new world", "metadata": {"team": "red", "k": "v=w"}}, "idempotency_key": "key-1", "queue": "q1", "priority": 7}'
[ "$(wc -l <"$TMP/out")" -eq 1 ] && pass "submit: id alone on a line" ||
    fail "submit: id alone on a line"

ctl submit --model m --input "hello brave new world" --idempotency-key key-1
check "submit: same idempotency key, same run" 0 "^$ID\$"

printf '{"model":"m","input":"from a file","metadata":{"x":"1"}}' \
    >"$TMP/req.json"
ctl submit -f "$TMP/req.json" --metadata y=2 --mode background
check "submit -f FILE" 0 '^r_[0-9a-f]{16}$'
pycheck "submit -f: metadata merged, mode sent" '(lambda b: b["request"]["metadata"] == {"x": "1", "y": "2"} and b["mode"] == "background" and "queue" not in b)([e for e in log if e["method"] == "POST"][-1]["body"])'
ctl_in "$TMP/req.json" submit -f - --json
pycheck "submit -f - --json" 'j["id"].startswith("r_") and j["status"]'
echo "text from stdin" >"$TMP/input.txt"
ctl_in "$TMP/input.txt" submit --model m --input -
check "submit --input -" 0 '^r_'
pycheck "submit --input -: text read" '[e for e in log if e["method"] == "POST"][-1]["body"]["request"]["input"] == "text from stdin"'

ctl submit --model bad --input hi
check "submit: daemon error verbatim, exit 5" 5 '' \
    '^agentctl: submit: unknown model: bad$'

ctl submit --model m --input "waited for" --wait
check "submit --wait: completed" 0 '^r_' 'completed'
ctl submit --model m --input "[fail] me" --wait
check "submit --wait: failed run exits 1" 1 '^r_' ': failed'
FAILED=$(head -n 1 "$TMP/out")
ctl submit --model m --input "waited for" --wait --json
pycheck "submit --wait --json: final run" 'j["status"] == "completed"'

ctl list
check "list" 0 "^ID +STATUS +MODE +AGE +LAST EVENT +EVENTS +BACKEND ID" &&
    check "list shows runs" 0 "^$ID +completed +background"
pycheck "list: no colour when not a terminal" '"\x1b" not in text'
ctl list --json
pycheck "list --json" 'isinstance(j["runs"], list) and len(j["runs"]) >= 5'
NRUNS=$("$PYTHON" -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["runs"]))' "$TMP/out")
ctl list --status failed --json
pycheck "list --status" 'j["runs"] and all(r["status"] == "failed" for r in j["runs"])'
ctl list --queue q1
check "list --queue" 0 "$ID"
ctl list --limit 2
pycheck "list --limit: one page" 'len(lines) == 3'
grep -q -- '--all' "$TMP/err" && pass "list --limit: hints at --all" ||
    fail "list --limit: hints at --all"
ctl list --limit 2 --all --json
pycheck "list --all follows next" "len(j['runs']) == $NRUNS and len(set(r['id'] for r in j['runs'])) == $NRUNS"
if command -v script >/dev/null 2>&1; then
	TERM=xterm script -qec "$AGENTCTL -s $SOCK list" /dev/null \
	    >"$TMP/out" 2>&1 </dev/null
	pycheck "list: colour on a terminal" '"\x1b[32mcompleted\x1b[0m" in text'
	TERM=xterm NO_COLOR=1 script -qec "$AGENTCTL -s $SOCK list" \
	    /dev/null >"$TMP/out" 2>&1 </dev/null
	pycheck "list: NO_COLOR" '"\x1b" not in text'
fi

ctl show "$ID"
check "show" 0 "^id: $ID\$" && check "show: status" 0 '^status: completed$'
ctl show "$FAILED"
check "show: error verbatim" 0 '^error.message: backend exploded$' &&
    check "show: error http status" 0 '^error.http_status: 500$' &&
    check "show: error body" 0 '^error.body: \{"error":\{"message":"boom"\}\}$'
ctl --json show "$ID"
pycheck "--json before the command" "j['id'] == '$ID'"
ctl show "$ID" --json
pycheck "--json after the command" "j['id'] == '$ID'"
ctl show r_0123456789abcdef
check "show: not found, exit 4" 4 '' \
    '^agentctl: show: .*r_0123456789abcdef'

ctl watch "$ID"
check "watch: text" 0 '^hello brave new world$' "^run $ID: completed\$"
[ "$(cat "$TMP/out")" = "hello brave new world" ] &&
    pass "watch: exact output" || fail "watch: exact output"
ctl watch "$FAILED"
check "watch: failed run exits 1" 1 '' "^run $FAILED: failed"
ctl watch "$ID" --json
pycheck "watch --json: event lines" 'all(set(json.loads(l)) == {"seq", "type", "data"} for l in lines) and json.loads(lines[-1])["type"] == "agentd.status" and json.loads(lines[0])["seq"] == 0'
ctl watch "$ID" --after 2 --json
pycheck "watch --after" 'json.loads(lines[0])["seq"] == 3'
ctl watch r_0123456789abcdef
check "watch: not found" 4

ctl submit --model m --input "[pending] job"
PENDING=$(cat "$TMP/out")
"$AGENTCTL" -s "$SOCK" watch "$PENDING" >"$TMP/wout" 2>"$TMP/werr" &
WPID=$!
sleep 0.5
ctl result "$PENDING"
check "result: not finished, exit 5" 5 '' '^agentctl: result: .+'
ctl cancel "$PENDING"
check "cancel" 0 "^run $PENDING: cancelled\$"
wait $WPID
rc=$?
cp "$TMP/wout" "$TMP/out"
cp "$TMP/werr" "$TMP/err"
check "watch: live run cancelled, exit 1" 1 '' "^run $PENDING: cancelled"
ctl cancel "$PENDING"
check "cancel: finished run, exit 5" 5 '' '^agentctl: cancel: .+'
ctl cancel r_0123456789abcdef
check "cancel: not found" 4
ctl submit --model m --input "[pending] two"
ctl cancel "$(cat "$TMP/out")" --json
pycheck "cancel --json" 'j["status"] == "cancelled"'

ctl result "$ID"
check "result" 0 '^hello brave new world$'
[ "$(tail -c 1 "$TMP/out" | od -An -c | tr -d ' ')" = '\n' ] &&
    pass "result: trailing newline" || fail "result: trailing newline"
ctl result "$FAILED"
check "result: failed run exits 1" 1 '' \
    "^run $FAILED: failed: backend exploded\$"
ctl result "$ID" --json
pycheck "result --json" 'j["status"] == "completed" and j["output_text"] == "hello brave new world"'
ctl result r_0123456789abcdef
check "result: not found" 4

ctl submit --model m --input "[stale] job"
STALE=$(cat "$TMP/out")
ctl resume --stale
check "resume --stale" 0 "^$STALE\$"
ctl resume --stale --json
pycheck "resume --stale --json" 'j == {"resumed": []}'
ctl resume "$STALE"
check "resume ID" 0 "^run $STALE: running\$"
ctl resume "$STALE" --json
pycheck "resume ID --json" 'j["attempts"] >= 3'
ctl resume "$ID"
check "resume: completed run, exit 5" 5 '' '^agentctl: resume: '
ctl resume r_0123456789abcdef
check "resume: not found" 4

ctl events "$ID"
check "events" 0 '^0 response.created$' && \
    check "events: deltas" 0 '^1 response.output_text.delta$'
ctl events "$ID" --after 1 --limit 2
pycheck "events --after --limit" 'lines == ["2 response.output_text.delta", "3 response.output_text.delta"]'
ctl events "$ID" --json --limit 2
pycheck "events --json" 'len(j["events"]) == 2 and j["next_after"] == 1'
ctl events r_0123456789abcdef
check "events: not found" 4

ctl submit --model m --input "old" --metadata fake_age_s=864000
OLD=$(cat "$TMP/out")
ctl prune --older-than 7d
check "prune" 0 '^pruned 1 runs$'
pycheck "prune: body" '[e for e in log if e["method"] == "POST"][-1]["body"] == {"older_than_s": 604800, "max_runs": 50000}'
ctl show "$OLD"
check "prune: run gone" 4
ctl prune --older-than 3600 --json
pycheck "prune --json" 'j == {"deleted": 0}'

# batch: good lines of both kinds, then bad ones.
cat >"$TMP/batch.jsonl" <<'EOF'
{"custom_id": "req-1", "method": "POST", "url": "/v1/responses", "body": {"model": "m", "input": "one"}}
{"model": "m", "input": "bare two"}

{"custom_id": "req-3", "method": "POST", "url": "/v1/responses"}
{"model": "m", "input": 
[1, 2, 3]
{"custom_id": "req-4", "method": "POST", "url": "/v1/responses", "body": {"model": "m", "input": "four"}}
{"custom_id": "req-1", "method": "POST", "url": "/v1/responses", "body": {"model": "m", "input": "again"}}
{"custom_id": "req-5", "method": "GET", "url": "/v1/responses", "body": {}}
{"custom_id": "req-6", "method": "POST", "url": "/v1/chat/completions", "body": {}}
{"custom_id": "", "method": "POST", "url": "/v1/responses", "body": {}}
{"custom_id": "req-7", "method": "POST", "url": "/v1/responses", "body": "text"}
EOF
BARE_ID=$("$PYTHON" -c 'import functools; print("line-%016x" % functools.reduce(lambda h, c: ((h ^ c) * 0x100000001b3) & (2**64 - 1), b"{\"model\": \"m\", \"input\": \"bare two\"}", 0xcbf29ce484222325))')
ctl batch "$TMP/batch.jsonl"
check "batch: summary" 1 '^batch batch: submitted 3, already present 0, bad 8$' \
    '^agentctl: batch: line 4: missing body$'
grep -q '^agentctl: batch: line 5: invalid JSON at column [0-9]' "$TMP/err" &&
    grep -q '^agentctl: batch: line 6: not a JSON object' "$TMP/err" &&
    grep -q '^agentctl: batch: line 8: duplicate custom_id "req-1" (first on line 1)$' "$TMP/err" &&
    grep -q '^agentctl: batch: line 9: method "GET" is not supported' "$TMP/err" &&
    grep -q '^agentctl: batch: line 10: url "/v1/chat/completions" is not supported' "$TMP/err" &&
    grep -q '^agentctl: batch: line 11: custom_id is empty$' "$TMP/err" &&
    grep -q '^agentctl: batch: line 12: body is not a JSON object$' "$TMP/err" &&
    pass "batch: bad lines reported" || fail "batch: bad lines reported"
pycheck "batch: one POST /v1/batches, custom_ids" "(lambda b: b['name'] == 'batch' and [r['custom_id'] for r in b['requests']] == ['req-1', '$BARE_ID', 'req-4'])([e for e in log if e['method'] == 'POST' and e['path'] == '/v1/batches'][-1]['body'])"
pycheck "batch: body submitted as the request" '[e for e in log if e["method"] == "POST"][-1]["body"]["requests"][2]["request"] == {"model": "m", "input": "four"}'
ctl batch "$TMP/batch.jsonl"
check "batch: re-run finds them present" 1 \
    '^batch batch: submitted 0, already present 3, bad 8$'
head -n 2 "$TMP/batch.jsonl" >"$TMP/good.jsonl"
ctl_in "$TMP/good.jsonl" batch - --name batch --json
pycheck "batch - --name --json, all good" 'j["name"] == "batch" and j["already_present"] == 2 and j["submitted"] == 0 and j["bad"] == 0 and j["errors"] == [] and j["offline"] is False'
[ "$rc" -eq 0 ] && pass "batch: exit 0 without bad lines" ||
    fail "batch: exit 0 without bad lines"
ctl_in "$TMP/good.jsonl" batch -
check "batch -: named stdin" 0 '^batch stdin: submitted 2, already present 0, bad 0$'
ctl batch submit --strict --queue q2 --max-attempts 4 --mode background \
    "$TMP/batch.jsonl" --name strict
check "batch --strict: nothing submitted" 1 \
    '^batch strict: submitted 0, already present 0, bad 8$' \
    'strict: 8 bad lines, nothing submitted'
pycheck "batch --strict: no request" '[e for e in log if e["method"] == "POST"][-1]["body"].get("name") != "strict"'
ctl batch submit --queue q2 --max-attempts 4 --mode background \
    "$TMP/good.jsonl" --name opts
pycheck "batch: options sent" '(lambda b: b["queue"] == "q2" and b["max_attempts"] == 4 and b["mode"] == "background")([e for e in log if e["method"] == "POST"][-1]["body"])'
ctl batch "$TMP/good.jsonl" --name 'bad name'
check "batch: bad --name" 2 '' 'bad --name'
cp "$TMP/good.jsonl" "$TMP/has space.jsonl"
ctl batch "$TMP/has space.jsonl"
check "batch: file name is no batch name" 2 '' 'use --name'
ctl batch --max-attempts 0 "$TMP/good.jsonl"
check "batch: bad --max-attempts" 2 '' 'max-attempts'
ctl batch "$TMP/nonexistent.jsonl"
check "batch: missing file" 2 '' 'nonexistent.jsonl'
ctl batch a b
check "batch: too many arguments" 2 '' 'too many arguments'

ctl batch status batch
check "batch status" 0 '^progress: +3/3 finished \(100\.0%\)$'
grep -q '^  completed  3$' "$TMP/out" && pass "batch status: counts" ||
    fail "batch status: counts"
ctl batch status batch --json
pycheck "batch status --json" 'j["name"] == "batch" and j["total"] == 3 and j["counts"] == {"completed": 3}'
ctl batch status nosuch
check "batch status: unknown batch, exit 4" 4 '' 'no batch nosuch'
ctl batch list
check "batch list" 0 '^NAME +QUEUE +RUNS +COMPLETED +FAILED +ACTIVE +PROGRESS +ETA +AGE$' &&
    check "batch list: rows" 0 '^batch +default +3 +3 +0 +0 +100% +done '
ctl batch list --json
pycheck "batch list --json" 'sorted(b["name"] for b in j["batches"]) == ["batch", "opts", "stdin"]'
ctl batch wait batch
check "batch wait: all completed" 0 '^batch batch: all 3 runs finished: completed 3$'
printf '{"model": "m", "input": "[fail] x"}\n{"model": "m", "input": "ok"}\n' \
    >"$TMP/fails.jsonl"
ctl batch "$TMP/fails.jsonl"
ctl batch wait fails
check "batch wait: a run failed, exit 1" 1 \
    '^batch fails: all 2 runs finished: completed 1, failed 1$'
ctl batch wait fails --json
pycheck "batch wait --json: the final status" 'j["finished"] == 2'
printf '{"model": "m", "input": "[pending] x"}\n' >"$TMP/pend.jsonl"
ctl batch "$TMP/pend.jsonl"
ctl batch wait pend --timeout 1
check "batch wait --timeout" 1 '' 'timed out after 1 s: 0 of 1 runs finished'
ctl batch wait pend --timeout x
check "batch wait: bad --timeout" 2 '' 'bad --timeout'
ctl batch results batch
pycheck "batch results: one line per run" "[json.loads(l)['custom_id'] for l in lines] == ['req-1', '$BARE_ID', 'req-4']"
ctl batch results fails --errors-only -o "$TMP/res.jsonl"
check "batch results -o" 0 "^batch fails: wrote 1 result to $TMP/res.jsonl\$"
pycheck "batch results --errors-only: the path" '[e for e in log if e["method"] == "GET"][-1]["path"] == "/v1/batches/fails/results?errors_only=true"'
[ "$(wc -l <"$TMP/res.jsonl")" -eq 1 ] && [ ! -e "$TMP/res.jsonl.tmp" ] &&
    grep -q '"error": {"code": "failed"' "$TMP/res.jsonl" &&
    pass "batch results -o: the file" || fail "batch results -o: the file"
ctl batch results nosuch -o "$TMP/none.jsonl"
check "batch results: unknown batch, exit 4" 4
[ ! -e "$TMP/none.jsonl" ] && [ ! -e "$TMP/none.jsonl.tmp" ] &&
    pass "batch results: no file on failure" ||
    fail "batch results: no file on failure"
ctl batch cancel pend
check "batch cancel" 0 '^batch pend: cancelled 1 run$'
ctl batch cancel pend --json
pycheck "batch cancel --json" 'j == {"name": "pend", "cancelled": 0}'
ctl batch cancel nosuch
check "batch cancel: unknown batch" 4
ctl batch status
check "batch status: missing NAME" 2 '' '^usage: agentctl batch status NAME'
ctl help batch status
check "help batch status" 0 '^usage: agentctl batch status NAME'
ctl batch results --help
check "batch results --help" 0 '^usage: agentctl batch results NAME'
ctl batch --help
check "batch --help: the subcommands" 0 'batch wait NAME'

ctl queue set q1 --max-inflight 5 --paused true --priority 3 \
    --max-attempts 2
check "queue set" 0 '^q1 +5 +true +3 '
pycheck "queue set: body" '[e for e in log if e["method"] == "POST"][-1] == {"method": "POST", "path": "/v1/queues/q1", "accept": "application/json", "body": {"max_inflight": 5, "paused": True, "priority": 3, "max_attempts": 2}}'
ctl queue set q1 --max-inflight none --paused false
pycheck "queue set none: null" '[e for e in log if e["method"] == "POST"][-1]["body"] == {"max_inflight": None, "paused": False}'
ctl queue list
check "queue list" 0 '^NAME +MAX-INFLIGHT +PAUSED +PRIORITY +QUEUED +INFLIGHT +COMPLETED +FAILED$' &&
    check "queue list: rows" 0 '^q1 +- +false +3 '
ctl queue list --json
pycheck "queue list --json" '"q1" in [q["name"] for q in j["queues"]]'
ctl queue set q1
check "queue set: nothing to set" 2 '' 'nothing to set'
ctl queue set q1 --paused maybe
check "queue set: bad --paused" 2 '' 'bad --paused'
ctl queue set q1 --max-inflight -1
check "queue set: bad --max-inflight" 2 '' 'bad --max-inflight'
ctl queue set 'q 1' --priority 1
check "queue set: bad name" 2 '' 'bad queue name'
ctl queue
check "queue: missing subcommand" 2 '' 'missing subcommand'
ctl queue frob
check "queue: unknown subcommand" 2 '' 'unknown subcommand: frob'

# watch re-attaches when the daemon restarts mid-stream.
ctl submit --model m --input "one two three four five six seven"
LONG=$(cat "$TMP/out")
stop_server
start_server --die-after-events 3 --event-delay 0.1 --chunk 3
"$AGENTCTL" -s "$SOCK" watch "$LONG" >"$TMP/wout" 2>"$TMP/werr" &
WPID=$!
wait "$SERVER_PID"
SERVER_PID=
sleep 0.3
start_server
wait $WPID
rc=$?
cp "$TMP/wout" "$TMP/out"
cp "$TMP/werr" "$TMP/err"
check "watch: re-attach after restart" 0 '' "^run $LONG: completed"
[ "$(cat "$TMP/out")" = "one two three four five six seven" ] &&
    pass "watch: nothing printed twice" || fail "watch: nothing printed twice"
[ "$(grep -c 're-attaching' "$TMP/err")" -eq 1 ] &&
    grep -q '^agentctl: watch: daemon connection lost, re-attaching$' \
    "$TMP/err" && pass "watch: says re-attaching once" ||
    fail "watch: says re-attaching once"
pycheck "watch: re-attached after the last seq" '[e["path"] for e in log if e["accept"] == "text/event-stream"][-1].endswith("/events?after=2")'

stop_server
start_server --die-after-events 4 --event-delay 0.1
"$AGENTCTL" -s "$SOCK" watch "$LONG" --json >"$TMP/wout" 2>"$TMP/werr" &
WPID=$!
wait "$SERVER_PID"
SERVER_PID=
start_server
wait $WPID
rc=$?
cp "$TMP/wout" "$TMP/out"
cp "$TMP/werr" "$TMP/err"
check "watch --json: re-attach" 0
pycheck "watch --json: seqs once each, in order" '(lambda q: q == list(range(9)))([json.loads(l)["seq"] for l in lines][:-1])'

stop_server
ctl list
check "daemon gone: exit 3" 3 '' 'cannot connect'

echo "agentctl tests: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
