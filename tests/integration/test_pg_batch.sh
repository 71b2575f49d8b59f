#!/bin/sh
# Batches and queues on a PostgreSQL store (a throwaway server from
# tests/pg/pg.sh), as test_batch.sh has them on SQLite: agentctl batch
# offline (agentd not running) into the store, by --db and by AGENTD_DB;
# the same file submitted by three agentctl processes at once, and online
# through two hosts at once, each line one run; malformed lines reported
# as on SQLite; the same rows read back as the same bytes as SQLite's
# (results, status, list, queues) and queue settings and an offline
# cancel giving the same JSON; then two agentd hosts dispatch the stored
# runs, exact against agent-mock; status/list/wait/results/cancel and
# queue set/list through a host and offline, identical. SKIP without
# PostgreSQL's server binaries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../pg/pg.sh"
. "$(dirname "$0")/../pg/hosts.sh"

pg_hosts_setup "batches on PostgreSQL"
unset AGENTD_DB AGENTD_SOCKET
PGC=$PG_CONNINFO
NOSOCK=$T/nowhere.sock

# off ARGS...: agentctl with no daemon to talk to.
off() { "$BIN/agentctl" -s "$NOSOCK" "$@"; }
runs_in() { psql_q "SELECT count(*) FROM runs WHERE batch = '$1'"; }
# once BATCH: every line of the batch is exactly one run.
once() { [ "$(psql_q "SELECT count(*) FROM (SELECT custom_id FROM runs WHERE batch = '$1' GROUP BY custom_id HAVING count(*) <> 1) d")" = 0 ]; }
pyj() { python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
mock_stat() { mock /mock/stats | pyj "d['$1']"; }

# gen FILE N PREFIX METADATA: N Batch API input lines, custom_ids PREFIX-0000..
gen() {
	python3 - "$@" <<'PY'
import json, sys
path, n, prefix, md = sys.argv[1], int(sys.argv[2]), sys.argv[3], json.loads(sys.argv[4])
with open(path, "w") as f:
    for i in range(n):
        f.write(json.dumps({"custom_id": "%s-%04d" % (prefix, i),
                            "method": "POST", "url": "/v1/responses",
                            "body": {"model": "mock", "input": "%s %d" % (prefix, i),
                                     "metadata": md}}) + "\n")
PY
}
# in_order BATCH FILE: the batch's runs by n are the file's lines, in order.
in_order() {
	psql_q "SELECT custom_id FROM runs WHERE batch = '$1' ORDER BY n" >"$T/order.got"
	python3 -c 'import json, sys; [print(json.loads(l)["custom_id"]) for l in open(sys.argv[1])]' "$2" >"$T/order.want"
	cmp -s "$T/order.got" "$T/order.want"
}

QUICK='{"mock_events": "2", "mock_interval_ms": "0"}'

# ---------------------------------------------------------------------
# agentd not running: submit offline into the PostgreSQL store.

gen "$T/big.jsonl" 1000 job "$QUICK"
off batch --require-daemon --db "$PGC" "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "--require-daemon, agentd down: exit 3" [ $? -eq 3 ]
check "--require-daemon: nothing stored (the database not even migrated)" \
    [ "$(psql_q "SELECT to_regclass('runs') IS NULL")" = t ]

off batch --db "$PGC" "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "offline submit of 1000 lines into PostgreSQL (--db): exit 0" [ $? -eq 0 ]
check "offline submit: summary" grep -qx 'batch big: submitted 1000, already present 0, bad 0' "$T/out"
check "offline submit: says agentd is not running and the runs were stored" \
    grep -q "agentd is not running .*the runs were stored in .* for dispatch when it starts" "$T/err"
AGENTD_DB=$PGC off batch "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "offline resubmit (AGENTD_DB): nothing added" \
    grep -qx 'batch big: submitted 0, already present 1000, bad 0' "$T/out"
check "offline: 1000 runs in the store" [ "$(runs_in big)" -eq 1000 ]
check "offline: the runs in the file's order" in_order big "$T/big.jsonl"
v=$(psql_q "SELECT idempotency_key, queue, mode, status, max_attempts, endpoint, dialect FROM runs WHERE custom_id = 'job-0007'")
check "offline: a run as SQLite stores it ($v)" [ "$v" = 'batch:big:job-0007|default|auto|pending|3||' ]
check "offline: the batch row" [ "$(psql_q "SELECT queue, max_attempts, cancelled_at IS NULL FROM batches WHERE name = 'big'")" = 'default|3|t' ]
v=$(psql_q "SELECT count(*) FROM runs WHERE batch = 'big' AND id ~ '^r_[0-9a-f]{16}\$'")
check "offline: ids r_ and 16 hex digits" [ "$v" -eq 1000 ]

# The same file from three offline submitters at once: each line one run.
gen "$T/race-off.jsonl" 1200 ro "$QUICK"
off batch --db "$PGC" "$T/race-off.jsonl" >"$T/ro1.out" 2>"$T/ro1.err" &
p1=$!
off batch --db "$PGC" "$T/race-off.jsonl" >"$T/ro2.out" 2>"$T/ro2.err" &
p2=$!
AGENTD_DB=$PGC off batch "$T/race-off.jsonl" >"$T/ro3.out" 2>"$T/ro3.err" &
p3=$!
wait $p1; r1=$?
wait $p2; r2=$?
wait $p3; r3=$?
check "offline race of three: all exit 0" [ "$r1$r2$r3" = 000 ]
check "offline race: 1200 submitted in all, 2400 found present" python3 -c '
import re, sys
tot = [0, 0]
for f in sys.argv[1:]:
    m = re.search(r"submitted (\d+), already present (\d+), bad 0", open(f).read())
    tot[0] += int(m.group(1)); tot[1] += int(m.group(2))
print("totals", tot)
sys.exit(0 if tot == [1200, 2400] else 1)' "$T/ro1.out" "$T/ro2.out" "$T/ro3.out"
check "offline race: 1200 runs" [ "$(runs_in race-off)" -eq 1200 ]
check "offline race: each line exactly once" once race-off

# ---------------------------------------------------------------------
# Malformed lines: reported as on SQLite, the good lines stored.

cat >"$T/bad.jsonl" <<'EOF'
{"custom_id": "ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "one", "metadata": {"mock_events": "2"}}}
{"custom_id": "x", "method": "POST",
[1, 2]
{"method": "POST", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "", "method": "POST", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "get", "method": "GET", "url": "/v1/responses", "body": {"model": "mock"}}
{"custom_id": "chat", "method": "POST", "url": "/v1/chat/completions", "body": {"model": "mock"}}

{"custom_id": "str", "method": "POST", "url": "/v1/responses", "body": "hello"}
{"custom_id": "ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "again"}}
{"model": "mock", "input": "a bare line", "metadata": {"mock_events": "2"}}
EOF
off batch --db "$PGC" "$T/bad.jsonl" >"$T/out" 2>"$T/err"
check "malformed lines: exit 1" [ $? -eq 1 ]
check "malformed lines: summary" grep -qx 'batch bad: submitted 2, already present 0, bad 8' "$T/out"
check "malformed: invalid JSON with its column" grep -q '^agentctl: batch: line 2: invalid JSON at column [0-9]*: ' "$T/err"
check "malformed: not an object" grep -qx 'agentctl: batch: line 3: not a JSON object' "$T/err"
check "malformed: duplicate custom_id" grep -qx 'agentctl: batch: line 10: duplicate custom_id "ok-1" (first on line 1)' "$T/err"
check "malformed: the good lines were stored" [ "$(runs_in bad)" -eq 2 ]
off batch --db "$DB" "$T/bad.jsonl" >"$T/out.sqlite" 2>"$T/err.sqlite"
check "malformed: SQLite exits the same" [ $? -eq 1 ]
grep -v 'agentd is not running' "$T/err" >"$T/err.pg.cmp"
grep -v 'agentd is not running' "$T/err.sqlite" >"$T/err.sqlite.cmp"
check "malformed: the same report, line by line, as on SQLite" \
    sh -c "cmp -s '$T/err.pg.cmp' '$T/err.sqlite.cmp' && cmp -s '$T/out' '$T/out.sqlite'"
bare=$(python3 -c '
import functools
line = b"{\"model\": \"mock\", \"input\": \"a bare line\", \"metadata\": {\"mock_events\": \"2\"}}"
print("line-%016x" % functools.reduce(lambda h, c: ((h ^ c) * 0x100000001b3) & (2**64 - 1), line, 0xcbf29ce484222325))')
check "a bare line's custom_id is line- and its FNV-1a hash" \
    [ "$(psql_q "SELECT custom_id FROM runs WHERE batch = 'bad' ORDER BY n DESC LIMIT 1")" = "$bare" ]
off batch --strict --name strict --db "$PGC" "$T/bad.jsonl" >"$T/out" 2>"$T/err"
check "--strict with bad lines: exit 1, nothing stored" \
    sh -c "[ $? -eq 1 ] && grep -q 'strict: 8 bad lines, nothing submitted' '$T/err'"
check "--strict: no run, no batch" [ "$(psql_q "SELECT (SELECT count(*) FROM runs WHERE batch = 'strict') + (SELECT count(*) FROM batches WHERE name = 'strict')")" -eq 0 ]
off batch status strict --db "$PGC" >>"$T/ctl.log" 2>&1
check "--strict: offline status exit 4" [ $? -eq 4 ]

# ---------------------------------------------------------------------
# The same rows on both engines read back as the same bytes: results,
# status, list, queue list. Rows written with raw SQL into both stores
# (finished long ago, so that the rates are 0 and nothing is left to
# chance): completed with a body, failed with a JSON error body and a
# text one, failed without a status but with a partial response, without
# either, cancelled, pending, a NULL custom_id.

cols="n, id, idempotency_key, queue, endpoint, request, status, created_at, updated_at, finished_at, batch, custom_id, response, error_status, error_message, error_body, max_attempts"
rows="(900001, 'r_00000000000000a1', 'eq:1', 'eqq', '', '{}', 'completed', 1000, 1000, 2000, 'eq', 'c-1', '{\"id\":\"resp_1\",\"status\":\"completed\",\"output\":[]}', NULL, NULL, NULL, 3),
(900002, 'r_00000000000000a2', 'eq:2', 'eqq', '', '{}', 'failed', 1000, 1000, 3000, 'eq', 'c-2', NULL, 500, 'upstream 500', '{\"error\":{\"message\":\"boom\"}}', 3),
(900003, 'r_00000000000000a3', 'eq:3', 'eqq', '', '{}', 'failed', 1000, 1000, 4000, 'eq', 'c-3', NULL, 429, 'rate limited', 'not json, \"quoted\" \\\\ text', 3),
(900004, 'r_00000000000000a4', 'eq:4', 'eqq', '', '{}', 'incomplete', 1000, 1000, 5000, 'eq', 'c-4', '{\"id\":\"resp_4\",\"status\":\"incomplete\"}', NULL, 'stream ended', NULL, 3),
(900005, 'r_00000000000000a5', 'eq:5', 'eqq', '', '{}', 'abandoned', 1000, 1000, 6000, 'eq', 'c-5', 'not json', NULL, NULL, NULL, 3),
(900006, 'r_00000000000000a6', 'eq:6', 'eqq', '', '{}', 'cancelled', 1000, 1000, 7000, 'eq', 'c-6', NULL, NULL, 'cancelled by request', NULL, 3),
(900007, 'r_00000000000000a7', 'eq:7', 'eqq', '', '{}', 'pending', 1000, 1000, NULL, 'eq', 'c-7', NULL, NULL, NULL, NULL, 3),
(900008, 'r_00000000000000a8', 'eq:8', 'eqq', '', '{}', 'completed', 1000, 1000, 8000, 'eq', NULL, 'null', NULL, NULL, NULL, 3),
(900009, 'r_00000000000000a9', 'eq:9', 'eqq', '', '{}', 'running', 1000, 1000, NULL, 'eq2', 'd-1', NULL, NULL, NULL, NULL, 3)"
batches="('eq', 'eqq', 3, 1000, 1000, NULL), ('eq2', 'eqq', 5, 1000, 1000, 1500)"
# SQLite keeps a run's response in run_results (schema/005_results.sql).
rcols=$(echo "$cols" | sed 's/, response//')
sqlite3 "$DB" "CREATE TEMP TABLE t ($cols); INSERT INTO t ($cols) VALUES $rows; INSERT INTO runs ($rcols) SELECT $rcols FROM t; INSERT INTO run_results (n, response) SELECT n, response FROM t WHERE response IS NOT NULL; INSERT INTO batches (name, queue, max_attempts, created_at, updated_at, cancelled_at) VALUES $batches" &&
    psql_q "INSERT INTO runs ($cols) VALUES $rows; INSERT INTO batches (name, queue, max_attempts, created_at, updated_at, cancelled_at) VALUES $batches"
check "the same rows written into both stores" [ $? -eq 0 ]
# qset DB ARGS: queue set offline on store DB, its JSON.
qset() { d=$1; shift; off queue set --db "$d" --json "$@" 2>>"$T/ctl.log"; }
for d in "$DB" "$PGC"; do
	e=sqlite; [ "$d" = "$PGC" ] && e=pg
	off batch results eq --db "$d" >"$T/eq.results.$e" 2>>"$T/ctl.log"
	off batch results eq --errors-only --db "$d" >"$T/eq.errors.$e" 2>>"$T/ctl.log"
	off batch status eq --json --db "$d" >"$T/eq.status.$e" 2>>"$T/ctl.log"
	off batch status eq2 --json --db "$d" >>"$T/eq.status.$e" 2>>"$T/ctl.log"
	off batch list --json --db "$d" 2>>"$T/ctl.log" |
	    python3 -c 'import json, sys; print(json.dumps([b for b in json.load(sys.stdin)["batches"] if b["name"].startswith("eq")]))' >"$T/eq.list.$e"
	# Queue settings: a new queue, then each field changed and kept.
	{
		qset "$d" qeq --paused true --priority 5 --max-attempts 2
		qset "$d" qeq --max-inflight 3
		qset "$d" qeq --paused false --priority -2
		qset "$d" qeq --max-inflight none --max-attempts 4
		qset "$d" eqq --max-inflight 0
	} | python3 -c '
import json, sys
dec = json.JSONDecoder()
s = sys.stdin.read()
i = 0
while True:
    while i < len(s) and s[i].isspace():
        i += 1
    if i >= len(s):
        break
    d, i = dec.raw_decode(s, i)
    print(json.dumps([q for q in d["queues"] if q["name"] in ("qeq", "eqq")]))' >"$T/eq.qset.$e"
	off queue list --json --db "$d" 2>>"$T/ctl.log" |
	    python3 -c 'import json, sys; print(json.dumps([q for q in json.load(sys.stdin)["queues"] if q["name"] in ("qeq", "eqq")]))' >"$T/eq.queues.$e"
done
check "results: the same bytes as SQLite's" sh -c "[ -s '$T/eq.results.pg' ] && cmp -s '$T/eq.results.sqlite' '$T/eq.results.pg'"
check "results --errors-only: the same bytes as SQLite's" sh -c "[ -s '$T/eq.errors.pg' ] && cmp -s '$T/eq.errors.sqlite' '$T/eq.errors.pg'"
check "status --json: the same bytes as SQLite's" sh -c "[ -s '$T/eq.status.pg' ] && cmp -s '$T/eq.status.sqlite' '$T/eq.status.pg'"
check "list --json: the same as SQLite's" sh -c "grep -q eq2 '$T/eq.list.pg' && cmp -s '$T/eq.list.sqlite' '$T/eq.list.pg'"
check "queue set: the same JSON as SQLite's, step by step" sh -c "[ \$(wc -l <'$T/eq.qset.pg') -eq 5 ] && cmp -s '$T/eq.qset.sqlite' '$T/eq.qset.pg'"
check "queue list --json: the same as SQLite's" sh -c "grep -q qeq '$T/eq.queues.pg' && cmp -s '$T/eq.queues.sqlite' '$T/eq.queues.pg'"
v=$(pyj '[(q["name"], q["max_inflight"], q["paused"], q["priority"], q["max_attempts"]) for q in d]' <"$T/eq.queues.pg")
check "queue settings as set ($v)" [ "$v" = "[('eqq', 0, False, 0, None), ('qeq', None, False, -2, 4)]" ]

# An offline cancel on both engines: the same answer, the same results.
gen "$T/eqc.jsonl" 3 eqc "$QUICK"
for d in "$DB" "$PGC"; do
	e=sqlite; [ "$d" = "$PGC" ] && e=pg
	off batch --db "$d" --queue qeq "$T/eqc.jsonl" >>"$T/ctl.log" 2>&1
	off batch cancel eqc --json --db "$d" >"$T/eqc.cancel.$e" 2>>"$T/ctl.log"
	off batch results eqc --db "$d" 2>>"$T/ctl.log" | sed 's/batch_req_[0-9a-f]*/batch_req_X/g' >"$T/eqc.results.$e"
	off batch status eqc --json --db "$d" 2>>"$T/ctl.log" |
	    python3 -c 'import json, sys; d = json.load(sys.stdin); [d.pop(k) for k in ("created_at", "cancelled_at", "last_finished_at")]; print(json.dumps(d))' >"$T/eqc.status.$e"
done
check "offline cancel: the same answer as SQLite's" sh -c "grep -q '\"cancelled\": 3' '$T/eqc.cancel.pg' && cmp -s '$T/eqc.cancel.sqlite' '$T/eqc.cancel.pg'"
check "offline cancel: the same results as SQLite's" sh -c "[ \$(wc -l <'$T/eqc.results.pg') -eq 3 ] && cmp -s '$T/eqc.results.sqlite' '$T/eqc.results.pg'"
check "offline cancel: the same status as SQLite's" cmp -s "$T/eqc.status.sqlite" "$T/eqc.status.pg"
check "offline cancel: each attempt recorded as cancelled" \
    [ "$(psql_q "SELECT count(*) FROM attempts a JOIN runs r ON r.n = a.run_n WHERE r.batch = 'eqc' AND a.status = 'cancelled' AND a.error_message = 'batch cancelled'")" = 3 ]
check "offline cancel: batch max_attempts from its queue" [ "$(psql_q "SELECT max_attempts FROM batches WHERE name = 'eqc'")" = 4 ]
off batch cancel nosuch --db "$PGC" >>"$T/ctl.log" 2>&1
check "offline cancel of an unknown batch: exit 4" [ $? -eq 4 ]
off batch results nosuch --db "$PGC" -o "$T/nosuch.out" >>"$T/ctl.log" 2>&1
check "offline results of an unknown batch: exit 4, no file" sh -c "[ $? -eq 4 ] && [ ! -e '$T/nosuch.out' ]"
# Leave nothing for the hosts that is not theirs to run.
psql_q "DELETE FROM runs WHERE batch IN ('eq', 'eq2'); DELETE FROM batches WHERE name IN ('eq', 'eq2')" >/dev/null

# ---------------------------------------------------------------------
# Two agentd hosts on the store: the runs stored offline are dispatched.

start_mock
stop_hosts() {
	for p in $HPIDS; do kill "$p" 2>/dev/null; done
	for p in $HPIDS; do wait "$p" 2>/dev/null; done
	HPIDS=""
}
start_host a
start_host b
check "two hosts come up on the store" wait_for 20 sh -c "'$BIN/agentctl' -s '$T/a.sock' status >/dev/null && '$BIN/agentctl' -s '$T/b.sock' status >/dev/null"
hctl a batch wait big --timeout 120 >"$T/out" 2>"$T/err"
check "runs stored while agentd was down are dispatched" [ $? -eq 0 ]
check "batch wait: final line" grep -qx 'batch big: all 1000 runs finished: completed 1000' "$T/out"
hctl b batch wait race-off --timeout 120 >>"$T/ctl.log" 2>&1
check "the offline race's batch completes" [ $? -eq 0 ]
hctl a batch wait bad --timeout 30 >>"$T/ctl.log" 2>&1
check "the malformed file's good lines complete" [ $? -eq 0 ]
check "no run created twice at the backend (2202 responses for 2202 runs)" \
    [ "$(mock_stat runs)" -eq 2202 ]

hctl b batch "$T/big.jsonl" >"$T/out" 2>"$T/err"
check "online resubmit of the 1000 lines: nothing added" \
    grep -qx 'batch big: submitted 0, already present 1000, bad 0' "$T/out"
check "online resubmit: says nothing new" grep -q 'nothing new' "$T/err"

# The same file through two hosts at once.
gen "$T/race.jsonl" 600 ra "$QUICK"
hctl a batch "$T/race.jsonl" >"$T/ra1.out" 2>&1 &
p1=$!
hctl b batch "$T/race.jsonl" >"$T/ra2.out" 2>&1 &
p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
check "online race through two hosts: both exit 0" [ "$r1$r2" = 00 ]
check "online race: 600 submitted in all" python3 -c '
import re, sys
n = sum(int(re.search(r"submitted (\d+),", open(f).read()).group(1)) for f in sys.argv[1:])
sys.exit(0 if n == 600 else 1)' "$T/ra1.out" "$T/ra2.out"
check "online race: each line exactly once" sh -c "[ \"\$(psql -X -A -t -q -d '$PGC' -c \"SELECT count(*) FROM runs WHERE batch = 'race'\")\" -eq 600 ]"
check "online race: each line exactly once (by custom_id)" once race
hctl a batch wait race --timeout 60 >>"$T/ctl.log" 2>&1
check "online race batch completes" [ $? -eq 0 ]

# Results: every custom_id exactly once, in submission order, completed.
hctl a batch results big -o "$T/big.out" >"$T/out" 2>"$T/err"
check "results -o through a host: says how many" grep -qx "batch big: wrote 1000 results to $T/big.out" "$T/out"
check "results match every custom_id exactly once, in order, completed" python3 -c '
import json, sys
want = [json.loads(l)["custom_id"] for l in open(sys.argv[1])]
got = [json.loads(l) for l in open(sys.argv[2])]
ids = [g["custom_id"] for g in got]
ok = ids == want and len(set(ids)) == 1000
ok = ok and all(g["error"] is None and g["response"]["status_code"] == 200
                and g["response"]["body"]["status"] == "completed"
                and g["id"].startswith("batch_req_") for g in got)
sys.exit(0 if ok else 1)' "$T/big.jsonl" "$T/big.out"
hctl b batch results big --errors-only >"$T/out"
check "results --errors-only: nothing for an all-completed batch" [ ! -s "$T/out" ]
check "every run exact against the mock (no loss, no duplicate)" \
    python3 "$(dirname "$0")/verify.py" "$PGC" "$MOCK_URL"

# status, list, wait, results of a batch with a failed run.
cat >"$T/mixed.jsonl" <<'EOF'
{"custom_id": "m-ok-1", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "one", "metadata": {"mock_events": "3"}}}
{"custom_id": "m-fail", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "two", "metadata": {"mock_events": "3", "mock_fail": "failed"}}}
{"custom_id": "m-ok-2", "method": "POST", "url": "/v1/responses", "body": {"model": "mock", "input": "three", "metadata": {"mock_events": "3"}}}
EOF
hctl a batch "$T/mixed.jsonl" >>"$T/ctl.log" 2>&1
hctl b batch wait mixed --timeout 30 >"$T/out" 2>"$T/err"
check "wait: exit 1 when a run failed" [ $? -eq 1 ]
check "wait: the final line counts them" grep -qx 'batch mixed: all 3 runs finished: completed 2, failed 1' "$T/out"
hctl a batch status mixed --json >"$T/out"
v=$(pyj '(d["name"], d["total"], d["finished"], d["counts"], d["queue"], d["max_attempts"], d["last_finished_at"] > 0)' <"$T/out")
check "status --json through a host ($v)" [ "$v" = "('mixed', 3, 3, {'completed': 2, 'failed': 1}, 'default', 3, True)" ]
hctl a batch status mixed >"$T/out"
check "status: progress line" grep -qx 'progress:  3/3 finished (100.0%)' "$T/out"
hctl b batch list >"$T/out"
check "list: a row per batch" sh -c "grep -Eq '^mixed +default +3 +2 +1 +0 +100% +done ' '$T/out' && grep -Eq '^big +default +1000 +1000 +0 +0 +100% ' '$T/out'"
hctl b batch list --json >"$T/out"
v=$(pyj 'sorted(b["name"] for b in d["batches"])' <"$T/out")
check "list --json ($v)" [ "$v" = "['bad', 'big', 'eqc', 'mixed', 'race', 'race-off']" ]
hctl a batch results mixed --errors-only >"$T/mixed.err"
check "results --errors-only: the failed run alone" python3 -c '
import json, sys
lines = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if len(lines) == 1 and lines[0]["custom_id"] == "m-fail" and lines[0]["error"]["code"] == "failed" else 1)' "$T/mixed.err"
hctl b batch results mixed >"$T/out"
check "results: one line per run in submission order" sh -c "[ \"\$(python3 -c 'import json,sys; print(\" \".join(json.loads(l)[\"custom_id\"] for l in open(sys.argv[1])))' '$T/out')\" = 'm-ok-1 m-fail m-ok-2' ]"
hctl a batch status nosuch >>"$T/ctl.log" 2>&1
check "status of an unknown batch through a host: exit 4" [ $? -eq 4 ]

# Cancel through host a a batch whose runs stream on both hosts.
gen "$T/slow.jsonl" 4 slow '{"mock_events": "1000", "mock_interval_ms": "50"}'
hctl a batch "$T/slow.jsonl" >>"$T/ctl.log" 2>&1
wait_for 15 sh -c "[ \"\$(psql -X -A -t -q -d '$PGC' -c \"SELECT count(*) FROM runs WHERE batch = 'slow' AND status = 'running' AND last_seq > 2\")\" = 4 ]"
held=$(psql_q "SELECT string_agg(DISTINCT lease_host, ',' ORDER BY lease_host) FROM runs WHERE batch = 'slow'")
c0=$(mock_stat cancels)
hctl a batch cancel slow >"$T/out" 2>"$T/err"
check "cancel through a host (runs held by $held): says how many" grep -qx 'batch slow: cancelled 4 runs' "$T/out"
check "cancel: the runs are cancelled" [ "$(psql_q "SELECT count(*) FROM runs WHERE batch = 'slow' AND status = 'cancelled' AND lease_owner IS NULL AND lease_host IS NULL")" -eq 4 ]
check "cancel: each attempt recorded as cancelled" \
    [ "$(psql_q "SELECT count(*) FROM attempts a JOIN runs r ON r.n = a.run_n WHERE r.batch = 'slow' AND a.status = 'cancelled' AND a.events > 0")" = 4 ]
check "cancel: the backend responses are cancelled too" wait_for 5 sh -c "[ \"\$(curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"cancels\"])')\" -ge $((c0 + 4)) ]"
e1=$(psql_q "SELECT sum(event_count) FROM runs WHERE batch = 'slow'")
sleep 1
e2=$(psql_q "SELECT sum(event_count) FROM runs WHERE batch = 'slow'")
check "cancel: no host stores events of the cancelled runs ($e1, $e2)" [ "$e1" = "$e2" ]
hctl b batch cancel slow --json >"$T/out"
v=$(pyj 'd' <"$T/out")
check "cancel --json through the other host: nothing left to cancel" [ "$v" = "{'name': 'slow', 'cancelled': 0}" ]
hctl b batch cancel nosuch >>"$T/ctl.log" 2>&1
check "cancel of an unknown batch: exit 4" [ $? -eq 4 ]

# Queues through the hosts: set, list, pause, max_attempts.
hctl a queue set qp --paused true --priority 5 --max-attempts 2 >"$T/out"
check "queue set: prints the queue" grep -Eq '^qp +- +true +5 +0 +0 +0 +0$' "$T/out"
gen "$T/paused.jsonl" 2 qp "$QUICK"
hctl b batch --queue qp "$T/paused.jsonl" >>"$T/ctl.log" 2>&1
sleep 1.5
check "a paused queue dispatches nothing on either host" [ "$(psql_q "SELECT count(*) FROM runs WHERE batch = 'paused' AND status = 'pending' AND lease_owner IS NULL")" -eq 2 ]
check "batch max_attempts from its queue" [ "$(psql_q "SELECT max_attempts FROM batches WHERE name = 'paused'")" -eq 2 ]
hctl b queue list >"$T/out"
check "queue list: the paused queue with its queued runs" grep -Eq '^qp +- +true +5 +2 +0 +0 +0$' "$T/out"
hctl a queue list --json >"$T/out"
v=$(pyj '[(q["paused"], q["queued"], q["max_attempts"]) for q in d["queues"] if q["name"] == "qp"]' <"$T/out")
check "queue list --json" [ "$v" = '[(True, 2, 2)]' ]
hctl b queue set qp --paused false >>"$T/ctl.log"
hctl a batch wait paused --timeout 20 >>"$T/ctl.log" 2>&1
check "unpaused: the runs complete" [ $? -eq 0 ]
hctl a queue set qp --max-inflight 0 --json >"$T/out"
v=$(pyj '[q["max_inflight"] for q in d["queues"] if q["name"] == "qp"]' <"$T/out")
check "queue set --json: the queue list" [ "$v" = '[0]' ]
hctl b queue set qp --max-inflight none >"$T/out"
check "queue set --max-inflight none: no limit" grep -Eq '^qp +- +false +5 ' "$T/out"

# max_inflight 3 over both hosts, against the mock's count of streams.
hctl a queue set q3 --max-inflight 3 >>"$T/ctl.log"
gen "$T/three.jsonl" 12 three '{"mock_events": "10", "mock_interval_ms": "50"}'
wait_for 10 sh -c "[ \"\$(curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; print(json.load(sys.stdin)[\"streams_open\"])')\" = 0 ]"
curl -s -X POST "$MOCK_URL/mock/reset-stats" >/dev/null
hctl b batch --queue q3 "$T/three.jsonl" >>"$T/ctl.log" 2>&1
hctl a batch wait three --timeout 60 >>"$T/ctl.log" 2>&1
check "max_inflight 3: the batch completes" [ $? -eq 0 ]
peak=$(mock_stat streams_peak)
check "max_inflight 3 over two hosts: the mock never had more than 3 streams (peak $peak)" [ "$peak" -le 3 ]
check "max_inflight 3: runs did run in parallel (peak $peak)" [ "$peak" -ge 2 ]

# ---------------------------------------------------------------------
# Hosts stopped: the offline reads are the hosts' answers.

hctl a batch results big >"$T/online.results"
hctl b batch results mixed >"$T/online.mixed"
hctl a queue list --json >"$T/online.queues"
hctl b batch status big --json >"$T/online.status"
stop_hosts
off batch results big --db "$PGC" >"$T/offline.results" 2>"$T/err"
check "offline results: exit 0, says it reads the store" \
    sh -c "[ $? -eq 0 ] && grep -q 'agentd is not running .*using its store PostgreSQL' '$T/err'"
check "offline results identical to the hosts'" sh -c "[ -s '$T/offline.results' ] && cmp -s '$T/online.results' '$T/offline.results'"
AGENTD_DB=$PGC off batch results mixed >"$T/offline.mixed" 2>>"$T/ctl.log"
check "offline results of a failed run identical to the hosts'" cmp -s "$T/online.mixed" "$T/offline.mixed"
AGENTD_DB=$PGC off queue list --json >"$T/offline.queues" 2>>"$T/ctl.log"
check "offline queue list --json identical to the hosts'" cmp -s "$T/online.queues" "$T/offline.queues"
off batch status big --json --db "$PGC" >"$T/offline.status" 2>>"$T/ctl.log"
check "offline status --json: same batch" python3 -c '
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:])
for k in ("rate_per_min", "eta_s"):
    a.pop(k); b.pop(k)
sys.exit(0 if a == b else 1)' "$T/online.status" "$T/offline.status"
off batch list --db "$PGC" >"$T/out" 2>&1
check "offline list" grep -Eq '^big +default +1000 +1000 ' "$T/out"
off queue set qp --paused true --db "$PGC" >"$T/out" 2>>"$T/ctl.log"
check "offline queue set" grep -Eq '^qp +- +true +5 ' "$T/out"
check "every run exact against the mock at the end" \
    python3 "$(dirname "$0")/verify.py" "$PGC" "$MOCK_URL"
exit 0
