#!/bin/sh
# Instructions per no-op that hotloadd runs in user space, against the
# relay's (relay.c, bytes only, in front of direct_server.py), counted by
# valgrind's callgrind: figures that, unlike times, do not move with the
# machine's noise, so that a change to the daemon's work per request shows
# at once. JSON mode (one connection) and raw mode (a connection each).
# Neither what the kernel does for the system calls nor the worker's Python
# is counted: see run.sh for times, which include both.
#
# Each server runs three times under callgrind, with 50 warm-up no-ops and
# then none, N JSON or N raw ones; what a mode adds over the run without it,
# divided by N, is its cost per no-op.
#
# Usage: sh tests/bench/instructions.sh [N]    (default 2000)
# Environment: PYTHON, HOTLOADD, BUILD_DIR as for run.sh.
# A benchmark, not a test: it prints figures and judges none of them.
set -eu
cd "$(dirname "$0")/../.."
n=${1:-2000}
case $n in
'' | 0* | *[!0-9]*) # a count of 1 or more, in decimal
	echo "usage: sh tests/bench/instructions.sh [N]" >&2
	exit 2
	;;
esac
if ! command -v valgrind >/dev/null; then
	echo "bench: valgrind is not installed (apt-get install valgrind)" >&2
	exit 1
fi

. tests/bench/lib.sh
bench_start
bench_build_hotloadd
bench_build_relay
bench_hook
bench_config

"$python" tests/bench/direct_server.py "$tmp/direct.sock" >"$tmp/direct.out" &
pids=$!
bench_wait_socket "$tmp/direct.sock" "$pids" "$tmp/direct.out"

# count SERVER MODE COUNT: total= the instructions a run of SERVER
# (hotloadd or relay) under callgrind took for 50 warm-up no-ops and COUNT
# more in MODE. In this shell, not a subshell, so that the server is in
# $pids while it runs and is stopped at exit whatever happens.
count() {
	sock=$tmp/$1.sock
	out=$tmp/callgrind.$1.$2.$3
	rm -f "$sock"
	if [ "$1" = hotloadd ]; then
		valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$HOTLOADD" --config "$tmp/hotloadd.yaml" 2>"$tmp/valgrind.log" &
	else
		valgrind --tool=callgrind --callgrind-out-file="$out" \
			"$tmp/relay" "$sock" "$tmp/direct.sock" 2>"$tmp/valgrind.log" &
	fi
	server_pid=$!
	pids="$pids $server_pid"
	bench_wait_socket "$sock" "$server_pid" "$tmp/valgrind.log"
	"$python" tests/bench/noops.py "$sock" benchpy:3 json 50
	if [ "$3" -gt 0 ]; then
		"$python" tests/bench/noops.py "$sock" benchpy:3 "$2" "$3"
	fi
	kill -TERM "$server_pid"
	{ wait "$server_pid"; } 2>/dev/null || : # not the shell's "Terminated"
	pids=${pids% "$server_pid"}
	total=$(sed -n 's/^totals: *\([0-9]*\).*/\1/p' "$out")
	if [ -z "$total" ]; then
		echo "bench: no totals in $out:" >&2
		cat "$tmp/valgrind.log" >&2
		exit 1
	fi
}

echo "instructions per no-op in user space (callgrind; $n no-ops a mode):"
for mode in json raw; do
	line=$(printf '  %-5s' "$mode")
	for server in hotloadd relay; do
		count "$server" "$mode" 0
		base=$total
		count "$server" "$mode" "$n"
		per=$(((total - base) / n))
		eval "per_$server=\$per"
		line="$line $(printf '%s %7d   ' "$server" "$per")"
	done
	# shellcheck disable=SC2154 # set by the eval above
	echo "$line$(awk -v h="$per_hotloadd" -v r="$per_relay" \
		'BEGIN { printf "hotloadd/relay %.2fx", h / r }')"
done
