#!/bin/sh
# Run every test: the cmocka unit binaries, then the integration scripts.
# Prints each suite's output, then one closing line "N passed, N failed".
# Exits 1 if anything failed. Environment: BIN (programs), UNIT_DIR (unit
# binaries), ONLY (a pattern to run a subset of integration scripts).
set -u
BIN=${BIN:-bin}
UNIT_DIR=${UNIT_DIR:-build/tests}
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
passed=0
failed=0
logdir=$(mktemp -d "${TMPDIR:-/tmp}/agentd-check-XXXXXX")

for t in "$UNIT_DIR"/test_*; do
	[ -x "$t" ] || continue
	name=$(basename "$t")
	echo "== unit: $name"
	"$t" >"$logdir/$name.log" 2>&1
	rc=$?
	cat "$logdir/$name.log"
	p=$(sed -n 's/^\[  PASSED  \] \([0-9]*\) test.*/\1/p' "$logdir/$name.log" | tail -1)
	f=$(sed -n 's/^\[  FAILED  \] \([0-9]*\) test.*/\1/p' "$logdir/$name.log" | tail -1)
	passed=$((passed + ${p:-0}))
	failed=$((failed + ${f:-0}))
	if [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		failed=$((failed + 1))
	fi
done

for t in tests/integration/*.sh; do
	[ -f "$t" ] || continue
	name=$(basename "$t" .sh)
	case "$name" in lib) continue ;; esac
	if [ -n "${ONLY:-}" ]; then
		case "$name" in *$ONLY*) ;; *) continue ;; esac
	fi
	echo "== integration: $name"
	start=$(date +%s)
	BIN="$top/$BIN" sh "$t" >"$logdir/$name.log" 2>&1
	rc=$?
	grep -E '^(PASS|FAIL|SKIP) ' "$logdir/$name.log"
	p=$(grep -c '^PASS ' "$logdir/$name.log")
	f=$(grep -c '^FAIL ' "$logdir/$name.log")
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL $name: exited with status $rc"
		failed=$((failed + 1))
		f=1
	fi
	if [ "$f" -ne 0 ]; then
		echo "-- last lines of the $name log ($logdir/$name.log):"
		tail -40 "$logdir/$name.log"
	fi
	echo "   ($(( $(date +%s) - start ))s)"
done

# VALGRIND_TESTS="happy crash": those scripts again, agentd under memcheck.
for name in ${VALGRIND_TESTS:-}; do
	t=tests/integration/test_$name.sh
	[ -f "$t" ] || { echo "FAIL valgrind: no $t"; failed=$((failed + 1)); continue; }
	echo "== valgrind: test_$name"
	VALGRIND=1 BIN="$top/$BIN" sh "$t" >"$logdir/vg-$name.log" 2>&1
	rc=$?
	p=$(grep -c '^PASS ' "$logdir/vg-$name.log")
	f=$(grep -c '^FAIL ' "$logdir/vg-$name.log")
	grep -E '^(FAIL|SKIP) ' "$logdir/vg-$name.log"
	echo "   $p checks passed under valgrind"
	passed=$((passed + p))
	failed=$((failed + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL valgrind test_$name: exited with status $rc"
		failed=$((failed + 1))
	fi
	[ "$f" -ne 0 ] && tail -40 "$logdir/vg-$name.log"
done

if [ -n "${FUZZ_SECONDS:-}" ] && [ "${FUZZ_SECONDS:-0}" -gt 0 ]; then
	echo "== fuzz: each target for ${FUZZ_SECONDS}s"
	FUZZ_DIR=${FUZZ_DIR:-build-fuzz} FUZZ_SECONDS=$FUZZ_SECONDS \
	    sh tests/fuzz/run.sh >"$logdir/fuzz.log" 2>&1
	cat "$logdir/fuzz.log"
	passed=$((passed + $(grep -c '^PASS ' "$logdir/fuzz.log")))
	failed=$((failed + $(grep -c '^FAIL ' "$logdir/fuzz.log")))
fi

[ "$failed" -eq 0 ] && rm -rf "$logdir"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
