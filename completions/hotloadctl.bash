# bash completion for hotloadctl(1)                           -*- shell-script -*-
#
# Installed as share/bash-completion/completions/hotloadctl (loaded on
# demand by bash-completion); can also be sourced directly.
#
# Targets come from the running daemon (`hotloadctl list --json`: hook
# names, aliases and NAME:VERSION of every install), else from the hook
# files' names and aliases. Any failure just means fewer candidates.

_hotloadctl_commands="exec eval ping status start stop restart interrupt reload reload-modules watch unwatch recycle debug list logs kernelspec mcp help"

# Hook names, aliases and NAME:VERSION, one per line. Extra arguments
# (--socket P / --tcp A from the command line) go to hotloadctl.
_hotloadctl_targets()
{
	local out=""
	if command -v python3 >/dev/null 2>&1; then
		local -a run=(hotloadctl)
		command -v timeout >/dev/null 2>&1 && run=(timeout 3 hotloadctl)
		out=$("${run[@]}" -q "$@" list --json 2>/dev/null | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
except Exception:
    sys.exit(0)
if isinstance(d, dict):
    d = d.get("hooks", [])
seen = set()
for h in d if isinstance(d, list) else []:
    if not isinstance(h, dict) or not isinstance(h.get("name"), str):
        continue
    names = [h["name"]] + [a for a in h.get("aliases") or [] if isinstance(a, str)]
    words = list(names)
    for i in h.get("installs") or []:
        v = i.get("version") if isinstance(i, dict) else None
        if isinstance(v, str):
            words += [n + ":" + v for n in names]
    for w in words:
        if w not in seen:
            seen.add(w)
            print(w)
' 2>/dev/null)
	fi
	if [[ -z $out ]]; then
		# No daemon: the names and aliases in the hook files.
		local cfg=${XDG_CONFIG_HOME:-$HOME/.config}
		local -a files=()
		local d f
		for d in /usr/share/hotload/hooks.d /usr/local/share/hotload/hooks.d \
			/etc/hotload/hooks.d "$cfg/hotload/hooks.d"; do
			for f in "$d"/*.yaml "$d"/*.yml; do
				[[ -r $f ]] && files+=("$f")
			done
		done
		if ((${#files[@]})); then
			out=$(_hotloadctl_hook_names "${files[@]}")
		fi
		out=python$'\n'python3$'\n'cpython$'\n'$out
	fi
	printf '%s\n' "$out" | sed '/^$/d' | sort -u
}

# Names and aliases in hook files (flow or block list of aliases).
_hotloadctl_hook_names()
{
	awk '
	function clean(v) { gsub(/["\047 \t]/, "", v); sub(/#.*/, "", v); return v }
	/^[^ \t#-]/ { inal = 0 }
	/^name:/ { v = $0; sub(/^name:/, "", v); print clean(v) }
	/^aliases:[ \t]*\[/ {
		v = $0; sub(/^aliases:[ \t]*\[/, "", v); sub(/\].*/, "", v)
		n = split(v, a, ","); for (i = 1; i <= n; i++) print clean(a[i])
	}
	/^aliases:[ \t]*(#.*)?$/ { inal = 1; next }
	inal && /^[ \t]*-/ { v = $0; sub(/^[ \t]*-/, "", v); print clean(v) }
	' "$@" 2>/dev/null
}

_hotloadctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null 2>&1; then
		_init_completion -n : || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD-1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local global_opts="--socket --tcp --token-file -q --quiet -h --help --version"
	local cmd="" i npos=0 dashdash=0
	local -a conn=()
	# Find the command and count the positional words before the cursor.
	for ((i = 1; i < cword; i++)); do
		local w=${words[i]}
		if ((dashdash)); then
			((npos++))
			continue
		fi
		case $w in
		--) dashdash=1 ;;
		--socket | --tcp | --token-file)
			conn+=("$w" "${words[i + 1]}")
			((i++))
			;;
		--socket=* | --tcp=* | --token-file=*) conn+=("$w") ;;
		-c | --code | --file | --timeout | -n | --lines | --prefix | --name | --display-name | --session | --targets | --max-timeout | --max-output) ((i++)) ;;
		# --watch=DIR, which readline splits into --watch, = and DIR
		--watch) [[ ${words[i + 1]-} == = ]] && ((i += 2)) ;;
		-*) ;;
		*)
			if [[ -z $cmd ]]; then
				cmd=$w
			else
				((npos++))
			fi
			;;
		esac
	done

	case $prev in
	--socket | --token-file)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--tcp)
		COMPREPLY=($(compgen -W "127.0.0.1:7720 [::1]:7720" -- "$cur"))
		return
		;;
	--file | -c | --code | --timeout | -n | --lines | --name | --display-name | --session | --max-timeout | --max-output)
		return
		;;
	--prefix)
		local IFS=$'\n'
		COMPREPLY=($(compgen -d -- "$cur"))
		return
		;;
	--targets)
		# a comma-separated list: complete its last item
		local head="" item=$cur
		[[ $cur == *,* ]] && head=${cur%,*}, item=${cur##*,}
		local IFS=$'\n'
		COMPREPLY=($(compgen -P "$head" -W "$(_hotloadctl_targets "${conn[@]}")" -- "$item"))
		return
		;;
	esac

	# exec --watch=DIR: directories. The word is --watch=DIR itself, or
	# readline has split it at the = (then cur is = or DIR).
	if [[ $cmd == exec ]]; then
		local wprefix="" wcur="" wdir=0
		if [[ $cur == --watch=* ]]; then
			wprefix=--watch= wcur=${cur#--watch=} wdir=1
		elif [[ $cur == = && $prev == --watch ]]; then
			wdir=1
		elif [[ $prev == = && ${words[cword - 2]-} == --watch ]]; then
			wcur=$cur wdir=1
		fi
		if ((wdir)); then
			local IFS=$'\n'
			COMPREPLY=($(compgen -d -P "$wprefix" -- "$wcur"))
			return
		fi
	fi

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$_hotloadctl_commands" -- "$cur"))
		fi
		return
	fi

	local opts=""
	case $cmd in
	exec) opts="-c --code --file --fresh --isolated --timeout --json --watch --watch= --session" ;;
	eval) opts="--timeout --json --session" ;;
	debug) opts="--session" ;;
	ping | list) opts="--json" ;;
	status) opts="--json" ;;
	start | stop | restart) opts="--no-wait --timeout" ;;
	logs) opts="-n --lines --json" ;;
	mcp) opts="--targets --max-timeout --max-output" ;;
	reload-modules) opts="--purge --timeout --json" ;;
	kernelspec) opts="--user --prefix --name --display-name --replace --json" ;;
	esac
	if [[ $cur == -* && $dashdash -eq 0 ]]; then
		COMPREPLY=($(compgen -W "$opts $global_opts" -- "$cur"))
		return
	fi

	local want=""
	case $cmd in
	help) ((npos == 0)) && want=commands ;;
	exec)
		if ((npos == 0)); then
			want=targets
		else
			local has_code=0
			for ((i = 1; i < cword; i++)); do
				[[ ${words[i]} == -c || ${words[i]} == --code || ${words[i]} == --code=* ]] &&
					has_code=1
			done
			((has_code)) || want=files
		fi
		;;
	eval | ping | logs | reload-modules | debug) ((npos == 0)) && want=targets ;;
	status) ((npos == 0)) && want=targets ;;
	start | stop | restart | interrupt | recycle) want=targets ;;
	kernelspec)
		if ((npos == 0)); then
			want=kernelspec
		elif ((npos == 1)); then
			local k
			for ((k = 1; k < cword; k++)); do
				[[ ${words[k]} == install ]] && want=targets
			done
		fi
		;;
	watch | unwatch)
		if ((npos == 0)); then
			want=targets
		else
			want=dirs
		fi
		;;
	esac

	case $want in
	commands) COMPREPLY=($(compgen -W "$_hotloadctl_commands" -- "$cur")) ;;
	kernelspec) COMPREPLY=($(compgen -W "install list remove" -- "$cur")) ;;
	targets)
		local IFS=$'\n'
		COMPREPLY=($(compgen -W "$(_hotloadctl_targets "${conn[@]}")" -- "$cur"))
		if declare -F __ltrim_colon_completions >/dev/null 2>&1; then
			__ltrim_colon_completions "$cur"
		fi
		;;
	files)
		if declare -F _filedir >/dev/null 2>&1; then
			_filedir
		else
			COMPREPLY=($(compgen -f -- "$cur"))
		fi
		;;
	dirs)
		if declare -F _filedir >/dev/null 2>&1; then
			_filedir -d
		else
			local IFS=$'\n'
			COMPREPLY=($(compgen -d -- "$cur"))
		fi
		;;
	esac
} &&
	complete -F _hotloadctl hotloadctl

# ex: filetype=sh
