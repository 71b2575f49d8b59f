#!/bin/sh
# Chaos test of agentd: random backend faults from agent-mock (--seed,
# --chaos-drop, --chaos-stall, --chaos-429, --chaos-500, --chaos-split),
# RUNS runs kept in flight, and for ROUNDS rounds a SIGKILL of agentd, of
# one of its workers, or of both, at random moments. At the end every run
# must be completed with every event stored exactly once. The driver logic
# is tests/chaos/chaos.py, the check tests/chaos/verify_chaos.py.
#
# With STORE=postgres HOSTS=N the store is a throwaway PostgreSQL server
# (tests/pg/pg.sh) shared by N agentd hosts h0..hN-1 (--lease-ttl
# LEASE_TTL, default 4), runs are submitted through any live host, and
# each round kills a whole host (SIGKILL of its workers and supervisor;
# restarted with the same host id after a pause), kills one of a host's
# workers, or SIGSTOPs a host past its lease TTL and then SIGCONTs it.
#
# usage: [ROUNDS=N] [RUNS=N] [EVENTS=N] [WORKERS=N] [SEED=N] [BIN=DIR]
#        [KEEP=1] [STORE=sqlite|postgres] [HOSTS=N] [LEASE_TTL=SECS]
#        sh tests/chaos/chaos.sh
# Prints one line "chaos: rounds R, kills K (agentd A, worker W), runs N,
# events checked E, losses L, duplicates D, resubmitted S" (on PostgreSQL
# "kills K (host H, worker W, stop P)"); exits 0 only if L = D = 0 and
# every run completed. ROUNDS=3 is the quick mode (under a minute); the
# default is 20.
set -u
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
BIN=${BIN:-$top/bin}
case $BIN in
/*) ;;
*) BIN=$(cd "$BIN" && pwd) ;;
esac
export BIN
for p in agentd agent-mock; do
	if [ ! -x "$BIN/$p" ]; then
		echo "chaos: no $BIN/$p (run make first)" >&2
		exit 2
	fi
done
if ! command -v python3 >/dev/null 2>&1; then
	echo "chaos: python3 is needed" >&2
	exit 2
fi
case ${STORE:-sqlite} in
sqlite)
	if [ "${HOSTS:-1}" != 1 ]; then
		echo "chaos: HOSTS=$HOSTS needs STORE=postgres (one agentd per SQLite store)" >&2
		exit 2
	fi
	;;
postgres | pg | postgresql)
	if ! command -v psql >/dev/null 2>&1; then
		echo "chaos: STORE=postgres needs psql (apt-get install -y postgresql)" >&2
		exit 2
	fi
	;;
*)
	echo "chaos: STORE=$STORE: sqlite or postgres" >&2
	exit 2
	;;
esac
exec python3 "$here/chaos.py"
