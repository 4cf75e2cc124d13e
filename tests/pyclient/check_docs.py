"""Run every Python example of a document against a real hotloadd.

Usage: check_docs.py DOC.md

Each ```python block runs in a fresh interpreter (this one), in an empty
temporary directory, with HOTLOAD_SOCKET naming a daemon of the build tree
and the client library on PYTHONPATH; it must exit 0. A ```text block right
after it (blank lines between allowed) is what it must print to stdout. A
block after a line `<!-- docs-check: skip (why) -->` is not run. Before each
block the python:3 target's namespace starts over, so that no example leans
on an earlier one.
"""
import difflib
import os
import re
import subprocess
import sys
import tempfile

import daemon
import hotload

FENCE = re.compile(r"^```\s*([A-Za-z0-9_+-]*)\s*$")
SKIP = re.compile(r"^<!--\s*docs-check:\s*skip\b.*-->\s*$")


def blocks(path):
    """[(line, lang, text, skipped)] of the fenced blocks of a document."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    found, i, last = [], 0, ""
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            if lines[i].strip():
                last = lines[i]
            i += 1
            continue
        start, lang, body = i + 1, m.group(1), []
        i += 1
        while i < len(lines) and not FENCE.match(lines[i]):
            body.append(lines[i])
            i += 1
        if i < len(lines) and FENCE.match(lines[i]).group(1):
            raise SystemExit("%s:%d: a fence opened inside a block" % (path, i + 1))
        found.append((start, lang, "\n".join(body) + "\n", bool(SKIP.match(last))))
        last = "```"
        i += 1
    return found


def examples(path):
    """[(line, code, expected stdout or None)] of the blocks that run."""
    found = blocks(path)
    out = []
    for n, (line, lang, text, skipped) in enumerate(found):
        if lang != "python" or skipped:
            continue
        expected = None
        if n + 1 < len(found) and found[n + 1][1] == "text":
            expected = found[n + 1][2]
        out.append((line, text, expected))
    return out


def main(argv):
    doc = os.path.abspath(argv[1])
    runs = examples(doc)
    if len(runs) < 5:
        print("FAIL: only %d runnable examples found in %s" % (len(runs), doc))
        return 1
    d = daemon.Daemon()
    failures = 0
    try:
        env = dict(os.environ, HOTLOAD_SOCKET=d.sock, PYTHONPATH=daemon.LIBRARY_DIR)
        for var in ("HOTLOAD_TCP", "HOTLOAD_TOKEN", "PYTHONSTARTUP"):
            env.pop(var, None)
        for line, code, expected in runs:
            where = "%s:%d" % (os.path.relpath(doc, daemon.SOURCE_DIR), line)
            with hotload.Client("python:3", socket=d.sock) as c:
                c.reset()
            with tempfile.TemporaryDirectory(prefix="hl-doc-") as tmp:
                try:
                    p = subprocess.run([sys.executable, "-c", code], cwd=tmp, env=env,
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       universal_newlines=True, timeout=180)
                except subprocess.TimeoutExpired:
                    print("FAIL %s: did not finish within 180 s" % where)
                    failures += 1
                    continue
            if p.returncode != 0:
                print("FAIL %s: exit status %d\n%s%s" % (where, p.returncode, p.stdout,
                                                        p.stderr))
                failures += 1
            elif expected is not None and p.stdout.rstrip("\n") != expected.rstrip("\n"):
                diff = difflib.unified_diff(expected.rstrip("\n").split("\n"),
                                            p.stdout.rstrip("\n").split("\n"),
                                            "documented", "printed", lineterm="")
                print("FAIL %s: prints something else\n%s\n%s" % (where, "\n".join(diff),
                                                                 p.stderr))
                failures += 1
            else:
                print("ok %s%s" % (where, "" if expected is not None else " (runs)"))
    finally:
        d.stop()
    print("%d of %d examples of %s as documented" % (len(runs) - failures, len(runs),
                                                   os.path.basename(doc)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
