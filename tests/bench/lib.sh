# lib.sh - sourced by the benchmarks' scripts (run.sh, instructions.sh):
# the interpreter, a temporary directory, a release hotloadd, the relay and
# the python3 hook they share.

# python: the real interpreter, not a wrapper script (pyenv shims are shell
# scripts). tmp: a temporary directory, removed at exit with the processes
# whose pids are in $pids.
bench_start() {
	python=$("${PYTHON:-python3}" -c 'import sys; print(sys.executable)') || {
		echo "bench: cannot run ${PYTHON:-python3}" >&2
		exit 1
	}
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/hotload-bench.XXXXXX")
	pids=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	for p in $pids; do
		kill "$p" 2>/dev/null || :
		wait "$p" 2>/dev/null || :
	done
	rm -rf "$tmp"
}

# HOTLOADD: the binary given, or a release build (no sanitizers) in its own
# build directory, BUILD_DIR (default build-bench-release).
bench_build_hotloadd() {
	if [ -n "${HOTLOADD:-}" ]; then
		return
	fi
	build=${BUILD_DIR:-build-bench-release}
	if ! { cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
		-DHOTLOAD_ASAN=OFF -DHOTLOAD_UBSAN=OFF &&
		cmake --build "$build" -j"$(nproc)" --target hotloadd agent-bytecode; } >"$tmp/build.log" 2>&1; then
		cat "$tmp/build.log" >&2
		echo "bench: the build failed" >&2
		exit 1
	fi
	HOTLOADD=$(pwd)/$build/bin/hotloadd
}

# $tmp/relay: the floor of a second hop, bytes only, built from relay.c.
bench_build_relay() {
	if ! cc -O2 -o "$tmp/relay" tests/bench/relay.c $(pkg-config --cflags --libs libuv) \
		>"$tmp/relay-build.log" 2>&1; then
		cat "$tmp/relay-build.log" >&2
		echo "bench: cannot build tests/bench/relay.c" >&2
		exit 1
	fi
}

# $tmp/hooks/benchpy.yaml: the target benchpy:3, the same interpreter as the
# direct baseline.
bench_hook() {
	mkdir -p "$tmp/hooks"
	cat >"$tmp/hooks/benchpy.yaml" <<HOOK
name: benchpy
description: the benchmark's python3 ($python)
hints:
  linux:
    - path: $python
      version: "3"
  macos:
    - path: $python
      version: "3"
HOOK
}

# $tmp/hotloadd.yaml: the daemon on $tmp/hotloadd.sock (no TCP), with the
# hooks in $tmp/hooks.
bench_config() {
	cat >"$tmp/hotloadd.yaml" <<CONF
listen:
  unix: $tmp/hotloadd.sock
  tcp: ""
hooks_dirs: [$tmp/hooks]
log_level: warning
CONF
}

# Wait for the Unix socket $1 of process $2 (its log: $3).
bench_wait_socket() {
	i=0
	while [ ! -S "$1" ]; do
		i=$((i + 1))
		if [ "$i" -gt 600 ] || ! kill -0 "$2" 2>/dev/null; then
			echo "bench: the server for $1 did not start:" >&2
			cat "$3" >&2
			exit 1
		fi
		sleep 0.05
	done
}
