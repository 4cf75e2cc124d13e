"""The asyncio client: the same requests as hotload.Client, as coroutines.

    import asyncio
    import hotload.aio

    async def main():
        async with hotload.aio.Client("python:3") as c:
            print(await c.eval("6 * 7"))

    asyncio.run(main())

One connection per client, read by a task of its own, so that requests of
several tasks share it and interrupt() reaches a request another task
awaits. Cancelling a task that awaits a request interrupts the request in
its worker. Callbacks are plain functions, called in the awaiting task.
"""
import asyncio
from typing import Any, Dict, Iterable, List, Optional, Sequence, Union

from . import _protocol as proto
from ._protocol import UNSET, ModulesCallback, PathLike, Result, TextCallback
from ._address import check_address, parse_tcp, resolve, unreachable
from ._errors import DaemonUnavailable, Timeout, fresh_copy

# The longest line the daemon may send: an eval's value of many MiB.
_LINE_LIMIT = 1 << 30


class _Connection:
    """One connection: its streams, reader task and pending requests."""

    def __init__(self, address, name):
        self.address = address
        self.where = address.describe()
        self.name = name
        self._pending = {}
        self._last_id = 0
        self._broken = None
        self._reader = self._writer = self._task = None
        self._send_lock = asyncio.Lock()

    async def open(self, header, timeout):
        check_address(self.address)
        try:
            if self.address.socket_path is not None:
                opening = asyncio.open_unix_connection(self.address.socket_path,
                                                       limit=_LINE_LIMIT)
            else:
                host, port = parse_tcp(self.address.tcp)
                opening = asyncio.open_connection(host, port, limit=_LINE_LIMIT)
            self._reader, self._writer = await asyncio.wait_for(opening, timeout)
        except asyncio.TimeoutError:
            raise DaemonUnavailable(unreachable(self.address, OSError("timed out")),
                                    self.address) from None
        except OSError as e:
            raise DaemonUnavailable(unreachable(self.address, e), self.address) from None
        self._writer.write(header)
        self._task = asyncio.ensure_future(self._read_loop())

    async def _read_loop(self):
        reason = None
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                if not line.strip():
                    continue
                event = proto.decode(line, self.where)
                if event.get("event") == "error":
                    reason = proto.from_error(event.get("error") or {})
                    continue
                q = self._pending.get(proto.request_id(event))
                if q is not None:
                    q.put_nowait(event)
        except DaemonUnavailable as e:
            reason = reason or e
        except (OSError, ValueError) as e:
            reason = reason or DaemonUnavailable(
                "lost the connection to hotloadd on %s: %s" % (self.where, e), self.address)
        self.fail(reason or DaemonUnavailable(
            "hotloadd on %s closed the connection" % self.where, self.address))

    def fail(self, reason):
        if self._broken is None:
            self._broken = reason
        for q in self._pending.values():
            q.put_nowait(None)

    async def close(self, reason):
        self.fail(reason)
        if self._writer is not None:
            self._writer.close()
            try:
                await self._writer.wait_closed()
            except OSError:
                pass
        if self._task is not None:
            await asyncio.wait([self._task], timeout=5)

    async def send(self, op, fields, answered=True):
        if self._broken is not None:
            raise fresh_copy(self._broken)
        self._last_id += 1
        rid = self._last_id
        q = asyncio.Queue() if answered else None
        if q is not None:
            self._pending[rid] = q
        try:
            async with self._send_lock:
                self._writer.write(proto.encode(dict(fields, id=rid, op=op)))
                await self._writer.drain()
        except OSError as e:
            await asyncio.wait([self._task], timeout=5)
            self.fail(DaemonUnavailable("lost the connection to hotloadd on %s: %s"
                                        % (self.where, e.strerror or e), self.address))
        return rid, q

    async def call(self, op, fields, collector=None, limit=None):
        collector = collector or proto.Collector()
        rid, q = await self.send(op, fields)
        loop = asyncio.get_event_loop()
        deadline = None if limit is None else loop.time() + limit
        try:
            while True:
                left = None if deadline is None else max(0.0, deadline - loop.time())
                try:
                    event = await asyncio.wait_for(q.get(), left)
                except asyncio.TimeoutError:
                    exc = Timeout("hotloadd on %s sent no answer within %g s; closing the "
                                  "connection" % (self.where, limit), client_side=True)
                    await self.close(DaemonUnavailable(
                        "the connection to hotloadd on %s was closed: a request got no "
                        "answer within %g s" % (self.where, limit), self.address))
                    raise exc from None
                if event is None:
                    raise fresh_copy(self._broken)
                result = collector.feed(event)
                if result is not None:
                    return result
        except asyncio.CancelledError:
            if self._broken is None:
                # the request goes on in its worker unless it is told
                self._last_id += 1
                try:
                    self._writer.write(proto.encode({"id": self._last_id, "op": "interrupt",
                                                     "request": rid}))
                except (OSError, RuntimeError):
                    pass
            raise
        finally:
            self._pending.pop(rid, None)


class Client:
    """hotload.Client for asyncio: the same arguments, the same methods as
    coroutines (``await c.exec(...)``). Connect with ``async with
    hotload.aio.Client(target) as c:`` or ``c = await
    hotload.aio.connect(target)``."""

    def __init__(self, target: Optional[str] = None, socket: Optional[PathLike] = None,
                 tcp: Optional[str] = None, token: Optional[str] = None,
                 token_file: Optional[PathLike] = None,
                 watch: Union[PathLike, Iterable[PathLike]] = (),
                 timeout: Optional[float] = None, connect_timeout: Optional[float] = 10.0,
                 timeout_grace: float = 30.0, raise_on_error: bool = True,
                 session: Optional[str] = None) -> None:
        if target is not None:
            proto.check_target(target)
        elif watch:
            raise ValueError("watch= needs a target")
        self.target = target
        self.address = resolve(socket, tcp, token, token_file)
        self.timeout = proto.limit_fields(timeout).get("timeout")
        self.connect_timeout = connect_timeout
        self.timeout_grace = timeout_grace
        self.raise_on_error = raise_on_error
        self.session = proto.check_session(session)
        self._header = proto.header(target, self.address, watch) if target else None
        self._conn: Optional[_Connection] = None
        self._control_conn: Optional[_Connection] = None
        self._closed = False

    async def connect(self) -> "Client":
        """Open the connection (done by ``async with``); returns self."""
        if self._closed:
            raise DaemonUnavailable("the client is closed", self.address)
        if self.target is None:
            await self._control()
        elif self._conn is None:
            conn = _Connection(self.address, self.target)
            await conn.open(self._header, self.connect_timeout)
            self._conn = conn
        return self

    async def _control(self):
        if self._closed:
            raise DaemonUnavailable("the client is closed", self.address)
        if self._control_conn is None:
            conn = _Connection(self.address, proto.CONTROL_TARGET)
            await conn.open(proto.header(proto.CONTROL_TARGET, self.address),
                            self.connect_timeout)
            self._control_conn = conn
        return self._control_conn

    async def _target_conn(self):
        if self.target is None:
            raise ValueError("this client has no target: hotload.aio.Client(TARGET) runs code")
        if self._conn is None:
            await self.connect()
        return self._conn

    async def _run(self, op, fields, timeout, callbacks):
        if timeout is UNSET:
            timeout = self.timeout
        limit = proto.limit_fields(timeout)
        fields.update(limit)
        if self.session is not None:
            fields["session"] = self.session
        wait = limit["timeout"] + self.timeout_grace if limit else None
        conn = await self._target_conn()
        return await conn.call(op, fields, proto.Collector(*callbacks), wait)

    def _raise(self, raise_on_error):
        return self.raise_on_error if raise_on_error is None else raise_on_error

    async def exec(self, code: str, *, file: Optional[str] = None,
                   path: Optional[PathLike] = None, cwd: Optional[PathLike] = None,
                   argv: Optional[Sequence[str]] = None, fresh: bool = False,
                   timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                   on_stderr: TextCallback = None, on_reloaded: ModulesCallback = None,
                   on_waiting: TextCallback = None,
                   raise_on_error: Optional[bool] = None,
                   interactive: bool = False) -> Result:
        """hotload.Client.exec()."""
        fields = proto.exec_fields(code, file, path, cwd, argv, fresh, interactive)
        result = await self._run("exec", fields, timeout,
                                 (on_stdout, on_stderr, on_reloaded, on_waiting))
        return proto.outcome(result, self._raise(raise_on_error))

    async def exec_file(self, path: PathLike, args: Sequence[str] = (), *,
                        cwd: Optional[PathLike] = None, fresh: bool = False,
                        timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                        on_stderr: TextCallback = None, on_reloaded: ModulesCallback = None,
                        on_waiting: TextCallback = None,
                        raise_on_error: Optional[bool] = None) -> Result:
        """hotload.Client.exec_file()."""
        fields = proto.file_fields(path, args, cwd, fresh)
        result = await self._run("exec", fields, timeout,
                                 (on_stdout, on_stderr, on_reloaded, on_waiting))
        return proto.outcome(result, self._raise(raise_on_error))

    async def eval(self, expr: str, **options: Any) -> Any:
        """hotload.Client.eval(): the value; errors raise."""
        options["raise_on_error"] = True
        return (await self.eval_result(expr, **options)).value

    async def eval_result(self, expr: str, *, file: Optional[str] = None,
                          path: Optional[PathLike] = None, cwd: Optional[PathLike] = None,
                          argv: Optional[Sequence[str]] = None, fresh: bool = False,
                          timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                          on_stderr: TextCallback = None, on_reloaded: ModulesCallback = None,
                          on_waiting: TextCallback = None,
                          raise_on_error: Optional[bool] = None) -> Result:
        """hotload.Client.eval_result()."""
        fields = proto.code_fields(expr, file, path, cwd, argv, fresh)
        result = await self._run("eval", fields, timeout,
                                 (on_stdout, on_stderr, on_reloaded, on_waiting))
        return proto.outcome(result, self._raise(raise_on_error))

    async def reload_modules(self, names: Union[str, Iterable[str]], purge: bool = False, *,
                             timeout: Optional[float] = UNSET, on_stdout: TextCallback = None,
                             on_stderr: TextCallback = None,
                             raise_on_error: Optional[bool] = None) -> Result:
        """hotload.Client.reload_modules()."""
        fields = proto.reload_fields(names, purge)
        result = await self._run("reload", fields, timeout, (on_stdout, on_stderr))
        return proto.outcome(result, self._raise(raise_on_error))

    async def reset(self) -> None:
        """hotload.Client.reset()."""
        conn = await self._target_conn()
        proto.outcome(await conn.call("reset", {}), True)

    async def ping(self) -> Dict[str, Any]:
        """hotload.Client.ping()."""
        conn = await self._target_conn()
        return proto.answer((await conn.call("ping", {})).raw)

    async def interrupt(self) -> int:
        """hotload.Client.interrupt(): for requests other tasks await."""
        if self.target is None or self._conn is None:
            return 0
        done = (await self._conn.call("interrupt", {}, limit=self.timeout_grace)).raw
        return proto.answer(done).get("interrupted", 0)

    async def _control_call(self, op, **fields):
        conn = await self._control()
        return (await conn.call(op, fields)).raw

    async def status(self, target: Optional[str] = None) -> Dict[str, Any]:
        """hotload.Client.status()."""
        fields = {}
        if target is not None:
            proto.check_target(target)
            fields["target"] = target
        return proto.answer(await self._control_call("status", **fields))["status"]

    async def list(self) -> List[Dict[str, Any]]:
        """hotload.Client.list()."""
        return proto.answer(await self._control_call("list"))["hooks"]

    async def start(self, *targets: str) -> List[Dict[str, Any]]:
        """hotload.Client.start()."""
        return await self._targets_op("start", targets)

    async def stop(self, *targets: str) -> List[Dict[str, Any]]:
        """hotload.Client.stop()."""
        return await self._targets_op("stop", targets)

    async def restart(self, *targets: str) -> List[Dict[str, Any]]:
        """hotload.Client.restart()."""
        return await self._targets_op("restart", targets)

    async def recycle(self, *targets: str) -> List[Dict[str, Any]]:
        """hotload.Client.recycle()."""
        return await self._targets_op("recycle", targets)

    async def _targets_op(self, op, targets):
        fields = proto.target_fields(targets, self.target)
        return proto.target_results(await self._control_call(op, **fields))

    @property
    def closed(self) -> bool:
        return self._closed

    async def close(self) -> None:
        """hotload.Client.close()."""
        if self._closed:
            return
        self._closed = True
        gone = DaemonUnavailable("the client was closed", self.address)
        for conn in (self._conn, self._control_conn):
            if conn is not None:
                await conn.close(gone)

    async def __aenter__(self) -> "Client":
        return await self.connect()

    async def __aexit__(self, *exc_info: Any) -> None:
        await self.close()

    def __repr__(self):
        return "<hotload.aio.Client %s on %s%s>" % (self.target or "(control)",
                                                    self.address.describe(),
                                                    " closed" if self._closed else "")


async def connect(target: Optional[str] = None, **options: Any) -> Client:
    """A connected hotload.aio.Client; the arguments of hotload.Client."""
    return await Client(target, **options).connect()


__all__ = ["Client", "connect"]
