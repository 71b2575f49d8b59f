#!/bin/sh
# The store's unit suite (build/tests/test_store) again, on PostgreSQL: a
# throwaway server from tests/pg/pg.sh, AGENTD_TEST_PG set to its conninfo
# (every test then empties the database and opens the store on it; cmocka
# group "store-pg"). One PASS, FAIL or SKIP line per cmocka test. Without
# PostgreSQL's server binaries it prints SKIP lines and exits 0.
# Environment: UNIT_DIR (the unit binaries, as tests/run.sh: build/tests,
# build-asan/tests under SANITIZE=1).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/../pg/pg.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
UNIT_DIR=${UNIT_DIR:-build/tests}
case $UNIT_DIR in /*) ;; *) UNIT_DIR=$top/$UNIT_DIR ;; esac
TEST_STORE=$UNIT_DIR/test_store

if ! pg_bindir >/dev/null; then
	skip "store-pg: no PostgreSQL server binaries (initdb/pg_ctl/postgres in pg_config --bindir, /usr/lib/postgresql/*/bin)"
	skip "store-pg: install with: apt-get install -y postgresql"
	exit 0
fi
if [ ! -x "$TEST_STORE" ]; then
	fail "store-pg: no $TEST_STORE (make unit first)"
	exit 1
fi

PGD=$T/pg
# Stop the server before lib.sh's cleanup (whose pkill -f "$T/" would
# SIGKILL a postmaster whose data lives under $T), then run that cleanup.
pg_it_cleanup() {
	pg_stop "$PGD" >/dev/null 2>&1
	cleanup
}
trap pg_it_cleanup EXIT
trap 'exit 1' INT TERM

pg_start "$PGD" >"$T/pg_start.log" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	if [ "$rc" -eq 77 ]; then
		skip "store-pg: $(tail -1 "$T/pg_start.log")"
		exit 0
	fi
	fail "store-pg: pg_start: $(tail -5 "$T/pg_start.log" | tr '\n' ' ')"
	exit 1
fi

# The suite, bounded: a hung test is a failure, not a hung make check.
if command -v timeout >/dev/null 2>&1; then
	AGENTD_TEST_PG=$PG_CONNINFO timeout -k 5 600 "$TEST_STORE" \
	    >"$T/test_store.log" 2>&1
else
	AGENTD_TEST_PG=$PG_CONNINFO "$TEST_STORE" >"$T/test_store.log" 2>&1
fi
rc=$?

# cmocka's lines: "[ RUN      ] name", then "[       OK ] name",
# "[  FAILED  ] name", "[  ERROR   ] name" or "[  SKIPPED ] name"; the
# summary repeats failed names, after no RUN line, and is not counted.
awk '
/^\[ RUN      \] / { if (cur != "") print "FAIL store-pg: " cur ": no result (crashed?)"; cur = $4; next }
/^\[       OK \] / && $4 == cur { print "PASS store-pg: " cur; cur = ""; next }
/^\[  FAILED  \] / && $4 == cur { print "FAIL store-pg: " cur; cur = ""; next }
/^\[  ERROR   \] / && $4 == cur { print "FAIL store-pg: " cur " (setup or teardown)"; cur = ""; next }
/^\[  SKIPPED \] / && $4 == cur { print "SKIP store-pg: " cur; cur = ""; next }
END { if (cur != "") print "FAIL store-pg: " cur ": no result (crashed?)" }
' "$T/test_store.log" >"$T/results"
cat "$T/results"
FAILS=$((FAILS + $(grep -c '^FAIL ' "$T/results")))

want=$(sed -n 's/^\[==========\] Running \([0-9]*\) test.*/\1/p' "$T/test_store.log" | head -1)
got=$(grep -c '^\(PASS\|FAIL\|SKIP\) ' "$T/results")
if [ -z "$want" ]; then
	fail "store-pg: $TEST_STORE ran no suite (exit status $rc)"
elif [ "$got" -ne "$want" ]; then
	fail "store-pg: $got results of $want tests (exit status $rc)"
elif [ "$rc" -ne 0 ] && ! grep -q '^FAIL ' "$T/results"; then
	fail "store-pg: $TEST_STORE exited with status $rc"
fi

# The engine's own checks (tests/pg/smoke_write.c): concurrent claims by
# three hosts, a queue's limit under racing claims, appends racing a fence.
SMOKE=$UNIT_DIR/pg_smoke
if [ -x "$SMOKE" ]; then
	"$SMOKE" "$PG_CONNINFO" >"$T/pg_smoke.log" 2>&1
	src=$?
	line=$(tail -1 "$T/pg_smoke.log")
	if [ "$src" -eq 0 ]; then
		pass "store-pg: engine checks ($line)"
	else
		fail "store-pg: engine checks ($line; $(grep -m3 '^FAIL' "$T/pg_smoke.log" | tr '\n' ' '))"
	fi
else
	fail "store-pg: no $SMOKE (make unit builds it)"
fi

# The server log stays with the suite's when something failed.
if [ "$FAILS" -ne 0 ] && [ -f "$PG_LOG" ]; then
	cp "$PG_LOG" "$T/postgres.log"
fi
[ "$FAILS" -eq 0 ]
