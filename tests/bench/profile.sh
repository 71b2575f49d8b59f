#!/bin/sh
# Profiling helper for agentd (not run by `make bench`): perf profiles of the
# supervisor and workers on bench.sh's workloads, and the --workers sweep.
#
#   sh tests/bench/profile.sh [throughput|scale|workers|all]
#
#   throughput  perf record (cpu-clock, 999 Hz, all agentd processes) over
#               one throughput run (200 runs x 2,000 deltas); prints the
#               CPU split by process, by shared object, and the top symbols.
#   scale       the same over a scale run (SC_RUNS=10000 x 30 deltas 1 s
#               apart unless QUICK=1); 199 Hz.
#   workers     throughput with --workers 1, 2 and 4 (REPS=3 each, median).
#
# Environment as bench.sh (BIN, QUICK, LIMIT_BIN, KEEP); PERF=perf. The
# perf.data files stay in the temporary directory with KEEP=1. Needs root or
# kernel.perf_event_paranoid <= 1 to attach to running processes.
set -u
BENCH_LIB=1 . "$(dirname "$0")/bench.sh"
PERF=${PERF:-perf}
# Call graphs: agentd is built without frame pointers, so DWARF unwinding.
CG=${CG:---call-graph dwarf,32768}
REPS=${REPS:-3}

command -v "$PERF" >/dev/null 2>&1 || die "$PERF not found (apt-get install linux-perf)"

# agentd_pids: the supervisor and its workers.
agentd_pids() {
	echo $AGENTD_PID $(ps -o pid= --ppid $AGENTD_PID) | tr ' ' ','
}

# perf_report FILE: the CPU split by process, shared object and symbol.
perf_report() {
	echo "-- samples by process (supervisor = $AGENTD_PID)"
	$PERF report -i "$1" --no-children -g none --sort pid --stdio \
	    2>/dev/null | grep -v '^#' | grep -v '^$' | head -8
	echo "-- by shared object"
	$PERF report -i "$1" --no-children -g none --sort dso --stdio \
	    2>/dev/null | grep -v '^#' | grep -v '^$' | head -15
	echo "-- top symbols (self)"
	$PERF report -i "$1" --no-children -g none --sort dso,sym --stdio \
	    2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
	if command -v python3 >/dev/null 2>&1; then
		echo "-- hot spots, inclusive (tests/bench/perf-summary.py)"
		$PERF script -i "$1" -F comm,pid,ip,sym 2>/dev/null |
		    python3 "$top/tests/bench/perf-summary.py" "$AGENTD_PID"
	fi
}

# profile NAME RUNS DELTAS INTERVAL FREQ TIMEOUT_S
profile() {
	_name=$1
	start_mock "$_name"
	A_DB=$T/$_name.db
	start_agentd "$_name" "$A_DB"
	jsonl "$T/$_name.jsonl" "$2" "$3" "$4" "$_name"
	$PERF record -e cpu-clock -F "$5" $CG -p "$(agentd_pids)" \
	    -o "$T/$_name.perf" >"$T/$_name.perf.log" 2>&1 &
	_pp=$!
	sleep 0.5
	_t0=$(now_ms)
	submit_jsonl "$T/$_name.jsonl"
	wait_terminal "$A_DB" "$6" || note "$_name: runs still active after $6 s"
	_t1=$(now_ms)
	kill -INT $_pp
	wait $_pp
	_ev=$(sql "$A_DB" "SELECT count(*) FROM events")
	_txn=$(sql "$A_DB" "SELECT count(DISTINCT at) FROM events")
	echo "== $_name: $_ev events in $(calc "($_t1 - $_t0) / 1000" 1) s, ~$_txn distinct flush times (events.at)"
	perf_report "$T/$_name.perf"
	stop_pid $AGENTD_PID
	stop_pid $MOCK_PID
}

workers() {
	for w in 1 2 4; do
		v=
		r=1
		while [ $r -le "$REPS" ]; do
			tp_agentd "w$w-$r" --workers $w
			v="$v $A_EVPS"
			note "--workers $w #$r: $A_EVPS events/s, cpu $A_CPU s, rss $A_RSS_MB MB ${A_WHY:+FAILED: $A_WHY}"
			r=$((r + 1))
		done
		echo "== --workers $w: median $(median $v) events/s (runs:$v)"
	done
}

what=${1:-all}
case $what in
throughput|all)
	profile prof-tp $TP_RUNS $TP_DELTAS 0 499 300 ;;
esac
case $what in
scale|all)
	profile prof-sc $SC_RUNS $SC_DELTAS $SC_INTERVAL 99 \
	    $((SC_DELTAS * SC_INTERVAL / 1000 * 2 + 30)) ;;
esac
case $what in
workers|all)
	workers ;;
esac
case $what in
throughput|scale|workers|all) ;;
*)	die "usage: profile.sh [throughput|scale|workers|all]" ;;
esac
