"""Warm round trips through hotloadd, against a direct single-hop baseline.

For each case (no-op and print in raw and JSON mode, 1 MiB of output) the
same client code runs against:
  daemon  a running hotloadd (its Unix socket and a target served by a warm
          worker), and
  direct  direct_server.py: one Python process that exec's what it is sent
          and answers itself, like the original DCC Hotload Server.
It prints p50/p99 latency and requests/s for each, then the ratios
daemon/direct. Figures only: the exit status does not judge them.

Usage: python3 bench.py --socket PATH --target DCC:VERSION [--python EXE]
       (tests/bench/run.sh builds and starts a release hotloadd for you)
Standard library only.
"""
import argparse
import io
import json
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
MIB = 1 << 20

# name, mode, code, expected stdout
CASES = [
    ("raw no-op", "raw", "pass", ""),
    ("raw print", "raw", "print('hello')", "hello\n"),
    ("json no-op", "json", "pass", ""),
    ("json print", "json", "print('hello')", "hello\n"),
    # code size: a script of 8 KiB and one of 1 MiB that do nothing (comments)
    ("raw 8 KiB", "raw", "pass\n" + ("#" * 79 + "\n") * 102, ""),
    ("json 8 KiB", "json", "pass\n" + ("#" * 79 + "\n") * 102, ""),
    ("json 1 MiB in", "json", "pass\n" + ("#" * 1023 + "\n") * 1024, ""),
    # the same scripts as bytes after the request line (code_bytes), as
    # hotloadctl and the Python client send them
    ("jsonb 8 KiB", "jsonb", "pass\n" + ("#" * 79 + "\n") * 102, ""),
    ("jsonb 1 MiB in", "jsonb", "pass\n" + ("#" * 1023 + "\n") * 1024, ""),
    ("raw 1 MiB", "raw", "import sys; sys.stdout.write('x' * %d)" % MIB, "x" * MIB),
    ("json 1 MiB", "json", "import sys; sys.stdout.write('x' * %d)" % MIB, "x" * MIB),
]


class Client:
    """The client side of the protocol, the same for both servers."""

    def __init__(self, path, target):
        """Remember where to connect and which target to name in the header."""
        self.path = path
        self.target = target
        self.sock = None
        self.reader = None
        self.next_id = 0
        self.pids = []  # the server's processes, for CPU accounting
        self.pid_names = []  # what each of them is

    def connect(self):
        """Open a new Unix stream connection."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(self.path)
        return s

    def raw(self, code):
        """One raw-mode round trip on a connection of its own; returns the reply text."""
        s = self.connect()
        try:
            s.sendall(("%s\n%s" % (self.target, code)).encode())
            s.shutdown(socket.SHUT_WR)
            chunks = []
            while True:
                data = s.recv(262144)
                if not data:
                    break
                chunks.append(data)
        finally:
            s.close()
        return b"".join(chunks).decode("utf-8")

    def raw_count(self, code, chunk, prefix):
        """A raw-mode round trip whose reply is read into chunk and counted,
        not kept; returns the bytes after prefix (which the reply must
        start with)."""
        s = self.connect()
        try:
            s.sendall(("%s\n%s" % (self.target, code)).encode())
            s.shutdown(socket.SHUT_WR)
            got, head = 0, b""
            while True:
                n = s.recv_into(chunk)
                if not n:
                    break
                if len(head) < len(prefix):
                    head += bytes(chunk[:min(n, len(prefix) - len(head))])
                got += n
        finally:
            s.close()
        if not head.startswith(prefix):
            raise SystemExit("bench: the raw reply starts %r" % head)
        return got - len(prefix)

    def json_open(self, read_buffer=io.DEFAULT_BUFFER_SIZE):
        """Open the persistent JSON-mode connection."""
        self.sock = self.connect()
        self.sock.sendall(("%s mode=json\n" % self.target).encode())
        self.reader = self.sock.makefile("rb", read_buffer)

    def json_close(self):
        """Half-close and drop the JSON-mode connection."""
        if self.sock:
            self.reader.close()
            self.sock.close()
            self.sock = self.reader = None

    def json_exec(self, code, framed=False, ns=None, on_stdout=None):
        """One JSON-mode exec round trip; returns (stdout text, done event).
        framed: the code as bytes after the line (code_bytes); ns: the
        request's "ns" ("isolated"); on_stdout: given each piece of stdout
        instead of keeping it (the text returned is then "")."""
        self.next_id += 1
        rid = self.next_id
        req = {"id": rid, "op": "exec"}
        if ns:
            req["ns"] = ns
        if framed:
            data = code.encode()
            req["code_bytes"] = len(data)
            self.sock.sendall((json.dumps(req) + "\n").encode() + data)
        else:
            req["code"] = code
            self.sock.sendall((json.dumps(req) + "\n").encode())
        out = []
        keep = on_stdout or out.append
        while True:
            raw = self.reader.readline()
            if not raw:
                raise ConnectionError("connection closed before done")
            ev = json.loads(raw)
            if ev.get("id") != rid:
                raise RuntimeError("unexpected event %r" % ev)
            kind = ev.get("event")
            if kind == "stdout":
                keep(ev["data"])
            elif kind == "done":
                return "".join(out), ev

    def json_count(self, code):
        """A JSON-mode exec whose stdout is decoded, event by event, and
        counted, not kept; returns the characters of stdout."""
        got = [0]

        def count(data):
            got[0] += len(data)

        ev = self.json_exec(code, on_stdout=count)[1]
        if not ev.get("ok"):
            raise SystemExit("bench: %r" % ev)
        return got[0]

def raw_stdout(reply):
    """The stdout part of a raw reply ("" when there is none)."""
    if reply.startswith("OUTPUT: \n"):
        body = reply[len("OUTPUT: \n"):]
        cut = body.find("ERRORS: \n")
        return body if cut < 0 else body[:cut]
    return ""


def check(name, server, got, expected, extra=""):
    """Stop the benchmark when a server answered something else than expected."""
    if got != expected:
        raise SystemExit("bench: %s via %s: wrong output (%d bytes, expected %d)%s"
                         % (name, server, len(got), len(expected), extra))


def run_case(client, name, mode, code, expected, n, warmup):
    """Run one case n times after warmup runs; returns latencies in seconds and wall time."""
    if mode in ("json", "jsonb"):
        client.json_open()
    try:
        def once():
            if mode == "raw":
                reply = client.raw(code)
                if not reply.startswith(("OUTPUT: \n", "Script executed (no output).")):
                    raise SystemExit("bench: %s via %s: error reply: %.300s"
                                     % (name, client.label, reply))
                return raw_stdout(reply)
            out, done = client.json_exec(code, framed=mode == "jsonb")
            if not done.get("ok"):
                raise SystemExit("bench: %s via %s: %s" % (name, client.label, done))
            return out

        for _ in range(warmup):
            check(name, client.label, once(), expected)
        lat = []
        t_start = time.perf_counter()
        for _ in range(n):
            t0 = time.perf_counter()
            out = once()
            lat.append(time.perf_counter() - t0)
            if len(out) != len(expected):
                check(name, client.label, out, expected)
        wall = time.perf_counter() - t_start
        check(name, client.label, out, expected)
    finally:
        client.json_close()
    return lat, wall


def cpu_sample(pids):
    """(CPU ns, context switches) so far of the processes in pids, from /proc."""
    if not pids:
        return None
    ns = switches = 0
    for pid in pids:
        try:
            with open("/proc/%d/schedstat" % pid) as f:
                ns += int(f.read().split()[0])
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if "ctxt_switches:" in line:  # voluntary and not
                        switches += int(line.split()[1])
        except (OSError, ValueError, IndexError):
            return None
    return ns, switches


def machine_sample():
    """The whole machine's CPU time so far, all CPUs, in seconds, from
    /proc/stat: (busy, steal, total). busy is what this machine ran (user,
    nice, system, interrupts), steal what the hypervisor gave to others
    while this machine's CPUs wanted to run. None without /proc/stat."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(x) for x in f.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    if len(ticks) < 8:
        return None
    user, nice, system, idle, iowait, irq, softirq, steal = ticks
    hz = float(os.sysconf("SC_CLK_TCK"))
    return ((user + nice + system + irq + softirq) / hz, steal / hz, sum(ticks) / hz)


def pct(sorted_lat, p):
    """The p-th percentile (nearest rank) of sorted latencies."""
    k = max(0, min(len(sorted_lat) - 1, int(round(p / 100.0 * len(sorted_lat) + 0.5)) - 1))
    return sorted_lat[k]


def summarize(lat_rounds, wall_total):
    """p50, p99, mean (seconds) and requests/s of the pooled rounds."""
    lat = sorted(x for r in lat_rounds for x in r)
    return {"n": len(lat), "p50": pct(lat, 50), "p99": pct(lat, 99),
            "mean": sum(lat) / len(lat), "rps": len(lat) / wall_total}


def fmt_time(s):
    """Seconds as a short human figure."""
    if s < 1e-3:
        return "%.0f us" % (s * 1e6)
    if s < 1:
        return "%.2f ms" % (s * 1e3)
    return "%.2f s" % s


def start_direct(python, path):
    """Start direct_server.py on path with python; returns the process once it listens."""
    proc = subprocess.Popen([python, os.path.join(HERE, "direct_server.py"), path],
                            stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
    if proc.stdout.readline().strip() != b"ready":
        proc.kill()
        raise SystemExit("bench: the direct server did not start")
    return proc


def start_relay(path, upstream, relay_bin=None):
    """Start a relay of path to upstream: relay_bin (relay.c), else socat;
    None when neither is there."""
    if relay_bin:
        argv = [relay_bin, path, upstream]
    else:
        socat = shutil.which("socat")
        if not socat:
            return None
        argv = [socat, "UNIX-LISTEN:%s,fork" % path, "UNIX-CONNECT:%s" % upstream]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(path):
            return proc
        time.sleep(0.01)
    proc.kill()
    raise SystemExit("bench: the relay did not start")


def print_row(name, label, s):
    """One line of the results table."""
    print("%-12s %-7s %6d %10s %10s %10s %10.0f" % (
        name, label, s["n"], fmt_time(s["p50"]), fmt_time(s["p99"]), fmt_time(s["mean"]),
        s["rps"]))


def run_cases(args, servers, relay):
    """Every case, alternating the servers in rounds; returns {(case, label): stats}."""
    results = {}
    for name, mode, code, expected in CASES:
        if args.only and args.only not in name:
            continue
        n = args.n_big if "MiB" in name else args.n
        clients = list(servers)
        if relay and name in ("json no-op", "json 8 KiB", "jsonb 8 KiB", "raw no-op"):
            clients.append(relay)
        lats = {c.label: [] for c in clients}
        walls = {c.label: 0.0 for c in clients}
        cpu = {c.label: [0, 0, 0] for c in clients}  # ns, switches, requests
        parts = {c.label: {} for c in clients}  # per process: [ns, switches]
        for i in range(args.rounds):
            per_round = n // args.rounds + (1 if i < n % args.rounds else 0)
            if not per_round:
                continue
            # Warm-up runs are checked but not timed.
            warm = (2 if i == 0 else 0) if "MiB" in name else (50 if i == 0 else 10)
            for c in clients:
                before = cpu_sample(c.pids)
                before_each = [cpu_sample([pid]) for pid in c.pids]
                lat, wall = run_case(c, name, mode, code, expected, per_round, warm)
                after = cpu_sample(c.pids)
                for who, b0, pid in zip(c.pid_names, before_each, c.pids):
                    a0 = cpu_sample([pid])
                    if b0 and a0:
                        acc = parts[c.label].setdefault(who, [0, 0])
                        acc[0] += a0[0] - b0[0]
                        acc[1] += a0[1] - b0[1]
                lats[c.label].append(lat)
                walls[c.label] += wall
                if before and after:
                    acc = cpu[c.label]
                    acc[0] += after[0] - before[0]
                    acc[1] += after[1] - before[1]
                    acc[2] += per_round + warm
        for c in clients:
            if lats[c.label]:
                results[(name, c.label)] = summarize(lats[c.label], walls[c.label])
                ns, switches, reqs = cpu[c.label]
                if reqs:
                    results[(name, c.label)]["cpu"] = (ns / reqs / 1e3, switches / reqs)
                    results[(name, c.label)]["cpu_by"] = {
                        who: (v[0] / reqs / 1e3, v[1] / reqs) for who, v in parts[c.label].items()}
                print_row(name, c.label, results[(name, c.label)])
    return results


def print_ratios(results):
    """daemon/direct for every case measured, and the relay floor when there is one."""
    print()
    print("daemon/direct (lower is better for the daemon):")
    for name, mode, code, expected in CASES:
        if (name, "daemon") not in results:
            continue
        d, b = results[(name, "daemon")], results[(name, "direct")]
        note = ""
        if name == "json no-op":
            note = "   target p50 <= 1.25x"
        elif "MiB" in name:
            note = "   target p50 < 1.00x (daemon faster)"
        print("  %-12s p50 %5.2fx   p99 %5.2fx%s" % (name, d["p50"] / b["p50"],
                                                  d["p99"] / b["p99"], note))
    if ("json no-op", "relay") in results:
        r, b = results[("json no-op", "relay")], results[("json no-op", "direct")]
        print("  %-12s p50 %5.2fx   p99 %5.2fx   relay/direct: the cost of one extra hop "
              "that does no work" % ("json no-op", r["p50"] / b["p50"], r["p99"] / b["p99"]))


def print_cpu(results):
    """Server-side CPU time and context switches per request, where the pids are known."""
    rows = [(name, label, r["cpu"]) for (name, label), r in results.items() if "cpu" in r]
    if not rows:
        return
    print()
    print("server-side CPU per request (all of the server's processes: hotloadd and its")
    print("worker, or the direct server; from /proc/PID/schedstat), and context switches:")
    for name, label, (us, switches) in rows:
        by = results[(name, label)].get("cpu_by") or {}
        detail = ", ".join("%s %.1f us %.1f sw" % (who, v[0], v[1]) for who, v in by.items())
        print("  %-14s %-7s %8.1f us CPU %6.1f switches   (%s)" % (name, label, us, switches,
                                                               detail))


def print_targets(results):
    """Issue 14's targets, as ratios of figures of this run."""
    def get(case, label, key="p50"):
        r = results.get((case, label))
        return r and (r[key] if key != "cpu_by" else r.get("cpu_by"))

    print()
    print("targets (ratios within this run):")
    d, r, b = get("json no-op", "daemon"), get("json no-op", "relay"), get("json no-op", "direct")
    if d and r:
        print("  json no-op p50 / relay floor          %5.2fx  (target <= 1.10x)" % (d / r))
    dby, rby, bby = (get("json no-op", x, "cpu_by") for x in ("daemon", "relay", "direct"))
    if dby and rby and "hotloadd" in dby and "relay" in rby:
        print("  hotloadd CPU / relay CPU per no-op    %5.2fx  (target <= 1.20x)"
              % (dby["hotloadd"][0] / rby["relay"][0]))
    if dby and bby and "worker" in dby and "direct" in bby:
        print("  agent CPU / direct server CPU         %5.2fx  (target <= 1.20x)"
              % (dby["worker"][0] / bby["direct"][0]))
    d8, b8 = get("json 8 KiB", "daemon"), get("json 8 KiB", "direct")
    if d8 and b8 and r and b:
        print("  json 8 KiB / (direct 8 KiB + hop)     %5.2fx  (target <= 1.20x)"
              % (d8 / (b8 + (r - b))))
    dn = get("json no-op", "daemon")
    if d8 and dn:
        print("  json 8 KiB - json no-op               %s" % fmt_time(d8 - dn))
    f8, fb8 = get("jsonb 8 KiB", "daemon"), get("jsonb 8 KiB", "direct")
    if f8 and fb8 and r and b:
        print("  jsonb 8 KiB / (direct jsonb + hop)    %5.2fx  (target <= 1.20x)"
              % (f8 / (fb8 + (r - b))))
    if f8 and dn:
        print("  jsonb 8 KiB - json no-op              %s" % fmt_time(f8 - dn))
    rd, rb = get("raw no-op", "daemon"), get("raw no-op", "direct")
    if rd and rb:
        # a connection per request, against the original project's design
        # (accept, read to EOF, exec, reply, close): the direct server
        print("  raw no-op p50 / direct (original)     %5.2fx  (target <= 1.20x)" % (rd / rb))
    rr = get("raw no-op", "relay")
    if rr and rb:
        # what any design with a second process between client and
        # interpreter starts from: bytes passed on, nothing else
        print("  raw no-op: relay floor / direct       %5.2fx  (the hop alone)" % (rr / rb))


def concurrent_client(path, target, mode, n, barrier, results, code="pass", warm=20):
    """One of the concurrent clients: n requests running code (no-ops by
    default), in JSON mode on a connection of its own or in raw mode with a
    connection each, once every client has warmed up (warm requests); puts
    (start, end, its own CPU seconds meanwhile) on results."""
    c = Client(path, target)

    def once():
        if mode == "json":
            c.json_exec(code)
        else:
            c.raw(code)

    if mode == "json":
        c.json_open()
    try:
        for _ in range(warm):
            once()
        barrier.wait(120)
        t0, cpu0 = time.perf_counter(), time.process_time()
        for _ in range(n):
            once()
        results.put((t0, time.perf_counter(), time.process_time() - cpu0))
    finally:
        c.json_close()


def run_concurrency(args, servers, code="pass", n=None, what="no-ops", warm=20):
    """--clients processes sending requests (no-ops unless code says
    otherwise; n each, default --n-concurrent) at once to each server in
    turn; aggregate requests/s (all of them over the time from the first
    start to the last end), best of --rounds, the servers alternating from
    round to round as the other cases do, so that a slow spell of the
    machine does not fall on one server's rounds alone. servers: (label,
    mode, socket path, target); the direct server serves one connection at
    a time, so it is measured in raw mode only, alone and behind the relay.

    With each rate it prints how busy the whole machine was meanwhile (all
    CPUs, from /proc/stat: the whole host's in a container), the CPU time
    per request of the clients and the servers' processes together (theirs
    from /proc/PID/schedstat; the daemon's only with --daemon-pid), and the
    rate at which that cost would take every CPU: an estimate of the most
    the machine can do at that round's load, as the cost per request falls
    a little as the load rises. Returns ({label: req/s}, {label: (busy
    fraction, steal fraction, CPU seconds per request)}), the latter of
    each server's best round, left out where /proc could not be read."""
    n = args.n_concurrent if n is None else n
    print()
    print("%d concurrent clients (processes), %s, %d each, best of %d rounds:"
          % (args.clients, what, n, args.rounds))
    ctx = multiprocessing.get_context("fork")
    rates = {label: 0.0 for label, _, _, _ in servers}
    usage = {}
    for _ in range(args.rounds):
        for label, mode, path, target in servers:
            # this process waits at the barrier too, so that the machine's
            # CPU is sampled when the clients start their timed requests
            barrier, results = ctx.Barrier(args.clients + 1), ctx.Queue()
            procs = [ctx.Process(target=concurrent_client,
                                 args=(path, target, mode, n, barrier, results, code, warm))
                     for _ in range(args.clients)]
            for p in procs:
                p.start()
            # hotloadd, its workers and the other servers: an idle one
            # adds nothing
            pids = args.pinning.server_pids(args.daemon_pid)
            barrier.wait(120)
            before, servers_before = machine_sample(), cpu_sample(pids)
            spans = [results.get(timeout=600) for _ in procs]
            after, servers_after = machine_sample(), cpu_sample(pids)
            for p in procs:
                p.join()
            wall = max(e for _, e, _ in spans) - min(s for s, _, _ in spans)
            rate = args.clients * n / wall
            if rate > rates[label]:
                rates[label] = rate
                # hotloadd's CPU is known only with its pid; the figures of
                # a slower round must not stay next to this round's rate
                usage.pop(label, None)
                if before and after and after[2] > before[2] and servers_before \
                        and servers_after and (args.daemon_pid or path != args.socket):
                    busy, steal, total = (a - b for a, b in zip(after, before))
                    cpu = sum(c for _, _, c in spans) + \
                        (servers_after[0] - servers_before[0]) / 1e9
                    usage[label] = (busy / total, steal / total, cpu / (args.clients * n))
    ncpu = len(os.sched_getaffinity(0))  # unpinned here: every CPU it may use
    for label, _, _, _ in servers:
        line = "  %-24s %8.0f req/s" % (label, rates[label])
        if label in usage:
            busy, steal, per = usage[label]
            line += ("   machine %3.0f%% busy, %2.0f%% stolen, %s of CPU a request,"
                     " which at %.0f req/s would take all %d CPUs" % (
                         100 * busy, 100 * steal, fmt_time(per), ncpu / per, ncpu))
        print(line)
    return rates, usage


def run_work(args, servers, direct_path):
    """The concurrency case again with requests that do work: a pure-Python
    loop of --work-loops steps each, which a pool's workers can run side by
    side and a one-process server cannot. No target of the issue's is for
    this: it shows what a pool is for, where the no-op case shows what
    passing requests costs. Returns what run_concurrency does."""
    code = "x = 0\nfor i in range(%d):\n    x += i\n" % args.work_loops
    alone = Client(direct_path, args.target)
    alone.raw(code)  # compiled and warm
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        alone.raw(code)
        times.append(time.perf_counter() - t0)
    times.sort()
    work = [s for s in servers if s[1] == "json" or s[0] == "raw, direct"]
    rates, usage = run_concurrency(args, work, code, args.n_work,
                                   "each request a loop of %d steps (%s alone, direct)"
                                   % (args.work_loops, fmt_time(times[2])), warm=2)
    one, two = rates.get("json, pool of 1"), rates.get("json, pool of 2")
    direct = rates.get("raw, direct")
    if one and two:
        print("  json pool of 2 / pool of 1            %5.2fx  (no target: work, not no-ops)"
              % (two / one))
    if two and direct:
        print("  json pool of 2 / direct               %5.2fx  (no target: work, not no-ops)"
              % (two / direct))
    return rates, usage


class Pinning:
    """Where the processes run: the client (this process and what it
    starts to stand for a client) on one CPU, every server process (hotloadd,
    its workers, the direct server, the relay) on another, as the issue's
    reference figures were measured; None: wherever the kernel likes."""

    def __init__(self, spec, socket_path):
        self.client = self.server = None
        self.socket = socket_path
        self.extra = []  # server processes that are not the daemon's
        if spec:
            client, server = (int(x) for x in spec.split(","))
            self.client, self.server = {client}, {server}
            os.sched_setaffinity(0, self.client)

    def describe(self):
        if self.client is None:
            return "processes not pinned"
        return "client on CPU %d, servers on CPU %d" % (min(self.client), min(self.server))

    def server_pids(self, daemon_pid):
        """hotloadd, every worker and template it has, and the other servers."""
        pids = [daemon_pid] if daemon_pid else []
        if daemon_pid:
            pids += [w["pid"] for _, w in workers_and_templates(self.socket) if w.get("pid")]
        return pids + self.extra

    def apply(self, daemon_pid, cpus=None):
        """Pin every thread of every server process (to cpus if given)."""
        if self.server is None:
            return
        for pid in self.server_pids(daemon_pid):
            try:
                tids = [int(t) for t in os.listdir("/proc/%d/task" % pid)]
            except OSError:
                continue  # gone meanwhile
            for tid in tids:
                try:
                    os.sched_setaffinity(tid, cpus or self.server)
                except OSError:
                    pass

    def everywhere(self, daemon_pid):
        """Unpin all: clients and servers may use every CPU (concurrency)."""
        if self.server is None:
            return
        every = set(range(os.cpu_count() or 1))
        os.sched_setaffinity(0, every)
        self.apply(daemon_pid, every)

    def again(self, daemon_pid):
        """Pin as at the start, the processes started meanwhile included."""
        if self.server is None:
            return
        os.sched_setaffinity(0, self.client)
        self.apply(daemon_pid)

    def as_server(self):
        """A preexec_fn: the child runs where the servers do."""
        if self.server is None:
            return None
        return lambda: os.sched_setaffinity(0, self.server)


def workers_and_templates(path):
    """(target name, worker or template status) of everything the daemon runs."""
    for t in control(path, "status")["status"]["targets"]:
        for w in t.get("workers", []) + ([t["template"]] if t.get("template") else []):
            yield t["target"], w


def proc_status(pid, *keys):
    """Values (ints, kB for sizes) of /proc/PID/status fields."""
    got = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                got[k] = int(v.split()[0])
    return [got.get(k, 0) for k in keys]


def control(path, op, **fields):
    """One op on the daemon's control target; its done."""
    c = Client(path, "hotload")
    c.json_open()
    try:
        c.next_id += 1
        c.sock.sendall((json.dumps(dict(fields, id=c.next_id, op=op)) + "\n").encode())
        while True:
            ev = json.loads(c.reader.readline())
            if ev.get("event") == "done":
                return ev
    finally:
        c.json_close()


def run_big_output(args, daemon_pid):
    """--big-out-mib MiB of stdout to a JSON client and to a raw client,
    and the same bytes through a plain pipe; MiB/s of each and how much
    hotloadd's peak RSS grew (VmHWM, reset first through clear_refs)."""
    mib = args.big_out_mib
    code = ("import sys\nb = b'x' * (1 << 20)\nfor _ in range(%d):\n"
            "    sys.stdout.buffer.write(b)\nsys.stdout.flush()\n" % mib)
    print()
    print("%d MiB of stdout (MiB/s; hotloadd's peak RSS growth):" % mib)
    # The pipe and the raw client are read the same way: into one 1 MiB
    # buffer, bytes counted, nothing decoded or kept (what a client does
    # with the bytes is its own cost, the same whichever way they came).
    # The pipe is timed from its first byte: the daemon's worker is warm,
    # the pipe's interpreter has to start.
    chunk = bytearray(1 << 20)
    proc = subprocess.Popen([args.python, "-c", code], stdout=subprocess.PIPE,
                            preexec_fn=args.pinning.as_server())
    got = first = proc.stdout.readinto(chunk)
    t0 = time.perf_counter()
    while True:
        n = proc.stdout.readinto(chunk)
        if not n:
            break
        got += n
    t1 = time.perf_counter()
    proc.wait()
    plain = ((got - first) / MIB) / (t1 - t0)
    if got != mib << 20 or proc.returncode:
        raise SystemExit("bench: the plain pipe got %d bytes" % got)
    print("  %-22s %8.0f MiB/s" % ("plain pipe", plain))
    rates = {"plain pipe": plain}
    for mode in ("raw", "json"):
        c = Client(args.socket, args.target)
        try:
            with open("/proc/%d/clear_refs" % daemon_pid, "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass
        rss0, = proc_status(daemon_pid, "VmRSS")
        t0 = time.perf_counter()
        if mode == "raw":
            got = c.raw_count(code, chunk, b"OUTPUT: \n")
        else:
            # read as the Python client library reads: 256 KiB at a time
            c.json_open(256 << 10)
            try:
                got = c.json_count(code)
            finally:
                c.json_close()
        rate = mib / (time.perf_counter() - t0)
        hwm, = proc_status(daemon_pid, "VmHWM")
        if got != mib << 20:
            raise SystemExit("bench: %s client got %d bytes of %d MiB" % (mode, got, mib))
        rates[mode] = rate
        print("  %-22s %8.0f MiB/s  %5.2fx the pipe   RSS +%.1f MiB"
              % (mode + " client", rate, rate / plain, (hwm - rss0) / 1024))
    print("  target: >= 0.50x the pipe, RSS growth < 16 MiB")
    return rates


def run_cold_start(args):
    """A worker's first request after a stop (the worker starts), against
    python3 -c pass, alternating, --rounds x 5 times; medians."""
    starts, bare = [], []
    for _ in range(max(1, args.rounds) * 5):
        control(args.socket, "stop", target=args.target)
        c = Client(args.socket, args.target)
        c.json_open()
        try:
            t0 = time.perf_counter()
            c.json_exec("pass")
            starts.append(time.perf_counter() - t0)
        finally:
            c.json_close()
        t0 = time.perf_counter()
        subprocess.run([args.python, "-c", "pass"], check=True,
                       preexec_fn=args.pinning.as_server())
        bare.append(time.perf_counter() - t0)
    a, b = sorted(starts)[len(starts) // 2], sorted(bare)[len(bare) // 2]
    print()
    print("cold start (medians of %d): first no-op after a stop %s, python3 -c pass %s:"
          % (len(starts), fmt_time(a), fmt_time(b)))
    print("  difference %s  (target <= 30 ms)" % fmt_time(a - b))
    return {"first_request": a, "python_c_pass": b}


def run_new_worker(args, spec):
    """spec "LABEL,EXEC_TARGET,FORK_TARGET": two hooks of one interpreter
    with recycle_after: 1, spawn: exec and spawn: fork. Each request's
    worker is replaced after it, so the next request waits for a new one:
    its time, less a warm no-op's, is the new worker's start. Alternating,
    --rounds x 3 times; medians."""
    label, exec_target, fork_target = spec.split(",")
    times = {exec_target: [], fork_target: []}
    for target in (exec_target, fork_target):  # the template, the first start
        c = Client(args.socket, target)
        c.json_open()
        try:
            c.json_exec("pass")
        finally:
            c.json_close()
    for _ in range(max(1, args.rounds) * 3):
        for target in (exec_target, fork_target):
            time.sleep(0.3)  # the last worker is gone: nothing else runs
            c = Client(args.socket, target)
            c.json_open()
            try:
                t0 = time.perf_counter()
                c.json_exec("pass")
                times[target].append(time.perf_counter() - t0)
            finally:
                c.json_close()
    # ns=isolated on the fork target: a fork per request, against a warm
    # no-op of the same connection
    iso = []
    c = Client(args.socket, fork_target)
    c.json_open()
    try:
        for _ in range(max(1, args.rounds) * 10):
            t0 = time.perf_counter()
            c.json_exec("pass", ns="isolated")
            iso.append(time.perf_counter() - t0)
            time.sleep(0.05)
    finally:
        c.json_close()
    med = {t: sorted(v)[len(v) // 2] for t, v in times.items()}
    med_iso = sorted(iso)[len(iso) // 2]
    print()
    print("new %s worker, first no-op included (medians of %d): spawn: exec %s, "
          "spawn: fork %s, %.1fx faster" % (label, len(times[exec_target]),
                                          fmt_time(med[exec_target]),
                                          fmt_time(med[fork_target]),
                                          med[exec_target] / med[fork_target]))
    print("  ns=isolated no-op (a fork of its own per request, median of %d): %s"
          % (len(iso), fmt_time(med_iso)))
    return {"exec": med[exec_target], "fork": med[fork_target], "isolated": med_iso}


def run_idle(args, daemon_pid, pool2_target):
    """hotloadd with 3 warm workers (the main target's and pool2's two),
    left alone for --idle seconds: its wake-ups and RSS."""
    control(args.socket, "start", targets=[args.target, pool2_target])
    # Left alone means with nothing under way: a worker recycled by an
    # earlier case (a Blender one takes a second or more to exit) or one
    # still starting would be counted as wake-ups of an idle daemon.
    start = time.monotonic()
    seen = set()
    while time.monotonic() < start + 60:
        busy = ["%s %s" % (target, w.get("state"))
                for target, w in workers_and_templates(args.socket)
                if w.get("state") != "idle"]
        if not busy:
            break
        seen.update(busy)
        time.sleep(0.2)
    if seen:
        print()
        print("idle: waited %.1f s for workers to settle (%s)"
              % (time.monotonic() - start, ", ".join(sorted(seen))))
    # hotloadd gives memory back once no request is left, at most once a
    # second (a timer for the rest of the second): past 2 s of the status
    # call above, that is done too.
    time.sleep(2)
    wakeups, rss = idle_sample(args, daemon_pid)
    workers = sum(1 for t in control(args.socket, "status")["status"]["targets"]
                  for _ in t.get("workers", []))
    print()
    print("idle %g s, %d warm workers: hotloadd woke %d times, RSS %.1f MiB"
          % (args.idle, workers, wakeups, rss / 1024))
    # An editor, a notebook or an MCP server stays connected: the same,
    # after a request of 8 MiB of output, one of a 1 MiB script and one of
    # a 200 KiB script (less than the input buffer a connection keeps) on a
    # connection that stays open.
    client = Client(args.socket, args.target)
    client.json_open()
    try:
        if client.json_count("import sys; sys.stdout.write('x' * (8 << 20))") != 8 << 20:
            raise SystemExit("bench: the idle case's output came back short")
        client.json_exec("pass\n" + "#" * (1 << 20), framed=True)
        client.json_exec("pass\n" + "#" * (200 << 10), framed=True)
        time.sleep(2)
        conn_wakeups, conn_rss = idle_sample(args, daemon_pid)
    finally:
        client.json_close()
    print("  the same with a client connected (after 8 MiB out, 1 MiB and 200 KiB in):"
          " woke %d times, RSS %.1f MiB" % (conn_wakeups, conn_rss / 1024))
    print("  target: no wake-ups without a watchdog, RSS < 4 MiB")
    return {"wakeups": wakeups, "rss_kib": rss, "workers": workers,
            "connected_wakeups": conn_wakeups, "connected_rss_kib": conn_rss}


def idle_sample(args, daemon_pid):
    """hotloadd's wake-ups in --idle seconds, and its RSS (KiB) after them."""
    vol0, inv0 = proc_status(daemon_pid, "voluntary_ctxt_switches",
                             "nonvoluntary_ctxt_switches")
    time.sleep(args.idle)
    vol1, inv1 = proc_status(daemon_pid, "voluntary_ctxt_switches",
                             "nonvoluntary_ctxt_switches")
    rss, = proc_status(daemon_pid, "VmRSS")
    return (vol1 - vol0) + (inv1 - inv0), rss


def run_extra(args, target, daemon):
    """No-ops against another target of the daemon, in rounds alternating
    with the main target, and the p50 ratio extra/main of the same rounds
    (for the hooks run.sh writes: benchwatch is benchpy with 2,000 modules
    under a watch root, so the ratio is what watching costs a request)."""
    print()
    print("target %s against %s, alternating (ratio: p50 %s / p50 %s):"
          % (target, args.target, target, args.target))
    extra = Client(args.socket, target)
    extra.label = target
    n = max(1, args.n // 2)
    for name, mode, code, expected in CASES:
        if "no-op" not in name:
            continue
        lats = {args.target: [], target: []}
        walls = {args.target: 0.0, target: 0.0}
        for i in range(args.rounds):
            for c, label in ((daemon, args.target), (extra, target)):
                lat, wall = run_case(c, name, mode, code, expected,
                                     max(1, n // args.rounds), 20 if i == 0 else 5)
                lats[label].append(lat)
                walls[label] += wall
        stats = {k: summarize(v, walls[k]) for k, v in lats.items()}
        for label in (args.target, target):
            print_row(name, label[:7], stats[label])
        print("  %-12s p50 %5.2fx" % (name, stats[target]["p50"] / stats[args.target]["p50"]))


def main():
    """Parse arguments, run every case against both servers, print the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--socket", required=True, help="hotloadd's Unix socket")
    ap.add_argument("--target", required=True, help="the target to use, e.g. python:3")
    ap.add_argument("--python", default=sys.executable,
                    help="interpreter for the direct server (use the worker's)")
    ap.add_argument("-n", type=int, default=2000, help="round trips per small case")
    ap.add_argument("--n-big", type=int, default=50, help="round trips per 1 MiB case")
    ap.add_argument("--rounds", type=int, default=4,
                    help="alternate the servers this many times per case")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--relay", action="store_true",
                    help="also run the JSON no-op through socat in front of the direct "
                         "server: the floor for any two-hop design on this machine")
    ap.add_argument("--extra-target", action="append", default=[], metavar="TARGET",
                    help="also time no-ops against this target through the daemon only "
                         "(e.g. python:3, the built-in hook that searches PATH)")
    ap.add_argument("--daemon-pid", type=int, default=0,
                    help="hotloadd's pid: also report the CPU time the daemon and its "
                         "worker spend per request")
    ap.add_argument("--relay-bin", default="",
                    help="the relay program to put in front of the direct server (relay.c, "
                         "built by run.sh); default socat")
    ap.add_argument("--json-out", default="", help="also write the figures here, as JSON")
    ap.add_argument("--pool2-target", default="",
                    help="a target of the same interpreter with a pool of 2 workers: run "
                         "the concurrency case against it too")
    ap.add_argument("--clients", type=int, default=8, help="concurrent clients")
    ap.add_argument("--new-worker", action="append", default=[],
                    metavar="LABEL,EXEC_TARGET,FORK_TARGET",
                    help="time a new worker of two hooks with recycle_after: 1, one "
                         "spawn: exec, one spawn: fork")
    ap.add_argument("--big-out-mib", type=int, default=256,
                    help="MiB of stdout for the big-output case (0: none)")
    ap.add_argument("--idle", type=float, default=10,
                    help="seconds the idle case leaves the daemon alone (0: none)")
    ap.add_argument("--n-concurrent", type=int, default=500,
                    help="no-ops per concurrent client (0: no concurrency case)")
    ap.add_argument("--work-loops", type=int, default=25000,
                    help="steps of the loop each request runs in the concurrency case "
                         "with work (0: no such case)")
    ap.add_argument("--n-work", type=int, default=25,
                    help="requests per client in the concurrency case with work")
    ap.add_argument("--pin", default="0,1" if (os.cpu_count() or 1) >= 2 else "",
                    metavar="CLIENT_CPU,SERVER_CPU",
                    help="run the client on one CPU and every server process on another "
                         "(default 0,1 where there are 2 CPUs; '' for no pinning); the "
                         "concurrency case runs unpinned")
    args = ap.parse_args()
    args.pinning = Pinning(args.pin, args.socket)

    tmp = tempfile.mkdtemp(prefix="hotload-bench-")
    direct_path = os.path.join(tmp, "direct.sock")
    relay_path = os.path.join(tmp, "relay.sock")
    procs = [start_direct(args.python, direct_path)]
    try:
        daemon = Client(args.socket, args.target)
        daemon.label = "daemon"
        base = Client(direct_path, args.target)
        base.label = "direct"
        args.pinning.extra.append(procs[0].pid)
        base.pids = [procs[0].pid]
        base.pid_names = ["direct"]
        relay = None
        if args.relay:
            proc = start_relay(relay_path, direct_path, args.relay_bin)
            if proc:
                procs.append(proc)
                args.pinning.extra.append(proc.pid)
                relay = Client(relay_path, args.target)
                relay.label = "relay"
                relay.pids = [proc.pid, procs[0].pid]
                relay.pid_names = ["relay", "direct"]
            else:
                print("bench: no relay (no --relay-bin, no socat): --relay skipped")
        # Make sure the worker is up before anything is timed.
        t0 = time.perf_counter()
        first = daemon.raw("import sys; print(sys.version.split()[0], sys.executable)")
        cold = time.perf_counter() - t0
        if args.daemon_pid:
            worker = daemon.raw("import os; print(os.getpid())")
            daemon.pids = [args.daemon_pid, int(raw_stdout(worker))]
            daemon.pid_names = ["hotloadd", "worker"]
        args.pinning.apply(args.daemon_pid)
        print("hotload bench: target %s (worker: Python %s), direct: %s"
              % (args.target, raw_stdout(first).strip(), args.python))
        print("first request (worker start if it was cold): %s" % fmt_time(cold))
        print("%d rounds per case, servers alternating; client: Python %s; %d CPUs, %s"
              % (args.rounds, sys.version.split()[0], os.cpu_count() or 0,
                 args.pinning.describe()))
        if relay:
            print("relay = %s between the client and the direct server"
                  % ("relay.c (bytes only, libuv)" if args.relay_bin else "socat"))
        print()
        print("%-12s %-7s %6s %10s %10s %10s %10s" % ("case", "server", "n", "p50", "p99",
                                                   "mean", "req/s"))
        results = run_cases(args, (daemon, base), relay)
        print_ratios(results)
        print_cpu(results)
        print_targets(results)
        if args.n_concurrent > 0 and not args.only:
            servers = []
            for mode in ("json", "raw"):
                servers.append(("%s, pool of 1" % mode, mode, args.socket, args.target))
                if args.pool2_target:
                    servers.append(("%s, pool of 2" % mode, mode, args.socket,
                                    args.pool2_target))
            servers.append(("raw, direct", "raw", direct_path, args.target))
            if relay:
                # the floor of a second hop under load: the relay, which
                # only passes bytes, in front of the same direct server
                servers.append(("raw, relay to direct", "raw", relay_path, args.target))
            args.pinning.everywhere(args.daemon_pid)
            try:
                rates, usage = run_concurrency(args, servers)
            finally:
                args.pinning.again(args.daemon_pid)
            results[("concurrency", "rates")] = rates
            results[("concurrency", "machine")] = usage
            for mode in ("json", "raw"):
                one, two = rates.get("%s, pool of 1" % mode), rates.get("%s, pool of 2" % mode)
                if one and two:
                    print("  %-4s pool of 2 / pool of 1            %5.2fx  (target >= 1.60x)"
                          % (mode, two / one))
            best, direct = rates.get("json, pool of 2"), rates.get("raw, direct")
            if best and direct:
                print("  json pool of 2 / direct               %5.2fx  (target >= 1.00x)"
                      % (best / direct))
            floor = rates.get("raw, relay to direct")
            if floor and direct:
                print("  raw relay to direct / direct          %5.2fx  (the hop alone)"
                      % (floor / direct))
            raw2 = rates.get("raw, pool of 2")
            if floor and raw2:
                print("  raw pool of 2 / relay to direct       %5.2fx  (against the hop's floor)"
                      % (raw2 / floor))
            if args.work_loops > 0 and args.pool2_target:
                args.pinning.everywhere(args.daemon_pid)
                try:
                    (results[("concurrency with work", "rates")],
                     results[("concurrency with work", "machine")]) = run_work(
                        args, servers, direct_path)
                finally:
                    args.pinning.again(args.daemon_pid)
        if not args.only and args.daemon_pid:
            if args.big_out_mib > 0:
                results[("big output", "MiB/s")] = run_big_output(args, args.daemon_pid)
            results[("cold start", "s")] = run_cold_start(args)
            for spec in args.new_worker:
                results[("new worker", spec.split(",")[0])] = run_new_worker(args, spec)
            if args.idle > 0 and args.pool2_target:
                results[("idle", "daemon")] = run_idle(args, args.daemon_pid,
                                                       args.pool2_target)
        if args.json_out:
            with open(args.json_out, "w") as f:
                json.dump({"%s|%s" % k: v for k, v in results.items()}, f, indent=1,
                          default=list)
            print("results: %s" % args.json_out)
        for target in args.extra_target:
            run_extra(args, target, daemon)
    finally:
        for proc in procs:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
