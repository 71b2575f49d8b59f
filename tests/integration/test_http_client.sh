#!/bin/sh
# Which HTTP client carries the streams: agentd's own HTTP/1.1 client by
# default over plain http://, libcurl with --http-client curl or when a
# proxy is configured. Both must store exactly the mock's events, through
# split writes, dropped streams and stalls.
. "$(dirname "$0")/lib.sh"

own() {
	api http://localhost/metrics |
	    awk '$1 == "agentd_backend_requests_own_client_total" { print $2 }'
}

# The workers report their counters with their heartbeat: wait for one.
creates_seen() {
	api http://localhost/metrics | awk '$1 ~ /kind="create"/ &&
	    $2 >= 8 { ok = 1 } END { exit !ok }'
}
own_over() { [ "$(own)" -gt "$1" ]; }

# round NAME EXPECT_OWN [agentd flags]: 8 runs through a faulty mock.
round() {
	_name=$1 _own=$2
	shift 2
	rm -f "$DB" "$DB"-* "$DB.lock"
	start_mock --seed 7 --chaos-split --chaos-drop 0.02 --chaos-stall 0.02
	start_agentd --workers 1 "$@"
	submit 8 60 5 >/dev/null || { fail "$_name: submit"; exit 1; }
	check "$_name: all runs finish" wait_for 60 all_terminal
	check "$_name: all completed" [ "$(count_status completed)" -eq 8 ]
	check "$_name: events equal the ground truth" verify
	wait_for 5 creates_seen
	_n=$(own)
	if [ "$_own" = yes ]; then
		check "$_name: streams went through the own client ($_n)" \
		    [ "${_n:-0}" -ge 8 ]
	else
		check "$_name: no request through the own client ($_n)" \
		    [ "${_n:-x}" = 0 ]
	fi
	kill_agentd 15
	stop_mock
}

round "own client" yes
round "--http-client curl" no --http-client curl
# A proxy is libcurl's business: with one set, the own client stands
# aside (no_proxy lets libcurl reach the mock directly).
http_proxy=http://127.0.0.1:9 no_proxy=127.0.0.1 round "http_proxy set" no
unset http_proxy no_proxy

# Resumes through the own client: every stream cut after 5 events.
rm -f "$DB" "$DB"-* "$DB.lock"
start_mock --drop-after 5
start_agentd --workers 2
submit 8 30 5 >/dev/null || { fail "resume: submit"; exit 1; }
check "resume: all runs finish" wait_for 30 all_terminal
check "resume: no loss, no duplicate" verify
wait_for 5 own_over 8
n=$(own)
check "resume: resumed through the own client ($n)" [ "${n:-0}" -gt 8 ]
kill_agentd 15
stop_mock

# A bad value is a usage error, exit 2, and says what is allowed.
out=$("$BIN/agentd" --http-client fast --db "$DB" 2>&1)
rc=$?
check "--http-client fast: exit 2 ($rc)" [ "$rc" -eq 2 ]
check "--http-client fast: says auto or curl" sh -c "echo '$out' | grep -q 'auto or curl'"
check "--help documents --http-client" sh -c "'$BIN/agentd' --help | grep -q -- '--http-client'"
exit 0
