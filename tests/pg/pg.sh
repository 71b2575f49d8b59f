#!/bin/sh
# A throwaway PostgreSQL server for tests: one cluster per directory, reached
# only through a private Unix socket (listen_addresses='', trust auth for
# local connections), removed again by pg_stop.
#
# Sourced by tests:   . tests/pg/pg.sh; pg_start "$T/pg" || exit; ...; pg_stop "$T/pg"
# Or run:             eval "$(sh tests/pg/pg.sh start DIR)"; sh tests/pg/pg.sh stop DIR
#                     sh tests/pg/pg.sh env DIR   (print the exports again)
#
# Functions (each takes the directory DIR first; each wait is bounded by
# PG_TIMEOUT seconds, default 60; each failure prints the server log's tail):
#   pg_bindir                  print the server binary directory, or fail
#   pg_start DIR               initdb into DIR/data, start, create role and
#                              database "agentd"; export and print PGHOST,
#                              PGPORT, PGUSER, PGDATABASE, PG_CONNINFO, PG_URI
#                              (and PG_DATA, PG_LOG). Returns 77 when no
#                              server binaries are installed.
#   pg_env DIR                 print those exports for a started DIR
#   pg_stop DIR                stop (fast, then immediate, then SIGKILL) and
#                              remove the data and the socket directory
#   pg_restart_immediate DIR   crash-stop and start again (recovery runs)
#   pg_terminate_backends DIR  end every other backend of database agentd;
#                              prints how many
#   pg_psql DIR SQL...         run each SQL as agentd; unaligned, tuples only
#
# As root the server runs as the system user $PG_TEST_USER (default
# agentd-pgtest, created with useradd --system when missing): PostgreSQL
# refuses to run as root. Otherwise it runs as the current user. The
# clients (psql) run as the caller. Environment: PG_BINDIR overrides the
# binary search; PG_TIMEOUT bounds each wait; PG_TEST_USER as above.

# pg_bindir: pg_config --bindir when it holds the server binaries, else the
# newest /usr/lib/postgresql/*/bin that does.
pg_bindir() {
	if [ -n "${PG_BINDIR:-}" ]; then
		[ -x "$PG_BINDIR/initdb" ] && [ -x "$PG_BINDIR/pg_ctl" ] &&
		    [ -x "$PG_BINDIR/postgres" ] && { echo "$PG_BINDIR"; return 0; }
		return 1
	fi
	_pgb_cands=
	if command -v pg_config >/dev/null 2>&1; then
		_pgb_cands=$(pg_config --bindir 2>/dev/null)
	fi
	# Newest major version first (sort -V understands 9.6 < 15).
	_pgb_cands="$_pgb_cands
$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5,5 -V -r)"
	for _pgb_d in $_pgb_cands; do
		if [ -x "$_pgb_d/initdb" ] && [ -x "$_pgb_d/pg_ctl" ] &&
		    [ -x "$_pgb_d/postgres" ]; then
			echo "$_pgb_d"
			return 0
		fi
	done
	return 1
}

_pg_say() { echo "pg.sh: $*" >&2; }

_pg_timeout() { echo "${PG_TIMEOUT:-60}"; }

# _pg_bounded SECONDS CMD...: CMD, killed after SECONDS when timeout exists.
_pg_bounded() {
	_pgt=$1
	shift
	if command -v timeout >/dev/null 2>&1; then
		timeout -k 5 "$_pgt" "$@"
	else
		"$@"
	fi
}

# _pg_as SECONDS CMD...: CMD as the server's user ($_pg_user when root),
# killed after SECONDS, run from / so that an unreadable working directory
# draws no warnings.
_pg_as() {
	_pga_t=$1
	shift
	if [ "$(id -u)" -eq 0 ]; then
		if command -v runuser >/dev/null 2>&1; then
			set -- runuser -u "$_pg_user" -- "$@"
		else
			set -- setpriv --reuid="$_pg_user" \
			    --regid="$(id -g "$_pg_user")" --init-groups -- "$@"
		fi
	fi
	(cd / && _pg_bounded "$_pga_t" "$@")
}

# _pg_user_setup: sets _pg_user; as root makes sure the system user exists.
_pg_user_setup() {
	if [ "$(id -u)" -ne 0 ]; then
		_pg_user=$(id -un)
		return 0
	fi
	_pg_user=${PG_TEST_USER:-agentd-pgtest}
	id -u "$_pg_user" >/dev/null 2>&1 && return 0
	# Two tests may race to create it: only a user still missing is an error.
	useradd --system --no-create-home --home-dir /nonexistent \
	    --shell /usr/sbin/nologin "$_pg_user" >/dev/null 2>&1
	id -u "$_pg_user" >/dev/null 2>&1 && return 0
	_pg_say "cannot create the system user $_pg_user (useradd failed); PostgreSQL will not run as root"
	return 1
}

_pg_log_tail() {
	[ -n "${_pg_log:-}" ] && [ -f "$_pg_log" ] || return 0
	echo "--- PostgreSQL log $_pg_log (last 30 lines)" >&2
	tail -30 "$_pg_log" >&2
}

# _pg_load DIR: read DIR/pg.env (written by pg_start) into _pg_* variables.
_pg_load() {
	if [ ! -f "$1/pg.env" ]; then
		_pg_say "$1: no server started here (no $1/pg.env)"
		return 1
	fi
	_pg_bin=; _pg_data=; _pg_sock=; _pg_port=; _pg_log=; _pg_user=; _pg_own=
	. "$1/pg.env"
	_pg_bin=$PG_BINDIR_USED; _pg_data=$PG_DATA; _pg_sock=$PGHOST
	_pg_port=$PGPORT; _pg_log=$PG_LOG; _pg_user=$PG_RUN_USER
	_pg_own=$PG_OWN_DIRS
}

_pg_psql_bin() {
	if [ -x "$_pg_bin/psql" ]; then echo "$_pg_bin/psql"; else echo psql; fi
}

# _pg_sql USER DB SQL...: psql as the caller, bounded, errors stop it.
_pg_sql() {
	_pgs_u=$1; _pgs_db=$2
	shift 2
	for _pgs_q in "$@"; do
		set -- "$@" -c "$_pgs_q"
		shift
	done
	_pg_bounded "$(_pg_timeout)" env PGCONNECT_TIMEOUT=10 "$(_pg_psql_bin)" -X -q -A -t \
	    -v ON_ERROR_STOP=1 -h "$_pg_sock" -p "$_pg_port" -U "$_pgs_u" \
	    -d "$_pgs_db" "$@"
}

# _pg_reachable DIR: can the server's user create files in DIR?
_pg_reachable() {
	_pg_as 10 test -x "$1" -a -w "$1" 2>/dev/null
}

pg_start() {
	if [ $# -ne 1 ] || [ -z "$1" ]; then
		_pg_say "usage: pg_start DIR"
		return 2
	fi
	if ! _pg_bin=$(pg_bindir); then
		_pg_say "SKIP: no PostgreSQL server binaries (initdb, pg_ctl, postgres) found"
		_pg_say "      (looked in pg_config --bindir and /usr/lib/postgresql/*/bin);"
		_pg_say "      install them with: apt-get install -y postgresql"
		return 77
	fi
	mkdir -p "$1" || return 1
	_pg_dir=$(cd "$1" && pwd) || return 1
	if [ -f "$_pg_dir/pg.env" ]; then
		_pg_say "$_pg_dir: a server was already started here; pg_stop it first"
		return 1
	fi
	_pg_user_setup || return 1
	_pg_own=

	# The data and socket live in DIR when the server's user can reach it.
	# As root, DIR usually sits under a 0700 root-owned temp directory the
	# unprivileged user cannot enter: then both go to a fresh /tmp directory
	# (recorded in DIR/pg.env, removed by pg_stop).
	_pg_base=$_pg_dir
	if [ "$(id -u)" -eq 0 ]; then
		chown "$_pg_user" "$_pg_dir" 2>/dev/null
		if ! _pg_reachable "$_pg_dir"; then
			_pg_base=$(mktemp -d /tmp/agentd-pg-XXXXXX) || return 1
			chown "$_pg_user" "$_pg_base" || return 1
			_pg_own=$_pg_base
			_pg_say "note: $_pg_user cannot enter $_pg_dir; data and socket in $_pg_base"
		fi
	fi
	_pg_data=$_pg_base/data
	if [ -e "$_pg_data" ]; then
		_pg_say "$_pg_data already exists; pg_start wants a fresh directory"
		return 1
	fi
	# Socket paths are limited to 107 bytes (sun_path); .s.PGSQL.NNNNN.lock
	# adds 20 to the directory.
	_pg_sock=$_pg_base/sock
	if [ "${#_pg_sock}" -gt 80 ]; then
		_pg_sock=$(mktemp -d /tmp/pgs-XXXXXX) || return 1
		_pg_own="$_pg_own $_pg_sock"
	else
		mkdir -p "$_pg_sock" || return 1
	fi
	chmod 755 "$_pg_sock"
	[ "$(id -u)" -eq 0 ] && chown "$_pg_user" "$_pg_sock"

	# Any port will do (the socket directory is private; there is no TCP),
	# but a random one keeps the SysV shared-memory keys of parallel
	# clusters (derived from the port) apart.
	_pg_rand=$(od -An -N2 -tu2 /dev/urandom 2>/dev/null | tr -d ' ')
	_pg_port=$((5433 + ${_pg_rand:-$$} % 20000))

	# The server's user writes the log, so it lives beside the data; when
	# that is outside DIR, pg_stop copies it into DIR/postgres.log.
	_pg_log=$_pg_base/postgres.log
	: >"$_pg_log" || return 1
	[ "$(id -u)" -eq 0 ] && chown "$_pg_user" "$_pg_log"

	# Written first so that pg_stop cleans up after a half-done start.
	_pg_conninfo="host=$_pg_sock port=$_pg_port user=agentd dbname=agentd"
	_pg_uri="postgresql://agentd@/agentd?host=$_pg_sock&port=$_pg_port"
	cat >"$_pg_dir/pg.env" <<EOT
PGHOST='$_pg_sock'
PGPORT='$_pg_port'
PGUSER='agentd'
PGDATABASE='agentd'
PG_CONNINFO='$_pg_conninfo'
PG_URI='$_pg_uri'
PG_DATA='$_pg_data'
PG_LOG='$_pg_log'
PG_BINDIR_USED='$_pg_bin'
PG_RUN_USER='$_pg_user'
PG_OWN_DIRS='$_pg_own'
export PGHOST PGPORT PGUSER PGDATABASE PG_CONNINFO PG_URI PG_DATA PG_LOG
EOT

	# fsync and initdb's syncs stay at their defaults, as on a real server:
	# initdb --no-sync measured only ~0.1 s faster (0.57 s against 0.48 s).
	if ! _pg_as "$(_pg_timeout)" "$_pg_bin/initdb" -D "$_pg_data" \
	    -U postgres -A trust -E UTF8 --locale=C \
	    >>"$_pg_log" 2>&1; then
		_pg_say "initdb into $_pg_data failed"
		_pg_log_tail
		return 1
	fi
	# Local socket connections only, trusted.
	printf '# agentd tests: private Unix socket only\nlocal all all trust\n' \
	    >"$_pg_data/pg_hba.conf"
	cat >>"$_pg_data/postgresql.conf" <<EOT

# agentd tests (tests/pg/pg.sh)
listen_addresses = ''
port = $_pg_port
unix_socket_directories = '$_pg_sock'
unix_socket_permissions = 0777
max_connections = 250
logging_collector = off
log_line_prefix = '%m [%p] %q%u@%d '
EOT
	[ "$(id -u)" -eq 0 ] && chown "$_pg_user" "$_pg_data/pg_hba.conf" \
	    "$_pg_data/postgresql.conf"
	if ! _pg_as "$(($(_pg_timeout) + 10))" "$_pg_bin/pg_ctl" \
	    -D "$_pg_data" -l "$_pg_log" -w -t "$(_pg_timeout)" start \
	    >>"$_pg_log" 2>&1; then
		_pg_say "the server in $_pg_data did not start within $(_pg_timeout)s"
		_pg_log_tail
		return 1
	fi
	if ! _pg_sql postgres postgres "CREATE ROLE agentd LOGIN" \
	    "CREATE DATABASE agentd OWNER agentd" >>"$_pg_log" 2>&1; then
		_pg_say "creating role and database agentd failed"
		_pg_log_tail
		return 1
	fi
	. "$_pg_dir/pg.env"
	pg_env "$_pg_dir"
}

pg_env() {
	[ -f "$1/pg.env" ] || { _pg_say "$1: no server started here"; return 1; }
	(
		. "$1/pg.env"
		for v in PGHOST PGPORT PGUSER PGDATABASE PG_CONNINFO PG_URI PG_DATA PG_LOG; do
			eval "printf \"export %s='%s'\\n\" $v \"\$$v\""
		done
	)
}

# _pg_alive PID: the process exists and is not a zombie.
_pg_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	[ -r "/proc/$1/stat" ] || return 0
	case "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" in
	Z | X | "") return 1 ;;
	esac
	return 0
}

pg_stop() {
	[ $# -eq 1 ] || { _pg_say "usage: pg_stop DIR"; return 2; }
	# Nothing started (or already stopped): nothing to do.
	[ -f "$1/pg.env" ] || return 0
	_pg_load "$1" || return 1
	_pg_rc=0
	if [ -f "$_pg_data/postmaster.pid" ]; then
		_pg_pid=$(head -1 "$_pg_data/postmaster.pid" 2>/dev/null)
		_pg_t=$(_pg_timeout)
		if ! _pg_as "$((_pg_t + 10))" "$_pg_bin/pg_ctl" -D "$_pg_data" \
		    -w -t "$_pg_t" stop -m fast >>"$_pg_log" 2>&1; then
			_pg_say "fast shutdown of $_pg_data failed; trying immediate"
			_pg_log_tail
			if ! _pg_as "$((_pg_t + 10))" "$_pg_bin/pg_ctl" \
			    -D "$_pg_data" -w -t "$_pg_t" stop -m immediate \
			    >>"$_pg_log" 2>&1; then
				_pg_say "immediate shutdown failed too; SIGKILL to postmaster ${_pg_pid:-?}"
				[ -n "$_pg_pid" ] && kill -9 "$_pg_pid" 2>/dev/null
				_pg_rc=1
			fi
		fi
		# pg_ctl returns once postmaster.pid is gone, a moment before the
		# postmaster itself exits: wait (bounded) for the process too.
		if [ -n "$_pg_pid" ]; then
			_pg_i=0
			while _pg_alive "$_pg_pid" && [ "$_pg_i" -lt $((_pg_t * 10)) ]; do
				sleep 0.1
				_pg_i=$((_pg_i + 1))
			done
			if _pg_alive "$_pg_pid"; then
				_pg_say "postmaster $_pg_pid still running after ${_pg_t}s; SIGKILL"
				kill -9 "$_pg_pid" 2>/dev/null
				_pg_rc=1
			fi
		fi
	fi
	if [ "$_pg_log" != "$1/postgres.log" ] && [ -f "$_pg_log" ]; then
		cp "$_pg_log" "$1/postgres.log" 2>/dev/null
	fi
	rm -rf "$_pg_data" "$_pg_sock" $_pg_own "$1/pg.env"
	return "$_pg_rc"
}

pg_restart_immediate() {
	[ $# -eq 1 ] || { _pg_say "usage: pg_restart_immediate DIR"; return 2; }
	_pg_load "$1" || return 1
	_pg_t=$(_pg_timeout)
	if ! _pg_as "$((_pg_t + 10))" "$_pg_bin/pg_ctl" -D "$_pg_data" \
	    -l "$_pg_log" -w -t "$_pg_t" restart -m immediate >>"$_pg_log" 2>&1; then
		_pg_say "immediate restart of $_pg_data failed within ${_pg_t}s"
		_pg_log_tail
		return 1
	fi
}

pg_terminate_backends() {
	[ $# -eq 1 ] || { _pg_say "usage: pg_terminate_backends DIR"; return 2; }
	_pg_load "$1" || return 1
	# As the superuser, from database postgres: every backend of agentd goes.
	_pg_sql postgres postgres "SELECT count(pg_terminate_backend(pid))
	    FROM pg_stat_activity
	    WHERE datname = 'agentd' AND pid <> pg_backend_pid()" || {
		_pg_say "pg_terminate_backends failed"
		_pg_log_tail
		return 1
	}
}

pg_psql() {
	[ $# -ge 2 ] || { _pg_say "usage: pg_psql DIR SQL..."; return 2; }
	_pg_load "$1" || return 1
	shift
	_pg_sql agentd agentd "$@"
}

# Run as a script (sh tests/pg/pg.sh CMD DIR), not when sourced.
case ${0##*/} in
pg.sh)
	set -u
	case "${1:-}" in
	start) [ $# -eq 2 ] && { pg_start "$2"; exit $?; } ;;
	stop) [ $# -eq 2 ] && { pg_stop "$2"; exit $?; } ;;
	env) [ $# -eq 2 ] && { pg_env "$2"; exit $?; } ;;
	restart-immediate) [ $# -eq 2 ] && { pg_restart_immediate "$2"; exit $?; } ;;
	terminate-backends) [ $# -eq 2 ] && { pg_terminate_backends "$2"; exit $?; } ;;
	psql) [ $# -ge 3 ] && { shift; pg_psql "$@"; exit $?; } ;;
	esac
	echo "usage: sh $0 start|stop|env|restart-immediate|terminate-backends DIR" >&2
	echo "       sh $0 psql DIR SQL..." >&2
	exit 2
	;;
esac
