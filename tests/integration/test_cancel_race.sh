#!/bin/sh
# A cancel that lands while agentd's create is in flight: the backend
# already has the run, and only the create's answer names it. agentd must
# still cancel the backend's run once the answer comes (it used to drop
# the create and leave the run going on the backend, billed and unseen).
# slowproxy.py holds back each create's answer for 2 s, so the cancel
# always lands in that window; over a stream create (the first event
# names the run), a JSON background create (--reject-stream), and a
# create whose answer is a failure that names no run.
. "$(dirname "$0")/lib.sh"

# mock_run KEY FIELD: FIELD of the mock's run made with Idempotency-Key KEY.
mock_run() {
	mock /mock/runs | python3 -c '
import json, sys
for r in json.load(sys.stdin)["runs"]:
    if r.get("idempotency_key") == sys.argv[1]:
        print(r.get(sys.argv[2])); break' "$1" "$2"
}
backend_has() { mock /mock/runs | grep -q "\"$1\""; }
told() { [ "$(cancels)" -ge 1 ]; }
reads_cancelled() { [ "$(mock_run "$1" status)" = cancelled ]; }
dropped() { grep -q "run $1: lease lost, dropping it" "$T/agentd.log"; }

stat() {
	mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}
cancels() { stat cancels; }
arrived() { [ "$(stat creates)" -ge 1 ]; }

# setup NAME [mock flags]: the mock, the proxy before it, agentd, one run
# of 300 events 20 ms apart (its id in _id).
setup() {
	_name=$1
	shift
	rm -f "$DB" "$DB"-* "$DB.lock" "$T/proxy.port"
	start_mock "$@"
	python3 "$(dirname "$0")/slowproxy.py" "$T/proxy.port" "$MOCK_PORT" \
	    2000 >>"$T/proxy.log" 2>&1 &
	PROXY_PID=$!
	wait_for 10 test -s "$T/proxy.port" || { fail "$_name: proxy"; exit 1; }
	_real=$MOCK_URL
	MOCK_URL=http://127.0.0.1:$(cat "$T/proxy.port")	# agentd's way
	start_agentd --workers 1
	MOCK_URL=$_real
	_id=$(submit 1 300 20) || { fail "$_name: submit"; exit 1; }
}

teardown() {
	kill_agentd 15
	kill "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	stop_mock
}

# round NAME [mock flags]
round() {
	setup "$@"
	check "$_name: the backend has the run" wait_for 5 backend_has "$_id"
	check "$_name: agentd does not know its id yet" \
	    [ -z "$(sql "SELECT backend_id FROM runs WHERE id = '$_id'")" ]
	check "$_name: cancel" sh -c "'$BIN/agentctl' -s '$SOCK' cancel $_id | grep -q cancelled"
	check "$_name: the backend was told, once the id came" wait_for 6 told
	check "$_name: the backend's run reads cancelled" \
	    wait_for 3 reads_cancelled "$_id"
	check "$_name: the worker said why it waited" grep -q \
	    "run $_id: cancelled while its create was in flight" "$T/agentd.log"
	check "$_name: the run stays cancelled" \
	    [ "$(sql "SELECT status FROM runs WHERE id = '$_id'")" = cancelled ]
	check "$_name: the run is no worker's" wait_for 5 dropped "$_id"
	teardown
}

round "stream create"
round "background create" --reject-stream

# The bad case: the create's late answer is a 500 that names no run. The
# worker must drop the run, with no second create and nothing to cancel.
setup "failed create" --fail-creates 1
check "failed create: the create reached the backend" wait_for 5 arrived
check "failed create: cancel" sh -c "'$BIN/agentctl' -s '$SOCK' cancel $_id | grep -q cancelled"
check "failed create: the run is no worker's" wait_for 8 dropped "$_id"
sleep 1
check "failed create: no create sent again ($(stat creates))" [ "$(stat creates)" -eq 1 ]
check "failed create: nothing to cancel ($(cancels))" [ "$(cancels)" -eq 0 ]
check "failed create: the run stays cancelled" \
    [ "$(sql "SELECT status FROM runs WHERE id = '$_id'")" = cancelled ]
teardown
exit 0
