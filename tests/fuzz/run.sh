#!/bin/sh
# Run every libFuzzer target in FUZZ_DIR for FUZZ_SECONDS each, starting
# from the seed corpora in tests/fuzz/corpus/<name> (copied: the repository's
# seeds are not modified), with tests/fuzz/<name>.dict as the dictionary if
# there is one. Prints "PASS fuzz_x: ..." or "FAIL fuzz_x: ...";
# a crashing input is kept in the log directory. Exit 1 on any finding.
set -u
FUZZ_DIR=${FUZZ_DIR:-build-fuzz}
FUZZ_SECONDS=${FUZZ_SECONDS:-30}
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top" || exit 1
work=$(mktemp -d "${TMPDIR:-/tmp}/agentd-fuzz-XXXXXX")
bad=0
for bin in "$FUZZ_DIR"/fuzz_*; do
	[ -x "$bin" ] || continue
	name=$(basename "$bin")
	seeds=tests/fuzz/corpus/${name#fuzz_}
	mkdir -p "$work/$name/corpus" "$work/$name/crash"
	[ -d "$seeds" ] && cp -r "$seeds"/. "$work/$name/corpus/" 2>/dev/null
	set --
	[ -f "tests/fuzz/${name#fuzz_}.dict" ] &&
	    set -- -dict="tests/fuzz/${name#fuzz_}.dict"
	"$bin" -max_total_time="$FUZZ_SECONDS" -timeout=10 -rss_limit_mb=2048 \
	    -print_final_stats=1 -artifact_prefix="$work/$name/crash/" "$@" \
	    "$work/$name/corpus" >"$work/$name.log" 2>&1
	rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/$name.log")
	if [ "$rc" -eq 0 ]; then
		echo "PASS $name: ${execs:-?} executions in ${FUZZ_SECONDS}s, no finding"
	else
		echo "FAIL $name: exit $rc after ${execs:-?} executions; input and log in $work/$name"
		grep -E 'ERROR|SUMMARY|Test unit written' "$work/$name.log" | head -5
		bad=1
	fi
done
[ "$bad" -eq 0 ] && rm -rf "$work"
exit "$bad"
