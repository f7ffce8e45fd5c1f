# bash completion for poolctl(1): commands, options, and - from the running
# poold - pool names, resource names and lease ids. Candidates come from the
# hidden `poolctl __complete`, given the connection options already on the
# line (--socket, --tcp, --token-file, --tls...), so that completion asks the
# same daemon the command will.

# Runs `poolctl [connection options] __complete ARGS...` quietly.
_poolctl_ask()
{
	"${_poolctl_bin:-poolctl}" "${_poolctl_conn[@]}" __complete "$@" 2>/dev/null
}

# COMPREPLY from candidate lines, filtered by the word being completed.
_poolctl_reply()
{
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$1" -- "$2"))
}

_poolctl()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	local i w flags cmd="" sub="" pool_opt="" pos=()
	_poolctl_bin=${COMP_WORDS[0]}
	_poolctl_conn=()
	flags=" $(_poolctl_ask flags | tr '\n' ' ') -q -h "

	# The words before the cursor: connection options, the command, positionals.
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		case $w in
		--socket | --tcp | --token-file | --tls-ca | --timeout)
			_poolctl_conn+=("$w" "${COMP_WORDS[i + 1]}")
			((i++))
			;;
		--socket=* | --tcp=* | --token-file=* | --tls-ca=* | --timeout=* | --tls | --tls-insecure)
			_poolctl_conn+=("$w")
			;;
		--pool)
			pool_opt=${COMP_WORDS[i + 1]}
			((i++))
			;;
		--*=* | -q | -h) ;;
		-*)
			[[ $flags == *" $w "* ]] || ((i++))
			;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			elif [[ -z $sub && ${#pos[@]} -eq 0 && ($cmd == pool || $cmd == resource ||
				($cmd == lease && ($w == get || $w == list))) ]]; then
				sub=$w
			else
				pos+=("$w")
			fi
			;;
		esac
	done

	# The value of an option.
	case $prev in
	--socket | --token-file | --tls-ca | --file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--pool)
		_poolctl_reply "$(_poolctl_ask pools)" "$cur"
		return
		;;
	--resource | --name)
		_poolctl_reply "$(_poolctl_ask resources "${pool_opt:-${pos[0]}}")" "$cur"
		return
		;;
	--bind)
		_poolctl_reply $'none\nconnection' "$cur"
		return
		;;
	--order)
		_poolctl_reply $'lifo\nfifo' "$cur"
		return
		;;
	--on-expire)
		_poolctl_reply $'return\ndiscard' "$cur"
		return
		;;
	--create)
		_poolctl_reply $'builtin\nnone' "$cur"
		return
		;;
	--*)
		if [[ $flags != *" $prev "* ]]; then
			COMPREPLY=()
			return
		fi
		;;
	esac

	if [[ $cur == -* ]]; then
		_poolctl_reply "$(_poolctl_ask options $cmd $sub)" "$cur"
		return
	fi
	if [[ -z $cmd ]]; then
		_poolctl_reply "$(_poolctl_ask commands)" "$cur"
		return
	fi
	if [[ -z $sub && ${#pos[@]} -eq 0 && ($cmd == pool || $cmd == resource) ]]; then
		_poolctl_reply "$(_poolctl_ask commands "$cmd")" "$cur"
		return
	fi
	case "$cmd${sub:+ $sub}:${#pos[@]}" in
	"lease:0")
		_poolctl_reply "$(_poolctl_ask commands lease)"$'\n'"$(_poolctl_ask pools)" "$cur"
		;;
	"checkout:0" | "run:0" | "status:0" | "watch:0" | "pool get:0" | "pool set:0" | \
		"pool drain:0" | "pool delete:0" | "resource add:0" | "resource list:0" | \
		"resource get:0" | "resource update:0" | "resource remove:0")
		_poolctl_reply "$(_poolctl_ask pools)" "$cur"
		;;
	"resource get:1" | "resource update:1" | "resource remove:1")
		_poolctl_reply "$(_poolctl_ask resources "${pos[0]}")" "$cur"
		;;
	return:* | "renew:0" | "replace:0" | "checkin:0" | "lease get:0")
		_poolctl_reply "$(_poolctl_ask leases)" "$cur"
		;;
	run:*)
		COMPREPLY=($(compgen -c -- "$cur"))
		;;
	*)
		COMPREPLY=()
		;;
	esac
}

complete -F _poolctl poolctl
