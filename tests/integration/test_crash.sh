#!/bin/sh
# kill -9 of agentd mid-run, then restart: every run finishes, every event
# is stored once, and no run is submitted to the backend twice. kill -9 of
# a worker: the supervisor restarts it and the runs finish.
. "$(dirname "$0")/lib.sh"

start_mock
start_agentd --workers 2
submit 20 60 25 >/dev/null || { fail "submit"; exit 1; }
wait_for 10 sh -c "[ \$(sqlite3 '$DB' 'SELECT count(*) FROM events') -gt 100 ]"
kill_agentd 9
check "kill -9 agentd: its workers exit too" \
    wait_for 5 sh -c "! pgrep -f -- '[a]gentd --db $DB' >/dev/null"
before=$(sql "SELECT count(*) FROM events")
check "kill -9 agentd: runs were mid-stream" \
    [ "$(sql "SELECT count(*) FROM runs WHERE status = 'running'")" -gt 0 ]
start_agentd --workers 2
check "restart: every run finishes" wait_for 30 all_terminal
check "restart: all completed" [ "$(count_status completed)" -eq 20 ]
check "restart: no loss, no duplicate" verify
check "restart: nothing submitted twice" \
    [ "$(mock /mock/runs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')" -eq 20 ]
check "restart: events kept from before the kill ($before)" \
    [ "$(sql "SELECT count(*) FROM events")" -ge "$before" ]

# kill -9 of one worker.
submit 10 60 25 >/dev/null
wait_for 10 sh -c "[ \$(sqlite3 '$DB' \"SELECT count(*) FROM runs WHERE status = 'running'\") -gt 0 ]"
wpid=$(ctl --json status | python3 -c 'import json,sys; print(json.load(sys.stdin)["workers"][0]["pid"])')
kill -9 "$wpid"
check "kill -9 worker: every run finishes" wait_for 30 all_terminal
check "kill -9 worker: all completed" [ "$(count_status completed)" -eq 30 ]
check "kill -9 worker: no loss, no duplicate" verify
check "kill -9 worker: restarted" wait_for 30 sh -c "'$BIN/agentctl' -s '$SOCK' --json status | python3 -c '
import json,sys; w=json.load(sys.stdin)[\"workers\"][0]
assert w[\"restarts\"] >= 1 and w[\"pid\"] != $wpid and w[\"alive\"], w
'"
check "kill -9 worker: logged how it died" grep -q "killed by signal 9" "$T/agentd.log"
check "nothing submitted twice in all" \
    [ "$(mock /mock/runs | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')" -eq 30 ]
exit 0
