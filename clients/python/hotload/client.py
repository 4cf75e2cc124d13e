"""The blocking client: one JSON-mode connection to one target.

A reader thread takes every line the daemon sends and hands each event to
the request it belongs to; the thread that waits for a request calls its
callbacks. So requests may come from several threads at once, and
interrupt() from another thread reaches a request that blocks in exec().
"""
import queue
import select
import socket as _socket
import threading
import time
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _protocol as proto
from ._protocol import UNSET, ModulesCallback, PathLike, Result, TextCallback
from ._address import connect, resolve
from ._errors import DaemonUnavailable, Error, Timeout, fresh_copy

# MSG_NOSIGNAL: a daemon gone away must not kill a DCC whose embedded
# Python left SIGPIPE at its default (macOS: see _address.no_sigpipe).
_SEND_FLAGS = getattr(_socket, "MSG_NOSIGNAL", 0)
_READ_BUFFER = 256 << 10


class _Connection:
    """One connection: its socket, reader thread and pending requests."""

    def __init__(self, address, header, connect_timeout, name):
        self.address = address
        self.where = address.describe()
        self.sock = connect(address, connect_timeout)
        self._lock = threading.Lock()  # _pending, _last_id, _broken
        self._send_lock = threading.Lock()
        self._pending = {}
        self._last_id = 0
        self._broken = None
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name="hotload reader (%s)" % name)
        try:
            self.sock.sendall(header, _SEND_FLAGS)
        except OSError:
            pass  # refused at once: the reason waits to be read
        self._reader.start()

    def _lines(self):
        """The daemon's lines as they come, each with its newline; at the
        end of the connection a last one without it, if any.

        Waits in poll() for input, then reads what is there: a thread
        blocked in a read of a Unix socket is woken each time the daemon
        reads what it sent (the kernel tells the socket's sleepers there is
        room to write), a wake-up per request for nothing, and the daemon's
        work of waking it. The events of a lot of output are lines of
        256 KiB and more: read in large pieces (20% faster on 256 MiB than
        8 KiB ones).
        """
        poller = None
        if hasattr(select, "poll"):
            poller = select.poll()
            poller.register(self.sock.fileno(), select.POLLIN)
        chunk = bytearray(_READ_BUFFER)
        view = memoryview(chunk)
        buf = bytearray()
        scanned = 0  # buf[:scanned] holds no newline
        while True:
            nl = buf.find(b"\n", scanned)
            if nl >= 0:
                line = bytes(buf[:nl + 1])
                del buf[:nl + 1]
                scanned = 0
                yield line
                continue
            scanned = len(buf)
            if poller is not None:
                poller.poll()
            n = self.sock.recv_into(chunk)
            if not n:
                if buf:
                    yield bytes(buf)
                return
            buf += view[:n]

    def _read_loop(self):
        """Hand every event to its request until the connection ends."""
        reason = None
        lines = self._lines()
        try:
            for line in lines:
                if not line.strip():
                    continue
                event = proto.decode(line, self.where)
                if event.get("event") == "error":
                    # the connection is refused; the daemon closes next
                    reason = proto.from_error(event.get("error") or {})
                    continue
                rid = proto.request_id(event)
                with self._lock:
                    q = self._pending.get(rid)
                if q is not None:
                    q.put(event)
        except DaemonUnavailable as e:
            reason = reason or e
        except (OSError, ValueError) as e:
            reason = reason or DaemonUnavailable(
                "lost the connection to hotloadd on %s: %s" % (self.where, e), self.address)
        finally:
            lines.close()
        self.fail(reason or DaemonUnavailable(
            "hotloadd on %s closed the connection" % self.where, self.address))

    def fail(self, reason):
        """The connection cannot go on: every waiting request learns why."""
        with self._lock:
            if self._broken is None:
                self._broken = reason
            waiting = list(self._pending.values())
        for q in waiting:
            q.put(None)

    def close(self, reason):
        """Close the socket; requests still waiting raise reason."""
        self.fail(reason)
        try:
            self.sock.shutdown(_socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        if self._reader is not threading.current_thread():
            self._reader.join(5)

    def send(self, op, fields, answered=True):
        """Send one request; returns its id and the queue of its events
        (None when nobody waits for its answer)."""
        with self._lock:
            if self._broken is not None:
                raise fresh_copy(self._broken)
            self._last_id += 1
            rid = self._last_id
            q = queue.Queue() if answered else None
            if q is not None:
                self._pending[rid] = q
        request = proto.encode(dict(fields, id=rid, op=op))
        try:
            with self._send_lock:
                self.sock.sendall(request, _SEND_FLAGS)
        except OSError as e:
            # A daemon that refused us closed the connection: the reader
            # is about to say why. Otherwise this is the reason.
            self._reader.join(5)
            self.fail(DaemonUnavailable("lost the connection to hotloadd on %s: %s"
                                        % (self.where, e.strerror or e), self.address))
        except BaseException:
            # Ctrl-C in the middle of sendall: part of a line may be out,
            # and the next request would be glued to it.
            self.close(DaemonUnavailable("the connection to hotloadd on %s was closed: a "
                                         "request was cut off while it was sent"
                                         % self.where, self.address))
            raise
        return rid, q

    def forget(self, rid):
        with self._lock:
            self._pending.pop(rid, None)

    def wait(self, rid, q, collector, limit):
        """The request's Result, its events fed to collector as they come.

        limit: seconds to wait for the done at most, or None. Past it the
        client gives up on the daemon (Timeout, client_side) and closes
        the connection. A KeyboardInterrupt of the waiting thread (Ctrl-C)
        interrupts the request in its worker too."""
        deadline = None if limit is None else time.monotonic() + limit
        try:
            while True:
                left = None if deadline is None else max(0.0, deadline - time.monotonic())
                try:
                    event = q.get(timeout=left)
                except queue.Empty:
                    exc = Timeout("hotloadd on %s sent no answer within %g s; closing the "
                                  "connection" % (self.where, limit), client_side=True)
                    self.close(DaemonUnavailable(
                        "the connection to hotloadd on %s was closed: a request got no "
                        "answer within %g s" % (self.where, limit), self.address))
                    raise exc from None
                if event is None:
                    with self._lock:
                        raise fresh_copy(self._broken)
                result = collector.feed(event)
                if result is not None:
                    return result
        except KeyboardInterrupt:
            try:
                self.send("interrupt", {"request": rid}, answered=False)
            except Error:
                pass
            raise
        finally:
            self.forget(rid)

    def call(self, op, fields, collector=None, limit=None):
        """Send a request and wait for its Result."""
        rid, q = self.send(op, fields)
        return self.wait(rid, q, collector or proto.Collector(), limit)


class Client:
    """A connection to hotloadd for running code in one target.

    ``target`` is ``"dcc[:version]"`` (``"python:3"``, ``"blender"``,
    ``"mayapy:2024"``), or None for a client of the daemon's control
    requests only. The daemon is found as hotloadctl finds it: ``socket``
    (a Unix socket path) or ``tcp`` (``"host:port"``), else
    ``$HOTLOAD_SOCKET``, else ``$HOTLOAD_TCP``, else the default socket.
    Over TCP, ``token`` (or the first line of ``token_file``, or
    ``$HOTLOAD_TOKEN``) is shown to a daemon that requires one. ``watch``:
    up to 4 absolute directories the target watches while the client is
    open (modules changed there reload before each request).

    ``timeout``: the default limit, in seconds, of exec, eval and
    reload_modules (None: the hook's ``request_timeout``, else none).
    ``connect_timeout`` bounds connecting. ``timeout_grace``: how much
    longer than a request's timeout the client waits for the daemon's
    answer before it gives up on the daemon. ``raise_on_error``: the
    default of the methods that return a Result. ``session``: run exec,
    eval and reload_modules in the worker of this debug session
    (``hotloadctl debug --session NAME TARGET`` starts one; see
    docs/debugging.md), where the debugger's breakpoints stop the code.

    Raises DaemonUnavailable when nothing answers; a target the daemon
    refuses (unknown, not installed) raises Refused at the first request.
    """

    def __init__(self, target: Optional[str] = None, socket: Optional[PathLike] = None,
                 tcp: Optional[str] = None, token: Optional[str] = None,
                 token_file: Optional[PathLike] = None,
                 watch: Union[PathLike, Iterable[PathLike]] = (),
                 timeout: Optional[float] = None, connect_timeout: Optional[float] = 10.0,
                 timeout_grace: float = 30.0, raise_on_error: bool = True,
                 session: Optional[str] = None) -> None:
        if target is not None:
            proto.check_target(target)
        self.target = target
        self.address = resolve(socket, tcp, token, token_file)
        self.timeout = proto.limit_fields(timeout).get("timeout")
        self.connect_timeout = connect_timeout
        self.timeout_grace = timeout_grace
        self.raise_on_error = raise_on_error
        self.session = proto.check_session(session)
        self._control_lock = threading.Lock()
        self._control_conn: Optional[_Connection] = None
        self._conn: Optional[_Connection] = None
        self._closed = False
        if target is not None:
            self._conn = _Connection(self.address, proto.header(target, self.address, watch),
                                     connect_timeout, target)
        else:
            if watch:
                raise ValueError("watch= needs a target")
            self._control()

    # -- plumbing

    def _limit(self, timeout):
        """(request fields, client-side wait) of a request's timeout."""
        if timeout is UNSET:
            timeout = self.timeout
        fields = proto.limit_fields(timeout)
        if not fields:
            return fields, None
        return fields, fields["timeout"] + self.timeout_grace

    def _target_conn(self):
        if self._closed:
            raise DaemonUnavailable("the client is closed", self.address)
        if self._conn is None:
            raise ValueError("this client has no target: hotload.Client(TARGET) runs code")
        return self._conn

    def _control(self):
        """The connection to the control target, opened on first use."""
        with self._control_lock:
            if self._closed:
                raise DaemonUnavailable("the client is closed", self.address)
            if self._control_conn is None:
                self._control_conn = _Connection(
                    self.address, proto.header(proto.CONTROL_TARGET, self.address),
                    self.connect_timeout, proto.CONTROL_TARGET)
            return self._control_conn

    def _control_call(self, op, **fields):
        return self._control().call(op, fields).raw

    def _run(self, op, fields, timeout, on_stdout, on_stderr, on_reloaded, on_waiting):
        limit_fields, wait = self._limit(timeout)
        fields.update(limit_fields)
        if self.session is not None:
            fields["session"] = self.session
        collector = proto.Collector(on_stdout, on_stderr, on_reloaded, on_waiting)
        return self._target_conn().call(op, fields, collector, wait)

    def _raise(self, raise_on_error):
        return self.raise_on_error if raise_on_error is None else raise_on_error

    # -- running code

    def exec(self, code: str, *, file: Optional[str] = None, path: Optional[PathLike] = None,
             cwd: Optional[PathLike] = None, argv: Optional[Sequence[str]] = None,
             fresh: bool = False, timeout: Optional[float] = UNSET,
             on_stdout: TextCallback = None, on_stderr: TextCallback = None,
             on_reloaded: ModulesCallback = None, on_waiting: TextCallback = None,
             raise_on_error: Optional[bool] = None,
             interactive: bool = False) -> Result:
        """Run Python statements in a worker of the target; a Result.

        ``file``: the name tracebacks show. ``path``: the file the code
        came from (``__file__``, and its directory first on ``sys.path``
        for the run). ``cwd``: the directory to run in. ``argv``:
        ``sys.argv`` for the run. ``fresh``: a new empty namespace instead
        of the worker's shared ``__main__``. ``timeout``: seconds in all,
        the wait for a worker included. ``on_stdout(text)``,
        ``on_stderr(text)``: called with output as it is printed;
        ``on_reloaded(modules)`` when modules were reloaded first;
        ``on_waiting(state)`` when the request waits for a worker
        (``"starting"``, ``"queued"``, ``"backoff"``).

        ``interactive``: run it as the interactive interpreter runs what
        is typed: when the code ends with an expression statement, the
        Result's ``value`` and ``repr`` are that expression's (unless it is
        None), as a notebook cell shows its last line.

        An error of the code or its worker raises (RemoteError,
        WorkerDied, Timeout, Interrupted, Refused), or with
        ``raise_on_error=False`` is the Result's ``error``."""
        fields = proto.exec_fields(code, file, path, cwd, argv, fresh, interactive)
        result = self._run("exec", fields, timeout, on_stdout, on_stderr, on_reloaded,
                           on_waiting)
        return proto.outcome(result, self._raise(raise_on_error))

    def exec_file(self, path: PathLike, args: Sequence[str] = (), *,
                  cwd: Optional[PathLike] = None, fresh: bool = False,
                  timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                  on_stderr: TextCallback = None, on_reloaded: ModulesCallback = None,
                  on_waiting: TextCallback = None,
                  raise_on_error: Optional[bool] = None) -> Result:
        """Run a script file as ``python FILE ARGS...`` would: read here,
        run there with ``__file__`` and tracebacks naming its full path,
        its directory first on ``sys.path`` and ``sys.argv`` ``[FILE,
        *args]``. Otherwise as exec()."""
        fields = proto.file_fields(path, args, cwd, fresh)
        result = self._run("exec", fields, timeout, on_stdout, on_stderr, on_reloaded,
                           on_waiting)
        return proto.outcome(result, self._raise(raise_on_error))

    def eval(self, expr: str, *, file: Optional[str] = None, path: Optional[PathLike] = None,
             cwd: Optional[PathLike] = None, argv: Optional[Sequence[str]] = None,
             fresh: bool = False, timeout: Optional[float] = UNSET,
             on_stdout: TextCallback = None, on_stderr: TextCallback = None,
             on_reloaded: ModulesCallback = None, on_waiting: TextCallback = None) -> Any:
        """Evaluate one expression in a worker and return its value: the
        value itself when it is plain JSON (numbers, strings, lists, dicts,
        True/False/None), else its ``repr()`` as a string. Errors always
        raise; eval_result() gives the whole Result."""
        return self.eval_result(expr, file=file, path=path, cwd=cwd, argv=argv, fresh=fresh,
                                timeout=timeout, on_stdout=on_stdout, on_stderr=on_stderr,
                                on_reloaded=on_reloaded, on_waiting=on_waiting,
                                raise_on_error=True).value

    def eval_result(self, expr: str, *, file: Optional[str] = None,
                    path: Optional[PathLike] = None, cwd: Optional[PathLike] = None,
                    argv: Optional[Sequence[str]] = None, fresh: bool = False,
                    timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                    on_stderr: TextCallback = None, on_reloaded: ModulesCallback = None,
                    on_waiting: TextCallback = None,
                    raise_on_error: Optional[bool] = None) -> Result:
        """eval() as a Result: ``value``, ``repr``, and what it printed."""
        fields = proto.code_fields(expr, file, path, cwd, argv, fresh)
        result = self._run("eval", fields, timeout, on_stdout, on_stderr, on_reloaded,
                           on_waiting)
        return proto.outcome(result, self._raise(raise_on_error))

    def reload_modules(self, names: Union[str, Iterable[str]], purge: bool = False, *,
                       timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                       on_stderr: TextCallback = None,
                       raise_on_error: Optional[bool] = None) -> Result:
        """Reload modules (a name, or a list; a package includes everything
        below it) in the worker that takes the request: those whose files
        changed are run again and patched in place, or with ``purge``
        removed from ``sys.modules``. A Result whose ``reloaded`` lists
        every module and its status; a module that failed raises
        ReloadFailed (or is the Result's error)."""
        fields = proto.reload_fields(names, purge)
        result = self._run("reload", fields, timeout, on_stdout, on_stderr, None, None)
        return proto.outcome(result, self._raise(raise_on_error))

    def reset(self) -> None:
        """Start the worker's shared ``__main__`` namespace over."""
        proto.outcome(self._target_conn().call("reset", {}), True)

    def ping(self) -> Dict[str, Any]:
        """Have a worker answer, starting one if none runs: a dict with the
        daemon's name of the target (``"target"``), the worker's
        ``"pid"`` and ``"duration_ms"``."""
        return proto.answer(self._target_conn().call("ping", {}).raw)

    def interrupt(self) -> int:
        """KeyboardInterrupt in every request of this client that runs or
        waits for a worker; safe to call from any thread while another
        blocks in exec(). The workers stay warm.
        Returns how many requests it hit."""
        if self._conn is None:
            return 0
        done = self._target_conn().call("interrupt", {}, limit=self.timeout_grace).raw
        return proto.answer(done).get("interrupted", 0)

    # -- the daemon's control requests

    def status(self, target: Optional[str] = None) -> Dict[str, Any]:
        """The daemon's status: ``{"daemon": {...}, "targets": [...]}``, as
        ``hotloadctl status --json`` prints it; with ``target`` (the
        daemon's name, e.g. ``"python:3"``) only that target."""
        fields = {}
        if target is not None:
            proto.check_target(target)
            fields["target"] = target
        return proto.answer(self._control_call("status", **fields))["status"]

    def list(self) -> List[Dict[str, Any]]:
        """Every hook the daemon knows: ``name``, ``aliases``,
        ``description``, ``source``, ``default_version`` and ``installs``
        (``[{"version", "path"}]``, newest first)."""
        return proto.answer(self._control_call("list"))["hooks"]

    def start(self, *targets: str) -> List[Dict[str, Any]]:
        """Start a worker of each target (this client's by default),
        clearing a failed or backing-off state. Returns the per-target
        answers; the first failure raises."""
        return self._targets_op("start", targets)

    def stop(self, *targets: str) -> List[Dict[str, Any]]:
        """Stop the targets' workers gracefully; they start again on demand."""
        return self._targets_op("stop", targets)

    def restart(self, *targets: str) -> List[Dict[str, Any]]:
        """Stop the targets' workers, then start new ones."""
        return self._targets_op("restart", targets)

    def recycle(self, *targets: str) -> List[Dict[str, Any]]:
        """Replace the targets' workers with fresh ones; a running request
        finishes first. Each answer has ``recycled``, how many workers."""
        return self._targets_op("recycle", targets)

    def _targets_op(self, op, targets):
        fields = proto.target_fields(targets, self.target)
        return proto.target_results(self._control_call(op, **fields))

    # -- lifetime

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        """Close the connections. Requests still waiting in this client
        raise DaemonUnavailable; one that runs goes on to its end in its
        worker (interrupt() first to stop it)."""
        with self._control_lock:  # no control connection opens meanwhile
            if self._closed:
                return
            self._closed = True
            conns = (self._conn, self._control_conn)
        gone = DaemonUnavailable("the client was closed", self.address)
        for conn in conns:
            if conn is not None:
                conn.close(gone)

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self):
        return "<hotload.Client %s on %s%s>" % (self.target or "(control)",
                                                self.address.describe(),
                                                " closed" if self._closed else "")
