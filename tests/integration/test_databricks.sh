#!/bin/sh
# The Databricks long-running agent server dialect: data-only frames,
# [DONE] as the end, inclusive starting_after=0, {"detail"} errors, cancel
# answered 501 (abandoned locally). Then what the real server does that
# OpenAI does not: several handler steps, each with a response.created and
# a response.completed of the handler's own id (the run's id is only the
# flat response_id), seq 0 sent again, streams broken after seq 0, after
# a step's response.completed and during a failover pause, and the server
# killed (kill -9) and started again on its state: every run completes
# with each event stored exactly once.
. "$(dirname "$0")/lib.sh"

# restart_mock FLAGS...: agent-mock again on the same port ($MOCK_PORT).
restart_mock() {
	rm -f "$T/mock.port"
	"$BIN/agent-mock" --listen "127.0.0.1:$MOCK_PORT" \
	    --port-file "$T/mock.port" "$@" >>"$T/mock.log" 2>&1 &
	MOCK_PID=$!
	wait_for 10 test -s "$T/mock.port" || { fail "agent-mock did not restart"; exit 1; }
}
# truth_type ID SEQ: the type of event SEQ of run ID in the ground truth.
truth_type() {
	bid=$(sql "SELECT backend_id FROM runs WHERE id = '$1'")
	mock "/mock/runs/$bid/events" | python3 -c 'import json, sys
for e in json.load(sys.stdin)["events"]:
    if e["sequence_number"] == int(sys.argv[1]):
        print(e["type"])' "$2"
}
# truth_has ID TYPE: run ID's ground truth has an event of TYPE.
truth_has() {
	bid=$(sql "SELECT backend_id FROM runs WHERE id = '$1'")
	mock "/mock/runs/$bid/events" | grep -q "\"type\":\"$2\""
}
st() { sql "SELECT status FROM runs WHERE id = '$1'"; }
# exact ID...: each run stored every event of its ground truth exactly
# once with the same content, whatever its mode (verify.py lets a polled
# run store fewer); prints what differs.
cat >"$T/exact.py" <<'EOF'
import json, sqlite3, sys, urllib.request
db, base = sys.argv[1:3]
con = sqlite3.connect(db, timeout=10)
rc = 0
for rid in sys.argv[3:]:
    n, bid, mode = con.execute("SELECT n, backend_id, resolved_mode FROM "
        "runs WHERE id = ?", (rid,)).fetchone()
    with urllib.request.urlopen(f"{base}/mock/runs/{bid}/events") as r:
        want = {e["sequence_number"]: e for e in json.load(r)["events"]}
    rows = con.execute("SELECT seq, data FROM events WHERE run_n = ?",
        (n,)).fetchall()
    have = {}
    for s, d in rows:
        have.setdefault(s, []).append(json.loads(d))
    bad = [s for s in want if have.get(s) != [want[s]]] + \
        [s for s in have if s not in want]
    if bad:
        print(f"  {rid} ({mode}): {len(rows)} stored, {len(want)} in the "
              f"truth; differ at seq {sorted(bad)[:8]}")
        rc = 1
sys.exit(rc)
EOF
exact() { python3 "$T/exact.py" "$DB" "$MOCK_URL" "$@"; }

start_mock --dialect databricks --drop-after 4
start_agentd --dialect databricks
submit 4 12 5 >/dev/null || { fail "submit"; exit 1; }
check "databricks: runs finish" wait_for 20 all_terminal
check "databricks: completed at [DONE]" [ "$(count_status completed)" -eq 4 ]
check "databricks: no loss, no duplicate across drops" verify
check "databricks: output text assembled from deltas" \
    [ "$(sql "SELECT count(*) FROM run_results WHERE length(output_text) > 0")" -eq 4 ]
id=$(submit 1 5 5 ',"mock_fail":"failed"')
wait_for 20 all_terminal
check "databricks: failure ends the run failed" [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = failed ]
id=$(submit 1 200 50)
wait_for 10 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT backend_id FROM runs WHERE id = '$id'\")\" ]"
ctl cancel "$id" >/dev/null
check "databricks: cancel is local when the server answers 501" \
    [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = cancelled ]
check "databricks: the 501 is logged" wait_for 5 grep -q "cannot cancel" "$T/agentd.log"
kill_agentd 15
stop_mock

# --- tool steps, broken streams, failover ------------------------------
DB=$T/steps.db
start_mock --dialect databricks --db-poll-ms 100 --failover-pause-ms 1500 \
    --state "$T/mock.state"
start_agentd --dialect databricks
steps=$(submit 2 9 10 ',"mock_tool_steps":3') || { fail "submit"; exit 1; }
# 300 ms between events, polls every 100 ms: seq 0 is alone in the first
# poll; the stream is cut right after it (and agentd's resume from 0 gets
# seq 0 again).
cut0=$(submit 1 6 300 ',"mock_cut_after_seq":0')
# 6 deltas in 2 steps: step 1 is events 0..10, seq 10 its completed.
cutc=$(submit 1 6 10 ',"mock_cut_after_seq":10')
# The attempt dies after 6 events; the stream is cut after seq 5, in the
# pause, and the resume waits out the pause for response.resumed.
cutf=$(submit 1 6 10 ',"mock_failover_after":6,"mock_cut_after_seq":5')
check "databricks steps: runs finish" wait_for 30 all_terminal
for id in $steps; do
	check "databricks steps: 3-step run $id completed" [ "$(st "$id")" = completed ]
done
check "databricks steps: the run's backend id is the server's, not a handler's" \
    [ "$(sql "SELECT count(*) FROM runs WHERE backend_id LIKE 'resp_handler%'
    OR backend_id IS NULL")" -eq 0 ]
check "databricks cut after seq 0: completed" [ "$(st "$cut0")" = completed ]
check "databricks cut after a step's response.completed: completed" \
    [ "$(st "$cutc")" = completed -a "$(truth_type "$cutc" 10)" = response.completed ]
check "databricks cut in a failover pause: completed" [ "$(st "$cutf")" = completed ]
check "databricks cut in a failover pause: response.resumed stored once" [ \
    "$(sql "SELECT count(*) FROM events e JOIN runs r ON r.n = e.run_n
    WHERE r.id = '$cutf' AND e.type = 'response.resumed'")" -eq 1 ]
check "databricks steps: each event stored exactly once (verify)" verify
check "databricks steps: each run has every event of its truth, once" \
    exact $steps $cut0 $cutc $cutf

# --- the server killed mid-run and started again on its state ---------
long=$(submit 4 40 50) || { fail "submit"; exit 1; }
# Mid-run: some 10 of each run's 57 events stored.
wait_for 10 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM events e JOIN
    runs r ON r.n = e.run_n WHERE r.id IN ($(echo $long | sed "s/[^ ]*/'&'/g;
    s/ /,/g"))\") -ge 40 ]"
kill -9 "$MOCK_PID"
wait "$MOCK_PID" 2>/dev/null
sleep 0.5
restart_mock --dialect databricks --db-poll-ms 100 --failover-pause-ms 1500 \
    --state "$T/mock.state"
check "databricks kill -9: runs finish after the restart" wait_for 40 all_terminal
n=0
for id in $long; do
	[ "$(st "$id")" = completed ] && n=$((n + 1))
done
check "databricks kill -9: every run completed ($n of 4)" [ "$n" -eq 4 ]
id=$(echo $long | awk '{ print $1 }')
check "databricks kill -9: a new attempt took over (response.resumed)" \
    truth_has "$id" response.resumed
check "databricks kill -9: each event stored exactly once (verify)" verify
check "databricks kill -9: each run has every event of its truth, once" \
    exact $long
exit 0
