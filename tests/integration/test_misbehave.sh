#!/bin/sh
# agentd against a backend that breaks the protocol (agent-mock
# metadata.mock_misbehave): an event without sequence_number, a gap, two
# events swapped, duplicated events, a 9 MiB line, an event that is not
# JSON, a response id that changes, an HTML answer, and streams that stay
# silent or trickle a byte a second. Each run must end as specified (see
# each check), other runs must not suffer, and what is stored must equal
# the mock's ground truth under agentd's cursor rule (verify_chaos.py).
# The event-level modes run again with connections dropped every 4 events
# (resumes over misbehaving streams) and in the Databricks dialect. Last,
# a backend that drops streams and cannot resume them.
. "$(dirname "$0")/lib.sh"

VERIFY=$(cd "$(dirname "$0")/../chaos" && pwd)/verify_chaos.py
EVENT_MODES="no_seq gap out_of_order duplicate bad_json id_change"

st() { sql "SELECT status FROM runs WHERE id = '$1'"; }
col() { sql "SELECT $2 FROM runs WHERE id = '$1'"; }
seqs() {
	sql "SELECT group_concat(seq) FROM (SELECT seq FROM events e
	    JOIN runs r ON r.n = e.run_n WHERE r.id = '$1' ORDER BY seq)"
}
is_terminal() {
	case $(st "$1") in
	completed|failed|cancelled|incomplete|abandoned) return 0 ;;
	esac
	return 1
}
now() { date +%s.%N; }
# within T0 T1 MAX: T1 - T0 <= MAX seconds (prints the duration).
within() {
	python3 -c "import sys; d = $2 - $1; print('  took %.1fs' % d);
sys.exit(0 if d <= $3 else 1)"
}
# vrun ID...: the stored events of these runs equal the ground truth.
# $VFLAGS: more verify_chaos.py flags.
vrun() {
	_v=$(echo "$@" | tr ' ' ',')
	python3 "$VERIFY" "$DB" "$MOCK_URL" --only "$_v" ${VFLAGS:-} \
	    >"$T/verify.out" 2>&1
	_rc=$?
	[ $_rc -eq 0 ] || sed 's/^/  /' "$T/verify.out"
	return $_rc
}
# logged ID PATTERN: agentd logged a line about run ID matching PATTERN.
logged() { grep "run $1: " "$T/agentd.log" | grep -qiE "$2"; }
# seq_count ID SEQ: how many times SEQ is stored for run ID.
seq_count() {
	sql "SELECT count(*) FROM events e JOIN runs r ON r.n = e.run_n
	    WHERE r.id = '$1' AND e.seq = $2"
}
# mb_submit MODE [EVENTS]: submit one run with mock_misbehave MODE.
mb_submit() {
	submit 1 "${2:-10}" 20 ",\"mock_misbehave\":\"$1\""
}
# cpu_ticks PID...: user+system clock ticks used so far by these processes.
cpu_ticks() {
	t=0
	for p in "$@"; do
		v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}
rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status" 2>/dev/null; }
workers() {
	ctl --json status | python3 -c 'import json, sys
print(" ".join(str(w["pid"]) for w in json.load(sys.stdin)["workers"]))'
}

# --- 1: one run per mode, openai dialect ------------------------------
start_mock
start_agentd --workers 2 --idle-timeout 2 --stale-after 4
for m in no_seq gap out_of_order duplicate huge_line bad_json id_change \
    html; do
	id=$(mb_submit "$m") || { fail "submit $m"; exit 1; }
	eval "ID_$m=$id"
done
t0=$(now)
ID_trickle=$(mb_submit trickle)
all="$ID_no_seq $ID_gap $ID_out_of_order $ID_duplicate $ID_huge_line"
all="$all $ID_bad_json $ID_id_change $ID_html"
wait_for 15 sh -c "for i in $all; do [ \"\$(sqlite3 '$DB' \"SELECT status
    FROM runs WHERE id = '\$i'\")\" != running ] || exit 1; done"
id=$ID_huge_line
# huge_line: fails naming the line cap; agentd lives on and serves.
wait_for 10 is_terminal "$id"
check "huge_line: run failed" [ "$(st "$id")" = failed ]
check "huge_line: error names the 8 MiB line cap" sh -c "'$BIN/agentctl' \
    -s '$SOCK' show $id | grep -E '^error.message:' |
    grep -qiE 'line.*(8388608|8 MiB)|(8388608|8 MiB).*line'"
check "huge_line: events before it stored" \
    [ "$(seqs "$id")" = "0,1,2,3,4,5" ]
check "huge_line: agentd still running" kill -0 "$AGENTD_PID"
after=$(submit 1 10 5)
check "huge_line: a normal run after it completes" \
    wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs
    WHERE id = '$after'\")\" = completed ]"
check "huge_line: stored events match the truth" vrun "$id" "$after"

id=$ID_no_seq
wait_for 10 is_terminal "$id"
check "no_seq: run completed" [ "$(st "$id")" = completed ]
check "no_seq: the event without sequence_number not stored" \
    [ "$(seqs "$id")" = "0,1,2,3,4,5,7,8,9,10,11,12,13,14,15,16,17" ]
check "no_seq: warning names the run" \
    logged "$id" "warn: run $id: .*sequence_number"
check "no_seq: every other event stored once, as sent" vrun "$id"

id=$ID_gap
wait_for 10 is_terminal "$id"
check "gap: run completed" [ "$(st "$id")" = completed ]
check "gap: every event sent stored (0-4, 6-18)" \
    [ "$(seqs "$id")" = "0,1,2,3,4,6,7,8,9,10,11,12,13,14,15,16,17,18" ]
check "gap: stored events match the truth" vrun "$id"

id=$ID_out_of_order
wait_for 10 is_terminal "$id"
check "out_of_order: run completed" [ "$(st "$id")" = completed ]
check "out_of_order: late seq 4 dropped, seq 5 kept" \
    [ "$(seq_count "$id" 4)/$(seq_count "$id" 5)" = 0/1 ]
check "out_of_order: 17 events stored, each once" \
    [ "$(seqs "$id")" = "0,1,2,3,5,6,7,8,9,10,11,12,13,14,15,16,17" ]
check "out_of_order: stored events match the truth" vrun "$id"
check "out_of_order: the dropped seq 4 is logged" logged "$id" \
    "warn: run $id: .*[^0-9]4[^0-9].*(out of order|already|covered|dropped)"

id=$ID_duplicate
wait_for 10 is_terminal "$id"
check "duplicate: run completed" [ "$(st "$id")" = completed ]
check "duplicate: 18 events stored, each once" \
    [ "$(seqs "$id")" = "0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17" ]
check "duplicate: event_count counts each once" \
    [ "$(col "$id" event_count)" -eq 18 ]
check "duplicate: stored events match the truth" vrun "$id"

id=$ID_bad_json
wait_for 10 is_terminal "$id"
check "bad_json: run completed" [ "$(st "$id")" = completed ]
check "bad_json: warning names the run" \
    logged "$id" "warn: run $id: .*(json|not a json)"
check "bad_json: the bad event skipped, the rest stored" \
    [ "$(seqs "$id")" = "0,1,2,3,4,5,7,8,9,10,11,12,13,14,15,16,17" ]
check "bad_json: stored events match the truth" vrun "$id"

id=$ID_id_change
wait_for 10 is_terminal "$id"
bid=$(col "$id" backend_id)
alt=$(mock "/mock/runs/$bid" | python3 -c 'import json, sys
print(json.load(sys.stdin).get("alt_id", "none"))')
check "id_change: run completed" [ "$(st "$id")" = completed ]
check "id_change: the first id kept" sh -c "mock_id=\$(curl -s \
    '$MOCK_URL/mock/runs' | python3 -c 'import json, sys
print([r[\"id\"] for r in json.load(sys.stdin)[\"runs\"]
    if r[\"idempotency_key\"] == \"$id\"][0])'); [ \"\$mock_id\" = '$bid' ]"
check "id_change: warning names both ids" \
    logged "$id" "warn: .*($bid.*$alt|$alt.*$bid)"
check "id_change: stored events match the truth" vrun "$id"

id=$ID_html
wait_for 10 is_terminal "$id"
check "html: run failed" [ "$(st "$id")" = failed ]
check "html: error.http_status 200" [ "$(col "$id" error_status)" = 200 ]
check "html: error names the Content-Type" sh -c "'$BIN/agentctl' \
    -s '$SOCK' show $id | grep -E '^error.message:' | grep -q 'text/html'"
check "html: the body is shown" sh -c "'$BIN/agentctl' -s '$SOCK' \
    show $id | grep -qi '<html>'"
check "html: nothing stored" [ "$(col "$id" event_count)" -eq 0 ]

# trickle: bytes keep the idle timer from firing, yet no event arrives.
id=$ID_trickle
wait_for 12 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs
    WHERE id = '$id'\")\" = abandoned ]"
t1=$(now)
check "trickle: run abandoned" [ "$(st "$id")" = abandoned ]
check "trickle: abandoned within stale-after + 3 s" within "$t0" "$t1" 7
check "trickle: the idle timer never fired (bytes kept coming)" \
    sh -c "! grep 'run $id: no bytes' '$T/agentd.log' | grep -q ."
check "trickle: reason stored" sh -c "'$BIN/agentctl' -s '$SOCK' \
    show $id | grep -q 'no progress'"
check "openai pass: the whole store matches the truth, no stray runs" \
    sh -c "python3 '$VERIFY' '$DB' '$MOCK_URL' >'$T/verify-all.out' 2>&1 ||
    { sed 's/^/  /' '$T/verify-all.out'; exit 1; }"
kill_agentd 15

# --- 2: silent, with --idle-timeout 1 ---------------------------------
start_agentd --workers 2 --idle-timeout 1 --stale-after 4
pids="$AGENTD_PID $(workers)"
c0=$(cpu_ticks $pids)
t0=$(now)
id=$(mb_submit silent)
wait_for 12 sh -c "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs
    WHERE id = '$id'\")\" = abandoned ]"
t1=$(now)
c1=$(cpu_ticks $pids)
check "silent: run abandoned" [ "$(st "$id")" = abandoned ]
check "silent: abandoned within stale-after + 3 s" within "$t0" "$t1" 7
check "silent: agentd retried, logged" \
    logged "$id" "no bytes from the backend for 1s"
check "silent: the create was retried at the backend" sh -c "curl -s \
    '$MOCK_URL/mock/runs' | python3 -c 'import json, sys
sys.exit(0 if [r for r in json.load(sys.stdin)[\"runs\"]
    if r[\"idempotency_key\"] == \"$id\" and r[\"creates\"] >= 2] else 1)'"
tck=$(getconf CLK_TCK)
check "silent: agentd used under 1 s of CPU ($((c1 - c0)) ticks)" \
    [ $((c1 - c0)) -lt "$tck" ]
check "silent: agentd memory sane (supervisor $(rss_kb "$AGENTD_PID") kB)" \
    sh -c "for p in $pids; do
    [ \$(awk '/^VmRSS/ { print \$2 }' /proc/\$p/status) -lt 102400 ] ||
    exit 1; done"
ok=$(submit 1 5 5)
check "silent: agentd still serves other runs" wait_for 10 sh -c \
    "[ \"\$(sqlite3 '$DB' \"SELECT status FROM runs WHERE id = '$ok'\")\" \
    = completed ]"
kill_agentd 15
stop_mock

# --- 3: event-level modes over dropped connections (resumes) ----------
rm -f "$T/mock.port"
start_mock --drop-after 4
DB=$T/drop.db
start_agentd --workers 2 --idle-timeout 2 --stale-after 10
ids=
for m in $EVENT_MODES; do
	ids="$ids $(mb_submit "$m")"
done
wait_for 20 sh -c "for i in $ids; do [ \"\$(sqlite3 '$DB' \"SELECT status
    FROM runs WHERE id = '\$i'\")\" = completed ] || exit 1; done"
for id in $ids; do
	m=$(sql "SELECT json_extract(request, '$.metadata.mock_misbehave')
	    FROM runs WHERE id = '$id'")
	check "drop-after 4: $m: completed" [ "$(st "$id")" = completed ]
	check "drop-after 4: $m: stored events match the truth" vrun "$id"
done
check "drop-after 4: streams were resumed" sh -c "curl -s \
    '$MOCK_URL/mock/stats' | python3 -c 'import json, sys
sys.exit(0 if json.load(sys.stdin)[\"resumes\"] >= 12 else 1)'"
kill_agentd 15
stop_mock

# --- 4: the Databricks dialect -----------------------------------------
# Without a final response object agentd assembles the output text from
# the stored deltas, so a skipped delta is missing from it (--delta-text).
VFLAGS=--delta-text
start_mock --dialect databricks
DB=$T/databricks.db
start_agentd --workers 2 --dialect databricks --idle-timeout 2 \
    --stale-after 10
ids=
for m in $EVENT_MODES huge_line html; do
	ids="$ids $(mb_submit "$m")"
done
wait_for 20 sh -c "for i in $ids; do s=\$(sqlite3 '$DB' \"SELECT status
    FROM runs WHERE id = '\$i'\"); [ \"\$s\" = completed ] ||
    [ \"\$s\" = failed ] || exit 1; done"
for id in $ids; do
	m=$(sql "SELECT json_extract(request, '$.metadata.mock_misbehave')
	    FROM runs WHERE id = '$id'")
	case $m in
	huge_line|html) want=failed ;;
	*) want=completed ;;
	esac
	check "databricks: $m: $want" [ "$(st "$id")" = "$want" ]
	check "databricks: $m: stored events match the truth" vrun "$id"
done
id=$(echo $ids | awk '{ print $6 }')
bid=$(col "$id" backend_id)
check "databricks: id_change: warning names the kept id" \
    logged "$id" "warn: .*keeping $bid"
check "databricks: agentd still running" kill -0 "$AGENTD_PID"
kill_agentd 15
stop_mock

# --- 5: streams dropped, no resume, run already finished ---------------
# The stream breaks after 5 events, resuming is refused, the first poll
# finds the run completed: its tail is never stored, so it must say it
# was polled (resolved_mode poll, as test_resume requires), or its missing
# events are losses.
start_mock --drop-after 5 --no-resume
DB=$T/noresume.db
start_agentd --workers 1 --poll-interval 1 --poll-max 1
ids=$(submit 3 20 0) || { fail "submit"; exit 1; }
check "no resume, finished: runs complete" wait_for 20 all_terminal
check "no resume, finished: completed" [ "$(count_status completed)" -eq 3 ]
check "no resume, finished: resolved mode is poll" \
    [ "$(sql "SELECT count(*) FROM runs WHERE resolved_mode = 'poll'")" -eq 3 ]
check "no resume, finished: output text from the final object" \
    python3 -c "import json, sqlite3, urllib.request
t = {r['id']: r['text'] for r in json.load(urllib.request.urlopen(
    '$MOCK_URL/mock/runs'))['runs']}
rows = sqlite3.connect('$DB').execute(
    'SELECT r.backend_id, x.output_text FROM runs r LEFT JOIN run_results x ON x.n = r.n').fetchall()
assert rows and all(t[b] == o for b, o in rows), rows"
check "no resume, finished: verify.py finds no loss" verify
exit 0
