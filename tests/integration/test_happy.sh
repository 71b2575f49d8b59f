#!/bin/sh
# Happy path: runs submitted through agentctl finish, with every event
# stored once and the output text assembled; the API answers over curl.
. "$(dirname "$0")/lib.sh"

start_mock
start_agentd --workers 2
ids=$(submit 5 20 10) || { fail "submit"; exit 1; }
first=$(echo "$ids" | head -1)
check "submit prints run ids" [ "$(echo "$ids" | wc -l)" -eq 5 ]
check "all runs finish" wait_for 20 all_terminal
check "all runs completed" [ "$(count_status completed)" -eq 5 ]
check "events equal ground truth" verify
check "event count is 28 per run (20 deltas + lifecycle)" \
    [ "$(sql "SELECT min(event_count) || '/' || max(event_count) FROM runs")" = "28/28" ]
check "cursor is the last seq" \
    [ "$(sql "SELECT count(*) FROM runs WHERE last_seq = 27")" -eq 5 ]
check "result prints the text" sh -c "'$BIN/agentctl' -s '$SOCK' result $first | grep -q ."
check "show --json has the fields" sh -c "'$BIN/agentctl' -s '$SOCK' --json show $first | python3 -c '
import json,sys; o=json.load(sys.stdin)
for k in (\"id\",\"status\",\"backend_id\",\"mode\",\"last_seq\",\"last_event_at\",\"event_count\",\"error\"):
    assert k in o, k
assert o[\"status\"] == \"completed\" and o[\"event_count\"] == 28
'"
check "curl --unix-socket lists runs" sh -c "curl -sf --unix-socket '$SOCK' http://localhost/v1/runs | grep -q '$first'"
check "events endpoint pages" sh -c "curl -sf --unix-socket '$SOCK' 'http://localhost/v1/runs/$first/events?after=20&limit=5' | python3 -c '
import json,sys; o=json.load(sys.stdin)
assert [e[\"seq\"] for e in o[\"events\"]] == [21,22,23,24,25], o
assert o[\"next_after\"] == 25
'"
check "each create sent once" [ "$(mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["creates"])')" -eq 5 ]
check "create carried store:true and an Idempotency-Key" sh -c "mock_keys=\$(curl -sf '$MOCK_URL/mock/runs' | python3 -c '
import json,sys; print(sum(1 for r in json.load(sys.stdin)[\"runs\"] if r.get(\"idempotency_key\","").startswith(\"r_\")))'); [ \"\$mock_keys\" -eq 5 ]"
exit 0
