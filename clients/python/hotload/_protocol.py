"""The client protocol's JSON mode, without any I/O: the header line,
requests, and what a request's events add up to (docs/protocol.md).

Shared by the blocking client (client.py) and the asyncio one (aio.py).
"""
import json
import os
import re
from typing import Any, Callable, Dict, List, Optional, Union

from ._errors import DaemonUnavailable, Error, from_error

CONTROL_TARGET = "hotload"
MAX_WATCH = 4

# The header's grammar: dcc[:version], each 1-63 of these characters.
_TARGET = re.compile(r"\A[A-Za-z0-9._+-]{1,63}(:[A-Za-z0-9._+-]{1,63})?\Z")



class _Unset:
    def __repr__(self):
        return "<not given>"


# "not given", as opposed to None ("no limit"); typed Any so that it can be
# the default of an Optional[float] parameter
UNSET: Any = _Unset()

# The types of the public signatures.
PathLike = Union[str, "os.PathLike[str]"]
TextCallback = Optional[Callable[[str], Any]]
ModulesCallback = Optional[Callable[[List[Dict[str, Any]]], Any]]


def check_target(target):
    """ValueError unless target is ``dcc`` or ``dcc:version``."""
    if not isinstance(target, str) or not _TARGET.match(target):
        raise ValueError("bad target %r: expected DCC[:VERSION], e.g. python:3 or mayapy:2024"
                         % (target,))
    if target.split(":", 1)[0] == CONTROL_TARGET:
        raise ValueError("%r is the daemon's control target: use hotload.Client() (no "
                         "target) for status(), list() and the other control requests"
                         % (target,))


def header(target, address, watch=()):
    """The first line of a JSON-mode connection, as bytes."""
    words = [target, "mode=json"]
    if address.tcp is not None and address.token:
        words.append("token=" + address.token)
    watch = [watch] if isinstance(watch, (str, bytes, os.PathLike)) else list(watch or ())
    if len(watch) > MAX_WATCH:
        raise ValueError("at most %d watch directories" % MAX_WATCH)
    for d in watch:
        d = os.fspath(d)
        if (not isinstance(d, str) or not os.path.isabs(d) or
                any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7f for c in d)):
            raise ValueError("watch wants absolute directories without spaces, not %r" % (d,))
        words.append("watch=" + d)
    line = " ".join(words) + "\n"
    data = line.encode("utf-8")
    if len(data) > 1024:
        raise ValueError("the header line would be longer than 1024 bytes: fewer or shorter "
                         "watch directories")
    return data


def encode(request):
    """One request as a line of JSON; the code of an exec or eval after
    it, as it is (code_bytes: no escaping here, no decoding in the
    daemon; code_fields made sure it encodes)."""
    code = request.get("code")
    if request.get("op") in ("exec", "eval") and isinstance(code, str):
        data = code.encode("utf-8")
        request = dict(request, code_bytes=len(data))
        del request["code"]
        return json.dumps(request, separators=(",", ":")).encode("utf-8") + b"\n" + data
    return json.dumps(request, separators=(",", ":")).encode("utf-8") + b"\n"


def decode(line, where):
    """One line from the daemon as a dict; DaemonUnavailable when it is not
    a JSON object (the daemon is not what is listening there)."""
    try:
        event = json.loads(line.decode("utf-8"))
    except ValueError as e:
        raise DaemonUnavailable("bad message from hotloadd on %s: %s" % (where, e)) from None
    if not isinstance(event, dict):
        raise DaemonUnavailable("bad message from hotloadd on %s: not a JSON object" % where)
    return event


def request_id(event):
    """The event's id when it is one of ours (an int), else None."""
    rid = event.get("id")
    return rid if isinstance(rid, int) and not isinstance(rid, bool) else None


def _seconds(value, name):
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1e9:
        raise ValueError("%s wants seconds above 0 (at most 1e9), not %r" % (name, value))
    return float(value)


def limit_fields(timeout):
    """``timeout`` and ``deadline`` for a request that may take timeout
    seconds in all, its wait for a worker included (as hotloadctl
    --timeout sends them)."""
    timeout = _seconds(timeout, "timeout")
    return {} if timeout is None else {"timeout": timeout, "deadline": timeout}


SESSION_RE = re.compile(r"[A-Za-z0-9._-]{1,64}\Z")


def check_session(session):
    """A debug session's name as the daemon takes it, or None."""
    if session is None:
        return None
    if not isinstance(session, str) or not SESSION_RE.match(session):
        raise ValueError("session must be a debug session's name: 1 to 64 characters of "
                         "A-Z, a-z, 0-9, '.', '-' and '_', not %r" % (session,))
    return session


def code_fields(code, file=None, path=None, cwd=None, argv=None, fresh=False):
    """The fields of an exec or eval request."""
    if not isinstance(code, str):
        raise TypeError("code must be a str, not %s" % type(code).__name__)
    try:
        code.encode("utf-8")
    except UnicodeEncodeError as e:  # a lone surrogate: no daemon could take it
        raise ValueError("code is not valid text: %s at position %d" % (e.reason, e.start))
    fields = {"code": code}
    if file is not None:
        fields["file"] = os.fspath(file)
    if path is not None:
        fields["path"] = os.path.abspath(os.fspath(path))
    if cwd is not None:
        fields["cwd"] = os.path.abspath(os.fspath(cwd))
    if argv is not None:
        if isinstance(argv, str):
            raise TypeError("argv is a list of strings, not a str")
        fields["argv"] = [str(a) for a in argv]
    if fresh:
        fields["ns"] = "fresh"
    return fields


def exec_fields(code, file=None, path=None, cwd=None, argv=None, fresh=False,
                interactive=False):
    """The fields of an exec request: interactive asks for the value of a
    final expression statement, as the interactive interpreter shows it."""
    fields = code_fields(code, file, path, cwd, argv, fresh)
    if interactive:
        fields["interactive"] = True
    return fields


def file_fields(path, args=(), cwd=None, fresh=False):
    """exec_file: the file's code, run as ``python FILE ARGS...`` would."""
    full = os.path.abspath(os.fspath(path))
    with open(full, encoding="utf-8-sig") as f:
        code = f.read()
    if isinstance(args, str):
        raise TypeError("args is a list of strings, not a str")
    return code_fields(code, file=full, path=full, cwd=cwd,
                       argv=[full] + [str(a) for a in args], fresh=fresh)


def reload_fields(names, purge=False):
    """The fields of a reload request."""
    names = [names] if isinstance(names, str) else list(names)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise ValueError("reload_modules wants module or package names, like ['mytools']")
    return {"modules": names, "strategy": "purge" if purge else "reload"}


def target_fields(targets, default):
    """``targets`` of a control op, the client's own target by default."""
    targets = list(targets) or ([default] if default else [])
    if not targets:
        raise ValueError("name the targets: this client has none of its own")
    for t in targets:
        check_target(t)
    return {"targets": targets}


class Result:
    """What one request did.

    ``ok``: the code ran to its end (or called ``sys.exit(0)``).
    ``stdout``, ``stderr``: all it printed, as text.
    ``value``: for ``eval``, the value when the daemon could send it as
    JSON (numbers, strings, lists, dicts, booleans, None), else its
    ``repr()`` as a string; for ``exec(interactive=True)`` the same of the
    code's final expression (None when it has none, or its value is None);
    ``None`` for other requests.
    ``repr``: the ``repr()`` of that value, always (None when none).
    ``error``: when ``ok`` is false, the exception (:class:`RemoteError`,
    :class:`WorkerDied`, :class:`Timeout`, …) that was raised, or would
    have been with ``raise_on_error=True``; else ``None``.
    ``duration``: seconds the worker took, or None when no worker answered.
    ``reloaded``: the modules reloaded first (or by ``reload_modules``),
    each ``{"module", "file", "status", …}`` as in the ``reloaded`` event.
    ``raw``: the ``done`` event as it came.
    """

    ok: bool
    stdout: str
    stderr: str
    value: Any
    repr: Optional[str]
    error: Optional[Error]
    duration: Optional[float]
    reloaded: List[Dict[str, Any]]
    raw: Dict[str, Any]

    def __init__(self, done, stdout, stderr, reloaded):
        self.raw = done
        self.ok = done.get("ok") is True
        self.stdout = stdout
        self.stderr = stderr
        self.reloaded = reloaded
        self.repr = done.get("value") if isinstance(done.get("value"), str) else None
        self.value = done["json"] if "json" in done else self.repr
        ms = done.get("duration_ms")
        self.duration = ms / 1000.0 if isinstance(ms, (int, float)) else None
        self.error = None
        if not self.ok:
            self.error = from_error(done.get("error") or {"type": "Error", "message": ""},
                                    self)

    def __repr__(self):
        if self.ok:
            return "<Result ok value=%r stdout=%r>" % (self.value, _short(self.stdout))
        return "<Result error=%r>" % (str(self.error),)


def _short(text, limit=60):
    return text if len(text) <= limit else text[:limit] + "..."


class Collector:
    """The events of one request, added up into its Result; callbacks are
    called as the events come (in the thread or task that waits)."""

    def __init__(self, on_stdout=None, on_stderr=None, on_reloaded=None, on_waiting=None):
        self.on = {"stdout": on_stdout, "stderr": on_stderr, "reloaded": on_reloaded,
                   "waiting": on_waiting}
        self.out = []
        self.err = []
        self.reloaded = []

    def feed(self, event):
        """Take one event of the request; its Result once it is done."""
        kind = event.get("event")
        if kind == "done":
            return Result(event, "".join(self.out), "".join(self.err), self.reloaded)
        if kind in ("stdout", "stderr"):
            data = event.get("data")
            if not isinstance(data, str):
                return None
            (self.out if kind == "stdout" else self.err).append(data)
            arg = data
        elif kind == "reloaded":
            modules = event.get("modules")
            arg = modules if isinstance(modules, list) else []
            self.reloaded.extend(arg)
        elif kind == "waiting":
            arg = event.get("state")
        else:
            return None  # an event of a newer daemon
        callback = self.on.get(kind)
        if callback is not None:
            callback(arg)
        return None


def outcome(result, raise_on_error):
    """The result, or its error raised."""
    if result.error is not None and raise_on_error:
        raise result.error
    return result


def answer(done):
    """A control or ping answer as a dict (without id and event), or its
    error raised."""
    if done.get("ok") is not True:
        raise from_error(done.get("error") or {"type": "Error", "message": "request failed"})
    return {k: v for k, v in done.items() if k not in ("id", "event", "ok")}


def target_results(done):
    """The per-target answers of start/stop/restart/recycle; the first
    failure raised."""
    targets = done.get("targets")
    if done.get("ok") is not True:
        for t in targets if isinstance(targets, list) else []:
            if isinstance(t, dict) and t.get("ok") is not True:
                raise from_error(t.get("error") or {"type": "Error", "message": ""})
        answer(done)
    return targets if isinstance(targets, list) else []
