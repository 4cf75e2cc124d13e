#!/usr/bin/env python3
"""What hotloading costs a request in the real agent, with 2,000 modules.

Starts hookd.py (the agent, as the daemon runs it) with a package of N
generated modules imported from a temporary root, and times no-op eval
requests over its control socket:

  baseline        no hotloading fields (what every request costs with
                  watch_mode events while nothing changed: the daemon sends
                  none)
  events, other   a `changed` list naming a file that is not loaded
  poll, nothing   watch_mode poll: `poll_roots`, nothing changed (one stat
                  per module under the roots)
  poll, 1 saved   poll with one module saved before each request (its reload
                  included)

Prints p50 and mean in microseconds and each as a ratio of the baseline
measured in the same run. A benchmark, not a test: it judges nothing.

Usage: python3 tests/bench/reload_poll.py [--modules 2000] [-n 300]
"""
import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hookd"))
from harness import Agent, python_argv  # noqa: E402


def make_tree(root, count):
    """A package benchpkg with count modules in 20 subpackages."""
    pkg = os.path.join(root, "benchpkg")
    os.mkdir(pkg)
    open(os.path.join(pkg, "__init__.py"), "w").close()
    names = []
    for i in range(count):
        sub = os.path.join(pkg, "s%d" % (i % 20))
        if not os.path.isdir(sub):
            os.mkdir(sub)
            open(os.path.join(sub, "__init__.py"), "w").close()
        with open(os.path.join(sub, "m%d.py" % i), "w") as f:
            f.write("VALUE = %d\n\ndef value():\n    return VALUE\n" % i)
        names.append("benchpkg.s%d.m%d" % (i % 20, i))
    return names


def timed(agent, count, fields, before=None):
    """Run count eval requests with fields; per-request microseconds."""
    times = []
    for i in range(count):
        if before:
            before(i)
        start = time.perf_counter()
        req_id = agent.send("eval", code="0", **fields)
        msg = agent.recv()
        if msg.get("event") == "reloaded":
            ack = {"id": req_id, "op": "reloaded-ack"}
            agent.send_line(json.dumps(ack).encode() + b"\n")
            msg = agent.recv()
        times.append((time.perf_counter() - start) * 1e6)
        if not msg.get("ok"):
            raise SystemExit("request failed: %r" % msg)
    return times


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--modules", type=int, default=2000, help="modules under the root")
    ap.add_argument("-n", type=int, default=300, help="requests per case")
    args = ap.parse_args()
    root = os.path.realpath(tempfile.mkdtemp(prefix="hotload-bench-reload."))
    try:
        names = make_tree(root, args.modules)
        agent = Agent(python_argv(), hook={"path": [root]})
        try:
            agent.ready()
            load = "import %s" % ", ".join(names)
            done = agent.request("exec", code=load)
            if not done.get("ok"):
                raise SystemExit("import failed: %r" % done)
            target = os.path.join(root, "benchpkg", "s0", "m0.py")

            def save(i):
                with open(target, "w") as f:
                    f.write("VALUE = %d\n\ndef value():\n    return VALUE\n" % (i + 10**6))

            cases = [
                ("baseline", {}, None),
                ("events, other file", {"changed": [os.path.join(root, "new.py")]}, None),
                ("poll, nothing changed", {"poll_roots": [root]}, None),
                ("poll, 1 module saved", {"poll_roots": [root]}, save),
            ]
            timed(agent, 50, {"poll_roots": [root]})  # warm caches, fill the stamps
            results = [(label, timed(agent, args.n, fields, before))
                       for label, fields, before in cases]
        finally:
            agent.close()
    finally:
        shutil.rmtree(root)
    base = statistics.median(results[0][1])
    print("hotloading cost per request, %d modules loaded, %d requests each, python %s" %
          (args.modules, args.n, sys.version.split()[0]))
    print("%-24s %10s %10s %8s" % ("case", "p50 us", "mean us", "p50/base"))
    for label, times in results:
        p50 = statistics.median(times)
        print("%-24s %10.1f %10.1f %7.2fx" % (label, p50, statistics.mean(times), p50 / base))


if __name__ == "__main__":
    main()
