#!/bin/sh
# The front benchmark: the same 200 runs x 2,000 deltas (mock_interval_ms 0,
# CPU-bound) read by the official openai 7.x package (raw stream,
# background:true + stream:true, all 200 at once, tests/bench/front-bench.mjs)
# (a) straight from agent-mock and (b) through agentd's Responses front
# (agentd --listen, in front of the same agent-mock). Three repetitions of
# each, alternating; medians reported.
#
# Output, one "front: <name> <value>" line each (bench.sh can pick them up):
#   front: mock_events_per_s N      (a) events read per second
#   front: agentd_events_per_s N    (b)
#   front: ratio R                  (b)/(a)
#   front: mock_ttfe_p50_ms / mock_ttfe_p99_ms       time to first event (a)
#   front: agentd_ttfe_p50_ms / agentd_ttfe_p99_ms   (b)
#   front: agentd_added_p99_ms      (b) p99 - (a) p99
#   front: agentd_rss_idle_kb       supervisor + workers before the throughput passes
#   front: agentd_rss_peak_kb       the highest RSS seen in the throughput passes
#   front: agentd_rss_per_run_busy_kb  median over passes of (peak - RSS at the
#                                   pass's start) / 200: memory per busy run
#   front: agentd_rss_before_kb     before a first "hold" pass: 200 slow runs
#                                   (40 deltas 50 ms apart) held open at once
#   front: agentd_rss_during_kb     once all 200 streams are open, past their
#                                   first event
#   front: agentd_rss_per_stream_kb (during - before) / 200: memory per open
#                                   client stream
#   front: errors N                 runs that failed to read to the end, all passes
# Progress notes go to stderr ("front: ..." lines are the results).
#
# Environment: BIN=bin (agentd, agent-mock), RUNS=200, EVENTS=2000, REPS=3,
# INTERVAL_MS=0, LIMIT_BIN=build/bench-limit (the RSS sampler), KEEP=1 keeps
# the temporary directory. Needs node and
# tests/sdk/node_modules (installed here with npm ci when missing).
# Every wait is bounded; each pass is cut at 40 s.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$top/bin}
case $BIN in /*) ;; *) BIN=$top/$BIN ;; esac
RUNS=${RUNS:-200}
EVENTS=${EVENTS:-2000}
REPS=${REPS:-3}
INTERVAL_MS=${INTERVAL_MS:-0}
# The RSS sampler (tests/bench/limit.c), built by bench.sh or here.
LB=${LIMIT_BIN:-$top/build/bench-limit}
T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-front-bench-XXXXXX")
MOCK_PID=
AGENTD_PID=

note() { echo "front-bench: $*" >&2; }

cleanup() {
	[ -n "$AGENTD_PID" ] && kill "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	sleep 0.3
	[ -n "$AGENTD_PID" ] && kill -9 "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill -9 "$MOCK_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then note "kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT INT TERM

wait_for() {
	limit=$1
	shift
	i=0
	while [ "$i" -lt $((limit * 10)) ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

command -v node >/dev/null 2>&1 || { note "node not installed"; exit 1; }
[ -x "$LB" ] || (cd "$top" && make -s build/bench-limit) >&2 ||
    note "bench-limit could not be built: the passes' RSS is not measured"
if [ ! -d "$top/tests/sdk/node_modules" ]; then
	(cd "$top/tests/sdk" && npm ci --no-audit --no-fund --loglevel=error) >&2 ||
	    { note "npm ci in tests/sdk failed"; exit 1; }
fi

"$BIN/agent-mock" --port-file "$T/mock.port" >"$T/mock.log" 2>&1 &
MOCK_PID=$!
wait_for 10 test -s "$T/mock.port" || { note "agent-mock did not start"; exit 1; }
MOCK_URL=http://127.0.0.1:$(cat "$T/mock.port")

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
AGENTD_FRONT_TOKEN=$TOKEN "$BIN/agentd" --db "$T/agentd.db" --socket "$T/agentd.sock" \
    --endpoint "$MOCK_URL/v1" --listen "127.0.0.1:$port" -q ${AGENTD_ARGS:-} >"$T/agentd.log" 2>&1 &
AGENTD_PID=$!
FRONT_URL=http://127.0.0.1:$port/v1
wait_for 10 curl -s -o /dev/null "$FRONT_URL/responses/x" ||
    { note "agentd's front does not answer on $port"; tail -5 "$T/agentd.log" >&2; exit 1; }

# tree_rss PID: the summed RSS in KB of PID and its children.
tree_rss() {
	ps -o rss= -p "$1" --ppid "$1" 2>/dev/null | awk '{ s += $1 } END { print s + 0 }'
}

# pass NAME URL PID: one throughput pass. The RSS of PID's tree (the
# server read from: agent-mock or agentd) is sampled every 50 ms by a
# separate process, bench-limit sample, for both servers alike: sampled
# inside the client it cost the client's one JavaScript thread about a
# tenth of the agentd pass.
pass() {
	name=$1 url=$2 pid=$3
	before=$(tree_rss "$pid")
	sp=
	if [ -x "$LB" ]; then
		"$LB" sample -i 50 -t 60 -o "$T/sample.out" "$pid" &
		sp=$!
	fi
	node "$top/tests/bench/front-bench.mjs" --base-url "$url" --token "$TOKEN" \
	    --runs "$RUNS" --events "$EVENTS" --interval-ms "$INTERVAL_MS" \
	    --deadline-ms 40000 >"$T/pass.json" 2>>"$T/bench.err"
	peak=0
	if [ -n "$sp" ]; then
		kill "$sp" 2>/dev/null
		wait "$sp" 2>/dev/null
		peak=$(sed -n 's/.*peak_rss_kb=\([0-9]*\).*/\1/p' "$T/sample.out" 2>/dev/null)
	fi
	python3 -c 'import json, sys
d = json.load(open(sys.argv[1]))
d["rss_before_kb"], d["rss_during_kb"] = int(sys.argv[2] or 0), int(sys.argv[3] or 0)
print(json.dumps(d))' "$T/pass.json" "$before" "${peak:-0}" >>"$T/$name.jsonl" 2>>"$T/bench.err"
	note "$name: $(tail -1 "$T/$name.jsonl")"
}

# Memory per open client stream, first, on the fresh agentd (its RSS does
# not come back down after a throughput pass): the same number of streams
# held open on slow runs (40 deltas 50 ms apart), RSS once every one is
# open and past its first event, minus RSS before.
node "$top/tests/bench/front-bench.mjs" --base-url "$FRONT_URL" --token "$TOKEN" \
    --runs "$RUNS" --events 40 --interval-ms 50 --deadline-ms 30000 \
    --rss-pid "$AGENTD_PID" >"$T/hold.jsonl" 2>>"$T/bench.err"
note "hold: $(cat "$T/hold.jsonl")"

start=$(date +%s)
r=1
while [ "$r" -le "$REPS" ]; do
	pass mock "$MOCK_URL/v1" "$MOCK_PID"
	pass agentd "$FRONT_URL" "$AGENTD_PID"
	r=$((r + 1))
	# Bounded: past 100 s, report what there is.
	[ $(( $(date +%s) - start )) -gt 100 ] && { note "stopping after $((r - 1)) repetitions (time)"; break; }
done
[ -s "$T/bench.err" ] && { note "client errors:"; head -5 "$T/bench.err" >&2; }

python3 - "$T/mock.jsonl" "$T/agentd.jsonl" "$RUNS" "$T/hold.jsonl" <<'EOF'
import json, statistics, sys
def load(p):
    try:
        return [json.loads(l) for l in open(p) if l.strip()]
    except FileNotFoundError:
        return []
a, b, runs = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
med = lambda xs, k: statistics.median(x[k] for x in xs) if xs else 0
out = []
ae, be = med(a, "events_per_s"), med(b, "events_per_s")
out.append(("mock_events_per_s", round(ae)))
out.append(("agentd_events_per_s", round(be)))
out.append(("ratio", round(be / ae, 3) if ae else 0))
for name, xs in (("mock", a), ("agentd", b)):
    out.append((f"{name}_ttfe_p50_ms", med(xs, "ttfe_p50_ms")))
    out.append((f"{name}_ttfe_p99_ms", med(xs, "ttfe_p99_ms")))
out.append(("agentd_added_p99_ms", round(med(b, "ttfe_p99_ms") - med(a, "ttfe_p99_ms"), 1)))
# Throughput passes: agentd's RSS before the first pass (fresh), and per
# pass its peak minus its RSS at that pass's start, over the runs.
out.append(("agentd_rss_idle_kb", b[0]["rss_before_kb"] if b else 0))
out.append(("agentd_rss_peak_kb", max((x["rss_during_kb"] for x in b), default=0)))
per = [(x["rss_during_kb"] - x["rss_before_kb"]) / runs for x in b if x["rss_during_kb"]]
out.append(("agentd_rss_per_run_busy_kb", round(statistics.median(per), 1) if per else 0))
# The hold pass: every stream open at once, idle.
h = load(sys.argv[4])
if h and h[0]["rss_all_open_kb"]:
    h = h[0]
    out.append(("agentd_rss_before_kb", h["rss_before_kb"]))
    out.append(("agentd_rss_during_kb", h["rss_all_open_kb"]))
    out.append(("agentd_rss_per_stream_kb", round((h["rss_all_open_kb"] - h["rss_before_kb"]) / runs, 1)))
else:
    out.append(("agentd_rss_per_stream_kb", "unmeasured"))
out.append(("events_per_pass", f"{med(a, 'events')}/{med(b, 'events')}"))
out.append(("repetitions", f"{len(a)}/{len(b)}"))
out.append(("errors", sum(x["errors"] for x in a + b)))
for k, v in out:
    print(f"front: {k} {v}")
EOF
