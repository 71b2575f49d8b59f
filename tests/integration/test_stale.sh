#!/bin/sh
# A run whose backend stops making progress is abandoned within
# --stale-after plus a small slack, with the reason stored; agentctl resume
# brings it back; resuming a completed run is refused.
. "$(dirname "$0")/lib.sh"

start_mock
start_agentd --workers 1 --stale-after 2
t0=$(date +%s.%N)
id=$(submit 1 50 10 ',"mock_stall_after":"3"') || { fail "submit"; exit 1; }
wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$id'\")\" = abandoned ]"
t1=$(date +%s.%N)
check "stalled run abandoned" [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = abandoned ]
check "abandoned within stale-after + 2 s" python3 -c "import sys; d = $t1 - $t0; print('abandoned after %.1fs' % d); sys.exit(0 if 2 <= d <= 4.5 else 1)"
check "reason stored" sh -c "'$BIN/agentctl' -s '$SOCK' show $id | grep -q 'no progress'"
seen=$(sql "SELECT event_count FROM runs WHERE id = '$id'")
ctl resume "$id" >/dev/null
check "resume brings it back" wait_for 3 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$id'\")\" = running ]"
check "resume re-attaches to the backend" wait_for 3 sh -c "curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"resumes\"] >= 1 else 1)'"
check "still stalled: abandoned again" wait_for 8 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$id'\")\" = abandoned ]"
check "no event stored twice across resume" [ "$(sql "SELECT event_count FROM runs WHERE id = '$id'")" -eq "$seen" ]
ok=$(submit 1 3 1)
wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$ok'\")\" = completed ]"
ctl resume "$ok" >/dev/null 2>"$T/err"
check "resuming a completed run is refused (exit 5)" [ $? -eq 5 ]
check "resume --stale resumes abandoned runs" sh -c "'$BIN/agentctl' -s '$SOCK' resume --stale | grep -q $id"
kill_agentd 15

# The idle timeout resumes a silent stream; it is not fatal.
start_agentd --workers 1 --stale-after 60 --idle-timeout 1
r0=$(mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["resumes"])')
id=$(submit 1 50 10 ',"mock_stall_after":"2"')
sleep 4
r1=$(mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["resumes"])')
check "idle timeout: silent stream resumed ($((r1 - r0)) resumes in 4 s)" [ $((r1 - r0)) -ge 2 ]
check "idle timeout: run still running, not failed" \
    [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = running ]
check "idle timeout: logged with the seq" grep -q "run $id: stream ended at seq" "$T/agentd.log"
exit 0
