#!/usr/bin/env python3
"""Robustness fuzzer for hotloadd: bad and odd client input, seeded.

Starts the given hotloadd on a temporary socket, configuration, hook
directory (one target, fz:3, served by this machine's real python3) and
compat port, then throws batches of generated cases at it. A case is a small
"script" of socket actions (connect, send, half-close, read, close, reset,
...), so any case can be replayed alone and printed as a stand-alone Python
reproducer. The generators cover header garbage and the header limits, EOF
at every offset of a valid header, JSON request lines that are garbage or
have odd ids and deep nesting, pipelined requests followed by an abrupt
close, clients closing before their done, interrupts, control ops with bad
arguments, raw mode (__SHUTDOWN__ variants, invalid UTF-8), compat port
garbage and more connections than limits.max_connections.

Every reply is checked as it arrives: valid UTF-8, the framing the protocol
promises (JSON lines, or OUTPUT:/ERRORS:/Script executed), one done per
request line, the close that ends a connection. After every batch the
daemon must still run, its stderr must hold no sanitizer report, and a
JSON-mode exec of print(1) must answer correctly. After a crash or a failed
health check the batch's cases are replayed, each alone on a fresh daemon
with a warm worker (the ones run just before the breakage first), to find
the culprit. Every batch runs each generator at least once; the default,
15 batches of 40 cases, takes about 30 s against an ASan+UBSan build on
two cores.

Exit status: 0 when everything passed; 1 when the daemon died, a sanitizer
reported, a health check failed or an anomaly was seen (a summary and the
culprit's reproducer go to stderr, and the temporary directory with the
daemon's stderr is kept); 2 when the daemon could not be started at all.

By hand, from the top of the repository (a sanitizer build is the point;
the agent is found by hotloadd next to it in the build tree):

    python3 tests/fuzz/fuzz.py --hotloadd build/bin/hotloadd
    python3 tests/fuzz/fuzz.py --hotloadd build/bin/hotloadd --seed 7 --batches 50
    python3 tests/fuzz/fuzz.py --hotloadd build/bin/hotloadd --only control,interrupts

ASAN_OPTIONS and UBSAN_OPTIONS are passed on to the daemon (halt_on_error=1
added when absent, so that a report ends it). Standard library only.
"""
import argparse
import json
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
import time

TARGET = "fz:3"
MAX_PAYLOAD = 1 << 20  # limits.max_payload in the generated configuration
MAX_CONN = 32  # limits.max_connections
HEADER_MAX = 1024  # the header line, its line end included
SAN_RE = re.compile(rb"^==\d+==ERROR: |^SUMMARY: \w+Sanitizer|: runtime error: ", re.M)
RAW_PREFIXES = (b"OUTPUT: \n", b"ERRORS: \n", b"Script executed (no output).")


# --------------------------------------------------------------------------
# the temporary setup and the daemon


class Setup:
    """The temporary directory: socket, configuration, hook dir, output."""

    def __init__(self, hotloadd):
        self.hotloadd = os.path.abspath(hotloadd)
        self.dir = tempfile.mkdtemp(prefix="hotload-fuzz.")
        self.sock = os.path.join(self.dir, "d.sock")
        self.config = os.path.join(self.dir, "hotloadd.yaml")
        self.out = os.path.join(self.dir, "out")
        os.mkdir(self.out)
        self.port = free_tcp_port()
        self.write_files()

    def write_files(self):
        """The configuration and the fz hook (the real interpreter, not a shim)."""
        hooks = os.path.join(self.dir, "hooks")
        os.mkdir(hooks)
        python = subprocess.check_output(
            ["python3", "-c", "import sys; print(sys.executable)"], text=True).strip()
        with open(os.path.join(hooks, "fz.yaml"), "w") as f:
            f.write("name: fz\naliases: [fuzzpy]\ndescription: the fuzzer's python3\n"
                    "hints:\n  linux:\n    - path: %s\n      version: \"3\"\n"
                    "max_workers: 2\nmax_queue: 16\nrequest_timeout: 5\n" % json.dumps(python))
        with open(self.config, "w") as f:
            f.write("listen:\n  unix: %s\n  tcp: \"\"\n" % json.dumps(self.sock) +
                    "hooks_dirs: [%s]\n" % json.dumps(hooks) +
                    "compat:\n  - port: %d\n    target: \"%s\"\n" % (self.port, TARGET) +
                    "    host: \"127.0.0.1\"\n    quiet: 0.25\n"
                    "limits:\n  max_payload: %d\n  max_connections: %d\n" % (MAX_PAYLOAD, MAX_CONN) +
                    "log_level: info\n")


def free_tcp_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sanitizer_env():
    """The environment for the daemon: the caller's sanitizer options, with
    halt_on_error=1 added where they do not say otherwise."""
    env = dict(os.environ)
    for var, default in (("ASAN_OPTIONS", "detect_leaks=1"),
                         ("UBSAN_OPTIONS", "print_stacktrace=1")):
        opts = env.get(var) or default
        if "halt_on_error=" not in opts:
            opts += ":halt_on_error=1"
        env[var] = opts
    return env


class Daemon:
    """One hotloadd child at a time; each run's stderr in its own file."""

    def __init__(self, setup):
        self.setup = setup
        self.proc = None
        self.runs = 0
        self.errpath = None

    def start(self):
        """Start a fresh daemon and wait for its socket."""
        self.runs += 1
        if os.path.exists(self.setup.sock):
            os.unlink(self.setup.sock)
        self.errpath = os.path.join(self.setup.out, "daemon-%d.err" % self.runs)
        with open(self.errpath, "wb") as err:
            self.proc = subprocess.Popen(
                [self.setup.hotloadd, "--config", self.setup.config],
                stdin=subprocess.DEVNULL, stdout=err, stderr=err, env=sanitizer_env())
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and self.alive():
            if os.path.exists(self.setup.sock):
                return
            time.sleep(0.02)

    def alive(self):
        """Is the daemon still running?"""
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        """Everything the current run wrote to stderr so far."""
        with open(self.errpath, "rb") as f:
            return f.read()

    def sanitizer_report(self):
        """The sanitizer report in the current run's stderr (from its first
        line to its stacks, without the shadow-byte dump), or None."""
        err = self.stderr()
        m = SAN_RE.search(err)
        if not m:
            return None
        start = err.rfind(b"\n", 0, m.start()) + 1
        end = err.find(b"Shadow bytes around", start)
        return err[start:end if end >= 0 else len(err)][:8000]

    def stop(self):
        """SIGTERM to our own child (by its pid); its exit status, or None if
        it had already ended."""
        if not self.alive():
            return None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


# --------------------------------------------------------------------------
# running cases
#
# A case is {"gen": name, "actions": [...], "expect": {...}}. Actions:
#   ("unix",) / ("tcp",)   a new connection (the socket / the compat port)
#   ("send", data)         ("sendchunks", data, n): in n pieces, with pauses
#   ("shut",)              half-close       ("sleep", seconds)
#   ("read", t)            until EOF; no EOF within t is a hang
#   ("readsome", t, n)     up to n bytes, whatever comes within t
#   ("drain",)             what is there now, without waiting
#   ("close",) / ("rst",)  close, or reset (SO_LINGER 0)
# Each connection is a segment with its own sent bytes, reply and notes.


def run_script(setup, case):
    """Run a case's actions; a list of segments {sent, reply, notes}."""
    segs, s = [], None
    for act in case["actions"]:
        op = act[0]
        try:
            if op in ("unix", "tcp"):
                if s is not None:
                    s.close()
                segs.append({"sent": b"", "reply": b"", "notes": [], "tcp": op == "tcp"})
                if op == "unix":
                    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                    s.settimeout(5)
                    s.connect(setup.sock)
                else:
                    s = socket.create_connection(("127.0.0.1", setup.port), timeout=5)
                continue
            seg = segs[-1]
            if op == "send":
                seg["sent"] += act[1]
                s.sendall(act[1])
            elif op == "sendchunks":
                data, step = act[1], max(1, len(act[1]) // act[2])
                for i in range(0, len(data), step):
                    seg["sent"] += data[i:i + step]
                    s.sendall(data[i:i + step])
                    time.sleep(0.002)
            elif op == "shut":
                s.shutdown(socket.SHUT_WR)
            elif op == "sleep":
                time.sleep(act[1])
            elif op == "read":
                deadline = time.monotonic() + act[1]
                while True:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        seg["notes"].append("timeout")
                        break
                    s.settimeout(left)
                    try:
                        d = s.recv(65536)
                    except ConnectionResetError:
                        # the daemon closed with bytes of ours unread: the
                        # end of the connection, like EOF
                        d = b""
                    if not d:
                        seg["notes"].append("eof")
                        break
                    seg["reply"] += d
            elif op == "readsome":
                s.settimeout(act[1])
                d = s.recv(act[2])
                seg["reply"] += d
                if not d:
                    seg["notes"].append("eof")
            elif op == "drain":
                s.setblocking(False)
                try:
                    while True:
                        d = s.recv(65536)
                        if not d:
                            break
                        seg["reply"] += d
                except BlockingIOError:
                    pass
                s.setblocking(True)
            elif op in ("close", "rst"):
                if op == "rst":
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                s.close()
                s = None
        except socket.timeout:
            segs[-1]["notes"].append("timeout@" + op)
        except OSError as e:
            segs[-1]["notes"].append("%s@%s" % (type(e).__name__, op))
            if op in ("unix", "tcp"):
                break
    if s is not None:
        s.close()
    return segs


def run_many_conns(setup, case):
    """Open case["n"] connections at once: everyone past max_connections
    must be told TooManyConnections (raw framing). Problems, as a list."""
    socks, problems = [], []
    try:
        for _ in range(case["n"]):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            socks.append(s)
            s.settimeout(5)
            s.connect(setup.sock)
        want = max(0, case["n"] - MAX_CONN)
        refused, deadline = 0, time.monotonic() + 5
        pending = list(socks)
        while refused < want and time.monotonic() < deadline:
            for s in list(pending):
                s.settimeout(0.01)
                try:
                    d = s.recv(4096)
                except socket.timeout:
                    continue
                pending.remove(s)
                if d.startswith(b"ERRORS: \nTooManyConnections: "):
                    refused += 1
                elif d:
                    problems.append("unexpected answer to an extra connection: %r" % d[:200])
        if refused < want:
            problems.append("%d connections over the limit of %d, only %d refused" %
                            (case["n"], MAX_CONN, refused))
    except OSError as e:
        problems.append("cannot open connection %d of %d: %s" % (len(socks), case["n"], e))
    for s in socks:
        s.close()
    wait_connections_closed(setup)
    return problems


def wait_connections_closed(setup, timeout=10.0, idle=False):
    """Wait until the daemon has let go of the connections closed so far
    (the status count is then only the control connection asking) and, with
    idle, until no request runs or waits any more. False if it did not
    happen within timeout (or the daemon stopped answering)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status = control(setup, "status")["status"]
            busy = idle and any(t["queue"] or any(w["state"] != "idle" for w in t["workers"])
                                for t in status["targets"])
            if status["daemon"]["connections"] <= 1 and not busy:
                return True
        except (OSError, ValueError, KeyError, TypeError):
            if not os.path.exists(setup.sock):
                return False
        time.sleep(0.05)
    return False


def control(setup, op, **fields):
    """One control-target request; its done event."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.connect(setup.sock)
        s.sendall(b"hotload mode=json\n" + json.dumps(dict(fields, id=1, op=op)).encode() + b"\n")
        s.shutdown(socket.SHUT_WR)
        buf = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            buf += d
    return json.loads(buf.split(b"\n")[0])


def run_case(setup, case):
    """Run one case and judge it: a list of (case, problems), one for each
    connection that had problems, the case cut down to that connection."""
    if case["gen"] == "many_conns":
        problems = run_many_conns(setup, case)
        return [(case, problems)] if problems else []
    found = []
    for i, seg in enumerate(run_script(setup, case)):
        problems = check(case["expect"], seg)
        if problems:
            found.append((dict(case, actions=connection_actions(case, i)), problems))
    return found


def connection_actions(case, i):
    """The actions of the case's connection number i (from 0)."""
    starts = [k for k, act in enumerate(case["actions"]) if act[0] in ("unix", "tcp")]
    return case["actions"][starts[i]:(starts + [None])[i + 1]]


def health(setup, timeout=30.0):
    """A JSON-mode exec of print(1): (True, "") or (False, why).

    QueueFull is a fair answer right after a batch (the daemon may not have
    seen yet that the clients whose requests fill the queue are gone): the
    check is tried again until timeout.
    """
    end = time.monotonic() + timeout
    while True:
        ok, why = health_once(setup, timeout)
        if ok or "QueueFull" not in why or time.monotonic() > end:
            return ok, why
        time.sleep(0.2)


def health_once(setup, timeout):
    """One health check."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(setup.sock)
            s.sendall(b"%s mode=json\n" % TARGET.encode() +
                      b'{"id":"health","op":"exec","code":"print(1)"}\n')
            buf, out = b"", ""
            while True:
                d = s.recv(65536)
                if not d:
                    return False, "EOF before the done: %r" % buf[-300:]
                buf += d
                while b"\n" in buf:
                    line, buf = buf.split(b"\n", 1)
                    ev = json.loads(line)
                    if ev.get("event") == "stdout":
                        out += ev["data"]
                    elif ev.get("event") == "error":
                        return False, "error event %r" % ev
                    elif ev.get("event") == "done":
                        if ev.get("ok") is True and out == "1\n":
                            return True, ""
                        return False, "bad done %r, stdout %r" % (ev, out)
    except (OSError, ValueError) as e:
        return False, "%s: %s" % (type(e).__name__, e)


# --------------------------------------------------------------------------
# reply checks
#
# expect keys: "framing": "json", "raw", "header" (decided by the header the
# segment sent, see header_framing) or None; "reply": True when a reply is
# required, "header" when header_needs_reply decides;
# "error": a JSON reply must hold an error or done event; "dones": that many
# done events; "ids": done ids that must be among them; "partial": the reply
# may be cut anywhere (the case stopped reading); "closes": False when the
# daemon need not close within the read time (the case closes first).


def header_framing(sent, tcp):
    """The framing the daemon must answer in, given what the connection
    sent: "json", "raw", or None when either is right."""
    if tcp:
        return "raw"
    nl = sent.find(b"\n")
    if 0 <= nl < HEADER_MAX:
        line = sent[:nl]
        if b"mode=json" not in line:
            return "raw"
        # A refused header answers in JSON when it says mode=json anywhere; a
        # good one is in the mode of its last mode= option.
        modes = [t for t in line.rstrip(b"\r").split(b" ") if t.startswith(b"mode=")]
        return "json" if modes[-1:] == [b"mode=json"] else None
    # No line end within the limit: refused, quoting what was buffered.
    if b"mode=json" in sent[:HEADER_MAX]:
        return "json"
    return "raw" if b"mode=json" not in sent else None


def header_needs_reply(sent):
    """Must the daemon answer a connection that sent this and half-closed?
    Always, but for nothing at all, or a JSON-mode header with no requests."""
    nl = sent.find(b"\n")
    if not 0 <= nl < HEADER_MAX or sent[nl + 1:].strip(b" \t\r\n"):
        return bool(sent)
    return b"mode=json" not in sent[:nl]


def check(exp, seg):
    """Problems with one segment's reply, as a list of strings."""
    problems = []
    reply, notes, partial = seg["reply"], seg["notes"], exp.get("partial", False)
    if exp.get("closes", True) and "eof" not in notes:
        problems.append("the daemon did not close the connection (hang?): %s" % notes)
    try:
        reply.decode("utf-8")
    except UnicodeDecodeError as e:
        if not (partial and e.reason == "unexpected end of data"):
            problems.append("reply is not valid UTF-8 at byte %d: %r" %
                            (e.start, reply[max(0, e.start - 40):e.start + 40]))
    if exp.get("reply") == "header":
        if header_needs_reply(seg["sent"]) and not reply:
            problems.append("no reply at all")
    elif exp.get("reply") and not reply:
        problems.append("no reply at all")
    framing = exp.get("framing")
    if framing == "header":
        framing = header_framing(seg["sent"], seg["tcp"])
    if framing == "json" and reply:
        lines = reply.split(b"\n")
        if not partial and lines[-1]:
            problems.append("the last reply line has no newline: %r" % lines[-1][:200])
        events = []
        for line in lines[:-1]:
            try:
                ev = json.loads(line.decode("utf-8"))
            except ValueError:
                problems.append("reply line is not JSON: %r" % line[:200])
                continue
            if not isinstance(ev, dict) or "event" not in ev:
                problems.append("reply line is not an event: %r" % line[:200])
                continue
            events.append(ev)
        dones = [ev for ev in events if ev["event"] == "done"]
        refused = any(ev["event"] == "error" for ev in events)
        if exp.get("error") and not dones and not refused:
            problems.append("no error or done event in the JSON reply")
        if "dones" in exp and not refused and not partial and len(dones) != exp["dones"]:
            problems.append("expected %d done events, got %d" % (exp["dones"], len(dones)))
        for i in exp.get("ids", []) if not refused else []:
            if i not in [ev.get("id") for ev in dones]:
                problems.append("no done for id %r" % (i,))
    elif framing == "json" and exp.get("error"):
        problems.append("JSON-mode refusal without any event (lost reply)")
    elif framing == "raw" and reply and not reply.startswith(RAW_PREFIXES):
        if not (partial and any(p.startswith(reply) for p in RAW_PREFIXES)):
            problems.append("raw reply has an unexpected shape: %r" % reply[:200])
    return problems


# --------------------------------------------------------------------------
# generators: each takes a random.Random and returns a case


def rbytes(rng, n):
    """n random bytes."""
    return bytes(rng.getrandbits(8) for _ in range(n))


WEIRD_BYTES = [b"\x00", b"\r", b"\xff", b"\xc3", b"\xed\xa0\x80", b"\xf4\x90\x80\x80", b"\xc0\xaf",
               b"\x7f", b"\t", b"\x1b[2J", "é".encode(), "€".encode(), "😀".encode(), b"=", b":",
               b" ", b"  ", b"\\", b'"', b"%s%n", b"\r\r", b"\n"]


def weird_string(rng, n):
    """n pieces of control characters, broken UTF-8, separators and such."""
    return b"".join(rng.choice(WEIRD_BYTES + [rbytes(rng, rng.randint(1, 4)), b"a", b"mode=json"])
                    for _ in range(n))


HEADER_TARGETS = [
    b"fz:3", b"fz", b"fuzzpy:3", b"python:2", b"hotload", b"nosuch", b"fz:99", b"fz:3.", b"fz:.",
    b"fz::3", b":3", b"fz:", b"a" * 63, b"a" * 64, b"fz:" + b"9" * 63, b"fz:" + b"9" * 64, b"FZ",
    b"fz:3+x", b"fz:3.11.2.1.1", b"-", b"..", b"fz:..", b"fz:3-"]
HEADER_OPTIONS = [
    b"mode=json", b"mode=raw", b"mode=", b"mode=JSON", b"ns=main", b"ns=fresh", b"ns=x",
    b"file=a.py", b"file=", b"file=" + b"f" * 255, b"file=" + b"f" * 256, b"file=\xff",
    b"timeout=1", b"timeout=0", b"timeout=-1", b"timeout=nan", b"timeout=inf", b"timeout=1e9",
    b"timeout=1e10", b"timeout=0x10", b"timeout=1e-300", b"timeout=" + b"9" * 40, b"x=1", b"=1",
    b"mode", b"a=b=c", b"mode=json=1"]


def gen_header(rng):
    """A header line of odd targets, options, separators, bytes and lengths."""
    line = rng.choice([b" ", b"  ", b"\t", b" \r "]).join(
        [rng.choice(HEADER_TARGETS)] +
        [rng.choice(HEADER_OPTIONS) for _ in range(rng.randint(0, 4))])
    r = rng.random()
    if r < 0.15:
        pos = rng.randint(0, len(line))
        line = line[:pos] + weird_string(rng, rng.randint(1, 3)) + line[pos:]
    elif r < 0.25:
        line = rbytes(rng, rng.randint(1, 20)) + line
    elif r < 0.3:
        line += b" " + b" ".join(b"k%d=v" % i for i in range(rng.randint(50, 400)))
    elif r < 0.35:
        line += b" " + b" ".join([b"mode=json"] * rng.randint(10, 200))
    elif r < 0.4:
        line += b" x=" + b"y" * rng.randint(1000, 5000)
    elif r < 0.45:
        line += b" mode=json ns=a" + "é".encode() * rng.randint(100, 600)
    end = rng.choice([b"\n", b"\r\n", b"\r", b"\n\n", b"", b"\r\r\n", b"\x00\n"])
    payload = rng.choice([b"", b"print(1)\n", b'{"id":1,"op":"ping"}\n', rbytes(rng, 30)])
    data = line + end + payload
    send = ("sendchunks", data, rng.randint(2, 10)) if rng.random() < 0.2 else ("send", data)
    return {"gen": "header", "actions": [("unix",), send, ("shut",), ("read", 15.0)],
            "expect": {"framing": "header", "reply": "header"}}


EOF_HEADERS = [b"fz:3 mode=json ns=main timeout=2\n", b"fz:3 file=x.py\r\n",
               b"hotload mode=json\n", b"fuzzpy mode=raw ns=fresh mode=json\n"]


def gen_header_eof(rng):
    """One valid header cut at every offset: a connection per cut, each must
    be refused (BadHeader) in the framing its bytes ask for."""
    hdr = rng.choice(EOF_HEADERS)
    acts = []
    for cut in range(1, len(hdr)):
        acts += [("unix",), ("send", hdr[:cut]), ("shut",), ("read", 10.0)]
    return {"gen": "header_eof", "actions": acts,
            "expect": {"framing": "header", "reply": True, "error": True}}


def gen_limits(rng):
    """The header and payload limits: lines of 1023-70000 bytes, payloads and
    request lines just over limits.max_payload, one just under it."""
    r = rng.random()
    if r < 0.4:
        n = rng.choice([1000, 1005, 1006, 1007, 1008, 2000, 4096, 70000])
        hdr = b"fz:3 mode=json x=" + b"y" * n + rng.choice([b"\n", b""])
        acts = [("unix",), ("send", hdr), ("shut",), ("read", 10.0)]
        return {"gen": "limits", "actions": acts,
                "expect": {"framing": "header", "reply": True}}
    if r < 0.6:
        # no line end, no half-close: refused once 1024 bytes are in
        acts = [("unix",), ("send", b"fz:3 mode=json" + b" " * rng.randint(1020, 3000)),
                ("read", 10.0)]
        return {"gen": "limits", "actions": acts,
                "expect": {"framing": "json", "reply": True, "error": True}}
    if r < 0.75:
        code = b"a" * (MAX_PAYLOAD + rng.randint(1, 1000))
        acts = [("unix",), ("send", b"fz:3 mode=json\n" + b'{"id":1,"op":"exec","code":"' + code +
                            b'"}\n'), ("shut",), ("read", 15.0)]
        return {"gen": "limits", "actions": acts,
                "expect": {"framing": "json", "reply": True, "error": True}}
    if r < 0.9:
        acts = [("unix",), ("send", b"fz:3\n" + b"#" * (MAX_PAYLOAD + rng.randint(1, 1000))),
                ("shut",), ("read", 15.0)]
        return {"gen": "limits", "actions": acts, "expect": {"framing": "raw", "reply": True}}
    acts = [("unix",), ("send", b"fz:3\n" + b"#" * (MAX_PAYLOAD - 10) + b"\n1\n"), ("shut",),
            ("read", 20.0)]
    return {"gen": "limits", "actions": acts, "expect": {"framing": "raw", "reply": True}}


def deep(n, o="[", c="]"):
    """n levels of nesting."""
    return o * n + c * n


ODD_IDS = ["null", "0", "-1", "1.5", "1e308", "-0.0", "true", "false", '"x"', '""',
           '"' + "é" * 50 + '"', '"\\ud800"', '"\\u0000"', "[]", "{}", '{"a":[1,{"b":null}]}',
           "9223372036854775807", "-9223372036854775808", "123456789012345678901234567890",
           "1e400", "-1e400", "1E-400", deep(200), deep(5000), '"' + "z" * 100000 + '"',
           "[" + ",".join(["1"] * 5000) + "]"]


def json_line(rng, idv, op, code=None, extra=""):
    """One request line; idv and extra are JSON text, code a str or None."""
    s = '{"id":%s,"op":"%s"' % (idv, op)
    if code is not None:
        s += ',"code":%s' % json.dumps(code)
    return (s + extra + "}").encode()


BAD_LINES = [
    b"[]", b"null", b"1", b'"str"', b"true", b"{}", b"{", b"}", b"{{}}", b"[1,2", b"\xff\xfe",
    b'{"id":1}', b'{"op":"ping"}', b'{"id":1,"op":1}', b'{"id":1,"op":null}',
    b'{"id":1,"op":"bogus"}', b'{"id":1,"op":"exec"}', b'{"id":1,"op":"exec","code":1}',
    b'{"id":1,"op":"exec","code":null}', b'{"id":1,"op":"exec","code":["print(1)"]}',
    b'{"id":1,"op":"exec","code":"1","file":1}', b'{"id":1,"op":"exec","code":"1","ns":"x"}',
    b'{"id":1,"op":"exec","code":"1","ns":1}', b'{"id":1,"op":"exec","code":"1","timeout":0}',
    b'{"id":1,"op":"exec","code":"1","timeout":-1}',
    b'{"id":1,"op":"exec","code":"1","timeout":"1"}',
    b'{"id":1,"op":"exec","code":"1","timeout":1e-300}',
    b'{"id":1,"op":"exec","code":"1","timeout":1e300}', b'{"id":1,"id":2,"op":"ping"}',
    b'{"id":1,"op":"ping","op":"ping"}', b'{"id":1,"op":"ping"} {"id":2}',
    b'{"id":1,"op":"ping"}x', b'{"id":1,"op":"exec","code":"\\ud800"}',
    b'{"id":1,"op":"exec","code":"a\\u0000b"}', b'{"id":1,"op":"eval","code":"1e400"}',
    b'{"id":1,"op":"eval","code":"float(\'nan\')"}', b'{"id":1,"op":"eval","code":"\'\\\\ud800\'"}',
    b'{"id":1,"op":"eval","code":"10**400"}',
    b'{"id":1,"op":"exec","code":"import sys; sys.stdout.buffer.write(b\'\\\\xff\\\\xc3\\\\x00\')"}',
    b'{"id":1,"op":"exec","code":"import sys; sys.exit(0)"}',
    b'{"id":1,"op":"exec","code":"import sys; sys.exit(3)"}',
    b'{"id":1,"op":"exec","code":"raise SystemExit(\'x\')"}',
    b'{"id":1,"op":"exec","code":"1/0","file":""}',
    b'{"id":1,"op":"exec","code":"1/0","file":"\\u00e9\\ud800"}',
    b'{"id":1,"op":"exec","code":"print(1)","ns":null,"file":null,"timeout":null}',
    b'{"id":1,"op":"exec","code":"' + b"x" * 70000 + b'"}',
    b'{"id":' + deep(3000).encode() + b',"op":"ping"}', deep(100000).encode(),
    b'{"a":' * 3000 + b"1" + b"}" * 3000, b'{"id":1,"op":"ping","x":' + b"9" * 5000 + b"}",
    b'{"id":1e400,"op":"ping"}', b'{"id":-,"op":"ping"}', b'{"id":01,"op":"ping"}',
    b'{"id":1,"op":"ping",}', b"\x00", b"\t{}\t", b'{"id":1,"op":"ping"}\r',
    b'\xef\xbb\xbf{"id":1,"op":"ping"}', b'{"id":1,"op":"interrupt","request":' +
    deep(50).encode() + b"}"]


def count_request_lines(body):
    """The lines of a JSON-mode body that get a done (the non-blank ones)."""
    return sum(1 for ln in body.split(b"\n") if ln.strip(b" \t\r\n"))


def gen_json_lines(rng):
    """Garbage lines, odd ids and nesting, interrupts with odd requests: one
    done per non-blank line."""
    lines = []
    for _ in range(rng.randint(1, 12)):
        r = rng.random()
        if r < 0.45:
            lines.append(rng.choice(BAD_LINES))
        elif r < 0.75:
            lines.append(json_line(rng, rng.choice(ODD_IDS), rng.choice(["ping", "eval", "reset",
                                                                         "exec"]),
                                   rng.choice(["print(1)", "1+1", "", "x", None])))
        else:
            lines.append(json_line(rng, rng.choice(ODD_IDS[:12]), "interrupt", extra=rng.choice(
                ["", ',"request":1', ',"request":null', ',"request":"nope"', ',"request":[1,{}]'])))
    body = b"\n".join(lines) + rng.choice([b"\n", b"", b"\n\n", b"\r\n"])
    acts = [("unix",), ("send", b"%s mode=json\n" % TARGET.encode())]
    if rng.random() < 0.3:
        acts.append(("sendchunks", body, rng.randint(2, 20)))
    else:
        acts.append(("send", body))
    acts += [("shut",), ("read", 20.0)]
    return {"gen": "json_lines", "actions": acts,
            "expect": {"framing": "json", "dones": count_request_lines(body)}}


def gen_pipeline_abrupt(rng):
    """Many pipelined requests (past max_queue), then a close, a reset or a
    half-close, with or without reading first."""
    code = rng.choice(["print(1)", "print('x'*10000)", "import time; time.sleep(0.05)", "1+1"])
    body = b"".join(json_line(rng, str(i), rng.choice(["exec", "eval", "ping"]), code) + b"\n"
                    for i in range(rng.randint(5, 60)))
    acts = [("unix",), ("send", b"%s mode=json\n" % TARGET.encode()), ("send", body)]
    r = rng.random()
    if r < 0.3:
        acts += [("sleep", rng.choice([0, 0.01, 0.1])), ("close",)]
    elif r < 0.5:
        acts += [("sleep", rng.choice([0, 0.01, 0.1])), ("rst",)]
    elif r < 0.75:
        acts += [("readsome", 0.2, rng.randint(1, 500)), ("drain",), ("close",)]
    else:
        acts += [("shut",), ("readsome", 0.3, rng.randint(1, 5000)), ("close",)]
    return {"gen": "pipeline_abrupt", "actions": acts,
            "expect": {"framing": "json", "partial": True, "closes": False}}


def gen_close_before_done(rng):
    """A client that goes away while its request runs and output streams:
    JSON (this used to be a use-after-free in json_done), raw or compat."""
    code = rng.choice(["print('y'*200000)", "import sys\nfor i in range(2000): print(i)",
                       "import time\nfor i in range(10): print(i, flush=True); time.sleep(0.01)",
                       "import sys; sys.stderr.write('e'*100000)", "import time; time.sleep(0.2)"])
    mode = rng.choice(["json", "json", "raw", "compat"])
    if mode == "json":
        acts = [("unix",), ("send", b"%s mode=json\n" % TARGET.encode() +
                            json_line(rng, "1", "exec", code) + b"\n")]
    elif mode == "raw":
        acts = [("unix",), ("send", b"%s\n" % TARGET.encode() + code.encode()), ("shut",)]
    else:
        acts = [("tcp",), ("send", code.encode())]
        if rng.random() < 0.5:
            acts.append(("shut",))
    acts.append(("readsome", rng.choice([0.01, 0.1, 0.3]), rng.randint(1, 70000)))
    if rng.random() < 0.5:
        acts.append(("drain",))
    if mode == "json" and rng.random() < 0.3:
        acts += [("shut",), ("readsome", 0.05, 10)]
    acts.append((rng.choice(["close", "rst"]),))
    return {"gen": "close_before_done", "actions": acts,
            "expect": {"framing": "json" if mode == "json" else "raw", "partial": True,
                       "closes": False}}


def gen_interrupts(rng):
    """A running request, queued ones, and interrupts of it, of all, of ids
    that do not exist; the last line maybe without its newline."""
    lines = [json_line(rng, "1", "exec", "import time; time.sleep(0.3)")]
    lines += [json_line(rng, str(10 + i), "exec", "print(%d)" % i)
              for i in range(rng.randint(0, 6))]
    ids = [1] + [10 + i for i in range(len(lines) - 1)]
    for j in range(rng.randint(1, 4)):
        lines.append(json_line(rng, str(100 + j), "interrupt", extra=rng.choice(
            ["", ',"request":1', ',"request":999', ',"request":"1"', ',"request":null',
             ',"request":{}', ',"request":11'])))
        ids.append(100 + j)
    body = b"\n".join(lines) + rng.choice([b"\n", b""])
    acts = [("unix",), ("send", b"%s mode=json\n" % TARGET.encode() + body), ("shut",),
            ("read", 20.0)]
    return {"gen": "interrupts", "actions": acts,
            "expect": {"framing": "json", "dones": len(lines), "ids": ids}}


CONTROL_OPS = ["status", "list", "start", "stop", "restart", "interrupt", "logs", "reload", "ping",
               "bogus", "", "STATUS", "shutdown\\u0000", "shutdown\\n", " shutdown"]
TARGET_VALS = ['"fz:3"', '"fz"', '"nosuch"', '"fz:3 mode=json"', '"fz:3 file=x"', '""',
               '"fz:3\\n"', '"fz:3 timeout=1"', '"hotload"', "1", "null", "[]", '{"a":1}',
               '"a:b:c"', '"' + "x" * 3000 + '"', '"python:99"', '"fz:3 ns=fresh"',
               '"fz:\\u00e9"', '"fz:\\udc80"']


def gen_control(rng):
    """Control ops (never a real shutdown) with bad, odd and many targets and
    entries: one done per line."""
    lines = []
    for i in range(rng.randint(1, 8)):
        s = '{"id":%d,"op":"%s"' % (i, rng.choice(CONTROL_OPS))
        r = rng.random()
        if r < 0.4:
            s += ',"target":%s' % rng.choice(TARGET_VALS)
        elif r < 0.7:
            many = ['"nosuch:%d"' % k for k in range(rng.randint(50, 300))]
            few = [rng.choice(TARGET_VALS) for _ in range(rng.randint(0, 6))]
            s += ',"targets":[%s]' % ",".join(rng.choice([many, few]))
        elif r < 0.8:
            s += ',"targets":%s' % rng.choice(['"fz:3"', "1", "null", "{}"])
        if rng.random() < 0.3:
            s += ',"entries":%s' % rng.choice(["0", "-1", "1", "1e300", "9223372036854775807",
                                               '"10"', "null", "1.5", "18446744073709551615"])
        lines.append((s + "}").encode())
    if rng.random() < 0.2:
        lines.append(rng.choice(BAD_LINES))
    body = b"\n".join(lines) + b"\n"
    acts = [("unix",), ("send", b"hotload mode=json\n" + body), ("shut",), ("read", 20.0)]
    return {"gen": "control", "actions": acts,
            "expect": {"framing": "json", "dones": count_request_lines(body)}}


def gen_raw(rng):
    """Raw-mode payloads: __SHUTDOWN__ variants, invalid UTF-8 in and out,
    NULs, CRs, a BOM, odd header options."""
    code = rng.choice([
        rbytes(rng, rng.randint(0, 200)), b"print(1)", b"print('\xff\xc3')", b"__SHUTDOWN__",
        b"  __SHUTDOWN__\n", b"print(1)__SHUTDOWN__", b"__SHUTDOWN____SHUTDOWN__",
        b"__SHUT__SHUTDOWN__DOWN__", b"__SHUTDOWN" + b"\xff" + b"__", b"_" * 300 + b"SHUTDOWN__",
        b"__SHUTDOWN__" * rng.randint(2, 2000), b"\x00print(1)", b"print(1)\r\nprint(2)\r",
        b"import sys; sys.stdout.buffer.write(b'\\xed\\xa0\\x80\\xf0\\x9f')",
        b"import sys; sys.stderr.buffer.write(b'\\xc3'); print('\\udc80')", b"\xef\xbb\xbfprint(1)"])
    opts = rng.choice([b"", b" ns=fresh", b" file=a.py", b" timeout=0.001", b" timeout=2",
                       b" file=\xc3\xa9.py", b" file=\xc3"])
    acts = [("unix",), ("send", TARGET.encode() + opts + b"\n" + code), ("shut",), ("read", 20.0)]
    return {"gen": "raw", "actions": acts, "expect": {"framing": "raw", "reply": True}}


def gen_compat(rng):
    """The compat port: garbage payloads with and without half-close,
    connections that close at once, a payload trickling in."""
    r = rng.random()
    if r < 0.5:
        acts = [("tcp",), ("send", rng.choice([b"print(1)", rbytes(rng, rng.randint(1, 300)),
                                               b"fz:3 mode=json\n{}", b"\x00" * 10,
                                               b"__SHUTDOWN__", b"print('\xff')"]))]
        if rng.random() < 0.5:
            acts.append(("shut",))
        acts.append(("read", 15.0))
        return {"gen": "compat", "actions": acts, "expect": {"framing": "raw", "reply": True}}
    if r < 0.75:
        acts = [("tcp",), ("sleep", rng.choice([0, 0.05])), (rng.choice(["close", "rst"]),)]
        return {"gen": "compat", "actions": acts, "expect": {"closes": False}}
    acts = [("tcp",), ("send", b"print("), ("sleep", 0.1), ("send", b"1"), ("sleep", 0.1),
            ("send", b")"), ("read", 15.0)]
    return {"gen": "compat", "actions": acts, "expect": {"framing": "raw", "reply": True}}


def gen_many_conns(rng):
    """More connections than limits.max_connections at once (run by
    run_many_conns, not as a script)."""
    return {"gen": "many_conns", "n": rng.randint(MAX_CONN - 5, MAX_CONN + 20), "actions": []}


# name: (generator, weight)
GENERATORS = {
    "header": (gen_header, 12), "header_eof": (gen_header_eof, 2), "limits": (gen_limits, 2),
    "json_lines": (gen_json_lines, 10), "pipeline_abrupt": (gen_pipeline_abrupt, 4),
    "close_before_done": (gen_close_before_done, 4), "interrupts": (gen_interrupts, 3),
    "control": (gen_control, 5), "raw": (gen_raw, 6), "compat": (gen_compat, 3),
    "many_conns": (gen_many_conns, 1),
}


# --------------------------------------------------------------------------
# reproducers


def bytes_expr(d):
    """A Python expression for d, with a unit of 1-4 bytes repeated 16 times
    or more written as b'unit' * n."""
    parts, i = [], 0
    for m in re.finditer(rb"(.{1,4}?)\1{15,}", d, re.S):
        if m.start() > i:
            parts.append(repr(d[i:m.start()]))
        unit = m.group(1)
        parts.append("%r * %d" % (unit, (m.end() - m.start()) // len(unit)))
        i = m.end()
    if i < len(d):
        parts.append(repr(d[i:]))
    return " + ".join(parts) or "b''"


def script_to_python(setup, case):
    """A stand-alone Python reproducer for a case (against this run's
    socket and compat port)."""
    if case["gen"] == "many_conns":
        return ("import socket\nsocks = [socket.socket(socket.AF_UNIX) for _ in range(%d)]\n"
                "for s in socks: s.connect(%r)\n" % (case["n"], setup.sock))
    out = ["import socket, struct, time"]
    for act in case["actions"]:
        op = act[0]
        if op == "unix":
            out.append("s = socket.socket(socket.AF_UNIX); s.connect(%r)" % setup.sock)
        elif op == "tcp":
            out.append("s = socket.create_connection(('127.0.0.1', %d))" % setup.port)
        elif op in ("send", "sendchunks"):
            out.append("s.sendall(%s)" % bytes_expr(act[1]))
        elif op == "shut":
            out.append("s.shutdown(socket.SHUT_WR)")
        elif op == "sleep":
            out.append("time.sleep(%r)" % act[1])
        elif op == "read":
            out.append("s.settimeout(%r)\ntry:\n    while True:\n        d = s.recv(65536)\n"
                       "        print(d)\n        if not d: break\nexcept OSError as e: print(e)"
                       % act[1])
        elif op == "readsome":
            out.append("s.settimeout(%r)\ntry: print(s.recv(%d))\nexcept OSError as e: print(e)"
                       % (act[1], act[2]))
        elif op == "drain":
            out.append("s.setblocking(False)\ntry: print(s.recv(1 << 20))\n"
                       "except OSError as e: print(e)\ns.setblocking(True)")
        elif op == "close":
            out.append("s.close()")
        elif op == "rst":
            out.append("s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack('ii', 1, 0))"
                       "\ns.close()")
    return "\n".join(out) + "\n"


# --------------------------------------------------------------------------
# main loop


class Fuzzer:
    """Runs the batches and records what went wrong."""

    def __init__(self, setup, args):
        self.setup = setup
        self.args = args
        self.daemon = Daemon(setup)
        self.failures = []  # (what, detail, culprit case or None)
        self.anomalies = []  # (case cut down to one connection, problems)
        self.counts = {}

    def log(self, msg):
        """Progress on stdout unless --quiet."""
        if not self.args.quiet:
            print(msg, flush=True)

    def broken(self):
        """Why the daemon is broken now, or None: dead, a sanitizer report,
        or a failed health check."""
        if not self.daemon.alive():
            return "the daemon died (exit status %s)" % self.daemon.proc.returncode
        if self.daemon.sanitizer_report():
            return "a sanitizer report in the daemon's stderr"
        ok, why = health(self.setup)
        return None if ok else "the health check failed: " + why

    def restart_warm(self):
        """A fresh daemon with a warm worker, as the cases found it."""
        self.daemon.stop()
        self.daemon.start()
        health(self.setup)

    def replay_breaks(self, case):
        """Run one case on the current daemon and let its requests end; does
        the daemon break?"""
        run_case(self.setup, case)
        if self.daemon.alive():
            wait_connections_closed(self.setup, idle=True)
        return self.broken() is not None

    def find_culprit(self, batch, k):
        """The case of the batch that breaks the daemon, or None. Suspects
        first: case k, when the breakage was seen, and the three before it,
        each alone on a fresh daemon (three tries, timing matters); then the
        whole batch in order on one fresh daemon."""
        self.log("looking for the culprit among the batch's %d cases" % len(batch))
        for case in batch[max(0, k - 3):k + 1][::-1]:
            for _ in range(3):
                self.restart_warm()
                if self.replay_breaks(case):
                    return case
        self.restart_warm()
        for case in batch:
            if self.replay_breaks(case):
                return case
        return None

    def run(self):
        """All batches; stops at the first broken daemon."""
        rng = random.Random(self.args.seed)
        names = [n for n in GENERATORS if not self.args.only or n in self.args.only]
        weights = [GENERATORS[n][1] for n in names]
        self.daemon.start()
        ok, why = health(self.setup)
        if not ok:
            self.failures.append(("the daemon did not start and answer: " + why,
                                  self.daemon.stderr()[-3000:].decode(errors="replace"), None))
            return 2
        t0 = time.monotonic()
        for b in range(self.args.batches):
            # each batch covers every generator once, then weighted picks
            picks = names + rng.choices(names, weights, k=max(0, self.args.cases - len(names)))
            rng.shuffle(picks)
            batch = [GENERATORS[n][0](rng) for n in picks]
            anomalies_before = len(self.anomalies)
            for k, case in enumerate(batch):
                self.counts[case["gen"]] = self.counts.get(case["gen"], 0) + 1
                found = run_case(self.setup, case)
                if not self.daemon.alive():
                    break
                if not self.daemon.sanitizer_report():
                    self.anomalies += found
            why = self.broken()
            self.log("batch %3d  %5.1fs  anomalies %d  %s" % (
                b, time.monotonic() - t0, len(self.anomalies), why or "ok"))
            if why:
                if not self.daemon.alive() or self.daemon.sanitizer_report():
                    # what the dying daemon did to this batch is no news
                    del self.anomalies[anomalies_before:]
                report = self.daemon.sanitizer_report() or self.daemon.stderr()[-3000:]
                errpath = self.daemon.errpath
                culprit = None if self.args.no_bisect else self.find_culprit(batch, k)
                detail = "%s\n(the daemon's stderr: %s)" % (report.decode(errors="replace"),
                                                             errpath)
                if culprit is None:
                    detail += "\nculprit not isolated by replaying the batch's cases"
                self.failures.append((why, detail, culprit))
                return 1
        status = self.daemon.stop()
        report = self.daemon.sanitizer_report()
        if report or status not in (0, None):
            self.failures.append(("the daemon ended badly at SIGTERM (status %s)" % status,
                                  (report or self.daemon.stderr()[-3000:]).decode(errors="replace"),
                                  None))
        self.log("%d cases in %.1fs: %s" % (sum(self.counts.values()), time.monotonic() - t0,
                                           ", ".join("%s %d" % kv for kv in self.counts.items())))
        return 1 if self.failures or self.anomalies else 0

    def report(self):
        """The summary of failures and anomalies, with reproducers, on stderr."""
        w = sys.stderr.write
        for what, detail, culprit in self.failures:
            w("FAIL: %s\n%s\n" % (what, detail))
            if culprit:
                w("\nculprit (generator %s); reproducer, with the daemon started as\n"
                  "  %s --config %s\n"
                  "and its worker warm (one request to %s first, as the fuzzer does):\n\n%s\n"
                  % (culprit["gen"], self.setup.hotloadd, self.setup.config, TARGET,
                     script_to_python(self.setup, culprit)))
        seen = set()
        for case, problems in self.anomalies:
            key = (case["gen"], problems[0][:40])
            if key in seen:
                continue
            seen.add(key)
            w("ANOMALY (generator %s): %s\nreproducer:\n%s\n" % (
                case["gen"], "; ".join(problems)[:2000], script_to_python(self.setup, case)))
        if self.anomalies:
            w("anomalies on %d connections, in %d cases run\n" % (len(self.anomalies),
                                                                 sum(self.counts.values())))


def main():
    """Parse the arguments, set up, fuzz, report; the exit status."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hotloadd", required=True, help="the built daemon (in its build tree)")
    ap.add_argument("--seed", type=int, default=1, help="the random seed (default 1)")
    ap.add_argument("--batches", type=int, default=15,
                    help="batches, each followed by a health check (default 15)")
    ap.add_argument("--cases", type=int, default=40, help="cases per batch (default 40)")
    ap.add_argument("--only", type=lambda s: s.split(","), default=None,
                    help="comma-separated generators: " + ",".join(GENERATORS))
    ap.add_argument("--no-bisect", action="store_true",
                    help="do not replay a broken batch's cases to find the culprit")
    ap.add_argument("--quiet", action="store_true", help="no progress lines")
    args = ap.parse_args()
    if args.only and set(args.only) - set(GENERATORS):
        ap.error("unknown generator(s): %s" % ",".join(sorted(set(args.only) - set(GENERATORS))))
    if not os.access(args.hotloadd, os.X_OK):
        ap.error("--hotloadd %s: not an executable" % args.hotloadd)
    setup = Setup(args.hotloadd)
    fuzzer = Fuzzer(setup, args)
    try:
        status = fuzzer.run()
    except KeyboardInterrupt:
        status = 130
    finally:
        fuzzer.daemon.stop()
    if status == 0:
        shutil.rmtree(setup.dir)
        return 0
    fuzzer.report()
    sys.stderr.write("fuzz: FAILED (seed %d); kept %s\n" % (args.seed, setup.dir))
    return status


if __name__ == "__main__":
    sys.exit(main())
