#!/bin/sh
# The Responses-compatible front (agentd --listen, and /v1/responses on the
# Unix socket) with curl alone, no Node.js: against agent-mock's default
# mode, --reject-background (stream only), --reject-stream (JSON only,
# polled) and --dialect databricks. Every SSE body is checked against
# FRONT.md part C by front_check.py; its text against the mock's ground
# truth; replays (whole, starting_after, after kill -9) byte for byte.
# In the default setup also: delete, Idempotency-Key, previous_response_id
# (what the backend received, through capture.py), auth and malformed
# requests, the Unix socket, agentctl with resp_ ids, keep-alive comments,
# and --listen's token rules. Every wait is bounded.
. "$(dirname "$0")/lib.sh"

here=$(cd "$(dirname "$0")" && pwd)
fc() { python3 "$here/front_check.py" "$@"; }
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export AGENTD_FRONT_TOKEN=$TOKEN
# Valgrind makes everything slower: wider bounds, same checks.
SLOW=1
[ "${VALGRIND:-0}" = 1 ] && SLOW=4

# tc ARGS...: curl to the TCP front with the token.
tc() { curl -sS --max-time $((20 * SLOW)) -H "Authorization: Bearer $TOKEN" "$@"; }
# code FILE ARGS...: tc into FILE, print the HTTP status.
code() { f=$1; shift; tc -o "$f" -w '%{http_code}' "$@"; }
# req INPUT EVENTS INTERVAL_MS [TOP]: a create body; TOP adds members.
req() {
	printf '{"model":"mock","input":"%s","metadata":{"mock_events":"%s","mock_interval_ms":"%s"}%s}' \
	    "$1" "$2" "$3" "${4:-}"
}
# rid_of FILE: the response id in an SSE body or a JSON Response.
rid_of() {
	grep -o '"id":"resp_[0-9a-f]*"' "$1" | head -1 | sed 's/.*"\(resp_[0-9a-f]*\)"/\1/'
}
# rid_of_post BODY: POST BODY (not a stream) and print the response id.
rid_of_post() {
	tc -o "$T/post.json" -d "$1" "$URL/responses" && rid_of "$T/post.json"
}
# field FILE PATH
field() { fc field "$@"; }
# mock_text RID: the mock's text for the run behind response RID.
mock_text() {
	ctl --json show "$1" >"$T/show.json" || return 1
	bid=$(field "$T/show.json" backend_id)
	mock "/mock/runs/$bid" >"$T/mockrun.json" || return 1
	field "$T/mockrun.json" text
}
# status_is RID STATUS: the GET snapshot's status.
status_is() {
	tc -o "$T/st.json" "$URL/responses/$1" &&
	    [ "$(field "$T/st.json" status)" = "$2" ]
}
# same_lines A B [AFTER]: the event lines of two SSE bodies are identical.
same_lines() {
	fc lines "$1" --after "${3:--1}" >"$T/a.lines" &&
	    fc lines "$2" --after "${3:--1}" >"$T/b.lines" &&
	    [ -s "$T/a.lines" ] && cmp -s "$T/a.lines" "$T/b.lines"
}
# fcheck NAME FILE ARGS...: PASS/FAIL with front_check.py's verdict.
fcheck() {
	n=$1
	shift
	if out=$(fc check "$@"); then pass "$n ($out)"; else fail "$n: $out"; fi
}
# json_same A B: two JSON files hold equal documents.
json_same() {
	python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(a != b)' "$1" "$2"
}

# --- one backend setup: streams, replays, wait, background, cancel
# setup NAME: the checks every setup gets; $URL is the front.
setup() {
	s=$1
	# A POST stream: headers and the prelude at once, well-formed, the
	# mock's text; ~1 s of backend events.
	tc -N -D "$T/$s.s1.hdr" -o "$T/$s.s1.sse" \
	    -w '%{time_starttransfer} %{time_total}\n' \
	    -d "$(req "$s one" 30 30 ',"stream":true')" "$URL/responses" \
	    >"$T/$s.s1.time"
	check "$s: POST stream answers text/event-stream" \
	    grep -qi '^content-type: text/event-stream' "$T/$s.s1.hdr"
	check "$s: POST stream's first bytes come before the run ends" \
	    python3 -c 'import sys; a,b=map(float,open(sys.argv[1]).read().split()); sys.exit(not a + 0.4 < b)' "$T/$s.s1.time"
	rid=$(rid_of "$T/$s.s1.sse")
	text=$(mock_text "$rid")
	fcheck "$s: POST stream is well-formed and has the mock's text" \
	    "$T/$s.s1.sse" --text "$text" --status completed \
	    --terminal response.completed
	tc -N -o "$T/$s.r1.sse" "$URL/responses/$rid?stream=true"
	check "$s: GET ?stream=true replays the POST's events byte for byte" \
	    same_lines "$T/$s.s1.sse" "$T/$s.r1.sse"
	tc -N -o "$T/$s.r2.sse" "$URL/responses/$rid?stream=true&starting_after=5"
	check "$s: starting_after=5 gives exactly the events after 5" \
	    same_lines "$T/$s.s1.sse" "$T/$s.r2.sse" 5
	fcheck "$s: starting_after=5 is well-formed from 6" "$T/$s.r2.sse" \
	    --after 5 --status completed
	S1_RID=$rid

	# Neither stream nor background: the final Response.
	c=$(code "$T/$s.w.json" -D "$T/$s.w.hdr" -d "$(req "$s wait" 5 10)" \
	    "$URL/responses")
	wrid=$(field "$T/$s.w.json" id)
	check "$s: a waiting POST answers 200 JSON completed" sh -c \
	    "[ $c = 200 ] && grep -qi '^content-type: application/json' '$T/$s.w.hdr' && [ \"\$(python3 '$here/front_check.py' field '$T/$s.w.json' status)\" = completed ]"
	check "$s: its output has the mock's text and usage" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
t = "".join(p["text"] for it in r["output"] for p in it.get("content", [])
            if p.get("type") == "output_text")
assert t == sys.argv[2], (t, sys.argv[2])
assert r["usage"]["total_tokens"] >= 0' "$T/$s.w.json" "$(mock_text "$wrid")"

	# background: JSON at once, then polled to completed.
	c=$(code "$T/$s.b.json" -d "$(req "$s bg" 10 30 ',"background":true')" \
	    "$URL/responses")
	brid=$(field "$T/$s.b.json" id)
	check "$s: background POST answers queued/in_progress, output []" \
	    python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert sys.argv[2] == "200" and r["status"] in ("queued", "in_progress"), r
assert r["output"] == [] and r["background"] is True, r' "$T/$s.b.json" "$c"
	check "$s: polling GET reaches completed" \
	    wait_for $((15 * SLOW)) status_is "$brid" completed
	check "$s: the polled Response has output and usage" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
u = r["usage"]
assert r["output"] and isinstance(u["total_tokens"], int), r
# The Databricks mock reports no usage: zeros, as FRONT.md says.
assert u["total_tokens"] > 0 or sys.argv[2] == "databricks", u' \
	    "$T/st.json" "$s"

	# A client that goes away mid-stream: the run goes on.
	tc -N --max-time 0.8 -o "$T/$s.d.sse" \
	    -d "$(req "$s drop" 40 50 ',"stream":true')" "$URL/responses" \
	    2>/dev/null
	drid=$(rid_of "$T/$s.d.sse")
	check "$s: a client gone mid-stream got part of it" \
	    sh -c "[ -n '$drid' ] && ! grep -q response.completed '$T/$s.d.sse'"
	check "$s: ... the run completes anyway" \
	    wait_for $((15 * SLOW)) status_is "$drid" completed
	tc -N -o "$T/$s.d2.sse" "$URL/responses/$drid?stream=true"
	fcheck "$s: ... and its replay is complete" "$T/$s.d2.sse" \
	    --text "$(mock_text "$drid")" --status completed

	# Cancel under a live follower.
	cancels0=$(mock /mock/stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["cancels"])')
	tc -N -o "$T/$s.c.sse" -d "$(req "$s cancel" 400 25 ',"stream":true')" \
	    "$URL/responses" &
	cpid=$!
	# JSON-only backends give no delta before the end: wait for the
	# prelude there.
	ev=output_text.delta
	[ "$s" = reject-stream ] && ev=response.in_progress
	wait_for $((10 * SLOW)) grep -q "$ev" "$T/$s.c.sse"
	crid=$(rid_of "$T/$s.c.sse")
	c=$(code "$T/$s.c1.json" -X POST "$URL/responses/$crid/cancel")
	check "$s: cancel answers 200 cancelled" sh -c "[ $c = 200 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/$s.c1.json' status)\" = cancelled ]"
	i=0
	while kill -0 "$cpid" 2>/dev/null && [ $i -lt $((100 * SLOW)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	check "$s: the live follower's stream ends after the cancel" \
	    sh -c "! kill -0 $cpid 2>/dev/null"
	wait "$cpid" 2>/dev/null
	fcheck "$s: ... with every item closed, one response.incomplete cancelled" \
	    "$T/$s.c.sse" --status cancelled --terminal response.incomplete
	if [ "$s" = databricks ]; then
		check "$s: the cancel stayed local (Databricks answers 501)" \
		    wait_for $((5 * SLOW)) grep -q \
		    "r_${crid#resp_}: backend cannot cancel .*(HTTP 501)" "$T/agentd.log"
	else
		check "$s: the mock was told of the cancel" wait_for $((5 * SLOW)) \
		    sh -c "[ \"\$(curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"cancels\"])')\" -gt $cancels0 ]"
	fi
	c=$(code "$T/$s.c2.json" -X POST "$URL/responses/$crid/cancel")
	tc -o "$T/$s.c3.json" "$URL/responses/$crid"
	check "$s: a second cancel answers 200 with the same final object" \
	    sh -c "[ $c = 200 ] && python3 -c 'import json,sys; a,b=(json.load(open(p)) for p in sys.argv[1:]); sys.exit(a != b or a[\"status\"] != \"cancelled\")' '$T/$s.c2.json' '$T/$s.c3.json'"
}

# restart_check NAME FLAGS...: kill -9, restart on the same db, socket and
# port, and replay the first stream again.
restart_check() {
	s=$1
	shift
	kill_agentd 9
	start_agentd "$@"
	wait_for $((10 * SLOW)) curl -s -o /dev/null "$URL/responses/x"
	tc -N -o "$T/$s.r3.sse" "$URL/responses/$S1_RID?stream=true"
	check "$s: after kill -9 and a restart the replay is byte-identical" \
	    same_lines "$T/$s.s1.sse" "$T/$s.r3.sse"
	# Clients gone mid-stream before agentd's clean stop: under ASan or
	# valgrind, what they left behind is reported then.
	tc -N --max-time 0.5 -o "$T/$s.cut.sse" -d '{"model":"mock","input":"cut","stream":true,"metadata":{"mock_events":"9","mock_interval_ms":"5","mock_stall_after":"1"}}' \
	    "$URL/responses" 2>/dev/null
	tc -N --max-time 0.3 -o /dev/null \
	    "$URL/responses/$(rid_of "$T/$s.cut.sse")?stream=true" 2>/dev/null
	api -N --max-time 0.3 -o /dev/null \
	    "http://x/v1/responses/$(rid_of "$T/$s.cut.sse")?stream=true" 2>/dev/null
	check "$s: agentd serves after clients cut their streams" \
	    status_is "$(rid_of "$T/$s.cut.sse")" in_progress
}

# run_setup NAME MOCK_FLAGS AGENTD_FLAGS [extra function]
run_setup() {
	s=$1 mflags=$2 aflags=$3 extra=${4:-}
	DB=$T/$s.db
	SOCK=$T/$s.sock
	PORT=$(free_port)
	URL=http://127.0.0.1:$PORT/v1
	# shellcheck disable=SC2086
	start_mock $mflags
	# shellcheck disable=SC2086
	start_agentd $aflags --listen "127.0.0.1:$PORT"
	wait_for $((10 * SLOW)) curl -s -o /dev/null "$URL/responses/x" ||
	    fail "$s: the front does not answer on $URL"
	[ -n "$extra" ] && $extra start
	setup "$s"
	[ -n "$extra" ] && $extra
	# shellcheck disable=SC2086
	restart_check "$s" $aflags --listen "127.0.0.1:$PORT"
	[ -n "$extra" ] && $extra end
	kill_agentd 15
	stop_mock
}

# --- the default setup's extra checks
# default_extra [start|end]: start: the keep-alive stream (it waits ~16 s
# beside the rest); end: previous_response_id through capture.py.
default_extra() {
	case ${1:-} in
	start)
		tc -N --max-time $((17 * SLOW)) -o "$T/ka.sse" \
		    -d '{"model":"mock","input":"ka","stream":true,"metadata":{"mock_events":"50","mock_interval_ms":"5","mock_stall_after":"1"}}' \
		    "$URL/responses" 2>/dev/null &
		KA_PID=$!
		return ;;
	end)
		previous_check
		return ;;
	esac

	# HTTP/1.0 followers: the reply that ends them also closes their
	# connection; agentd freed such a follower twice (a crash).
	r10=$(rid_of_post "$(req "h10" 20 50 ',"background":true')")
	curl -sS --http1.0 -N --max-time $((20 * SLOW)) \
	    -H "Authorization: Bearer $TOKEN" -o "$T/h10.sse" \
	    "$URL/responses/$r10?stream=true&starting_after=1000000"
	check "HTTP/1.0 follower past the end: agentd survives its end" \
	    kill -0 "$AGENTD_PID"
	curl -sS --http1.0 -N --max-time $((20 * SLOW)) \
	    -H "Authorization: Bearer $TOKEN" -o "$T/h10b.sse" \
	    -d "$(req "h10b" 400 20 ',"stream":true')" "$URL/responses" &
	h10=$!
	wait_for $((5 * SLOW)) grep -q output_text.delta "$T/h10b.sse"
	tc -o /dev/null -X DELETE "$URL/responses/$(rid_of "$T/h10b.sse")"
	wait "$h10"
	check "HTTP/1.0 stream, its response deleted: agentd survives" \
	    kill -0 "$AGENTD_PID"

	# DELETE, then GET: 404 in OpenAI's shape; an unknown id: 404.
	c=$(code "$T/del.json" -X DELETE "$URL/responses/$S1_RID")
	check "DELETE answers 200 deleted" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert sys.argv[2] == "200" and r == {"id": sys.argv[3], "object": "response", "deleted": True}, r' \
	    "$T/del.json" "$c" "$S1_RID"
	c=$(code "$T/del2.json" "$URL/responses/$S1_RID")
	check "GET after DELETE: 404 in OpenAI's shape" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert sys.argv[2] == "404", sys.argv[2]
assert r == {"error": {"message": "Response with id %r not found." % sys.argv[3],
    "type": "invalid_request_error", "param": None, "code": None}}, r' \
	    "$T/del2.json" "$c" "$S1_RID"
	c=$(code /dev/null -X DELETE "$URL/responses/resp_00000000deadbeef")
	check "DELETE of an unknown id: 404" [ "$c" = 404 ]
	c=$(code /dev/null "$URL/responses/resp_00000000deadbeef?stream=true")
	check "GET ?stream=true of an unknown id: 404" [ "$c" = 404 ]
	c=$(code /dev/null -X POST "$URL/responses/resp_00000000deadbeef/cancel")
	check "cancel of an unknown id: 404" [ "$c" = 404 ]
	# The replay of the deleted run is gone; the restart check uses
	# the waiting POST's run instead.
	S1_RID=$wrid
	tc -N -o "$T/default.s1.sse" "$URL/responses/$wrid?stream=true"

	# Idempotency-Key: one run for two POSTs.
	nruns0=$(sql "SELECT count(*) FROM runs")
	k="key-$TOKEN"
	tc -o "$T/ik1.json" -H "Idempotency-Key: $k" \
	    -d "$(req idem 3 5 ',"background":true')" "$URL/responses"
	tc -o "$T/ik2.json" -H "Idempotency-Key: $k" \
	    -d "$(req idem 3 5 ',"background":true')" "$URL/responses"
	i1=$(field "$T/ik1.json" id)
	i2=$(field "$T/ik2.json" id)
	check "Idempotency-Key twice: the same id" sh -c "[ -n '$i1' ] && [ '$i1' = '$i2' ]"
	check "Idempotency-Key twice: one run in agentctl list" sh -c \
	    "[ \$('$BIN/agentctl' -s '$SOCK' list | grep -c 'r_${i1#resp_}') = 1 ] && [ \$(sqlite3 '$DB' 'SELECT count(*) FROM runs') = $((nruns0 + 1)) ]"
	c=$(code "$T/ik3.json" -H "Idempotency-Key: $(printf '%0300d' 0)" \
	    -d "$(req idem 3 5)" "$URL/responses")
	check "an Idempotency-Key of 300 characters: 400" [ "$c" = 400 ]

	# previous_response_id: unknown or not a string: 400.
	c=$(code "$T/pr1.json" -d "$(req prev 3 5 ',"previous_response_id":"resp_00000000deadbeef"')" \
	    "$URL/responses")
	check "an unknown previous_response_id: 400" sh -c "[ $c = 400 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/pr1.json' error.param)\" = previous_response_id ]"
	c=$(code /dev/null -d "$(req prev 3 5 ',"previous_response_id":7')" \
	    "$URL/responses")
	check "previous_response_id not a string: 400" [ "$c" = 400 ]

	# Auth: 401 in OpenAI's shape; neither token is logged.
	c=$(curl -sS -o "$T/a1.json" -w '%{http_code}' "$URL/responses/$wrid")
	check "no token: 401 in OpenAI's shape" python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
assert sys.argv[2] == "401", sys.argv[2]
e = r["error"]
assert set(e) == {"message", "type", "param", "code"} and e["type"] == "invalid_request_error", r' \
	    "$T/a1.json" "$c"
	bad=wrong-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
	c=$(curl -sS -o "$T/a2.json" -w '%{http_code}' \
	    -H "Authorization: Bearer $bad" "$URL/responses/$wrid")
	check "a wrong token: 401" sh -c "[ $c = 401 ] && grep -q invalid_api_key '$T/a2.json'"
	c=$(curl -sS -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer ${TOKEN}x" "$URL/responses/$wrid")
	check "the token with a byte more: 401" [ "$c" = 401 ]
	c=$(curl -sS -o /dev/null -w '%{http_code}' \
	    -H "Authorization: Bearer $(echo "$TOKEN" | cut -c2-)" "$URL/responses/$wrid")
	check "the token with a byte less: 401" [ "$c" = 401 ]
	check "a 401 carries x-request-id, as every JSON reply" sh -c \
	    "curl -sS -D - -o /dev/null '$URL/responses/$wrid' | grep -qi '^x-request-id: req_'"
	check "the refusals are logged" grep -q 'wrong bearer token' "$T/agentd.log"
	check "the log holds neither token" sh -c "! grep -qF -e '$TOKEN' -e '$bad' '$T/agentd.log'"

	# Malformed requests.
	c=$(code "$T/m1.json" -H 'Content-Type: application/json' -d '{"model":' "$URL/responses")
	check "bad JSON: 400 in OpenAI's shape" sh -c "[ $c = 400 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/m1.json' error.type)\" = invalid_request_error ]"
	c=$(code /dev/null -d '[1,2]' "$URL/responses")
	check "a JSON array body: 400" [ "$c" = 400 ]
	c=$(code /dev/null -d '"x"' "$URL/responses")
	check "a JSON string body: 400" [ "$c" = 400 ]
	c=$(code "$T/m2.json" -d "$(req m 3 5 ',"stream":"yes"')" "$URL/responses")
	check 'stream:"yes": 400 naming stream' sh -c "[ $c = 400 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/m2.json' error.param)\" = stream ]"
	c=$(code /dev/null -d "$(req m 3 5 ',"background":1')" "$URL/responses")
	check "background:1: 400" [ "$c" = 400 ]
	c=$(code /dev/null -d '{"model":"a","model":"b"}' "$URL/responses")
	check "duplicate keys: 400" [ "$c" = 400 ]
	head -c 2000000 /dev/zero | tr '\0' 'a' >"$T/huge.body"
	c=$(code "$T/m3.json" -H 'Expect:' --data-binary @"$T/huge.body" "$URL/responses")
	check "a 2 MB body: 413 JSON" sh -c "[ $c = 413 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/m3.json' error.type)\" != MISSING ]"
	c=$(code "$T/m4.json" "$URL/responses/resp_00000000deadbeef")
	check "an unknown id: 404" [ "$c" = 404 ]
	c=$(code /dev/null "$URL/responses/r_00000000deadbeef")
	check "a run id is not a response id: 404" [ "$c" = 404 ]
	c=$(code /dev/null "$URL/responses/resp_XYZ")
	check "a non-hex response id: 404" [ "$c" = 404 ]
	c=$(code /dev/null "$URL/responses/$wrid?stream=maybe")
	check "GET ?stream=maybe: 400" [ "$c" = 400 ]
	c=$(code /dev/null "$URL/responses/$wrid?stream=true&starting_after=x")
	check "GET starting_after=x: 400" [ "$c" = 400 ]
	c=$(code /dev/null "$URL/responses")
	check "GET /v1/responses: 405" [ "$c" = 405 ]
	c=$(code /dev/null -X PUT "$URL/responses/$wrid")
	check "PUT /v1/responses/{id}: 405" [ "$c" = 405 ]
	c=$(code /dev/null "$URL/responses/$wrid/cancel")
	check "GET .../cancel: 405" [ "$c" = 405 ]
	c=$(code /dev/null "$URL/runs")
	check "/v1/runs is not on the TCP front: 404" [ "$c" = 404 ]
	# Client bytes that are not UTF-8 in an error message.
	c=$(python3 -c '
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"GET /v1/responses/resp_\xff\xfe HTTP/1.1\r\nHost: x\r\n"
          b"Authorization: Bearer " + sys.argv[2].encode() +
          b"\r\nConnection: close\r\n\r\n")
print(s.recv(65536).split(b" ")[1].decode())' "$PORT" "$TOKEN" 2>&1)
	check "a response id with bytes that are not UTF-8: 404" [ "$c" = 404 ]
	c=$(code "$T/m5.json" -d "$(req m 3 5 ",\"background\":true,\"previous_response_id\":\"resp_$(printf '%058d' 0)\\u00e9\"")" \
	    "$URL/responses")
	check "a previous_response_id cut mid-character in the message: 400" \
	    [ "$c" = 400 ]
	c=$(code "$T/ok.json" "$URL/responses/$wrid")
	check "agentd still serves afterwards" sh -c "[ $c = 200 ] &&
	    [ \"\$(python3 '$here/front_check.py' field '$T/ok.json' status)\" = completed ]"

	# The same routes on the Unix socket, with no token.
	api -N -o "$T/u1.sse" -d "$(req unix 5 5 ',"stream":true')" \
	    http://x/v1/responses
	urid=$(rid_of "$T/u1.sse")
	fcheck "Unix socket: POST stream, no token" "$T/u1.sse" \
	    --text "$(mock_text "$urid")" --status completed
	api -o "$T/u2.json" "http://x/v1/responses/$urid"
	check "Unix socket: GET snapshot" [ "$(field "$T/u2.json" status)" = completed ]
	api -N -o "$T/u3.sse" "http://x/v1/responses/$urid?stream=true"
	check "Unix socket: replay equals the POST's stream" \
	    same_lines "$T/u1.sse" "$T/u3.sse"
	c=$(api -o /dev/null -w '%{http_code}' -X DELETE "http://x/v1/responses/$urid")
	check "Unix socket: DELETE" [ "$c" = 200 ]

	# resp_ ids in agentctl and /v1/runs.
	check "agentctl show resp_<hex>" sh -c \
	    "'$BIN/agentctl' -s '$SOCK' show '$wrid' | grep -q 'r_${wrid#resp_}'"
	api -o "$T/run.json" "http://x/v1/runs/$wrid"
	check "/v1/runs/resp_<hex> is the run" \
	    [ "$(field "$T/run.json" id)" = "r_${wrid#resp_}" ]

	# The keep-alive stream, started first.
	wait "$KA_PID" 2>/dev/null
	check "a silent stream gets ': keepalive' within ~16 s" \
	    grep -qx ': keepalive' "$T/ka.sse"
	karid=$(rid_of "$T/ka.sse")
	fcheck "... and is well-formed so far" "$T/ka.sse" --open
	tc -o /dev/null -X POST "$URL/responses/$karid/cancel"

	token_rules
}

# previous_response_id of an agentd response reaches the backend as that
# run's backend id: agent-mock records no request bodies, so agentd is
# pointed at capture.py (which rejects every create) for one request.
previous_check() {
	ctl --json show "$wrid" >"$T/prev.json"
	want=$(field "$T/prev.json" backend_id)
	kill_agentd 15
	python3 "$here/capture.py" "$T/cap.port" "$T/cap.jsonl" reject \
	    >>"$T/capture.log" 2>&1 &
	cap=$!
	wait_for 10 test -s "$T/cap.port"
	murl=$MOCK_URL
	MOCK_URL=http://127.0.0.1:$(cat "$T/cap.port")
	start_agentd --listen "127.0.0.1:$PORT"
	MOCK_URL=$murl
	wait_for $((10 * SLOW)) curl -s -o /dev/null "$URL/responses/x"
	c=$(code "$T/pr2.json" -d "$(req prev 3 5 ",\"background\":true,\"previous_response_id\":\"$wrid\"")" \
	    "$URL/responses")
	check "a known previous_response_id is accepted" [ "$c" = 200 ]
	wait_for $((10 * SLOW)) grep -q previous_response_id "$T/cap.jsonl"
	check "previous_response_id reaches the backend as its backend id" \
	    python3 -c '
import json, sys
reqs = [json.loads(l) for l in open(sys.argv[1])]
bodies = [json.loads(r["body"]) for r in reqs if r["method"] == "POST"]
got = [b.get("previous_response_id") for b in bodies if "previous_response_id" in b]
assert got and all(g == sys.argv[2] for g in got), (got, sys.argv[2])' \
	    "$T/cap.jsonl" "$want"
	kill "$cap" 2>/dev/null
	wait "$cap" 2>/dev/null
}

# --listen's token: none refuses to start; --front-token-file works.
token_rules() {
	p=$(free_port)
	env -u AGENTD_FRONT_TOKEN timeout 10 "$BIN/agentd" --db "$T/nt.db" \
	    --socket "$T/nt.sock" --endpoint "$MOCK_URL/v1" \
	    --listen "127.0.0.1:$p" >"$T/nt.log" 2>&1
	rc=$?
	check "--listen without a token: agentd refuses to start" \
	    sh -c "[ $rc -ne 0 ] && [ $rc -ne 124 ]"
	check "... naming AGENTD_FRONT_TOKEN" grep -q AGENTD_FRONT_TOKEN "$T/nt.log"
	ft=file-$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')
	echo "$ft" >"$T/token"
	chmod 600 "$T/token"
	env -u AGENTD_FRONT_TOKEN "$BIN/agentd" --db "$T/tf.db" \
	    --socket "$T/tf.sock" --endpoint "$MOCK_URL/v1" \
	    --listen "127.0.0.1:$p" --front-token-file "$T/token" \
	    >"$T/tf.log" 2>&1 &
	tf=$!
	wait_for $((10 * SLOW)) curl -s -o /dev/null "http://127.0.0.1:$p/v1/responses/x"
	c=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $ft" \
	    "http://127.0.0.1:$p/v1/responses/resp_00000000deadbeef")
	check "--front-token-file: its token is accepted" [ "$c" = 404 ]
	c=$(curl -sS -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
	    "http://127.0.0.1:$p/v1/responses/resp_00000000deadbeef")
	check "--front-token-file: another token is not" [ "$c" = 401 ]
	kill "$tf" 2>/dev/null
	wait "$tf" 2>/dev/null
}

t0=$(date +%s)
run_setup default "" "" default_extra
run_setup reject-background --reject-background ""
run_setup reject-stream --reject-stream "--poll-interval 1 --poll-max 1"
run_setup databricks "--dialect databricks --db-poll-ms 50" "--dialect databricks"
echo "test_front: $(($(date +%s) - t0)) s"
[ "$FAILS" -eq 0 ]
