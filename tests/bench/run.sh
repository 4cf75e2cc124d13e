#!/bin/sh
# Build a release hotloadd (no sanitizers, its own build directory), start it
# on a temporary socket and configuration with a plain-python3 target, and run
# bench.py against it and against the direct single-hop baseline. Also
# measured: no-ops and an 8 KiB script through relay.c (built here: a relay
# of bytes only, libuv) in front of the direct server (the cost of an extra
# hop that does nothing), CPU time and context switches per request of each
# process (hotloadd and its worker apart), and no-ops against the built-in
# python:3 hook, which finds python3 on PATH. Where there are 2 CPUs the
# client runs on CPU 0 and every server process on CPU 1 (bench.py --pin;
# the concurrency case runs unpinned).
#
# Usage: sh tests/bench/run.sh [bench.py options, e.g. -n 5000 --n-big 100]
# Environment:
#   PYTHON     the interpreter for the worker and the direct server
#              (default: python3 on PATH)
#   HOTLOADD   use this hotloadd binary instead of building one (it must sit
#              in a build or install tree, next to lib/hotload/hookd)
#   BUILD_DIR  where to build (default: build-bench-release)
#   AGENT      run this hookd.py in the worker instead of the built one
#              (the config's agent: key), e.g. to compare agent changes
# A benchmark, not a test: it prints figures and judges none of them.
set -eu
cd "$(dirname "$0")/../.."

. tests/bench/lib.sh
bench_start
bench_build_hotloadd
bench_build_relay

# The worker and the direct baseline run the same interpreter.
bench_hook
# The same interpreter with 2,000 modules under a watch root (events): what
# watching costs a request while nothing changes.
mkdir "$tmp/watched"
"$python" - "$tmp/watched" <<'PY'
import os, sys
for i in range(2000):
    d = os.path.join(sys.argv[1], "pkg%d" % (i % 20))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "m%d.py" % i), "w") as f:
        f.write("VALUE = %d\n" % i)
PY
sed 's/^name: benchpy$/name: benchwatch/' "$tmp/hooks/benchpy.yaml" >"$tmp/hooks/benchwatch.yaml"
echo "watch: [$tmp/watched]" >>"$tmp/hooks/benchwatch.yaml"
# The same interpreter with a pool of 2 warm workers, for 8 clients at once.
sed 's/^name: benchpy$/name: benchpool2/' "$tmp/hooks/benchpy.yaml" >"$tmp/hooks/benchpool2.yaml"
printf 'max_workers: 2\nmin_workers: 2\n' >>"$tmp/hooks/benchpool2.yaml"
# New workers: a worker replaced after every request (recycle_after: 1),
# started (spawn: exec) or forked from a template (spawn: fork); the same
# for Blender when it is installed (the shipped hook, renamed).
newworker="--new-worker python,benchnew:3,benchnewfork:3"
sed 's/^name: benchpy$/name: benchnew/' "$tmp/hooks/benchpy.yaml" >"$tmp/hooks/benchnew.yaml"
echo "recycle_after: 1" >>"$tmp/hooks/benchnew.yaml"
sed 's/^name: benchnew$/name: benchnewfork/' "$tmp/hooks/benchnew.yaml" >"$tmp/hooks/benchnewfork.yaml"
echo "spawn: fork" >>"$tmp/hooks/benchnewfork.yaml"
if [ -x /usr/bin/blender ]; then
	sed -e 's/^name: blender$/name: benchblender/' -e '/^aliases:/d' \
		conf/hooks.d/blender.yaml >"$tmp/hooks/benchblender.yaml"
	echo "recycle_after: 1" >>"$tmp/hooks/benchblender.yaml"
	sed 's/^name: benchblender$/name: benchblenderfork/' "$tmp/hooks/benchblender.yaml" \
		>"$tmp/hooks/benchblenderfork.yaml"
	echo "spawn: fork" >>"$tmp/hooks/benchblenderfork.yaml"
	bv=$(blender --version 2>/dev/null | sed -n 's/^Blender \([0-9.]*\).*/\1/p' | head -1)
	newworker="$newworker --new-worker blender,benchblender:$bv,benchblenderfork:$bv"
fi
bench_config
if [ -n "${AGENT:-}" ]; then
	agent=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
	echo "agent: $agent" >>"$tmp/hotloadd.yaml"
fi

"$HOTLOADD" --config "$tmp/hotloadd.yaml" 2>"$tmp/hotloadd.log" &
pid=$!
pids=$pid
bench_wait_socket "$tmp/hotloadd.sock" "$pid" "$tmp/hotloadd.log"

echo "hotloadd: $HOTLOADD (pid $pid)${AGENT:+, agent $agent}"
"$python" tests/bench/bench.py --socket "$tmp/hotloadd.sock" --target benchpy:3 \
	--python "$python" --daemon-pid "$pid" --relay --relay-bin "$tmp/relay" \
	--extra-target python:3 --pool2-target benchpool2:3 \
	--extra-target benchwatch:3 $newworker "$@"
if [ -s "$tmp/hotloadd.log" ]; then
	echo
	echo "hotloadd said:"
	cat "$tmp/hotloadd.log"
fi
