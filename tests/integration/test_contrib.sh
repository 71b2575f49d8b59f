#!/bin/sh
# Checks of contrib/: the man pages render without warnings and document
# every option and command the programs' --help lists (so they cannot go
# stale silently), the bash completion loads and completes what agentctl
# has, and the systemd unit starts agentd on /run/agentd/agentd.sock.
# Prints "PASS name", "FAIL name: why" or "SKIP name: why" lines; exits 1
# if anything failed. BIN: the programs (default bin). Tools used when
# present, else the checks that need them SKIP: groff (groff-base), man
# (man-db), mandoc, bash, systemd-analyze (systemd).
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
BIN=${BIN:-bin}
case $BIN in /*) ;; *) [ -d "$BIN" ] || BIN=$top/$BIN ;; esac
BIN=$(cd "$BIN" 2>/dev/null && pwd) || BIN=${BIN:-bin}
MAN=$top/contrib/man
COMP=$top/contrib/completion/agentctl.bash
UNIT=$top/contrib/systemd/agentd.service
ENVEX=$top/contrib/systemd/agentd.env.example
T=$(mktemp -d "${TMPDIR:-/tmp}/agentd-contrib-XXXXXX")
FAILS=0
MOCK_PID=
AGENTD_PID=

cleanup() {
	[ -n "$AGENTD_PID" ] && kill "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	[ -n "$AGENTD_PID$MOCK_PID" ] && sleep 0.3
	[ -n "$AGENTD_PID" ] && kill -9 "$AGENTD_PID" 2>/dev/null
	[ -n "$MOCK_PID" ] && kill -9 "$MOCK_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "$FAILS" -eq 0 ]; then rm -rf "$T"; else echo "files kept in $T"; fi
}
trap cleanup EXIT
trap 'exit 1' INT TERM

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1${2:+: $2}"; FAILS=$((FAILS + 1)); }
skip() { echo "SKIP $1: $2"; }
have() { command -v "$1" >/dev/null 2>&1; }

for p in agentd agentctl agent-mock; do
	if [ ! -x "$BIN/$p" ]; then
		fail "contrib: $BIN/$p" "not built (run make)"
		exit 1
	fi
done

# ---------------------------------------------------------------------------
# Man pages.

# man_text FILE: the page source with \- as -, font escapes and quotes gone.
man_text() {
	sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g' -e 's/\\%//g' -e 's/\\&//g' \
	    -e 's/"//g' "$1"
}

# man_section FILE NAME: the normalised text of section .SH NAME.
man_section() {
	man_text "$1" | awk -v s="$2" '
	    /^\.SH / { sub(/^\.SH +/, ""); on = ($0 == s); next }
	    on { print }'
}

# man_subsection FILE NAME: the normalised text of subsection .SS NAME.
man_subsection() {
	man_text "$1" | awk -v s="$2" '
	    /^\.S[HS] / { t = $0; sub(/^\.S[HS] +/, "", t)
	        on = ($1 == ".SS" && t == s); next }
	    on { print }'
}

# usage_of CMD [SUB]: the usage lines of agentctl help CMD [SUB].
usage_of() {
	"$BIN/agentctl" help "$@" 2>&1 | sed '/^$/q'
}

# opts_in: the options (-x, --xyz) in stdin, one a line, sorted.
opts_in() {
	grep -o -- '-\{1,2\}[a-z][a-z0-9-]*' | sort -u
}

# subcommands CMD: the subcommands of agentctl CMD (the lower-case words
# of its usage that "agentctl help CMD WORD" knows), one a line.
subcommands() {
	for w in $(usage_of "$1" | sed -e '1s/^usage: agentctl [a-z]*//' \
	    -e 's/-\{1,2\}[a-z][a-z0-9-]*//g' | grep -o '[a-z][a-z-]*' |
	    sort -u); do
		"$BIN/agentctl" help "$1" "$w" 2>/dev/null | head -1 |
		    grep -q "^usage: agentctl $1 \[\{0,1\}$w\b" && echo "$w"
	done
}

# tags TEXT: the tag lines of .TP entries, without their macro.
tags() {
	awk '/^\.TP/ { getline; sub(/^\.[A-Z]+ */, ""); print }'
}

# has_opt OPT: true if stdin mentions option OPT as a whole word.
has_opt() {
	grep -Eq -- "(^|[^-A-Za-z0-9])$1([^-A-Za-z0-9]|\$)"
}

for page in agentd.8 agentctl.1 agent-mock.1; do
	f=$MAN/$page
	if [ ! -f "$f" ]; then
		fail "man $page exists" "no $f"
		continue
	fi
	if have groff; then
		if groff -man -ww -z "$f" >"$T/groff.out" 2>&1 &&
		    [ ! -s "$T/groff.out" ]; then
			pass "man $page renders without warnings (groff -ww)"
		else
			fail "man $page renders without warnings (groff -ww)" \
			    "$(head -3 "$T/groff.out" | tr '\n' ' ')"
		fi
	else
		skip "man $page renders without warnings (groff -ww)" \
		    "groff not installed (apt-get install groff-base)"
	fi
	if have mandoc; then
		if mandoc -T lint -W warning "$f" >"$T/mandoc.out" 2>&1 &&
		    [ ! -s "$T/mandoc.out" ]; then
			pass "man $page passes mandoc -T lint"
		else
			fail "man $page passes mandoc -T lint" \
			    "$(head -3 "$T/mandoc.out" | tr '\n' ' ')"
		fi
	else
		skip "man $page passes mandoc -T lint" \
		    "mandoc not installed (apt-get install mandoc)"
	fi
	if have man; then
		if MANWIDTH=80 LC_ALL=C.UTF-8 man -l "$f" >"$T/man.out" \
		    2>/dev/null && grep -q 'SYNOPSIS' "$T/man.out"; then
			pass "man $page renders with man -l"
		else
			fail "man $page renders with man -l"
		fi
	else
		skip "man $page renders with man -l" "man not installed"
	fi
done

# agentd: every option line of --help ("-e, --endpoint URL", "--db ...")
# has its own entry in OPTIONS, and every entry there is a real option.
"$BIN/agentd" --help >"$T/agentd.help" 2>&1
sed -n 's/^ \{2,\}\(-[A-Za-z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\1\2/p' \
    "$T/agentd.help" >"$T/agentd.opts"
man_section "$MAN/agentd.8" OPTIONS | tags >"$T/agentd.tags"
missing=
while IFS= read -r o; do
	has_opt "$o" <"$T/agentd.tags" || missing="$missing '$o'"
done <"$T/agentd.opts"
if [ ! -s "$T/agentd.opts" ]; then
	fail "agentd.8 documents every agentd --help option" \
	    "no options found in agentd --help"
elif [ -z "$missing" ]; then
	pass "agentd.8 documents every agentd --help option ($(wc -l <"$T/agentd.opts"))"
else
	fail "agentd.8 documents every agentd --help option" "missing:$missing"
fi
extra=
for o in $(grep -o -- '--[a-z][a-z0-9-]*' "$T/agentd.tags" | sort -u); do
	has_opt "$o" <"$T/agentd.opts" || extra="$extra $o"
done
if [ -z "$extra" ]; then
	pass "agentd.8 OPTIONS lists no option agentd lacks"
else
	fail "agentd.8 OPTIONS lists no option agentd lacks" "stale:$extra"
fi

# agentd: environment, files, signals and the delivery guarantee.
missing=
for v in AGENTD_API_KEY OPENAI_API_KEY AGENTD_SOCKET XDG_RUNTIME_DIR; do
	man_section "$MAN/agentd.8" ENVIRONMENT | grep -q "^\.B $v\$" ||
	    missing="$missing $v"
done
for s in SYNOPSIS DESCRIPTION OPTIONS ENVIRONMENT FILES 'LOCAL API' \
    SIGNALS 'DELIVERY GUARANTEE' 'EXIT STATUS' EXAMPLES; do
	grep -q "^\.SH \"\{0,1\}$s\"\{0,1\}\$" "$MAN/agentd.8" ||
	    missing="$missing section:'$s'"
done
man_section "$MAN/agentd.8" FILES | grep -q '\.lock' ||
    missing="$missing FILES:.lock"
man_section "$MAN/agentd.8" SIGNALS | grep -q SIGTERM ||
    missing="$missing SIGNALS:SIGTERM"
if [ -z "$missing" ]; then
	pass "agentd.8 has its sections and environment variables"
else
	fail "agentd.8 has its sections and environment variables" \
	    "missing:$missing"
fi

# agentctl: the global options, every command as a .SS subsection with
# every option of its usage line, and no subsection for a command that is
# gone.
"$BIN/agentctl" --help >"$T/ctl.help" 2>&1
sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\).*/\1/p' "$T/ctl.help" \
    >"$T/ctl.cmds"
sed -n '/^Options:/,/^$/s/^ \{2,\}\(-[A-Za-z], \)\{0,1\}\(--[a-z][a-z0-9-]*\).*/\1\2/p' \
    "$T/ctl.help" >"$T/ctl.gopts"
man_section "$MAN/agentctl.1" OPTIONS | tags >"$T/ctl.tags"
missing=
while IFS= read -r o; do
	has_opt "$o" <"$T/ctl.tags" || missing="$missing '$o'"
done <"$T/ctl.gopts"
if [ ! -s "$T/ctl.gopts" ]; then
	fail "agentctl.1 documents the global options" \
	    "none found in agentctl --help"
elif [ -z "$missing" ]; then
	pass "agentctl.1 documents the global options"
else
	fail "agentctl.1 documents the global options" "missing:$missing"
fi
if [ ! -s "$T/ctl.cmds" ]; then
	fail "agentctl.1 documents every command" \
	    "no commands found in agentctl --help"
fi
for c in $(cat "$T/ctl.cmds"); do
	man_subsection "$MAN/agentctl.1" "$c" >"$T/ctl.sec"
	if [ ! -s "$T/ctl.sec" ]; then
		fail "agentctl.1 documents '$c'" "no '.SS $c' subsection"
		continue
	fi
	usage_of "$c" >"$T/ctl.usage"
	subcommands "$c" >"$T/subs.$c"
	for sc in $(cat "$T/subs.$c"); do
		usage_of "$c" "$sc" >>"$T/ctl.usage"
	done
	missing=
	for o in $(opts_in <"$T/ctl.usage"); do
		has_opt "$o" <"$T/ctl.sec" || missing="$missing $o"
	done
	for sc in $(cat "$T/subs.$c"); do
		grep -Eq "(^|[^a-z])$sc([^a-z]|\$)" "$T/ctl.sec" ||
		    missing="$missing subcommand:$sc"
	done
	if [ -z "$missing" ]; then
		pass "agentctl.1 documents '$c' and its options"
	else
		fail "agentctl.1 documents '$c' and its options" \
		    "missing:$missing"
	fi
done
extra=
for c in $(man_section "$MAN/agentctl.1" COMMANDS |
    sed -n 's/^\.SS \(.*\)/\1/p'); do
	grep -qx "$c" "$T/ctl.cmds" || extra="$extra $c"
done
if [ -z "$extra" ]; then
	pass "agentctl.1 documents no command agentctl lacks"
else
	fail "agentctl.1 documents no command agentctl lacks" "stale:$extra"
fi
missing=
for code in 0 1 2 3 4 5; do
	man_section "$MAN/agentctl.1" 'EXIT STATUS' | grep -qx "\.B $code" ||
	    missing="$missing $code"
done
for v in AGENTD_SOCKET XDG_RUNTIME_DIR; do
	man_section "$MAN/agentctl.1" ENVIRONMENT | grep -q "^\.B $v\$" ||
	    missing="$missing $v"
done
man_section "$MAN/agentctl.1" 'THE API BEHIND EACH COMMAND' |
    grep -q 'curl.*--unix-socket' || missing="$missing curl-examples"
if [ -z "$missing" ]; then
	pass "agentctl.1 has exit codes, environment and curl equivalents"
else
	fail "agentctl.1 has exit codes, environment and curl equivalents" \
	    "missing:$missing"
fi

# agent-mock: every option of --help has an entry.
"$BIN/agent-mock" --help >"$T/mock.help" 2>&1
sed -n 's/^ \{2,\}\(--[a-z][a-z0-9-]*\).*/\1/p' "$T/mock.help" >"$T/mock.opts"
man_section "$MAN/agent-mock.1" OPTIONS | tags >"$T/mock.tags"
missing=
while IFS= read -r o; do
	has_opt "$o" <"$T/mock.tags" || missing="$missing $o"
done <"$T/mock.opts"
if [ ! -s "$T/mock.opts" ]; then
	fail "agent-mock.1 documents every agent-mock --help option" \
	    "no options found in agent-mock --help"
elif [ -z "$missing" ]; then
	pass "agent-mock.1 documents every agent-mock --help option"
else
	fail "agent-mock.1 documents every agent-mock --help option" \
	    "missing:$missing"
fi

# ---------------------------------------------------------------------------
# Bash completion.

# complete WORD...: the completions bash offers for the command line
# WORD... (the last word is the one being completed), one a line.
complete_words() {
	PATH="$BIN:$PATH" bash -c '
		f=$1; shift
		source "$f" || exit 1
		fn=$(complete -p agentctl 2>/dev/null |
		    sed -n "s/.*-F \([^ ]*\).*/\1/p")
		[ -n "$fn" ] || { echo "no completion for agentctl" >&2; exit 1; }
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="${COMP_WORDS[*]}"
		COMP_POINT=${#COMP_LINE}
		COMP_TYPE=9
		COMPREPLY=()
		"$fn" agentctl "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD-1]}"
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"
	' _ "$COMP" "$@"
}

# offers NAME EXPECTED-FILE WORD...: PASS if every line of EXPECTED-FILE
# is among the completions of WORD...
offers() {
	name=$1
	exp=$2
	shift 2
	complete_words "$@" >"$T/got" 2>"$T/got.err"
	missing=
	while IFS= read -r w; do
		grep -qxF -- "$w" "$T/got" || missing="$missing $w"
	done <"$exp"
	if [ ! -s "$exp" ]; then
		fail "$name" "nothing expected (bad --help parse?)"
	elif [ -z "$missing" ] && [ ! -s "$T/got.err" ]; then
		pass "$name"
	else
		fail "$name" "missing:$missing; got: $(tr '\n' ' ' <"$T/got")$(
		    head -2 "$T/got.err" | tr '\n' ' ')"
	fi
}

if ! have bash; then
	skip "completion" "bash not installed"
elif [ ! -f "$COMP" ]; then
	fail "completion file exists" "no $COMP"
else
	if bash -n "$COMP" 2>"$T/bash-n.err"; then
		pass "completion: bash -n agentctl.bash"
	else
		fail "completion: bash -n agentctl.bash" \
		    "$(head -2 "$T/bash-n.err" | tr '\n' ' ')"
	fi

	# "agentctl " offers exactly the commands of agentctl --help.
	complete_words agentctl "" | sort >"$T/got.cmds"
	sort "$T/ctl.cmds" >"$T/exp.cmds"
	if [ -s "$T/exp.cmds" ] && cmp -s "$T/got.cmds" "$T/exp.cmds"; then
		pass "completion: 'agentctl ' lists the commands"
	else
		fail "completion: 'agentctl ' lists the commands" \
		    "got: $(tr '\n' ' ' <"$T/got.cmds")"
	fi

	# "agentctl list --" offers list's options.
	"$BIN/agentctl" help list 2>&1 | sed '/^$/q' |
	    grep -o -- '--[a-z][a-z0-9-]*' | sort -u >"$T/exp"
	offers "completion: 'agentctl list --' lists list's options" "$T/exp" \
	    agentctl list --

	# Every command offers every option of its usage line, and the global
	# options are offered before the command.
	# With subcommands (batch, queue): "agentctl CMD " offers them, and
	# "agentctl CMD SUB --" the subcommand's options.
	for c in $(cat "$T/ctl.cmds"); do
		if [ -s "$T/subs.$c" ]; then
			offers "completion: 'agentctl $c ' offers its subcommands" \
			    "$T/subs.$c" agentctl "$c" ""
			for sc in $(cat "$T/subs.$c"); do
				usage_of "$c" "$sc" | opts_in >"$T/exp"
				echo --help >>"$T/exp"
				prefix=--
				grep -q '^-[a-z]$' "$T/exp" && prefix=-
				offers "completion: 'agentctl $c $sc $prefix' offers its options" \
				    "$T/exp" agentctl "$c" "$sc" "$prefix"
			done
			continue
		fi
		usage_of "$c" | opts_in >"$T/exp"
		echo --help >>"$T/exp"
		prefix=--
		grep -q '^-[a-z]$' "$T/exp" && prefix=-
		offers "completion: 'agentctl $c $prefix' offers its options" \
		    "$T/exp" agentctl "$c" "$prefix"
	done
	sed 's/^-[A-Za-z], //' "$T/ctl.gopts" >"$T/exp"
	offers "completion: 'agentctl -' offers the global options" "$T/exp" \
	    agentctl -

	printf '%s\n' pending running completed failed cancelled abandoned \
	    >"$T/exp"
	offers "completion: --status values" "$T/exp" \
	    agentctl list --status ""
	printf '%s\n' auto background stream poll batch >"$T/exp"
	offers "completion: --mode values" "$T/exp" agentctl submit --mode ""
	touch "$T/requests.jsonl"
	echo "$T/requests.jsonl" >"$T/exp"
	offers "completion: files for batch" "$T/exp" agentctl batch "$T/req"
	offers "completion: files for submit -f" "$T/exp" \
	    agentctl submit -f "$T/req"

	# Run ids: silent when no daemon answers, the daemon's ids when one
	# does.
	complete_words agentctl -s "$T/none.sock" show "" >"$T/got" \
	    2>"$T/got.err"
	if [ ! -s "$T/got" ] && [ ! -s "$T/got.err" ]; then
		pass "completion: run ids silent without a daemon"
	else
		fail "completion: run ids silent without a daemon" \
		    "$(cat "$T/got" "$T/got.err" | head -3 | tr '\n' ' ')"
	fi
	"$BIN/agent-mock" --port-file "$T/mock.port" >"$T/mock.log" 2>&1 &
	MOCK_PID=$!
	i=0
	while [ ! -s "$T/mock.port" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	"$BIN/agentd" --endpoint "http://127.0.0.1:$(cat "$T/mock.port" \
	    2>/dev/null)/v1" --db "$T/agentd.db" --socket "$T/agentd.sock" \
	    --workers 1 >"$T/agentd.log" 2>&1 &
	AGENTD_PID=$!
	i=0
	until "$BIN/agentctl" -s "$T/agentd.sock" status >/dev/null 2>&1 ||
	    [ $i -ge 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	id=$("$BIN/agentctl" -s "$T/agentd.sock" submit --model m --input hi \
	    --metadata mock_events=1 2>>"$T/agentd.log")
	case $id in
	r_*)
		echo "$id" >"$T/exp"
		offers "completion: run ids from agentctl list --json" \
		    "$T/exp" agentctl -s "$T/agentd.sock" show ""
		offers "completion: run ids with --socket=PATH" "$T/exp" \
		    agentctl "--socket=$T/agentd.sock" watch r_
		echo '{"model":"m","input":"hi","metadata":{"mock_events":1}}' |
		    "$BIN/agentctl" -s "$T/agentd.sock" batch --name contrib-b1 \
		    --queue contrib-q1 - >/dev/null 2>>"$T/agentd.log"
		echo contrib-b1 >"$T/exp"
		offers "completion: batch names from batch list --json" \
		    "$T/exp" agentctl -s "$T/agentd.sock" batch wait ""
		echo contrib-q1 >"$T/exp"
		offers "completion: queue names from queue list --json" \
		    "$T/exp" agentctl -s "$T/agentd.sock" queue set ""
		;;
	*)
		fail "completion: run ids from agentctl list --json" \
		    "could not start agentd and submit a run (see $T)"
		;;
	esac
fi

# ---------------------------------------------------------------------------
# systemd unit.

if [ ! -f "$UNIT" ]; then
	fail "unit file exists" "no $UNIT"
else
	# ExecStart= with its continuation lines joined.
	exec_start=$(sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$UNIT" |
	    sed -n 's/^ExecStart=//p' | tr -s ' \t' '  ')
	case $exec_start in
	*/agentd\ *--socket\ /run/agentd/agentd.sock*)
		pass "unit: ExecStart runs agentd with --socket /run/agentd/agentd.sock"
		;;
	*)
		fail "unit: ExecStart runs agentd with --socket /run/agentd/agentd.sock" \
		    "ExecStart=$exec_start"
		;;
	esac
	missing=
	for o in $(printf '%s\n' "$exec_start" | grep -o -- '--[a-z][a-z0-9-]*'); do
		has_opt "$o" <"$T/agentd.opts" || missing="$missing $o"
	done
	case $exec_start in
	*'--endpoint ${AGENTD_ENDPOINT}'*) ;;
	*) missing="$missing --endpoint-\${AGENTD_ENDPOINT}" ;;
	esac
	case $exec_start in
	*'--db /var/lib/agentd/agentd.db'*) ;;
	*) missing="$missing --db-/var/lib/agentd/agentd.db" ;;
	esac
	for l in Type=simple RuntimeDirectory=agentd StateDirectory=agentd \
	    EnvironmentFile=-/etc/agentd/agentd.env Restart=on-failure \
	    KillSignal=SIGTERM LimitNOFILE=65536 User=agentd Group=agentd \
	    NoNewPrivileges=yes ProtectSystem=strict PrivateTmp=yes; do
		grep -qx "$l" "$UNIT" || missing="$missing $l"
	done
	grep -q '^TimeoutStopSec=' "$UNIT" || missing="$missing TimeoutStopSec"
	if [ -z "$missing" ]; then
		pass "unit: options are agentd's, settings present"
	else
		fail "unit: options are agentd's, settings present" \
		    "bad or missing:$missing"
	fi
	missing=
	for v in AGENTD_ENDPOINT AGENTD_API_KEY; do
		grep -q "^$v=" "$ENVEX" 2>/dev/null || missing="$missing $v"
	done
	if [ -z "$missing" ]; then
		pass "unit: agentd.env.example sets the endpoint and the key"
	else
		fail "unit: agentd.env.example sets the endpoint and the key" \
		    "missing:$missing"
	fi
	if have systemd-analyze; then
		# Verify a copy whose ExecStart is the built agentd and whose
		# Documentation= pages are these.
		mkdir -p "$T/man/man1" "$T/man/man8"
		cp "$MAN/agentd.8" "$T/man/man8/"
		cp "$MAN/agentctl.1" "$MAN/agent-mock.1" "$T/man/man1/"
		sed "s|^ExecStart=/[^ ]*/agentd |ExecStart=$BIN/agentd |" \
		    "$UNIT" >"$T/agentd.service"
		if MANPATH=$T/man systemd-analyze verify "$T/agentd.service" \
		    >"$T/verify.out" 2>&1 && ! grep -q . "$T/verify.out"; then
			pass "unit: systemd-analyze verify"
		else
			fail "unit: systemd-analyze verify" \
			    "$(head -3 "$T/verify.out" | tr '\n' ' ')"
		fi
	else
		skip "unit: systemd-analyze verify" \
		    "systemd-analyze not installed"
	fi
fi

[ "$FAILS" -eq 0 ]
