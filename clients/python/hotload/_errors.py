"""The exceptions of hotload, and which error of the protocol is which.

Every error the daemon reports has a ``type`` (docs/protocol.md, "Error
types"); this module turns one into the exception a caller catches.
"""

import copy
from typing import Any, Dict, List, Optional

# Error types that mean the daemon would not run the request (or keep the
# connection): the code did not run, nothing of it happened.
REFUSALS = frozenset([
    "BadHeader", "UnknownTarget", "NotInstalled", "PayloadTooLarge", "TooManyConnections",
    "PermissionDenied", "ServerBusy", "ShuttingDown", "BadRequest", "QueueFull",
    "WorkerStartFailed", "TargetFailed", "RequestRefused", "ConfigError", "DebugSession",
])


class Error(Exception):
    """Base of every exception hotload raises.

    ``type`` is the protocol's error type (``"ZeroDivisionError"``,
    ``"UnknownTarget"``, …) or, for an error the client found itself, the
    exception's class name; ``message`` says what happened; ``traceback``
    is the remote traceback text ("" when there is none); ``error`` is the
    protocol's error object as it came (``{}`` when none did); ``result``
    is the :class:`Result` of the request it ended, when there was one (its
    ``stdout`` and ``stderr`` hold what the code printed first)."""

    type: str
    message: str
    traceback: str
    error: Dict[str, Any]
    result: Any  # the Result, or None

    def __init__(self, message: str, type: Optional[str] = None,
                 error: Optional[Dict[str, Any]] = None, result: Any = None) -> None:
        super().__init__(message)
        self.type = type or self.__class__.__name__
        self.message = message
        self.error = dict(error or {})
        tb = self.error.get("traceback")
        self.traceback = tb if isinstance(tb, str) else ""
        self.result = result

    def __str__(self):
        if self.type != self.__class__.__name__:
            return "%s: %s" % (self.type, self.message) if self.message else self.type
        return self.message or self.type


class DaemonUnavailable(Error):
    """No daemon answers where the client looked (the message says where,
    and how to start one), or the connection to it broke or was closed
    before the request finished. ``address`` is where it was."""

    def __init__(self, message: str, address: Any = None) -> None:
        super().__init__(message)
        self.address = address


class Refused(Error):
    """The daemon would not run the request: an unknown or not installed
    target, a bad header or request, another user's connection, a full
    queue, a target whose workers cannot start or failed too often, code
    that crashed the worker twice, a daemon shutting down. The code did not
    run."""


class RemoteError(Error):
    """The code raised: ``type`` is the exception's class name,
    ``message`` its ``str()``, ``traceback`` the remote traceback, which
    is also this exception's ``__cause__`` so an uncaught one shows it."""


class Interrupted(RemoteError):
    """The request got a ``KeyboardInterrupt``: :meth:`Client.interrupt`,
    ``hotloadctl interrupt``, or the code's own ``raise
    KeyboardInterrupt``; or it was taken out of the queue before it ran."""


class ReloadFailed(RemoteError):
    """:meth:`Client.reload_modules`: a module did not reload and keeps
    its old code. ``modules`` lists every module with its status; the
    failed ones have an ``error`` with the traceback."""

    @property
    def modules(self) -> List[Dict[str, Any]]:
        return self.result.reloaded if self.result is not None else []


class WorkerDied(Error):
    """The worker exited or was killed while it ran the request (a crash
    in native code, ``os._exit``, the out-of-memory killer). The target
    starts a new worker for the next request. ``exit_status`` and
    ``signal`` say how it ended (``signal`` 0: it exited), ``stderr_tail``
    is the last it wrote to stderr (a native crash message, often)."""

    exit_status: Optional[int]
    signal: Optional[int]
    stderr_tail: str

    def __init__(self, message: str, type: Optional[str] = None,
                 error: Optional[Dict[str, Any]] = None, result: Any = None) -> None:
        super().__init__(message, type, error, result)
        self.exit_status = self.error.get("exit_status")
        self.signal = self.error.get("signal")
        self.stderr_tail = self.error.get("stderr_tail") or ""


class Timeout(Error):
    """The request took longer than its ``timeout``. From the daemon
    (``client_side`` false): the code was interrupted, or its worker
    killed, as the message says; ``timeout`` is the limit in seconds. From
    the client (``client_side`` true): the daemon sent no answer within the
    timeout and its grace, so the client gave up and closed the
    connection."""

    timeout: Optional[float]
    client_side: bool

    def __init__(self, message: str, type: Optional[str] = None,
                 error: Optional[Dict[str, Any]] = None, result: Any = None,
                 client_side: bool = False) -> None:
        super().__init__(message, type, error, result)
        self.timeout = self.error.get("timeout")
        self.client_side = client_side


class RemoteTraceback(Exception):
    """The remote traceback, chained as the ``__cause__`` of the exception
    it belongs to, so that Python prints it above the local one."""

    def __init__(self, text):
        super().__init__(text)
        self.text = text

    def __str__(self):
        return "\n" + self.text.rstrip("\n")


def from_error(error, result=None):
    """The exception for a protocol error object ``{"type", "message", …}``."""
    if not isinstance(error, dict):
        error = {"type": "Error", "message": str(error)}
    kind = error.get("type")
    kind = kind if isinstance(kind, str) and kind else "Error"
    message = error.get("message")
    message = message if isinstance(message, str) else ""
    if kind == "WorkerDied":
        cls = WorkerDied
    elif kind == "Timeout":
        cls = Timeout
    elif kind == "KeyboardInterrupt":
        cls = Interrupted
    elif kind == "ReloadFailed":
        cls = ReloadFailed
    elif kind in REFUSALS:
        cls = Refused
    else:
        cls = RemoteError
    exc = cls(message, kind, error, result)
    if exc.traceback:
        exc.__cause__ = RemoteTraceback(exc.traceback)
    return exc


def fresh_copy(exc):
    """A copy of a stored exception, to raise it again (a connection's
    end, for every later request) without piling up tracebacks."""
    new = copy.copy(exc)
    new.__traceback__ = None
    return new
