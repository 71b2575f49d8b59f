#!/bin/sh
# Retry state in plain sight: a run waiting to retry (Retry-After, agentd's
# backoff, an endpoint-wide 429 pause) and a pending run held back (a paused
# queue, a full queue, --max-inflight) say so in list, show, the run's JSON
# and /metrics, and say nothing once they move again.
. "$(dirname "$0")/lib.sh"

# jq-less JSON field: wait_field ID KEY prints run ID's wait.KEY (or null).
wait_field() {
	ctl --json show "$1" | python3 -c 'import json, sys
w = json.load(sys.stdin).get("wait")
print("null" if w is None else w.get(sys.argv[1]))' "$2"
}
run_field() {
	ctl --json show "$1" | python3 -c 'import json, sys
print(json.load(sys.stdin).get(sys.argv[1]))' "$2"
}
metric() { api http://x/metrics | grep -E "^$1" ; }

# --- 503 with Retry-After: 3 -------------------------------------------
start_mock --fail-creates 2 --fail-status 503 --retry-after 3
start_agentd
id=$(submit 1 5 5)
check "retry-after: list says starting (retry 1 in Ns)" \
    wait_for 5 sh -c "'$BIN/agentctl' -s '$SOCK' list | grep '$id' | grep -Eq 'starting \(retry 1 in [1-3]s\)'"
check "retry-after: wait.reason is retry_after" \
    [ "$(wait_field "$id" reason)" = retry_after ]
check "retry-after: wait.tries is 1" [ "$(wait_field "$id" tries)" = 1 ]
until=$(wait_field "$id" until)
now=$(($(date +%s) * 1000))
check "retry-after: wait.until is the next try, about 3 s ahead" \
    [ "$until" -gt "$now" ] && [ "$until" -lt $((now + 4500)) ]
check "retry-after: show has a state line with the reason" \
    sh -c "'$BIN/agentctl' -s '$SOCK' show '$id' | grep -q \"^state: starting (retry 1 .*Retry-After\""
check "retry-after: show gives the next try's time" \
    sh -c "'$BIN/agentctl' -s '$SOCK' show '$id' | grep -Eq '^wait.until: [0-9]+ \(.*, in [0-9]+s\)'"
check "retry-after: show keeps the last error" \
    sh -c "'$BIN/agentctl' -s '$SOCK' show '$id' | grep -q '^error.http_status: 503'"
check "retry-after: /metrics counts the run retrying" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_retrying 1'"
check "retry-after: /metrics has the reason" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_waiting{reason=\"retry_after\"} 1'"
check "retry-after: the second retry counts 2" \
    wait_for 6 sh -c "[ \"\$('$BIN/agentctl' -s '$SOCK' --json show '$id' | python3 -c 'import json,sys; w=json.load(sys.stdin)[\"wait\"]; print(w and w[\"tries\"])')\" = 2 ]"
check "retry-after: the run completes" wait_for 15 all_terminal
check "retry-after: completed" [ "$(run_field "$id" status)" = completed ]
check "retry-after: a finished run does not wait" \
    [ "$(wait_field "$id" reason)" = null ]
check "retry-after: retries back to 0" [ "$(run_field "$id" retries)" = 0 ]
check "retry-after: /metrics no longer counts it" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_retrying 0'"
kill_agentd 15
stop_mock

# --- 500 without Retry-After: agentd's own backoff -----------------------
start_mock --fail-creates 3 --fail-status 500
start_agentd --retry-max 4
id=$(submit 1 5 5)
check "backoff: wait.reason is backoff" \
    wait_for 5 sh -c "[ \"\$('$BIN/agentctl' -s '$SOCK' --json show '$id' | python3 -c 'import json,sys; w=json.load(sys.stdin)[\"wait\"]; print(w and w[\"reason\"])')\" = backoff ]"
check "backoff: the run completes and stops waiting" wait_for 20 all_terminal
check "backoff: no wait left" [ "$(wait_field "$id" reason)" = null ]
kill_agentd 15
stop_mock

# --- 429 without Retry-After: the endpoint-wide pause --------------------
start_mock --fail-creates 1 --fail-status 429
start_agentd
id=$(submit 1 5 5)
check "429: the wait comes from the endpoint pause" \
    wait_for 5 grep -q "retrying in [0-9]* ms (endpoint_paused)" "$T/agentd.log"
check "429: the run completes" wait_for 15 all_terminal
kill_agentd 15

# --- pending runs held back by a queue or --max-inflight -----------------
start_agentd --max-inflight 1
ctl queue set nightly --paused true >/dev/null
ctl queue set q2 --max-inflight 1 >/dev/null
long=$(printf '{"model":"mock","input":"long","metadata":{"mock_events":"400","mock_interval_ms":"25"}}' | ctl submit -f - --queue q2)
wait_for 5 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$long'\")\" = running ]"
q2=$(printf '{"model":"mock","input":"q2","metadata":{"mock_events":"5"}}' | ctl submit -f - --queue q2)
night=$(printf '{"model":"mock","input":"n","metadata":{"mock_events":"5"}}' | ctl submit -f - --queue nightly)
other=$(printf '{"model":"mock","input":"o","metadata":{"mock_events":"5"}}' | ctl submit -f -)
ctl list >"$T/list.out"
check "queue: list says pending (queue nightly paused)" \
    grep -q "^$night  *pending (queue nightly paused)" "$T/list.out"
check "queue: list says the full queue" \
    grep -q "^$q2  *pending (queue q2 full, max 1)" "$T/list.out"
check "max-inflight: list says pending (max-inflight 1)" \
    grep -q "^$other  *pending (max-inflight 1)" "$T/list.out"
check "queue: wait.queue names it" [ "$(wait_field "$night" queue)" = nightly ]
check "max-inflight: wait.limit is 1" [ "$(wait_field "$other" limit)" = 1 ]
check "queue: show explains" \
    sh -c "'$BIN/agentctl' -s '$SOCK' show '$night' | grep -q '^state: pending (queue nightly paused): queue nightly is paused'"
check "metrics: queue_paused counted" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_waiting{reason=\"queue_paused\"} 1'"
check "metrics: queue_max_inflight counted" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_waiting{reason=\"queue_max_inflight\"} 1'"
check "metrics: max_inflight counted" \
    sh -c "curl -sS --unix-socket '$SOCK' http://x/metrics | grep -qx 'agentd_runs_waiting{reason=\"max_inflight\"} 1'"
check "api: a running run has wait null" [ "$(wait_field "$long" reason)" = null ]
ctl queue set nightly --paused false >/dev/null
check "all finish once released" wait_for 40 all_terminal
check "nothing waits at the end" \
    [ "$(sql "SELECT count(*) FROM runs WHERE status NOT IN ('completed')")" = 0 ]
exit 0
