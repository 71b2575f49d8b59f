#!/bin/sh
# Chaos on a shared PostgreSQL store, quick mode (tests/chaos/chaos.sh with
# STORE=postgres HOSTS=3 ROUNDS=3): three agentd hosts on a throwaway
# server (tests/pg/pg.sh), lease TTL 4 s, random backend faults from
# agent-mock, and a round of each kind: a whole host killed with kill -9
# (restarted with the same host id after a pause), a host stopped
# (SIGSTOP) past its lease and continued, a worker killed, while runs
# stream; every run must complete with every event stored once. Prints
# PASS/FAIL lines; logs and a dump of the store are kept on failure. SKIP
# without PostgreSQL's server binaries.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-$top/bin}
export BIN
. "$top/tests/pg/pg.sh"

if ! pg_bindir >/dev/null || ! command -v psql >/dev/null 2>&1; then
	echo "SKIP chaos on PostgreSQL: no PostgreSQL server binaries or psql (apt-get install -y postgresql)"
	exit 0
fi
out=$(mktemp "${TMPDIR:-/tmp}/agentd-chaos-pg-out-XXXXXX")

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

# 200 runs in flight (the default), as in test_chaos.sh; the three rounds
# are one of each kind (KINDS), in that order, on hosts drawn at random.
scenario "chaos on PostgreSQL: 3 hosts, kill -9 of a host, SIGSTOP past the lease, kill -9 of a worker, random faults" \
    STORE=postgres HOSTS=3 ROUNDS=3 LEASE_TTL=4 KINDS=host,stop,worker
rm -f "$out"
exit 0
