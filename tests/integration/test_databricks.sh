#!/bin/sh
# The Databricks long-running agent server dialect: data-only frames,
# [DONE] as the end, inclusive starting_after=0, {"detail"} errors, cancel
# answered 501 (abandoned locally).
. "$(dirname "$0")/lib.sh"

start_mock --dialect databricks --drop-after 4
start_agentd --dialect databricks
submit 4 12 5 >/dev/null || { fail "submit"; exit 1; }
check "databricks: runs finish" wait_for 20 all_terminal
check "databricks: completed at [DONE]" [ "$(count_status completed)" -eq 4 ]
check "databricks: no loss, no duplicate across drops" verify
check "databricks: output text assembled from deltas" \
    [ "$(sql "SELECT count(*) FROM runs WHERE length(output_text) > 0")" -eq 4 ]
id=$(submit 1 5 5 ',"mock_fail":"failed"')
wait_for 20 all_terminal
check "databricks: failure ends the run failed" [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = failed ]
id=$(submit 1 200 50)
wait_for 10 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT backend_id FROM runs WHERE id = '$id'\")\" ]"
ctl cancel "$id" >/dev/null
check "databricks: cancel is local when the server answers 501" \
    [ "$(sql "SELECT status FROM runs WHERE id = '$id'")" = cancelled ]
check "databricks: the 501 is logged" wait_for 5 grep -q "cannot cancel" "$T/agentd.log"
exit 0
