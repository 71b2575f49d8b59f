#!/bin/sh
# Backend errors: 500s and 429s are retried (honouring Retry-After); a run
# the backend fails is failed with the error visible; a 4xx is shown
# verbatim; a retrieve answered 404 fails the run instead of looping.
. "$(dirname "$0")/lib.sh"

start_mock --fail-creates 2 --fail-status 500
start_agentd --workers 1
id=$(submit 1 5 5) || { fail "submit"; exit 1; }
check "500: retried until it succeeds" wait_for 20 all_terminal
check "500: completed" [ "$(count_status completed)" -eq 1 ]
check "500: three create attempts recorded" [ "$(sql "SELECT creates FROM runs")" -eq 3 ]
kill_agentd 15
stop_mock

rm -f "$DB" "$DB"-* "$DB.lock"
start_mock --fail-creates 1 --fail-status 429 --retry-after 2
start_agentd --workers 1
t0=$(date +%s.%N)
submit 1 3 5 >/dev/null
wait_for 20 all_terminal
t1=$(date +%s.%N)
check "429: completed after Retry-After" [ "$(count_status completed)" -eq 1 ]
check "429: waited at least the 2 s asked" python3 -c "import sys; sys.exit(0 if $t1 - $t0 >= 1.9 else 1)"
id=$(submit 1 5 5 ',"mock_fail":"failed"')
wait_for 20 all_terminal
check "failed run: status failed" [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = failed ]
check "failed run: error shown by show" sh -c "'$BIN/agentctl' -s '$SOCK' show $id | grep -q 'mock failure'"
check "failed run: result exits 1" sh -c "'$BIN/agentctl' -s '$SOCK' result $id >/dev/null 2>&1; [ \$? -eq 1 ]"
id=$(submit 1 5 5 ',"mock_fail":"error_event"')
wait_for 20 all_terminal
check "error event: run failed with its message" \
    [ "$(sql "SELECT count(*) FROM runs WHERE id = '$id' AND status = 'failed' AND error_message LIKE '%mock error event%'")" -eq 1 ]
id=$(echo '{"model":"m","metadata":{"mock_events":"abc"}}' | ctl submit -f -)
wait_for 20 all_terminal
check "4xx: failed with HTTP status and body verbatim" \
    [ "$(sql "SELECT error_status || ' ' || (error_body LIKE '%mock_events%') FROM runs WHERE id = '$id'")" = "400 1" ]
kill_agentd 15
stop_mock

# A backend that forgot the response: 404 on resume fails the run.
rm -f "$DB" "$DB"-* "$DB.lock"
start_mock --drop-after 3
start_agentd --workers 1 --stale-after 30
id=$(submit 1 50 50)
wait_for 10 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT backend_id FROM runs WHERE backend_id IS NOT NULL\")\" ]"
kill_agentd 9
stop_mock
start_mock
start_agentd --workers 1
check "404 on retrieve: run fails instead of retrying forever" wait_for 15 all_terminal
check "404 on retrieve: reason stored" \
    [ "$(sql "SELECT count(*) FROM runs WHERE status = 'failed' AND error_status = 404 AND error_message LIKE '%no longer knows%'")" -eq 1 ]
exit 0
