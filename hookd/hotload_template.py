"""hotload_template: spawn: fork. The agent as a template: an interpreter
that has started and run the hook's initialize() once, and from then on only
forks workers, each a copy of it, warm from its first instruction.

The daemon sends {"op":"fork","fork":N} with three file descriptors
(SCM_RIGHTS): the new worker's fds 1, 2 and 3. The child puts them in place,
leads a process group of its own, dies with the template (PR_SET_PDEATHSIG)
and goes on as an ordinary agent on its new fd 3. The template answers
{"event":"forked","fork":N,"pid":P}, and {"event":"exited","pid":P,
"status":S,"signal":G} once it has reaped P: it is the child's parent, so
only it can. See docs/agent-protocol.md, "Templates".
Standard library only; must parse as Python 3.7.
"""
import array
import json
import os
import select
import signal
import socket
import sys

from hotload_agent import error_of, flush_output, send

MAX_FDS = 48  # room for a few fork lines' descriptors in one read
PR_SET_PDEATHSIG = 1


def die_with_parent():
    """Have the kernel kill this process when the template dies (Linux)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except Exception:  # no ctypes: the template's hotload-launch still kills what it leaves
        pass


def thread_count():
    """Threads of this process (native ones too), or 0 where it cannot tell."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return 0


def exit_fields(status):
    """{"status", "signal"} of a wait status."""
    if os.WIFSIGNALED(status):
        return {"status": 0, "signal": os.WTERMSIG(status)}
    return {"status": os.WEXITSTATUS(status) if os.WIFEXITED(status) else 0, "signal": 0}


class Template:
    """Fork a worker for each fork line; report forks and exits."""

    def __init__(self, sock):
        self.sock = sock
        self.pending = b""
        self.fds = []  # received with fork lines, not yet used (in order)
        self.children = set()
        self.stop = None  # the stop request, once it came
        self.eof = False
        self.wake_r, self.wake_w = os.pipe()
        for fd in (self.wake_r, self.wake_w):
            os.set_blocking(fd, False)
            os.set_inheritable(fd, False)
        signal.signal(signal.SIGCHLD, self.on_sigchld)
        self.old_wakeup = signal.set_wakeup_fd(self.wake_w)
        n = thread_count()
        if n > 1:
            sys.stderr.write(
                "hookd: this template runs %d threads; a fork keeps only the one that "
                "forks, so what the others held (locks, a DCC's task pools) may hang its "
                "workers (see hooks.md, spawn)\n" % n)

    @staticmethod
    def on_sigchld(signum, frame):
        """Nothing: the wake-up fd makes serve() reap."""

    def serve(self):
        """Fork until stop (then wait for the children) or EOF. Returns
        (None, stop) in the template at its end, or (sock, None) in a
        forked child: its new control socket."""
        while True:
            if (self.stop is not None or self.eof) and not self.children:
                return None, self.stop
            if self.eof:
                # the daemon is gone: the children die with us
                return None, None
            readable, _, _ = select.select([self.sock, self.wake_r], [], [])
            if self.wake_r in readable:
                self.drain_wakeup()
                self.reap()
            if self.sock in readable:
                child = self.read()
                if child is not None:
                    return child, None

    def drain_wakeup(self):
        try:
            while os.read(self.wake_r, 512):
                pass
        except OSError:  # EAGAIN: nothing left
            pass

    def reap(self):
        """Report every child that exited."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.children:
                self.children.discard(pid)
                msg = {"id": 0, "event": "exited", "pid": pid}
                msg.update(exit_fields(status))
                send(self.sock, msg)

    def read(self):
        """One read of the socket: the lines it completes, with their fds."""
        itemsize = array.array("i").itemsize
        data, ancdata, flags, _ = self.sock.recvmsg(65536, socket.CMSG_SPACE(MAX_FDS * itemsize))
        for level, kind, payload in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds = array.array("i")
                fds.frombytes(payload[:len(payload) - len(payload) % itemsize])
                self.fds.extend(fds)
        if flags & getattr(socket, "MSG_CTRUNC", 0):
            sys.stderr.write("hookd: the template lost file descriptors (MSG_CTRUNC)\n")
        if not data:
            self.eof = True
            return None
        self.pending += data
        while b"\n" in self.pending:
            line, self.pending = self.pending.split(b"\n", 1)
            child = self.handle(line)
            if child is not None:
                return child
        return None

    def handle(self, line):
        try:
            req = json.loads(line.decode("utf-8"))
            op = req.get("op")
        except (ValueError, AttributeError):
            sys.stderr.write("hookd: the template got a bad line: %r\n" % line[:200])
            return None
        if op == "fork":
            return self.fork(req.get("fork"))
        if op == "stop":
            self.stop = req
            return None
        if op != "interrupt":  # nothing of the template's runs to interrupt
            sys.stderr.write("hookd: the template does not do %r\n" % (op,))
        return None

    def fork(self, fork_id):
        """Fork a worker with the next three fds; in the child, return its
        control socket."""
        if len(self.fds) < 3 or self.stop is not None:
            why = "the template is stopping" if self.stop is not None else \
                "the fork line came without its three file descriptors"
            self.failed(fork_id, OSError(why))
            return None
        fds, self.fds = self.fds[:3], self.fds[3:]
        flush_output()  # or what is buffered comes out twice
        try:
            pid = os.fork()
        except OSError as exc:
            for fd in fds:
                os.close(fd)
            self.failed(fork_id, exc)
            return None
        if pid == 0:
            return self.become_worker(fds)
        try:
            os.setpgid(pid, pid)  # the child does it too: whichever is first
        except OSError:
            pass
        for fd in fds:
            os.close(fd)
        self.children.add(pid)
        send(self.sock, {"id": 0, "event": "forked", "fork": fork_id, "pid": pid})
        return None

    def failed(self, fork_id, exc):
        error = error_of(exc, "the template could not fork: %s" % (exc,))
        error["type"] = "WorkerStartFailed"
        send(self.sock, {"id": 0, "event": "fork-failed", "fork": fork_id, "error": error})

    def become_worker(self, fds):
        """In the child: the template's state goes, the new fds come."""
        parent = os.getppid()
        try:
            os.setpgid(0, 0)
        except OSError:
            pass
        signal.set_wakeup_fd(self.old_wakeup)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        for fd in [self.wake_r, self.wake_w] + self.fds:
            try:
                os.close(fd)
            except OSError:
                pass
        die_with_parent()
        if os.getppid() != parent:  # the template died before the line above
            os._exit(1)
        self.sock.detach()  # fd 3 is the new control socket's now
        os.dup2(fds[0], 1)
        os.dup2(fds[1], 2)
        os.dup2(fds[2], 3, inheritable=False)
        for fd in fds:
            if fd > 3:
                os.close(fd)
        return socket.socket(fileno=3)
