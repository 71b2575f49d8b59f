# Shared by test-cli.sh and test-http.sh (sourced): the fake server's
# lifetime and the PASS/FAIL tally. Uses $SOCK, $TMP, $SERVER_PID, $rc,
# $npass and $nfail of the sourcing script.

# Wait up to 5 s for the server just started in the background.
wait_server() {
	SERVER_PID=$!
	i=0
	while [ ! -S "$SOCK" ] && [ $i -lt 100 ]; do
		sleep 0.05
		i=$((i + 1))
	done
	[ -S "$SOCK" ] || { echo "FAIL server did not start"; exit 1; }
}

# Stop the server started by start_server (if it still runs).
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null
		SERVER_PID=
	fi
}

pass() { npass=$((npass + 1)); echo "PASS $1"; }
fail() {
	nfail=$((nfail + 1))
	echo "FAIL $1"
	[ $# -gt 1 ] && printf '  %s\n' "$2"
	printf '  rc=%s stdout: %s\n  stderr: %s\n' "$rc" \
	    "$(head -c 400 "$TMP/out" 2>/dev/null)" \
	    "$(head -c 400 "$TMP/err" 2>/dev/null)"
}
