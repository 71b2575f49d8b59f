#!/bin/sh
# Streams that break are resumed from the cursor: connections dropped every
# K events, and a backend that cannot resume streams (polling instead).
. "$(dirname "$0")/lib.sh"

start_mock --drop-after 7
start_agentd --workers 2
submit 6 40 5 >/dev/null || { fail "submit"; exit 1; }
check "dropped streams: all runs finish" wait_for 30 all_terminal
check "dropped streams: all completed" [ "$(count_status completed)" -eq 6 ]
check "dropped streams: no loss, no duplicate" verify
resumes=$(mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin).get("resumes",0))')
check "dropped streams: resumed with starting_after ($resumes resumes)" [ "$resumes" -gt 6 ]
kill_agentd 15
stop_mock

rm -f "$DB" "$DB"-* "$DB.lock"
start_mock --drop-after 5 --no-resume
start_agentd --workers 1 --poll-interval 1 --poll-max 1
submit 3 20 20 >/dev/null || { fail "submit"; exit 1; }
check "no stream resume: runs finish by polling" wait_for 30 all_terminal
check "no stream resume: completed" [ "$(count_status completed)" -eq 3 ]
check "no stream resume: resolved mode is poll" \
    [ "$(sql "SELECT count(*) FROM runs WHERE resolved_mode = 'poll'")" -eq 3 ]
check "no stream resume: capability remembered" \
    [ "$(sql "SELECT resume FROM endpoints")" = 0 ]
check "no stream resume: output text from the final object" \
    [ "$(sql "SELECT count(*) FROM run_results WHERE length(output_text) > 0")" -eq 3 ]
check "no stream resume: stored events are true" verify
exit 0
