"""seclib - users, privilege drops, a real hotloadd, and small clients.

The suite runs as root and plays two ordinary users: the victim, who runs
hotloadd, and the attacker, another local user. Everything a user does runs
in a forked child that has dropped to that user (setgroups, setgid, setuid),
so the kernel sees exactly what it would see on a shared workstation.
Standard library only.
"""
import errno
import fcntl
import grp
import json
import os
import pickle
import pwd
import random
import re
import resource
import select
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import traceback

VICTIM = "hlvictim"
ATTACKER = "hlattacker"
SHARED_GROUP = "hlshared"  # both users are in it (the group-writable cases)
LOCK_FILE = "/tmp/hl-sec.lock"
PLACEHOLDER = "/tmp/hl-sec-XXXXXXXX"  # marker directory in the fixtures
SAN_RE = re.compile(r"^==\d+==ERROR: |^SUMMARY: \w+Sanitizer|: runtime error: ", re.M)
USER_PATH = "/usr/local/bin:/usr/bin:/bin"

VERBOSE = False


def log(msg):
    if VERBOSE:
        sys.stderr.write("  . %s\n" % msg)
        sys.stderr.flush()


# ---------------------------------------------------------------------------
# users


class User:
    def __init__(self, name):
        pw = pwd.getpwnam(name)
        self.name = name
        self.uid = pw.pw_uid
        self.gid = pw.pw_gid
        self.home = pw.pw_dir
        self.groups = os.getgrouplist(name, pw.pw_gid)

    def env(self, **extra):
        e = {"HOME": self.home, "USER": self.name, "LOGNAME": self.name,
             "PATH": USER_PATH, "LANG": "C.UTF-8", "SHELL": "/bin/sh"}
        for k in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS"):
            if os.environ.get(k):
                e[k] = os.environ[k]
        for k, v in extra.items():
            if v is None:
                e.pop(k, None)
            else:
                e[k] = v
        return e


def _run(cmd):
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)


def ensure_users():
    """The two users and their shared group; idempotent (left in place)."""
    try:
        grp.getgrnam(SHARED_GROUP)
    except KeyError:
        _run(["groupadd", SHARED_GROUP])
    for name in (VICTIM, ATTACKER):
        try:
            pwd.getpwnam(name)
        except KeyError:
            _run(["useradd", "-m", "-s", "/bin/sh", "-G", SHARED_GROUP, name])
        if SHARED_GROUP not in [g.gr_name for g in grp.getgrall() if name in g.gr_mem]:
            _run(["usermod", "-aG", SHARED_GROUP, name])
    victim, attacker = User(VICTIM), User(ATTACKER)
    # The victim's home must be usable by the victim (and, for the
    # configuration attack, traversable by others, as Debian makes it).
    os.makedirs(victim.home, exist_ok=True)
    os.chown(victim.home, victim.uid, victim.gid)
    os.chmod(victim.home, 0o755)
    return victim, attacker


def drop_to(user, nofile=None):
    """In a child: become user for good."""
    if nofile:
        hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
        if hard != resource.RLIM_INFINITY:
            nofile = min(nofile, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    os.setgroups(user.groups)
    os.setgid(user.gid)
    os.setuid(user.uid)
    os.environ.clear()
    os.environ.update(user.env())
    os.umask(0o022)
    os.chdir("/")


# ---------------------------------------------------------------------------
# running Python functions as a user, in forked children


def _send_msg(fd, obj):
    data = pickle.dumps(obj)
    data = struct.pack("!I", len(data)) + data
    while data:
        n = os.write(fd, data)
        data = data[n:]


def _read_exact(fd, n, deadline):
    out = b""
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("child did not answer in time")
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        d = os.read(fd, n - len(out))
        if not d:
            raise EOFError("child exited without an answer")
        out += d
    return out


def _recv_msg(fd, timeout):
    deadline = time.monotonic() + timeout
    n = struct.unpack("!I", _read_exact(fd, 4, deadline))[0]
    return pickle.loads(_read_exact(fd, n, deadline))


class ChildError(Exception):
    pass


def _child_main(user, nofile, fn, args, wfd, ctl):
    code = 0
    try:
        drop_to(user, nofile)
        if ctl is not None:
            res = fn(ctl, *args)
        else:
            res = fn(*args)
        _send_msg(wfd, ("ok", res))
    except BaseException:  # noqa: B902 - everything goes back to the parent
        try:
            _send_msg(wfd, ("err", traceback.format_exc()))
        except BaseException:
            pass
        code = 1
    finally:
        os._exit(code)


def as_user(user, fn, *args, timeout=60, nofile=None):
    """Run fn(*args) as user in a forked child; its return value (picklable)."""
    r, w = os.pipe()
    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        _child_main(user, nofile, fn, args, w, None)
    os.close(w)
    try:
        kind, val = _recv_msg(r, timeout)
    except (TimeoutError, EOFError) as e:
        _kill_wait(pid)
        raise ChildError("%s as %s: %s" % (getattr(fn, "__name__", fn), user.name, e))
    finally:
        os.close(r)
    os.waitpid(pid, 0)
    if kind == "err":
        raise ChildError("%s as %s failed:\n%s" % (fn.__name__, user.name, val))
    return val


def _kill_wait(pid):
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


class Ctl:
    """The child's end of a Background: ready() once, stopping() to poll."""

    def __init__(self, wfd, rfd):
        self.wfd, self.rfd = wfd, rfd

    def ready(self, value=None):
        _send_msg(self.wfd, ("ready", value))

    def stopping(self):
        r, _, _ = select.select([self.rfd], [], [], 0)
        return bool(r)

    def wait_stop(self, timeout=None):
        select.select([self.rfd], [], [], timeout)


class Background:
    """fn(ctl, *args) as user in a forked child, running until stop()."""

    def __init__(self, user, fn, *args, nofile=None):
        r, w = os.pipe()  # child -> parent
        r2, w2 = os.pipe()  # parent -> child (closed = stop)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.close(w2)
            _child_main(user, nofile, fn, args, w, Ctl(w, r2))
        os.close(w)
        os.close(r2)
        self.pid, self.rfd, self.wfd = pid, r, w2
        self.name = "%s as %s" % (fn.__name__, user.name)
        self.done = False

    def wait_ready(self, timeout=60):
        kind, val = _recv_msg(self.rfd, timeout)
        if kind == "err":
            self.done = True
            os.waitpid(self.pid, 0)
            raise ChildError("%s failed:\n%s" % (self.name, val))
        return val

    def stop(self, timeout=60):
        """Tell the child to stop; its return value."""
        if self.done:
            return None
        self.done = True
        os.close(self.wfd)
        try:
            kind, val = _recv_msg(self.rfd, timeout)
        except (TimeoutError, EOFError) as e:
            _kill_wait(self.pid)
            raise ChildError("%s: %s" % (self.name, e))
        finally:
            os.close(self.rfd)
        os.waitpid(self.pid, 0)
        if kind == "err":
            raise ChildError("%s failed:\n%s" % (self.name, val))
        return val

    def kill(self):
        if not self.done:
            self.done = True
            _kill_wait(self.pid)
            for fd in (self.rfd, self.wfd):
                try:
                    os.close(fd)
                except OSError:
                    pass


# ---------------------------------------------------------------------------
# the temporary tree


class Env:
    """/tmp/hl-sec-XXXXXXXX (root, 0755):
         v/       the victim's (0700): configs, run/ (socket dir), marks/
         a/       the attacker's (0755): evil scripts
         shared/  root's (0755): directories the cases make unsafe
    """

    def __init__(self, victim, attacker, keep=False):
        self.victim, self.attacker, self.keep = victim, attacker, keep
        self.dir = tempfile.mkdtemp(prefix="hl-sec-", dir="/tmp")
        assert len(self.dir) == len(PLACEHOLDER), self.dir
        os.chmod(self.dir, 0o755)
        self.v = self.mkdir("v", victim, 0o700)
        self.marks = self.mkdir("v/marks", victim, 0o700)
        self.run = self.mkdir("v/run", victim, 0o700)
        self.a = self.mkdir("a", attacker, 0o755)
        self.shared = self.mkdir("shared", None, 0o755)
        self.daemons = []
        self.backgrounds = []

    def mkdir(self, rel, owner, mode, group=None):
        p = os.path.join(self.dir, rel)
        os.makedirs(p, exist_ok=True)
        if owner is not None:
            os.chown(p, owner.uid, group if group is not None else owner.gid)
        os.chmod(p, mode)
        return p

    def write(self, path, text, owner=None, mode=0o644, group=None):
        with open(path, "w") as f:
            f.write(text)
        if owner is not None:
            os.chown(path, owner.uid, group if group is not None else owner.gid)
        os.chmod(path, mode)
        return path

    def marker(self, name):
        return os.path.join(self.marks, name)

    def marker_code(self, name):
        """Python that leaves the marker: run as the victim, it can."""
        return "open(%r,'w').write('x')\n" % self.marker(name)

    def markers(self, prefix=""):
        return sorted(n for n in os.listdir(self.marks) if n.startswith(prefix))

    def clear_markers(self, prefix=""):
        for n in self.markers(prefix):
            os.unlink(os.path.join(self.marks, n))

    def cleanup(self):
        for b in self.backgrounds:
            b.kill()
        for d in self.daemons:
            d.stop()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)


def free_port():
    """A random TCP port in 20000-29999 that nothing uses on loopback now."""
    for _ in range(200):
        port = random.randint(20000, 29999)
        ok = True
        for host in ("127.0.0.1", "0.0.0.0"):
            s = socket.socket()
            try:
                s.bind((host, port))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return port
    raise RuntimeError("no free port in 20000-29999")


# ---------------------------------------------------------------------------
# the daemon


def sanitizer_env(base):
    e = dict(base)
    for var, default in (("ASAN_OPTIONS", "detect_leaks=1"),
                         ("UBSAN_OPTIONS", "print_stacktrace=1")):
        opts = e.get(var) or default
        if "halt_on_error=" not in opts:
            opts += ":halt_on_error=1"
        e[var] = opts
    return e


class Daemon:
    """hotloadd run as the victim, stderr to a log file."""

    HOTLOADD = None

    def __init__(self, env, name, config=None, config_path=None, use_config=True,
                 unix=None, tcp_port=None, extra_env=None, nofile=None, args=()):
        self.env, self.name = env, name
        self.victim = env.victim
        self.unix = unix
        self.tcp_port = tcp_port
        self.config_path = config_path
        if config is not None:
            self.config_path = config_path or os.path.join(env.v, name + ".yaml")
            env.write(self.config_path, config, env.victim, 0o600)
        self.use_config = use_config
        self.extra_env = extra_env or {}
        self.nofile = nofile
        self.args = list(args)
        self.logpath = os.path.join(env.dir, name + ".log")
        self.proc = None
        self.status = None

    def cmd(self, *extra):
        c = [self.HOTLOADD]
        if self.use_config and self.config_path:
            c += ["--config", self.config_path]
        return c + self.args + list(extra)

    def popen(self, *extra, **kw):
        env = sanitizer_env(self.victim.env(**self.extra_env))
        nofile = self.nofile

        def pre():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        return subprocess.Popen(self.cmd(*extra), user=self.victim.uid, group=self.victim.gid,
                                extra_groups=self.victim.groups, env=env, cwd="/",
                                preexec_fn=pre, start_new_session=True, umask=0o022, **kw)

    def start(self, wait=True, timeout=25):
        self.logf = open(self.logpath, "ab")
        self.proc = self.popen(stdin=subprocess.DEVNULL, stdout=self.logf, stderr=self.logf)
        self.env.daemons.append(self)
        if wait:
            return self.wait_ready(timeout)
        return True

    def wait_ready(self, timeout=25):
        """True once it answers a control ping; False if it exited."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if not self.alive():
                return False
            if self.ping():
                return True
            time.sleep(0.05)
        return False

    def ping(self):
        addr = ("unix", self.unix) if self.unix else ("tcp", self.tcp_port)
        try:
            done = control(addr, "ping", timeout=3)
            return bool(done and done.get("ok"))
        except OSError:
            return False

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        try:
            self.status = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.status

    def stop(self):
        if self.proc is None:
            return self.status
        if self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.status = self.proc.returncode
        try:
            self.logf.close()
        except Exception:
            pass
        return self.status

    def log(self):
        try:
            with open(self.logpath, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def sanitizer_report(self):
        m = SAN_RE.search(self.log())
        if not m:
            return None
        text = self.log()
        return text[max(0, m.start() - 200):m.start() + 3000]

    def log_tail(self, n=6):
        lines = [l for l in self.log().splitlines() if l.strip()]
        return " | ".join(lines[-n:])


def base_config(env, name, tcp_port=None, compat_port=None, extra="", hooks_dirs=None,
                unix=True):
    """A configuration with its own socket and ports; (text, unix path)."""
    sock = os.path.join(env.run, name + ".sock") if unix else None
    t = "listen:\n"
    t += '  unix: "%s"\n' % sock if sock else '  unix: ""\n'
    t += '  tcp: "%s"\n' % ("127.0.0.1:%d" % tcp_port if tcp_port else "")
    t += "hooks_dirs: [%s]\n" % ", ".join(json.dumps(h) for h in (hooks_dirs or []))
    if compat_port:
        t += ('compat:\n  - port: %d\n    target: "python:3"\n    host: "127.0.0.1"\n'
              "    quiet: 0.25\n" % compat_port)
    t += "log_level: info\n" + extra
    return t, sock


# ---------------------------------------------------------------------------
# clients (any process, any user)


def connect(addr, timeout=10):
    if addr[0] == "unix":
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(addr[1])
    else:
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(("127.0.0.1", addr[1]))
    return s


def read_all(s, timeout=10, limit=1 << 20):
    """Everything until EOF, or what came within timeout."""
    out = b""
    end = time.monotonic() + timeout
    while len(out) < limit:
        left = end - time.monotonic()
        if left <= 0:
            break
        s.settimeout(left)
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        except OSError:
            break
        if not d:
            break
        out += d
    return out


def raw(addr, data, timeout=10, halfclose=True):
    """Send data (header included), half-close, return the whole reply."""
    s = connect(addr, timeout)
    try:
        try:
            s.sendall(data)
            if halfclose:
                s.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # refused and closed already: the reply may still be there
        return read_all(s, timeout)
    finally:
        s.close()


class ErrorEvent(Exception):
    """The daemon refused the connection with an error event."""

    def __init__(self, error):
        self.error = error or {}
        Exception.__init__(self, "%s: %s" % (self.error.get("type"), self.error.get("message")))


class JsonConn:
    def __init__(self, addr, target, timeout=20, header_extra=""):
        self.s = connect(addr, timeout)
        self.s.sendall(("%s mode=json%s\n" % (target, header_extra)).encode())
        self.buf = b""
        self.timeout = timeout

    def send(self, *msgs):
        self.s.sendall(b"".join(json.dumps(m).encode() + b"\n" for m in msgs))

    def event(self, timeout=None):
        end = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while b"\n" not in self.buf:
            left = end - time.monotonic()
            if left <= 0:
                raise TimeoutError("no event within the time")
            self.s.settimeout(left)
            d = self.s.recv(65536)
            if not d:
                raise EOFError("connection closed; got %r" % self.buf[:300])
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        try:
            return json.loads(line)
        except ValueError:
            raise ValueError("not JSON: %r" % line[:300])

    def done(self, rid, timeout=None):
        """Events until the done of rid; (done, other events)."""
        evs = []
        while True:
            ev = self.event(timeout)
            if ev.get("event") == "error":
                raise ErrorEvent(ev.get("error"))
            if ev.get("id") == rid and ev.get("event") == "done":
                return ev, evs
            evs.append(ev)

    def close(self):
        self.s.close()


def control(addr, op, timeout=10, **fields):
    c = JsonConn(addr, "hotload", timeout)
    try:
        c.send(dict(fields, id=1, op=op))
        return c.done(1, timeout)[0]
    finally:
        c.close()


def victim_exec(addr, code="print(6*7)", target="python:3", timeout=20):
    """A JSON exec; (ok, detail). Meant to run as the victim."""
    try:
        c = JsonConn(addr, target, timeout)
        c.send({"id": 1, "op": "exec", "code": code})
        done, evs = c.done(1, timeout)
        c.close()
    except ErrorEvent as e:
        return False, str(e)
    except Exception as e:  # noqa: BLE001
        return False, "%s: %s" % (type(e).__name__, e)
    out = "".join(e.get("data", "") for e in evs if e.get("event") == "stdout")
    if not done.get("ok"):
        err = done.get("error") or {}
        return False, "%s: %s" % (err.get("type"), err.get("message"))
    return True, out


def served(env, daemon, addr=None):
    """Does the daemon still run the victim's code? (ok, detail)"""
    if not daemon.alive():
        return False, "the daemon is gone (status %s)" % daemon.proc.poll()
    addr = addr or ("unix", daemon.unix)
    ok, out = as_user(env.victim, victim_exec, addr, "print(6*7)", timeout=40)
    if ok and out.strip() == "42":
        return True, "victim served"
    return False, "victim not served: %s" % out


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while True:
        v = pred()
        if v or time.monotonic() >= end:
            return v
        time.sleep(step)


class GlobalLock:
    """One run of this suite at a time on the machine: the cases use the
    victim's /tmp/hotload-UID and ~/.config/hotload."""

    def __enter__(self):
        self.fd = os.open(LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        end = time.monotonic() + 900
        while True:
            try:
                fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return self
            except OSError as e:
                if e.errno not in (errno.EAGAIN, errno.EACCES) or time.monotonic() > end:
                    raise
                time.sleep(0.5)

    def __exit__(self, *a):
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
