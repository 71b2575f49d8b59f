#!/bin/sh
# Several agentd hosts on one PostgreSQL store (a throwaway server from
# tests/pg/pg.sh): two hosts starting at once on an empty database migrate
# it once; runs spread over three hosts and every one is exact against
# agent-mock's truth; a second host with a live host's id is refused; a
# host killed with kill -9 (supervisor and workers) mid-stream loses its
# runs to the others within its lease TTL plus a few seconds, nothing lost
# or stored twice; a run ingested on one host is followed and cancelled
# from another; a 429 seen by one host holds every host back; a newer schema is refused and left alone. SKIP without
# PostgreSQL's server binaries.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../pg/pg.sh"
. "$(dirname "$0")/../pg/hosts.sh"

pg_hosts_setup "several hosts"

start_mock

# 6. Two hosts at once on an empty database: one migration.
start_host a
start_host b
check "two hosts starting at once on an empty database both come up" \
    wait_for 20 sh -c "'$BIN/agentctl' -s '$T/a.sock' status >/dev/null && '$BIN/agentctl' -s '$T/b.sock' status >/dev/null"
check "the schema was migrated once" \
    [ "$(cat "$T/a.log" "$T/b.log" | grep -c 'applied migration pg/001')" = 1 ]
start_host c
check "a third host joins" wait_for 20 up c
check "status lists the three hosts" sh -c "'$BIN/agentctl' -s '$T/c.sock' status | grep -c 'live' | grep -qx 3"

# A second live host with one id is refused, and says why.
"$BIN/agentd" --socket "$T/dup.sock" --endpoint "$MOCK_URL/v1" --host-id b \
    --lease-ttl "$TTL" >"$T/dup.log" 2>&1 &
dup=$!
sleep 3
if kill -0 "$dup" 2>/dev/null; then
	kill -9 "$dup"
	fail "a second host with a live host's id was not refused"
else
	wait "$dup"
	check "a second host with a live host's id exits 1" [ $? -eq 1 ]
	check "... and says the id is held" grep -q "host id 'b' is held" "$T/dup.log"
fi

# 1. Runs spread over the hosts, each exact against the mock's truth.
i=0
while [ "$i" -lt 30 ]; do
	printf '{"model":"mock","input":"spread %s","metadata":{"mock_events":"40","mock_interval_ms":"50"}}' "$i" |
	    hctl a submit -f - >/dev/null || fail "submit $i"
	i=$((i + 1))
done
sleep 1
spread=$(psql_q "SELECT count(DISTINCT lease_host) FROM runs WHERE lease_host IS NOT NULL")
check "runs are held by more than one host ($spread)" [ "${spread:-0}" -ge 2 ]
check "30 runs finish" wait_for 60 none_active
check "every run completed" [ "$(psql_q "SELECT count(*) FROM runs WHERE status = 'completed'")" = 30 ]
check "every run exact against the mock (no loss, no duplicate)" \
    python3 "$(dirname "$0")/verify.py" "$PG_CONNINFO" "$MOCK_URL"

# 2. kill -9 of a whole host mid-stream: the others finish its runs.
i=0
while [ "$i" -lt 30 ]; do
	printf '{"model":"mock","input":"failover %s","metadata":{"mock_events":"120","mock_interval_ms":"50"}}' "$i" |
	    hctl b submit -f - >/dev/null || fail "submit $i"
	i=$((i + 1))
done
wait_for 10 sh -c "[ \"\$(psql -X -A -t -q -d '$PG_CONNINFO' -c \"SELECT count(*) FROM runs WHERE lease_host = 'a' AND status = 'running' AND last_seq > 5\")\" -gt 0 ]"
held=$(psql_q "SELECT count(*) FROM runs WHERE lease_host = 'a' AND status IN ('starting','running')")
t0=$(date +%s)
pkill -9 -P "$PID_a" 2>/dev/null
kill -9 "$PID_a"
check "host a held runs when it was killed ($held)" [ "${held:-0}" -gt 0 ]
check "its runs finish on the other hosts" wait_for $((TTL + 60)) none_active
t1=$(date +%s)
note_s=$((t1 - t0))
check "every run completed after the kill" [ "$(psql_q "SELECT count(*) FROM runs WHERE status <> 'completed'")" = 0 ]
check "every run exact after the failover ($note_s s to all done)" \
    python3 "$(dirname "$0")/verify.py" "$PG_CONNINFO" "$MOCK_URL"
check "the dead host's row is reaped" wait_for $((TTL + 10)) sh -c "[ \"\$(psql -X -A -t -q -d '$PG_CONNINFO' -c \"SELECT count(*) FROM hosts WHERE host_id = 'a'\")\" = 0 ]"

# 5. Follow on host c a run ingested on host b; cancel it from c.
id=$(printf '{"model":"mock","input":"followed","metadata":{"mock_events":"400","mock_interval_ms":"50"}}' |
    hctl b submit -f -)
wait_for 10 sh -c "[ \"\$(psql -X -A -t -q -d '$PG_CONNINFO' -c \"SELECT last_seq FROM runs WHERE id = '$id'\")\" -gt 3 ]"
timeout 3 "$BIN/agentctl" -s "$T/c.sock" --json watch "$id" >"$T/follow.out" 2>&1
check "a follower on another host gets the run's events live" [ "$(grep -c '"seq"' "$T/follow.out")" -gt 10 ]
check "cancel from another host" hctl c cancel "$id"
check "the run is cancelled" wait_for 10 sh -c "[ \"\$(psql -X -A -t -q -d '$PG_CONNINFO' -c \"SELECT status FROM runs WHERE id = '$id'\")\" = cancelled ]"
check "the cancel reached the backend within a second" wait_for 1 sh -c "curl -s '$MOCK_URL/mock/stats' | python3 -c 'import json,sys; sys.exit(0 if json.load(sys.stdin)[\"cancels\"] >= 1 else 1)'"

# A 429 seen by one host holds every host back.
MOCK1_URL=$MOCK_URL
start_mock --fail-creates 1 --fail-status 429
start_host d
start_host e
check "two hosts on a rate-limited endpoint" wait_for 20 sh -c "'$BIN/agentctl' -s '$T/d.sock' status >/dev/null && '$BIN/agentctl' -s '$T/e.sock' status >/dev/null"
printf '{"model":"mock","input":"limited","metadata":{"mock_events":"5","mock_interval_ms":"10"}}' |
    hctl d submit -f - >/dev/null
check "the host that got the 429 pauses" wait_for 10 grep -q "endpoint rate-limited" "$T/d.log"
check "the other host pauses too (shared store)" wait_for 5 grep -q "endpoint rate-limited" "$T/e.log"
check "the run completes after the pause" wait_for 30 none_active
MOCK_URL=$MOCK1_URL

# A process frozen while holding the migration lock (as a SIGSTOPped
# agentd could be) keeps no host from opening a current store.
psql -X -q -d "$PG_CONNINFO" -c "SELECT pg_advisory_lock(7364297125)" \
    -c "SELECT pg_sleep(20)" >/dev/null 2>&1 &
holder=$!
sleep 1
start_host f
check "a host starts while another session holds the migration lock" wait_for 10 up f
kill "$holder" 2>/dev/null

# A newer schema is refused and left alone.
for p in $HPIDS; do kill "$p" 2>/dev/null; done
sleep 2
psql_q "UPDATE agentd_schema SET version = 99" >/dev/null
"$BIN/agentd" --socket "$T/new.sock" --endpoint "$MOCK_URL/v1" --host-id z >"$T/new.log" 2>&1
check "a newer schema: exit 1" [ $? -eq 1 ]
check "a newer schema: says upgrade" grep -q "newer than this agentd supports" "$T/new.log"
check "a newer schema: left alone" [ "$(psql_q "SELECT version FROM agentd_schema")" = 99 ]
exit 0
