"""Start the real agent the way hotloadd does and speak its protocol."""
import json
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
AGENT_DIR = os.environ.get("HOTLOAD_AGENT_DIR") or os.path.join(HERE, "..", "..", "hookd")
AGENT = os.path.abspath(os.path.join(AGENT_DIR, "hookd.py"))
BLENDER = shutil.which("blender")
TIMEOUT = 60  # seconds; Blender alone takes ~1-2 s to start


def python_argv():
    """Argv that runs the agent under the Python running these tests."""
    return [sys.executable, AGENT]


def blender_argv():
    """Argv that runs the agent inside headless Blender, as a hook file would."""
    return [BLENDER, "--background", "--factory-startup", "--python-exit-code", "1",
            "--python", AGENT]


class Agent:
    """One agent process: control socket on its fd 3, stdout and stderr on pipes."""

    def __init__(self, argv, hook=None, env=None):
        """Spawn argv in a new session with HOTLOAD_HOOK=hook (a dict, or raw text)."""
        self.sock, theirs = socket.socketpair()
        self.sock.settimeout(TIMEOUT)
        self.reader = self.sock.makefile("rb")
        full_env = dict(os.environ, HOTLOAD_CONTROL_FD="3")
        full_env.pop("PYTHONUNBUFFERED", None)  # the agent must stream output by itself
        full_env.pop("HOTLOAD_HOOK", None)
        if hook is not None:
            full_env["HOTLOAD_HOOK"] = hook if isinstance(hook, str) else json.dumps(hook)
        full_env.update(env or {})
        fd = theirs.fileno()

        def on_fd_3():
            """In the child: put the control socket on fd 3, inheritable."""
            os.dup2(fd, 3)
            os.set_inheritable(3, True)

        # pass_fds cannot renumber a descriptor, so the child moves it to fd 3
        # itself; close_fds stays off because it would then close fd 3 (every
        # other descriptor here is non-inheritable and closes on exec anyway).
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=full_env, close_fds=False,
                                     preexec_fn=on_fd_3, start_new_session=True)
        theirs.close()
        self.out = {"stdout": b"", "stderr": b""}
        self.pipes = {self.proc.stdout.fileno(): "stdout", self.proc.stderr.fileno(): "stderr"}
        for pipe_fd in self.pipes:
            os.set_blocking(pipe_fd, False)
        self.next_id = 0

    def close(self):
        """Kill what is left of the agent's process group and close everything."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.reader.close()
        self.sock.close()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def recv(self):
        """Return the next message from the agent's control socket."""
        line = self.reader.readline()
        if not line:
            raise AssertionError("agent closed its control socket; stderr: %r"
                                 % self.stderr())
        return json.loads(line.decode("utf-8"))

    def ready(self):
        """Wait for the ready event and return it."""
        msg = self.recv()
        if msg.get("event") != "ready":
            raise AssertionError("expected ready, got %r" % msg)
        return msg

    def send_line(self, data):
        """Send raw bytes (one request line) to the agent."""
        self.sock.sendall(data)

    def send(self, op, inline=False, **fields):
        """Send one request with a fresh id; return that id. A string code
        goes as the daemon sends it, code_bytes and the bytes after the
        line; with inline, in the line (what the agent also takes)."""
        self.next_id += 1
        req = dict(fields, id=self.next_id, op=op)
        payload = b""
        if isinstance(req.get("code"), str) and not inline:
            payload = req.pop("code").encode("utf-8")
            req["code_bytes"] = len(payload)
        self.send_line(json.dumps(req).encode("utf-8") + b"\n" + payload)
        return self.next_id

    def request(self, op, **fields):
        """Send one request and return its done reply."""
        req_id = self.send(op, **fields)
        done = self.recv()
        if done.get("id") != req_id or done.get("event") != "done":
            raise AssertionError("expected done for %d, got %r" % (req_id, done))
        return done

    def drain(self, wait=0.0):
        """Read what the pipes hold, waiting up to wait seconds; return the fds at EOF."""
        ready, _, _ = select.select(list(self.pipes), [], [], wait)
        at_eof = set()
        for pipe_fd in ready:
            try:
                data = os.read(pipe_fd, 65536)
            except BlockingIOError:
                continue
            self.out[self.pipes[pipe_fd]] += data
            if not data:
                at_eof.add(pipe_fd)
        return at_eof

    def stdout(self):
        """Everything the agent wrote on fd 1 so far, as text."""
        self.drain()
        return self.out["stdout"].decode("utf-8", "replace")

    def stderr(self):
        """Everything the agent wrote on fd 2 so far, as text."""
        self.drain()
        return self.out["stderr"].decode("utf-8", "replace")

    def wait_output(self, text, stream="stdout"):
        """Wait until text appears on stream (proof that output streams)."""
        deadline = time.monotonic() + TIMEOUT
        while text.encode("utf-8") not in self.out[stream]:
            if time.monotonic() > deadline:
                raise AssertionError("%r never appeared on %s" % (text, stream))
            self.drain(0.1)

    def signal(self, signum):
        """Send signum to the agent's process group, as the daemon does."""
        os.killpg(self.proc.pid, signum)

    def wait(self):
        """Wait for the agent to exit and its pipes to close; return its exit status."""
        status = self.proc.wait(TIMEOUT)
        deadline = time.monotonic() + TIMEOUT
        at_eof = set()
        while len(at_eof) < len(self.pipes) and time.monotonic() < deadline:
            at_eof |= self.drain(1.0)
        return status
