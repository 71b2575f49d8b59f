#!/bin/sh
# Batches driven by cron: agentctl batch submit (online, offline into the
# store while agentd is down, racing itself), malformed lines, --strict,
# --require-daemon, status/list/wait/results/cancel, queues (max_inflight
# against agent-mock's own count of concurrent streams, pause), a 429 with
# Retry-After pausing the whole endpoint, retries of a stale run recorded
# as attempts, the contrib/cron wrapper run twice at once, offline reads
# equal to agentd's, and a store locked by another process past SQLite's
# busy timeout losing no run.
. "$(dirname "$0")/lib.sh"

TOP=$(cd "$(dirname "$0")/../.." && pwd)
NOSOCK=$T/nowhere.sock

# gen FILE N PREFIX METADATA: N Batch API input lines, custom_ids PREFIX-0000..
gen() {
	python3 - "$@" <<'PY'
import json, sys
path, n, prefix, md = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"custom_id": "%s-%04d" % (prefix, i),
                            "method": "POST", "url": "/v1/responses",
                            "body": {"model": "mock", "input": "%s %d" % (prefix, i),
                                     "metadata": md}}) + "\n")
PY
}

# pyj EXPR <JSON: print EXPR evaluated with d = the JSON document.
pyj() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }

# runs_in BATCH: the number of runs of the batch in the store.
runs_in() { sql "SELECT count(*) FROM runs WHERE batch = '$1'"; }

# off ARGS...: agentctl with no daemon to talk to.
off() { "$BIN/agentctl" -s "$NOSOCK" "$@"; }

# mock_stat KEY: one number from agent-mock's /mock/stats.
mock_stat() { mock /mock/stats | pyj "d['$1']"; }

QUICK='{"mock_events": "2", "mock_interval_ms": "0"}'

# ---------------------------------------------------------------------
# agentd not running.

gen "$T/big.jsonl" 1000 job "$QUICK"
ctl batch --require-daemon --db "$DB" "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "--require-daemon, agentd down: exit 3" [ $? -eq 3 ]
check "--require-daemon: says so" grep -q 'require-daemon' "$T/err"
check "--require-daemon: nothing stored (no database made)" [ ! -e "$DB" ]

ctl batch "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "agentd down, no --db/AGENTD_DB: exit 3" [ $? -eq 3 ]
check "agentd down, no store: says to pass --db or set AGENTD_DB" \
    grep -q 'pass --db PATH or set AGENTD_DB' "$T/err"

ctl batch --db "$DB" "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "offline submit of 1000 lines: exit 0" [ $? -eq 0 ]
check "offline submit: summary" grep -qx 'batch big: submitted 1000, already present 0, bad 0' "$T/out"
check "offline submit: says agentd is not running and where the runs are" \
    grep -q "agentd is not running .*the runs were stored in $DB for dispatch when it starts" "$T/err"
AGENTD_DB=$DB ctl batch "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "offline resubmit (AGENTD_DB): nothing added" \
    grep -qx 'batch big: submitted 0, already present 1000, bad 0' "$T/out"
check "offline: 1000 runs in the store" [ "$(runs_in big)" -eq 1000 ]

# Two offline submitters racing on the same file.
gen "$T/race-off.jsonl" 400 ro "$QUICK"
off batch --db "$DB" "$T/race-off.jsonl" >"$T/ro1.out" 2>"$T/ro1.err" &
p1=$!
off batch --db "$DB" "$T/race-off.jsonl" >"$T/ro2.out" 2>"$T/ro2.err" &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "offline race: both exit 0" [ "$r1$r2" = 00 ]
check "offline race: 400 submitted in all, 400 found present" python3 -c '
import re, sys
tot = [0, 0]
for f in sys.argv[1:]:
    m = re.search(r"submitted (\d+), already present (\d+), bad 0", open(f).read())
    tot[0] += int(m.group(1)); tot[1] += int(m.group(2))
sys.exit(0 if tot == [400, 400] else 1)' "$T/ro1.out" "$T/ro2.out"
check "offline race: no duplicate run" [ "$(runs_in race-off)" -eq 400 ]

# ---------------------------------------------------------------------
# agentd starts while another offline submitter writes the store.

start_mock
gen "$T/startrace.jsonl" 500 sr "$QUICK"
off batch --db "$DB" "$T/startrace.jsonl" >"$T/sr.out" 2>"$T/sr.err" &
p1=$!
start_agentd
wait $p1
check "offline submit alongside a starting agentd: exit 0" [ $? -eq 0 ]
ctl batch wait big --timeout 60 >"$T/out" 2>"$T/err"
check "runs stored while agentd was down are dispatched when it starts" [ $? -eq 0 ]
check "batch wait: final line" grep -qx 'batch big: all 1000 runs finished: completed 1000' "$T/out"
ctl batch wait race-off --timeout 30 >>"$T/ctl.log" 2>&1
check "offline race batch completes" [ $? -eq 0 ]
ctl batch wait startrace --timeout 30 >>"$T/ctl.log" 2>&1
check "batch stored during agentd's start completes" [ $? -eq 0 ]
check "no run created twice at the backend (1900 responses for 1900 runs)" \
    [ "$(mock_stat runs)" -eq 1900 ]

ctl batch "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "online resubmit of the 1000 lines: exit 0" [ $? -eq 0 ]
check "online resubmit: nothing added, and says so" \
    grep -qx 'batch big: submitted 0, already present 1000, bad 0' "$T/out"
check "online resubmit: says nothing new" grep -q 'nothing new' "$T/err"
check "1000 lines submitted twice (and more) are 1000 runs" [ "$(runs_in big)" -eq 1000 ]

# Results: every custom_id exactly once, in submission order.
ctl batch results big -o "$T/big.out" >"$T/out" 2>"$T/err"
check "results -o: exit 0" [ $? -eq 0 ]
check "results -o: says how many" grep -qx "batch big: wrote 1000 results to $T/big.out" "$T/out"
check "results -o: no temporary file left" [ ! -e "$T/big.out.tmp" ]
check "results match every custom_id exactly once" python3 -c '
import json, sys
want = [json.loads(l)["custom_id"] for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
ids = [g["custom_id"] for g in got]
ok = ids == want and len(set(ids)) == 1000
ok = ok and all(g["error"] is None and g["response"]["status_code"] == 200
                and g["response"]["body"]["status"] == "completed"
                and g["id"].startswith("batch_req_") for g in got)
sys.exit(0 if ok else 1)' "$T/big.jsonl" "$T/big.out"
ctl batch results big --errors-only >"$T/out"
check "results --errors-only: nothing for an all-completed batch" [ ! -s "$T/out" ]

# Two online submitters racing on the same file.
gen "$T/race.jsonl" 600 ra "$QUICK"
ctl batch "$T/race.jsonl" >"$T/ra1.out" 2>&1 &
p1=$!
ctl batch "$T/race.jsonl" >"$T/ra2.out" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "online race: both exit 0" [ "$r1$r2" = 00 ]
check "online race: 600 submitted in all" python3 -c '
import re, sys
n = sum(int(re.search(r"submitted (\d+),", open(f).read()).group(1)) for f in sys.argv[1:])
sys.exit(0 if n == 600 else 1)' "$T/ra1.out" "$T/ra2.out"
check "online race: no duplicate run" [ "$(runs_in race)" -eq 600 ]

# ---------------------------------------------------------------------
# Malformed lines.

cat >"$T/bad.jsonl" <<'EOF'
{"custom_id": "ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "one", "metadata": {"mock_events": "2"}}}
{"custom_id": "x", "method": "POST",
[1, 2]
{"method": "POST", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "", "method": "POST", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "get", "method": "GET", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "chat", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "mock"}}

{"custom_id": "str", "method": "POST", "url": "/v1/responses", "body": "hello"}
{"custom_id": "ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "again"}}
{"model": "mock", "input": "a bare line", "metadata": {"mock_events": "2"}}
EOF
ctl batch "$T/bad.jsonl" >"$T/out" 2>"$T/err"
check "malformed lines: exit 1" [ $? -eq 1 ]
check "malformed lines: summary" grep -qx 'batch bad: submitted 2, already present 0, bad 8' "$T/out"
check "malformed: invalid JSON with its column" grep -q '^agentctl: batch: line 2: invalid JSON at column [0-9]*: ' "$T/err"
check "malformed: not an object" grep -qx 'agentctl: batch: line 3: not a JSON object' "$T/err"
check "malformed: missing custom_id" grep -qx 'agentctl: batch: line 4: missing custom_id' "$T/err"
check "malformed: empty custom_id" grep -qx 'agentctl: batch: line 5: custom_id is empty' "$T/err"
check "malformed: method not POST" grep -q '^agentctl: batch: line 6: method "GET" is not supported' "$T/err"
check "malformed: url not /v1/responses" grep -q '^agentctl: batch: line 7: url "/v1/chat/completions" is not supported' "$T/err"
check "malformed: body not an object" grep -qx 'agentctl: batch: line 9: body is not a JSON object' "$T/err"
check "malformed: duplicate custom_id" grep -qx 'agentctl: batch: line 10: duplicate custom_id "ok-1" (first on line 1)' "$T/err"
check "malformed: the good lines were submitted" [ "$(runs_in bad)" -eq 2 ]
bare=$(python3 -c '
import functools
line = b"{\"model\": \"mock\", \"input\": \"a bare line\", \"metadata\": {\"mock_events\": \"2\"}}"
print("line-%016x" % functools.reduce(lambda h, c: ((h ^ c) * 0x100000001b3) & (2**64 - 1), line, 0xcbf29ce484222325))')
check "a bare line's custom_id is line- and its FNV-1a hash" \
    [ "$(sql "SELECT custom_id FROM runs WHERE batch = 'bad' ORDER BY n DESC LIMIT 1")" = "$bare" ]
ctl batch --strict --name strict "$T/bad.jsonl" >"$T/out" 2>"$T/err"
check "--strict with bad lines: exit 1" [ $? -eq 1 ]
check "--strict: says nothing was submitted" grep -q 'strict: 8 bad lines, nothing submitted' "$T/err"
check "--strict: nothing stored" [ "$(runs_in strict)" -eq 0 ]
ctl batch status strict >>"$T/ctl.log" 2>&1
check "--strict: no batch made (status exit 4)" [ $? -eq 4 ]
grep '"ok-1"' "$T/bad.jsonl" | head -n 1 >"$T/good.jsonl"
ctl batch --strict --name strict2 "$T/good.jsonl" >"$T/out" 2>&1
check "--strict without bad lines: submitted, exit 0" \
    sh -c "[ $? -eq 0 ] && grep -qx 'batch strict2: submitted 1, already present 0, bad 0' '$T/out'"

# ---------------------------------------------------------------------
# status, list, wait, results, cancel.

cat >"$T/mixed.jsonl" <<'EOF'
{"custom_id": "m-ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "one", "metadata": {"mock_events": "3"}}}
{"custom_id": "m-fail", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "two", "metadata": {"mock_events": "3", "mock_fail": "failed"}}}
{"custom_id": "m-ok-2", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "three", "metadata": {"mock_events": "3"}}}
EOF
ctl batch "$T/mixed.jsonl" >>"$T/ctl.log" 2>&1
ctl batch wait mixed --timeout 30 >"$T/out" 2>"$T/err"
check "wait: exit 1 when a run failed" [ $? -eq 1 ]
check "wait: the final line counts them" grep -qx 'batch mixed: all 3 runs finished: completed 2, failed 1' "$T/out"
ctl batch wait mixed --json >"$T/out"
v=$(pyj '(d["finished"], d["counts"]["failed"])' <"$T/out")
check "wait --json: the final status" [ "$v" = '(3, 1)' ]
ctl batch status mixed >"$T/out"
check "status: progress line" grep -qx 'progress:  3/3 finished (100.0%)' "$T/out"
check "status: counts by status" sh -c "grep -Eq '^  completed +2$' '$T/out' && grep -Eq '^  failed +1$' '$T/out'"
check "status: rate and time left" sh -c "grep -Eq '^rate: +[0-9.]+ runs/min' '$T/out' && grep -qx 'time left: done' '$T/out'"
check "status: a young batch's rate is since it was created" \
    grep -Eq '^rate: +[0-9.]+ runs/min \(since the batch was created\)$' "$T/out"
ctl batch status mixed --json >"$T/out"
# Its 3 runs finished within its life, seconds: at least 3 over that
# long a minute (it said 3 over five minutes, 0.6).
check "status --json: a young batch's rate is over its life" python3 -c '
import json, sys, time
d = json.load(open(sys.argv[1]))
age = max(time.time() * 1000 - d["created_at"], 1000)
sys.exit(0 if d["rate_per_min"] >= 0.99 * 3 * 60000 / age > 0.6 else 1)' "$T/out"
v=$(pyj '(d["name"], d["total"], d["finished"], d["counts"], d["queue"], d["max_attempts"])' <"$T/out")
check "status --json: the daemon's JSON" [ "$v" = "('mixed', 3, 3, {'completed': 2, 'failed': 1}, 'default', 3)" ]
api http://localhost/v1/batches/mixed >"$T/api.json"
check "status --json is GET /v1/batches/NAME" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("rate_per_min", "eta_s"):
    a.pop(k); b.pop(k)
sys.exit(0 if a == b else 1)' "$T/out" "$T/api.json"
ctl batch status nosuch >>"$T/ctl.log" 2>"$T/err"
check "status of an unknown batch: exit 4" [ $? -eq 4 ]
ctl batch list >"$T/out"
check "list: header" grep -Eq '^NAME +QUEUE +RUNS +COMPLETED +FAILED +ACTIVE +PROGRESS +ETA +AGE$' "$T/out"
check "list: a row per batch" sh -c "grep -Eq '^mixed +default +3 +2 +1 +0 +100% +done ' '$T/out' && grep -Eq '^big +default +1000 +1000 +0 +0 +100% ' '$T/out'"
ctl batch list --json >"$T/out"
v=$(pyj 'sorted(b["name"] for b in d["batches"])' <"$T/out")
check "list --json" [ "$v" = "['bad', 'big', 'mixed', 'race', 'race-off', 'startrace', 'strict2']" ]
ctl batch results mixed --errors-only -o "$T/mixed.err" >>"$T/ctl.log"
check "results --errors-only: the failed run alone" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(lines) == 1 and lines[0]["custom_id"] == "m-fail" and lines[0]["error"]["code"] == "failed" else 1)' "$T/mixed.err"
ctl batch results mixed >"$T/out"
check "results to stdout: one line per run in submission order" sh -c "[ \"\$(python3 -c 'import json,sys; print(\" \".join(json.loads(l)[\"custom_id\"] for l in open(sys.argv[1])))' '$T/out')\" = 'm-ok-1 m-fail m-ok-2' ]"
ctl batch results nosuch -o "$T/nosuch.out" >>"$T/ctl.log" 2>&1
check "results of an unknown batch: exit 4, no file" sh -c "[ $? -eq 4 ] && [ ! -e '$T/nosuch.out' ] && [ ! -e '$T/nosuch.out.tmp' ]"

gen "$T/slow.jsonl" 3 slow '{"mock_events": "1000", "mock_interval_ms": "50"}'
ctl batch "$T/slow.jsonl" >>"$T/ctl.log" 2>&1
wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM runs WHERE batch = 'slow' AND status = 'running'\")\" = 3 ]"
ctl batch wait slow --timeout 1 >"$T/out" 2>"$T/err"
check "wait --timeout: exit 1" [ $? -eq 1 ]
check "wait --timeout: says so" grep -q 'timed out after 1 s: 0 of 3 runs finished' "$T/err"
check "wait, not a terminal: plain progress line" grep -Eq '^batch slow: 0/3 finished \(0%\): running 3; [0-9.]+/min, time left ' "$T/out"
ctl batch cancel slow >"$T/out" 2>"$T/err"
check "cancel: exit 0" [ $? -eq 0 ]
check "cancel: says how many" grep -qx 'batch slow: cancelled 3 runs' "$T/out"
check "cancel: the runs are cancelled" [ "$(sql "SELECT count(*) FROM runs WHERE batch = 'slow' AND status = 'cancelled'")" -eq 3 ]
check "cancel: the backend responses are cancelled too" wait_for 5 sh -c "[ \"\$(curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"cancels\"])')\" -ge 3 ]"
ctl batch cancel slow --json >"$T/out"
v=$(pyj 'd' <"$T/out")
check "cancel --json: nothing left to cancel" [ "$v" = "{'name': 'slow', 'cancelled': 0}" ]
ctl batch cancel nosuch >>"$T/ctl.log" 2>&1
check "cancel of an unknown batch: exit 4" [ $? -eq 4 ]
ctl batch wait slow >"$T/out"
check "wait on a cancelled batch: exit 1" [ $? -eq 1 ]
if command -v script >/dev/null 2>&1; then
	TERM=xterm script -qec "'$BIN/agentctl' -s '$SOCK' batch wait mixed" \
	    /dev/null >"$T/tty.out" 2>&1 </dev/null
	check "wait on a terminal: a progress bar" python3 -c '
import sys
t = open(sys.argv[1], "rb").read()
sys.exit(0 if b"\r[" + b"#" * 30 + b"] 3/3 100%" in t and b"all 3 runs finished" in t else 1)' "$T/tty.out"
else
	skip "wait on a terminal: no script(1)"
fi

# ---------------------------------------------------------------------
# Queues: list, set, pause.

ctl queue set qp --paused true --priority 5 --max-attempts 2 >"$T/out"
check "queue set: prints the queue" grep -Eq '^qp +- +true +5 +0 +0 +0 +0$' "$T/out"
gen "$T/paused.jsonl" 2 qp "$QUICK"
ctl batch --queue qp "$T/paused.jsonl" >>"$T/ctl.log" 2>&1
sleep 1.5
check "a paused queue dispatches nothing" [ "$(sql "SELECT count(*) FROM runs WHERE batch = 'paused' AND status = 'pending' AND lease_owner IS NULL")" -eq 2 ]
check "batch max_attempts from its queue" [ "$(sql "SELECT max_attempts FROM batches WHERE name = 'paused'")" -eq 2 ]
ctl queue list >"$T/out"
check "queue list: header" grep -Eq '^NAME +MAX-INFLIGHT +PAUSED +PRIORITY +QUEUED +INFLIGHT +COMPLETED +FAILED$' "$T/out"
check "queue list: the paused queue with its queued runs" grep -Eq '^qp +- +true +5 +2 +0 +0 +0$' "$T/out"
ctl queue list --json >"$T/out"
v=$(pyj '[(q["paused"], q["queued"], q["max_attempts"]) for q in d["queues"] if q["name"] == "qp"]' <"$T/out")
check "queue list --json" [ "$v" = '[(True, 2, 2)]' ]
ctl queue set qp --paused false >>"$T/ctl.log"
ctl batch wait paused --timeout 20 >>"$T/ctl.log" 2>&1
check "unpaused: the runs complete" [ $? -eq 0 ]
ctl queue set qp --max-inflight 0 --json >"$T/out"
v=$(pyj '[q["max_inflight"] for q in d["queues"] if q["name"] == "qp"]' <"$T/out")
check "queue set --json: the queue list" [ "$v" = '[0]' ]
ctl queue set qp --max-inflight none >"$T/out"
check "queue set --max-inflight none: no limit" grep -Eq '^qp +- +false +5 ' "$T/out"
ctl queue set qp >>"$T/ctl.log" 2>&1
check "queue set without a setting: usage, exit 2" [ $? -eq 2 ]
ctl queue set qp --paused perhaps >>"$T/ctl.log" 2>&1
check "queue set --paused perhaps: exit 2" [ $? -eq 2 ]

# ---------------------------------------------------------------------
# max_inflight 5, checked against the mock's count of concurrent streams.

kill_agentd 15
stop_mock
start_mock
start_agentd
ctl queue set q5 --max-inflight 5 >>"$T/ctl.log"
gen "$T/five.jsonl" 20 five '{"mock_events": "10", "mock_interval_ms": "50"}'
ctl batch --queue q5 "$T/five.jsonl" >>"$T/ctl.log" 2>&1
mkdir "$T/samples"
i=0
while [ $i -lt 300 ]; do
	ctl queue list --json >"$T/samples/$i.json" 2>>"$T/ctl.log"
	[ "$(sql "SELECT count(*) FROM runs WHERE batch = 'five' AND finished_at IS NULL")" = 0 ] && break
	i=$((i + 1))
	sleep 0.05
done
ctl batch wait five --timeout 30 >>"$T/ctl.log" 2>&1
check "max_inflight 5: the batch completes" [ $? -eq 0 ]
peak=$(mock_stat streams_peak)
check "max_inflight 5: agent-mock never had more than 5 streams (peak $peak)" [ "$peak" -le 5 ]
check "max_inflight 5: runs did run in parallel (peak $peak)" [ "$peak" -ge 2 ]
seen=$(python3 -c '
import glob, json
m = 0
for f in glob.glob(__import__("sys").argv[1] + "/*.json"):
    try:
        d = json.load(open(f))
    except ValueError:
        continue
    m = max([m] + [q["inflight"] for q in d["queues"] if q["name"] == "q5"])
print(m)' "$T/samples")
check "max_inflight 5: queue list never showed more than 5 in flight (max $seen)" [ "$seen" -le 5 ]
check "max_inflight 5: queue list saw runs in flight (max $seen)" [ "$seen" -ge 2 ]

# ---------------------------------------------------------------------
# A 429 with Retry-After: 2 pauses every request to the endpoint.

kill_agentd 15
stop_mock
rm -f "$T/mock.port"
"$BIN/agent-mock" --port-file "$T/mock.port" --fail-creates 1 \
    --fail-status 429 --retry-after 2 --verbose >>"$T/mock429.log" 2>&1 &
MOCK_PID=$!
wait_for 10 test -s "$T/mock.port" || { fail "agent-mock did not start"; exit 1; }
MOCK_URL=http://127.0.0.1:$(cat "$T/mock.port")
start_agentd
gen "$T/rl1.jsonl" 1 rl1 "$QUICK"
gen "$T/rl2.jsonl" 5 rl2 "$QUICK"
ctl batch "$T/rl1.jsonl" >>"$T/ctl.log" 2>&1
wait_for 10 grep -q 'endpoint rate-limited' "$T/agentd.log"
ctl batch "$T/rl2.jsonl" >>"$T/ctl.log" 2>&1
t_sub=$(date +%s%3N)
ctl batch wait rl1 --timeout 30 >>"$T/ctl.log" 2>&1 &&
    ctl batch wait rl2 --timeout 30 >>"$T/ctl.log" 2>&1
check "429: every run completes after the pause" [ $? -eq 0 ]
check "429: the mock answered one 429 and six creates" sh -c "[ \"\$(curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"creates_by_status\"])')\" = \"{'200': 6, '429': 1}\" ]"
check "429 with Retry-After 2: no request to the endpoint for 2 s" python3 -c '
import sys, datetime
def ms(line):
    t = datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%fZ")
    return int(t.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)
lines = [l for l in open(sys.argv[1]) if " /v1/" in l]
i = [n for n, l in enumerate(lines) if "-> 429" in l][0]
t429 = ms(lines[i])
nxt = ms(lines[i + 1])
sub = int(sys.argv[2])
print("429 at %d; next request %d ms later; rl2 submitted %d ms after the 429" % (t429, nxt - t429, sub - t429))
# The test means something only if rl2 was queued inside the window.
sys.exit(0 if nxt - t429 >= 1990 and sub - t429 < 1500 else 1)' "$T/mock429.log" "$t_sub"

# ---------------------------------------------------------------------
# Retries: a run that goes stale is retried as attempt 2, each recorded.

kill_agentd 15
stop_mock
start_mock
start_agentd --stale-after 2
gen "$T/stall.jsonl" 1 stall '{"mock_events": "10", "mock_interval_ms": "20", "mock_stall_after": "2"}'
ctl batch --max-attempts 2 "$T/stall.jsonl" >>"$T/ctl.log" 2>&1
ctl batch wait stall --timeout 40 >"$T/out" 2>&1
check "stale run out of attempts: wait exits 1" [ $? -eq 1 ]
check "stale run: abandoned in the end" [ "$(sql "SELECT status FROM runs WHERE batch = 'stall'")" = abandoned ]
check "stale run: attempt 2 recorded on the run" [ "$(sql "SELECT attempt FROM runs WHERE batch = 'stall'")" -eq 2 ]
check "stale run: attempt 1 recorded as abandoned" [ "$(sql "SELECT a.status FROM attempts a JOIN runs r ON r.n = a.run_n WHERE r.batch = 'stall' AND a.attempt = 1")" = abandoned ]
check "stale run: two creates at the backend" [ "$(mock_stat creates)" -eq 2 ]
check "retry logged" grep -q 'stale, retrying as a new attempt' "$T/agentd.log"

# ---------------------------------------------------------------------
# The cron wrapper: silent on success, logs every step, overlapping
# invocations wait for each other, non-zero exit and a report on failure.

mkdir -p "$T/stub" "$T/results"
cat >"$T/stub/logger" <<'EOF'
#!/bin/sh
pri=
while [ $# -gt 0 ]; do
	case $1 in
	-t) shift 2 ;;
	-p) pri=$2; shift 2 ;;
	--) shift; break ;;
	*) break ;;
	esac
done
printf '%s %s %s\n' "$(date +%s.%N)" "$pri" "$*" >>"$SYSLOG"
EOF
chmod +x "$T/stub/logger"
printf 'AGENTD_SOCKET="%s"\nexport AGENTD_DB=%s\n' "$SOCK" "$DB" >"$T/agentd.env"
cron() {
	env -u AGENTD_SOCKET -u AGENTD_DB PATH="$T/stub:$PATH" \
	    SYSLOG="$T/syslog" AGENTD_BATCH_ENV="$T/agentd.env" \
	    AGENTCTL="$BIN/agentctl" AGENTD_BATCH_LOCK="$T/cron.lock" \
	    sh "$TOP/contrib/cron/agentd-batch" "$@"
}
gen "$T/cronslow.jsonl" 3 cs '{"mock_events": "30", "mock_interval_ms": "50"}'
gen "$T/cron2.jsonl" 4 c2 "$QUICK"
cron submit "$T/cronslow.jsonl" >"$T/c0.out" 2>&1
check "cron submit: exit 0, silent" sh -c "[ $? -eq 0 ] && [ ! -s '$T/c0.out' ]"
AGENTD_BATCH_RESULTS_WAIT=30 cron results cronslow "$T/results" \
    >"$T/c1.out" 2>&1 &
p1=$!
wait_for 10 grep -q 'results cronslow: waiting up to 30s' "$T/syslog"
cron submit "$T/cron2.jsonl" >"$T/c2.out" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "cron: both overlapping invocations exit 0, silent" \
    sh -c "[ $r1 -eq 0 ] && [ $r2 -eq 0 ] && [ ! -s '$T/c1.out' ] && [ ! -s '$T/c2.out' ]"
check "cron: the second waited on the lock" \
    grep -q "submit $T/cron2.jsonl: another agentd-batch holds $T/cron.lock; waiting" "$T/syslog"
check "cron: ... and ran after the first had finished" python3 -c '
import sys
lines = open(sys.argv[1]).read().splitlines()
def at(s):
    return [n for n, l in enumerate(lines) if s in l][0]
sys.exit(0 if at("results cronslow: done") < at("cron2.jsonl: got the lock") < at("cron2.jsonl: done") else 1)' "$T/syslog"
check "cron: every step logged (agentctl output too)" sh -c "grep -q 'batch cron2: submitted 4, already present 0, bad 0' '$T/syslog' && grep -q 'batch cronslow: wrote 3 results to $T/results/cronslow.jsonl' '$T/syslog'"
check "cron results: the files" sh -c "[ \$(wc -l <'$T/results/cronslow.jsonl') -eq 3 ] && [ -e '$T/results/cronslow.errors.jsonl' ] && [ ! -s '$T/results/cronslow.errors.jsonl' ]"
check "cron: the submitted batch runs" [ "$(runs_in cron2)" -eq 4 ]
cron submit "$T/bad.jsonl" >"$T/c3.out" 2>&1
check "cron submit with bad lines: exit 1" [ $? -eq 1 ]
check "cron: on failure, a report for the mail" sh -c "grep -q 'submit $T/bad.jsonl: failed (exit 1)' '$T/c3.out' && grep -q 'line 3: not a JSON object' '$T/c3.out'"
check "cron: the failure logged as an error" grep -q "user.err submit $T/bad.jsonl: failed (exit 1)" "$T/syslog"
cron results mixed "$T/results" >"$T/c4.out" 2>&1
check "cron results of a batch with a failed run: exit 1" [ $? -eq 1 ]
flock "$T/cron.lock" sleep 2 &
holder=$!
sleep 0.3
AGENTD_BATCH_LOCK_TIMEOUT=1 cron submit "$T/cron2.jsonl" >"$T/c5.out" 2>&1
check "cron: gives up on the lock after its timeout (exit 75)" \
    sh -c "[ $? -eq 75 ] && grep -q 'gave up waiting 1s for the lock' '$T/c5.out'"
wait $holder
cron frob >"$T/c6.out" 2>&1
check "cron: usage error (exit 64)" sh -c "[ $? -eq 64 ] && grep -q usage '$T/c6.out'"

# ---------------------------------------------------------------------
# agentd stopped: status, list, results and queue read the store directly,
# and say so; their output is the daemon's.

ctl batch results big >"$T/online.results"
ctl queue list --json >"$T/online.queues"
ctl batch status big --json >"$T/online.status"
kill_agentd 15
ctl batch results big --db "$DB" >"$T/offline.results" 2>"$T/err"
check "offline results: exit 0, says it reads the store" \
    sh -c "[ $? -eq 0 ] && grep -q 'agentd is not running .*using its store $DB directly' '$T/err'"
check "offline results identical to agentd's" cmp -s "$T/online.results" "$T/offline.results"
AGENTD_DB=$DB ctl queue list --json >"$T/offline.queues" 2>>"$T/ctl.log"
check "offline queue list --json identical to agentd's" cmp -s "$T/online.queues" "$T/offline.queues"
ctl batch status big --json --db "$DB" >"$T/offline.status" 2>>"$T/ctl.log"
check "offline status --json: same batch" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("rate_per_min", "eta_s"):
    a.pop(k); b.pop(k)
sys.exit(0 if a == b else 1)' "$T/online.status" "$T/offline.status"
ctl batch list --db "$DB" >"$T/out" 2>&1
check "offline list" grep -Eq '^big +default +1000 +1000 ' "$T/out"
ctl batch status big >>"$T/ctl.log" 2>"$T/err"
check "offline status without a store path: exit 3" [ $? -eq 3 ]
ctl batch --require-daemon --db "$DB" "$T/cron2.jsonl" --name reqd >>"$T/ctl.log" 2>&1
check "--require-daemon with a store but agentd down: exit 3, nothing stored" \
    sh -c "[ $? -eq 3 ] && [ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM runs WHERE batch = 'reqd'\")\" -eq 0 ]"

# ---------------------------------------------------------------------
# Another process holding the store's write lock (agentctl writing a batch
# offline next to a running agentd, or an operator's sqlite3) for longer
# than SQLite's busy timeout must not lose a run that was just leased: the
# worker is stopped while the run is leased to it, the lock is taken, the
# worker goes on (its first write, before the create, fails with
# SQLITE_BUSY), the lock is released; the run must still be dispatched.

start_agentd --workers 1
wpid=$(ctl status --json | pyj 'd["workers"][0]["pid"]')
kill -STOP "$wpid"
gen "$T/busy.jsonl" 1 busy "$QUICK"
ctl batch "$T/busy.jsonl" >>"$T/ctl.log" 2>&1
wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT count(*) FROM runs WHERE batch = 'busy' AND lease_owner IS NOT NULL\")\" = 1 ]"
python3 "$(dirname "$0")/holdlock.py" "$DB" 11 "$T/locked" 2>>"$T/ctl.log" &
locker=$!
wait_for 10 test -e "$T/locked"
kill -CONT "$wpid"
wait $locker
wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE batch = 'busy'\")\" = completed ]"
check "store locked past the busy timeout: the leased run is not lost ($(sql "SELECT status || ', lease ' || coalesce(lease_owner, 'none') || ', ' || creates || ' creates' FROM runs WHERE batch = 'busy'"))" \
    [ "$(sql "SELECT status FROM runs WHERE batch = 'busy'")" = completed ]

check "no sanitizer report in any output" sh -c "! grep -rqE 'ERROR: (Address|Leak)Sanitizer|runtime error:' '$T'"
exit 0
