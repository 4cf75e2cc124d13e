"""A real hotloadd for the client library's tests, on a private socket.

The daemon is the one built in HOTLOAD_BINARY_DIR (CTest sets it), with a
configuration of its own in a temporary directory: a Unix socket there, a
TCP port when asked, the build tree's shipped hooks, short supervision
periods. stop() asserts that it exits 0 (a sanitizer report makes it
non-zero) and removes the directory.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_DIR = os.environ.get("HOTLOAD_SOURCE_DIR") or os.path.normpath(os.path.join(HERE, "..", ".."))
BINARY_DIR = os.environ.get("HOTLOAD_BINARY_DIR") or os.path.join(SOURCE_DIR, "build")
LIBRARY_DIR = os.path.join(SOURCE_DIR, "clients", "python")
HOTLOADD = os.path.join(BINARY_DIR, "bin", "hotloadd")
BLENDER = shutil.which("blender")

if LIBRARY_DIR not in sys.path:
    sys.path.insert(0, LIBRARY_DIR)

# Short periods, so that a timeout's escalation and a crashed worker's
# restart happen within a test.
SUPERVISION = """supervision:
  stop_grace: 5
  interrupt_grace: 1
  kill_grace: 1
  backoff_initial: 0.1
  backoff_max: 1
  crash_budget: 20
  crash_window: 60
"""


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Daemon:
    """One hotloadd: dir, sock, tcp ("127.0.0.1:PORT" or None), log."""

    def __init__(self, tcp=False, listen_extra="", hooks=None):
        if not os.access(HOTLOADD, os.X_OK):
            raise RuntimeError("%s is not built (set HOTLOAD_BINARY_DIR)" % HOTLOADD)
        self.dir = tempfile.mkdtemp(prefix="hl-py-")  # 0700, as a runtime dir must be
        self.sock = os.path.join(self.dir, "hotloadd.sock")
        self.log = os.path.join(self.dir, "hotloadd.log")
        self.tcp = "127.0.0.1:%d" % free_port() if tcp else None
        hooks_dir = os.path.join(self.dir, "hooks.d")
        os.mkdir(hooks_dir)
        for name, text in (hooks or {}).items():
            with open(os.path.join(hooks_dir, name), "w") as f:
                f.write(text)
        config = os.path.join(self.dir, "hotloadd.yaml")
        with open(config, "w") as f:
            f.write("listen:\n  unix: %s\n  tcp: %s\n%s" % (
                json.dumps(self.sock), json.dumps(self.tcp or ""), listen_extra))
            f.write("hooks_dirs: [%s, %s]\n" % (
                json.dumps(os.path.join(BINARY_DIR, "share", "hotload", "hooks.d")),
                json.dumps(hooks_dir)))
            f.write("log_level: debug\n" + SUPERVISION)
        env = dict(os.environ)
        for var in ("HOTLOAD_SOCKET", "HOTLOAD_TCP", "HOTLOAD_TOKEN", "HOTLOAD_HINT_ROOT"):
            env.pop(var, None)
        with open(self.log, "ab") as out:
            self.proc = subprocess.Popen([HOTLOADD, "--config", config], stdin=subprocess.DEVNULL,
                                         stdout=out, stderr=out, env=env,
                                         start_new_session=True)
        deadline = time.monotonic() + 20
        while not self._ready():
            if self.proc.poll() is not None:
                raise RuntimeError("hotloadd exited at start-up (%s):\n%s"
                                   % (self.proc.returncode, self.read_log()))
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError("hotloadd did not listen within 20 s:\n%s" % self.read_log())
            time.sleep(0.02)

    def _ready(self):
        addrs = [(socket.AF_UNIX, self.sock)]
        if self.tcp:
            addrs.append((socket.AF_INET, ("127.0.0.1", int(self.tcp.rsplit(":", 1)[1]))))
        for family, addr in addrs:
            with socket.socket(family) as s:
                try:
                    s.connect(addr)  # closed before a byte: closed quietly
                except OSError:
                    return False
        return True

    def read_log(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def token(self):
        with open(os.path.join(self.dir, "token")) as f:
            return f.read().strip()

    def kill(self):
        """SIGKILL the daemon's group; safe from two threads at once (a
        test's timer and its clean-up), whichever reaps it first."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:  # the other caller reaped it meanwhile
                pass
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)

    def stop(self):
        """SIGTERM; the exit status must be 0. Returns the log on failure."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                log = self.read_log()
                self.kill()
                raise AssertionError("hotloadd did not exit within 30 s of SIGTERM:\n%s"
                                     % log)
        status, log = self.proc.returncode, self.read_log()
        shutil.rmtree(self.dir, ignore_errors=True)
        if status != 0:
            raise AssertionError("hotloadd exited with %s:\n%s" % (status, log))
