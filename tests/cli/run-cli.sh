#!/bin/sh
# run-cli.sh SCRIPT: run tests/cli/SCRIPT against $BIN/agentctl. With
# VALGRIND=1, agentctl runs under memcheck through a wrapper script and
# any report (an error or a definite leak) is one more failure.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${BIN:-$(pwd)/bin}
if [ "${VALGRIND:-0}" != 1 ]; then
	AGENTCTL=$BIN/agentctl exec sh "$HERE/$1"
fi
W=$(mktemp -d "${TMPDIR:-/tmp}/agentctl-vg.XXXXXX")
cat >"$W/agentctl" <<WRAP
#!/bin/sh
exec valgrind -q --leak-check=full --errors-for-leak-kinds=definite \\
    --error-exitcode=99 --log-file="$W/valgrind.%p.log" "$BIN/agentctl" "\$@"
WRAP
chmod +x "$W/agentctl"
AGENTCTL=$W/agentctl sh "$HERE/$1"
rc=$?
for f in "$W"/valgrind.*.log; do
	[ -s "$f" ] || continue
	echo "FAIL valgrind report in $(basename "$f")"
	head -30 "$f"
	rc=1
done
rm -rf "$W"
exit "$rc"
