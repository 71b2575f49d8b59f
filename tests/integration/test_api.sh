#!/bin/sh
# The local API and agentctl against the real daemon: every command and its
# --json form, live follow from two clients and across a daemon restart,
# pagination over 10,000 runs, peer credentials, malformed requests, limits,
# and the documented endpoints over curl --unix-socket.
. "$(dirname "$0")/lib.sh"

health() { [ "$(api -o /dev/null -w '%{http_code}' http://localhost/v1/health)" = 200 ]; }
code() { api -o "$T/body" -w '%{http_code}' "$@"; }

start_mock
start_agentd --workers 2 --max-body 4096 --max-connections 64
check "socket mode is 0660" [ "$(stat -c %a "$SOCK")" = 660 ]

# --- every command, human and --json
id=$(echo '{"model":"m","input":"a","metadata":{"mock_events":"30","mock_interval_ms":"20"}}' | ctl submit -f -)
check "submit prints an id" sh -c "echo '$id' | grep -Eq '^r_[0-9a-f]{16}$'"
jid=$(ctl --json submit --model m --input b --metadata mock_events=5 --metadata mock_interval_ms=1 |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check "submit --json has the id" sh -c "echo '$jid' | grep -q '^r_'"
ctl watch "$id" >"$T/watch.out" 2>"$T/watch.err"
check "watch exits 0 on completion" [ $? -eq 0 ]
check "watch printed the text as it streamed" [ "$(cat "$T/watch.out")" = "$(ctl result "$id")" ]
check "watch says the final status" grep -q "completed" "$T/watch.err"
ctl --json watch "$jid" >"$T/watch.json"
check "watch --json: one JSON event per line" python3 -c "
import json; ev = [json.loads(l) for l in open('$T/watch.json')]
assert ev[-1]['type'] == 'agentd.status' and ev[0]['seq'] == 0, ev[-1]"
check "list shows the table header" sh -c "'$BIN/agentctl' -s '$SOCK' list | head -1 | grep -q 'ID.*STATUS.*MODE.*AGE.*LAST EVENT.*EVENTS.*BACKEND ID'"
check "list --json" sh -c "'$BIN/agentctl' -s '$SOCK' --json list | python3 -c 'import json,sys; assert len(json.load(sys.stdin)[\"runs\"]) == 2'"
check "list --status filters" [ "$(ctl list --status failed | wc -l)" -le 1 ]
check "show" sh -c "'$BIN/agentctl' -s '$SOCK' show $id | grep -q 'backend_id'"
check "show --json" sh -c "'$BIN/agentctl' -s '$SOCK' --json show $id | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"status\"] == \"completed\"'"
check "events" [ "$(ctl events "$id" --after 30 | wc -l)" -eq 7 ]
check "events --json" sh -c "'$BIN/agentctl' -s '$SOCK' --json events $id --limit 3 | python3 -c 'import json,sys; o=json.load(sys.stdin); assert len(o[\"events\"]) == 3 and o[\"next_after\"] == 2'"
check "result --json" sh -c "'$BIN/agentctl' -s '$SOCK' --json result $id | python3 -c 'import json,sys; o=json.load(sys.stdin); assert o[\"output_text\"] and o[\"response\"][\"status\"] == \"completed\"'"
ctl resume "$id" >/dev/null 2>"$T/err"
check "resume of a completed run: exit 5 with the daemon's message" sh -c "[ $? -eq 5 ] && grep -q 'only abandoned or failed' '$T/err'"
ctl show r_0000000000000000 >/dev/null 2>&1
check "show of an unknown run: exit 4" [ $? -eq 4 ]
long=$(echo '{"model":"m","metadata":{"mock_events":"500","mock_interval_ms":"50"}}' | ctl submit -f -)
wait_for 10 sh -c "[ -n \"\$(sqlite3 '$DB' \"SELECT backend_id FROM runs WHERE id = '$long'\")\" ]"
check "cancel" sh -c "'$BIN/agentctl' -s '$SOCK' cancel $long | grep -q cancelled"
check "cancel reached the backend" wait_for 5 sh -c "curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"cancels\"] >= 1 else 1)'"
check "cancelled run stays cancelled" [ "$(sql "SELECT status FROM runs WHERE id = '$long'")" = cancelled ]
check "status" sh -c "'$BIN/agentctl' -s '$SOCK' status | grep -q 'workers:'"
check "status --json: workers with pids" sh -c "'$BIN/agentctl' -s '$SOCK' --json status | python3 -c 'import json,sys; o=json.load(sys.stdin); assert len(o[\"workers\"]) == 2 and all(w[\"pid\"] > 0 for w in o[\"workers\"]) and \"queue_depth\" in o'"
printf '%s\n' '{"custom_id":"a","method":"POST","url":"/v1/responses","body":{"model":"m","metadata":{"mock_events":"2","mock_interval_ms":"1"}}}' \
    'not json' '{"custom_id":"b","method":"POST","url":"/v1/responses","body":{"model":"m","metadata":{"mock_events":"2","mock_interval_ms":"1"}}}' >"$T/b.jsonl"
ctl batch "$T/b.jsonl" >"$T/batch.out" 2>"$T/batch.err"
check "batch: bad line reported with its number, exit 1" sh -c "[ $? -eq 1 ] && grep -q 'line 2' '$T/batch.err'"
check "batch: good lines submitted" grep -q "submitted 2" "$T/batch.out"
ctl batch "$T/b.jsonl" >"$T/batch.out" 2>/dev/null
check "batch again: nothing new" grep -q "submitted 0, already present 2" "$T/batch.out"
wait_for 20 all_terminal
check "prune keeps nothing finished older than 0s" sh -c "'$BIN/agentctl' -s '$SOCK' prune --older-than 0s | grep -q 'pruned'"
check "prune deleted runs and their events" [ "$(sql "SELECT count(*) FROM runs")" -eq 0 ] 
check "prune --json" sh -c "'$BIN/agentctl' -s '$SOCK' --json prune --older-than 7d | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"deleted\"] == 0'"

# --- two followers at once, then a follower across a daemon restart
id=$(echo '{"model":"m","metadata":{"mock_events":"40","mock_interval_ms":"50"}}' | ctl submit -f -)
api -N -H 'Accept: text/event-stream' "http://localhost/v1/runs/$id/events" >"$T/f1" &
p1=$!
api -N -H 'Accept: text/event-stream' "http://localhost/v1/runs/$id/events?after=-1" >"$T/f2" &
p2=$!
wait $p1 $p2
check "two followers: both saw every event" sh -c "[ \$(grep -c '^id:' '$T/f1') -eq 48 ] && cmp -s '$T/f1' '$T/f2'"
check "follower ends with the local status" sh -c "grep -A1 'event: agentd.status' '$T/f1' | grep -q '\"status\":\"completed\"'"
check "Last-Event-ID resumes a follow" sh -c "curl -s --unix-socket '$SOCK' -H 'Accept: text/event-stream' -H 'Last-Event-ID: 45' http://localhost/v1/runs/$id/events | grep '^id:' | tr '\n' ' ' | grep -q '^id: 46 id: 47 \$'"
id=$(echo '{"model":"m","metadata":{"mock_events":"60","mock_interval_ms":"50"}}' | ctl submit -f -)
ctl watch "$id" >"$T/w.out" 2>"$T/w.err" &
wp=$!
sleep 1
kill_agentd 9
sleep 0.5
start_agentd --workers 2 --max-body 4096 --max-connections 64
wait $wp
check "watch survives a daemon restart (exit 0)" [ $? -eq 0 ]
check "watch across the restart printed the whole text once" [ "$(cat "$T/w.out")" = "$(ctl result "$id")" ]

# --- pagination over 10,000 runs
kill_agentd 15
sql "WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 10000)
    INSERT INTO runs (id, endpoint, request, status, created_at, updated_at, finished_at)
    SELECT printf('r_%016x', i), 'http://x', '{}', 'completed', i, i, i FROM c"
total=$(sql "SELECT count(*) FROM runs")
start_agentd --workers 2 --max-body 4096 --max-connections 64
ctl --json list --all --limit 1000 >"$T/all.json" 2>/dev/null
check "pagination: every run exactly once, newest first" python3 -c "
import json
runs = json.load(open('$T/all.json'))['runs']
ids = [r['id'] for r in runs]
assert len(ids) == $total == len(set(ids)), (len(ids), $total)
"
python3 - "$SOCK" >"$T/close" <<'PY'
import socket, sys, time
# A big answer on a connection the client asked to close, read slowly: every
# byte must arrive before the daemon closes it.
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"GET /v1/runs?limit=1000 HTTP/1.1\r\nConnection: close\r\n\r\n")
time.sleep(0.5)
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
    time.sleep(0.001)
head, _, body = out.partition(b"\r\n\r\n")
cl = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")]
print(cl[0] if cl else -1, len(body))
PY
check "Connection: close: a big answer arrives whole to a slow reader" python3 -c "
a, b = map(int, open('$T/close').read().split()); assert a == b and a > 300000, (a, b)"
check "limit over 1000 is refused" [ "$(code 'http://localhost/v1/runs?limit=5000')" = 400 ]
check "since filter" [ "$(api 'http://localhost/v1/runs?since=9995&limit=1000&status=completed' | python3 -c 'import json,sys; print(len(json.load(sys.stdin)["runs"]))')" -ge 6 ]

# --- curl --unix-socket on the documented endpoints
check "curl: GET /v1/health" health
check "curl: GET /metrics has runs, resumes, latency histogram" sh -c "curl -s --unix-socket '$SOCK' http://localhost/metrics | grep -q 'agentd_store_write_seconds_bucket' && curl -s --unix-socket '$SOCK' http://localhost/metrics | grep -q '^agentd_runs{status=\"completed\"}' && curl -s --unix-socket '$SOCK' http://localhost/metrics | grep -q '^agentd_resumes_total'"
check "curl: GET /v1/runs/{id}" [ "$(code "http://localhost/v1/runs/$id")" = 200 ]
check "curl: GET /v1/runs/{id}/result" [ "$(code "http://localhost/v1/runs/$id/result")" = 200 ]
check "curl: POST /v1/runs (bare request)" [ "$(code -d '{"model":"m","metadata":{"mock_events":"1"}}' http://localhost/v1/runs)" = 201 ]

# --- malformed requests: each answered, the daemon still serving
check "bad JSON: 400" sh -c "[ \"\$(curl -s -o '$T/b' -w '%{http_code}' --unix-socket '$SOCK' -d '{oops' http://localhost/v1/runs)\" = 400 ] && grep -q '\"code\":\"bad_request\"' '$T/b'"
check "JSON that is not an object: 400" [ "$(code -d '[1]' http://localhost/v1/runs)" = 400 ]
check "bad mode: 400" [ "$(code -d '{"request":{},"mode":"warp"}' http://localhost/v1/runs)" = 400 ]
check "bad priority: 400" [ "$(code -d '{"request":{},"priority":"high"}' http://localhost/v1/runs)" = 400 ]
head -c 10000 /dev/zero | tr '\0' a >"$T/big"
head -c 3000 /dev/zero | tr '\0' a >"$T/small"
check "oversize body: 413 with the JSON error" sh -c "[ \"\$(curl -s -o '$T/b413' -w '%{http_code}' --unix-socket '$SOCK' --data-binary @'$T/big' http://localhost/v1/runs)\" = 413 ] && grep -q '\"code\":\"payload_too_large\".*10000 bytes is over the limit of 4096' '$T/b413'"
check "oversize body: logged" grep -q "refused a request from uid [0-9]*: request body of 10000 bytes is over the limit of 4096 (--max-body) (HTTP 413)" "$T/agentd.log"
check "oversize body with Expect: 100-continue: 413 at once" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --unix-socket '$SOCK' -H 'Expect: 100-continue' --data-binary @'$T/big' http://localhost/v1/runs | awk '\$2 < 0.9 { print \$1 }')\" = 413 ]"
check "a body under the limit with Expect: 100-continue is served at once" sh -c "[ \"\$(curl -s -o /dev/null -w '%{http_code} %{time_total}' --unix-socket '$SOCK' -H 'Expect: 100-continue' --data-binary @'$T/small' http://localhost/v1/runs | awk '\$2 < 0.9 { print \$1 }')\" = 400 ]"
check "chunked body under the limit: accepted" sh -c "echo '{\"request\":{\"model\":\"m\"},\"mode\":\"poll\"}' | curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' -H 'Transfer-Encoding: chunked' --data-binary @- http://localhost/v1/runs | grep -qx 201"
check "chunked body over the limit: 413 with the JSON error" sh -c "curl -s --unix-socket '$SOCK' -H 'Transfer-Encoding: chunked' --data-binary @'$T/big' http://localhost/v1/runs | grep -q '\"code\":\"payload_too_large\"'"
check "unknown route: 404" [ "$(code http://localhost/v2/nothing)" = 404 ]
check "wrong method: 405" [ "$(code -X DELETE "http://localhost/v1/runs/$id")" = 405 ]
check "bad query parameter: 400" [ "$(code 'http://localhost/v1/runs?limit=abc')" = 400 ]
check "result of a running run: 409" sh -c "
    rid=\$(echo '{\"model\":\"m\",\"metadata\":{\"mock_events\":\"100\",\"mock_interval_ms\":\"100\"}}' | '$BIN/agentctl' -s '$SOCK' submit -f -)
    [ \"\$(curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' http://localhost/v1/runs/\$rid/result)\" = 409 ]"
python3 - "$SOCK" >"$T/malformed" <<'PY'
import socket, sys, time
p = sys.argv[1]
def send(data, close_early=False, wait=0):
    s = socket.socket(socket.AF_UNIX); s.settimeout(3); s.connect(p)
    s.sendall(data)
    if close_early:
        s.close(); return b""
    time.sleep(wait)
    out = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            out += d
    except Exception:
        pass
    finally:
        s.close()
    return out
def show(name, r):
    head, _, body = r.partition(b"\r\n\r\n")
    print(name, head.split(b"\r\n")[0].decode(), body.decode(errors="replace").strip())
show("garbage:", send(b"\x00\xff\x13garbage\r\n\r\n"))
send(b"POST /v1/runs HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"mo", True)
send(b"GET /v1/hea", True)
show("huge header:", send(b"GET /v1/health HTTP/1.1\r\nX: " + b"a" * 100000 + b"\r\n\r\n"))
show("bad request line:", send(b"GET /v1/health\r\n\r\n"))
show("unknown method:", send(b"BREW /v1/health HTTP/1.1\r\n\r\n"))
show("transfer coding:", send(b"POST /v1/runs HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n"))
show("pipelined:", send(b"GET /v1/health HTTP/1.1\r\n\r\nGET /v2/x HTTP/1.1\r\n\r\nPOST /v1/runs HTTP/1.1\r\nContent-Length: 99999\r\n\r\n" + b"x" * 99999, wait=0.5))
PY
cat "$T/malformed" >&2
check "garbage bytes: 400 with the JSON error" grep -q '^garbage: HTTP/1.1 400 Bad Request {"error":{"code":"bad_request"' "$T/malformed"
check "huge header: 431 with the JSON error" grep -q '^huge header: HTTP/1.1 431 .*"code":"request_header_fields_too_large".*over the limit of 65536' "$T/malformed"
check "bad request line: 400 JSON" grep -q '^bad request line: HTTP/1.1 400 .*malformed request line' "$T/malformed"
check "unknown method: 501 JSON" grep -q '^unknown method: HTTP/1.1 501 .*"code":"not_implemented"' "$T/malformed"
check "unknown transfer coding: 501 JSON" grep -q '^transfer coding: HTTP/1.1 501 .*gzip' "$T/malformed"
check "pipelined requests answered in order, the oversize one last" python3 -c "
import re; t = open('$T/malformed').read()
assert re.search(r'pipelined: HTTP/1.1 200 OK .*HTTP/1.1 404 Not Found.*HTTP/1.1 413 Payload Too Large', t, re.S), t"
check "malformed requests: each logged" sh -c "[ \$(grep -c 'api: refused a request from uid' '$T/agentd.log') -ge 9 ]"
check "garbage bytes, half-sent requests, huge headers: still serving" health
check "the daemon logged no crash" sh -c "! grep -q 'fatal' '$T/agentd.log'"

# --- peer credentials: another uid is refused
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	as_nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups "$@"; }
	as_nobody "$BIN/agentctl" -s "$SOCK" status >/dev/null 2>&1
	check "other uid: cannot even connect to the 0660 socket (exit 3)" [ $? -eq 3 ]
	chmod 0711 "$T"		# let the other user reach the socket file
	chmod 0666 "$SOCK"
	as_nobody "$BIN/agentctl" -s "$SOCK" status >/dev/null 2>"$T/err"
	rc=$?
	check "other uid on an open socket: refused by peer credentials" sh -c "[ $rc -ne 0 ] && grep -q 'uid 65534 may not use this socket' '$T/err'"
	check "refusal logged" grep -q "refused a connection from uid 65534" "$T/agentd.log"
	chmod 0660 "$SOCK"
	chmod 0700 "$T"
	check "own uid still served" health
else
	skip "other uid refused: needs root and setpriv"
fi

# --- connection limit
kill_agentd 15
start_agentd --workers 1 --max-connections 2 --api-timeout 2
python3 - "$SOCK" >"$T/slow" <<'PY'
import socket, sys, time
# Half a request, then nothing: answered 408 after --api-timeout.
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
t0 = time.time()
s.sendall(b"POST /v1/runs HTTP/1.1\r\nContent-Length: 100\r\n\r\n{\"mo")
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
print("%.1f" % (time.time() - t0), out.split(b"\r\n")[0].decode(), out.partition(b"\r\n\r\n")[2].decode().strip())
PY
cat "$T/slow" >&2
check "half-sent request: 408 with the JSON error after --api-timeout" grep -Eq '^(1\.[89]|2\.[0-9]) HTTP/1.1 408 Request Timeout \{"error":\{"code":"request_timeout"' "$T/slow"
check "half-sent request: logged" grep -q "did not arrive whole within 2 s (--api-timeout) (HTTP 408)" "$T/agentd.log"
python3 - "$SOCK" >"$T/conns" <<'PY'
import socket, sys, time
ss = []
for i in range(3):
    s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
    s.sendall(b"GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n"); ss.append(s)
    time.sleep(0.1)
print(" ".join(s.recv(64).split(b"\r\n")[0].decode() for s in ss))
PY
check "connection limit: the extra connection gets 503" grep -q "200 OK.*200 OK.*503" "$T/conns"
check "connection limit: logged" grep -q "connections open, the limit" "$T/agentd.log"
check "connection limit: served again once they close" health

# --- prune in slices: 20,000 old runs with events, attempts, results
kill_agentd 15
sql "DELETE FROM runs; DELETE FROM events; DELETE FROM attempts; DELETE FROM run_results;
    WITH RECURSIVE c(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM c WHERE i < 20000)
    INSERT INTO runs (id, endpoint, request, status, created_at, updated_at, finished_at)
    SELECT printf('r_p%015x', i), 'http://x', '{}', 'completed', i, i, i FROM c;
    INSERT INTO events (run_n, seq, type, data, at) SELECT n, s.value, 'x', '{}', 1
        FROM runs, generate_series(0, 4) AS s;
    INSERT INTO attempts (run_n, attempt, status, ended_at) SELECT n, 1, 'failed', 1 FROM runs;
    INSERT INTO run_results (n, output_text) SELECT n, 'old text' FROM runs;
    INSERT INTO runs (id, endpoint, request, status, created_at, updated_at, not_before)
    VALUES ('r_pending00000001', 'http://x', '{}', 'pending', unixepoch() * 1000, unixepoch() * 1000, 9000000000000000)"
start_agentd --workers 2 --max-body 4096 --max-connections 64
prune_api() { curl -s --unix-socket "$SOCK" -H 'Content-Type: application/json' -d "$1" http://localhost/v1/runs/prune; }
check "prune: max_runs 0 refused" sh -c "curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' -d '{\"older_than_s\":0,\"max_runs\":0}' http://localhost/v1/runs/prune | grep -qx 400"
check "prune: max_runs not a number refused" sh -c "curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' -d '{\"older_than_s\":0,\"max_runs\":\"x\"}' http://localhost/v1/runs/prune | grep -qx 400"
check "prune: older_than_s too large refused" sh -c "curl -s -o /dev/null -w '%{http_code}' --unix-socket '$SOCK' -d '{\"older_than_s\":9223372036854775807}' http://localhost/v1/runs/prune | grep -qx 400"
check "prune: max_runs stops there and says more" sh -c "prune_api() { curl -s --unix-socket '$SOCK' -d \"\$1\" http://localhost/v1/runs/prune; }; prune_api '{\"older_than_s\":0,\"max_runs\":2500}' | grep -qx '{\"deleted\":2500,\"more\":true}'"
check "prune: the oldest went first" [ "$(sql "SELECT min(finished_at) FROM runs WHERE status = 'completed'")" -eq 2501 ]
# A client that leaves mid-prune: the prune goes on, agentd stays up.
python3 - "$SOCK" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = b'{"older_than_s":0,"max_runs":5000}'
s.sendall(b"POST /v1/runs/prune HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
s.close()
PY
check "prune: a client gone mid-prune leaves agentd up" wait_for 10 sh -c "[ \"\$(sqlite3 '$DB' 'SELECT count(*) FROM runs')\" -eq 12501 ]"
check "prune: agentd answers after it" health
ctl prune --older-than 0s >"$T/prune.out" 2>&1
check "prune: the rest, in slices" grep -qx "pruned 12500 runs" "$T/prune.out"
check "prune: many turns, not one transaction" sh -c "grep 'pruned 12500 finished runs' '$T/agentd.log' | grep -Eq '\(([2-9]|[1-9][0-9]+) turns\)'"
check "prune: only the pending run is left" [ "$(sql "SELECT group_concat(status) FROM runs")" = pending ]
check "prune: nothing a pruned run owned is left" [ "$(sql "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM attempts) + (SELECT count(*) FROM run_results)")" -eq 0 ]
exit 0
