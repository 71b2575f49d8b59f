# bash completion for agentctl(1), the client of agentd(8).
#
# Install as /usr/share/bash-completion/completions/agentctl (loaded on
# demand by bash-completion), or source it from ~/.bashrc. It needs only
# bash itself.
#
# Completes the commands, the global options (-s/--socket, --json, --help,
# --version), the subcommands of batch and queue, each command's options,
# the values of --status, --mode, --paused and --max-inflight, files for
# -f, batch, --db and -o, command names after "help", and run, batch and
# queue names read from agentctl's --json output. Those are asked of the
# daemon with a one-second limit, and nothing is printed when it does not
# answer.

# _agentctl_query PROG GLOBAL-OPTS... -- ARGS...: run agentctl quietly with
# a time limit; its standard output, or nothing.
_agentctl_query()
{
	local prog=$1
	shift
	local -a cmd=("$prog")

	while (($#)) && [[ $1 != -- ]]; do
		cmd+=("$1")
		shift
	done
	shift
	cmd+=("$@")
	if type -P timeout >/dev/null 2>&1; then
		cmd=(timeout 1 "${cmd[@]}")
	fi
	"${cmd[@]}" 2>/dev/null </dev/null
}

# The run ids agentd knows, newest first, one a line.
_agentctl_run_ids()
{
	_agentctl_query "$@" list --json --limit 1000 |
	    command sed -n \
	    's/^[[:space:]]*"id":[[:space:]]*"\(r_[0-9a-f]*\)".*/\1/p' 2>/dev/null
}

# _agentctl_names batch|queue PROG GLOBAL-OPTS... -- LIST-OPTS...: the
# names of the batches or the queues, one a line.
_agentctl_names()
{
	local what=$1
	shift
	local -a head=()

	while (($#)) && [[ $1 != -- ]]; do
		head+=("$1")
		shift
	done
	shift
	_agentctl_query "${head[@]}" -- "$what" list --json "$@" |
	    command sed -n \
	    's/^[[:space:]]*"name":[[:space:]]*"\([^"]*\)".*/\1/p' 2>/dev/null
}

# COMPREPLY from a word list, matching the current word.
_agentctl_words()
{
	local IFS=$' \t\n'
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

# COMPREPLY += file names matching $1 (and "-" for standard input when $2
# is set).
_agentctl_files()
{
	local cur=$1 IFS=$'\n' f
	local -a files

	compopt -o filenames 2>/dev/null
	files=($(compgen -f -- "$cur"))
	for f in "${files[@]}"; do
		# Hidden files only when asked for, as readline does.
		if [[ ${f##*/} == .* && $cur != .* && $cur != */.* ]]; then
			continue
		fi
		COMPREPLY+=("$f")
	done
	if [[ -n ${2-} && ( -z $cur || $cur == - ) ]]; then
		COMPREPLY+=(-)
	fi
}

_agentctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]}
	local prev=
	local cword=$COMP_CWORD
	local -a words=("${COMP_WORDS[@]}")

	local commands="batch cancel events help list prune queue result resume show status submit watch"
	local batch_subs="submit list status wait results cancel"
	local queue_subs="list set"
	local global_opts="-s --socket --json --help --version"
	local statuses="pending starting running completed failed cancelled incomplete abandoned"
	local modes="auto background stream poll batch"

	COMPREPLY=()

	# With '=' in COMP_WORDBREAKS (bash's default), "--status=fa" arrives
	# as "--status" "=" "fa": join such words back into one.
	if ((cword >= 2)) && [[ ${words[cword - 1]} == = &&
	    ${words[cword - 2]} == --* ]]; then
		cur="${words[cword - 2]}=$cur"
		words=("${words[@]:0:cword - 2}" "$cur")
		cword=$((cword - 2))
	elif ((cword >= 1)) && [[ $cur == = && ${words[cword - 1]} == --* ]]; then
		cur="${words[cword - 1]}="
		words=("${words[@]:0:cword - 1}" "$cur")
		cword=$((cword - 1))
	fi
	((cword > 0)) && prev=${words[cword - 1]}

	# The agentctl to ask for names: the one being completed if it was
	# typed as a path, else the one on $PATH.
	local prog=${words[0]}
	[[ $prog == */* && -x $prog ]] || prog=agentctl

	# Global options and the command.
	local -a gopts=()
	local cmd= cmdi=0 i w
	for ((i = 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		-s | --socket)
			((i + 1 < cword)) && gopts+=(-s "${words[i + 1]}")
			((i++))
			;;
		--socket=*) gopts+=(-s "${w#--socket=}") ;;
		-s?*) gopts+=(-s "${w#-s}") ;;
		-*) ;;
		*)
			cmd=$w
			cmdi=$i
			break
			;;
		esac
	done

	if [[ -z $cmd ]]; then
		case $prev in
		-s | --socket)
			_agentctl_files "$cur"
			return 0
			;;
		esac
		case $cur in
		--socket=*)
			_agentctl_files "${cur#--socket=}"
			if [[ ${COMP_WORDS[COMP_CWORD]} == --socket=* ]]; then
				for i in "${!COMPREPLY[@]}"; do
					COMPREPLY[i]="--socket=${COMPREPLY[i]}"
				done
			fi
			;;
		-*) _agentctl_words "$global_opts" "$cur" ;;
		*) _agentctl_words "$commands" "$cur" ;;
		esac
		return 0
	fi

	# The positional arguments and options given after the command; the
	# subcommand of batch and queue.
	local -a pos=()
	local sub= subi=$cmdi dbopt=
	local argopts_all="--after --limit --status --queue --mode --priority --older-than -f --file --model --input --idempotency-key --metadata --name --max-attempts --db --timeout -o --output --max-inflight --paused -n -q -m -i -k -p"
	for ((i = cmdi + 1; i < cword; i++)); do
		w=${words[i]}
		case $w in
		--db=*) dbopt=${w#--db=} ;;
		--db) ((i + 1 < cword)) && dbopt=${words[i + 1]}; ((i++)) ;;
		--*=* | --) ;;
		-) pos+=("$w") ;;
		-*) [[ " $argopts_all " == *" $w "* ]] && ((i++)) ;;
		*)
			pos+=("$w")
			if [[ -z $sub && ${#pos[@]} -eq 1 ]] &&
			    { [[ $cmd == batch && " $batch_subs " == *" $w "* ]] ||
			    [[ $cmd == queue && " $queue_subs " == *" $w "* ]]; }; then
				sub=$w
				subi=$i
				pos=()
			fi
			;;
		esac
	done
	local npos=${#pos[@]}
	# "batch FILE" is "batch submit FILE".
	if [[ $cmd == batch && -z $sub && $npos -gt 0 ]]; then
		sub=submit
	fi
	local -a dbargs=()
	[[ -n $dbopt ]] && dbargs=(--db "$dbopt")

	# The options of the command (or subcommand), those of them that take
	# an argument, and what its positional arguments are: a word list
	# "KIND..." by position (id, file, batch, queue, command, sub, none).
	local opts="" argopts="" kinds=""
	case $cmd in
	batch)
		case $sub in
		"")
			opts="--name --queue --max-attempts --mode --strict --require-daemon --db"
			argopts="--name --queue --max-attempts --mode --db"
			kinds="sub+file"
			;;
		submit)
			opts="--name --queue --max-attempts --mode --strict --require-daemon --db"
			argopts="--name --queue --max-attempts --mode --db"
			kinds="file"
			;;
		list)
			opts="--db"
			argopts="--db"
			;;
		status | cancel)
			opts="--db"
			argopts="--db"
			kinds="batch"
			;;
		wait)
			opts="--timeout --db"
			argopts="--timeout --db"
			kinds="batch"
			;;
		results)
			opts="-o --errors-only --db"
			argopts="-o --output --db"
			kinds="batch"
			;;
		esac
		;;
	cancel | result | show)
		kinds="id"
		;;
	events)
		opts="--after --limit"
		argopts="--after --limit -a -n"
		kinds="id"
		;;
	help)
		kinds="command sub"
		;;
	list)
		opts="--status --queue --limit --all"
		argopts="--status --queue --limit -S -q -n"
		;;
	prune)
		opts="--older-than"
		argopts="--older-than"
		;;
	queue)
		case $sub in
		"")
			kinds="sub"
			;;
		list)
			opts="--db"
			argopts="--db"
			;;
		set)
			opts="--max-inflight --paused --priority --max-attempts --db"
			argopts="--max-inflight --paused --priority --max-attempts --db"
			kinds="queue"
			;;
		esac
		;;
	resume)
		opts="--stale"
		kinds="id"
		;;
	status) ;;
	submit)
		opts="-f --model --input --wait --mode --idempotency-key --queue --priority --metadata"
		argopts="-f --file --model --input --mode --idempotency-key --queue --priority --metadata -m -i -k -q -p"
		;;
	watch)
		opts="--after"
		argopts="--after -a"
		kinds="id"
		;;
	*)
		return 0
		;;
	esac
	opts="$opts --json --help"

	# The value of an option: "--opt VALUE" or "--opt=VALUE".
	local opt= val=$cur
	if [[ $cur == --*=* ]]; then
		opt=${cur%%=*}
		val=${cur#*=}
	elif [[ " $argopts " == *" $prev "* ]] && ((cword - 1 > subi)); then
		opt=$prev
	fi
	if [[ -n $opt ]]; then
		case $opt in
		--status) _agentctl_words "$statuses" "$val" ;;
		--mode) _agentctl_words "$modes" "$val" ;;
		--paused) _agentctl_words "true false" "$val" ;;
		--max-inflight) _agentctl_words "none" "$val" ;;
		--older-than) _agentctl_words "1h 12h 1d 7d 30d" "$val" ;;
		--queue) _agentctl_words "$(_agentctl_names queue "$prog" \
		    "${gopts[@]}" -- "${dbargs[@]}")" "$val" ;;
		-f | --file) _agentctl_files "$val" 1 ;;
		--db | -o | --output) _agentctl_files "$val" ;;
		--input | -i) [[ -z $val || $val == - ]] && COMPREPLY=(-) ;;
		esac
		# Keep the "--opt=" prefix when bash did not split it off.
		if [[ $cur == --*=* && ${COMP_WORDS[COMP_CWORD]} == --*=* ]]; then
			for i in "${!COMPREPLY[@]}"; do
				COMPREPLY[i]="$opt=${COMPREPLY[i]}"
			done
		fi
		return 0
	fi

	if [[ $cur == -* ]]; then
		_agentctl_words "$opts" "$cur"
		# "-" alone is also standard input for a file argument.
		if [[ $cur == - && $npos -eq 0 &&
		    ( $kinds == file || $kinds == sub+file ) ]]; then
			COMPREPLY+=(-)
		fi
		return 0
	fi

	[[ $cmd == resume && " ${words[*]:cmdi:cword-cmdi} " == *" --stale "* ]] &&
		return 0

	local -a kindv=($kinds)
	local kind=${kindv[npos]-}
	[[ $cmd == help && $npos -eq 1 ]] && kind=sub
	case $kind in
	id)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_agentctl_run_ids "$prog" \
		    "${gopts[@]}" --)" -- "$cur"))
		;;
	batch | queue)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_agentctl_names "$kind" "$prog" \
		    "${gopts[@]}" -- "${dbargs[@]}")" -- "$cur"))
		;;
	file)
		_agentctl_files "$cur" 1
		;;
	sub+file)
		_agentctl_words "$batch_subs" "$cur"
		_agentctl_files "$cur" 1
		;;
	sub)
		local of=$cmd
		[[ $cmd == help ]] && of=${pos[0]-}
		case $of in
		batch) _agentctl_words "$batch_subs" "$cur" ;;
		queue) _agentctl_words "$queue_subs" "$cur" ;;
		esac
		;;
	command)
		_agentctl_words "$commands" "$cur"
		;;
	*)
		# No positional argument here: offer the options.
		[[ -z $cur ]] && _agentctl_words "$opts" "$cur"
		;;
	esac
	return 0
} &&
	complete -F _agentctl agentctl
