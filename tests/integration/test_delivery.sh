#!/bin/sh
# Delivery guarantee and credentials. A create whose answer never came
# before agentd was killed is submitted again with the same Idempotency-Key
# (at-least-once), or failed as "outcome unknown" with --at-most-once. The
# bearer token comes from the environment, is sent, and is never logged.
# SIGTERM stops agentd cleanly with runs left resumable.
. "$(dirname "$0")/lib.sh"

start_capture() {
	rm -f "$T/cap.port"
	python3 "$(dirname "$0")/capture.py" "$T/cap.port" "$T/cap.jsonl" "$1" \
	    >>"$T/capture.log" 2>&1 &
	CAP_PID=$!
	wait_for 10 test -s "$T/cap.port" || { fail "capture server did not start"; exit 1; }
	MOCK_URL=http://127.0.0.1:$(cat "$T/cap.port")
}

start_capture hold
AGENTD_API_KEY=sk-test-secret-123 start_agentd --workers 1
id=$(echo '{"model":"m","input":"x"}' | ctl submit -f -)
check "create reached the backend" wait_for 10 test -s "$T/cap.jsonl"
check "bearer token from AGENTD_API_KEY was sent" \
    grep -q '"authorization": "Bearer sk-test-secret-123"' "$T/cap.jsonl"
check "create carries the run id as Idempotency-Key" \
    grep -q "\"idempotency-key\": \"$id\"" "$T/cap.jsonl"
check "create asks for background, stream and store" python3 -c "
import json; r = json.loads(open('$T/cap.jsonl').readline()); b = json.loads(r['body'])
assert b['background'] is True and b['stream'] is True and b['store'] is True, b
assert r['headers']['accept'] == 'text/event-stream', r
"
check "the token is never logged" sh -c "! grep -q sk-test-secret-123 '$T/agentd.log'"
check "run is starting with one attempt" \
    [ "$(sql "SELECT status || ' ' || creates FROM runs WHERE id = '$id'")" = "starting 1" ]
kill_agentd 9

# At-most-once: the unknown outcome fails the run, nothing is resent.
start_agentd --workers 1 --at-most-once
check "at-most-once: run failed as outcome unknown" wait_for 10 sh -c \
    "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$id'\")\" = failed ]"
check "at-most-once: the reason says so" \
    [ "$(sql "SELECT count(*) FROM runs WHERE id = '$id' AND error_message LIKE 'outcome unknown%'")" -eq 1 ]
check "at-most-once: create not sent again" [ "$(wc -l < "$T/cap.jsonl")" -eq 1 ]
kill_agentd 9

# At-least-once (the default): submitted again with the same key.
id2=$(echo '{"model":"m","input":"y"}' | AGENTD_SOCKET=$SOCK sh -c "
    '$BIN/agentd' --db '$DB' --socket '$SOCK' --endpoint '$MOCK_URL/v1' --workers 1 >>'$T/agentd.log' 2>&1 &
    echo \$! > '$T/pid'; sleep 0.5; '$BIN/agentctl' submit -f -")
AGENTD_PID=$(cat "$T/pid")
wait_for 10 sh -c "[ \$(grep -c '$id2' '$T/cap.jsonl') -ge 1 ]"
kill_agentd 9
start_agentd --workers 1
check "at-least-once: create sent again after the restart" \
    wait_for 10 sh -c "[ \$(grep -c '\"idempotency-key\": \"$id2\"' '$T/cap.jsonl') -eq 2 ]"
check "at-least-once: the restart says why" grep -q "create outcome unknown after a restart" "$T/agentd.log"
check "at-least-once: second attempt recorded" \
    [ "$(sql "SELECT creates FROM runs WHERE id = '$id2'")" -eq 2 ]

# SIGTERM: clean stop, exit 0, run left resumable.
kill "$AGENTD_PID"
t0=$(date +%s)
wait "$AGENTD_PID"
rc=$?
AGENTD_PID=
check "SIGTERM: exit status 0" [ "$rc" -eq 0 ]
check "SIGTERM: stopped within 6 s" [ $(( $(date +%s) - t0 )) -le 6 ]
check "SIGTERM: socket removed" [ ! -S "$SOCK" ]
check "SIGTERM: run still resumable (not terminal)" \
    [ "$(sql "SELECT status FROM runs WHERE id = '$id2'")" = starting ]
kill "$CAP_PID" 2>/dev/null
exit 0
