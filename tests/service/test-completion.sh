#!/bin/bash
# hotloadctl's shell completion: bash for real (COMP_WORDS in, COMPREPLY
# out; with bash-completion's helpers when installed, and without), zsh by
# loading the function and completing through zpty when zsh is installed.
# Targets come from a stand-in hotloadctl on PATH whose `list --json`
# prints a fixed hooks array, then from hook files when it fails.
# Usage: test-completion.sh SOURCE_DIR
set -u
src=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

mkdir -p "$tmp/bin" "$tmp/config/hotload/hooks.d" "$tmp/proj/src" "$tmp/proj/srclib"
: >"$tmp/proj/srcfile.py"
cat >"$tmp/bin/hotloadctl" <<'SH'
#!/bin/sh
echo "$*" >>"$HOTLOADCTL_ARGS"
[ -n "${HOTLOADCTL_FAIL:-}" ] && exit 3
cat <<'JSON'
[
  {"name": "mayapy", "aliases": ["maya"], "description": "Maya", "default_version": null,
   "installs": [{"version": "2024", "path": "/usr/autodesk/maya2024/bin/mayapy"},
                {"version": "2023", "path": "/usr/autodesk/maya2023/bin/mayapy"}]},
  {"name": "python", "aliases": ["python3", "cpython"], "installs": [{"version": "3", "path": "/usr/bin/python3"}]},
  {"name": "hython", "aliases": ["houdini"], "installs": []}
]
JSON
SH
chmod +x "$tmp/bin/hotloadctl"
cat >"$tmp/config/hotload/hooks.d/quill.yaml" <<'YAML'
name: quillpy   # a comment
aliases: [quill, "qp"]
hints:
  linux: ["/opt/quill/Quill-{version}/bin/quillpy"]
YAML
cat >"$tmp/config/hotload/hooks.d/other.yml" <<'YAML'
name: "otherpy"
aliases:
  - other
  - 'oth'
env:
  X: "1"
YAML
export PATH="$tmp/bin:$PATH" XDG_CONFIG_HOME="$tmp/config" HOTLOADCTL_ARGS="$tmp/args"

# complete LINE: COMPREPLY for the last word of LINE (a trailing space
# starts a new, empty word).
run_bash() {
	local mode=$1 line=$2
	bash --norc --noprofile -c '
		mode=$1 line=$2 src=$3
		if [ "$mode" = full ]; then
			. /usr/share/bash-completion/bash_completion || exit 99
		fi
		. "$src/completions/hotloadctl.bash"
		COMP_LINE=$line
		COMP_POINT=${#line}
		# Split like readline: on blanks, and on COMP_WORDBREAKS colons.
		read -ra COMP_WORDS <<<"$line"
		[[ $line == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_hotloadctl hotloadctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}" | sort' _ "$mode" "$line" "$src"
}

expect() {
	local mode=$1 line=$2 want=$3 got
	got=$(run_bash "$mode" "$line" | tr '\n' ' ' | sed 's/ $//')
	if [ "$got" = "$want" ]; then
		echo "ok: bash ($mode) '$line' -> $got"
	else
		echo "FAIL: bash ($mode) '$line': got '$got', want '$want'"
		fail=1
	fi
}

modes=plain
[ -r /usr/share/bash-completion/bash_completion ] && modes="plain full"
for m in $modes; do
	expect $m "hotloadctl " "debug eval exec help interrupt kernelspec list logs mcp ping recycle reload reload-modules restart start status stop unwatch watch"
	expect $m "hotloadctl kernelspec " "install list remove"
	expect $m "hotloadctl kernelspec install may" "maya maya:2023 maya:2024 mayapy mayapy:2023 mayapy:2024"
	expect $m "hotloadctl kernelspec install --prefix $tmp/proj/s" "$tmp/proj/src $tmp/proj/srclib"
	expect $m "hotloadctl kernelspec list " ""
	expect $m "hotloadctl kernelspec install --r" "--replace"
	expect $m "hotloadctl mcp --" "--help --max-output --max-timeout --quiet --socket --targets --tcp --token-file --version"
	expect $m "hotloadctl mcp --targets python:3,may" "python:3,maya python:3,maya:2023 python:3,maya:2024 python:3,mayapy python:3,mayapy:2023 python:3,mayapy:2024"
	expect $m "hotloadctl st" "start status stop"
	expect $m "hotloadctl --q" "--quiet"
	expect $m "hotloadctl exec --f" "--file --fresh"
	expect $m "hotloadctl logs -" "--help --json --lines --quiet --socket --tcp --token-file --version -h -n -q"
	expect $m "hotloadctl exec may" "maya maya:2023 maya:2024 mayapy mayapy:2023 mayapy:2024"
	expect $m "hotloadctl start python mayapy h" "houdini hython"
	expect $m "hotloadctl eval python3 " ""
	expect $m "hotloadctl exec -c " ""
	expect $m "hotloadctl help r" "recycle reload reload-modules restart"
	expect $m "hotloadctl reload-modules -" "--help --json --purge --quiet --socket --tcp --timeout --token-file --version -h -q"
	expect $m "hotloadctl reload-modules may" "maya maya:2023 maya:2024 mayapy mayapy:2023 mayapy:2024"
	expect $m "hotloadctl reload-modules python " ""
	expect $m "hotloadctl recycle python mayapy h" "houdini hython"
	expect $m "hotloadctl watch pyth" "python python3 python3:3 python:3"
	expect $m "hotloadctl watch python $tmp/proj/s" "$tmp/proj/src $tmp/proj/srclib"
	expect $m "hotloadctl unwatch python $tmp/proj/src $tmp/proj/srcl" "$tmp/proj/srclib"
	expect $m "hotloadctl watch -" "--help --quiet --socket --tcp --token-file --version -h -q"
	expect $m "hotloadctl debug -" "--help --quiet --session --socket --tcp --token-file --version -h -q"
	expect $m "hotloadctl exec --se" "--session"
	expect $m "hotloadctl exec --w" "--watch --watch="
	# --watch=DIR: one word, or split at the = as readline does
	expect $m "hotloadctl exec --watch=$tmp/proj/srcl" "--watch=$tmp/proj/srclib"
	expect $m "hotloadctl exec --watch = $tmp/proj/srcl" "$tmp/proj/srclib"
	expect $m "hotloadctl exec --watch = $tmp/proj may" "maya maya:2023 maya:2024 mayapy mayapy:2023 mayapy:2024"
	expect $m "hotloadctl exec --watch=$tmp/proj python -c " ""
	# A colon splits words for readline; bash-completion puts them together
	# again and strips the part before the colon from the answers.
	if [ $m = full ]; then
		expect $m "hotloadctl exec mayapy:20" "2023 2024"
	else
		expect $m "hotloadctl exec mayapy:20" "mayapy:2023 mayapy:2024"
	fi
	expect $m "hotloadctl reload " ""
	: >"$HOTLOADCTL_ARGS"
	expect $m "hotloadctl --socket /s/h.sock ping pyth" "python python3 python3:3 python:3"
	if grep -q -- "--socket /s/h.sock list --json" "$HOTLOADCTL_ARGS"; then
		echo "ok: bash ($m) passes --socket on to hotloadctl list"
	else
		echo "FAIL: bash ($m) did not pass --socket on: $(cat "$HOTLOADCTL_ARGS")"
		fail=1
	fi
	HOTLOADCTL_FAIL=1 expect $m "hotloadctl exec qu" "quill quillpy"
	HOTLOADCTL_FAIL=1 expect $m "hotloadctl exec oth" "oth other otherpy"
done

# zsh: the function loads, and completes through a pseudo-terminal.
if command -v zsh >/dev/null 2>&1; then
	if ! zsh -n "$src/completions/_hotloadctl"; then
		echo "FAIL: zsh -n _hotloadctl"
		fail=1
	fi
	mkdir -p "$tmp/zfunc"
	cp "$src/completions/_hotloadctl" "$tmp/zfunc/"
	zsh_complete() {
		zsh -f "$src/tests/service/zsh-complete.zsh" "$tmp/zfunc" "$1" 2>/dev/null | tr -d '\r'
	}
	got=$(zsh_complete "hotloadctl st")
	if printf '%s' "$got" | grep -q status && printf '%s' "$got" | grep -q start; then
		echo "ok: zsh 'hotloadctl st' lists start and status"
	else
		echo "FAIL: zsh 'hotloadctl st': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	got=$(zsh_complete "hotloadctl exec --f")
	if printf '%s' "$got" | grep -q -- "--fresh" && printf '%s' "$got" | grep -q -- "--file"; then
		echo "ok: zsh 'hotloadctl exec --f' lists --file and --fresh"
	else
		echo "FAIL: zsh 'hotloadctl exec --f': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	got=$(zsh_complete "hotloadctl exec mayapy:20")
	if printf '%s' "$got" | grep -q "mayapy:2024" && printf '%s' "$got" | grep -q "mayapy:2023"; then
		echo "ok: zsh 'hotloadctl exec mayapy:20' offers mayapy:2023 and mayapy:2024"
	else
		echo "FAIL: zsh 'hotloadctl exec mayapy:20': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	got=$(zsh_complete "hotloadctl re")
	if printf '%s' "$got" | grep -q recycle && printf '%s' "$got" | grep -q reload-modules; then
		echo "ok: zsh 'hotloadctl re' lists recycle and reload-modules"
	else
		echo "FAIL: zsh 'hotloadctl re': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	got=$(zsh_complete "hotloadctl reload-modules --p")
	if printf '%s' "$got" | grep -q -- "--purge"; then
		echo "ok: zsh 'hotloadctl reload-modules --p' gives --purge"
	else
		echo "FAIL: zsh 'hotloadctl reload-modules --p': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	got=$(zsh_complete "hotloadctl recycle mayapy:20")
	if printf '%s' "$got" | grep -q "mayapy:2024" && printf '%s' "$got" | grep -q "mayapy:2023"; then
		echo "ok: zsh 'hotloadctl recycle mayapy:20' offers mayapy:2023 and mayapy:2024"
	else
		echo "FAIL: zsh 'hotloadctl recycle mayapy:20': $(printf '%s' "$got" | tail -c 400)"
		fail=1
	fi
	for line in "hotloadctl watch python $tmp/proj/s" "hotloadctl unwatch python $tmp/proj/s" \
		"hotloadctl exec --watch=$tmp/proj/s"; do
		got=$(zsh_complete "$line")
		if printf '%s' "$got" | grep -q "srclib" && ! printf '%s' "$got" | grep -q "srcfile"; then
			echo "ok: zsh '$line' offers the directories only"
		else
			echo "FAIL: zsh '$line': $(printf '%s' "$got" | tail -c 400)"
			fail=1
		fi
	done
else
	echo "note: zsh is not installed, its completion is not tried"
fi
exit $fail
