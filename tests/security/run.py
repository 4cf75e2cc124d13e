#!/usr/bin/env python3
"""hotload attack suite: a second local user against a real hotloadd.

    python3 tests/security/run.py --hotloadd build/bin/hotloadd --hotloadctl build/bin/hotloadctl
    python3 tests/security/run.py ... --only close-race,flood -v
    python3 tests/security/run.py --list

Run as root (CI does): it creates the users hlvictim and hlattacker and the
group hlshared (idempotently; they are left in place), runs hotloadd as
hlvictim with temporary configurations under /tmp/hl-sec-XXXXXXXX, and
attacks it as hlattacker (and as a web page in the victim's browser, from
captured bytes). Attack code that gets run leaves a marker file in a
directory only the victim can write, so a marker means the attacker's code
ran as the victim.

One line per attack and case: PASS (the attack was stopped) or FAIL (it
worked, or the daemon broke under it), with figures. Exit status: 0 all
passed; 1 an attack worked or a check could not be done; 2 bad usage;
77 not root (CTest skips). The binaries also come from $HOTLOAD_SEC_HOTLOADD
and $HOTLOAD_SEC_HOTLOADCTL; --chromium PATH (or $HOTLOAD_SEC_CHROMIUM) also
runs real Chromium as the victim. Standard library only; see README.md.
"""
import argparse
import collections
import grp
import json
import os
import random
import re
import resource
import select
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seclib as L  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures")

RESULTS = []


def result(name, ok, detail):
    RESULTS.append((name, ok, detail))
    print("%s  %-28s %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)


def sanitizer_check(name, daemon):
    rep = daemon.sanitizer_report()
    if rep:
        result(name + "/sanitizer", False, "sanitizer report in the daemon's log:\n" + rep)


def start_daemon(env, name, tcp=True, compat=False, extra="", hooks_dirs=None, nofile=None,
                 unix=True):
    tcp_port = L.free_port() if tcp else None
    compat_port = L.free_port() if compat else None
    cfg, sock = L.base_config(env, name, tcp_port, compat_port, extra, hooks_dirs, unix)
    d = L.Daemon(env, name, cfg, unix=sock, tcp_port=tcp_port, nofile=nofile)
    d.compat_port = compat_port
    if not d.start():
        raise RuntimeError("%s: the daemon did not start: %s" % (name, d.log_tail()))
    return d


def warm(env, d):
    ok, out = L.served(env, d)
    if not ok:
        raise RuntimeError("%s: cannot warm python:3: %s" % (d.name, out))


# ---------------------------------------------------------------------------
# attacker-side helpers (run in forked children as the attacker)


def hit_and_close(port, payloads, pause=0.0):
    """Connect, send, close at once (no reading): the owner-check race."""
    refused = 0
    for p in payloads:
        s = socket.socket()
        try:
            s.connect(("127.0.0.1", port))
            s.sendall(p)
        except OSError:
            refused += 1
        finally:
            s.close()
        time.sleep(pause)
    return {"tries": len(payloads), "connect_errors": refused}


def hold_listeners(ctl, n, port):
    """Hold n idle listening sockets (127.1.x.y:port): rows in /proc/net/tcp."""
    socks = []
    for i in range(n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.%d.%d.%d" % (1 + i // 62500, (i // 250) % 250, 1 + i % 250), port))
        s.listen(1)
        socks.append(s)
    ctl.ready(len(socks))
    ctl.wait_stop()
    for s in socks:
        s.close()
    return len(socks)


def hold_conns(ctl, n, port):
    """n idle established connections to our own listener: 2n sockets."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    ls.setblocking(False)
    cs, ss = [], []
    for _ in range(n):
        c = socket.socket()
        c.connect(("127.0.0.1", port))
        cs.append(c)
        while True:
            try:
                a, _ = ls.accept()
                ss.append(a)
            except BlockingIOError:
                break
    while len(ss) < n:
        r, _, _ = select.select([ls], [], [], 5)
        if not r:
            break
        try:
            a, _ = ls.accept()
            ss.append(a)
        except BlockingIOError:
            pass
    ctl.ready(len(cs) + len(ss))
    ctl.wait_stop()
    for s in cs + ss:
        s.close()
    ls.close()
    return len(cs) + len(ss)


def flood(ctl, port, seconds, hold, rate=None):
    """Connect to port as fast as possible (or rate a second) for seconds,
    keeping the last `hold` connections open; the oldest are reset (no
    TIME_WAIT, no exhausted ports)."""
    linger = struct.pack("ii", 1, 0)
    q = collections.deque()
    n = errs = 0
    ctl.ready(None)
    start = time.monotonic()
    end = start + seconds
    while time.monotonic() < end:
        if rate:
            ahead = start + n / rate - time.monotonic()
            if ahead > 0:
                time.sleep(ahead)
        for _ in range(1 if rate else 50):
            s = socket.socket()
            s.setblocking(False)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, linger)
            e = s.connect_ex(("127.0.0.1", port))
            if e not in (0, 115):  # EINPROGRESS
                errs += 1
            q.append(s)
            n += 1
            if len(q) > hold:
                q.popleft().close()
    for s in q:
        s.close()
    return {"connects": n, "errors": errs, "rate": n / seconds}


# ---------------------------------------------------------------------------
# 1. the TCP owner check, raced by closing at once


def settle(env, d, timeout=60):
    """Wait until the daemon has worked through what the attacker sent: it
    runs a victim request again (a full queue answers QueueFull)."""
    time.sleep(1.0)
    end = time.monotonic() + timeout
    while time.monotonic() < end and d.alive():
        ok, why = L.as_user(env.victim, L.victim_exec, ("unix", d.unix), "pass", timeout=90)
        if ok:
            break
        time.sleep(0.5)
    time.sleep(0.3)


def attack_close_race(env, opts):
    tries = opts.tries
    d = start_daemon(env, "race", tcp=True, compat=True)
    try:
        warm(env, d)
        att = env.attacker
        cases = [
            ("raw", d.tcp_port, 0,
             [b"python:3\n" + env.marker_code("raw-%d" % i).encode() for i in range(tries)]),
            ("json", d.tcp_port, 0,
             [b"python:3 mode=json\n" + json.dumps(
                 {"id": 1, "op": "exec", "code": env.marker_code("json-%d" % i)}).encode() + b"\n"
              for i in range(tries)]),
            # the compat port, with the machine full of the attacker's idle
            # sockets (each makes a /proc/net/tcp lookup slower)
            ("compat", d.compat_port, opts.idle_compat,
             [env.marker_code("compat-%d" % i).encode() for i in range(tries)]),
        ]
        for kind, port, idle, payloads in cases:
            t0 = time.monotonic()
            bg = None
            if idle:
                bg = L.Background(att, hold_listeners, idle, L.free_port(), nofile=idle + 100)
                env.backgrounds.append(bg)
                idle = bg.wait_ready(120)
            rounds = tried = errs = 0
            # A burst: the later connections wait in the accept queue
            # while the daemon checks the earlier ones, and are closed by
            # the time it looks at them. Up to three bursts while none ran.
            while rounds < 3 and not env.markers(kind + "-"):
                st = L.as_user(att, hit_and_close, port, payloads, timeout=300)
                rounds += 1
                tried += st["tries"]
                errs += st["connect_errors"]
                settle(env, d)
            ran = env.markers(kind + "-")
            if bg:
                bg.stop()
            ok_srv, why = L.served(env, d)
            result("close-race/" + kind, not ran and ok_srv,
                   "%d of %d closed-at-once requests ran as the victim%s%s; %s (%.1f s)"
                   % (len(ran), tried, " (connect errors %d)" % errs if errs else "",
                      " (attacker holding %d idle sockets)" % idle if idle else "", why,
                      time.monotonic() - t0))
        # the control target: shutdown, sent the same way
        payload = b'hotload mode=json\n{"id":1,"op":"shutdown"}\n'
        t0 = time.monotonic()
        st = L.as_user(att, hit_and_close, d.tcp_port, [payload] * tries, timeout=120)
        time.sleep(1.0)
        alive = d.alive()
        ok_srv, why = L.served(env, d) if alive else (False, "")
        result("close-race/control-shutdown", alive and ok_srv,
               "%d closed-at-once 'shutdown' requests: %s (%.1f s)"
               % (st["tries"], why if alive else "the daemon stopped (exit status %s)"
                  % d.proc.poll(), time.monotonic() - t0))
    finally:
        d.stop()
        sanitizer_check("close-race", d)


# ---------------------------------------------------------------------------
# 8a. refusals are logged at warning with the uid (same kind of daemon)


def attacker_live_requests(tcp_port, compat_port, code):
    out = {}
    out["tcp"] = L.raw(("tcp", tcp_port), b"python:3\n" + code.encode(), timeout=10)
    out["compat"] = L.raw(("tcp", compat_port), code.encode(), timeout=10)
    return out


def attack_refusal_log(env, opts):
    d = start_daemon(env, "reflog", tcp=True, compat=True)
    try:
        warm(env, d)
        replies = L.as_user(env.attacker, attacker_live_requests, d.tcp_port, d.compat_port,
                            env.marker_code("reflog"))
        time.sleep(0.5)
        ran = env.markers("reflog")
        uid = env.attacker.uid
        lines = [l for l in d.log().splitlines()
                 if "warning" in l.lower() and re.search(r"\buid %d\b" % uid, l)]
        refused = all(b"PermissionDenied" in r for r in replies.values())
        result("refusal-log", bool(lines) and refused and not ran,
               "attacker (uid %d) on TCP and compat: %s; %d warning line(s) with its uid%s"
               % (uid, "both refused with PermissionDenied" if refused else
                  "replies %r" % {k: v[:80] for k, v in replies.items()},
                  len(lines), (": " + lines[0].strip()[:160]) if lines else
                  " (log: %s)" % d.log_tail(3)))
    finally:
        d.stop()
        sanitizer_check("refusal-log", d)


# ---------------------------------------------------------------------------
# 2. the /tmp/hotload-UID fallback


def runtime_path(env):
    return "/tmp/hotload-%d" % env.victim.uid


def remove_runtime_dir(env):
    p = runtime_path(env)
    if os.path.islink(p) or os.path.isfile(p):
        os.unlink(p)
    elif os.path.isdir(p):
        shutil.rmtree(p, ignore_errors=True)


def attacker_prepare_rtdir(case, path, target):
    """As the attacker: (a) a 0777 dir, (b) a symlink to our dir, (c) our
    read-only dir; no socket yet."""
    if case == "world-writable":
        os.mkdir(path)
        os.chmod(path, 0o777)
    elif case == "symlink":
        os.makedirs(target, exist_ok=True)
        os.chmod(target, 0o777)
        os.symlink(target, path)
    elif case == "attacker-readonly":
        os.mkdir(path)
        os.chmod(path, 0o555)
    return True


def fake_listener(ctl, dirpath, readonly):
    """As the attacker: a listener at DIR/hotloadd.sock that records who
    connects and what they send."""
    if readonly:
        os.chmod(dirpath, 0o755)
    sp = os.path.join(dirpath, "hotloadd.sock")
    try:
        os.unlink(sp)
    except FileNotFoundError:
        pass
    ls = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    ls.bind(sp)
    os.chmod(sp, 0o777)
    ls.listen(16)
    if readonly:
        os.chmod(dirpath, 0o555)
    ctl.ready(sp)
    got = []
    while not ctl.stopping():
        r, _, _ = select.select([ls, ctl.rfd], [], [], 0.2)
        if ls in r:
            c, _ = ls.accept()
            c.settimeout(1.0)
            data = b""
            try:
                while True:
                    x = c.recv(65536)
                    if not x:
                        break
                    data += x
            except OSError:
                pass
            got.append(data[:300])
            c.close()
    ls.close()
    return got


def hotloadctl_as_victim(env, opts, argv, extra_env=None, timeout=20):
    e = env.victim.env(XDG_RUNTIME_DIR=None, HOTLOAD_SOCKET=None, HOTLOAD_TCP=None,
                       **(extra_env or {}))
    e = L.sanitizer_env(e)
    p = subprocess.run([opts.hotloadctl] + argv, user=env.victim.uid, group=env.victim.gid,
                       extra_groups=env.victim.groups, env=e, cwd="/", stdin=subprocess.DEVNULL,
                       capture_output=True, timeout=timeout)
    return p.returncode, p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")


def attack_runtime_dir(env, opts):
    path = runtime_path(env)
    att = env.attacker
    tcp = L.free_port()
    cfgtext = 'listen:\n  tcp: "127.0.0.1:%d"\nhooks_dirs: []\nlog_level: info\n' % tcp
    remove_runtime_dir(env)
    try:
        # control: nothing there; the daemon makes it, hotloadctl uses it
        d = L.Daemon(env, "rtdir-ok", cfgtext, unix=os.path.join(path, "hotloadd.sock"),
                     tcp_port=tcp, extra_env={"XDG_RUNTIME_DIR": None})
        started = d.start()
        st = os.lstat(path) if os.path.lexists(path) else None
        rc, out, err = hotloadctl_as_victim(env, opts, ["exec", "python:3", "-c", "print(6*7)"])
        d.stop()
        sanitizer_check("runtime-dir/control", d)
        good = started and st is not None and st.st_uid == env.victim.uid and \
            (st.st_mode & 0o777) == 0o700 and rc == 0 and out.strip() == "42"
        result("runtime-dir/control", good,
               "no %s beforehand: daemon %s, dir %s, hotloadctl exec exit %d%s"
               % (path, "started" if started else "did not start: " + d.log_tail(3),
                  "%04o uid %d" % (st.st_mode & 0o7777, st.st_uid) if st else "missing", rc,
                  "" if rc == 0 else " (%s)" % err.strip()[:200]))
        for case in ("world-writable", "symlink", "attacker-readonly"):
            remove_runtime_dir(env)
            target = os.path.join(env.a, "rt-" + case)
            L.as_user(att, attacker_prepare_rtdir, case, path, target)
            real = target if case == "symlink" else path
            # the daemon must refuse to start, naming the path and the owner
            d = L.Daemon(env, "rtdir-" + case, cfgtext, unix=os.path.join(path, "hotloadd.sock"),
                         tcp_port=tcp, extra_env={"XDG_RUNTIME_DIR": None})
            d.start(wait=False)
            status = d.wait_exit(8)
            if status is None:
                listening = d.ping()
                d.stop()
                dmsg, dok = ("still running after 8 s%s" %
                             (", listening in the attacker's directory" if listening else ""),
                             False)
            else:
                text = d.log()
                named = (path in text or real in text)
                owner = (att.name in text or re.search(r"\b%d\b" % att.uid, text))
                dok = status != 0 and named and bool(owner)
                dmsg = "exited %d, %s" % (status, "message names path and owner" if dok else
                                          "message: %s" % d.log_tail(2)[:240])
            sanitizer_check("runtime-dir/" + case, d)
            # hotloadctl must not connect to a listener in it
            bg = L.Background(att, fake_listener, real, case == "attacker-readonly")
            env.backgrounds.append(bg)
            bg.wait_ready(20)
            try:
                rc, out, err = hotloadctl_as_victim(
                    env, opts, ["exec", "python:3", "-c", env.marker_code("rtdir")], timeout=20)
            except subprocess.TimeoutExpired:
                rc, out, err = None, "", "(hung for 20 s)"
            got = bg.stop()
            mentions = path in err or real in err
            cok = rc not in (0, None) and mentions and not got
            cmsg = "hotloadctl exit %s, %s, fake listener got %d connection(s)%s" % (
                rc, "names the directory" if mentions else "stderr %r" % err.strip()[:160],
                len(got), (" (%r)" % got[0][:80]) if got else "")
            result("runtime-dir/" + case, dok and cok, "daemon %s; %s" % (dmsg, cmsg))
    finally:
        remove_runtime_dir(env)


# ---------------------------------------------------------------------------
# 3. the user's hotloadd.yaml made writable by the attacker


def attacker_rewrite_config(case, path, agent):
    line = "agent: %s\n" % agent
    if case == "world-writable-file":
        with open(path, "a") as f:
            f.write(line)
    else:  # a writable directory: replace the file
        with open(path) as f:
            text = f.read()
        tmp = path + ".new"
        with open(tmp, "w") as f:
            f.write(text + line)
        os.chmod(tmp, 0o644)
        os.rename(tmp, path)
    return True


def attack_user_config(env, opts):
    v, att = env.victim, env.attacker
    confdir = os.path.join(v.home, ".config")
    hdir = os.path.join(confdir, "hotload")
    cfg = os.path.join(hdir, "hotloadd.yaml")
    evil = env.write(os.path.join(env.a, "evil_agent.py"), env.marker_code("agent"), att, 0o644)
    shared = grp.getgrnam(L.SHARED_GROUP).gr_gid

    def layout(dmode, fmode, group=None):
        shutil.rmtree(hdir, ignore_errors=True)
        if not os.path.isdir(confdir):
            os.mkdir(confdir)
        os.chown(confdir, v.uid, v.gid)
        os.chmod(confdir, 0o755)
        os.mkdir(hdir)
        os.chown(hdir, v.uid, group if group is not None else v.gid)
        os.chmod(hdir, dmode)
        port = L.free_port()
        sock = os.path.join(env.run, "ucfg.sock")
        text = ('listen:\n  unix: "%s"\n  tcp: "127.0.0.1:%d"\nhooks_dirs: []\nlog_level: info\n'
                % (sock, port))
        env.write(cfg, text, v, fmode)
        return sock, port

    try:
        sock, port = layout(0o700, 0o600)
        d = L.Daemon(env, "ucfg-ok", None, use_config=False, unix=sock, tcp_port=port,
                     extra_env={"XDG_CONFIG_HOME": None})
        started = d.start()
        ok = started and L.served(env, d)[0]
        d.stop()
        sanitizer_check("user-config/control", d)
        result("user-config/control", ok, "a safe ~/.config/hotload/hotloadd.yaml: daemon %s"
               % ("started and served" if ok else "failed: " + d.log_tail(3)))
        for case, dmode, fmode, group in (("world-writable-dir", 0o777, 0o644, None),
                                          ("world-writable-file", 0o755, 0o666, None),
                                          ("group-writable-dir", 0o775, 0o644, shared)):
            sock, port = layout(dmode, fmode, group)
            L.as_user(att, attacker_rewrite_config, case, cfg, evil)
            env.clear_markers("agent")
            d = L.Daemon(env, "ucfg-" + case, None, use_config=False, unix=sock, tcp_port=port,
                         extra_env={"XDG_CONFIG_HOME": None})
            started = d.start()
            if started:
                L.as_user(v, L.victim_exec, ("unix", sock), "print(1)", timeout=60)
                time.sleep(0.5)
                ran = env.markers("agent")
                d.stop()
                result("user-config/" + case, False,
                       "daemon started with the attacker's configuration; the attacker's agent "
                       "%s as the victim" % ("ran" if ran else "did not run (but was configured)"))
            else:
                status = d.wait_exit(10)
                text = d.log()
                named = cfg in text
                ok = status not in (0, None) and named and not env.markers("agent")
                result("user-config/" + case, ok,
                       "daemon refused to start (exit %s)%s" % (
                           status, ", naming the file" if named else
                           "; message: %s" % d.log_tail(2)[:200]))
            sanitizer_check("user-config/" + case, d)
    finally:
        shutil.rmtree(hdir, ignore_errors=True)


# ---------------------------------------------------------------------------
# 4. hooks directories and files the attacker controls


def hook_yaml(name, extra=""):
    return ('name: %s\ndescription: security suite\nhints:\n  linux:\n'
            '    - path: /usr/bin/python3\n      version: "3"\nmax_workers: 1\n'
            'startup_timeout: 30\n%s' % (name, extra))


def attacker_plant(paths_codes):
    for path, code in paths_codes:
        with open(path, "w") as f:
            f.write(code)
        os.chmod(path, 0o644)
    return True


def victim_import_csv(sock, targets):
    out = {}
    for t in targets:
        ok, detail = L.victim_exec(("unix", sock), "import csv\nprint(csv.__file__)", t, 60)
        out[t] = (ok, detail)
    return out


def attack_hooks(env, opts):
    v, att = env.victim, env.attacker
    shared = grp.getgrnam(L.SHARED_GROUP).gr_gid
    sticky = env.mkdir("shared/hooks-sticky", v, 0o1777)
    group = env.mkdir("shared/hooks-group", v, 0o775, group=shared)
    ppdir = env.mkdir("shared/hooks-pp", v, 0o755)
    pp = env.mkdir("shared/pp-sticky", v, 0o1777)
    env.write(os.path.join(sticky, "vsticky.yaml"), hook_yaml("vsticky"), v, 0o644)
    env.write(os.path.join(group, "vgroup.yaml"), hook_yaml("vgroup"), v, 0o644)
    env.write(os.path.join(ppdir, "vpp.yaml"), hook_yaml("vpp", "python_path: [%s]\n" % pp), v,
              0o644)
    L.as_user(att, attacker_plant, [
        (os.path.join(sticky, "csv.py"), env.marker_code("csv-sticky")),
        (os.path.join(group, "csv.py"), env.marker_code("csv-group")),
        (os.path.join(pp, "csv.py"), env.marker_code("csv-pythonpath")),
    ])
    d = start_daemon(env, "hooks", tcp=False, hooks_dirs=[sticky, group, ppdir])
    try:
        res = L.as_user(v, victim_import_csv, d.unix,
                        ["vsticky:3", "vgroup:3", "vpp:3", "python:3"], timeout=200)
        time.sleep(0.3)
        text = d.log()
        for case, target, where, mark in (("sticky-dir", "vsticky:3", sticky, "csv-sticky"),
                                          ("group-writable-dir", "vgroup:3", group, "csv-group"),
                                          ("python_path-sticky", "vpp:3", pp, "csv-pythonpath")):
            ran = env.markers(mark)
            ok, detail = res[target]
            warned = any(where in l and "warning" in l.lower() for l in text.splitlines())
            result("hooks/" + case, not ran,
                   "victim's 'import csv' on %s %s; reply: %s; %s" % (
                       target, "ran the attacker's csv.py" if ran else "did not run the planted "
                       "csv.py", ("ok " + detail.strip()) if ok else detail[:140],
                       "warning names %s" % where if warned else "no warning naming it"))
        ok_srv, why = L.served(env, d)
        csvfile = res["python:3"][1].strip()
        result("hooks/python:3", res["python:3"][0] and not csvfile.startswith(env.dir) and ok_srv,
               "plain python:3 'import csv': %s; %s" % (csvfile[:80], why))
    finally:
        d.stop()
        sanitizer_check("hooks", d)
    # a foreign and an unreadable hook file next to a good one
    mixed = env.mkdir("shared/hooks-mixed", v, 0o755)
    env.write(os.path.join(mixed, "good.yaml"), hook_yaml("vgood"), v, 0o644)
    foreign = env.write(os.path.join(mixed, "foreign.yaml"),
                        hook_yaml("vforeign", "initialize: %s" % json.dumps(
                            env.marker_code("foreign"))), att, 0o644)
    unreadable = env.write(os.path.join(mixed, "unreadable.yaml"), hook_yaml("vunread"), None,
                           0o600)
    tcp_port = None
    cfg, sock = L.base_config(env, "hooks-mixed", tcp_port, None, "", [mixed])
    d = L.Daemon(env, "hooks-mixed", cfg, unix=sock)
    try:
        started = d.start()
        if not started:
            result("hooks/foreign-and-unreadable", False,
                   "the daemon did not start: %s" % d.log_tail(2)[:300])
            return
        res = L.as_user(v, victim_import_csv, d.unix, ["vgood:3", "vforeign:3"], timeout=120)
        text = d.log()
        warn = {p: any(p in l and "warning" in l.lower() for l in text.splitlines())
                for p in (foreign, unreadable)}
        ran = env.markers("foreign")
        ok = res["vgood:3"][0] and not ran and all(warn.values())
        result("hooks/foreign-and-unreadable", ok,
               "daemon started; good hook %s; foreign hook's code %s; warnings: %s" % (
                   "served" if res["vgood:3"][0] else "failed: " + res["vgood:3"][1][:100],
                   "RAN" if ran else "did not run",
                   ", ".join("%s %s" % (os.path.basename(p), "named" if w else "NOT named")
                             for p, w in warn.items())))
    finally:
        d.stop()
        sanitizer_check("hooks/mixed", d)


# ---------------------------------------------------------------------------
# 5. a browser (the victim's own) talking to the TCP listeners


def load_fixtures(env):
    out = []
    for name, kind in (("http-nocors-post.bin", "http"), ("http-rebind-post.bin", "http"),
                       ("websocket-upgrade.bin", "http"), ("tls-clienthello-chromium.bin", "tls"),
                       ("tls-clienthello-openssl.bin", "tls")):
        with open(os.path.join(FIXTURES, name), "rb") as f:
            data = f.read()
        data = data.replace(L.PLACEHOLDER.encode(), env.dir.encode())
        out.append((name[:-4], kind, data))
    # not from a browser: an HTTP/2 prior-knowledge preface, and a request
    # whose method is not one a browser sends
    out.append(("h2-preface", "http", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"))
    out.append(("http-custom-method", "http",
                b"HOTLOAD /x HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n" + env.marker_code(
                    "pwned-custom").encode()))
    return out


def browser_send(port, data, wait):
    """What a browser does: send, keep the connection open, read."""
    s = socket.socket()
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
    except OSError:
        pass
    t0 = time.monotonic()
    reply = L.read_all(s, wait)
    closed = time.monotonic() - t0 < wait
    s.close()
    return reply, closed


def attack_browser(env, opts):
    d = start_daemon(env, "browser", tcp=True, compat=True)
    try:
        warm(env, d)
        for name, kind, data in load_fixtures(env):
            for where, port in (("compat", d.compat_port), ("main", d.tcp_port)):
                env.clear_markers("pwned-")
                reply, closed = L.as_user(env.victim, browser_send, port, data, 3.0, timeout=30)
                time.sleep(0.5 if where == "compat" else 0.1)
                ran = env.markers("pwned-")
                if kind == "http":
                    refusal = reply.startswith(b"HTTP/1.1 403") or reply.startswith(b"HTTP/1.0 403")
                else:
                    refusal = reply == b"" or reply[:1] == b"\x15"
                ok = not ran and refusal and closed
                first = reply.split(b"\n", 1)[0][:70]
                result("browser/%s@%s" % (name, where), ok,
                       "%s; reply %s%s" % ("CODE RAN as the victim" if ran else "no code ran",
                                          repr(first) if reply else "none",
                                          ", closed" if closed else ", left open 3 s"))
        ok_srv, why = L.served(env, d)
        result("browser/still-serving", ok_srv, why)
    finally:
        d.stop()
        sanitizer_check("browser", d)


def serve_page(ctl, port, page):
    """As the attacker: a web server with one hostile page."""
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    ctl.ready(None)
    served_n = 0
    while not ctl.stopping():
        r, _, _ = select.select([ls, ctl.rfd], [], [], 0.2)
        if ls not in r:
            continue
        c, _ = ls.accept()
        c.settimeout(2)
        try:
            req = c.recv(65536)
            body = page if req.startswith(b"GET / ") else b""
            c.sendall(b"HTTP/1.1 %s\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                      b"Connection: close\r\n\r\n" % (b"200 OK" if body else b"404 Not Found",
                                                      len(body)) + body)
            served_n += bool(body)
        except OSError:
            pass
        c.close()
    ls.close()
    return served_n


def attack_browser_live(env, opts):
    """Real Chromium, run as the victim, on a page the attacker serves."""
    if not opts.chromium:
        print("SKIP  %-28s no --chromium (or $HOTLOAD_SEC_CHROMIUM) given" % "browser-live",
              flush=True)
        return
    d = start_daemon(env, "live", tcp=True, compat=True)
    try:
        warm(env, d)
        js = []
        q3 = "'" * 3
        for where, port in (("compat", d.compat_port), ("main", d.tcp_port)):
            url = "http://127.0.0.1:%d/1if(0)else(0);%s" % (port, q3)
            body = q3 + "\n" + env.marker_code("live-" + where)
            js.append("fetch(%s, {method: 'POST', mode: 'no-cors', body: %s}).catch(() => {});"
                      % (json.dumps(url), json.dumps(body)))
            js.append("try { new WebSocket('ws://127.0.0.1:%d/ws'); } catch (e) {}" % port)
        page = ("<!doctype html><title>x</title><script>%s</script>" % "\n".join(js)).encode()
        pport = L.free_port()
        web = L.Background(env.attacker, serve_page, pport, page)
        env.backgrounds.append(web)
        web.wait_ready(20)
        profile = env.mkdir("v/chromium", env.victim, 0o700)
        p = subprocess.Popen(
            [opts.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
             "--no-first-run", "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--user-data-dir=" + profile, "http://127.0.0.1:%d/" % pport],
            user=env.victim.uid, group=env.victim.gid, extra_groups=env.victim.groups,
            env=env.victim.env(), cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(opts.chromium_seconds)
        try:
            os.killpg(p.pid, 9)
        except ProcessLookupError:
            pass
        p.wait()
        pages = web.stop()
        time.sleep(0.5)
        ran = env.markers("live-")
        ok_srv, why = L.served(env, d)
        result("browser-live/chromium", pages > 0 and not ran and ok_srv,
               "Chromium (as the victim) loaded the attacker's page %d time(s); %s; %s" % (
                   pages, "code ran on: " + ", ".join(ran) if ran else
                   "no code ran on the compat or the main port", why))
    finally:
        d.stop()
        sanitizer_check("browser-live", d)


# ---------------------------------------------------------------------------
# 6. floods


def victim_timed_requests(ctl, addr, start_after, seconds, period):
    """Time victim requests while the attacker floods."""
    ctl.ready(None)
    time.sleep(start_after)
    lat, fails = [], []
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        t0 = time.monotonic()
        if addr[0] == "unix":
            ok, out = L.victim_exec(addr, "print(1)", timeout=30)
        else:
            try:
                rep = L.raw(addr, b"python:3\nprint(1)\n", timeout=30)
                ok, out = rep == b"OUTPUT: \n1\n", rep[:100]
            except OSError as e:
                ok, out = False, str(e)
        lat.append(time.monotonic() - t0)
        if not ok:
            fails.append(out)
        time.sleep(period)
    return lat, fails


def fmt_lat(lat):
    if not lat:
        return "no requests"
    s = sorted(lat)
    return "%d requests, p50 %.0f ms, max %.0f ms" % (len(s), 1000 * s[len(s) // 2], 1000 * s[-1])


def attack_flood(env, opts):
    d = start_daemon(env, "flood", tcp=True)
    try:
        warm(env, d)
        secs = opts.flood_seconds
        flooders = [L.Background(env.attacker, flood, d.tcp_port, secs, 300, nofile=4096)
                    for _ in range(opts.flooders)]
        env.backgrounds.extend(flooders)
        for f in flooders:
            f.wait_ready(30)
        vic = L.Background(env.victim, victim_timed_requests, ("unix", d.unix), 1.0, secs - 2,
                           0.25)
        env.backgrounds.append(vic)
        vic.wait_ready(30)
        lat, fails = vic.stop(secs + 120)
        stats = [f.stop(60) for f in flooders]
        rate = sum(s["rate"] for s in stats)
        ok_srv, why = L.served(env, d)
        worst = max(lat) if lat else 99
        result("flood/unix-during-tcp-flood", worst < opts.flood_bound and not fails and ok_srv,
               "attacker %d conn/s on TCP for %d s: victim on the Unix socket: %s (bound %.1f s)%s"
               "; %s" % (rate, secs, fmt_lat(lat), opts.flood_bound,
                         "; failures: %s" % fails[:2] if fails else "", why))
    finally:
        for f in env.backgrounds:
            f.kill()
        d.stop()
        sanitizer_check("flood", d)
    # many idle sockets on the machine, the victim on TCP
    d = start_daemon(env, "idle", tcp=True)
    try:
        warm(env, d)
        base = L.as_user(env.victim, lambda: victim_timed_requests(_NoCtl(), ("tcp", d.tcp_port),
                                                                   0, 1.5, 0.05), timeout=60)[0]
        bg = L.Background(env.attacker, hold_conns, opts.idle_sockets // 2, L.free_port(),
                          nofile=opts.idle_sockets + 1000)
        env.backgrounds.append(bg)
        held = bg.wait_ready(180)
        # and a trickle of connections, far from a flood: with every
        # owner lookup reading all those sockets, even this adds up
        tr = L.Background(env.attacker, flood, d.tcp_port, 8, 50, opts.trickle_rate)
        env.backgrounds.append(tr)
        tr.wait_ready(30)
        lat, fails = L.as_user(env.victim, lambda: victim_timed_requests(
            _NoCtl(), ("tcp", d.tcp_port), 0.5, 6, 0.05), timeout=300)
        trs = tr.stop(120)
        bg.stop(120)
        ok_srv, why = L.served(env, d)
        p50 = sorted(lat)[len(lat) // 2] if lat else 99
        worst = max(lat) if lat else 99
        result("flood/tcp-with-idle-sockets",
               p50 < opts.idle_p50_bound and worst < opts.flood_bound and not fails and ok_srv,
               "victim TCP round trips: %s idle vs %s with the attacker holding %d sockets "
               "and connecting %.0f times a second (bounds p50 %.0f ms, max %.1f s)%s; %s" % (
                   fmt_lat(base), fmt_lat(lat), held, trs["rate"], 1000 * opts.idle_p50_bound,
                   opts.flood_bound, "; failures: %s" % fails[:2] if fails else "", why))
    finally:
        for f in env.backgrounds:
            f.kill()
        d.stop()
        sanitizer_check("flood/idle", d)


class _NoCtl:
    def ready(self, value=None):
        pass


# ---------------------------------------------------------------------------
# 7. an interrupt right after the request


def interrupt_race(sock, max_tries, budget, max_lost):
    c = L.JsonConn(("unix", sock), "python:3", 30)
    c.send({"id": 0, "op": "exec", "code": "pass"})
    c.done(0, 60)
    tries = acked = lost = unacked = 0
    slow = []
    end = time.monotonic() + budget
    rid = 1
    while tries < max_tries and time.monotonic() < end and lost < max_lost:
        ex, it = rid, rid + 1
        rid += 2
        exec_msg = {"id": ex, "op": "exec", "code": "import time; time.sleep(3)"}
        int_msg = {"id": it, "op": "interrupt"}
        t0 = time.monotonic()
        if tries % 2:
            c.send(exec_msg)
            c.send(int_msg)
        else:
            c.send(exec_msg, int_msg)
        got = {}
        while len(got) < 2:
            ev = c.event(30)
            if ev.get("event") == "done" and ev.get("id") in (ex, it):
                got[ev["id"]] = (ev, time.monotonic() - t0)
        tries += 1
        n = got[it][0].get("interrupted")
        etype = (got[ex][0].get("error") or {}).get("type")
        if n:
            acked += 1
            if etype != "KeyboardInterrupt":
                lost += 1
                slow.append(round(got[ex][1], 2))
        else:
            unacked += 1
    c.close()
    return {"tries": tries, "acked": acked, "lost": lost, "unacked": unacked, "lost_s": slow[:5]}


def attack_interrupt(env, opts):
    d = start_daemon(env, "intr", tcp=False)
    try:
        t0 = time.monotonic()
        st = L.as_user(env.victim, interrupt_race, d.unix, opts.interrupt_tries, 60, 5,
                       timeout=300)
        ok_srv, why = L.served(env, d)
        result("interrupt-race", st["lost"] == 0 and st["acked"] > 0 and ok_srv,
               "%d tries: %d acknowledged (interrupted>=1), %d of them lost (done was not "
               "KeyboardInterrupt%s), %d not acknowledged%s; %s (%.1f s)" % (
                   st["tries"], st["acked"], st["lost"],
                   ", after %s s" % st["lost_s"] if st["lost_s"] else "", st["unacked"],
                   "; stopped after %d losses" % st["lost"] if st["lost"] >= 5 else "", why,
                   time.monotonic() - t0))
    finally:
        d.stop()
        sanitizer_check("interrupt-race", d)


# ---------------------------------------------------------------------------
# 8b. a raw client that closes (not half-closes) while the worker is busy


def close_while_busy(sock, tcp_port, code_unix, code_tcp, code_half):
    busy = L.JsonConn(("unix", sock), "python:3", 30)
    busy.send({"id": 1, "op": "exec", "code": "import time; time.sleep(1.5)"})
    time.sleep(0.3)  # the worker has it now
    s = L.connect(("unix", sock))
    s.sendall(b"python:3\n" + code_unix.encode())
    time.sleep(0.2)
    s.close()
    s = L.connect(("tcp", tcp_port))
    s.sendall(b"python:3\n" + code_tcp.encode())
    time.sleep(0.2)
    s.close()
    # the control: half-closed properly, it must run
    h = L.connect(("unix", sock))
    h.sendall(b"python:3\n" + code_half.encode())
    h.shutdown(socket.SHUT_WR)
    busy.done(1, 30)
    half = L.read_all(h, 30)
    h.close()
    return half


def close_while_idle(sock, tcp_port, code_unix, code_tcp):
    """The same with the worker idle: the code and the close arrive together."""
    errors = []
    for addr, code in ((("unix", sock), code_unix), (("tcp", tcp_port), code_tcp)):
        try:
            s = L.connect(addr)
            s.sendall(b"python:3\n" + code.encode())
            s.close()
        except OSError as e:
            errors.append("%s: %s" % (addr[0], e))
        time.sleep(0.5)
    return errors


def attack_client_close(env, opts):
    d = start_daemon(env, "close", tcp=True)
    try:
        warm(env, d)
        half = L.as_user(env.victim, close_while_busy, d.unix, d.tcp_port,
                         env.marker_code("closed-unix"), env.marker_code("closed-tcp"),
                         env.marker_code("halfclosed"), timeout=120)
        time.sleep(1.0)
        m = env.markers()
        ran = [x for x in m if x.startswith("closed-")]
        ok = not ran and "halfclosed" in m
        result("client-close/busy-worker", ok,
               "closed (not half-closed) while the worker was busy: %s; half-closed control %s"
               % ("ran: " + ", ".join(ran) if ran else "neither the Unix nor the TCP one ran",
                  "ran" if "halfclosed" in m else "did NOT run (%r)" % half[:80]))
        errs = L.as_user(env.victim, close_while_idle, d.unix, d.tcp_port,
                         env.marker_code("idle-unix"), env.marker_code("idle-tcp"), timeout=60)
        time.sleep(0.5)
        ran = env.markers("idle-")
        ok_srv, why = L.served(env, d)
        result("client-close/idle-worker", not ran and ok_srv,
               "sent and closed at once with the worker idle: %s%s; %s" % (
                   "ran: " + ", ".join(ran) if ran else "neither the Unix nor the TCP one ran",
                   " (%s)" % "; ".join(errs) if errs else "", why))
    finally:
        d.stop()
        sanitizer_check("client-close", d)


# ---------------------------------------------------------------------------
# 8c. out of file descriptors


def exhaust_fds(sock, n, hold_s):
    cs = []
    errs = 0
    for _ in range(n):
        try:
            cs.append(L.connect(("unix", sock), 2))
        except OSError:
            errs += 1
    time.sleep(hold_s)
    for c in cs:
        c.close()
    return len(cs), errs


def attack_fd_exhaustion(env, opts):
    d = start_daemon(env, "fds", tcp=False, nofile=opts.fd_limit)
    try:
        warm(env, d)
        n, errs = L.as_user(env.victim, exhaust_fds, d.unix, 3 * opts.fd_limit, 1.5, timeout=60)
        time.sleep(0.5)
        text = d.log()
        pat = re.compile(r"too many open files|file descriptor|EMFILE|RLIMIT_NOFILE", re.I)
        lines = [l for l in text.splitlines() if "warning" in l.lower() and pat.search(l)]
        ok_srv = L.wait_for(lambda: L.served(env, d)[0], 10, 0.5)
        result("fd-exhaustion", bool(lines) and ok_srv,
               "daemon with RLIMIT_NOFILE %d, victim opened %d connections: %s; %s" % (
                   opts.fd_limit, n, "warning: " + lines[0].strip()[:150] if lines else
                   "no warning about file descriptors in the log",
                   "still serving" if ok_srv else "NOT serving afterwards"))
    finally:
        d.stop()
        sanitizer_check("fd-exhaustion", d)


# ---------------------------------------------------------------------------
# 9. the token


def token_requests(port, token, code):
    hdr = "python:3" + (" token=%s" % token if token is not None else "")
    return L.raw(("tcp", port), hdr.encode() + b"\n" + code.encode(), timeout=10)


def read_token(path):
    with open(path) as f:
        return f.read().strip()


def attack_token(env, opts):
    v = env.victim

    def check_config(text, name):
        p = env.write(os.path.join(env.v, name + ".yaml"), text, v, 0o600)
        d = L.Daemon(env, name, None, config_path=p)
        r = subprocess.run(d.cmd("--check-config"), user=v.uid, group=v.gid,
                           extra_groups=v.groups, env=L.sanitizer_env(v.env()), cwd="/",
                           capture_output=True, timeout=60)
        return r.returncode, (r.stdout + r.stderr).decode("utf-8", "replace").strip()

    port = L.free_port()
    sock = os.path.join(env.run, "tok.sock")
    rc, out = check_config('listen:\n  unix: "%s"\n  tcp: "0.0.0.0:%d"\nhooks_dirs: []\n'
                           % (sock, port), "tok-open")
    result("token/0.0.0.0-without-token", rc != 0,
           "hotloadd --check-config with listen.tcp 0.0.0.0 and no token: exit %d%s"
           % (rc, " (%s)" % out.splitlines()[-1][:160] if out else ""))
    rc, out = check_config('listen:\n  unix: "%s"\n  tcp: "0.0.0.0:%d"\n  token: required\n'
                           'hooks_dirs: []\n' % (sock, port), "tok-open-req")
    result("token/0.0.0.0-token-required", rc == 0,
           "hotloadd --check-config with 0.0.0.0 and token: required: exit %d%s"
           % (rc, "" if rc == 0 else " (%s)" % out.splitlines()[-1][:160] if out else ""))
    d = start_daemon_token(env, port, sock)
    if d is None:
        return
    try:
        tokfile = os.path.join(os.path.dirname(sock), "token")
        st = os.stat(tokfile) if os.path.exists(tokfile) else None
        tok = L.as_user(v, read_token, tokfile) if st else ""
        wrong = "%064x" % random.getrandbits(256)
        cases = [("victim-no-token", v, None, False), ("victim-wrong-token", v, wrong, False),
                 ("attacker-no-token", env.attacker, None, False),
                 ("attacker-guessed-token", env.attacker, wrong, False),
                 ("victim-right-token", v, tok, True)]
        for name, user, token, should_run in cases:
            env.clear_markers("tok-")
            rep = L.as_user(user, token_requests, port, token,
                            env.marker_code("tok-" + name) + "print('ran')", timeout=60)
            time.sleep(0.3)
            ran = bool(env.markers("tok-"))
            if should_run:
                ok = ran and rep.startswith(b"OUTPUT: \nran")
            else:
                ok = not ran and b"PermissionDenied" in rep
            result("token/" + name, ok, "%s; reply %r" % ("code ran" if ran else "no code ran",
                                                        rep[:90]))
        modes = "%04o uid %d" % (st.st_mode & 0o7777, st.st_uid) if st else "missing"
        rc, out, err = hotloadctl_as_victim(
            env, opts, ["--tcp", "127.0.0.1:%d" % port, "--token-file", tokfile, "eval",
                        "python:3", "6*7"], timeout=60)
        ok = st is not None and (st.st_mode & 0o777) == 0o600 and st.st_uid == v.uid and \
            rc == 0 and out.strip() == "42"
        result("token/hotloadctl-token-file", ok,
               "token file %s; hotloadctl --token-file eval: exit %d %s" % (
                   modes, rc, out.strip()[:40] or err.strip()[:160]))
    finally:
        d.stop()
        sanitizer_check("token", d)


def start_daemon_token(env, port, sock):
    cfg = ('listen:\n  unix: "%s"\n  tcp: "127.0.0.1:%d"\n  token: required\nhooks_dirs: []\n'
           'log_level: info\n' % (sock, port))
    d = L.Daemon(env, "tok", cfg, unix=sock, tcp_port=port)
    if not d.start():
        d.stop()
        result("token/required", False, "the daemon does not run with 'token: required': %s"
               % d.log_tail(2)[:200])
        return None
    return d


# ---------------------------------------------------------------------------

ATTACKS = collections.OrderedDict([
    ("close-race", (attack_close_race, "1: TCP owner check raced by closing at once")),
    ("runtime-dir", (attack_runtime_dir, "2: /tmp/hotload-UID made by the attacker")),
    ("user-config", (attack_user_config, "3: ~/.config/hotload writable by the attacker")),
    ("hooks", (attack_hooks, "4: hooks dirs, python_path and hook files of others")),
    ("browser", (attack_browser, "5: browser bytes (HTTP, WebSocket, TLS) on TCP ports")),
    ("browser-live", (attack_browser_live, "5: real Chromium as the victim (--chromium)")),
    ("flood", (attack_flood, "6: TCP connection flood and many idle sockets")),
    ("interrupt-race", (attack_interrupt, "7: interrupt right after the exec")),
    ("refusal-log", (attack_refusal_log, "8: refusals logged at warning with the uid")),
    ("client-close", (attack_client_close, "8: a client that closed before its turn")),
    ("fd-exhaustion", (attack_fd_exhaustion, "8: out of file descriptors is logged")),
    ("token", (attack_token, "9: listen.token")),
])


def victim_can_run(paths):
    return [p for p in paths if not os.access(p, os.X_OK if p.endswith(("hotloadd", "hotloadctl"))
                                                 else os.R_OK)]


def stage_binaries(opts, victim):
    """The victim must be able to run the binaries and read the agent next
    to them. A build tree it cannot reach (under /root, say) is copied, as
    an install tree (bin/, lib/hotload/, share/hotload/), to a root-owned
    0755 directory; None when there is no need."""
    prefix = os.path.dirname(os.path.dirname(opts.hotloadd))
    agent = os.path.join(prefix, "lib", "hotload", "hookd", "hookd.py")
    missing = L.as_user(victim, victim_can_run, [opts.hotloadd, opts.hotloadctl, agent])
    if not missing:
        return None
    dest = tempfile.mkdtemp(prefix="hl-sec-inst.", dir="/tmp")
    os.chmod(dest, 0o755)
    os.mkdir(os.path.join(dest, "bin"), 0o755)
    shutil.copy2(opts.hotloadd, os.path.join(dest, "bin", "hotloadd"))
    shutil.copy2(opts.hotloadctl, os.path.join(dest, "bin", "hotloadctl"))
    for sub in (("lib", "hotload"), ("share", "hotload")):
        src = os.path.join(prefix, *sub)
        if os.path.isdir(src):
            shutil.copytree(src, os.path.join(dest, *sub), symlinks=True)
    for root, dirs, files in os.walk(dest):
        for n in dirs:
            os.chmod(os.path.join(root, n), 0o755)
    print("note: %s cannot reach %s; running a copy in %s" % (victim.name, ", ".join(missing),
                                                               dest), flush=True)
    opts.hotloadd = os.path.join(dest, "bin", "hotloadd")
    opts.hotloadctl = os.path.join(dest, "bin", "hotloadctl")
    return dest


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--hotloadd", default=os.environ.get("HOTLOAD_SEC_HOTLOADD"))
    ap.add_argument("--hotloadctl", default=os.environ.get("HOTLOAD_SEC_HOTLOADCTL"))
    ap.add_argument("--only", help="comma-separated attacks (see --list)")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--keep", action="store_true", help="keep the temporary directory")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--tries", type=int, default=200, help="close-race tries per case")
    ap.add_argument("--idle-compat", type=int, default=2000,
                    help="idle sockets the attacker holds during the compat race")
    ap.add_argument("--idle-sockets", type=int, default=15000)
    ap.add_argument("--flood-seconds", type=int, default=10)
    ap.add_argument("--flooders", type=int, default=2)
    ap.add_argument("--flood-bound", type=float, default=2.0,
                    help="seconds a victim request may take under a flood")
    ap.add_argument("--idle-p50-bound", type=float, default=0.1,
                    help="median seconds of a victim TCP round trip among idle sockets")
    ap.add_argument("--trickle-rate", type=float, default=100,
                    help="attacker connections a second while it holds the idle sockets")
    ap.add_argument("--chromium", default=os.environ.get("HOTLOAD_SEC_CHROMIUM"),
                    help="run this Chromium as the victim (browser-live)")
    ap.add_argument("--chromium-seconds", type=float, default=8)
    ap.add_argument("--interrupt-tries", type=int, default=200)
    ap.add_argument("--fd-limit", type=int, default=64)
    opts = ap.parse_args()
    if opts.list:
        for k, (_, doc) in ATTACKS.items():
            print("%-16s %s" % (k, doc))
        return 0
    if os.geteuid() != 0:
        print("SKIP: the security suite must run as root (it creates users)")
        return 77
    if not opts.hotloadd or not opts.hotloadctl:
        ap.error("--hotloadd and --hotloadctl (or $HOTLOAD_SEC_HOTLOADD/_HOTLOADCTL) are needed")
    opts.hotloadd = os.path.abspath(opts.hotloadd)
    opts.hotloadctl = os.path.abspath(opts.hotloadctl)
    names = opts.only.split(",") if opts.only else list(ATTACKS)
    for n in names:
        if n not in ATTACKS:
            ap.error("unknown attack %r (see --list)" % n)
    L.VERBOSE = opts.verbose
    L.Daemon.HOTLOADD = opts.hotloadd
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < opts.idle_sockets + 1000:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, opts.idle_sockets + 1000))
        except (ValueError, OSError):
            pass  # no CAP_SYS_RESOURCE: the attacker holds what the hard limit allows
    victim, attacker = L.ensure_users()
    staged = stage_binaries(opts, victim)
    L.Daemon.HOTLOADD = opts.hotloadd
    print("hotload security suite: hotloadd %s, victim %s (uid %d), attacker %s (uid %d)"
          % (opts.hotloadd, victim.name, victim.uid, attacker.name, attacker.uid), flush=True)
    t_all = time.monotonic()
    errors = 0
    with L.GlobalLock():
        for n in names:
            env = L.Env(victim, attacker, keep=opts.keep)
            t0 = time.monotonic()
            try:
                ATTACKS[n][0](env, opts)
            except Exception:  # noqa: BLE001 - a broken attack is a failure, reported
                errors += 1
                result(n, False, "the attack could not be carried out:\n" + traceback.format_exc())
            finally:
                env.cleanup()
                if opts.keep:
                    print("    (kept %s)" % env.dir)
            if opts.verbose:
                print("    %s took %.1f s" % (n, time.monotonic() - t0))
    if staged:
        shutil.rmtree(staged, ignore_errors=True)
    failed = [r for r in RESULTS if not r[1]]
    print("%d checks, %d passed, %d failed (%.0f s)" % (len(RESULTS), len(RESULTS) - len(failed),
                                                        len(failed), time.monotonic() - t_all))
    return 1 if failed or errors else 0


if __name__ == "__main__":
    sys.exit(main())
