#!/bin/sh
# The Responses-compatible front (agentd --listen) driven by the real npm
# packages: openai 7.x and 6.x, ai + @ai-sdk/openai, @openai/agents
# (tests/sdk/). Four backend setups behind agentd: agent-mock by default
# (background + stream), --reject-background (stream only), --reject-stream
# (JSON only, polled) and --dialect databricks. Each node test prints one
# PASS/FAIL/SKIP line. Without node: SKIP. With an agentd that has no
# --listen yet: the same tests straight against agent-mock (proving the
# tests and the packages), the front's SKIPped.
. "$(dirname "$0")/lib.sh"

top=$(cd "$(dirname "$0")/../.." && pwd)
sdk=$top/tests/sdk
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
	skip "sdk: node not installed (CI installs it)"
	exit 0
fi
if [ ! -d "$sdk/node_modules" ]; then
	if ! (cd "$sdk" && npm ci --no-audit --no-fund --loglevel=error) \
	    >"$T/npm.log" 2>&1; then
		fail "sdk: npm ci in tests/sdk failed: $(tail -3 "$T/npm.log" | tr '\n' ' ')"
		exit 1
	fi
fi

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# node_tests SETUP FILES...: the node tests, one line each; a node run
# that fails without a FAIL line counts as one failure.
node_tests() {
	setup=$1
	shift
	out=$T/node-$setup-$(basename "$1" .test.mjs).out
	(cd "$sdk" && SDK_PREFIX="sdk $setup: " SDK_SETUP=$setup \
	    timeout 150 node --test --test-concurrency=1 \
	    --test-reporter=./reporter.mjs "$@") >"$out" 2>&1
	rc=$?
	cat "$out"
	f=$(grep -c '^FAIL ' "$out")
	FAILS=$((FAILS + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		fail "sdk $setup: node --test $* exited $rc: $(tail -5 "$out" | tr '\n' ' ')"
	fi
}

TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
export AGENTD_FRONT_TOKEN=$TOKEN SDK_TOKEN=$TOKEN BIN
export AGENTD_LOG=$T/agentd.log AGENTD_PIDFILE=$T/agentd.pid

# SDK_TARGET=mock: the same clients straight against agent-mock, as when
# agentd has no front (yet).
if [ "${SDK_TARGET:-}" = mock ] || ! "$BIN/agentd" --help 2>&1 | grep -q -- '--listen'; then
	[ "${SDK_TARGET:-}" = mock ] ||
	    skip "sdk front: agentd has no --listen; the tests run against agent-mock alone"
	start_mock
	export SDK_TARGET=mock SDK_BASE_URL=$MOCK_URL/v1 MOCK_URL
	node_tests mock openai.test.mjs ai.test.mjs agents.test.mjs errors.test.mjs
	exit 0
fi

export SDK_TARGET=front
for setup in ${SDK_SETUPS:-default reject-background reject-stream databricks}; do
	DB=$T/$setup.db
	SOCK=$T/$setup.sock
	port=$(free_port)
	case $setup in
	default) mflags= aflags= ;;
	reject-background) mflags=--reject-background aflags= ;;
	reject-stream) mflags=--reject-stream aflags= ;;
	databricks)
		mflags="--dialect databricks --db-poll-ms 50 --failover-pause-ms 500"
		aflags="--dialect databricks" ;;
	esac
	# shellcheck disable=SC2086
	start_mock $mflags
	# shellcheck disable=SC2086
	start_agentd $aflags --listen "127.0.0.1:$port"
	echo "$AGENTD_PID" >"$AGENTD_PIDFILE"
	export SDK_BASE_URL=http://127.0.0.1:$port/v1 MOCK_URL AGENTD_SOCK=$SOCK AGENTD_DB=$DB
	# shellcheck disable=SC2086
	AGENTD_ARGV=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:]))' \
	    "$BIN/agentd" --db "$DB" --socket "$SOCK" --endpoint "$MOCK_URL/v1" \
	    $aflags --listen "127.0.0.1:$port")
	export AGENTD_ARGV
	if ! wait_for 10 curl -s -o /dev/null "$SDK_BASE_URL/responses/x"; then
		fail "sdk $setup: the front does not answer on 127.0.0.1:$port"
		exit 1
	fi
	files="openai.test.mjs ai.test.mjs agents.test.mjs"
	[ "$setup" = default ] && files="$files errors.test.mjs"
	# The keep-alive test waits ~16 s: beside the others, in the default
	# setup only.
	ka=
	if [ "$setup" = default ]; then
		node_tests "$setup" keepalive.test.mjs >"$T/keepalive.lines" &
		ka=$!
	fi
	# shellcheck disable=SC2086
	node_tests "$setup" $files
	if [ -n "$ka" ]; then
		wait "$ka"
		cat "$T/keepalive.lines"
		FAILS=$((FAILS + $(grep -c '^FAIL ' "$T/keepalive.lines")))
	fi
	case $setup in default|reject-stream|databricks) node_tests "$setup" restart.test.mjs ;; esac
	AGENTD_PID=$(cat "$AGENTD_PIDFILE")
	check "sdk $setup: agentd still up after the tests" kill -0 "$AGENTD_PID"
	kill_agentd 15
	stop_mock
done
exit 0
