"""The hotload Jupyter kernel: cells run in a worker of one hotload target.

Built on ipykernel's Kernel base class rather than on the messaging
protocol directly: ipykernel owns the ZeroMQ sockets, the message
signatures, heartbeat, the control thread, the execution count and the
reply shapes, and this module only says what a cell, a completion or an
interrupt means for a hotload target. The code itself goes through the
hotload client library (one connection per kernel), never the wire
protocol by hand.

Everything the user's code does happens in the worker, not here: this
process holds no namespace. Interrupts (the message and the signal mode
alike) become the daemon's interrupt of the running request; a restart
recycles the target's workers, so the next kernel's first cell meets a
new interpreter.
"""
import argparse
import codeop
import re
import signal
import sys
import threading
import time
import warnings

from ipykernel.kernelbase import Kernel
from ipykernel._version import kernel_protocol_version

import hotload
from hotload._protocol import check_target

# The completion, evaluated in the worker: rlcompleter (standard library)
# over the worker's own __main__, as the interactive interpreter's Tab.
COMPLETE_EXPR = ("(lambda c, t: list(__import__('itertools').takewhile("
                 "lambda m: m is not None, (c.complete(t, i) for i in range(%d)))))"
                 "(__import__('rlcompleter').Completer(globals()), %r)")
MAX_MATCHES = 500
COMPLETE_TIMEOUT = 5.0
# What the worker is: the first request also starts a worker, and a DCC
# may take a while (Maya ~20 s).
INFO_EXPR = ("(lambda s: ['%d.%d.%d' % tuple(s.version_info[:3]), s.version])"
             "(__import__('sys'))")
INFO_TIMEOUT = 60.0
TOKEN = re.compile(r"[\w.]*$")


def python_language_info(version):
    """The kernel_info language_info of Python at version ("3.11.2")."""
    return {"name": "python", "version": version, "mimetype": "text/x-python",
            "file_extension": ".py", "pygments_lexer": "ipython3",
            "codemirror_mode": {"name": "ipython", "version": 3},
            "nbconvert_exporter": "python"}


def error_content(exc, target):
    """ename, evalue and traceback (a list of lines) of a hotload error."""
    if isinstance(exc, hotload.RemoteError) and exc.traceback:
        return {"ename": exc.type, "evalue": exc.message,
                "traceback": exc.traceback.rstrip("\n").split("\n")}
    lines = ["%s: %s" % (exc.type, exc)]
    if isinstance(exc, hotload.WorkerDied):
        lines.append("The worker of %s died while it ran the cell; the next cell runs in a "
                     "new worker, whose namespace starts empty." % target)
        if exc.stderr_tail:
            lines.append("Its last output on stderr:")
            lines.extend(exc.stderr_tail.rstrip("\n").split("\n"))
    elif isinstance(exc, hotload.Timeout):
        lines.append("The cell ran past its time limit and was stopped (the hook's "
                     "request_timeout, or the kernel's --timeout).")
    elif isinstance(exc, hotload.DaemonUnavailable):
        lines.append("The kernel keeps running; run the cell again once hotloadd is up.")
    return {"ename": exc.type, "evalue": str(exc), "traceback": lines}


def is_complete(code):
    """do_is_complete's answer for code, by codeop as the console's: the
    statements compile, need more lines (and how to indent the next), or
    cannot compile at all."""
    if not code.strip():
        return {"status": "complete"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compiled = codeop.compile_command(code, "<cell>", "exec")
    except (SyntaxError, OverflowError, ValueError, TypeError):
        return {"status": "invalid"}
    lines = code.split("\n")
    last = lines[-1]
    indent = last[:len(last) - len(last.lstrip())]
    if compiled is None:
        if last.rstrip().endswith(":"):
            indent += "    "
        return {"status": "incomplete", "indent": indent}
    if indent and last.strip():  # inside a block: an empty line ends it
        return {"status": "incomplete", "indent": indent}
    return {"status": "complete"}


class HotloadKernel(Kernel):
    """A kernel whose cells run in a worker of ``target`` (set before it
    is made: main() does)."""

    implementation = "hotload"
    implementation_version = hotload.__version__
    language = "python"
    target = "python:3"
    request_timeout = None

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self._lock = threading.Lock()
        self._client = None
        self._busy = False  # a request of this kernel runs or waits
        self._info = None  # (python version, banner) once a worker said

    # -- the connection

    def _connect(self):
        with self._lock:
            if self._client is None or self._client.closed:
                self._client = hotload.Client(self.target, timeout=self.request_timeout)
            return self._client

    def _drop_broken(self):
        """Forget a connection that broke, so the next cell connects anew."""
        with self._lock:
            if self._client is not None and self._client.closed:
                self._client = None

    def _request(self, call):
        """call(client) with _busy set, as interrupts need it."""
        client = self._connect()
        with self._lock:
            self._busy = True
        try:
            return call(client)
        finally:
            with self._lock:
                self._busy = False

    # -- interrupts: both modes end here

    def _interrupt_running(self):
        """The daemon's interrupt of this kernel's running request. A cell
        whose request is not sent yet is retried for a moment."""
        for _ in range(40):
            with self._lock:
                client = self._client if self._busy else None
            if client is None:
                return
            try:
                if client.interrupt():
                    return
            except hotload.Error as exc:
                self.log.warning("interrupting %s: %s", self.target, exc)
                return
            time.sleep(0.05)

    def _interrupt_soon(self):
        threading.Thread(target=self._interrupt_running, name="hotload-interrupt",
                         daemon=True).start()

    def _on_sigint(self, signum, frame):
        # Not in the handler itself: the client's locks may be held by the
        # very code the signal interrupted (the wait for the cell's answer).
        self._interrupt_soon()

    def pre_handler_hook(self):
        """SIGINT while a request is handled: interrupt the code in the
        worker. No KeyboardInterrupt here, so the cell still gets its
        answer, with the worker's traceback."""
        self.saved_sigint_handler = signal.signal(signal.SIGINT, self._on_sigint)

    def post_handler_hook(self):
        signal.signal(signal.SIGINT, self.saved_sigint_handler)

    async def interrupt_request(self, stream, ident, parent):
        """interrupt_mode "message": the daemon's interrupt directly (the
        base class would signal this process)."""
        self._interrupt_soon()
        self.session.send(stream, "interrupt_reply", {"status": "ok"}, parent, ident=ident)

    # -- cells

    def _stream(self, name):
        def send(text):
            self.send_response(self.iopub_socket, "stream", {"name": name, "text": text})
        return send

    def do_execute(self, code, silent, store_history=True, user_expressions=None,
                   allow_stdin=False, *, cell_id=None):
        reply = {"status": "ok", "execution_count": self.execution_count, "payload": [],
                 "user_expressions": {}}
        if not code.strip():
            return reply
        out = None if silent else self._stream("stdout")
        err = None if silent else self._stream("stderr")
        try:
            result = self._request(lambda c: c.exec(
                code, file="In [%d]" % self.execution_count, interactive=True,
                on_stdout=out, on_stderr=err))
        except hotload.Error as exc:
            self._drop_broken()
            content = error_content(exc, self.target)
            if not silent:
                self.send_response(self.iopub_socket, "error", content)
            reply.update(content, status="error")
            return reply
        if result.repr is not None and not silent:
            self.send_response(self.iopub_socket, "execute_result", {
                "execution_count": self.execution_count,
                "data": {"text/plain": result.repr}, "metadata": {}})
        if user_expressions:
            reply["user_expressions"] = self._user_expressions(user_expressions)
        return reply

    def _user_expressions(self, expressions):
        answers = {}
        for name, expr in expressions.items():
            try:
                r = self._request(lambda c: c.eval_result(expr, raise_on_error=True))
                answers[name] = {"status": "ok", "data": {"text/plain": r.repr},
                                 "metadata": {}}
            except hotload.Error as exc:
                self._drop_broken()
                answers[name] = dict(error_content(exc, self.target), status="error")
        return answers

    def do_complete(self, code, cursor_pos):
        if cursor_pos is None:
            cursor_pos = len(code)
        token = TOKEN.search(code[:cursor_pos]).group()
        reply = {"status": "ok", "matches": [], "cursor_start": cursor_pos - len(token),
                 "cursor_end": cursor_pos, "metadata": {}}
        if not token or token[0].isdigit():
            return reply
        try:
            found = self._request(lambda c: c.eval(COMPLETE_EXPR % (MAX_MATCHES, token),
                                                   timeout=COMPLETE_TIMEOUT))
        except hotload.Error as exc:
            self._drop_broken()
            self.log.warning("completing in %s: %s", self.target, exc)
            return reply
        seen = set()
        for match in found if isinstance(found, list) else ():
            match = match.rstrip(" (")
            if match and match not in seen:
                seen.add(match)
                reply["matches"].append(match)
        return reply

    def do_is_complete(self, code):
        return is_complete(code)

    # -- what the kernel is

    def _worker_info(self):
        """(python version, banner) from a worker of the target, or a
        stand-in saying why there is none (asked again next time)."""
        if self._info is not None:
            return self._info
        try:
            version, full = self._request(lambda c: c.eval(INFO_EXPR, timeout=INFO_TIMEOUT))
            answer = self._request(lambda c: c.ping())
        except hotload.Error as exc:
            self._drop_broken()
            return "3", "hotload kernel for %s: no worker yet (%s: %s)" % (
                self.target, exc.type, exc)
        self._info = (version, "hotload kernel for %s (worker pid %s)\nPython %s" % (
            answer.get("target", self.target), answer.get("pid"), full))
        return self._info

    @property
    def kernel_info(self):
        version, banner = self._worker_info()
        return {"protocol_version": kernel_protocol_version,
                "implementation": self.implementation,
                "implementation_version": self.implementation_version,
                "language_info": python_language_info(version), "banner": banner,
                "help_links": []}

    # -- restart and shutdown

    def do_shutdown(self, restart):
        """On a restart, the target's workers are recycled: the kernel that
        comes next runs its first cell in a new interpreter. A plain
        shutdown leaves the workers (and whatever other clients keep in
        them) alone."""
        if restart:
            self._interrupt_running()
            try:
                with hotload.Client() as control:
                    control.recycle(self.target)
            except hotload.Error as exc:
                self.log.warning("recycling %s on restart: %s", self.target, exc)
        with self._lock:
            client, self._client = self._client, None
        if client is not None:
            client.close()
        return {"status": "ok", "restart": restart}


def main(argv=None):
    """Parse --target (and --timeout), hand the rest to IPKernelApp."""
    from ipykernel.kernelapp import IPKernelApp

    parser = argparse.ArgumentParser(prog="python3 -m hotload_kernel")
    parser.add_argument("--target", required=True,
                        help="the hotload target whose workers run the cells "
                             "(dcc or dcc:version)")
    parser.add_argument("--timeout", type=float, default=None,
                        help="seconds a cell may run (default: the hook's request_timeout)")
    ours, rest = parser.parse_known_args(sys.argv[1:] if argv is None else argv)
    try:
        check_target(ours.target)
    except ValueError as exc:
        parser.error(str(exc))
    HotloadKernel.target = ours.target
    HotloadKernel.request_timeout = ours.timeout
    IPKernelApp.launch_instance(argv=rest, kernel_class=HotloadKernel)
    return 0
