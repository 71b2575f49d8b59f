#!/bin/sh
# Chaos, quick mode (tests/chaos/chaos.sh with ROUNDS=3): random backend
# faults from agent-mock and kill -9 of agentd and of its workers while 200
# runs stream; every run must complete with every event stored once. Then a
# 429 storm without kills: 20% of requests answered 429 (Retry-After 1)
# and connections dropped, where every run must still complete: the time
# agentd itself holds a run's requests back is not the backend failing to
# make progress. Prints PASS/FAIL lines; logs are kept on failure.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$top/bin}
export BIN
out=$(mktemp "${TMPDIR:-/tmp}/agentd-chaos-out-XXXXXX")

# scenario NAME ENV...: run chaos.sh with ENV, print PASS or FAIL NAME.
scenario() {
	name=$1
	shift
	env "$@" sh "$top/tests/chaos/chaos.sh" >"$out" 2>&1
	rc=$?
	sum=$(grep '^chaos: rounds [0-9]' "$out" | sed 's/^chaos: //')
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name ($sum)"
	else
		echo "FAIL $name (${sum:-no summary})"
		grep -v 'waiting for' "$out" | tail -40
	fi
}

scenario "chaos quick: kill -9 of agentd and workers, random faults" \
    ROUNDS=3
scenario "429 storm: no run abandoned while agentd holds it back" \
    ROUNDS=0 RUNS=50 EVENTS=100 STALE_AFTER=10 SEED=1 \
    MOCK_FLAGS="--chaos-drop 0.02 --chaos-429 0.2"
rm -f "$out"
exit 0
