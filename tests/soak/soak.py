#!/usr/bin/env python3
"""Soak test for hotloadd: many concurrent clients, every answer checked.

Starts the given hotloadd on a temporary directory (Unix socket, TCP port in
30000-39999, configuration, hooks dir) with two targets: the built-in
python:3 hook (one worker, max_queue 64) and "soakpy:3", a hook defined in
the temporary hooks dir that runs this machine's python3 with three workers
(min_workers 1). Then N client threads (--clients, default 50) share M
requests (--requests, default 20000) of mixed kinds, on both targets:

  raw        raw mode over Unix or TCP: header, payload (sometimes in
             pieces), half-close, read to EOF; stdout only, stderr only,
             stdout+stderr+traceback, no output, ns=fresh, sys.exit(0),
             non-ASCII output; file= given or the default <hotload-N>
  json_exec  exec on the client's persistent JSON connection: streamed
             stdout/stderr events, done (ok, error with type/message/
             traceback, exit_code), ns=fresh, odd ids (strings, objects)
  json_eval  eval: value (repr) and json, big ints (no json), NaN, errors
  json_state python:3 only (one worker): exec sets a name, eval reads it
  big        1-4 MiB of output, raw or JSON, on stdout or stderr
  vanish     clients that go away: mid-header, mid-payload, after the
             half-close, mid-reply (close or reset), JSON right after the
             request or after the first event
  malformed  bad JSON lines (then a good request on the same connection),
             bad headers (raw and JSON framing), headers over 1024 bytes,
             JSON lines and raw payloads over limits.max_payload
  interrupt  exec a sleep, then interrupt it (after its first output, or
             at once): interrupted 1, done KeyboardInterrupt
  timeout    timeout 0.5 on a sleep (JSON and raw): Timeout, interrupted
             by KeyboardInterrupt; then the same connection/target answers

Each request prints a token unique to its number, and every answer is
compared exactly with what that request must get, so an answer meant for
another request is a wrong answer. Tracebacks are compared exactly when the
workers run the same Python version as this script (the expected traceback
is produced here), else by shape. A request whose answer never came (EOF,
reset, no answer within --request-timeout) is a lost answer.

After the clients: the daemon must hold no client connection but the
status request's, both targets must be ok with no worker restarts and
nothing queued or busy, a last request on each target must answer, and the
daemon must exit 0 on SIGTERM with no sanitizer report in its stderr (with
--valgrind: valgrind's ERROR SUMMARY must say 0 errors).

Report: requests/s, lost and wrong answers (the first ones in detail),
counts per kind and variant, latencies, the daemon's VmRSS at start, peak
and end. Exit status: 0 pass; 1 fail (kept temporary directory named);
2 the daemon could not be started.

    python3 tests/soak/soak.py --hotloadd build-soak/bin/hotloadd
    python3 tests/soak/soak.py --hotloadd build-soak/bin/hotloadd --clients 20 --requests 2000
    python3 tests/soak/soak.py --hotloadd build-soak-vg/bin/hotloadd --valgrind
    python3 tests/soak/soak.py --hotloadd build-soak/bin/hotloadd --replay 1234,1240

Standard library only.
"""
import argparse
import builtins
import collections
import hashlib
import json
import linecache
import math
import os
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback

MAX_PAYLOAD = 1 << 20  # limits.max_payload in the generated configuration
HEADER_MAX = 1024
SAN_RE = re.compile(rb"^==\d+==ERROR: |^SUMMARY: \w+Sanitizer|: runtime error: |"
                    rb"^==\d+==WARNING: .*Sanitizer", re.M)
INT64 = (-(1 << 63), (1 << 63) - 1)
INTERRUPT_SLEEP = 3  # seconds the interrupted code would sleep: a lost interrupt shows as ok
TIMEOUT = 0.5
TIMEOUT_MSG = ("the request ran longer than its timeout of 0.5 s; "
               "it was interrupted (KeyboardInterrupt)")

# kind: weight (per 100 requests)
WEIGHTS = collections.OrderedDict([
    ("raw", 30), ("json_exec", 25), ("json_eval", 14), ("json_state", 3), ("big", 1.5),
    ("vanish", 6), ("malformed", 6), ("interrupt", 1.5), ("timeout", 0.6)])


class Wrong(Exception):
    """The answer came, and it is not the one this request must get."""


class Lost(Exception):
    """No answer: EOF, reset or silence where an answer was owed."""


# --------------------------------------------------------------------------
# the temporary setup and the daemon


def free_port(rng):
    """A TCP port in 30000-39999 that nothing listens on right now."""
    for _ in range(200):
        port = rng.randint(30000, 39999)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free TCP port in 30000-39999")


class Target:
    """One target: the daemon's name, the header names that reach it."""

    def __init__(self, name, headers, single):
        self.name, self.headers, self.single = name, headers, single

    def header(self, rng):
        return rng.choice(self.headers)


TARGETS = [Target("python:3", ["python:3", "python", "python3", "cpython:3"], True),
           Target("soakpy:3", ["soakpy:3", "soakpy", "soakalias:3"], False)]


class Daemon:
    """The hotloadd under test, its directory and its stderr."""

    def __init__(self, args):
        self.args = args
        self.hotloadd = os.path.abspath(args.hotloadd)
        self.dir = tempfile.mkdtemp(prefix="hotload-soak.")
        self.sock = os.path.join(self.dir, "hotloadd.sock")
        self.config = os.path.join(self.dir, "hotloadd.yaml")
        self.errpath = os.path.join(self.dir, "hotloadd.err")
        self.vglog = os.path.join(self.dir, "valgrind.%p.log")
        self.proc = None
        self.port = None
        hooks = os.path.join(self.dir, "hooks.d")
        os.mkdir(hooks)
        with open(os.path.join(hooks, "soakpy.yaml"), "w") as f:
            f.write("name: soakpy\naliases: [soakalias]\n"
                    "description: the soak test's second target\n"
                    "hints:\n  linux:\n    - path: %s\n      version: \"3\"\n"
                    "env:\n  PYTHONUNBUFFERED: \"1\"\n"
                    "max_workers: 3\nmin_workers: 1\nmax_queue: 1000\n"
                    "startup_timeout: 60\n" % json.dumps(sys.executable))
        self.hooks = hooks

    def write_config(self):
        maxconn = max(256, 4 * self.args.clients + 32)
        with open(self.config, "w") as f:
            f.write("listen:\n  unix: %s\n  tcp: \"127.0.0.1:%d\"\n" % (json.dumps(self.sock),
                                                                      self.port) +
                    "hooks_dirs: [%s]\n" % json.dumps(self.hooks) +
                    "limits:\n  max_payload: %d\n  max_connections: %d\n" % (MAX_PAYLOAD,
                                                                             maxconn) +
                    "log_level: %s\n" % self.args.log_level)

    def env(self):
        env = dict(os.environ)
        for var, default in (("ASAN_OPTIONS", "detect_leaks=1"),
                             ("UBSAN_OPTIONS", "print_stacktrace=1")):
            opts = env.get(var) or default
            if "halt_on_error=" not in opts:
                opts += ":halt_on_error=1"
            env[var] = opts
        return env

    def start(self, rng):
        """Start it (a new port if the first is taken meanwhile); True when
        its Unix socket and TCP port accept connections."""
        for attempt in range(3):
            self.port = free_port(rng)
            self.write_config()
            argv = [self.hotloadd, "--config", self.config]
            if self.args.valgrind:
                argv = ["valgrind", "--error-exitcode=99", "--leak-check=full",
                        "--log-file=" + self.vglog] + argv
            with open(self.errpath, "ab") as err:
                self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=err,
                                             stderr=err, env=self.env())
            deadline = time.monotonic() + (120 if self.args.valgrind else 30)
            while time.monotonic() < deadline and self.alive():
                if os.path.exists(self.sock) and self.tcp_ready():
                    return True
                time.sleep(0.05)
            if self.alive():
                return False
            if b"address already in use" not in self.stderr().lower():
                return False
        return False

    def tcp_ready(self):
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                # a connection closed before any byte is closed quietly
                return True
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        try:
            with open(self.errpath, "rb") as f:
                return f.read()
        except OSError:
            return b""

    def sanitizer_report(self):
        err = self.stderr()
        m = SAN_RE.search(err)
        if not m:
            return None
        start = err.rfind(b"\n", 0, m.start()) + 1
        end = err.find(b"Shadow bytes around", start)
        return err[start:end if end >= 0 else len(err)][:6000].decode("utf-8", "replace")

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except (OSError, ValueError, IndexError):
            pass
        return None

    def stop(self, grace):
        """SIGTERM, wait; the exit status (None if it had ended already)."""
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(grace)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return "killed after %d s" % grace

    def valgrind_summary(self):
        """(the daemon's ERROR SUMMARY line, [other logs that report errors])."""
        main, others = None, []
        path = self.vglog.replace("%p", str(self.proc.pid))
        try:
            with open(path, errors="replace") as f:
                text = f.read()
            m = re.findall(r"^==\d+== ERROR SUMMARY: .*$", text, re.M)
            main = m[-1].split("== ", 1)[1] if m else None
        except OSError:
            pass
        for name in sorted(os.listdir(self.dir)):
            p = os.path.join(self.dir, name)
            if name.startswith("valgrind.") and p != path:
                with open(p, errors="replace") as f:
                    text = f.read()
                if re.search(r"^==\d+== (Invalid|Conditional|Syscall param|Mismatched|"
                             r"Source and destination)", text, re.M):
                    others.append(name)
        return main, others


# --------------------------------------------------------------------------
# connections


class Link:
    """One client connection with a receive buffer."""

    def __init__(self, ctx, tcp=False):
        self.tcp = tcp
        try:
            if tcp:
                self.s = socket.create_connection(("127.0.0.1", ctx.daemon.port), timeout=10)
            else:
                self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                self.s.settimeout(10)
                self.s.connect(ctx.daemon.sock)
        except OSError as e:
            raise Lost("cannot connect (%s): %s" % ("tcp" if tcp else "unix", e))
        self.buf = bytearray()
        self.scan = 0
        self.eof = False
        self.uses = 0
        self.max_uses = 0

    def send(self, data):
        try:
            self.s.sendall(data)
        except OSError as e:
            raise Lost("send failed: %s" % e)

    def shut(self):
        try:
            self.s.shutdown(socket.SHUT_WR)
        except OSError as e:
            raise Lost("half-close failed: %s" % e)

    def fill(self, deadline):
        """Read what comes (at least one byte, or EOF) before the deadline."""
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise Lost("no answer within the request timeout (%d bytes buffered)" %
                           len(self.buf))
            self.s.settimeout(min(left, 5.0))
            try:
                d = self.s.recv(262144)
            except socket.timeout:
                continue
            except ConnectionResetError:
                d = b""
            if not d:
                self.eof = True
                return
            self.buf += d
            return

    def line(self, deadline):
        """The next line without its newline; None at EOF."""
        while True:
            i = self.buf.find(b"\n", self.scan)
            if i >= 0:
                ln = bytes(self.buf[:i])
                del self.buf[:i + 1]
                self.scan = 0
                return ln
            self.scan = len(self.buf)
            if self.eof:
                return None
            self.fill(deadline)

    def event(self, deadline):
        """The next JSON event; Lost at EOF, Wrong when it is not one."""
        ln = self.line(deadline)
        if ln is None:
            raise Lost("EOF (%d bytes without a line end)" % len(self.buf))
        try:
            ev = json.loads(ln.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            raise Wrong("reply line is not JSON: %r" % ln[:300])
        if not isinstance(ev, dict) or not isinstance(ev.get("event"), str):
            raise Wrong("reply line is not an event: %r" % ln[:300])
        return ev

    def read_to_eof(self, deadline, limit=None):
        while not self.eof and (limit is None or len(self.buf) < limit):
            self.fill(deadline)
        data = bytes(self.buf)
        self.buf = bytearray()
        return data

    def close(self, rst=False):
        try:
            if rst:
                self.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.s.close()
        except OSError:
            pass


def raw_request(ctx, header, payload, tcp, deadline, pieces=1):
    """One raw-mode request; the reply as text (Lost if there was none)."""
    link = Link(ctx, tcp)
    try:
        data = header.encode() + b"\n" + payload
        if pieces > 1:
            step = max(1, len(data) // pieces)
            for i in range(0, len(data), step):
                link.send(data[i:i + step])
                time.sleep(0.001)
        else:
            link.send(data)
        link.shut()
        reply = link.read_to_eof(deadline)
    finally:
        link.close()
    if not reply:
        raise Lost("raw reply empty (EOF at once)")
    return utf8(reply)


def utf8(b):
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError as e:
        raise Wrong("reply is not valid UTF-8 at byte %d: %r" % (e.start, b[e.start - 40:
                                                                            e.start + 40]))


def collect(link, ids, deadline, on_event=None):
    """Read events until every id in ids has its done. Returns {id_key:
    (done, stdout, stderr)}. Any event for another id is wrong."""
    keys = {key(i): i for i in ids}
    res = {}
    out = {k: [] for k in keys}
    err = {k: [] for k in keys}
    waiting = collections.Counter()
    while len(res) < len(keys):
        ev = link.event(deadline)
        kind = ev["event"]
        if kind == "error":
            raise Wrong("connection error event: %s" % short(ev))
        if "id" not in ev:
            raise Wrong("event without id: %s" % short(ev))
        k = key(ev["id"])
        if k not in keys:
            raise Wrong("event for id %s while waiting for %s: %s" %
                        (short(ev["id"]), "/".join(short(i) for i in ids), short(ev)))
        if k in res:
            raise Wrong("event after the done of id %s: %s" % (short(ev["id"]), short(ev)))
        if kind in ("stdout", "stderr"):
            if not isinstance(ev.get("data"), str) or not ev["data"]:
                raise Wrong("output event without data: %s" % short(ev))
            (out if kind == "stdout" else err)[k].append(ev["data"])
        elif kind == "waiting":
            waiting[k] += 1
            if waiting[k] > 1 or ev.get("state") not in ("starting", "queued", "backoff"):
                raise Wrong("bad or repeated waiting event: %s" % short(ev))
            if out[k] or err[k]:
                raise Wrong("waiting after output: %s" % short(ev))
        elif kind == "done":
            if not isinstance(ev.get("ok"), bool):
                raise Wrong("done without a boolean ok: %s" % short(ev))
            res[k] = (ev, "".join(out[k]), "".join(err[k]))
        else:
            raise Wrong("unknown event: %s" % short(ev))
        if on_event is not None:
            on_event(ev)
    return res


def key(v):
    return json.dumps(v, sort_keys=True)


def short(v, n=300):
    s = v if isinstance(v, str) else json.dumps(v, ensure_ascii=False)
    return s if len(s) <= n else s[:n] + "...(%d chars)" % len(s)


def diff_at(got, want):
    """Where two strings first differ, for a message."""
    i = 0
    n = min(len(got), len(want))
    while i < n and got[i] == want[i]:
        i += 1
    return ("length %d vs expected %d, first difference at %d: got %r, expected %r" %
            (len(got), len(want), i, got[max(0, i - 40):i + 80], want[max(0, i - 40):i + 80]))


def same(got, want, what):
    if got != want:
        if isinstance(got, str) and isinstance(want, str):
            raise Wrong("%s: %s" % (what, diff_at(got, want)))
        raise Wrong("%s: got %s, expected %s" % (what, short(got), short(want)))


def done_ok(done, what="done"):
    if done.get("ok") is not True or "error" in done:
        raise Wrong("%s not ok: %s" % (what, short(done)))
    d = done.get("duration_ms")
    if not isinstance(d, (int, float)) or isinstance(d, bool) or d < 0:
        raise Wrong("%s without a duration_ms: %s" % (what, short(done)))


# --------------------------------------------------------------------------
# expected answers


DEFAULT_FILE = "<hotload-N>"
DEFAULT_RE = re.compile(r'File "<hotload-\d+>"')


def norm_tb(text, fname):
    """Tracebacks of requests sent without a file name show <hotload-N>,
    N counted by whichever worker ran it: compare without N."""
    return DEFAULT_RE.sub('File "%s"' % DEFAULT_FILE, text) if fname is None else text


class Expect:
    """What this machine's Python says the worker must report, exactly
    when the worker runs the same version (ctx.exact_tb), else by shape."""

    def __init__(self, exact):
        self.exact = exact
        # The client threads share linecache: one's entry for <hotload-N>
        # must not be replaced or dropped by another's while it formats.
        self.linecache_lock = threading.Lock()

    def error(self, code, run_code, fname, mode="exec"):
        """Run run_code here (code's text in linecache under fname): the
        (type, message, traceback) the worker must report for code."""
        with self.linecache_lock:
            return self._error(code, run_code, fname, mode)

    def _error(self, code, run_code, fname, mode):
        fname = fname or DEFAULT_FILE
        linecache.cache[fname] = (len(code), None, code.splitlines(True), fname)
        try:
            c = compile(run_code, fname, mode, dont_inherit=True)
            ns = {"__name__": "__main__", "__builtins__": builtins}
            if mode == "exec":
                exec(c, ns)
            else:
                eval(c, ns)
        except BaseException as e:  # noqa: B902 - SystemExit too
            tb = e.__traceback__.tb_next  # this frame is not the user's
            text = "".join(traceback.format_exception(type(e), e, tb))
            msg = str(e.code) if isinstance(e, SystemExit) else str(e)
            return type(e).__name__, msg, text
        finally:
            linecache.cache.pop(fname, None)
        raise AssertionError("expected code to raise: %r" % run_code)

    def tb(self, got, want, what):
        if self.exact:
            same(got, want, what)
            return
        wl = want.rstrip("\n").split("\n")
        if not (got.startswith(wl[0] + "\n") and got.endswith(wl[-1] + "\n") and
                wl[1].split(",")[0] in got):
            raise Wrong("%s: %r does not look like %r" % (what, got[:300], want[:300]))


def ki_tb_re(fname, *where):
    """The traceback of KeyboardInterrupt raised in the sent code at one of
    where's (line number, source line)."""
    f = re.escape(fname) if fname else r"<hotload-\d+>"
    at = "|".join(r"line %d, in <module>\n    %s" % (line, re.escape(src)) for line, src in where)
    return re.compile(r'Traceback \(most recent call last\):\n  File "%s", (?:%s)\n'
                      r"(?:    [ ~^]+\n)?KeyboardInterrupt\n\Z" % (f, at))


def error_case(ctx, tok, rng, fname, with_out, with_err):
    """Code that prints (maybe) and raises; (code, stdout, stderr, type,
    message, traceback)."""
    head, out, err = [], "", ""
    if with_out:
        head.append("print(%r)" % (tok + " out"))
        out = tok + " out\n"
    if with_err:
        head.append("import sys; sys.stderr.write(%r)" % (tok + " err\n"))
        err = tok + " err\n"
    which = rng.choice(["zero", "value", "key", "exit", "name"])
    n = int(tok.split("_")[1])
    if which == "zero":
        body = ["soak_n = %d" % n, "soak_y = soak_n / (soak_n - %d)" % n]
    elif which == "value":
        body = ["raise ValueError(%r)" % tok]
    elif which == "key":
        body = ["def soak_lookup(k):", "    return {%r: 1}[k]" % tok,
                "soak_lookup(%r)" % ("no-" + tok)]
    elif which == "exit":
        body = ["import sys", "sys.exit(%r)" % tok]
    else:
        body = ["x = 1", "undefined_%s + x" % tok]
    code = "\n".join(head + body) + "\n"
    run = "\n".join(["pass"] * len(head) + body) + "\n"
    typ, msg, tb = ctx.expect.error(code, run, fname)
    return code, out, err, typ, msg, tb


def token(ctx, n):
    h = hashlib.sha1(b"%d:%d" % (ctx.args.seed, n)).hexdigest()[:8]
    return "tok_%d_%s" % (n, h)


def make_id(n, rng):
    r = rng.random()
    if r < 0.5:
        return n
    if r < 0.8:
        return "r%d" % n
    if r < 0.95:
        return {"n": n, "s": "é%d" % n}
    return [n, None, True]


def is_json(v):
    try:
        json.dumps(v, allow_nan=False)
    except (ValueError, TypeError):
        return False
    todo = [v]
    while todo:
        x = todo.pop()
        if isinstance(x, int) and not isinstance(x, bool) and not INT64[0] <= x <= INT64[1]:
            return False
        if isinstance(x, dict):
            todo.extend(x.values())
        elif isinstance(x, (list, tuple)):
            todo.extend(x)
    return True


# --------------------------------------------------------------------------
# the request kinds: each runs request n and returns its variant name, or
# raises Wrong / Lost


class Client:
    """One client thread's persistent JSON connections, one per target."""

    def __init__(self, ctx, index):
        self.ctx = ctx
        self.conns = {}
        # its own random source: how connections are made does not change
        # what the requests' own random sources draw
        self.rng = random.Random("client:%d:%d" % (ctx.args.seed, index))

    def json(self, tgt):
        rng = self.rng
        link = self.conns.get(tgt.name)
        if link is not None and link.uses >= link.max_uses:
            link.close()
            link = None
        if link is None:
            link = Link(self.ctx, tcp=rng.random() < 0.2)
            link.max_uses = rng.randint(20, 300)
            link.send((tgt.header(rng) + " mode=json\n").encode())
            self.conns[tgt.name] = link
        link.uses += 1
        return link

    def drop(self, tgt):
        link = self.conns.pop(tgt.name, None)
        if link is not None:
            link.close()

    def close(self):
        for link in self.conns.values():
            link.close()
        self.conns = {}


def k_raw(ctx, cl, n, rng, tgt, deadline, meta):
    tok = token(ctx, n)
    v = rng.choice(["out", "out", "out", "noop", "err", "err", "stderr", "fresh", "unicode",
                    "exit0"])
    meta["variant"] = v
    hdr = tgt.header(rng)
    fname = None
    if rng.random() < 0.5:
        fname = "soak-%d.py" % n
        hdr += " file=" + fname
    if v == "fresh":
        hdr += " ns=fresh"
    elif rng.random() < 0.2:
        hdr += " ns=main"
    tcp = rng.random() < 0.3
    pieces = rng.choice([1, 1, 1, 1, 2, 3])
    tb = None
    if v == "out":
        k = rng.randint(1, 5)
        code = "for i in range(%d):\n    print(%r, i)\n" % (k, tok)
        want = "OUTPUT: \n" + "".join("%s %d\n" % (tok, i) for i in range(k))
    elif v == "noop":
        code = "soak_last = %r\n" % tok
        want = "Script executed (no output)."
    elif v == "err":
        wo, we = rng.random() < 0.6, rng.random() < 0.6
        code, out, err, _typ, _msg, tb = error_case(ctx, tok, rng, fname, wo, we)
        want = ("OUTPUT: \n" + out if out else "") + "ERRORS: \n" + err
    elif v == "stderr":
        code = "import sys\nsys.stderr.write(%r)\n" % (tok + " e\n")
        want = "ERRORS: \n%s e\n" % tok
    elif v == "fresh":
        code = "print(sorted(k for k in globals() if not k.startswith('__')), %r)\n" % tok
        want = "OUTPUT: \n[] %s\n" % tok
    elif v == "unicode":
        s = "%s é€😀 中文" % tok
        code = "print(%r)\n" % s
        want = "OUTPUT: \n%s\n" % s
    else:
        code = "print(%r)\nimport sys\nsys.exit(0)\nprint('not reached')\n" % tok
        want = "OUTPUT: \n%s\n" % tok
    reply = raw_request(ctx, hdr, code.encode(), tcp, deadline, pieces)
    if tb is None:
        same(reply, want, "raw reply")
    else:
        if not reply.startswith(want):
            raise Wrong("raw reply: %s" % diff_at(reply[:len(want)], want))
        ctx.expect.tb(norm_tb(reply[len(want):], fname), tb, "raw traceback")
    return v + ("/tcp" if tcp else "")


def exec_json(ctx, cl, tgt, deadline, rid, code, op="exec", **fields):
    """One exec/eval on the client's JSON connection to tgt: (done, stdout,
    stderr)."""
    link = cl.json(tgt)
    req = dict(fields, id=rid, op=op, code=code)
    link.send((json.dumps(req) + "\n").encode())
    return collect(link, [rid], deadline)[key(rid)]


def k_json_exec(ctx, cl, n, rng, tgt, deadline, meta):
    tok = token(ctx, n)
    v = rng.choice(["out", "out", "out_err", "multi", "error", "error", "exit0", "fresh",
                    "silent"])
    meta["variant"] = v
    rid = make_id(n, rng)
    fields = {}
    fname = None
    if rng.random() < 0.6:
        fname = "soak-%d.py" % n
        fields["file"] = fname
    if v == "fresh":
        fields["ns"] = "fresh"
    elif rng.random() < 0.2:
        fields["ns"] = rng.choice(["main", None])
    if rng.random() < 0.1:
        fields["timeout"] = 60
    out = err = ""
    if v == "out":
        code = "print(%r)\n" % tok
        out = tok + "\n"
    elif v == "out_err":
        code = "import sys\nprint(%r)\nsys.stderr.write(%r)\nprint('é€😀')\n" % (
            tok, tok + " e\n")
        out, err = tok + "\né€😀\n", tok + " e\n"
    elif v == "multi":
        k = rng.randint(2, 6)
        code = ("import sys, time\nfor i in range(%d):\n    print(%r, i, flush=True)\n"
                "    sys.stderr.write('%%s %%d\\n' %% (%r, i)); sys.stderr.flush()\n"
                "    time.sleep(0.002)\n" % (k, tok, tok))
        out = "".join("%s %d\n" % (tok, i) for i in range(k))
        err = out
    elif v == "error":
        code, out, err, typ, msg, tb = error_case(ctx, tok, rng, fname, rng.random() < 0.5,
                                                  rng.random() < 0.5)
    elif v == "exit0":
        code = "print(%r)\nimport sys\nsys.exit()\n" % tok
        out = tok + "\n"
    elif v == "fresh":
        code = "print(sorted(k for k in globals() if not k.startswith('__')), %r)\n" % tok
        out = "[] %s\n" % tok
    else:
        code = "soak_last = %r\n" % tok
    try:
        done, got_out, got_err = exec_json(ctx, cl, tgt, deadline, rid, code, **fields)
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    same(got_out, out, "stdout")
    same(got_err, err, "stderr")
    if v == "error":
        if done.get("ok") is not False or not isinstance(done.get("error"), dict):
            raise Wrong("done should fail with %s: %s" % (typ, short(done)))
        e = done["error"]
        same(e.get("type"), typ, "error.type")
        same(e.get("message"), msg, "error.message")
        ctx.expect.tb(norm_tb(e.get("traceback") or "", fname), tb, "error.traceback")
    else:
        done_ok(done)
        if v == "exit0":
            same(done.get("exit_code"), 0, "exit_code")
        elif "exit_code" in done or "value" in done:
            raise Wrong("unexpected fields in done: %s" % short(done))
    return v


EVALS = ["tuple", "bigint", "dict", "str", "nan", "list", "error", "none"]


def k_json_eval(ctx, cl, n, rng, tgt, deadline, meta):
    tok = token(ctx, n)
    v = rng.choice(EVALS)
    meta["variant"] = v
    rid = make_id(n, rng)
    fname = "soak-%d.py" % n if rng.random() < 0.5 else None
    if v == "tuple":
        expr = "(%d * 3, %r, None, True, 1.5)" % (n, tok)
    elif v == "bigint":
        expr = "2 ** 70 + %d" % n
    elif v == "dict":
        expr = "{%r: [%d, 'é€', -%d], 'k': {'n': None}}" % (tok, n, n)
    elif v == "str":
        expr = "%r * 3" % (tok + "😀")
    elif v == "nan":
        expr = "[float('nan'), %r]" % tok
    elif v == "list":
        expr = "[%d, %r] + [i * i for i in range(5)]" % (n, tok)
    elif v == "none":
        expr = "None if %r else 1" % tok
    else:
        expr = "%r + %d" % (tok, n)
    fields = {"op": "eval"}
    if fname:
        fields["file"] = fname
    try:
        done, out, err = exec_json(ctx, cl, tgt, deadline, rid, expr, **fields)
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    same(out, "", "stdout")
    same(err, "", "stderr")
    if v == "error":
        typ, msg, tb = ctx.expect.error(expr, expr, fname, "eval")
        if done.get("ok") is not False:
            raise Wrong("eval should fail: %s" % short(done))
        e = done.get("error") or {}
        same(e.get("type"), typ, "error.type")
        same(e.get("message"), msg, "error.message")
        ctx.expect.tb(norm_tb(e.get("traceback") or "", fname), tb, "error.traceback")
        return v
    value = eval(expr, {"__builtins__": builtins})  # our own expression
    done_ok(done)
    same(done.get("value"), repr(value), "value")
    if is_json(value):
        if "json" not in done:
            raise Wrong("eval done lacks json: %s" % short(done))
        same(done["json"], json.loads(json.dumps(value)), "json")
    elif "json" in done:
        raise Wrong("eval done has json for a non-JSON value: %s" % short(done))
    return v


def k_json_state(ctx, cl, n, rng, tgt, deadline, meta):
    """Names persist in the worker's __main__ (python:3 has one worker)."""
    tgt = TARGETS[0]
    tok = token(ctx, n)
    name = "soak_state_%d" % n
    try:
        done, out, err = exec_json(ctx, cl, tgt, deadline, "%d.set" % n,
                                   "%s = %r\n" % (name, tok))
        done_ok(done, "exec")
        done, out, err = exec_json(ctx, cl, tgt, deadline, "%d.get" % n, name,
                                   op="eval")
        done_ok(done, "eval")
        same(done.get("value"), repr(tok), "value of %s" % name)
        same(done.get("json"), tok, "json of %s" % name)
        done, out, err = exec_json(ctx, cl, tgt, deadline, "%d.del" % n,
                                   "del %s\nprint(%r in globals())\n" % (name, name))
        done_ok(done, "exec")
        same(out, "False\n", "stdout")
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    return "set_get_del"


def big_text(tok, nlines):
    return "".join("%s %07d\n" % (tok, k) for k in range(nlines))


def big_code(tok, nlines, stream, chunk):
    return ("import sys\nT = %r\nfor i in range(0, %d, %d):\n"
            "    sys.%s.write(''.join('%%s %%07d\\n' %% (T, k)\n"
            "                         for k in range(i, min(i + %d, %d))))\n"
            % (tok, nlines, chunk, stream, chunk, nlines))


def k_big(ctx, cl, n, rng, tgt, deadline, meta):
    tok = token(ctx, n)
    size = rng.randint(1 << 20, 4 << 20)
    nlines = size // (len(tok) + 9)
    stream = "stdout" if rng.random() < 0.75 else "stderr"
    chunk = rng.choice([1000, 20000, nlines])
    code = big_code(tok, nlines, stream, chunk)
    text = big_text(tok, nlines)
    if rng.random() < 0.5:
        tcp = rng.random() < 0.3
        reply = raw_request(ctx, tgt.header(rng), code.encode(), tcp, deadline)
        same(reply, ("OUTPUT: \n" if stream == "stdout" else "ERRORS: \n") + text, "raw reply")
        return "raw_%s%s" % (stream, "/tcp" if tcp else "")
    rid = make_id(n, rng)
    try:
        done, out, err = exec_json(ctx, cl, tgt, deadline, rid, code)
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    done_ok(done)
    same(out, text if stream == "stdout" else "", "stdout")
    same(err, text if stream == "stderr" else "", "stderr")
    return "json_%s" % stream


def k_vanish(ctx, cl, n, rng, tgt, deadline, meta):
    """A client that goes away. Nothing is owed to it; what it did read must
    be a correct beginning of its answer."""
    tok = token(ctx, n)
    v = rng.choice(["nothing", "mid_header", "mid_payload", "after_shut", "mid_reply",
                    "mid_reply_rst", "json_at_once", "json_mid_reply", "json_pipelined"])
    meta["variant"] = v
    tcp = rng.random() < 0.3
    link = Link(ctx, tcp)
    rst = rng.random() < 0.3
    try:
        if v == "nothing":
            pass
        elif v == "mid_header":
            h = (tgt.header(rng) + " mode=json\n").encode()
            link.send(h[:rng.randint(1, len(h) - 1)])
        elif v == "mid_payload":
            link.send(("%s\nprint(%r)\nimport time\n" % (tgt.header(rng), tok)).encode())
            time.sleep(rng.choice([0, 0.001, 0.01]))
        elif v == "after_shut":
            code = "import time\ntime.sleep(%s)\nprint(%r)\n" % (rng.choice(["0", "0.01",
                                                                           "0.05"]), tok)
            link.send(("%s\n%s" % (tgt.header(rng), code)).encode())
            link.shut()
            time.sleep(rng.choice([0, 0.002, 0.02]))
        elif v in ("mid_reply", "mid_reply_rst"):
            nlines = rng.randint(20000, 60000)
            link.send(("%s\n" % tgt.header(rng)).encode() +
                      big_code(tok, nlines, "stdout", 5000).encode())
            link.shut()
            got = link.read_to_eof(deadline, limit=rng.randint(1, 200000))
            want = ("OUTPUT: \n" + big_text(tok, nlines)).encode()
            if not got:
                raise Lost("EOF before any of the reply")
            if not want.startswith(got):
                raise Wrong("start of the reply is not the answer's: %r" % got[:200])
            rst = v == "mid_reply_rst"
        elif v == "json_at_once":
            link.send(("%s mode=json\n" % tgt.header(rng)).encode() +
                      json.dumps({"id": n, "op": "exec", "code": "print(%r)" % tok}).encode()
                      + b"\n")
        elif v == "json_mid_reply":
            nlines = rng.randint(20000, 60000)
            link.send(("%s mode=json\n" % tgt.header(rng)).encode() +
                      json.dumps({"id": n, "op": "exec",
                                  "code": big_code(tok, nlines, "stdout", 2000)}).encode() +
                      b"\n")
            ev = link.event(deadline)
            while ev["event"] == "waiting":
                ev = link.event(deadline)
            if ev.get("id") != n or ev["event"] != "stdout" or \
                    not big_text(tok, nlines).startswith(ev.get("data") or "-"):
                raise Wrong("first event is not the answer's: %s" % short(ev))
        else:
            body = b"".join(json.dumps({"id": "%d.%d" % (n, i), "op": "exec",
                                        "code": "print(%r, %d)" % (tok, i)}).encode() + b"\n"
                            for i in range(rng.randint(2, 8)))
            link.send(("%s mode=json\n" % tgt.header(rng)).encode() + body)
            if rng.random() < 0.5:
                link.shut()
    finally:
        link.close(rst)
    return v + ("/rst" if rst and v != "mid_reply_rst" else "") + ("/tcp" if tcp else "")


BAD_LINES = [  # (line, id in the done: None, or True for the request's id)
    (b'{"id":1,"op":', None), (b"not json", None), (b"[1,2,3]", None), (b"null", None),
    (b'{"op":"exec","code":"print(1)"}', None), (b'\xff\xfe{"id":1}', None),
    (b'{"id":1,"id":2,"op":"ping"}', None), (b'{"id":1,"op":"ping"}x', None),
    (b'{"id":ID,"op":"bogus"}', True), (b'{"id":ID,"op":"exec","code":5}', True),
    (b'{"id":ID,"op":"exec"}', True), (b'{"id":ID,"op":"eval","code":null}', True),
    (b'{"id":ID,"op":"exec","code":"print(1)","ns":"other"}', True),
    (b'{"id":ID,"op":"exec","code":"print(1)","timeout":-1}', True),
    (b'{"id":ID,"op":"exec","code":"print(1)","timeout":"1"}', True),
    (b'{"id":ID,"op":"exec","code":"print(1)","file":7}', True),
    (b'{"id":ID,"op":7}', True)]

BAD_HEADERS = [  # (header, error type, JSON framing?)
    ("%s bogus=1", "BadHeader", False), ("nosuchdcc:1", "UnknownTarget", False),
    ("%s ns=weird", "BadHeader", False), ("hotload", "BadHeader", False),
    ("python:99", "NotInstalled", False), ("%s mode=json timeout=abc", "BadHeader", True),
    ("%s\tmode=json", "BadHeader", True), ("%s mode=yaml", "BadHeader", False),
    ("%s timeout=0", "BadHeader", False), (":3", "BadHeader", False),
    ("%s mode=json file=", "BadHeader", True), ("nosuchdcc mode=json", "UnknownTarget", True),
    ("%s\x01", "BadHeader", False)]


def refusal(reply, typ, framing_json, what):
    """A connection refused with typ, in the right framing, then closed."""
    if framing_json:
        lines = reply.split("\n")
        if len(lines) != 2 or lines[1]:
            raise Wrong("%s: one error line expected: %r" % (what, reply[:300]))
        ev = json.loads(lines[0])
        if ev.get("event") != "error" or (ev.get("error") or {}).get("type") != typ or \
                not isinstance(ev["error"].get("message"), str):
            raise Wrong("%s: expected an error event %s: %r" % (what, typ, reply[:300]))
    elif not (reply.startswith("ERRORS: \n%s: " % typ) and reply.endswith("\n")):
        raise Wrong("%s: expected ERRORS: %s: ...: %r" % (what, typ, reply[:300]))


def k_malformed(ctx, cl, n, rng, tgt, deadline, meta):
    tok = token(ctx, n)
    r = rng.random()
    if r < 0.4:
        line, rid = rng.choice(BAD_LINES)
        want_id = None
        if rid:
            want_id = make_id(n, rng)
            line = line.replace(b"ID", json.dumps(want_id).encode())
        link = cl.json(tgt)
        try:
            link.send(line + b"\n")
            ev = link.event(deadline)
            if ev.get("event") != "done" or ev.get("ok") is not False or \
                    (ev.get("error") or {}).get("type") != "BadRequest" or \
                    not (ev.get("error") or {}).get("message"):
                raise Wrong("bad line %r: expected a BadRequest done: %s" % (line[:100], short(ev)))
            same(ev.get("id"), want_id, "id of the BadRequest done")
            # the connection goes on
            done, out, err = exec_json(ctx, cl, tgt, deadline, "%d.after" % n,
                                       "print(%r)" % tok)
            done_ok(done)
            same(out, tok + "\n", "stdout after the bad line")
            same(err, "", "stderr after the bad line")
        except (Wrong, Lost):
            cl.drop(tgt)
            raise
        return "bad_json"
    if r < 0.7:
        hdr, typ, js = rng.choice(BAD_HEADERS)
        if "%s" in hdr:
            hdr = hdr % tgt.header(rng)
        tcp = rng.random() < 0.3
        payload = rng.choice([b"", ("print(%r)\n" % tok).encode(),
                              b'{"id":1,"op":"exec","code":"print(1)"}\n'])
        reply = raw_request(ctx, hdr, payload, tcp, deadline)
        refusal(reply, typ, js, "header %r" % hdr)
        return "bad_header_" + typ
    if r < 0.85:
        js = rng.random() < 0.5
        hdr = tgt.header(rng) + (" mode=json" if js else "") + " " * rng.randint(1100, 3000)
        end = rng.choice([b"\n", b""])
        link = Link(ctx, rng.random() < 0.3)
        try:
            try:
                link.s.sendall(hdr.encode() + end + (("print(%r)\n" % tok).encode()
                                                     if end else b""))
                link.shut()
            except (OSError, Lost):
                pass  # refused before all of it was read
            reply = utf8(link.read_to_eof(deadline))
        finally:
            link.close()
        if not reply:
            raise Lost("no answer to an over-long header")
        refusal(reply, "BadHeader", js, "long header")
        return "long_header"
    js = rng.random() < 0.5
    link = Link(ctx, False)
    try:
        if js:
            data = ("%s mode=json\n" % tgt.header(rng)).encode() + \
                json.dumps({"id": n, "op": "exec", "code": "#" * (MAX_PAYLOAD + 100)}).encode() + \
                b"\n"
        else:
            data = ("%s\n" % tgt.header(rng)).encode() + b"#" * (MAX_PAYLOAD + 100) + b"\n"
        try:
            link.s.sendall(data)
            link.shut()
        except (OSError, Lost):
            pass  # refused before all of it was read
        reply = utf8(link.read_to_eof(deadline))
    finally:
        link.close()
    if not reply:
        raise Lost("no answer to an over-long %s" % ("line" if js else "payload"))
    refusal(reply, "PayloadTooLarge", js, "over-long request")
    return "long_json_line" if js else "long_raw_payload"


def k_interrupt(ctx, cl, n, rng, tgt, deadline, meta):
    """exec a sleep, interrupt it: interrupted 1, done KeyboardInterrupt.
    "wait": after its first output (it runs); "at_once": right behind it."""
    tok = token(ctx, n)
    v = rng.choice(["wait", "at_once"])
    meta["variant"] = v
    rid = make_id(n, rng)
    iid = "%d.int" % n
    fname = "soak-%d.py" % n
    code = "import time\nprint(%r, flush=True)\ntime.sleep(%d)\nprint('not reached')\n" % (
        tok + " start", INTERRUPT_SLEEP)
    intr = {"id": iid, "op": "interrupt"}
    if rng.random() < 0.7:
        intr["request"] = rid
    intr_line = (json.dumps(intr) + "\n").encode()
    link = cl.json(tgt)
    req = (json.dumps({"id": rid, "op": "exec", "code": code, "file": fname}) + "\n").encode()
    sent = [0.0]
    seen = []

    def on_event(ev):
        if v != "wait" or sent[0] or key(ev["id"]) != key(rid):
            return
        if ev["event"] == "stdout":
            # print() writes the text and its newline apart: wait for both,
            # else the interrupt may rightly cut the line
            seen.append(ev["data"])
            if "".join(seen) == tok + " start\n":
                link.send(intr_line)
                sent[0] = time.monotonic()
        elif ev["event"] == "done":
            raise Wrong("the request ended before its first output: %s" % short(ev))

    try:
        if v == "at_once":
            if rng.random() < 0.5:
                link.send(req + intr_line)
            else:
                link.send(req)
                time.sleep(rng.choice([0, 0.0005, 0.002]))
                link.send(intr_line)
            sent[0] = time.monotonic()
        else:
            link.send(req)
        # "wait" sends the interrupt from on_event, once the code printed
        res = collect(link, [rid, iid], deadline, on_event)
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    idone = res[key(iid)][0]
    done, out, err = res[key(rid)]
    if idone.get("ok") is not True or idone.get("interrupted") != 1:
        raise Wrong("interrupt answered %s" % short(idone))
    e = done.get("error") if isinstance(done.get("error"), dict) else {}
    if done.get("ok") is not False or e.get("type") != "KeyboardInterrupt":
        raise Wrong("interrupt acknowledged (interrupted: 1) but the request was not "
                    "interrupted (%s, %.2f s after the interrupt): %s" %
                    (v, time.monotonic() - sent[0], short(done)))
    same(err, "", "stderr")
    if e.get("message") == "interrupted before it ran":
        same(out, "", "stdout of a request interrupted before it ran")
        if e.get("traceback") not in (None, ""):
            raise Wrong("traceback for a request that did not run: %s" % short(done))
        return v + "/queued"
    tb = e.get("traceback") or ""
    if v == "wait":
        # it printed its line: the interrupt finds it in the sleep, or still
        # in print() (flushing after the newline went out)
        same(out, tok + " start\n", "stdout")
        if not ki_tb_re(fname, (2, "print(%r, flush=True)" % (tok + " start")),
                        (3, "time.sleep(%d)" % INTERRUPT_SLEEP)).match(tb):
            raise Wrong("KeyboardInterrupt traceback: %r" % tb)
        return v + "/running"
    # at once: anywhere from before the code's first line (the traceback then
    # has no frame of it) to the sleep; print() writes its text and its
    # newline apart
    if out not in ("", tok + " start", tok + " start\n"):
        same(out, tok + " start\n", "stdout")
    if tb == "KeyboardInterrupt\n":
        return v + "/before_code"
    if not tb.endswith("KeyboardInterrupt\n") or ('File "%s"' % fname) not in tb:
        raise Wrong("KeyboardInterrupt traceback: %r" % tb)
    return v + "/running"


def k_timeout(ctx, cl, n, rng, tgt, deadline, meta):
    """timeout 0.5 on a sleep: Timeout (interrupted with KeyboardInterrupt);
    then the target answers again (JSON: on the same connection)."""
    tok = token(ctx, n)
    fname = "soak-%d.py" % n if rng.random() < 0.7 else None
    code = "import time\nprint(%r, flush=True)\ntime.sleep(10)\n" % tok
    tbre = ki_tb_re(fname, (3, "time.sleep(10)"))
    t0 = time.monotonic()
    if rng.random() < 0.3:
        hdr = tgt.header(rng) + " timeout=0.5" + (" file=" + fname if fname else "")
        reply = raw_request(ctx, hdr, code.encode(), rng.random() < 0.3, deadline)
        head = "OUTPUT: \n%s\nERRORS: \n" % tok
        tail = "Timeout: %s\n" % TIMEOUT_MSG
        if not (reply.startswith(head) and reply.endswith(tail) and
                tbre.match(reply[len(head):len(reply) - len(tail)])):
            raise Wrong("raw timeout reply: %r" % reply[:600])
        if time.monotonic() - t0 < TIMEOUT * 0.8:
            raise Wrong("raw timeout reply after %.3f s" % (time.monotonic() - t0))
        tok2 = tok + "_after"
        reply = raw_request(ctx, tgt.header(rng), ("print(%r)" % tok2).encode(), False, deadline)
        same(reply, "OUTPUT: \n%s\n" % tok2, "raw reply after the timeout")
        return "raw"
    rid = make_id(n, rng)
    fields = {"timeout": TIMEOUT}
    if fname:
        fields["file"] = fname
    try:
        done, out, err = exec_json(ctx, cl, tgt, deadline, rid, code, **fields)
        dt = time.monotonic() - t0
        e = done.get("error") if isinstance(done.get("error"), dict) else {}
        if done.get("ok") is not False or e.get("type") != "Timeout":
            raise Wrong("expected a Timeout: %s" % short(done))
        same(e.get("message"), TIMEOUT_MSG, "Timeout message")
        same(e.get("timeout"), TIMEOUT, "error.timeout")
        if not tbre.match(e.get("traceback") or ""):
            raise Wrong("Timeout traceback: %r" % e.get("traceback"))
        same(out, tok + "\n", "stdout")
        same(err, "", "stderr")
        dur = done.get("duration_ms")
        if not isinstance(dur, (int, float)) or dt < TIMEOUT * 0.8 or dur < TIMEOUT * 800:
            raise Wrong("Timeout after %.3f s, duration_ms %s" % (dt, dur))
        if dur < TIMEOUT * 1000:
            ctx.note_early(n, tgt, dur)
        tok2 = tok + "_after"
        done, out, err = exec_json(ctx, cl, tgt, deadline, "%d.after" % n,
                                   "print(%r)" % tok2)
        done_ok(done, "the request after the timeout")
        same(out, tok2 + "\n", "stdout after the timeout")
    except (Wrong, Lost):
        cl.drop(tgt)
        raise
    return "json"


KINDS = {"raw": k_raw, "json_exec": k_json_exec, "json_eval": k_json_eval,
         "json_state": k_json_state, "big": k_big, "vanish": k_vanish,
         "malformed": k_malformed, "interrupt": k_interrupt, "timeout": k_timeout}


def plan(ctx, n):
    """Request n's kind, target and random source: the same for every run
    with the same seed (and --only)."""
    rng = random.Random("%d:%d" % (ctx.args.seed, n))
    kinds = ctx.kinds
    kind = rng.choices([k for k, _ in kinds], [w for _, w in kinds])[0]
    tgt = TARGETS[0] if kind == "json_state" else (TARGETS[0] if rng.random() < 0.4
                                                    else TARGETS[1])
    return kind, tgt, rng


# --------------------------------------------------------------------------
# the run


class Context:
    def __init__(self, args, daemon):
        self.args = args
        self.daemon = daemon
        self.expect = Expect(True)
        self.lock = threading.Lock()
        self.todo = iter(args.numbers)
        self.abort = None
        self.counts = collections.defaultdict(collections.Counter)  # kind -> outcome
        self.variants = collections.defaultdict(collections.Counter)  # kind -> variant
        self.targets = collections.Counter()
        self.lat = collections.defaultdict(list)
        self.failures = []  # (n, kind, target, outcome, detail)
        self.done = 0
        self.rss = []
        self.early = []
        only = set(args.only or WEIGHTS)
        self.kinds = [(k, w) for k, w in WEIGHTS.items() if k in only]

    def note_early(self, n, tgt, dur):
        """A Timeout whose duration_ms is under the timeout (not a failure
        unless under 80% of it, but reported)."""
        with self.lock:
            self.early.append({"n": n, "target": tgt.name, "duration_ms": dur})

    def next(self):
        with self.lock:
            if self.abort:
                return None
            return next(self.todo, None)

    def record(self, n, kind, tgt, variant, outcome, detail, dt):
        with self.lock:
            self.done += 1
            self.counts[kind][outcome] += 1
            self.variants[kind][variant] += 1
            self.targets[tgt.name] += 1
            self.lat[kind].append(dt)
            if outcome != "ok":
                self.failures.append({"n": n, "kind": kind, "target": tgt.name,
                                      "variant": variant, "outcome": outcome,
                                      "detail": detail})
                if self.args.stop_on_failure:
                    self.abort = self.abort or "stopped at the first failure (request %d)" % n


def client_thread(ctx, index):
    cl = Client(ctx, index)
    try:
        while True:
            n = ctx.next()
            if n is None:
                return
            kind, tgt, rng = plan(ctx, n)
            t0 = time.monotonic()
            deadline = t0 + ctx.args.request_timeout
            meta = {}
            outcome, detail = "ok", None
            try:
                variant = KINDS[kind](ctx, cl, n, rng, tgt, deadline, meta)
            except Wrong as e:
                outcome, detail = "wrong", str(e)
            except Lost as e:
                outcome, detail = "lost", str(e)
            except Exception as e:  # a bug of this script: show it, count it
                outcome, detail = "error", "".join(traceback.format_exception(
                    type(e), e, e.__traceback__))[-3000:]
            if outcome in ("lost", "error") and not ctx.daemon.alive():
                with ctx.lock:
                    ctx.abort = ctx.abort or "the daemon died"
            if outcome != "ok":
                variant = meta.get("variant", "?")
            ctx.record(n, kind, tgt, variant, outcome, detail, time.monotonic() - t0)
    finally:
        cl.close()


def monitor(ctx, stop):
    last = time.monotonic()
    t0 = last
    while not stop.wait(0.5):
        rss = ctx.daemon.rss_kb()
        if rss:
            ctx.rss.append(rss)
        if not ctx.daemon.alive():
            with ctx.lock:
                ctx.abort = ctx.abort or "the daemon died (exit status %s)" % \
                    ctx.daemon.proc.returncode
        if not ctx.args.quiet and time.monotonic() - last >= 5:
            last = time.monotonic()
            with ctx.lock:
                bad = sum(c[o] for c in ctx.counts.values() for o in c if o != "ok")
                done = ctx.done
            sys.stderr.write("soak: %d/%d requests, %.0f/s, %d failed, RSS %s kB\n" %
                             (done, len(ctx.args.numbers), done / (last - t0), bad, rss))


def control(ctx, op, timeout=30, **fields):
    link = Link(ctx)
    try:
        link.send(b"hotload mode=json\n" + json.dumps(dict(fields, id=1, op=op)).encode() +
                  b"\n")
        link.shut()
        ev = link.event(time.monotonic() + timeout)
    finally:
        link.close()
    return ev


def warm_up(ctx):
    """Start a worker of each target; their Python versions decide whether
    tracebacks are compared exactly."""
    versions = {}
    cl = Client(ctx, -1)
    try:
        for tgt in TARGETS:
            done, _, _ = exec_json(ctx, cl, tgt, time.monotonic() + 120, "warm",
                                   "__import__('sys').version", op="eval")
            done_ok(done, "warm-up eval on %s" % tgt.name)
            versions[tgt.name] = done.get("json")
    finally:
        cl.close()
    ctx.expect.exact = all(v == sys.version for v in versions.values())
    return versions


def settle(ctx, timeout):
    """Wait until the daemon holds only our status connection and every
    target is ok, idle, with nothing queued. Problems, as a list."""
    end = time.monotonic() + timeout
    problems = []
    while True:
        try:
            st = control(ctx, "status")["status"]
        except (Lost, Wrong, KeyError, TypeError) as e:
            return ["status request failed: %s" % e], None
        problems = []
        if st["daemon"]["connections"] > 1:
            problems.append("the daemon still holds %d client connections" %
                            (st["daemon"]["connections"] - 1))
        for t in st["targets"]:
            if t["state"] != "ok" or t["queue"] or \
                    any(w["state"] != "idle" for w in t["workers"]):
                problems.append("%s: state %s, queue %d, workers %s" % (
                    t["target"], t["state"], t["queue"],
                    [(w["id"], w["state"]) for w in t["workers"]]))
        if not problems or time.monotonic() > end:
            return problems, st
        time.sleep(0.2)


def final_checks(ctx, before):
    """After the clients: settled, no restarts, answers on both targets."""
    problems, st = settle(ctx, 30 if not ctx.args.valgrind else 90)
    workers = {}
    if st:
        for t in st["targets"]:
            workers[t["target"]] = [w["id"] for w in t["workers"]]
            if t["restarts"]:
                problems.append("%s: %d worker restart(s), last exit: %s" % (
                    t["target"], t["restarts"], t["last_exit"]))
    cl = Client(ctx, -2)
    try:
        for tgt in TARGETS:
            tok = "final_%s" % tgt.name
            try:
                reply = raw_request(ctx, tgt.headers[0], ("print(%r)" % tok).encode(), False,
                                    time.monotonic() + 60)
                same(reply, "OUTPUT: \n%s\n" % tok, "final raw request on %s" % tgt.name)
                done, out, _ = exec_json(ctx, cl, tgt, time.monotonic() + 60, "final",
                                         "print(%r)" % tok)
                done_ok(done)
                same(out, tok + "\n", "final JSON request on %s" % tgt.name)
            except (Wrong, Lost) as e:
                problems.append("final request on %s: %s" % (tgt.name, e))
    finally:
        cl.close()
    return problems, {"before": before, "after": workers}


def worker_ids(ctx):
    st = control(ctx, "status")["status"]
    return {t["target"]: [w["id"] for w in t["workers"]] for t in st["targets"]}


def percentile(xs, p):
    if not xs:
        return 0.0
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(p / 100.0 * len(xs))) - 1)]


def parse_numbers(s):
    out = []
    for part in s.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotloadd", required=True, help="the built daemon (in its build tree)")
    ap.add_argument("--clients", type=int, default=50, help="concurrent clients (default 50)")
    ap.add_argument("--requests", type=int, default=20000,
                    help="requests in total (default 20000)")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--valgrind", action="store_true",
                    help="run the daemon under valgrind --error-exitcode=99 --leak-check=full "
                    "(use a build without sanitizers)")
    ap.add_argument("--json-report", metavar="FILE", help="write the figures as JSON to FILE")
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="comma-separated kinds: " + ",".join(WEIGHTS))
    ap.add_argument("--replay", metavar="N,N-M", type=parse_numbers, default=None,
                    help="run only these request numbers (same content as in a full run)")
    ap.add_argument("--request-timeout", type=float, default=None,
                    help="seconds an answer may take (default 60, 300 with --valgrind)")
    ap.add_argument("--log-level", default="info", help="the daemon's log_level (info)")
    ap.add_argument("--stop-on-failure", action="store_true",
                    help="stop taking requests after the first wrong or lost answer")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args()
    if args.only and set(args.only) - set(WEIGHTS):
        ap.error("unknown kind(s): %s" % ",".join(sorted(set(args.only) - set(WEIGHTS))))
    if not os.access(args.hotloadd, os.X_OK):
        ap.error("--hotloadd %s: not an executable" % args.hotloadd)
    if args.clients < 1 or args.requests < 1:
        ap.error("--clients and --requests must be at least 1")
    if args.valgrind:
        if not shutil.which("valgrind"):
            ap.error("--valgrind: valgrind is not installed")
        ldd = subprocess.run(["ldd", args.hotloadd], capture_output=True, text=True).stdout
        if "libasan" in ldd or "libubsan" in ldd:
            ap.error("--valgrind needs a build without sanitizers (%s links %s)" % (
                args.hotloadd, "libasan" if "libasan" in ldd else "libubsan"))
    if args.request_timeout is None:
        args.request_timeout = 300.0 if args.valgrind else 60.0
    args.numbers = args.replay or list(range(1, args.requests + 1))
    if args.clients > 60 and not args.only:
        sys.stderr.write("soak: note: more than 60 clients can fill python:3's queue "
                         "(max_queue 64): QueueFull would count as wrong answers\n")

    daemon = Daemon(args)
    ctx = Context(args, daemon)
    rng = random.Random(args.seed)
    if not daemon.start(rng):
        sys.stderr.write("soak: hotloadd did not start; its stderr:\n%s\n" %
                         daemon.stderr().decode("utf-8", "replace")[-4000:])
        daemon.stop(10)
        sys.stderr.write("soak: kept %s\n" % daemon.dir)
        return 2

    report = {"seed": args.seed, "clients": args.clients, "requests": len(args.numbers),
              "valgrind": args.valgrind, "hotloadd": daemon.hotloadd}
    problems = []
    stop = threading.Event()
    try:
        try:
            report["python"] = warm_up(ctx)
            before = worker_ids(ctx)
        except (Wrong, Lost, KeyError, TypeError) as e:
            sys.stderr.write("soak: warm-up failed: %s\n" % e)
            problems.append("warm-up failed: %s" % e)
            raise
        report["tracebacks_exact"] = ctx.expect.exact
        rss_start = daemon.rss_kb()
        mon = threading.Thread(target=monitor, args=(ctx, stop), daemon=True)
        mon.start()
        t0 = time.monotonic()
        threads = [threading.Thread(target=client_thread, args=(ctx, i), daemon=True)
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - t0
        stop.set()
        mon.join()
        if ctx.abort:
            problems.append(ctx.abort)
        rss_peak = max(ctx.rss + [rss_start or 0])
        if daemon.alive():
            more, workers = final_checks(ctx, before)
            problems += more
            report["workers"] = workers
        rss_end = daemon.rss_kb()
        report.update({"elapsed_s": round(elapsed, 2),
                       "requests_per_s": round(ctx.done / elapsed, 1) if elapsed else 0,
                       "rss_kb": {"start": rss_start, "peak": rss_peak, "end": rss_end}})
    except (Wrong, Lost, KeyError, TypeError):
        pass
    finally:
        stop.set()
        alive_before_stop = daemon.alive()
        status = daemon.stop(120 if args.valgrind else 30)
    if not alive_before_stop:
        problems = [p for p in problems if not p.startswith("the daemon died")]
        problems.append("the daemon died during the run (exit status %s)" %
                        daemon.proc.returncode)
    elif args.valgrind:
        summary, others = daemon.valgrind_summary()
        report["valgrind_error_summary"] = summary
        report["valgrind_exit_status"] = status
        if status != 0:
            problems.append("valgrind/hotloadd exited with status %s on SIGTERM" % status)
        if summary is None or not summary.startswith("ERROR SUMMARY: 0 errors"):
            problems.append("valgrind: %s" % summary)
        if others:
            problems.append("valgrind reports errors in forked children: %s" % others)
    elif status != 0:
        problems.append("hotloadd exited with status %s on SIGTERM" % status)
    report["daemon_exit_status"] = status
    san = daemon.sanitizer_report()
    if san:
        problems.append("sanitizer report in the daemon's stderr:\n" + san)

    lost = sum(c["lost"] for c in ctx.counts.values())
    wrong = sum(c["wrong"] for c in ctx.counts.values())
    errors = sum(c["error"] for c in ctx.counts.values())
    if lost:
        problems.append("%d lost answer(s)" % lost)
    if wrong:
        problems.append("%d wrong answer(s)" % wrong)
    if errors:
        problems.append("%d request(s) hit an error in soak.py itself" % errors)
    if ctx.done < len(args.numbers):
        problems.append("only %d of %d requests were run" % (ctx.done, len(args.numbers)))
    report.update({
        "done": ctx.done, "lost": lost, "wrong": wrong, "script_errors": errors,
        "kinds": {k: dict(ctx.counts[k], variants=dict(ctx.variants[k]),
                          p50_ms=round(percentile(ctx.lat[k], 50) * 1000, 2),
                          p99_ms=round(percentile(ctx.lat[k], 99) * 1000, 2),
                          max_ms=round(max(ctx.lat[k] or [0]) * 1000, 2))
                  for k in WEIGHTS if ctx.counts[k]},
        "targets": dict(ctx.targets), "failures": ctx.failures[:200],
        "early_timeouts": ctx.early,
        "problems": problems, "passed": not problems, "tmpdir": daemon.dir})
    print_report(report, ctx)
    if args.json_report:
        with open(args.json_report, "w") as f:
            json.dump(report, f, indent=2, ensure_ascii=False)
            f.write("\n")
    if problems or args.keep:
        sys.stdout.write("soak: kept %s (hotloadd.err: the daemon's stderr)\n" % daemon.dir)
    else:
        shutil.rmtree(daemon.dir, ignore_errors=True)
    return 1 if problems else 0


def print_report(r, ctx):
    w = sys.stdout.write
    w("soak: hotloadd %s%s, seed %d, %d clients, %d requests\n" % (
        r["hotloadd"], " under valgrind" if r["valgrind"] else "", r["seed"], r["clients"],
        r["requests"]))
    if "python" in r:
        w("soak: workers run Python %s; tracebacks compared %s\n" % (
            "; ".join("%s %s" % (k, v.split()[0]) for k, v in r["python"].items()),
            "exactly" if r.get("tracebacks_exact") else "by shape (another Python version)"))
    if "elapsed_s" in r:
        w("soak: %d requests in %.1f s: %.1f requests/s\n" % (r["done"], r["elapsed_s"],
                                                             r["requests_per_s"]))
        rss = r["rss_kb"]
        w("soak: daemon VmRSS start %s kB, peak %s kB, end %s kB\n" % (
            rss["start"], rss["peak"], rss["end"]))
    w("soak: lost answers %d, wrong answers %d\n" % (r["lost"], r["wrong"]))
    w("%-11s %7s %6s %6s %8s %9s %9s  variants\n" % ("kind", "count", "lost", "wrong",
                                                     "p50 ms", "p99 ms", "max ms"))
    for k, c in r["kinds"].items():
        n = sum(v for x, v in c.items() if x in ("ok", "lost", "wrong", "error"))
        w("%-11s %7d %6d %6d %8.1f %9.1f %9.1f  %s\n" % (
            k, n, c.get("lost", 0), c.get("wrong", 0), c["p50_ms"], c["p99_ms"], c["max_ms"],
            " ".join("%s:%d" % kv for kv in sorted(c["variants"].items()))))
    w("targets: %s\n" % " ".join("%s:%d" % kv for kv in sorted(r["targets"].items())))
    if "workers" in r:
        w("worker ids before/after: %s / %s\n" % (r["workers"]["before"],
                                                  r["workers"]["after"]))
    if r["early_timeouts"]:
        e = r["early_timeouts"]
        w("note: %d of %d JSON timeouts answered with duration_ms under %d "
          "(lowest %.1f, request %d)\n" % (
              len(e), r["kinds"].get("timeout", {}).get("variants", {}).get("json", 0),
              TIMEOUT * 1000, min(x["duration_ms"] for x in e),
              min(e, key=lambda x: x["duration_ms"])["n"]))
    if r.get("valgrind_error_summary"):
        w("valgrind: %s\n" % r["valgrind_error_summary"])
    for f in r["failures"][:25]:
        w("FAIL request %d (%s/%s on %s): %s: %s\n" % (f["n"], f["kind"], f["variant"],
                                                      f["target"], f["outcome"], f["detail"]))
    if len(r["failures"]) > 25:
        w("... and %d more failures\n" % (len(r["failures"]) - 25))
    for p in r["problems"]:
        w("PROBLEM: %s\n" % p)
    w("soak: %s\n" % ("PASSED" if r["passed"] else "FAILED"))
    sys.stdout.flush()


if __name__ == "__main__":
    sys.exit(main())
