#!/bin/sh
# agentd benchmarks: `make bench` runs `sh tests/bench/bench.sh`.
#
# Compares agentd with the reference peer (the official OpenAI Node SDK
# consuming background response streams, shared/bench/peer-openai-node) on
# the same bundled agent-mock, all on loopback. Seven scenarios, each printing
# exactly one "RESULT name: ..." line, then a table:
#
#   throughput  200 concurrent runs x 2,000 deltas, interval 0. agentd: from
#               the first submit until every run is terminal with every
#               event committed (max runs.finished_at), events/s of all
#               stored events (2,008 per run, lifecycle included, as the
#               peer counts them); CPU seconds (utime+stime of supervisor
#               and workers) per million events; peak RSS (supervisor +
#               workers summed, sampled every 50 ms). Peer: the same
#               workload in memory and with --persist FILE (JSON lines,
#               fsync per 256 events); its own events_per_s, CPU and RSS
#               sampled the same way. Median of 3 in full mode.
#   scale       10,000 concurrent slow runs (30 deltas 1,000 ms apart;
#               QUICK: 1,000 runs x 10 deltas): peak RSS, CPU seconds, time
#               until all are done, for agentd and the peer; for agentd also
#               peak concurrency, time to the first stored event and run
#               durations against the mock's schedule. Then agentd alone
#               at 5,000 and 25,000 runs (SC_MORE; not in QUICK; 25,000
#               needs root or an open-file hard limit of 51,000): peak RSS
#               at each size and the slope per run.
#   resume      1,000 runs in flight (60 deltas 500 ms apart; QUICK: 200),
#               SIGKILL of agentd, 1 s pause, restart: per run, the time from
#               the restart until its first newly stored event (events.at):
#               p50, p99, max. Full mode also waits for every run to
#               complete with all 68 events stored.
#   api         a store of 1,000,000 runs / 10,000,000 events (QUICK:
#               100,000 / 1,000,000) generated with sqlite3 into agentd's own
#               schema: `agentctl list --limit 100` and `agentctl show ID`
#               latency (50 calls each, process start included), GET
#               /v1/runs/{id} latency idle and while the throughput workload
#               runs on that store, `agentctl list --limit 100` while it
#               runs (one call after each 10 GETs), and follow latency: per
#               event, its
#               arrival at an SSE follower of agentd minus its arrival at a
#               direct SSE client of agent-mock (runs at 50 ms intervals).
#   limit       tests/bench/limit.c inserts the throughput scenario's rows
#               with agentd's schema, pragmas, statements and batch shape
#               (runs per transaction and events per run per transaction
#               measured from the agentd store of the throughput scenario),
#               the better of one writer process and two (agentd's
#               workers): the SQLite ceiling; agentd's throughput as a
#               fraction of it.
#   sustained   200 runs x 24,000 deltas (4,801,600 events, 10 s and more
#               a repetition; QUICK: 2,000 deltas, once), 3 repetitions,
#               each followed by tests/bench/limit.c in the batch shape
#               agentd wrote in it, both on a fresh store after a sync:
#               agentd's median as a share of the ceiling's median.
#   front       200 runs x 2,000 deltas read by the official openai 7.x
#               package through agentd's Responses front and straight from
#               agent-mock (tests/bench/front.sh): events/s and their ratio,
#               time to first event, agentd RSS per open client stream.
#               Needs node; skipped (and said so) without it.
#
# With STORE=postgres every store is a database of one throwaway PostgreSQL
# server (tests/pg/pg.sh, started here, fsync and synchronous_commit at
# their defaults) and the scenarios are, by default:
#
#   throughput  as above, agentd on PostgreSQL (--db CONNINFO, one fresh
#               database per repetition); also the server's CPU (the
#               postmaster's whole tree, sampled the same way).
#   pg_limit    tests/bench/limit-pg.c writes the throughput scenario's rows
#               into a database agentd migrated, with pgs_events_append's
#               statement text and parameters (one statement per run, BEGIN
#               ... COMMIT around R runs) in the batch shape measured from
#               the first throughput store, on as many connections as agentd
#               has workers (2): the PostgreSQL ceiling; agentd's throughput
#               as a fraction of it. Full mode also measures one connection
#               and libpq pipeline mode (one round trip a transaction).
#   failover    3 hosts (--host-id, own --socket, --lease-ttl FO_TTL, default
#               10) on one database, 300 runs x 200 deltas 100 ms apart in
#               flight over them; kill -9 of the host (supervisor and
#               workers) holding the share nearest a third; for each of its
#               runs the time from the kill to its first event stored after
#               it (events.at, the database's clock, unix ms; this
#               machine's clock is the server's): p50, p99, max against
#               TTL + 3 s; then every run completed with each event exactly
#               once (counts, and tests/integration/verify.py against
#               agent-mock's truth).
#   follow      runs ingested on host A (the only host when they were
#               claimed) followed over host B's API socket: per event, its
#               arrival at B's SSE follower minus its arrival at a direct SSE
#               client of agent-mock, as in the api scenario; p50, p99.
#
# scale, resume, api, limit and front are SQLite's only (their store
# queries and generator are SQLite's); under STORE=postgres they are skipped
# and said so, as pg_limit, failover and follow are without it.
#
# Environment:
#   BIN=bin            agentd, agentctl, agent-mock
#   PEER_DIR=DIR       the peer's folder (peer.mjs); unset: the peer is
#                      skipped and said so. Its node_modules is installed
#                      with `npm ci --prefix DIR` if missing.
#   QUICK=0|1          1: one repetition and smaller scale/resume/api
#                      stores; finishes in under two minutes.
#   LIMIT_BIN=build/bench-limit   the helper built from limit.c (built here
#                      if missing or older than limit.c)
#   ONLY="throughput scale resume api limit sustained front"   a subset
#                      (STORE=postgres: "throughput pg_limit failover follow")
#   STORE=sqlite|postgres  the store agentd runs on (default sqlite).
#   AGENTD_FLAGS="..."  more agentd flags for every scenario (e.g.
#                      "--http-client curl" to measure libcurl's streams)
#                      postgres needs PostgreSQL's server binaries (initdb,
#                      pg_ctl, postgres; see tests/pg/pg.sh) and psql: without
#                      them bench.sh says so and exits 1
#   LIMIT_PG_BIN=build/bench-limit-pg   the helper built from limit-pg.c
#                      (STORE=postgres; built here if missing or older)
#   FO_TTL=10          failover: the hosts' --lease-ttl in seconds
#   KEEP=1             keep the temporary directory (logs, stores)
#
# Output: one "RESULT name [store=S]: ..." line per scenario on stdout, the
# table (its title names the store),
# progress notes ("bench: ...") on stderr. tests/bench/profile.sh (perf
# profiles, --workers sweep) reuses these functions; see its header.
#
# Needs: sqlite3, curl, a C compiler with sqlite3's pkg-config (for the
# helper; with STORE=postgres libpq's too), node >= 18 for the peer. Every wait is bounded; every process
# started here is stopped by pid on exit.
set -u

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
BIN=${BIN:-bin}
case $BIN in /*) ;; *) BIN=$top/$BIN ;; esac
QUICK=${QUICK:-0}
PEER_DIR=${PEER_DIR:-}
LIMIT_BIN=${LIMIT_BIN:-build/bench-limit}
case $LIMIT_BIN in /*) ;; *) LIMIT_BIN=$top/$LIMIT_BIN ;; esac
STORE=${STORE:-sqlite}
case $STORE in
sqlite) ;;
postgres | postgresql | pg) STORE=postgres ;;
*) echo "bench: STORE=$STORE: expected sqlite or postgres" >&2; exit 2 ;;
esac
if [ "$STORE" = postgres ]; then
	ONLY=${ONLY:-throughput pg_limit failover follow}
else
	ONLY=${ONLY:-throughput scale resume api limit sustained front}
fi
KEEP=${KEEP:-0}
LB=$LIMIT_BIN
LIMIT_PG_BIN=${LIMIT_PG_BIN:-build/bench-limit-pg}
case $LIMIT_PG_BIN in /*) ;; *) LIMIT_PG_BIN=$top/$LIMIT_PG_BIN ;; esac
LPG=$LIMIT_PG_BIN
FO_TTL=${FO_TTL:-10}

note() { echo "bench: $*" >&2; }
die() { echo "bench: $*" >&2; exit 1; }

for p in agentd agentctl agent-mock; do
	[ -x "$BIN/$p" ] || die "$BIN/$p missing: run make first"
done
for p in sqlite3 curl; do
	command -v $p >/dev/null 2>&1 || die "$p not found (make deps)"
done
if [ ! -x "$LB" ] || [ "$top/tests/bench/limit.c" -nt "$LB" ]; then
	mkdir -p "$(dirname "$LB")"
	# Libraries after the source: the linker resolves left to right.
	${CC:-cc} -O2 $(pkg-config --cflags sqlite3) \
	    "$top/tests/bench/limit.c" -o "$LB" \
	    $(pkg-config --libs sqlite3) || die "cannot build $LB"
fi
if [ "$STORE" = postgres ]; then
	# The server binaries, psql and libpq: said why and stopped without.
	. "$top/tests/pg/pg.sh"
	pg_bindir >/dev/null ||
	    die "STORE=postgres: no PostgreSQL server binaries (initdb, pg_ctl, postgres) in pg_config --bindir or /usr/lib/postgresql/*/bin; install them with: apt-get install -y postgresql (or set PG_BINDIR)"
	command -v psql >/dev/null 2>&1 ||
	    die "STORE=postgres: psql not found (apt-get install -y postgresql-client)"
	if [ ! -x "$LPG" ] || [ "$top/tests/bench/limit-pg.c" -nt "$LPG" ]; then
		pkg-config --exists libpq ||
		    die "STORE=postgres: libpq's pkg-config not found (apt-get install -y libpq-dev)"
		mkdir -p "$(dirname "$LPG")"
		${CC:-cc} -O2 $(pkg-config --cflags libpq) \
		    "$top/tests/bench/limit-pg.c" -o "$LPG" \
		    $(pkg-config --libs libpq) || die "cannot build $LPG"
	fi
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-bench-XXXXXX") || exit 1
TABLE=$T/table
: >"$TABLE"
PIDS=
BENCH_T0=$(date +%s)

cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null; done
	sleep 0.3
	for p in $PIDS; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ "$STORE" = postgres ] && [ -f "$T/pg/pg.env" ] && pg_stop "$T/pg" >&2
	if [ "$KEEP" = 1 ]; then
		note "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

track() { PIDS="$PIDS $1"; }
untrack() {
	_n=
	for _p in $PIDS; do [ "$_p" = "$1" ] || _n="$_n $_p"; done
	PIDS=$_n
}

now_ms() { date +%s%3N; }
# calc EXPR: awk arithmetic, printed with %.Nf given as $2 (default 1)
calc() { awk "BEGIN { printf \"%.${2:-1}f\", $1 }"; }
# sql DB QUERY: DB is a SQLite file, or with STORE=postgres a conninfo
sql() {
	if [ "$STORE" = postgres ]; then
		psql -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2"
	else
		sqlite3 -cmd ".timeout 10000" "$1" "$2"
	fi
}
# pg_admin QUERY: as the throwaway server's superuser, in database postgres
pg_admin() {
	psql -X -q -A -t -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" \
	    -U postgres -d postgres -c "$1"
}
# new_store NAME: a fresh store's --db argument: $T/NAME.db, or with
# STORE=postgres a new empty database NAME (its conninfo).
new_store() {
	if [ "$STORE" = postgres ]; then
		pg_admin "CREATE DATABASE $1 OWNER agentd" >&2 ||
		    die "cannot create database $1"
		echo "host=$PGHOST port=$PGPORT user=agentd dbname=$1"
	else
		echo "$T/$1.db"
	fi
}
# drop_store NAME: a PostgreSQL store no longer needed (nothing on SQLite)
drop_store() {
	[ "$STORE" = postgres ] || return 0
	pg_admin "DROP DATABASE IF EXISTS $1" >&2
}
# kv KEY FILE: the value of KEY=VALUE in a one-line file
kv() { sed -n "s/.*\\<$1=\\([^ ]*\\).*/\\1/p" "$2" | head -1; }
# jnum KEY: a number field of the JSON line on stdin
jnum() { sed -n "s/.*\"$1\":\\([0-9.]*\\).*/\\1/p" | head -1; }
# median of the numbers given as arguments
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
# result LINE: a scenario's one result line ("name: ..."), the store named
result() {
	_rl="$*"
	echo "RESULT ${_rl%%:*} [store=$STORE]:${_rl#*:}"
	echo "$*" >>"$T/results"
}
# row METRIC AGENTD PEER PEER_PERSIST: a table row (ratios computed here)
row() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "${3:--}" "${4:--}" >>"$TABLE"; }

# wait_for SECONDS CMD...: poll every 0.1 s.
wait_for() {
	_lim=$1
	shift
	_i=0
	while [ "$_i" -lt $((_lim * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# start_mock NAME: a fresh agent-mock; sets MOCK_PID, MOCK_URL.
start_mock() {
	rm -f "$T/$1.port"
	"$BIN/agent-mock" --port-file "$T/$1.port" >>"$T/$1-mock.log" 2>&1 &
	MOCK_PID=$!
	track $MOCK_PID
	wait_for 10 test -s "$T/$1.port" || die "agent-mock did not start"
	MOCK_URL=http://127.0.0.1:$(cat "$T/$1.port")
}

stop_pid() {
	kill -TERM "$1" 2>/dev/null
	_i=0
	while kill -0 "$1" 2>/dev/null && [ $_i -lt 100 ]; do
		sleep 0.1
		_i=$((_i + 1))
	done
	kill -KILL "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	untrack "$1"
}

# start_agentd NAME DB [FLAGS...]: sets AGENTD_PID, SOCK, READY_MS (time
# from exec until the API answers).
start_agentd() {
	_name=$1
	DB=$2
	shift 2
	SOCK=$T/$_name.sock
	_t0=$(now_ms)
	"$BIN/agentd" --db "$DB" --socket "$SOCK" --endpoint "$MOCK_URL/v1" \
	    "$@" ${AGENTD_FLAGS:-} >>"$T/$_name-agentd.log" 2>&1 &
	AGENTD_PID=$!
	track $AGENTD_PID
	wait_for 120 "$BIN/agentctl" -s "$SOCK" status ||
	    die "agentd did not start (see $T/$_name-agentd.log)"
	READY_MS=$(($(now_ms) - _t0))
}

ctl() { "$BIN/agentctl" -s "$SOCK" "$@"; }

# active DB: runs not yet terminal
active() { sql "$1" "SELECT count(*) FROM runs WHERE status IN ('pending','starting','running')"; }

# wait_terminal DB SECONDS: 0 once every run is terminal.
wait_terminal() {
	_i=0
	while [ "$_i" -lt $(($2 * 10)) ]; do
		[ "$(active "$1")" = 0 ] && return 0
		sleep 0.1
		_i=$((_i + 1))
	done
	return 1
}

# jsonl FILE N DELTAS INTERVAL TAG: N requests with unique inputs.
jsonl() {
	awk -v n="$2" -v ev="$3" -v iv="$4" -v tag="$5" 'BEGIN {
		for (i = 1; i <= n; i++)
			printf "{\"model\":\"mock\",\"input\":\"%s run %d\",\"metadata\":{\"mock_events\":\"%s\",\"mock_interval_ms\":\"%s\"}}\n", tag, i, ev, iv
	}' >"$1"
}

# submit_jsonl FILE: agentctl batch, split in two concurrent halves when big.
submit_jsonl() {
	_n=$(wc -l <"$1")
	if [ "$_n" -lt 2000 ]; then
		ctl batch "$1" >>"$T/batch.log" 2>&1
		return
	fi
	head -n $((_n / 2)) "$1" >"$1.a"
	tail -n +$((_n / 2 + 1)) "$1" >"$1.b"
	ctl batch "$1.a" >>"$T/batch.log" 2>&1 &
	_b=$!
	ctl batch "$1.b" >>"$T/batch.log" 2>&1
	wait $_b
}

PEER_OK=0
PEER_WHY="PEER_DIR not set"
check_peer() {
	[ -n "$PEER_DIR" ] || return
	case $PEER_DIR in /*) ;; *) PEER_DIR=$top/$PEER_DIR ;; esac
	if [ ! -f "$PEER_DIR/peer.mjs" ]; then
		PEER_WHY="no peer.mjs in $PEER_DIR"
		return
	fi
	if ! command -v node >/dev/null 2>&1; then
		PEER_WHY="node not installed"
		return
	fi
	if [ ! -d "$PEER_DIR/node_modules/openai" ]; then
		note "installing the peer: npm ci --prefix $PEER_DIR"
		if ! npm ci --prefix "$PEER_DIR" >"$T/npm.log" 2>&1; then
			PEER_WHY="npm ci --prefix $PEER_DIR failed (see the log)"
			tail -5 "$T/npm.log" >&2
			return
		fi
	fi
	PEER_OK=1
	PEER_WHY=
}

# run_peer NAME RUNS EVENTS INTERVAL [persist]: the peer on a fresh mock.
# Sets P_EVPS P_EVENTS P_SECS P_CPU P_RSS_MB P_SELF_RSS P_MOCK_CPU P_OK.
run_peer() {
	_name=$1
	start_mock "$_name"
	_persist=
	[ "${5:-}" = persist ] && _persist="--persist $T/$_name.jsonl"
	"$LB" sample -o "$T/$_name.mock.sample" $MOCK_PID &
	_ms=$!
	(
		ulimit -n "$(ulimit -Hn)" 2>/dev/null
		cd "$T" &&
		exec timeout -k 5 600 "$LB" run -o "$T/$_name.peer.run" -- \
		    node "$PEER_DIR/peer.mjs" --base-url "$MOCK_URL/v1" \
		    --runs "$2" --events "$3" --interval-ms "$4" $_persist
	) >"$T/$_name.peer.out" 2>"$T/$_name.peer.err"
	_rc=$?
	kill -TERM $_ms 2>/dev/null
	wait $_ms
	stop_pid $MOCK_PID
	rm -f "$T/$_name.jsonl"
	P_OK=1
	P_EVPS=$(jnum events_per_s <"$T/$_name.peer.out")
	P_EVENTS=$(jnum events <"$T/$_name.peer.out")
	P_SECS=$(jnum seconds <"$T/$_name.peer.out")
	P_SELF_RSS=$(jnum peak_rss_mb <"$T/$_name.peer.out")
	P_CPU=$(kv cpu_s "$T/$_name.peer.run")
	P_RSS_MB=$(calc "$(kv peak_rss_kb "$T/$_name.peer.run") / 1024" 0)
	P_MOCK_CPU=$(kv cpu_s "$T/$_name.mock.sample")
	if [ "$_rc" -ne 0 ] || [ -z "$P_EVPS" ]; then
		P_OK=0
		note "peer $_name failed (exit $_rc): $(tail -3 "$T/$_name.peer.err" | tr '\n' ' ')"
	fi
}

# ------------------------------------------------------------ throughput

TP_RUNS=200
TP_DELTAS=${TP_DELTAS:-2000}
TP_EVENTS=$((TP_RUNS * (TP_DELTAS + 8)))
TP_REPS=3
[ "$QUICK" = 1 ] && TP_REPS=1

# tp_agentd NAME [agentd flags]: one agentd throughput run on a fresh
# mock and store. Sets A_EVPS A_CPU A_RSS_MB A_MOCK_CPU A_OK A_DB A_WHY.
tp_agentd() {
	_name=$1
	shift
	start_mock "$_name"
	A_DB=$(new_store "$_name") || exit 1
	start_agentd "$_name" "$A_DB" "$@"
	jsonl "$T/$_name.jsonl" $TP_RUNS $TP_DELTAS 0 "$_name"
	"$LB" sample -o "$T/$_name.agentd.sample" $AGENTD_PID &
	_as=$!
	"$LB" sample -o "$T/$_name.mock.sample" $MOCK_PID &
	_ms=$!
	_ps=
	if [ "$STORE" = postgres ]; then
		"$LB" sample -o "$T/$_name.pg.sample" $PG_PID &
		_ps=$!
	fi
	sleep 0.1
	_t0=$(now_ms)
	submit_jsonl "$T/$_name.jsonl"
	A_OK=1
	A_WHY=
	wait_terminal "$A_DB" 300 || { A_OK=0; A_WHY="timeout"; }
	kill -TERM $_as $_ms $_ps 2>/dev/null
	wait $_as $_ms $_ps
	_end=$(sql "$A_DB" "SELECT max(finished_at) FROM runs")
	_ev=$(sql "$A_DB" "SELECT count(*) FROM events")
	_done=$(sql "$A_DB" "SELECT count(*) FROM runs WHERE status = 'completed'")
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
	if [ "$_ev" != "$TP_EVENTS" ] || [ "$_done" != "$TP_RUNS" ]; then
		A_OK=0
		A_WHY="$A_WHY stored $_ev of $TP_EVENTS events, $_done of $TP_RUNS runs completed"
	fi
	A_SECS=$(calc "($_end - $_t0) / 1000" 3)
	A_EVPS=$(calc "$_ev / $A_SECS" 0)
	A_CPU=$(kv cpu_s "$T/$_name.agentd.sample")
	A_RSS_MB=$(calc "$(kv peak_rss_kb "$T/$_name.agentd.sample") / 1024" 0)
	A_MOCK_CPU=$(kv cpu_s "$T/$_name.mock.sample")
	A_PG_CPU= A_DL=
	if [ -n "$_ps" ]; then
		A_PG_CPU=$(kv cpu_s "$T/$_name.pg.sample")
		A_DL=$(grep -c 'deadlock detected' "$T/$_name-agentd.log")
	fi
}

scenario_throughput() {
	note "throughput: $TP_RUNS runs x $TP_DELTAS deltas, $TP_REPS repetition(s)"
	a_evps= a_cpu= a_rss= p_evps= p_cpu= p_rss= q_evps= q_cpu= q_rss=
	a_bad= p_bad= q_bad= g_cpu= g_dl=
	rep=1
	while [ $rep -le $TP_REPS ]; do
		tp_agentd tp$rep
		note "  agentd #$rep: $A_EVPS ev/s in $A_SECS s, cpu $A_CPU s, rss $A_RSS_MB MB, mock cpu $A_MOCK_CPU s${A_PG_CPU:+, PostgreSQL server cpu $A_PG_CPU s, $A_DL deadlocks logged} ${A_WHY:+FAILED: $A_WHY}"
		[ "$A_OK" = 1 ] || a_bad="$a_bad #$rep:$A_WHY"
		a_evps="$a_evps $A_EVPS"
		a_cpu="$a_cpu $(calc "$A_CPU / ($TP_EVENTS / 1000000)" 2)"
		a_rss="$a_rss $A_RSS_MB"
		[ -n "$A_PG_CPU" ] &&
		    g_cpu="$g_cpu $(calc "$A_PG_CPU / ($TP_EVENTS / 1000000)" 2)" &&
		    g_dl="$g_dl $A_DL"
		# The first store stays for the limit scenarios' batch shape.
		if [ $rep = 1 ]; then TP_DB=$A_DB; else drop_store tp$rep; fi
		if [ "$PEER_OK" = 1 ]; then
			run_peer tpp$rep $TP_RUNS $TP_DELTAS 0
			note "  peer #$rep: $P_EVPS ev/s ($P_EVENTS events in $P_SECS s), cpu $P_CPU s, rss $P_RSS_MB MB (self-reported $P_SELF_RSS), mock cpu $P_MOCK_CPU s"
			[ "$P_OK" = 1 ] || p_bad="$p_bad #$rep"
			p_evps="$p_evps $P_EVPS"
			p_cpu="$p_cpu $(calc "$P_CPU / (${P_EVENTS:-1} / 1000000)" 2)"
			p_rss="$p_rss $P_RSS_MB"
			run_peer tpq$rep $TP_RUNS $TP_DELTAS 0 persist
			note "  peer --persist #$rep: $P_EVPS ev/s ($P_EVENTS events in $P_SECS s), cpu $P_CPU s, rss $P_RSS_MB MB, mock cpu $P_MOCK_CPU s"
			[ "$P_OK" = 1 ] || q_bad="$q_bad #$rep"
			q_evps="$q_evps $P_EVPS"
			q_cpu="$q_cpu $(calc "$P_CPU / (${P_EVENTS:-1} / 1000000)" 2)"
			q_rss="$q_rss $P_RSS_MB"
		fi
		rep=$((rep + 1))
	done
	TP_AGENTD=$(median $a_evps)
	m_acpu=$(median $a_cpu)
	m_arss=$(median $a_rss)
	line="throughput: agentd $TP_AGENTD events/s (runs:$a_evps), $m_acpu CPU-s/M events, peak RSS $m_arss MB"
	[ -n "$g_cpu" ] && line="$line, PostgreSQL server $(median $g_cpu) CPU-s/M events (runs:$g_cpu), deadlocks logged by agentd (runs:$g_dl)"
	[ -n "$a_bad" ] && line="$line, FAILED:$a_bad"
	row "throughput, events/s (higher is better)" "$TP_AGENTD" "" ""
	row "throughput, CPU s per M events" "$m_acpu" "" ""
	row "throughput, peak RSS MB" "$m_arss" "" ""
	if [ "$PEER_OK" = 1 ]; then
		m_pevps=$(median $p_evps) m_pcpu=$(median $p_cpu) m_prss=$(median $p_rss)
		m_qevps=$(median $q_evps) m_qcpu=$(median $q_cpu) m_qrss=$(median $q_rss)
		line="$line; peer $m_pevps events/s (runs:$p_evps), $m_pcpu CPU-s/M, $m_prss MB; peer --persist $m_qevps events/s (runs:$q_evps), $m_qcpu CPU-s/M, $m_qrss MB; agentd/peer $(calc "$TP_AGENTD / $m_pevps" 2)x, agentd/peer-persist $(calc "$TP_AGENTD / $m_qevps" 2)x"
		[ -n "$p_bad$q_bad" ] && line="$line, peer failed:$p_bad$q_bad"
		: >"$TABLE.tmp"
		sed '$d' "$TABLE" | sed '$d' | sed '$d' >"$TABLE.tmp"
		mv "$TABLE.tmp" "$TABLE"
		row "throughput, events/s (higher is better)" "$TP_AGENTD" "$m_pevps" "$m_qevps"
		row "throughput, CPU s per M events" "$m_acpu" "$m_pcpu" "$m_qcpu"
		row "throughput, peak RSS MB" "$m_arss" "$m_prss" "$m_qrss"
	else
		line="$line; peer skipped ($PEER_WHY)"
	fi
	[ -n "$g_cpu" ] &&
	    row "throughput, PostgreSQL server CPU s per M events" "$(median $g_cpu)" "n/a" "n/a"
	result "$line"
}

# ----------------------------------------------------------------- scale

SC_RUNS=${SC_RUNS:-10000}
SC_DELTAS=${SC_DELTAS:-30}
[ "$QUICK" = 1 ] && SC_RUNS=1000 && SC_DELTAS=10
SC_INTERVAL=1000
# The memory slope: agentd alone at these sizes too (not in QUICK). 25,000
# streams need an open-file limit above the mock's 25,000 sockets: raised
# as root, else that size is skipped and says so.
SC_MORE=${SC_MORE:-5000 25000}
[ "$QUICK" = 1 ] && SC_MORE=

# scale_mock NAME RUNS: start_mock with room for RUNS sockets (as root).
scale_mock() {
	if [ "$2" -gt 15000 ]; then
		rm -f "$T/$1.port"
		(ulimit -n $(($2 * 2 + 1024)) 2>/dev/null
		 exec "$BIN/agent-mock" --port-file "$T/$1.port") >>"$T/$1-mock.log" 2>&1 &
		MOCK_PID=$!
		track $MOCK_PID
		wait_for 10 test -s "$T/$1.port" || die "agent-mock did not start"
		MOCK_URL=http://127.0.0.1:$(cat "$T/$1.port")
	else
		start_mock "$1"
	fi
}

# scale_size N: agentd alone with N slow runs; sets SZ_RSS_MB SZ_OK SZ_WHY.
scale_size() {
	_szn=$1
	_name=sc$_szn
	SZ_OK=1 SZ_WHY= SZ_RSS_MB=
	if [ "$_szn" -gt 15000 ] && [ "$(ulimit -Hn)" != unlimited ] &&
	    [ "$(ulimit -Hn)" -lt $((_szn * 2 + 1024)) ] && [ "$(id -u)" != 0 ]; then
		SZ_OK=0 SZ_WHY="skipped: the open-file hard limit ($(ulimit -Hn)) is too low for $_szn streams and this is not root"
		return
	fi
	scale_mock $_name $_szn
	db=$T/$_name.db
	# Each of agentd's 2 workers holds half the streams: within 20,000.
	start_agentd $_name "$db"
	jsonl "$T/$_name.jsonl" $_szn $SC_DELTAS $SC_INTERVAL $_name
	"$LB" sample -o "$T/$_name.agentd.sample" $AGENTD_PID &
	_as=$!
	sleep 0.1
	submit_jsonl "$T/$_name.jsonl"
	wait_terminal "$db" $((SC_DELTAS * SC_INTERVAL / 1000 * 2 + 90)) || { SZ_OK=0; SZ_WHY="timeout"; }
	kill -TERM $_as 2>/dev/null
	wait $_as
	_done=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed'")
	_ev=$(sql "$db" "SELECT count(*) FROM events")
	SZ_CONC=$(sql "$db" "SELECT max(s) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS s FROM (SELECT created_at AS t, 1 AS d FROM runs UNION ALL SELECT finished_at, -1 FROM runs WHERE finished_at IS NOT NULL))")
	SZ_RESUB=$(sql "$db" "SELECT coalesce(sum(creates - 1), 0) FROM runs WHERE creates > 1")
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
	[ "$_done" = "$_szn" ] && [ "$_ev" = $((_szn * (SC_DELTAS + 8))) ] ||
	    { SZ_OK=0; SZ_WHY="$SZ_WHY $_done of $_szn completed, $_ev events"; }
	SZ_RSS_MB=$(calc "$(kv peak_rss_kb "$T/$_name.agentd.sample") / 1024" 0)
	rm -f "$db" "$db-wal" "$db-shm"
}

scenario_scale() {
	note "scale: $SC_RUNS runs x $SC_DELTAS deltas, $SC_INTERVAL ms apart"
	_name=sc
	start_mock $_name
	db=$T/$_name.db
	start_agentd $_name "$db"
	jsonl "$T/$_name.jsonl" $SC_RUNS $SC_DELTAS $SC_INTERVAL $_name
	"$LB" sample -o "$T/$_name.agentd.sample" $AGENTD_PID &
	_as=$!
	"$LB" sample -o "$T/$_name.mock.sample" $MOCK_PID &
	_ms=$!
	sleep 0.1
	t0=$(now_ms)
	submit_jsonl "$T/$_name.jsonl"
	sub_s=$(calc "($(now_ms) - $t0) / 1000" 1)
	ok=1
	wait_terminal "$db" $((SC_DELTAS * SC_INTERVAL / 1000 * 2 + 60)) || ok=0
	t1=$(now_ms)
	kill -TERM $_as $_ms 2>/dev/null
	wait $_as $_ms
	done_n=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed'")
	ev=$(sql "$db" "SELECT count(*) FROM events")
	left=$(sql "$db" "SELECT group_concat(status || ':' || c, ' ') FROM (SELECT status, count(*) AS c FROM runs WHERE status != 'completed' GROUP BY status)")
	# Peak concurrency: +1 at submit, -1 at finish, running sum.
	conc=$(sql "$db" "SELECT max(s) FROM (SELECT sum(d) OVER (ORDER BY t, d ROWS UNBOUNDED PRECEDING) AS s FROM (SELECT created_at AS t, 1 AS d FROM runs UNION ALL SELECT finished_at, -1 FROM runs WHERE finished_at IS NOT NULL))")
	dur=$(sql "$db" "SELECT (finished_at - created_at) / 1000.0 FROM runs WHERE finished_at IS NOT NULL" | "$LB" pct)
	first=$(sql "$db" "SELECT (e.at - r.created_at) / 1000.0 FROM events e JOIN runs r ON r.n = e.run_n WHERE e.seq = 0" | "$LB" pct)
	[ "$ok" = 1 ] && t1=$(sql "$db" "SELECT max(finished_at) FROM runs")
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
	wall=$(calc "($t1 - $t0) / 1000" 1)
	a_rss=$(calc "$(kv peak_rss_kb "$T/$_name.agentd.sample") / 1024" 0)
	a_cpu=$(kv cpu_s "$T/$_name.agentd.sample")
	a_pct=$(calc "100 * $a_cpu / $wall" 0)
	line="scale: $SC_RUNS runs: agentd peak RSS $a_rss MB ($(calc "$a_rss * 1024 / $SC_RUNS" 1) KB/run), CPU $a_cpu s over $wall s ($a_pct% of a core; mock $(kv cpu_s "$T/$_name.mock.sample") s), submit took $sub_s s, peak $conc runs at once, first event stored p50 $(echo "$first" | kv p50 /dev/stdin) s max $(echo "$first" | kv max /dev/stdin) s after submit, run duration p50 $(echo "$dur" | kv p50 /dev/stdin) s max $(echo "$dur" | kv max /dev/stdin) s (the mock's schedule: $(calc "($SC_DELTAS + 7) * $SC_INTERVAL / 1000" 0) s), $done_n completed, $ev events"
	[ "$ok" = 1 ] && [ "$done_n" = "$SC_RUNS" ] && [ "$ev" = $((SC_RUNS * (SC_DELTAS + 8))) ] ||
	    line="$line, FAILED (expected $SC_RUNS completed, $((SC_RUNS * (SC_DELTAS + 8))) events; not completed: ${left:-none})"
	p_rss= p_cpu=
	if [ "$PEER_OK" = 1 ]; then
		run_peer scp $SC_RUNS $SC_DELTAS $SC_INTERVAL
		p_rss=$P_RSS_MB p_cpu=$P_CPU
		p_res=$(jnum resumes <"$T/scp.peer.out")
		line="$line; peer peak RSS $P_RSS_MB MB, CPU $P_CPU s, all runs done after $P_SECS s ($p_res resumes; mock $P_MOCK_CPU s), $P_EVENTS events; agentd/peer RSS $(calc "$a_rss / $P_RSS_MB" 2)x, CPU $(calc "$a_cpu / $P_CPU" 2)x"
		[ "$P_OK" = 1 ] && [ "$P_EVENTS" = $((SC_RUNS * (SC_DELTAS + 8))) ] ||
		    line="$line, peer failed"
	else
		line="$line; peer skipped ($PEER_WHY)"
	fi
	row "scale $SC_RUNS runs, peak RSS MB" "$a_rss" "$p_rss" ""
	row "scale $SC_RUNS runs, CPU s" "$a_cpu" "$p_cpu" ""
	row "scale $SC_RUNS runs, s until all done" "$wall" "${P_SECS:-}" ""
	result "$line"
	[ -n "$SC_MORE" ] || return 0
	# The slope between the smallest and the largest size measured.
	sizes="$SC_RUNS:$a_rss"
	for _sz in $SC_MORE; do
		note "scale: $_sz runs x $SC_DELTAS deltas (agentd alone)"
		scale_size "$_sz"
		note "  $_sz runs: peak RSS ${SZ_RSS_MB:-?} MB, peak ${SZ_CONC:-?} runs at once, ${SZ_RESUB:-?} creates sent again ${SZ_WHY:+($SZ_WHY)}"
		[ "$SZ_OK" = 1 ] && sizes="$sizes $_sz:$SZ_RSS_MB"
		row "scale $_sz runs, peak RSS MB" "${SZ_RSS_MB:--}${SZ_WHY:+ ($SZ_WHY)}" "" ""
	done
	sizes=$(echo "$sizes" | tr ' ' '\n' | sort -t: -k1 -n | tr '\n' ' ' | sed 's/ $//')
	slope=$(echo "$sizes" | tr ' ' '\n' | awk -F: '
	    NR == 1 { n0 = $1; r0 = $2 } { n1 = $1; r1 = $2 }
	    END { if (n1 > n0) printf "%.1f KB a run from %d to %d runs", (r1 - r0) * 1024 / (n1 - n0), n0, n1; else print "unmeasured" }')
	row "scale: RSS slope" "$slope" "" ""
	result "scale-slope: agentd peak RSS by concurrent slow runs: $(echo "$sizes" | sed 's/:/ runs /g; s/ \([0-9]* runs\)/ MB, \1/g') MB; slope $slope"
}

# ---------------------------------------------------------------- resume

RS_RUNS=1000
[ "$QUICK" = 1 ] && RS_RUNS=200
RS_DELTAS=60
RS_INTERVAL=500

scenario_resume() {
	note "resume: $RS_RUNS runs x $RS_DELTAS deltas, $RS_INTERVAL ms apart; kill -9 and restart"
	_name=rs
	start_mock $_name
	db=$T/$_name.db
	start_agentd $_name "$db"
	jsonl "$T/$_name.jsonl" $RS_RUNS $RS_DELTAS $RS_INTERVAL $_name
	submit_jsonl "$T/$_name.jsonl"
	# In flight: every run has stored a few deltas.
	_i=0
	while [ $_i -lt 300 ]; do
		n=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running' AND last_seq >= 6")
		[ "$n" = "$RS_RUNS" ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	workers=$(ps -o pid= --ppid $AGENTD_PID 2>/dev/null)
	kill -KILL $AGENTD_PID
	wait $AGENTD_PID 2>/dev/null
	untrack $AGENTD_PID
	for w in $workers; do
		_i=0
		while kill -0 "$w" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	done
	before=$(sql "$db" "SELECT count(*) FROM events")
	sleep 1
	t0=$(now_ms)
	start_agentd $_name "$db"
	ok=1
	_i=0
	while :; do
		got=$(sql "$db" "SELECT count(DISTINCT run_n) FROM events WHERE at >= $t0")
		[ "$got" = "$RS_RUNS" ] && break
		[ $_i -ge 600 ] && { ok=0; break; }
		sleep 0.1
		_i=$((_i + 1))
	done
	sql "$db" "SELECT min(at) - $t0 FROM events WHERE at >= $t0 GROUP BY run_n" >"$T/$_name.lat"
	pct=$("$LB" pct <"$T/$_name.lat")
	line="resume: $RS_RUNS runs in flight ($before events stored), kill -9, restart: API ready after $READY_MS ms; first new event per run after restart p50 $(echo "$pct" | kv p50 /dev/stdin) ms, p99 $(echo "$pct" | kv p99 /dev/stdin) ms, max $(echo "$pct" | kv max /dev/stdin) ms ($got of $RS_RUNS runs, in $(sort -u "$T/$_name.lat" | wc -l) distinct commit times)"
	[ "$ok" = 1 ] || line="$line, FAILED: $((RS_RUNS - got)) runs had no new event within 60 s"
	if [ "$QUICK" != 1 ]; then
		if wait_terminal "$db" $((RS_DELTAS * RS_INTERVAL / 1000 + 60)); then
			done_n=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed' AND event_count = $((RS_DELTAS + 8)) AND last_seq = $((RS_DELTAS + 7))")
			ev=$(sql "$db" "SELECT count(*) FROM events")
			line="$line; then $done_n of $RS_RUNS completed with all events ($ev stored)"
			[ "$done_n" = "$RS_RUNS" ] && [ "$ev" = $((RS_RUNS * (RS_DELTAS + 8))) ] ||
			    line="$line, FAILED"
		else
			line="$line; FAILED: $(active "$db") runs still active after the run time + 60 s"
		fi
	fi
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
	row "resume after kill -9, ms to first new event p50/p99/max" \
	    "$(echo "$pct" | kv p50 /dev/stdin | cut -d. -f1)/$(echo "$pct" | kv p99 /dev/stdin | cut -d. -f1)/$(echo "$pct" | kv max /dev/stdin | cut -d. -f1)" "n/a" "n/a"
	result "$line"
}

# ------------------------------------------------------------------- api

API_RUNS=1000000
API_EV=10
[ "$QUICK" = 1 ] && API_RUNS=100000

# gen_store DB RUNS EVENTS_PER_RUN: a big historic store in agentd's schema
# (applied by agentd itself). Only the runs columns the schema has are
# filled, so the generator follows schema migrations. The runs are spread
# evenly over GEN_DAYS days, ending a day ago.
GEN_DAYS=14
gen_store() {
	_db=$1 _n=$2 _e=$3
	_sp=$((GEN_DAYS * 86400000 / _n))
	_base=$(($(now_ms) - _n * _sp - 86400000))
	_chunk=100000
	sql "$_db" "SELECT name FROM pragma_table_info('runs')" >"$T/runs.cols"
	# column<TAB>expression (value is the run number)
	cat >"$T/runs.exprs" <<EOF
n	value
id	printf('r_%08x%08x', (value * 2654435761) % 4294967296, value)
queue	'default'
priority	0
endpoint	'$MOCK_URL/v1'
dialect	'openai'
request	printf('{"model":"mock","input":"historic run %d","metadata":{"mock_events":"$((_e - 8))","mock_interval_ms":"20"}}', value)
mode	'auto'
resolved_mode	'background'
status	'completed'
backend_id	printf('resp_%024x', value)
backend_status	'completed'
resumable	1
attempts	1
creates	1
last_seq	$((_e - 1))
event_count	$_e
last_event_at	$_base + value * $_sp + $_e
output_text	printf('r%d-tok0 r%d-tok1 ', value, value)
created_at	$_base + value * $_sp
updated_at	$_base + value * $_sp + $_e
finished_at	$_base + value * $_sp + $_e
EOF
	_cols=$(awk -F '\t' 'FNR == NR { have[$1] = 1; next }
	    have[$1] { printf "%s%s", sep, $1; sep = ", " }' \
	    "$T/runs.cols" "$T/runs.exprs")
	_exprs=$(awk -F '\t' 'FNR == NR { have[$1] = 1; next }
	    have[$1] { printf "%s%s", sep, $2; sep = ", " }' \
	    "$T/runs.cols" "$T/runs.exprs")
	# A run's result: in run_results since schema version 5.
	_results=1
	grep -qx output_text "$T/runs.cols" && _results=
	_type="CASE s.value WHEN 0 THEN 'response.created' WHEN 1 THEN
	    'response.in_progress' WHEN $((_e - 1)) THEN 'response.completed'
	    ELSE 'response.output_text.delta' END"
	{
		echo ".bail on"
		echo "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF;"
		echo "PRAGMA cache_size=-262144;"
		_lo=1
		while [ $_lo -le "$_n" ]; do
			_hi=$((_lo + _chunk - 1))
			[ $_hi -gt "$_n" ] && _hi=$_n
			cat <<EOF
BEGIN;
INSERT INTO runs ($_cols) SELECT $_exprs FROM generate_series($_lo, $_hi);
INSERT INTO events (run_n, seq, type, data, at)
SELECT r.value, s.value, $_type,
  printf('{"type":"%s","sequence_number":%d,"item_id":"msg_%024x","output_index":0,"content_index":0,"delta":"r%d-tok%d ","logprobs":[]}',
    $_type, s.value, r.value, r.value, s.value),
  $_base + r.value * $_sp + s.value
FROM generate_series($_lo, $_hi) AS r CROSS JOIN generate_series(0, $((_e - 1))) AS s;
$([ -z "$_results" ] || echo "INSERT INTO run_results (n, output_text) SELECT value, printf('r%d-tok0 r%d-tok1 ', value, value) FROM generate_series($_lo, $_hi);")
COMMIT;
EOF
			_lo=$((_hi + 1))
		done
		echo "PRAGMA journal_mode=WAL;"
	} | sqlite3 "$_db" >/dev/null
}

# follow_lat NAME DB DELTAS FOLLOW_SOCK: follow latency. 10 followed runs
# among 40 background runs (DELTAS deltas 50 ms apart each), submitted
# through $SOCK; once the 10 have a backend id, $FOLLOW_HOOK runs (if set),
# then each is followed over FOLLOW_SOCK (SSE, GET /v1/runs/ID/events) and
# read straight from agent-mock at once. Per event, its arrival at the
# follower minus its arrival at the direct client, in ms, one a line, to
# $T/NAME.fw.ms (the direct client's backlog of its first 150 ms skipped).
follow_lat() {
	_fn=$1 _fdb=$2 _fd=$3 _fsock=$4
	FW=10
	jsonl "$T/$_fn-bg.jsonl" 40 "$_fd" 50 "$_fn-bg"
	submit_jsonl "$T/$_fn-bg.jsonl"
	: >"$T/$_fn.fw.ids"
	k=1
	while [ $k -le $FW ]; do
		printf '{"model":"mock","input":"follow %s","metadata":{"mock_events":"%s","mock_interval_ms":"50"}}' $k "$_fd" |
		    ctl submit -f - >>"$T/$_fn.fw.ids"
		k=$((k + 1))
	done
	_i=0
	while [ $_i -lt 100 ]; do
		nb=$(sql "$_fdb" "SELECT count(*) FROM runs WHERE request LIKE '%\"follow %' AND backend_id IS NOT NULL")
		[ "$nb" = $FW ] && break
		sleep 0.05
		_i=$((_i + 1))
	done
	[ -n "${FOLLOW_HOOK:-}" ] && $FOLLOW_HOOK
	fpids=
	k=1
	for id in $(cat "$T/$_fn.fw.ids"); do
		bid=$(sql "$_fdb" "SELECT backend_id FROM runs WHERE id = '$id'")
		curl -sN --max-time 30 --unix-socket "$_fsock" \
		    -H 'Accept: text/event-stream' \
		    "http://localhost/v1/runs/$id/events" |
		    "$LB" stamp >"$T/$_fn.fw$k.agentd" &
		fpids="$fpids $!"
		curl -sN --max-time 30 \
		    "$MOCK_URL/v1/responses/$bid?stream=true&starting_after=-1" |
		    "$LB" stamp >"$T/$_fn.fw$k.mock" &
		fpids="$fpids $!"
		k=$((k + 1))
	done
	wait $fpids
	: >"$T/$_fn.fw.ms"
	k=1
	while [ $k -le $FW ]; do
		# Skip the backlog the direct client got at attach (150 ms).
		awk 'FNR == NR {
			if ($2 == "data:" && match($0, /"sequence_number":[0-9]+/)) {
				s = substr($0, RSTART + 18, RLENGTH - 18)
				if (first == "") first = $1
				if (!(s in m)) m[s] = $1
			}
			next
		}
		$2 == "id:" && ($3 in m) && m[$3] >= first + 150000 {
			printf "%.3f\n", ($1 - m[$3]) / 1000
		}' "$T/$_fn.fw$k.mock" "$T/$_fn.fw$k.agentd" >>"$T/$_fn.fw.ms"
		k=$((k + 1))
	done
}

# db_mb DB / db_free_mb DB: a SQLite file's size, and what of it is free
# pages (reused by later writes; only VACUUM gives them back).
db_mb() { calc "$(stat -c %s "$1") / 1048576" 0; }
db_free_mb() { calc "$(sql "$1" "SELECT freelist_count * page_size FROM pragma_freelist_count, pragma_page_size") / 1048576" 0; }

# growth DB: on the api scenario's store (API_RUNS runs over days, its
# load and follows since), with agentd running: what the disk holds per
# million events, agentd's ingestion rate on it with no API load, a prune
# of what is older than 7 days (its time, and GET meanwhile), and whether
# the space prune frees is reused.
growth() {
	_db=$1
	_ev0=$(sql "$_db" "SELECT count(*) FROM events")
	_mb0=$(db_mb "$_db")
	_gen_per=$(calc "$_mb0 * 1000000 / $_ev0" 0)
	note "growth: $_ev0 events, $_mb0 MB ($_gen_per MB per million events)"
	# Ingestion on the grown store, nothing else asking.
	jsonl "$T/gr-load.jsonl" $TP_RUNS $TP_DELTAS 0 gr-load
	_n0=$(sql "$_db" "SELECT max(n) FROM runs")
	_t0=$(now_ms)
	submit_jsonl "$T/gr-load.jsonl"
	wait_terminal "$_db" 300
	_end=$(sql "$_db" "SELECT max(finished_at) FROM runs WHERE n > $_n0")
	_lev=$(sql "$_db" "SELECT count(*) FROM events WHERE run_n > $_n0")
	_evps=$(calc "$_lev / (($_end - $_t0) / 1000)" 0)
	_mb1=$(db_mb "$_db")
	_ev1=$(sql "$_db" "SELECT count(*) FROM events")
	_org_per=$(calc "($_mb1 - $_mb0) * 1000000 / ($_ev1 - $_ev0)" 0)
	note "  ingestion: $_lev events at $_evps events/s; the file grew $(($_mb1 - $_mb0)) MB ($_org_per MB per million events as ingested)"
	# Prune what is older than 7 days, GET sampled meanwhile.
	_old=$(sql "$_db" "SELECT count(*), coalesce(sum(event_count), 0) FROM runs WHERE finished_at < $(now_ms) - 7 * 86400000" | tr '|' ' ')
	set -- $_old
	_pr_runs=$1 _pr_ev=$2
	: >"$T/gr.get.ms"
	rm -f "$T/gr.done"
	_gid=$(sql "$_db" "SELECT id FROM runs ORDER BY n DESC LIMIT 1")
	(while [ ! -e "$T/gr.done" ]; do
		curl -s --unix-socket "$SOCK" -o /dev/null -w '%{time_total}\n' \
		    "http://localhost/v1/runs/$_gid" | awk '{ print $1 * 1000 }'
		sleep 0.01
	done >>"$T/gr.get.ms") &
	_gp=$!
	_p0=$(now_ms)
	_pruned=$("$BIN/agentctl" -s "$SOCK" prune --older-than 7d 2>>"$T/batch.log" | awk '{ print $2 }')
	_ps=$(calc "($(now_ms) - $_p0) / 1000" 1)
	touch "$T/gr.done"
	wait $_gp
	_gget=$("$LB" pct <"$T/gr.get.ms")
	_mb2=$(db_mb "$_db")
	_free2=$(db_free_mb "$_db")
	_ev2=$(sql "$_db" "SELECT count(*) FROM events")
	_live_per=$(calc "($_mb2 - $_free2) * 1000000 / $_ev2" 0)
	note "  prune --older-than 7d: ${_pruned:-?} runs ($_pr_ev events) in $_ps s; GET meanwhile $_gget"
	note "  after: $_ev2 events, file $_mb2 MB of which $_free2 MB free ($_live_per MB per million events live)"
	# The same load again: the free pages take it.
	jsonl "$T/gr-load2.jsonl" $TP_RUNS $TP_DELTAS 0 gr-load2
	submit_jsonl "$T/gr-load2.jsonl"
	wait_terminal "$_db" 300
	_mb3=$(db_mb "$_db")
	_free3=$(db_free_mb "$_db")
	note "  another $_lev events after the prune: file $_mb3 MB ($(($_mb3 - $_mb2)) MB more), $_free3 MB free"
	p() { echo "$2" | kv "$1" /dev/stdin; }
	row "growth: MB per million events (generated / ingested / live after prune)" "$_gen_per/$_org_per/$_live_per" "n/a" "n/a"
	row "growth: events/s on the $_ev0-event store" "$_evps" "n/a" "n/a"
	row "growth: prune 7d, runs/s" "$(calc "${_pruned:-0} / $_ps" 0)" "n/a" "n/a"
	row "growth: GET during prune p50/p99/max ms" "$(p p50 "$_gget")/$(p p99 "$_gget")/$(p max "$_gget")" "n/a" "n/a"
	_line="growth: store of $_ev0 events over $GEN_DAYS days: $_mb0 MB, $_gen_per MB per million events as generated; $_lev events ingested on it at $_evps events/s (nothing else asking), $_org_per MB per million as ingested; prune --older-than 7d removed ${_pruned:-?} runs / $_pr_ev events in $_ps s ($(calc "${_pruned:-0} / $_ps" 0) runs/s), GET /v1/runs/ID meanwhile p50 $(p p50 "$_gget") p99 $(p p99 "$_gget") max $(p max "$_gget") ms ($(p n "$_gget") calls); after it $_ev2 events live, file $_mb2 MB with $_free2 MB free ($_live_per MB per million live events); the same load again grew the file $(($_mb3 - $_mb2)) MB ($_free3 MB still free)"
	# What crossed the 7 days while it ran may stay; nothing older may.
	_left=$(sql "$_db" "SELECT count(*) FROM runs WHERE finished_at < $_p0 - 7 * 86400000")
	[ -n "$_pruned" ] && [ "$_pruned" -ge "$_pr_runs" ] && [ "$_left" = 0 ] ||
	    _line="$_line, FAILED: prune removed ${_pruned:-nothing} of $_pr_runs, $_left older than 7 days left"
	result "$_line"
}

scenario_api() {
	note "api: generating a store of $API_RUNS runs / $((API_RUNS * API_EV)) events"
	_name=api
	start_mock $_name
	db=$T/$_name.db
	start_agentd $_name "$db"	# applies the schema
	stop_pid $AGENTD_PID
	g0=$(now_ms)
	gen_store "$db" $API_RUNS $API_EV
	gen_s=$(calc "($(now_ms) - $g0) / 1000" 1)
	nruns=$(sql "$db" "SELECT count(*) FROM runs")
	if [ "$nruns" != "$API_RUNS" ]; then
		stop_pid $MOCK_PID
		result "api: FAILED: could not generate the store ($nruns of $API_RUNS runs; sqlite3's error is above)"
		row "api" "FAILED" "n/a" "n/a"
		return
	fi
	size_mb=$(calc "$(stat -c %s "$db") / 1048576" 0)
	note "  store: $nruns runs, $size_mb MB, generated in $gen_s s"
	start_agentd $_name "$db"
	ready=$READY_MS

	lst=$("$LB" time -n 50 -o "$T/api.list.ms" -- "$BIN/agentctl" -s "$SOCK" list --limit 100)
	sql "$db" "SELECT id FROM runs WHERE n IN (SELECT abs(random()) % $API_RUNS + 1 FROM generate_series(1, 60)) LIMIT 50" >"$T/api.ids"
	shw=$("$LB" time -o "$T/api.show.ms" -- "$BIN/agentctl" -s "$SOCK" show {} <"$T/api.ids")
	note "  list: $lst"
	note "  show: $shw"

	# GET /v1/runs/{id}: idle, then under the throughput workload. One
	# curl per 10 ids (one connection, 10 requests); time_total each.
	split -l 10 "$T/api.ids" "$T/api.ids."
	get_batch() {
		_args=
		while read -r _id; do
			_args="$_args -o /dev/null http://localhost/v1/runs/$_id"
		done <"$1"
		curl -s --unix-socket "$SOCK" -w '%{time_total}\n' $_args |
		    awk '{ print $1 * 1000 }'
	}
	for f in "$T"/api.ids.a?; do get_batch "$f"; done >"$T/api.get-idle.ms"
	gidle=$("$LB" pct <"$T/api.get-idle.ms")
	jsonl "$T/api-load.jsonl" $TP_RUNS $TP_DELTAS 0 api-load
	l0=$(now_ms)
	submit_jsonl "$T/api-load.jsonl" &
	subpid=$!
	: >"$T/api.get-load.ms"
	: >"$T/api.list-load.ms"
	_i=0
	while [ $_i -lt 300 ]; do
		for f in "$T"/api.ids.a?; do
			get_batch "$f" >>"$T/api.get-load.ms"
			# An ops person's `agentctl list`, process start included.
			"$LB" time -n 1 -o "$T/api.l1.ms" -- "$BIN/agentctl" -s "$SOCK" \
			    list --limit 100 >/dev/null 2>&1 &&
			    cat "$T/api.l1.ms" >>"$T/api.list-load.ms"
			sleep 0.01
		done
		_i=$((_i + 1))
		if ! kill -0 $subpid 2>/dev/null && [ "$(active "$db")" = 0 ]; then
			break
		fi
	done
	wait $subpid
	wait_terminal "$db" 300
	lend=$(sql "$db" "SELECT max(finished_at) FROM runs WHERE n > $API_RUNS")
	lev=$(sql "$db" "SELECT count(*) FROM events WHERE run_n > $API_RUNS")
	gload=$("$LB" pct <"$T/api.get-load.ms")
	lload=$("$LB" pct <"$T/api.list-load.ms")
	load_evps=$(calc "$lev / (($lend - $l0) / 1000)" 0)
	note "  GET idle: $gidle"
	note "  GET under load: $gload (load: $lev events at $load_evps events/s)"
	note "  list under load: $lload"

	# Follow latency: followed runs among background runs, 50 ms apart.
	follow_lat api "$db" 100 "$SOCK"
	fol=$("$LB" pct <"$T/api.fw.ms")
	note "  follow: $fol"
	wait_terminal "$db" 60
	growth "$db"
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID

	p() { echo "$2" | kv "$1" /dev/stdin; }
	line="api: store of $nruns runs / $((nruns * API_EV)) events ($size_mb MB, generated in $gen_s s), agentd ready in $ready ms; list --limit 100 p50 $(p p50 "$lst") p99 $(p p99 "$lst") ms; show p50 $(p p50 "$shw") p99 $(p p99 "$shw") ms; GET /v1/runs/ID idle p50 $(p p50 "$gidle") p99 $(p p99 "$gidle") ms, under load p50 $(p p50 "$gload") p99 $(p p99 "$gload") max $(p max "$gload") ms ($(p n "$gload") calls); list --limit 100 under load p50 $(p p50 "$lload") p99 $(p p99 "$lload") max $(p max "$lload") ms ($(p n "$lload") calls; load ran at $load_evps events/s on this store); follow latency p50 $(p p50 "$fol") p99 $(p p99 "$fol") ms ($(p n "$fol") events)"
	[ "$(p fails "$lst")" = 0 ] && [ "$(p fails "$shw")" = 0 ] ||
	    line="$line, FAILED: agentctl errors (list $(p fails "$lst"), show $(p fails "$shw"))"
	[ "$(p n "$fol")" -gt 0 ] || line="$line, FAILED: no follow samples"
	row "api: start on the big store, ms" "$ready" "n/a" "n/a"
	row "api: list --limit 100 p50/p99 ms" "$(p p50 "$lst")/$(p p99 "$lst")" "n/a" "n/a"
	row "api: show ID p50/p99 ms" "$(p p50 "$shw")/$(p p99 "$shw")" "n/a" "n/a"
	row "api: GET run under load p50/p99/max ms" "$(p p50 "$gload")/$(p p99 "$gload")/$(p max "$gload")" "n/a" "n/a"
	row "api: list --limit 100 under load p50/p99/max ms" "$(p p50 "$lload")/$(p p99 "$lload")/$(p max "$lload")" "n/a" "n/a"
	row "api: events/s on the big store" "$load_evps" "n/a" "n/a"
	row "api: follow latency p50/p99 ms" "$(p p50 "$fol")/$(p p99 "$fol")" "n/a" "n/a"
	result "$line"
}

# ----------------------------------------------------------------- limit

# batch_shape STORE EVENTS: agentd's batch shape in a store (events.at is
# the flush time, shared by every event of one transaction): SHAPE_PER
# events a run a transaction, SHAPE_RPT runs a transaction, SHAPE
# "agentd's". With no store or no events SHAPE is "default" and SHAPE_PER
# and SHAPE_RPT stay as the caller set them.
batch_shape() {
	SHAPE=default
	[ -n "$1" ] || return 0
	_bp=$(sql "$1" "SELECT count(*) FROM (SELECT 1 FROM events GROUP BY run_n, at) AS s")
	_bt=$(sql "$1" "SELECT count(DISTINCT at) FROM events")
	if [ "${_bp:-0}" -gt 0 ] && [ "${_bt:-0}" -gt 0 ]; then
		SHAPE_PER=$(calc "$2 / $_bp" 0)
		SHAPE_RPT=$(calc "$_bp / $_bt" 0)
		[ "$SHAPE_RPT" -ge 1 ] || SHAPE_RPT=1
		SHAPE="agentd's"
	fi
}

# sqlite_ceiling BENCH-LIMIT-ARGS...: the events/s of the better of one
# writer process and agentd's two (--writers), each on a synced machine.
sqlite_ceiling() {
	_best=0
	for _w in 1 2; do
		sync
		_v=$("$LB" "$@" --writers $_w | kv events_per_s /dev/stdin)
		[ -n "$_v" ] || note "bench-limit $* --writers $_w failed"
		[ "${_v:-0}" -gt "$_best" ] && _best=$_v
	done
	echo "$_best"
}

scenario_limit() {
	# agentd's batch shape, from the first throughput store.
	SHAPE_PER=$TP_DELTAS SHAPE_RPT=$TP_RUNS
	[ -n "${TP_DB:-}" ] && [ -f "$TP_DB" ] && batch_shape "$TP_DB" $TP_EVENTS
	per_run=$SHAPE_PER rpt=$SHAPE_RPT shape=$SHAPE
	note "limit: $TP_RUNS runs x $((TP_DELTAS + 8)) events, $per_run events per run per transaction, $rpt runs per transaction ($shape shape)"
	lim=$(sqlite_ceiling --runs $TP_RUNS --deltas $TP_DELTAS --per-run "$per_run" \
	    --runs-per-txn "$rpt")
	out2=$("$LB" --runs $TP_RUNS --deltas $TP_DELTAS --per-run 16 \
	    --runs-per-txn $TP_RUNS) || note "bench-limit failed"
	lim16=$(echo "$out2" | kv events_per_s /dev/stdin)
	line="limit: SQLite ceiling $lim events/s with agentd's schema, statements and batch shape ($per_run events/run/txn, $rpt runs/txn; 16 events/run/txn across all runs: $lim16 events/s)"
	if [ -n "${TP_AGENTD:-}" ]; then
		line="$line; agentd throughput $TP_AGENTD events/s = $(calc "100 * $TP_AGENTD / $lim" 0)% of it"
		row "limit: agentd throughput % of SQLite ceiling" "$(calc "100 * $TP_AGENTD / $lim" 0)% of $lim" "" ""
	else
		row "limit: SQLite ceiling events/s" "$lim" "" ""
	fi
	result "$line"
}

# -------------------------------------------------------------- sustained

# Throughput in repetitions of 10 s and more, each followed by the SQLite
# ceiling in the batch shape agentd wrote in it (the same runs, events and
# statements, no HTTP), both on a synced, fresh store: the median of
# agentd's against the median of the ceiling's. 200 runs x 24,000 deltas
# (4,801,600 events a repetition); QUICK: one repetition of 2,000 deltas.
SU_RUNS=200
SU_DELTAS=${SU_DELTAS:-24000}
SU_REPS=3
[ "$QUICK" = 1 ] && SU_DELTAS=2000 && SU_REPS=1

scenario_sustained() {
	note "sustained: $SU_RUNS runs x $SU_DELTAS deltas, $SU_REPS repetition(s), each followed by the SQLite ceiling in agentd's batch shape"
	_tr=$TP_RUNS _td=$TP_DELTAS _te=$TP_EVENTS
	TP_RUNS=$SU_RUNS TP_DELTAS=$SU_DELTAS
	TP_EVENTS=$((SU_RUNS * (SU_DELTAS + 8)))
	su_a= su_l= su_s= su_c= su_r= su_bad=
	rep=1
	while [ $rep -le $SU_REPS ]; do
		sync
		tp_agentd su$rep
		[ "$A_OK" = 1 ] || su_bad="$su_bad #$rep:$A_WHY"
		SHAPE_PER=$TP_DELTAS SHAPE_RPT=1
		batch_shape "$A_DB" $TP_EVENTS
		_per=$SHAPE_PER _rpt=$SHAPE_RPT
		rm -f "$A_DB" "$A_DB-wal" "$A_DB-shm"
		_lim=$(sqlite_ceiling --runs $SU_RUNS --deltas $SU_DELTAS \
		    --per-run "$_per" --runs-per-txn "$_rpt")
		note "  #$rep: agentd $A_EVPS ev/s in $A_SECS s (cpu $A_CPU s, rss $A_RSS_MB MB) ${A_WHY:+FAILED: $A_WHY}; the ceiling in its shape ($_per events/run/txn, $_rpt runs/txn) ${_lim:-failed} ev/s"
		su_a="$su_a $A_EVPS" su_s="$su_s $A_SECS" su_l="$su_l ${_lim:-0}"
		su_c="$su_c $(calc "$A_CPU / ($TP_EVENTS / 1000000)" 2)" su_r="$su_r $A_RSS_MB"
		rep=$((rep + 1))
	done
	TP_RUNS=$_tr TP_DELTAS=$_td TP_EVENTS=$_te
	_am=$(median $su_a) _lm=$(median $su_l)
	_pct=$(calc "100 * $_am / ($_lm + ($_lm == 0))" 0)
	row "sustained: events/s, 10 s+ repetitions (% of the ceiling)" "$_am ($_pct% of $_lm)" "" ""
	row "sustained: CPU s per M events; peak RSS MB" "$(median $su_c); $(median $su_r)" "" ""
	line="sustained: $SU_RUNS runs x $SU_DELTAS deltas: agentd $_am events/s (runs:$su_a; seconds:$su_s), $(median $su_c) CPU-s/M events, peak RSS $(median $su_r) MB; SQLite ceiling in agentd's shape $_lm events/s (runs:$su_l); agentd $_pct% of it"
	[ -z "$su_bad" ] || line="$line; FAILED:$su_bad"
	result "$line"
}

# ------------------------------------------------------------------ front

# The Responses front: the same 200 runs x 2,000 deltas read by the
# official openai 7.x package (tests/sdk) straight from agent-mock and
# through agentd's front (tests/bench/front.sh). Needs node.
scenario_front() {
	if ! command -v node >/dev/null 2>&1; then
		note "front: skipped (node is not installed)"
		row "front: skipped, no node" "-" "" ""
		return
	fi
	_reps=3
	[ "$QUICK" = 1 ] && _reps=1
	BIN=$BIN REPS=$_reps sh "$top/tests/bench/front.sh" >"$T/front.out" 2>"$T/front.err" ||
	    note "front: tests/bench/front.sh failed: $(tail -3 "$T/front.err")"
	f() { sed -n "s/^front: $1 //p" "$T/front.out" | head -1; }
	# The "peer" here is the SDK straight from agent-mock: in the cell.
	row "front: events/s, openai 7.x through agentd (straight from the mock; ratio)" "$(f agentd_events_per_s) ($(f mock_events_per_s); $(f ratio)x)" "n/a" "n/a"
	row "front: time to first event p50/p99 ms through agentd (straight)" "$(f agentd_ttfe_p50_ms)/$(f agentd_ttfe_p99_ms) ($(f mock_ttfe_p50_ms)/$(f mock_ttfe_p99_ms))" "n/a" "n/a"
	row "front: agentd RSS KB per open client stream" "$(f agentd_rss_per_stream_kb)" "n/a" "n/a"
	result "front: 200 runs x 2,000 deltas read by openai 7.x: through agentd $(f agentd_events_per_s) events/s, straight from agent-mock $(f mock_events_per_s) events/s, ratio $(f ratio); time to first event p50/p99 $(f agentd_ttfe_p50_ms)/$(f agentd_ttfe_p99_ms) ms through agentd, $(f mock_ttfe_p50_ms)/$(f mock_ttfe_p99_ms) ms straight (p99 added by agentd $(f agentd_added_p99_ms) ms); agentd RSS $(f agentd_rss_before_kb) KB before, $(f agentd_rss_during_kb) KB with the streams open, $(f agentd_rss_per_stream_kb) KB per open stream; $(f errors) client errors (medians of $(f repetitions))"
}

# -------------------------------------------------------------- pg_limit

TP_WORKERS=2	# agentd's default --workers: one connection each

# pg_limit_run DB ARGS...: one bench-limit-pg pass; prints its events_per_s.
pg_limit_run() {
	_pdb=$1
	shift
	_po=$("$LPG" --db "$_pdb" --runs $TP_RUNS --deltas $TP_DELTAS "$@") ||
	    { note "bench-limit-pg $* failed"; return 1; }
	note "  $_po"
	echo "$_po" | kv events_per_s /dev/stdin
}

scenario_pg_limit() {
	# agentd's batch shape, from the first throughput store.
	SHAPE_PER=$TP_DELTAS SHAPE_RPT=$TP_RUNS
	batch_shape "${TP_DB:-}" $TP_EVENTS
	per_run=$SHAPE_PER rpt=$SHAPE_RPT shape=$SHAPE
	note "pg_limit: $TP_RUNS runs x $((TP_DELTAS + 8)) events, $per_run events per run per transaction, $rpt runs per transaction ($shape shape), $TP_WORKERS connections"
	# agentd applies its schema to a template; each pass gets a copy.
	start_mock pgl
	tdb=$(new_store pgl) || exit 1
	start_agentd pgl "$tdb"
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
	# pgl_db K: a fresh copy of the template, database pglK.
	pgl_db() {
		# The template's last backend may take a moment to go.
		wait_for 10 pg_admin "CREATE DATABASE pgl$1 OWNER agentd TEMPLATE pgl" ||
		    { note "cannot copy the template database pgl"; return 1; }
		echo "host=$PGHOST port=$PGPORT user=agentd dbname=pgl$1"
	}
	shape_args="--per-run $per_run --runs-per-txn $rpt"
	lim=$(pg_limit_run "$(pgl_db 1)" $shape_args --conns $TP_WORKERS)
	line="pg_limit: PostgreSQL ceiling ${lim:-FAILED} events/s with agentd's schema, append statement (pgs_events_append's text, PQexecParams, text arrays) and batch shape ($per_run events/run/txn, $rpt runs/txn, $shape shape; $TP_WORKERS connections as agentd's $TP_WORKERS workers)"
	if [ "$QUICK" != 1 ]; then
		l1=$(pg_limit_run "$(pgl_db 2)" $shape_args --conns 1)
		lp=$(pg_limit_run "$(pgl_db 3)" $shape_args --conns $TP_WORKERS --prepared)
		lq=$(pg_limit_run "$(pgl_db 4)" $shape_args --conns $TP_WORKERS --pipeline)
		line="$line; alternatives, same shape: 1 connection ${l1:-failed}, prepared statement ${lp:-failed}, pipeline mode (one round trip a transaction) ${lq:-failed} events/s"
	fi
	if [ -z "$lim" ]; then
		line="$line, FAILED"
		row "pg_limit: PostgreSQL ceiling" "FAILED" "n/a" "n/a"
	elif [ -n "${TP_AGENTD:-}" ]; then
		share=$(calc "100 * $TP_AGENTD / $lim" 0)
		met="met"
		[ "$share" -ge 50 ] || met="NOT met"
		line="$line; agentd throughput $TP_AGENTD events/s = $share% of it (target >= 50%: $met)"
		row "pg_limit: agentd throughput % of PostgreSQL ceiling" "$share% of $lim" "n/a" "n/a"
	else
		row "pg_limit: PostgreSQL ceiling events/s" "$lim" "n/a" "n/a"
	fi
	result "$line"
}

# -------------------------------------------------------------- failover

FO_RUNS=300
FO_DELTAS=200
FO_INTERVAL=100
FO_HOSTS="a b c"

scenario_failover() {
	note "failover: 3 hosts, $FO_RUNS runs x $FO_DELTAS deltas $FO_INTERVAL ms apart, --lease-ttl $FO_TTL; kill -9 of the host holding about a third"
	_name=fo
	start_mock $_name
	db=$(new_store $_name) || exit 1
	for h in $FO_HOSTS; do
		start_agentd fo_$h "$db" --host-id fo_$h --lease-ttl "$FO_TTL"
		eval "fo_pid_$h=\$AGENTD_PID"
	done
	SOCK=$T/fo_a.sock
	jsonl "$T/$_name.jsonl" $FO_RUNS $FO_DELTAS $FO_INTERVAL $_name
	submit_jsonl "$T/$_name.jsonl"
	# In flight on every host: each run has stored a few deltas.
	_i=0
	while [ $_i -lt 300 ]; do
		n=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'running' AND last_seq >= 6")
		[ "$n" = "$FO_RUNS" ] && break
		sleep 0.1
		_i=$((_i + 1))
	done
	sql "$db" "SELECT lease_host, count(*) FROM runs WHERE status IN ('starting','running') GROUP BY lease_host ORDER BY 1" >"$T/fo.spread"
	spread=$(tr '|\n' ': ' <"$T/fo.spread" | sed 's/ $//')
	# The host whose share is nearest a third.
	victim=$(awk -F'|' -v t=$((FO_RUNS / 3)) '$1 != "" {
		d = $2 - t; if (d < 0) d = -d
		if (best == "" || d < bd) { best = $1; bd = d }
	} END { print best }' "$T/fo.spread")
	eval "vpid=\${fo_pid_${victim#fo_}:-}"
	if [ -z "$victim" ] || [ -z "$vpid" ]; then
		for h in $FO_HOSTS; do eval "stop_pid \$fo_pid_$h"; done
		stop_pid $MOCK_PID
		result "failover: FAILED: no host holds runs (spread: $spread)"
		row "failover" "FAILED" "n/a" "n/a"
		return
	fi
	vlist=$(sql "$db" "SELECT string_agg(n::text, ',') FROM runs WHERE lease_host = '$victim' AND status IN ('starting','running')")
	nv=$(echo "$vlist" | tr ',' '\n' | grep -c .)
	before=$(sql "$db" "SELECT count(*) FROM events")
	workers=$(ps -o pid= --ppid "$vpid" 2>/dev/null)
	tk=$(now_ms)
	kill -KILL "$vpid" $workers
	wait "$vpid" 2>/dev/null
	untrack "$vpid"
	for w in $workers; do
		_i=0
		while kill -0 "$w" 2>/dev/null && [ $_i -lt 50 ]; do
			sleep 0.1
			_i=$((_i + 1))
		done
	done
	note "  killed $victim (pid $vpid, workers $(echo $workers)) holding $nv runs (spread $spread) at $tk"
	# Until every run of the dead host has an event stored after the kill
	# (bounded by TTL + 60 s); when its host row was reaped, seen the same.
	ok=1
	reaped=
	_lim=$(((FO_TTL + 60) * 1000))
	while :; do
		got=$(sql "$db" "SELECT count(DISTINCT run_n) FROM events WHERE at >= $tk AND run_n IN ($vlist)")
		if [ -z "$reaped" ] && [ "$(sql "$db" "SELECT count(*) FROM hosts WHERE host_id = '$victim'")" = 0 ]; then
			reaped=$(($(now_ms) - tk))
		fi
		[ "$got" = "$nv" ] && break
		[ $(($(now_ms) - tk)) -ge $_lim ] && { ok=0; break; }
		sleep 0.2
	done
	sql "$db" "SELECT min(at) - $tk FROM events WHERE at >= $tk AND run_n IN ($vlist) GROUP BY run_n" >"$T/fo.lat"
	pct=$("$LB" pct <"$T/fo.lat")
	p() { echo "$pct" | kv "$1" /dev/stdin | cut -d. -f1; }
	p99=$(p p99)
	tgt=$((FO_TTL * 1000 + 3000))
	met="met"
	[ "${p99:-999999}" -le $tgt ] || met="NOT met"
	line="failover: 3 hosts, --lease-ttl $FO_TTL s, $FO_RUNS runs x $FO_DELTAS deltas $FO_INTERVAL ms apart (held: $spread); kill -9 of $victim (supervisor and workers) holding $nv runs ($before events stored): from the kill to each of its runs' first event stored by another host p50 $(p p50) ms, p99 $(p p99) ms, max $(p max) ms ($(p n) of $nv runs; target p99 <= TTL + 3 s = $tgt ms: $met); its host row reaped after ${reaped:-?} ms"
	[ "$ok" = 1 ] || line="$line, FAILED: $((nv - $(p n))) runs had no new event within TTL + 60 s"
	if wait_terminal "$db" $((FO_DELTAS * FO_INTERVAL / 1000 + 60)); then
		done_n=$(sql "$db" "SELECT count(*) FROM runs WHERE status = 'completed' AND event_count = $((FO_DELTAS + 8)) AND last_seq = $((FO_DELTAS + 7))")
		ev=$(sql "$db" "SELECT count(*) FROM events")
		vout=$(python3 "$top/tests/integration/verify.py" "$db" "$MOCK_URL" 2>&1)
		vrc=$?
		line="$line; then $done_n of $FO_RUNS completed with all $((FO_DELTAS + 8)) events ($ev stored); verify.py: $(echo "$vout" | tail -1)"
		[ "$done_n" = "$FO_RUNS" ] && [ "$ev" = $((FO_RUNS * (FO_DELTAS + 8))) ] && [ $vrc = 0 ] ||
		    line="$line, FAILED"
	else
		line="$line; FAILED: $(active "$db") runs still active after the run time + 60 s"
	fi
	for h in $FO_HOSTS; do
		[ "fo_$h" = "$victim" ] || eval "stop_pid \$fo_pid_$h"
	done
	dl=$(cat "$T"/fo_?-agentd.log | grep -c 'deadlock detected')
	line="$line; $dl deadlocks logged by the hosts"
	stop_pid $MOCK_PID
	row "failover (TTL $FO_TTL s), kill -9 of a host: ms to first new event p50/p99/max" \
	    "$(p p50)/$(p p99)/$(p max)" "n/a" "n/a"
	result "$line"
}

# ---------------------------------------------------------------- follow

FL_DELTAS=200

# Runs on host A only (claimed before B starts); B starts just before the
# followers attach to it.
follow_start_b() {
	FL_HELD=$(sql "$db" "SELECT count(*) FROM runs WHERE lease_host = 'fw_a' AND status IN ('starting','running')")
	start_agentd fw_b "$db" --host-id fw_b
	FL_B_PID=$AGENTD_PID
}

scenario_follow() {
	note "follow: 10 runs ingested on host A among 40 more ($FL_DELTAS deltas 50 ms apart), followed over host B's socket"
	_name=fw
	start_mock $_name
	db=$(new_store $_name) || exit 1
	start_agentd fw_a "$db" --host-id fw_a
	fl_a=$AGENTD_PID
	FOLLOW_HOOK=follow_start_b
	follow_lat fw "$db" $FL_DELTAS "$T/fw_b.sock"
	FOLLOW_HOOK=
	fol=$("$LB" pct <"$T/fw.fw.ms")
	note "  follow: $fol"
	SOCK=$T/fw_a.sock
	wait_terminal "$db" 60
	stop_pid $FL_B_PID
	stop_pid $fl_a
	stop_pid $MOCK_PID
	p() { echo "$fol" | kv "$1" /dev/stdin; }
	met="met"
	[ "$(p p99 | cut -d. -f1)" -lt 100 ] 2>/dev/null || met="NOT met"
	# The store's own complaints meanwhile (deadlocks, refused writes).
	dl=$(grep -c 'deadlock detected' "$T"/fw_a-agentd.log "$T"/fw_b-agentd.log | awk -F: '{ s += $2 } END { print s + 0 }')
	line="follow: a follower on host B (GET /v1/runs/ID/events, SSE, on B's socket) of runs ingested on host A ($FL_HELD runs held by A when B started): per event, backend emit (a direct client of agent-mock) to the follower's receipt p50 $(p p50) ms, p99 $(p p99) ms, max $(p max) ms ($(p n) events of 10 runs; target p99 < 100 ms: $met; $dl deadlocks logged by the hosts meanwhile)"
	[ "$(p n)" -gt 0 ] || line="$line, FAILED: no follow samples"
	row "follow on host B of runs on host A p50/p99 ms" "$(p p50)/$(p p99)" "n/a" "n/a"
	result "$line"
}

# ------------------------------------------------------------------ main

# tests/bench/profile.sh sources this file for its functions only.
[ "${BENCH_LIB:-0}" = 1 ] && return 0

# idle_pct: share of idle CPU time over one second, machine-wide.
idle_pct() {
	_a=$(head -1 /proc/stat)
	sleep 1
	_b=$(head -1 /proc/stat)
	printf '%s\n%s\n' "$_a" "$_b" | awk '{
		t[NR] = 0; for (i = 2; i <= NF; i++) t[NR] += $i
		idle[NR] = $5 + $6
	} END { printf "%.0f", 100 * (idle[2] - idle[1]) / (t[2] - t[1]) }'
}

check_peer
IDLE=$(idle_pct)
[ "$IDLE" -lt 80 ] &&
    note "WARNING: the machine is only $IDLE% idle before the start: other processes will skew every figure"
if [ "$PEER_OK" = 1 ]; then
	note "peer: $PEER_DIR (node $(node --version))"
else
	note "peer skipped: $PEER_WHY"
fi
note "agentd binary of $(date -r "$BIN/agentd" '+%F %T'); temporary directory $T; QUICK=$QUICK; $(nproc) cores; ulimit -n $(ulimit -n) (hard $(ulimit -Hn)); load average $(cut -d' ' -f1-3 /proc/loadavg), $IDLE% idle; store $STORE"
STORE_TITLE="SQLite (a fresh file per store)"
if [ "$STORE" = postgres ]; then
	pg_start "$T/pg" >"$T/pg-start.log" 2>&1 || {
		tail -20 "$T/pg-start.log" >&2
		die "STORE=postgres: the throwaway PostgreSQL server did not start"
	}
	. "$T/pg/pg.env"
	PG_PID=$(head -1 "$PG_DATA/postmaster.pid")
	PG_VERSION=$(pg_admin "SHOW server_version" | cut -d' ' -f1)
	STORE_TITLE="PostgreSQL $PG_VERSION (throwaway server, local socket, fsync $(pg_admin "SHOW fsync"), synchronous_commit $(pg_admin "SHOW synchronous_commit"), shared_buffers $(pg_admin "SHOW shared_buffers"))"
	note "store: $STORE_TITLE, postmaster pid $PG_PID, data $PG_DATA"
fi
for s in throughput scale resume api limit sustained front pg_limit failover follow; do
	case " $ONLY " in *" $s "*) ;; *) continue ;; esac
	case "$STORE:$s" in
	postgres:scale | postgres:resume | postgres:api | postgres:limit | postgres:sustained | postgres:front)
		note "$s: skipped: SQLite's scenario (run it without STORE=postgres)"
		row "$s: skipped (SQLite's only)" "-" "" ""
		continue
		;;
	sqlite:pg_limit | sqlite:failover | sqlite:follow)
		note "$s: skipped: needs STORE=postgres"
		row "$s: skipped (needs STORE=postgres)" "-" "" ""
		continue
		;;
	esac
	s0=$(date +%s)
	scenario_$s
	note "$s took $(($(date +%s) - s0)) s"
done

echo
echo "agentd on the $STORE store: $STORE_TITLE"
awk -F '\t' -v peer="$PEER_OK" '
function ratio(a, b) {
	if (a !~ /^[0-9.]+$/ || b !~ /^[0-9.]+$/ || b + 0 == 0) return "-"
	return sprintf("%.2fx", a / b)
}
BEGIN {
	printf "%-52s %14s %12s %14s %12s %14s\n", "metric", "agentd",
	    "peer", "peer+persist", "agentd/peer", "agentd/persist"
}
{
	printf "%-52s %14s %12s %14s %12s %14s\n", $1, $2,
	    peer ? $3 : "skipped", peer ? $4 : "skipped", ratio($2, $3),
	    ratio($2, $4)
}' "$TABLE"
[ "$PEER_OK" = 1 ] || echo "(peer skipped: $PEER_WHY)"
echo "total $(($(date +%s) - BENCH_T0)) s; machine $IDLE% idle before the start, $(idle_pct)% at the end"
# Exit 1 when a scenario failed (a run lost, a timeout, a tool error).
if grep -q FAILED "$T/results" 2>/dev/null; then
	echo "bench: FAILED: $(grep -c FAILED "$T/results") scenario(s), see their RESULT lines"
	exit 1
fi
exit 0
