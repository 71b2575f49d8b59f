#!/bin/sh
# agent-mock --dialect databricks against curl alone: what a client of the
# real LongRunningAgentServer (databricks-ai-bridge 0.21.0) sees. Handler
# ids per tool step (never the server's id, 404 when asked for), seq 0
# sent again by every poll while it is the newest event, one burst per
# database poll (1 s by default), attempt_number in polls, FastAPI's 422s
# and the 400 for starting_after without stream, a failed run's error
# frame and bare close, the task timeout, a failover (pause, then
# response.resumed and numbering goes on), a kill -9 and restart on the
# same --state file, cancel 501, and only three statuses.
. "$(dirname "$0")/lib.sh"

# sse URL [BODY [MAX_S]]: stream URL (POST BODY if not empty) and print one
# line per data frame, "MS<TAB>PAYLOAD" (ms since the request), then
# "END clean" or "END cut" (timeout counts as cut).
cat >"$T/sse.py" <<'EOF'
import signal, sys, time, urllib.request
url, body = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
limit = float(sys.argv[3]) if len(sys.argv) > 3 else 30
def alarm(sig, frame):
    raise TimeoutError()
signal.signal(signal.SIGALRM, alarm)
signal.setitimer(signal.ITIMER_REAL, limit)
req = urllib.request.Request(url, data=body.encode() if body else None)
t0 = time.monotonic()
end = "clean"
try:
    with urllib.request.urlopen(req, timeout=limit) as r:
        while True:
            if time.monotonic() - t0 > limit:
                end = "cut"
                break
            line = r.readline()
            if not line:
                break
            line = line.decode().rstrip("\n")
            if line.startswith("data: "):
                ms = int((time.monotonic() - t0) * 1000)
                print("%d\t%s" % (ms, line[6:]), flush=True)
except Exception as e:
    end = "cut"
print("END " + end, flush=True)
EOF
sse() { python3 "$T/sse.py" "$@"; }
# fld FILE KEY: the values of "KEY" (first per frame), one a line.
fld() {
	awk -F'\t' '/^[0-9]/ { print $2 }' "$1" | python3 -c '
import json, sys
for l in sys.stdin:
    l = l.strip()
    if l == "[DONE]":
        print("[DONE]"); continue
    o = json.loads(l)
    v = o.get(sys.argv[1])
    if sys.argv[1] == "rid":
        v = o.get("response", {}).get("id")
    print("-" if v is None else v)' "$2"
}
seqs() { fld "$1" sequence_number | tr '\n' ' ' | sed 's/ $//'; }
# mstart NAME FLAGS...: a databricks mock; sets U (its URL).
mstart() {
	_n=$1
	shift
	rm -f "$T/$_n.port"
	"$BIN/agent-mock" --dialect databricks --port-file "$T/$_n.port" \
	    "$@" >>"$T/mock-$_n.log" 2>&1 &
	eval "PID_$_n=$!"
	wait_for 10 test -s "$T/$_n.port" || { fail "mock $_n start"; exit 1; }
	U=http://127.0.0.1:$(cat "$T/$_n.port")
}
mstop() { eval "kill \$PID_$1; wait \$PID_$1 2>/dev/null"; }
jget() { python3 -c 'import json, sys
o = json.load(sys.stdin)
for k in sys.argv[1].split("."):
    o = o[int(k)] if isinstance(o, list) else o.get(k)
print(o)' "$1"; }
# dedup FILE: the frames once per seq (what a client stores), as the
# ground truth lists them: {"events":[...]}.
dedup() {
	awk -F'\t' '/^[0-9]/ { print $2 }' "$1" | python3 -c '
import json, sys
seen, out = set(), []
for l in sys.stdin:
    l = l.strip()
    if l == "[DONE]":
        continue
    s = json.loads(l)["sequence_number"]
    if s not in seen:
        seen.add(s); out.append(json.loads(l))
print(json.dumps(out, sort_keys=True))'
}
truth() { curl -s "$U/mock/runs/$1/events" | python3 -c 'import json, sys
print(json.dumps(json.load(sys.stdin)["events"], sort_keys=True))'; }

# --- 1, 2 (POST stream), 3 (short polls): ids, seq 0, bursts ----------
mstart fast --db-poll-ms 100 --failover-pause-ms 1500
sse "$U/responses" '{"background":true,"stream":true,"metadata":
    {"mock_events":6,"mock_interval_ms":40,"mock_tool_steps":3}}' \
    >"$T/s1"
sid=$(fld "$T/s1" response_id | sed -n 1p)
check "ids: the server id is resp_ + 24 hex" \
    sh -c "echo '$sid' | grep -qE '^resp_[0-9a-f]{24}$'"
check "ids: every frame carries the server's response_id" [ \
    "$(fld "$T/s1" response_id | grep -v DONE | sort -u)" = "$sid" ]
fld "$T/s1" type >"$T/s1.types"
fld "$T/s1" rid >"$T/s1.rids"
paste "$T/s1.types" "$T/s1.rids" | awk '$1 == "response.created" ||
    $1 == "response.completed"' | sort -u >"$T/s1.steps"
check "ids: 3 handler steps, each a response.created and a completed" [ \
    "$(awk '$1 == "response.created"' "$T/s1.steps" | wc -l)" -eq 3 -a \
    "$(awk '$1 == "response.completed"' "$T/s1.steps" | wc -l)" -eq 3 ]
check "ids: handler ids differ per step and from the server id" [ \
    "$(cut -f2 "$T/s1.steps" | sort -u | wc -l)" -eq 3 -a \
    "$(grep -c "$sid" "$T/s1.steps")" -eq 0 ]
check "ids: deltas between a step's created and completed" sh -c "awk '
    \$0 == \"response.created\" { open = 1; d = 0 }
    \$0 == \"response.output_text.delta\" { if (!open) exit 1; d++ }
    \$0 == \"response.completed\" { if (!open || !d) exit 1; open = 0 }
    ' '$T/s1.types'"
check "ids: response.completed is not terminal, [DONE] is" [ \
    "$(grep -c -v -e DONE -e '^-' "$T/s1.types" | tr -d ' ')" -gt \
    "$(grep -n response.completed "$T/s1.types" | sed -n 1p | cut -d: -f1)" -a \
    "$(tail -n 1 "$T/s1.types")" = "[DONE]" ]
hid=$(sed -n 1p "$T/s1.rids")
check "ids: asking for a handler id is 404 {\"detail\"}" [ \
    "$(curl -s -w ' %{http_code}' "$U/responses/$hid")" = \
    '{"detail":"Response not found"} 404' ]
check "ids: asking for it to stream is 404 too" [ \
    "$(curl -s -o /dev/null -w '%{http_code}' \
    "$U/responses/$hid?stream=true")" = 404 ]
check "seq 0: the POST's own stream begins 0 0" \
    [ "$(seqs "$T/s1" | cut -d' ' -f1-2)" = "0 0" ]
check "seq 0: it is the only seq sent twice" [ \
    "$(fld "$T/s1" sequence_number | grep -v DONE | sort | uniq -d)" = 0 ]
check "truth: the stream once per seq equals the ground truth" \
    [ "$(dedup "$T/s1")" = "$(truth "$sid")" ]
# Bursts: every frame arrives at a poll tick (k * 100 ms from the first),
# several frames to a tick.
check "bursts: --db-poll-ms 100: frames only at 100 ms ticks, several a tick" \
    sh -c "awk -F'\t' '/^[0-9]/ { n++; t = \$1 % 100; if (t > 40) exit 1
    tick[int(\$1 / 100)] = 1 } END { for (k in tick) m++; exit !(m < n) }' \
    '$T/s1'"
check "attempt_number: a poll carries it" [ \
    "$(curl -s "$U/responses/$sid" | jget attempt_number)" = 1 ]
check "attempt_number: completed poll: status, output of every step" [ \
    "$(curl -s "$U/responses/$sid" | python3 -c 'import json, sys
o = json.load(sys.stdin); print(o["status"], len(o["output"]))')" = \
    "completed 3" ]

# --- 5: query validation ---------------------------------------------
r=$(curl -s -w ' %{http_code}' "$U/responses/$sid?stream=true&starting_after=-1")
check "422: starting_after=-1 (greater_than_equal, loc query)" sh -c "
    echo '$r' | grep -q ' 422\$' && echo '$r' | grep -q \
    '\"detail\":\[{\"type\":\"greater_than_equal\",\"loc\":\[\"query\",\"starting_after\"\]'"
r=$(curl -s -w ' %{http_code}' "$U/responses/$sid?stream=true&starting_after=abc")
check "422: starting_after=abc (int_parsing, the input echoed)" sh -c "
    echo '$r' | grep -q ' 422\$' && echo '$r' | grep -q \
    '\"type\":\"int_parsing\",\"loc\":\[\"query\",\"starting_after\"\],\"msg\":\"[^\"]*\",\"input\":\"abc\"'"
check "422: stream=maybe (bool_parsing)" [ "$(curl -s -o /dev/null \
    -w '%{http_code}' "$U/responses/$sid?stream=maybe")" = 422 ]
check "400: starting_after without stream=true" [ \
    "$(curl -s -w ' %{http_code}' "$U/responses/$sid?starting_after=3")" = \
    '{"detail":"starting_after is only supported when stream=true."} 400' ]
check "starting_after=0 without stream is the default: 200" [ \
    "$(curl -s -o /dev/null -w '%{http_code}' \
    "$U/responses/$sid?starting_after=0")" = 200 ]

# --- 6: a failed run ---------------------------------------------------
sse "$U/responses" '{"background":true,"stream":true,"metadata":
    {"mock_events":4,"mock_interval_ms":0,"mock_fail":"failed"}}' >"$T/s6"
fid=$(fld "$T/s6" response_id | sed -n 1p)
check "failed: the last frame is the error event (task_failed, seq, id)" \
    sh -c "awk -F'\t' '/^[0-9]/ { l = \$2 } END { print l }' '$T/s6' |
    grep -q '^{\"type\":\"error\",\"error\":{\"message\":\"mock failure\",\"type\":\"server_error\",\"code\":\"task_failed\"},\"sequence_number\":[0-9]*,\"response_id\":\"$fid\"}\$'"
check "failed: a clean close, no [DONE]" [ "$(tail -n 1 "$T/s6")" = \
    "END clean" -a "$(grep -c DONE "$T/s6")" -eq 0 ]
check "failed: the poll says failed with the nested error" [ \
    "$(curl -s "$U/responses/$fid" | jget error.code)" = task_failed ]

# --- 9, 10: cancel and statuses ----------------------------------------
check "cancel: 501 {\"detail\"}" [ "$(curl -s -w ' %{http_code}' -X POST \
    "$U/responses/$sid/cancel")" = \
    '{"detail":"Cancellation is not yet implemented."} 501' ]

# --- 8: failover (mock_failover_after) ----------------------------------
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_events":4,"mock_interval_ms":20,"mock_failover_after":5}}')
oid=$(echo "$r" | jget id)
sse "$U/responses/$oid?stream=true" >"$T/s8"
check "failover: seqs 0..4, then resumed at 5, numbering goes on" [ \
    "$(seqs "$T/s8" | tr ' ' '\n' | grep -v DONE | uniq | head -n 8 |
    tr '\n' ' ')" = "0 1 2 3 4 5 6 7 " ]
check "failover: response.resumed {attempt 2, from_seq 5, conversation_id}" \
    sh -c "grep -q '\"type\":\"response.resumed\",\"attempt\":2,\"from_seq\":5,\"conversation_id\":\"conv_[0-9a-f_a-z]*\",\"sequence_number\":5,\"response_id\":\"$oid\"}' '$T/s8'"
gap=$(awk -F'\t' '/response.resumed/ { print $1 - p; exit } /^[0-9]/ { p = $1 }' "$T/s8")
# The pause is scheduled from the run's creation: a stream that connects
# late gets seqs 0..4 at once and sees it shorter by that lag (1202 ms
# once, under ASan on a slow machine). Without a failover the gap is 20 ms.
check "failover: a silent pause of ~1.5 s before it (got ${gap} ms)" \
    [ "${gap:-0}" -ge 1000 -a "${gap:-0}" -le 2500 ]
check "failover: ends [DONE]; once per seq equals the ground truth" [ \
    "$(fld "$T/s8" type | tail -n 1)" = "[DONE]" -a \
    "$(dedup "$T/s8")" = "$(truth "$oid")" ]
check "failover: the poll's attempt_number is 2" [ \
    "$(curl -s "$U/responses/$oid" | jget attempt_number)" = 2 ]
check "statuses: in_progress, completed, failed only" sh -c "curl -s \
    '$U/mock/runs' | python3 -c 'import json, sys
s = {r[\"status\"] for r in json.load(sys.stdin)[\"runs\"]}
sys.exit(0 if s <= {\"in_progress\", \"completed\", \"failed\"} else 1)'"
mstop fast

# --- 7: task timeout -----------------------------------------------------
mstart to --db-poll-ms 100 --task-timeout 1
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_events":100,"mock_interval_ms":300}}')
tid=$(echo "$r" | jget id)
check "timeout: in_progress before the timeout" [ \
    "$(curl -s "$U/responses/$tid" | jget status)" = in_progress ]
sleep 1.2
r=$(curl -s "$U/responses/$tid")
check "timeout: the next GET finds it failed, task_timeout" [ \
    "$(echo "$r" | jget status) $(echo "$r" | jget error.code)" = \
    "failed task_timeout" ]
sse "$U/responses/$tid?stream=true&starting_after=0" >"$T/s7"
check "timeout: the stream ends with error \"Task timed out\", no [DONE]" \
    sh -c "awk -F'\t' '/^[0-9]/ { l = \$2 } END { print l }' '$T/s7' |
    grep -q '^{\"type\":\"error\",\"error\":{\"message\":\"Task timed out\",\"type\":\"server_error\",\"code\":\"task_timeout\"},\"sequence_number\":[0-9]*,' &&
    ! grep -q DONE '$T/s7' && grep -q 'END clean' '$T/s7'"
check "timeout: the ground truth ends with it too" [ \
    "$(dedup "$T/s7")" = "$(truth "$tid")" ]
mstop to

# --- 2, 3 at the default 1 s poll (cheap: one 2.5 s stream) -------------
mstart slow
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_events":2,"mock_interval_ms":5000}}')
wid=$(echo "$r" | jget id)
sse "$U/responses/$wid?stream=true&starting_after=0" "" 2.5 >"$T/s2"
check "seq 0: 2.5 s stalled after it, starting_after=0 sends it 3 times" \
    [ "$(seqs "$T/s2")" = "0 0 0" ]
check "bursts: the default poll is 1 s (frames at ~0, 1000, 2000 ms)" sh -c "
    awk -F'\t' '/^[0-9]/ { t = \$1 - 1000 * (NR - 1); if (t < -50 || t > 250)
    exit 1 }' '$T/s2'"
mstop slow

# --- 8b: kill -9 and restart on the same --state file ---------------------
mstart st1 --db-poll-ms 100 --failover-pause-ms 1500 --state "$T/state.json"
port=$(cat "$T/st1.port")
# 20 events 150 ms apart: still going at the kill, however slowly the
# machine starts the reader (with 50 ms, a loaded CI once found it done).
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_events":20,"mock_interval_ms":150}}')
kid=$(echo "$r" | jget id)
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_events":3,"mock_interval_ms":0}}')
qid=$(echo "$r" | jget id)
sse "$U/responses/$kid?stream=true" "" 0.8 >"$T/k1"
last=$(fld "$T/k1" sequence_number | tail -n 1)
eval "kill -9 \$PID_st1; wait \$PID_st1 2>/dev/null"
check "state: the file names both runs" sh -c "grep -q '$kid' \
    '$T/state.json' && grep -q '$qid' '$T/state.json'"
mstart st2 --listen "127.0.0.1:$port" --db-poll-ms 100 \
    --failover-pause-ms 1500 --state "$T/state.json"
check "state: restarted on the same port" [ "$(cat "$T/st2.port")" = "$port" ]
check "state: the run is still in_progress after the restart" [ \
    "$(curl -s "$U/responses/$kid" | jget status)" = in_progress ]
sse "$U/responses/$kid?stream=true&starting_after=$last" >"$T/k2"
first=$(fld "$T/k2" sequence_number | grep -n . | awk -F: -v t="$(fld \
    "$T/k2" type | grep -n response.resumed | cut -d: -f1)" '$1 == t { print $2 }')
# Events stored before the kill come at once; the new attempt after the
# pause (the frame before response.resumed is at most the dead one's).
gap=$(awk -F'\t' '/response.resumed/ { print $1 - p; exit } /^[0-9]/ { p = $1 }
    BEGIN { p = 0 }' "$T/k2")
check "state: silent ~1.5 s (got ${gap:-?} ms), then response.resumed" [ \
    -n "$first" ] && [ "${gap:-0}" -ge 1200 ]
check "state: no seq lost or skipped across the restart" [ \
    "$(cat "$T/k1" "$T/k2" | grep -v '^END' >"$T/k12"; fld "$T/k12" \
    sequence_number | grep -v DONE | sort -n | uniq | awk 'NR - 1 != $1 {
    bad = 1 } END { print bad + 0 }')" -eq 0 ]
check "state: from_seq is its own seq, attempt 2" sh -c "grep \
    response.resumed '$T/k2' | grep -q '\"attempt\":2,\"from_seq\":$first,.*\"sequence_number\":$first,'"
cat "$T/k1" "$T/k2" | grep -v '^END' >"$T/k12"
check "state: the run completes; both parts once per seq equal the truth" [ \
    "$(fld "$T/k2" type | tail -n 1)" = "[DONE]" -a \
    "$(dedup "$T/k12")" = "$(truth "$kid")" ]
sse "$U/responses/$qid?stream=true" >"$T/q1"
check "state: a run finished before the kill is intact, no resume" [ \
    "$(fld "$T/q1" type | grep -c resumed)" -eq 0 -a \
    "$(dedup "$T/q1")" = "$(truth "$qid")" -a \
    "$(fld "$T/q1" type | tail -n 1)" = "[DONE]" ]
r=$(curl -s -X POST "$U/responses" -d '{"background":true,"metadata":
    {"mock_interval_ms":0}}')
check "state: new runs after the restart get new ids" [ \
    "$(echo "$r" | jget id)" != "$kid" -a \
    "$(curl -s "$U/mock/runs" | python3 -c 'import json, sys
print(len(json.load(sys.stdin)["runs"]))')" -eq 3 ]
mstop st2
check "no sanitizer report in the mock logs" sh -c "! grep -lE \
    'Sanitizer|runtime error:' '$T'/mock-*.log"
exit 0
