# Sourced by the shared-store integration scripts, after lib.sh and pg.sh:
# a throwaway PostgreSQL for the script and agentd hosts on it.
#
#   pg_hosts_setup NAME   SKIP (exit 0) without server binaries; start the
#                         server in $T/pg, chain its stop and the hosts'
#                         into lib.sh's cleanup; sets PG_CONNINFO etc.
#                         and exports AGENTD_DB
#   start_host NAME ARGS  agentd as host NAME on $T/NAME.sock against
#                         $MOCK_URL (--lease-ttl $TTL, 2 workers); its pid
#                         in PID_NAME, its log $T/NAME.log
#   hctl NAME ARGS        agentctl on host NAME's socket
#   up NAME               host NAME answers
#   psql_q SQL            one query, unaligned, tuples only
#   none_active           no run pending, starting or running

PGD=$T/pg
HPIDS=""
TTL=${TTL:-5}

pg_hosts_cleanup() {
	for p in $HPIDS; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
	sleep 0.3
	for p in $HPIDS; do kill -9 "$p" 2>/dev/null; done
	pg_stop "$PGD" >/dev/null 2>&1
	cleanup
}

pg_hosts_setup() {
	if ! pg_bindir >/dev/null; then
		skip "$1: no PostgreSQL server binaries (apt-get install -y postgresql)"
		exit 0
	fi
	# The server stops before lib.sh's cleanup, whose pkill -f "$T/"
	# would SIGKILL a postmaster whose data lives under $T.
	trap pg_hosts_cleanup EXIT
	trap 'exit 1' INT TERM
	if ! pg_start "$PGD" >"$T/pg_start.log" 2>&1; then
		fail "pg_start: $(tail -5 "$T/pg_start.log" | tr '\n' ' ')"
		exit 1
	fi
	. "$PGD/pg.env" 2>/dev/null
	export AGENTD_DB="$PG_CONNINFO"
}

start_host() {
	_name=$1
	shift
	AGENTD_DB=$PG_CONNINFO "$BIN/agentd" --socket "$T/$_name.sock" \
	    --endpoint "$MOCK_URL/v1" \
	    --host-id "$_name" --lease-ttl "$TTL" --workers 2 "$@" \
	    >>"$T/$_name.log" 2>&1 &
	eval "PID_$_name=$!"
	HPIDS="$HPIDS $!"
}
hctl() { _h=$1; shift; "$BIN/agentctl" -s "$T/$_h.sock" "$@"; }
up() { hctl "$1" status >/dev/null 2>&1; }
psql_q() { psql -X -A -t -q -d "$PG_CONNINFO" -c "$1"; }
none_active() { [ "$(psql_q "SELECT count(*) FROM runs WHERE status IN ('pending','starting','running')")" = 0 ]; }
