#!/bin/sh
# The negotiation ladder: a backend that rejects background falls back to a
# plain stream; one that answers 406 to streaming falls back to background
# polling; what the endpoint supports is remembered; an explicit mode skips
# the ladder.
. "$(dirname "$0")/lib.sh"

start_mock --reject-background
start_agentd
submit 2 10 5 >/dev/null || { fail "submit"; exit 1; }
check "no background: runs finish" wait_for 20 all_terminal
check "no background: completed as plain streams" \
    [ "$(sql "SELECT count(*) FROM runs WHERE status = 'completed' AND resolved_mode = 'stream' AND resumable = 0")" -eq 2 ]
check "no background: remembered" [ "$(sql "SELECT background FROM endpoints")" = 0 ]
check "no background: events true" verify
rejected=$(mock /mock/stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["creates"])')
submit 1 5 5 >/dev/null
wait_for 20 all_terminal
rejected2=$(mock /mock/stats | python3 -c 'import json,sys; s=json.load(sys.stdin); print(s["creates"])')
check "no background: a later run does not try background again" [ $((rejected2 - rejected)) -eq 1 ]
kill_agentd 15
stop_mock

rm -f "$DB" "$DB"-* "$DB.lock"
start_mock --reject-stream
start_agentd --poll-interval 1 --poll-max 1
submit 2 10 20 >/dev/null || { fail "submit"; exit 1; }
check "406: runs finish" wait_for 20 all_terminal
check "406: completed by background polling" \
    [ "$(sql "SELECT count(*) FROM runs WHERE status = 'completed' AND resolved_mode = 'poll'")" -eq 2 ]
check "406: stream capability remembered" [ "$(sql "SELECT stream FROM endpoints")" = 0 ]
check "406: output text from the final object" \
    [ "$(sql "SELECT count(*) FROM run_results WHERE length(output_text) > 0")" -eq 2 ]
# An explicit mode is used as asked, even against what was learned.
id=$(echo '{"model":"m","input":"x","metadata":{"mock_events":"3","mock_interval_ms":"1"}}' |
    ctl submit --mode background -f -)
wait_for 20 all_terminal
check "explicit mode skips the ladder and fails with the backend's error" \
    sh -c "'$BIN/agentctl' -s '$SOCK' --json show $id | python3 -c '
import json,sys; o=json.load(sys.stdin)
assert o[\"status\"] == \"failed\", o
assert o[\"error\"][\"http_status\"] == 406, o
'"
exit 0
