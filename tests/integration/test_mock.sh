#!/bin/sh
#
# agent-mock self test: starts the mock on free ports (one instance per flag
# set) and checks its main behaviours with curl: every route, both dialects,
# the per-run knobs, the fault flags, ground truth and bad input. Prints
# "PASS name" / "FAIL name: why" lines (the tests/run.sh convention) and
# exits non-zero if anything failed. Needs only curl, grep, sed, awk.
# Usage: selftest.sh [path/to/agent-mock] (else $AGENT_MOCK, else
# $BIN/agent-mock, else bin/agent-mock).
#
set -u

MOCK=${1:-${AGENT_MOCK:-${BIN:-bin}/agent-mock}}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/agent-mock-test.XXXXXX")
PIDS=""
npass=0
nfail=0

cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT INT TERM

pass() {
	npass=$((npass + 1))
	echo "PASS $1"
}

fail() {
	nfail=$((nfail + 1))
	echo "FAIL $1${2:+: $2}"
}

# check NAME COMMAND...: PASS if the command succeeds.
check() {
	_name=$1
	shift
	if "$@"; then pass "$_name"; else fail "$_name"; fi
}

# eq NAME GOT WANT
eq() {
	if [ "$2" = "$3" ]; then
		pass "$1"
	else
		fail "$1" "got '$(printf %s "$2" | cut -c1-300)', want '$3'"
	fi
}

# has NAME HAYSTACK NEEDLE
has() {
	case $2 in
	*"$3"*) pass "$1" ;;
	*) fail "$1" "'$(printf %s "$2" | cut -c1-300)' lacks '$3'" ;;
	esac
}

# start NAME ARGS...: start a mock, wait for its port file, set $PORT/$B.
start() {
	_n=$1
	shift
	"$MOCK" --port-file "$TMP/$_n.port" "$@" >"$TMP/$_n.out" \
	    2>"$TMP/$_n.err" &
	_pid=$!
	PIDS="$PIDS $_pid"
	eval "PID_$_n=$_pid"
	_i=0
	while [ ! -s "$TMP/$_n.port" ] && [ $_i -lt 200 ]; do
		sleep 0.05
		_i=$((_i + 1))
	done
	PORT=$(cat "$TMP/$_n.port" 2>/dev/null)
	B="http://127.0.0.1:$PORT"
}

# stop NAME: SIGTERM the named mock and return its exit status.
stop() {
	eval "_pid=\$PID_$1"
	kill -TERM "$_pid" 2>/dev/null
	wait "$_pid"
}

# jstr FIELD: first "FIELD":"value" of stdin.
jstr() {
	grep -o "\"$1\":\"[^\"]*\"" | head -n 1 | sed 's/^[^:]*:"//; s/"$//'
}

# jnum FIELD: first "FIELD":number of stdin.
jnum() {
	grep -o "\"$1\":-\{0,1\}[0-9][0-9]*" | head -n 1 | sed 's/^[^:]*://'
}

# deltas FILE: the delta strings of an SSE capture, one per line.
deltas() {
	data "$1" | grep '"type":"response.output_text.delta"' |
	    sed 's/.*"delta":"\([^"]*\)".*/\1/'
}

# code ARGS...: HTTP status of a curl request.
code() {
	curl -s -o /dev/null -w '%{http_code}' "$@"
}

# data FILE: the data: payloads of an SSE capture, one per line.
data() {
	grep '^data: ' "$1" | sed 's/^data: //'
}

# seqs_ok FILE N: the first sequence_number of each data line is 0..N-1.
seqs_ok() {
	data "$1" | grep -v '^\[DONE\]$' | awk -v n="$2" '
	    { if (!match($0, /"sequence_number":[0-9]+/)) exit 1
	      s = substr($0, RSTART + 18, RLENGTH - 18) + 0
	      if (s != NR - 1) exit 1 }
	    END { if (NR != n) exit 1 }'
}

# seqlist FILE: the sequence numbers of an SSE capture ("-" if none).
seqlist() {
	data "$1" | grep -v '^\[DONE\]$' | awk '
	    { if (match($0, /"sequence_number":[0-9]+/))
		printf "%s ", substr($0, RSTART + 18, RLENGTH - 18)
	      else printf "- " }' | sed 's/ $//'
}

# same_as_truth FILE ID: streamed payloads equal /mock/runs/ID/events.
same_as_truth() {
	_want=$(curl -s "$B/mock/runs/$2/events")
	_got="{\"events\":[$(data "$1" | grep -v '^\[DONE\]$' | paste -sd, -)]}"
	[ "$_got" = "$_want" ]
}

if [ ! -x "$MOCK" ]; then
	echo "FAIL agent-mock binary: no executable at '$MOCK'"
	exit 1
fi

# --- command line -----------------------------------------------------
out=$("$MOCK" --help 2>&1)
rc=$?
eq "help exits 0" "$rc" 0
for f in --listen --port-file --dialect --reject-background --reject-stream \
    --no-resume --drop-after --fail-creates --fail-status --retry-after \
    --verbose --help --seed --chaos-drop --chaos-stall --chaos-429 \
    --chaos-500 --chaos-split mock_misbehave no_seq gap out_of_order \
    duplicate huge_line bad_json silent trickle id_change html; do
	has "help documents $f" "$out" "$f"
done
"$MOCK" --bogus >/dev/null 2>&1
eq "unknown flag exits 2" "$?" 2
"$MOCK" --dialect nope >/dev/null 2>&1
eq "bad --dialect exits 2" "$?" 2
"$MOCK" --drop-after x >/dev/null 2>&1
eq "bad --drop-after exits 2" "$?" 2
"$MOCK" --listen 127.0.0.1:99999 >/dev/null 2>&1
eq "bad --listen port exits 2" "$?" 2
"$MOCK" --fail-status 200 >/dev/null 2>&1
eq "bad --fail-status exits 2" "$?" 2
"$MOCK" --chaos-drop 1.5 >/dev/null 2>&1
eq "bad --chaos-drop exits 2" "$?" 2
"$MOCK" --chaos-500 x >/dev/null 2>&1
eq "bad --chaos-500 exits 2" "$?" 2
"$MOCK" --seed -1 >/dev/null 2>&1
eq "bad --seed exits 2" "$?" 2

# --- openai dialect ---------------------------------------------------
start oa
has "prints listening line" "$(cat "$TMP/oa.out")" \
    "listening on 127.0.0.1:$PORT"
eq "one stdout line" "$(wc -l <"$TMP/oa.out" | tr -d ' ')" 1

curl -s -N -D "$TMP/h1" -o "$TMP/s1" -X POST "$B/v1/responses" \
    -d '{"model":"m1","background":true,"stream":true,
	"metadata":{"mock_events":"5","mock_interval_ms":"5"}}'
id1=$(data "$TMP/s1" | head -n 1 | jstr id)
has "stream content type" "$(cat "$TMP/h1")" "text/event-stream"
check "stream has 13 events, seq 0..12" seqs_ok "$TMP/s1" 13
eq "first event is response.created" \
    "$(data "$TMP/s1" | head -n 1 | jstr type)" response.created
eq "created status queued" "$(data "$TMP/s1" | head -n 1 | jstr status)" \
    queued
eq "last event is response.completed" \
    "$(data "$TMP/s1" | tail -n 1 | jstr type)" response.completed
eq "event: lines match types" \
    "$(grep -c '^event: response\.' "$TMP/s1")" 13
check "no [DONE] in openai dialect" sh -c "! grep -q DONE '$TMP/s1'"
eq "resp id format" "$(printf %s "$id1" | grep -c '^resp_[0-9a-f]\{24\}$')" 1
check "streamed bytes equal /mock/runs/ID/events" same_as_truth "$TMP/s1" \
    "$id1"
text=$(deltas "$TMP/s1" | tr -d '\n')
eq "completed text is the deltas" "$(data "$TMP/s1" | tail -n 1 |
    jstr text)" "$text"
eq "ground truth text" "$(curl -s "$B/mock/runs/$id1" | jstr text)" "$text"
eq "model echoed" "$(data "$TMP/s1" | tail -n 1 | jstr model)" m1
has "usage on completed" "$(data "$TMP/s1" | tail -n 1)" '"output_tokens":5'
eq "retrieve completed" "$(curl -s "$B/v1/responses/$id1" | jstr status)" \
    completed
eq "route without /v1" "$(curl -s "$B/responses/$id1" | jstr status)" \
    completed
curl -s -N "$B/v1/responses/$id1?stream=true&starting_after=9" >"$TMP/s2"
eq "resume starting_after=9 starts at 10" \
    "$(data "$TMP/s2" | head -n 1 | jnum sequence_number)" 10
eq "resume replays to the end" "$(data "$TMP/s2" | wc -l | tr -d ' ')" 3
curl -s -N "$B/v1/responses/$id1?stream=true" >"$TMP/s3"
check "resume without starting_after replays all" seqs_ok "$TMP/s3" 13

# background poll: queued, then in_progress, then completed
r=$(curl -s -X POST "$B/v1/responses" -d '{"background":true,
    "metadata":{"mock_events":3,"mock_interval_ms":300}}')
id2=$(printf %s "$r" | jstr id)
eq "background create returns queued" "$(printf %s "$r" | jstr status)" \
    queued
sleep 0.5
eq "poll in_progress" "$(curl -s "$B/v1/responses/$id2" | jstr status)" \
    in_progress
curl -s -N "$B/v1/responses/$id2?stream=true&starting_after=1" >"$TMP/s4"
eq "live resume follows to completion" \
    "$(data "$TMP/s4" | tail -n 1 | jstr type)" response.completed
eq "poll completed" "$(curl -s "$B/v1/responses/$id2" | jstr status)" \
    completed

# cancel
r=$(curl -s -X POST "$B/v1/responses" -d '{"background":true,
    "metadata":{"mock_events":100,"mock_interval_ms":50}}')
id3=$(printf %s "$r" | jstr id)
curl -s -N "$B/v1/responses/$id3?stream=true" >"$TMP/s5" &
cpid=$!
sleep 0.4
eq "cancel returns cancelled" \
    "$(curl -s -X POST "$B/v1/responses/$id3/cancel" | jstr status)" cancelled
wait $cpid
eq "stream ends with response.cancelled" \
    "$(data "$TMP/s5" | tail -n 1 | jstr type)" response.cancelled
eq "cancel is idempotent" "$(code -X POST "$B/responses/$id3/cancel")" 200
eq "poll cancelled" "$(curl -s "$B/v1/responses/$id3" | jstr status)" \
    cancelled
check "cancelled stream equals ground truth" same_as_truth "$TMP/s5" "$id3"

# errors
want='{"error":{"message":"Response with id '"'resp_x'"' not found.",'
want=$want'"type":"invalid_request_error","param":null,"code":null}}'
eq "unknown id body" "$(curl -s "$B/v1/responses/resp_x")" "$want"
eq "unknown id 404" "$(code "$B/v1/responses/resp_x")" 404
eq "unknown id cancel 404" "$(code -X POST "$B/v1/responses/resp_x/cancel")" \
    404
eq "unknown route 404" "$(code "$B/v1/nope")" 404
has "unknown route error shape" "$(curl -s "$B/v1/nope")" '{"error":{'
eq "wrong method 405" "$(code -X DELETE "$B/v1/responses/$id1")" 405
eq "GET /responses 405" "$(code "$B/v1/responses")" 405
eq "error content type" "$(curl -s -o /dev/null -w '%{content_type}' \
    "$B/v1/nope")" application/json
eq "garbage JSON 400" "$(code -X POST "$B/v1/responses" -d 'nope{')" 400
eq "non-object JSON 400" "$(code -X POST "$B/v1/responses" -d '[]')" 400
eq "empty body 400" "$(code -X POST "$B/v1/responses")" 400
r=$(curl -s -X POST "$B/v1/responses" -d '{"metadata":{"mock_events":"-1"}}')
has "bad knob names it" "$r" "mock_events"
eq "bad knob 400" "$(code -X POST "$B/v1/responses" \
    -d '{"metadata":{"mock_interval_ms":"abc"}}')" 400
eq "bad mock_fail 400" "$(code -X POST "$B/v1/responses" \
    -d '{"metadata":{"mock_fail":"boom"}}')" 400
eq "bad stream type 400" "$(code -X POST "$B/v1/responses" \
    -d '{"stream":"yes"}')" 400
eq "bad starting_after 400" \
    "$(code "$B/v1/responses/$id1?stream=true&starting_after=x")" 400
head -c 9000000 /dev/zero >"$TMP/huge"
eq "9 MB body 413" "$(code -X POST -H 'Expect:' --data-binary @"$TMP/huge" \
    "$B/v1/responses")" 413

# non-background runs
curl -s -N -X POST "$B/v1/responses" -d '{"stream":true,
    "metadata":{"mock_events":2,"mock_interval_ms":0}}' >"$TMP/s6"
id6=$(data "$TMP/s6" | head -n 1 | jstr id)
check "foreground stream completes" seqs_ok "$TMP/s6" 10
eq "foreground stream not retrievable" "$(code "$B/v1/responses/$id6")" 404
eq "foreground stream not resumable" \
    "$(code "$B/v1/responses/$id6?stream=true")" 404
r=$(curl -s -X POST "$B/v1/responses" -d '{"metadata":{"mock_events":3,
    "mock_interval_ms":50}}')
eq "blocking create returns final object" "$(printf %s "$r" | jstr status)" \
    completed

# failures, stall, delta size
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":2,"mock_interval_ms":0,"mock_fail":"failed"}}' \
    >"$TMP/s7"
eq "mock_fail=failed ends with response.failed" \
    "$(data "$TMP/s7" | tail -n 1 | jstr type)" response.failed
has "failed response carries error" "$(data "$TMP/s7" | tail -n 1)" \
    '"error":{"code":"server_error","message":"mock failure"}'
id7=$(data "$TMP/s7" | head -n 1 | jstr id)
eq "failed run polls failed" "$(curl -s "$B/v1/responses/$id7" | jstr status)" \
    failed
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":2,"mock_interval_ms":0,
    "mock_fail":"error_event"}}' >"$TMP/s8"
eq "mock_fail=error_event flat error event" \
    "$(data "$TMP/s8" | tail -n 1 | sed 's/"sequence_number":[0-9]*/N/')" \
    '{"type":"error","code":"server_error","message":"mock error event",'\
'"param":null,N}'
r=$(curl -s -X POST "$B/v1/responses" -d '{"background":true,
    "metadata":{"mock_events":10,"mock_interval_ms":1,"mock_stall_after":3}}')
id9=$(printf %s "$r" | jstr id)
sleep 0.3
eq "stalled run stays in_progress" \
    "$(curl -s "$B/v1/responses/$id9" | jstr status)" in_progress
eq "stalled run stops after 3 deltas" \
    "$(curl -s "$B/mock/runs/$id9" | jnum events)" 7
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":3,"mock_interval_ms":0,
    "mock_delta_bytes":"40"}}' >"$TMP/s10"
eq "mock_delta_bytes sizes every delta" "$(deltas "$TMP/s10" |
    awk '{ print length($0) }' | sort -u)" 40

# idempotency
k="key-$$"
a=$(curl -s -X POST -H "Idempotency-Key: $k" "$B/v1/responses" \
    -d '{"background":true,"metadata":{"mock_interval_ms":0}}' | jstr id)
b=$(curl -s -X POST -H "Idempotency-Key: $k" "$B/v1/responses" \
    -d '{"background":true,"metadata":{"mock_interval_ms":0}}' | jstr id)
eq "idempotency key returns the same run" "$b" "$a"
curl -s -N -X POST -H "Idempotency-Key: $k" "$B/v1/responses" \
    -d '{"background":true,"stream":true}' >"$TMP/s11"
eq "keyed stream replays the same run" \
    "$(data "$TMP/s11" | head -n 1 | jstr id)" "$a"
check "keyed stream starts at seq 0" seqs_ok "$TMP/s11" 28
eq "creates counted per key" "$(curl -s "$B/mock/runs/$a" | jnum creates)" 3

# disconnect mid-stream
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":1000,"mock_interval_ms":10}}' >/dev/null &
cpid=$!
sleep 0.3
eq "stream counted open" "$(curl -s "$B/mock/stats" | jnum streams_open)" 1
kill $cpid
wait $cpid 2>/dev/null
sleep 0.3
eq "disconnect detected" "$(curl -s "$B/mock/stats" | jnum streams_open)" 0

st=$(curl -s "$B/mock/stats")
for f in creates creates_by_status requests streams_open streams_peak runs \
    duplicate_idempotency_keys resumes polls cancels; do
	has "stats has $f" "$st" "\"$f\":"
done
eq "stats duplicate keys" \
    "$(printf %s "$st" | jnum duplicate_idempotency_keys)" 2
has "runs list" "$(curl -s "$B/mock/runs")" "\"id\":\"$id1\""
eq "reset-stats" "$(code -X POST "$B/mock/reset-stats")" 200
stop oa
eq "SIGTERM exits 0" "$?" 0

# --- databricks dialect -----------------------------------------------
start db --dialect databricks
# One handler step (test_mock_databricks.sh covers several); the nested
# response.id is the handler's own, the server's id is response_id.
curl -s -N -X POST "$B/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":2,"mock_interval_ms":0,"mock_tool_steps":1}}' \
    >"$TMP/d1"
idd=$(data "$TMP/d1" | head -n 1 | jstr response_id)
check "db: no event: lines" sh -c "! grep -q '^event:' '$TMP/d1'"
eq "db: response_id in every event" "$(data "$TMP/d1" | grep -v DONE |
    grep -c "\"response_id\":\"$idd\"")" 10
eq "db: ends with [DONE]" "$(data "$TMP/d1" | tail -n 1)" "[DONE]"
check "db: seq 0..9" seqs_ok "$TMP/d1" 10
check "db: bytes equal ground truth" same_as_truth "$TMP/d1" "$idd"
curl -s -N "$B/responses/$idd?stream=true&starting_after=0" >"$TMP/d2"
eq "db: starting_after=0 is inclusive" \
    "$(data "$TMP/d2" | head -n 1 | jnum sequence_number)" 0
curl -s -N "$B/responses/$idd?stream=true&starting_after=4" >"$TMP/d3"
eq "db: starting_after=4 starts at 5" \
    "$(data "$TMP/d3" | head -n 1 | jnum sequence_number)" 5
eq "db: poll completed minimal" "$(curl -s "$B/responses/$idd" |
    sed 's/"output":.*//')" "{\"id\":\"$idd\",\"status\":\"completed\","
curl -s -N -X POST "$B/invocations" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":1,"mock_interval_ms":0,"mock_fail":"failed"}}' \
    >"$TMP/d4"
idf=$(data "$TMP/d4" | head -n 1 | jstr response_id)
eq "db: /invocations alias, nested error" "$(data "$TMP/d4" | tail -n 1 |
    sed 's/"sequence_number":[0-9]*/N/')" \
    '{"type":"error","error":{"message":"mock failure",'\
'"type":"server_error","code":"task_failed"},N,"response_id":"'$idf'"}'
check "db: no [DONE] after failure" sh -c "! grep -q DONE '$TMP/d4'"
eq "db: poll failed" "$(curl -s "$B/responses/$idf" | jstr status)" failed
r=$(curl -s -X POST "$B/responses" -d '{"background":true,
    "metadata":{"mock_interval_ms":1000}}')
eq "db: create answer in_progress" "$(printf %s "$r" |
    sed 's/"id":"[^"]*"/ID/; s/"created_at":[0-9]*/T/')" \
    '{ID,"object":"response",T,"status":"in_progress","error":null,'\
'"incomplete_details":null,"output":[],"metadata":{}}'
eq "db: cancel 501" "$(curl -s -w ' %{http_code}' -X POST \
    "$B/responses/$idd/cancel")" \
    '{"detail":"Cancellation is not yet implemented."} 501'
eq "db: 404 detail" "$(curl -s -w ' %{http_code}' "$B/responses/nope")" \
    '{"detail":"Response not found"} 404'
stop db

# --- fault flags ------------------------------------------------------
start ff --reject-background --reject-stream --fail-creates 2 \
    --fail-status 429 --retry-after 7
h=$(curl -s -D - -o /dev/null -X POST "$B/v1/responses" -d '{}')
has "fail-creates status" "$h" "429"
has "fail-creates Retry-After" "$h" "Retry-After: 7"
eq "second create fails too" "$(code -X POST "$B/v1/responses" -d '{}')" 429
eq "third create passes" "$(code -X POST "$B/v1/responses" \
    -d '{"metadata":{"mock_interval_ms":0}}')" 200
want='{"error":{"message":"The '"'background'"' parameter is not supported.",'
want=$want'"type":"invalid_request_error","param":"background",'
want=$want'"code":"unsupported_parameter"}}'
eq "reject-background body" "$(curl -s -X POST "$B/v1/responses" \
    -d '{"background":true}')" "$want"
eq "reject-stream POST 406" "$(code -X POST "$B/v1/responses" \
    -d '{"stream":true}')" 406
eq "reject-stream Accept 406" "$(code -X POST \
    -H 'Accept: text/event-stream' "$B/v1/responses" -d '{}')" 406
eq "reject-stream GET 406" "$(code "$B/v1/responses/x?stream=true")" 406
has "creates_by_status" "$(curl -s "$B/mock/stats")" '"429":2'
stop ff

start nr --no-resume --drop-after 3
r=$(curl -s -X POST "$B/v1/responses" -d '{"background":true,
    "metadata":{"mock_interval_ms":0}}')
idn=$(printf %s "$r" | jstr id)
r=$(curl -s -w ' %{http_code}' "$B/v1/responses/$idn?stream=true")
has "no-resume message" "$r" \
    '{"error":{"message":"Streaming is not enabled for this response",'
has "no-resume 400" "$r" '} 400'
eq "no-resume still retrieves" "$(code "$B/v1/responses/$idn")" 200
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_interval_ms":1}}' >"$TMP/n1" 2>/dev/null
rc=$?
eq "drop-after 3 events" "$(data "$TMP/n1" | wc -l | tr -d ' ')" 3
check "drop-after is abrupt" [ "$rc" -ne 0 ]
stop nr

# --- misbehaviour modes (metadata.mock_misbehave) -----------------------
start mb
# mbs MODE: stream a 6-delta run with MODE into $TMP/mb_MODE.
mbs() {
	curl -s -N -X POST "$B/v1/responses" -d '{"background":true,
	    "stream":true,"metadata":{"mock_events":6,"mock_interval_ms":0,
	    "mock_misbehave":"'"$1"'"}}' >"$TMP/mb_$1"
}
mbs no_seq
eq "no_seq: event 6 has no sequence_number" "$(seqlist "$TMP/mb_no_seq")" \
    "0 1 2 3 4 5 - 7 8 9 10 11 12 13"
idm=$(data "$TMP/mb_no_seq" | head -n 1 | jstr id)
check "no_seq: stream equals ground truth" same_as_truth "$TMP/mb_no_seq" \
    "$idm"
eq "no_seq: /mock/runs names the mode" \
    "$(curl -s "$B/mock/runs/$idm" | jstr misbehave)" no_seq
mbs gap
eq "gap: sequence numbers skip 5" "$(seqlist "$TMP/mb_gap")" \
    "0 1 2 3 4 6 7 8 9 10 11 12 13 14"
idm=$(data "$TMP/mb_gap" | head -n 1 | jstr id)
check "gap: stream equals ground truth" same_as_truth "$TMP/mb_gap" "$idm"
curl -s -N "$B/v1/responses/$idm?stream=true&starting_after=5" >"$TMP/mb_g2"
eq "gap: resume after the missing seq" "$(seqlist "$TMP/mb_g2" |
    cut -d' ' -f1-2)" "6 7"
mbs out_of_order
eq "out_of_order: seq 5 before 4" "$(seqlist "$TMP/mb_out_of_order")" \
    "0 1 2 3 5 4 6 7 8 9 10 11 12 13"
idm=$(data "$TMP/mb_out_of_order" | head -n 1 | jstr id)
check "out_of_order: stream equals ground truth" same_as_truth \
    "$TMP/mb_out_of_order" "$idm"
curl -s -N "$B/v1/responses/$idm?stream=true&starting_after=3" >"$TMP/mb_o2"
eq "out_of_order: resume after 3 sends 5 4 6" "$(seqlist "$TMP/mb_o2" |
    cut -d' ' -f1-3)" "5 4 6"
mbs duplicate
eq "duplicate: 5 twice, 6 again after 8" "$(seqlist "$TMP/mb_duplicate")" \
    "0 1 2 3 4 5 5 6 7 8 6 9 10 11 12 13"
idm=$(data "$TMP/mb_duplicate" | head -n 1 | jstr id)
check "duplicate: stream equals ground truth (copies too)" same_as_truth \
    "$TMP/mb_duplicate" "$idm"
mbs huge_line
eq "huge_line: one data line over 9 MiB" "$(awk 'length($0) > 9437184' \
    "$TMP/mb_huge_line" | wc -l | tr -d ' ')" 1
check "huge_line: stream ends normally" seqs_ok "$TMP/mb_huge_line" 14
idm=$(data "$TMP/mb_huge_line" | head -n 1 | jstr id)
check "huge_line: stream equals ground truth" same_as_truth \
    "$TMP/mb_huge_line" "$idm"
mbs bad_json
eq "bad_json: event 6 is cut short" "$(data "$TMP/mb_bad_json" | sed -n 7p |
    grep -c '}$')" 0
idm=$(data "$TMP/mb_bad_json" | head -n 1 | jstr id)
_want=$(curl -s "$B/mock/runs/$idm/events")
_got="{\"events\":[$(data "$TMP/mb_bad_json" | sed 7d | paste -sd, -)]}"
eq "bad_json: truth is the stream without it" "$_got" "$_want"
mbs id_change
idm=$(data "$TMP/mb_id_change" | head -n 1 | jstr id)
alt=$(curl -s "$B/mock/runs/$idm" | jstr alt_id)
eq "id_change: the last event carries the other id" \
    "$(data "$TMP/mb_id_change" | tail -n 1 | jstr id)" "$alt"
check "id_change: the other id differs" [ -n "$alt" ] && [ "$alt" != "$idm" ]
check "id_change: stream equals ground truth" same_as_truth \
    "$TMP/mb_id_change" "$idm"
eq "id_change: retrieve keeps the real id" \
    "$(curl -s "$B/v1/responses/$idm" | jstr id)" "$idm"
h=$(curl -s -D - -X POST "$B/v1/responses" -d '{"background":true,
    "stream":true,"metadata":{"mock_misbehave":"html"}}')
has "html: 200 OK" "$h" "HTTP/1.1 200 OK"
has "html: text/html" "$h" "Content-Type: text/html"
has "html: an HTML body" "$h" "<html>"
idm=$(printf %s "$h" | grep -i '^X-Mock-Response-Id' | tr -d '\r' |
    sed 's/.*: //')
eq "html: no events in the truth" "$(curl -s "$B/mock/runs/$idm/events")" \
    '{"events":[]}'
curl -s -N -m 1.5 -D "$TMP/mb_sh" -X POST "$B/v1/responses" \
    -d '{"background":true,"stream":true,
    "metadata":{"mock_misbehave":"silent","mock_interval_ms":0}}' \
    >"$TMP/mb_silent"
has "silent: SSE headers" "$(cat "$TMP/mb_sh")" "text/event-stream"
eq "silent: not a byte of body" "$(wc -c <"$TMP/mb_silent" | tr -d ' ')" 0
idm=$(grep -i '^X-Mock-Response-Id' "$TMP/mb_sh" | tr -d '\r' |
    sed 's/.*: //')
curl -s -N -m 1.2 "$B/v1/responses/$idm?stream=true" >"$TMP/mb_s2"
eq "silent: resume silent too" "$(wc -c <"$TMP/mb_s2" | tr -d ' ')" 0
eq "silent: no events in the truth" "$(curl -s "$B/mock/runs/$idm/events")" \
    '{"events":[]}'
curl -s -N -m 3.6 -X POST "$B/v1/responses" -d '{"background":true,
    "stream":true,"metadata":{"mock_misbehave":"trickle"}}' \
    >"$TMP/mb_trickle"
eq "trickle: a byte a second" "$(cat "$TMP/mb_trickle")" "dat"
eq "bad mock_misbehave 400" "$(code -X POST "$B/v1/responses" \
    -d '{"metadata":{"mock_misbehave":"boom"}}')" 400
has "mock_misbehave gap needs 5 deltas" "$(curl -s -X POST \
    "$B/v1/responses" -d '{"metadata":{"mock_misbehave":"gap",
    "mock_events":4}}')" "needs at least 5"
sleep 0.3
eq "muted streams closed with their clients" \
    "$(curl -s "$B/mock/stats" | jnum streams_open)" 0
stop mb
eq "SIGTERM with muted runs exits 0" "$?" 0

# --- chaos flags --------------------------------------------------------
start c1 --seed 7 --chaos-429 1
h=$(curl -s -D - -o /dev/null -X POST "$B/v1/responses" -d '{}')
has "chaos-429: create 429" "$h" "429"
has "chaos-429: Retry-After 1" "$h" "Retry-After: 1"
eq "chaos-429: retrieve 429" "$(code "$B/v1/responses/resp_x")" 429
has "chaos: stats count them" "$(curl -s "$B/mock/stats")" '"http429":2'
has "chaos: stats show the seed" "$(curl -s "$B/mock/stats")" '"seed":7,'
stop c1
start c2 --chaos-500 1
eq "chaos-500: create 500" "$(code -X POST "$B/v1/responses" -d '{}')" 500
eq "chaos-500: resume 500" "$(code "$B/v1/responses/x?stream=true")" 500
stop c2
start c3 --seed 5 --chaos-split --chaos-stall 0.15
t0=$(date +%s.%N)
curl -s -N -X POST "$B/v1/responses" -d '{"background":true,"stream":true,
    "metadata":{"mock_events":2,"mock_interval_ms":0}}' >"$TMP/c3"
t1=$(date +%s.%N)
idc=$(data "$TMP/c3" | head -n 1 | jstr id)
check "chaos-split+stall: stream equals ground truth" same_as_truth \
    "$TMP/c3" "$idc"
st=$(curl -s "$B/mock/stats")
check "chaos-split: events written in pieces" \
    [ "$(printf %s "$st" | jnum split_writes)" -ge 20 ]
eq "chaos-stall: seed 5 stalls once" "$(printf %s "$st" | jnum stalls)" 1
check "chaos-stall: for 0.5 s or more" awk -v a="$t0" -v b="$t1" \
    'BEGIN { exit !(b - a >= 0.5) }'
stop c3
# Same seed, same requests: the same cut points.
for n in d1 d2; do
	start $n --seed 42 --chaos-drop 0.2
	curl -s -N -X POST "$B/v1/responses" -d '{"background":true,
	    "stream":true,"metadata":{"mock_events":50,"mock_interval_ms":0}}' \
	    >"$TMP/$n" 2>/dev/null
	eval "rc_$n=$?"
	stop $n
done
check "chaos-drop: connection closed abruptly" [ "$rc_d1" -ne 0 ]
check "chaos-drop: cut before the end" sh -c "! grep -q response.completed \
    '$TMP/d1'"
eq "chaos-drop: same seed, same cut" "$(wc -c <"$TMP/d1" | tr -d ' ')" \
    "$(wc -c <"$TMP/d2" | tr -d ' ')"

# The scheduler reading the clock after a stream's pump found the next
# event not yet due (a busy loop; --sched-lag-ms makes it certain): every
# stream and waiter still gets every event, the terminal one included, on
# time and never before it is due. Before the fix the terminal event was
# never sent (a reader's idle timeout resumed it; one stream in 5,000 at
# bench scale).
start lag --sched-lag-ms 50
t0=$(date +%s.%N)
lagp=""
for i in 1 2 3 4; do
	curl -s -N --max-time 5 -o "$TMP/lag$i" -X POST "$B/v1/responses" \
	    -d '{"background":true,"stream":true,
	    "metadata":{"mock_events":3,"mock_interval_ms":100}}' &
	lagp="$lagp $!"
done
curl -s --max-time 5 -o "$TMP/lagj" -X POST "$B/v1/responses" \
    -d '{"metadata":{"mock_events":3,"mock_interval_ms":100}}' &
lagp="$lagp $!"
for p in $lagp; do
	wait "$p"
done
t1=$(date +%s.%N)
for i in 1 2 3 4; do
	check "sched lag: stream $i has all 11 events" seqs_ok "$TMP/lag$i" 11
	check "sched lag: stream $i equals ground truth" same_as_truth \
	    "$TMP/lag$i" "$(data "$TMP/lag$i" | head -n 1 | jstr id)"
done
eq "sched lag: the waiter's reply is completed" \
    "$(jstr status <"$TMP/lagj")" completed
check "sched lag: not before the schedule (1 s), not late (under 2.5 s)" \
    awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a >= 1.0 && b - a < 2.5) }'
stop lag
check "bad --sched-lag-ms is exit 2" sh -c "'$MOCK' --sched-lag-ms -1 \
    >/dev/null 2>&1; [ \$? -eq 2 ]"

echo "agent-mock selftest: $npass passed, $nfail failed"
[ "$nfail" -eq 0 ]
