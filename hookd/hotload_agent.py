"""hotload_agent: the hotload agent that runs inside a DCC interpreter
(hookd.py starts it: a module, so that its bytecode is cached, not
compiled again at every worker start as a script's is).

It reads JSON requests, one per line, from the control socket on fd
HOTLOAD_CONTROL_FD, runs the code in this interpreter and answers each with
one "done" line. Whatever the code prints goes to fd 1 and 2, flushed before
the "done". Standard library only; must parse as Python 3.7.
See docs/agent-protocol.md.
"""
import ast
import builtins
import io
import json
import linecache
import os
import re
import select
import signal
import socket
import sys
import threading
import traceback
import types

try:
    # signal.getsignal turns the handler into a Handlers enum first, by
    # raising and catching ValueError when it is a function: 5 us a request.
    from _signal import getsignal
except ImportError:  # not CPython
    getsignal = signal.getsignal

AGENT_DIR = os.path.dirname(os.path.abspath(__file__))
SEND_FLAGS = getattr(socket, "MSG_NOSIGNAL", 0)  # a dead daemon is EPIPE, not SIGPIPE
CONTROL_READ = 65536  # bytes asked of the control socket per read
INT64_MIN, INT64_MAX = -(1 << 63), (1 << 63) - 1
SOURCES_KEPT = 256  # newest request sources kept in linecache for tracebacks
SPLIT_AT_ONCE = 256  # shorter sources are split into lines at once: cheaper than a SourceEntry
# Where str.splitlines() ends a line and Python's compiler does not (form
# feed, vertical tab, ...): a source holding one is split as linecache
# splits a file, or a traceback would show the wrong lines.
NOT_LINE_ENDS = re.compile("[\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
STREAM_SETTINGS = (
    {"encoding": "utf-8", "errors": "backslashreplace", "line_buffering": True},
    {"line_buffering": True},
)

sources = {}  # file names this agent put in linecache, oldest first
running = False  # user code is running: SIGINT means KeyboardInterrupt
idle_sigint = False  # a SIGINT came while no code ran (see Control.interrupted)
requests_run = 0  # numbers the default file names: <hotload-1>, <hotload-2>, ...
current_id = None  # the id of the request being answered
debugging = False  # a debugger runs in this interpreter (op debug)
send_lock = threading.Lock()  # a debugger's threads tell of pauses too
c_fflush = None  # C stdio's fflush once looked up; False when unreachable
# One encoder for every line sent: json.dumps with arguments builds a new one
# per call (about 3 us, a tenth of a no-op request's time in the agent).
ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class Terminated(BaseException):
    """Raised by the SIGTERM handler: leave the loop, tear down, exit 143."""


class BadRequest(Exception):
    """A request line the agent cannot serve."""


def on_sigint(signum, frame):
    """KeyboardInterrupt while user code runs; noted while the agent is idle."""
    global idle_sigint
    if running:
        raise KeyboardInterrupt
    idle_sigint = True


def on_wake(signum, frame):
    """Nothing: the daemon's SIGURG after a SIGINT, while the code runs on,
    is there to interrupt a blocking call, so that Python runs the SIGINT
    handler it has not run yet (it runs handlers in the main thread only,
    when it checks for them; a SIGINT that lands just before a blocking call
    starts, or on another thread, is otherwise seen when the call returns)."""


def main_thread_id():
    """The OS thread id of the calling thread, the interpreter's main one,
    which runs signal handlers: the one the daemon wakes after an
    interrupt. A DCC may run Python off its process's first thread. Before
    Python 3.8 (Maya 2022's mayapy is 3.7) it is read from Linux's
    /proc/thread-self; 0 where nothing tells."""
    get = getattr(threading, "get_native_id", None)
    if get:
        return get()
    try:
        return int(os.readlink("/proc/thread-self").rsplit("/", 1)[1])
    except (OSError, ValueError):
        return 0


def on_sigterm(signum, frame):
    """Interrupt whatever runs, user code or the loop, with Terminated."""
    raise Terminated("SIGTERM")


def setup_streams():
    """Make stdout and stderr line-buffered UTF-8 so output streams as code runs."""
    for stream in (sys.stdout, sys.stderr):
        for settings in STREAM_SETTINGS:
            try:
                stream.reconfigure(**settings)
                break
            except Exception:  # not a TextIOWrapper, or it refuses the change
                pass


def find_fflush():
    """Return C stdio's fflush, or False where ctypes cannot reach it."""
    try:
        import ctypes
        return ctypes.CDLL(None).fflush
    except Exception:
        return False


def flush_output():
    """Flush Python's and C stdio's buffers so all output precedes our reply."""
    global c_fflush
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            stream.flush()
        except Exception:  # None, closed, or the daemon's end is gone
            pass
    if c_fflush is None:
        c_fflush = find_fflush()
    if c_fflush:
        c_fflush(None)


def send_line(sock, line):
    """Flush all output, then write line (bytes, one JSON line) on the control socket."""
    with send_lock:
        flush_output()
        sock.sendall(line, SEND_FLAGS)


def send(sock, msg):
    """Flush all output, then write msg as one JSON line on the control socket."""
    send_line(sock, (ENCODER.encode(msg) + "\n").encode("utf-8", "replace"))


def send_done(sock, req_id, reply):
    """Send the done line of one request."""
    if type(req_id) is int and len(reply) == 1 and reply.get("ok") is True:
        # the done of nearly every request, in the spelling ENCODER gives
        # it, which the daemon knows by its bytes; formatted here, it costs
        # a tenth of what the encoder does
        send_line(sock, b'{"id":%d,"event":"done","ok":true}\n' % req_id)
        return
    msg = {"id": req_id, "event": "done"}
    msg.update(reply)
    send(sock, msg)


def exit_now(status):
    """Flush all output and leave at once, past Python's and the DCC's exit handlers."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    flush_output()
    os._exit(status)


# Frames of a debugger (op debug) that a traceback through a breakpoint
# passes: its tracing and waiting code is not the user's.
DEBUGGER_FILES = ("_pydevd_bundle", "_pydev_bundle", os.sep + "debugpy" + os.sep,
                  os.sep + "pydevd.py", os.sep + "hotload_debug.py")


def user_frames(tb):
    """Return tb with the agent's own frames (its loop, its signal handler)
    and a debugger's left out."""
    kept = []
    while tb is not None:
        if tb.tb_frame.f_globals is globals():
            pass
        elif not debugging:
            kept.append(tb)
        elif not any(part in tb.tb_frame.f_code.co_filename for part in DEBUGGER_FILES) and \
                not (kept and kept[-1].tb_frame is tb.tb_frame):
            # a debugger's tracing shows the frame it stopped in twice
            kept.append(tb)
        tb = tb.tb_next
    for tb, next_tb in zip(kept, kept[1:] + [None]):
        tb.tb_next = next_tb
    return kept[0] if kept else None


def error_of(exc, message=None):
    """Describe exc as the protocol's error object, showing the user's frames only."""
    tb = user_frames(exc.__traceback__)
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    if message is None:
        try:
            message = str(exc)
        except Exception:  # a user exception whose __str__ raises
            message = "<exception str() failed>"
    return {"type": type(exc).__name__, "message": message, "traceback": text}


class SourceEntry(tuple):
    """A linecache entry, (size, None, lines, filename), whose lines are
    split out of the code only when something reads them: a traceback, the
    code's own traceback.print_exc() or inspect.getsource(), a debugger.
    Splitting every request's code into lines, for the few that need them,
    cost more than a quarter of the agent's time for a 1 MiB script.

    Indexed, unpacked, compared, copied or pickled, it is the whole entry,
    lines made at the first of these (linecache.checkcache of its file
    unpacks it, and so does a checkcache() of all files, which pdb runs at
    every breakpoint: the lines are made then, once). The tuple itself holds
    an empty list in their place, which only C code reading the tuple's
    slots would see; none in CPython reads linecache's entries. An mtime of
    None keeps it in the cache through checkcache(), as before."""

    def __new__(cls, code, filename):
        entry = tuple.__new__(cls, (len(code), None, [], filename))
        entry.code = code
        entry.whole = None
        return entry

    def entry(self):
        """The plain entry, made once (threads may ask at the same time)."""
        whole = self.whole
        if whole is None:
            code = self.code
            if code is None:  # another thread made it meanwhile
                return self.whole
            whole = (len(code), None, source_lines(code), tuple.__getitem__(self, 3))
            self.whole = whole
            self.code = None
        return whole

    def __getitem__(self, i):
        return self.entry()[i]

    def __iter__(self):
        return iter(self.entry())

    def __contains__(self, value):
        return value in self.entry()

    def __eq__(self, other):
        return self.entry() == other

    def __ne__(self, other):
        return self.entry() != other

    def __hash__(self):
        return hash(self.entry())

    def __repr__(self):
        return repr(self.entry())

    def __reduce__(self):
        return (tuple, (self.entry(),))

    def count(self, value):
        return self.entry().count(value)

    def index(self, *args):
        return self.entry().index(*args)


def source_lines(code):
    """code's lines as the compiler numbers them, each with its line end."""
    if NOT_LINE_ENDS.search(code) is None:
        return code.splitlines(True)
    return io.StringIO(code, newline=None).readlines()  # \n, \r\n and \r only


def remember_source(filename, code):
    """Put code in linecache under filename so tracebacks show its lines."""
    sources.pop(filename, None)
    sources[filename] = True
    if len(code) < SPLIT_AT_ONCE:
        linecache.cache[filename] = (len(code), None, source_lines(code), filename)
    else:
        linecache.cache[filename] = SourceEntry(code, filename)
    if len(sources) > SOURCES_KEPT:
        oldest = next(iter(sources))
        del sources[oldest]
        linecache.cache.pop(oldest, None)


def compile_source(code, filename, mode, flags=0):
    """Compile code as a file of its own, its text kept for tracebacks."""
    remember_source(filename, code)
    return compile(code, filename, mode, flags, dont_inherit=True)


def run_interactive(code, filename, ns):
    """Run code as the interactive interpreter runs a cell: its statements,
    then the value of its final expression statement, if it ends with one
    and that is not None (what sys.displayhook would show); else None."""
    tree = compile_source(code, filename, "exec", ast.PyCF_ONLY_AST)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(compile(tree, filename, "exec", dont_inherit=True), ns)
    if last is None:
        return None
    return eval(compile(last, filename, "eval", dont_inherit=True), ns)


def new_main(hook=None):
    """Return the namespace of a new __main__ module, installed in sys.modules,
    with the names the hook gives every user namespace."""
    module = types.ModuleType("__main__")
    module.__builtins__ = builtins
    sys.modules["__main__"] = module
    if hook is not None:
        hook.prepare(module.__dict__)
    return module.__dict__


class Hook:
    """The DCC's set-up and tear-down from HOTLOAD_HOOK: inline code and a class."""

    def __init__(self, spec):
        """Keep the hook's JSON description (None or empty: no hook)."""
        self.spec = json.loads(spec or "null") or {}
        self.name = self.spec.get("name") or "hook"
        self.ns = {"__name__": "__hotload_hook__", "__builtins__": builtins}
        self.instance = None

    def run_inline(self, which):
        """Run the inline initialize or uninitialize code in the hook's namespace."""
        code = self.spec.get(which)
        if code:
            filename = "<%s %s>" % (self.name, which)
            exec(compile_source(code, filename, "exec"), self.ns)

    def initialize(self):
        """Put the hook's dirs on sys.path, run the inline code, then the class's."""
        sys.path[:0] = [d for d in self.spec.get("path") or [] if d not in sys.path]
        self.run_inline("initialize")
        name = self.spec.get("class")
        if name:
            module, _, cls = name.partition(":")
            if not module or not cls:
                raise ValueError("hook class %r is not 'module:Class'" % name)
            __import__(module)
            self.instance = getattr(sys.modules[module], cls)()
            self.instance.initialize()

    def prepare(self, ns):
        """Give a new user namespace the hook's names: its inline namespace
        code (`import bpy`, as the DCC's own script editor has), then what
        the class's namespace() returns."""
        code = self.spec.get("namespace")
        if code:
            exec(compile_source(code, "<%s namespace>" % self.name, "exec"), ns)
        names = getattr(self.instance, "namespace", None)
        if names is not None:
            ns.update(names())

    def around_reload(self, which, modules):
        """Run the hook's before_reload or after_reload around a reload: the
        inline code, with `modules` the names being reloaded, then the
        class's method of that name."""
        code = self.spec.get(which)
        if code:
            self.ns["modules"] = modules
            exec(compile_source(code, "<%s %s>" % (self.name, which), "exec"), self.ns)
        method = getattr(self.instance, which, None)
        if method is not None:
            method(modules)

    def uninitialize(self):
        """Run the class's uninitialize, then the inline code; return the first error."""
        error = None
        steps = [lambda: self.run_inline("uninitialize")]
        if self.instance is not None:
            steps.insert(0, self.instance.uninitialize)
        for step in steps:
            try:
                step()
            except Terminated:
                raise
            except BaseException as exc:  # teardown goes on whatever it raises
                error = error or error_of(exc)
        return error


class Control:
    """The daemon's lines on the control socket, read ahead when need be.

    The daemon interrupts a request with an {"op":"interrupt","id":N} line,
    then SIGINT. A SIGINT that lands before the request's code has started
    cannot interrupt it, and cannot tell by itself whether it was meant for
    this request or for the one before, which may have ended just before it
    came. The line says: it is in the socket before the signal is sent.

    Waiting for the next request is a poll() for input, then a read. A task
    blocked in a read of a Unix socket is woken each time the peer reads
    what it sent (the kernel tells a socket's sleepers that there is room to
    write); one blocked in poll() for input is not. Without it, every
    request cost the worker a second wake-up and the daemon the work of
    waking it: 6 us of each, a tenth of a no-op request.
    """

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()  # received, not taken yet
        self.scanned = 0  # buf[:scanned] holds no newline
        self.chunk = bytearray(CONTROL_READ)
        self.view = memoryview(self.chunk)
        self.ahead = []  # lines read while looking for an interrupt
        self.poller = None
        if hasattr(select, "poll"):
            self.poller = select.poll()
            self.poller.register(sock.fileno(), select.POLLIN)

    def receive(self, wait=True):
        """Add what the socket has to buf: the byte count, 0 at EOF, None
        when not waiting and nothing is there."""
        if wait and self.poller is not None:
            self.poller.poll()
        try:
            n = self.sock.recv_into(self.chunk, 0, 0 if wait else socket.MSG_DONTWAIT)
        except BlockingIOError:
            return None
        self.buf += self.view[:n]
        return n

    def take_line(self):
        """The first whole line in buf, taken out of it; None if there is none."""
        i = self.buf.find(b"\n", self.scanned)
        if i < 0:
            self.scanned = len(self.buf)
            return None
        self.scanned = 0
        if i + 1 == len(self.buf):
            line = bytes(self.buf)
            self.buf.clear()
        else:
            line = bytes(self.buf[: i + 1])
            del self.buf[: i + 1]
        return line

    def next_line(self):
        """The next line from the socket, without what was read ahead: a
        last line without a newline or b"" at EOF."""
        while True:
            line = self.take_line()
            if line is not None:
                return line
            if not self.receive():
                line = bytes(self.buf)
                self.buf.clear()
                self.scanned = 0
                return line

    def readline(self):
        if self.ahead:
            return self.ahead.pop(0)
        return self.next_line()

    def read_payload(self, n):
        """The n bytes that follow a request line (its code_bytes), as a
        bytearray: from what was read ahead first, then the socket; None at
        EOF."""
        data = bytearray(n)
        view = memoryview(data)
        got = 0
        while self.ahead and got < n:
            chunk = self.ahead.pop(0)
            if len(chunk) > n - got:
                self.ahead.insert(0, chunk[n - got :])
                chunk = chunk[: n - got]
            view[got : got + len(chunk)] = chunk
            got += len(chunk)
        if got < n and self.buf:
            k = min(n - got, len(self.buf))
            view[got : got + k] = self.buf[:k]
            del self.buf[:k]
            self.scanned = 0
            got += k
        while got < n:
            k = self.sock.recv_into(view[got:])
            if not k:
                return None
            got += k
        return data

    def wait_ack(self, req_id):
        """Wait for the daemon's acknowledgement of request req_id's
        reloaded event, keeping other lines for later; False at EOF."""
        while True:
            line = self.next_line()
            if not line.endswith(b"\n"):
                if line:
                    self.ahead.append(line)
                return False
            if is_op_of(line, "reloaded-ack", req_id):
                return True
            self.ahead.append(line)

    def interrupted(self, req_id):
        """Tell whether an interrupt for req_id is waiting, without blocking."""
        found = False
        for line in list(self.ahead):
            if is_op_of(line, "interrupt", req_id):
                self.ahead.remove(line)
                found = True
        while self.receive(wait=False):
            pass
        while True:
            line = self.take_line()
            if line is None:
                break
            if is_op_of(line, "interrupt", req_id):
                found = True
            else:
                self.ahead.append(line)
        return found


def is_op_of(line, op, req_id):
    """Tell whether line is the daemon's op (interrupt, reloaded-ack) for
    request req_id; lines without the op's name are not even parsed."""
    if ('"%s"' % op).encode() not in line:
        return False
    try:
        msg = json.loads(line)
    except ValueError:
        return False
    return isinstance(msg, dict) and msg.get("op") == op and msg.get("id") == req_id


def arm_sigint():
    """Make sure SIGINT is ours before user code runs. One handler for the
    agent's life, put back only if user code (or the DCC: Blender has its
    own) replaced it; setting it on every request costs more than the rest
    of a no-op request."""
    if getsignal(signal.SIGINT) is not on_sigint:
        signal.signal(signal.SIGINT, on_sigint)


def agent_module(name):
    """Import one of the agent's own modules without writing byte code next
    to it: the agent's directory is not the workers' to write (hotloadd
    checks everything in it, and a .pyc a worker left there, with the
    worker's umask, could stop the next start)."""
    write = sys.dont_write_bytecode
    sys.dont_write_bytecode = True
    try:
        return __import__(name)
    finally:
        sys.dont_write_bytecode = write


def interrupt_waiting(control, req):
    """Whether a SIGINT that came while no code ran was for req: its
    interrupt line is waiting (see Control). Called while running is False,
    so that another SIGINT meanwhile is noted, not raised in the middle of
    the look, where it could lose a line read on the way."""
    global idle_sigint
    idle_sigint = False
    return control is not None and control.interrupted(req.get("id"))


def start_running(control, req):
    """From here a SIGINT raises KeyboardInterrupt in req's code; raise it
    now if one came for req already: noted before, with its interrupt line
    waiting, or noted while the agent looked, after req was read, which
    makes it req's (a SIGINT for the request before is delivered before
    the daemon sends the next one)."""
    global running, idle_sigint
    if idle_sigint and interrupt_waiting(control, req):
        raise KeyboardInterrupt
    running = True
    if idle_sigint:
        idle_sigint = False
        raise KeyboardInterrupt


def interrupted_reply(message):
    """done's fields for a request a KeyboardInterrupt ended outside its code."""
    return {"ok": False, "error": {"type": "KeyboardInterrupt", "message": message,
                                   "traceback": "KeyboardInterrupt\n"}}


class ScriptContext:
    """What `python FILE ARGS` gives a script, for the length of one request:
    __file__, its directory first on sys.path, sys.argv, and the client's
    working directory. All but __file__ (kept, as after `python -i FILE`)
    are put back afterwards."""

    def __init__(self, req, ns):
        self.path, self.cwd, self.argv = req.get("path"), req.get("cwd"), req.get("argv")
        self.ns = ns
        self.saved_argv = self.saved_cwd = self.added = None

    def __enter__(self):
        if self.path:
            self.ns["__file__"] = self.path
            self.added = os.path.dirname(self.path)
            sys.path.insert(0, self.added)
        if self.argv is not None:
            self.saved_argv = sys.argv
            sys.argv = list(self.argv)
        if self.cwd:
            try:
                self.saved_cwd = os.getcwd()
                os.chdir(self.cwd)
            except OSError as exc:
                self.saved_cwd = None
                sys.stderr.write("hotload: running in %s: cannot change to the client's "
                                 "directory %s: %s\n" % (os.getcwd(), self.cwd, exc.strerror))
        return self

    def __exit__(self, *exc):
        if self.saved_cwd is not None:
            try:
                os.chdir(self.saved_cwd)
            except OSError:
                pass
        if self.saved_argv is not None:
            sys.argv = self.saved_argv
        if self.added is not None and self.added in sys.path:
            sys.path.remove(self.added)  # the first one: ours, unless the code moved it
        return False


def reload_first(sock, req, control, reloader):
    """Reload what the request says changed, with SIGINT live, and tell the
    daemon before the code runs; False when an interrupt came meanwhile."""
    global running
    if reloader is None or not (req.get("changed") or req.get("poll_roots")):
        return True
    arm_sigint()
    running = True
    try:
        entries = reloader.before_request(req)
    except KeyboardInterrupt:
        entries = [{"module": "?", "status": "failed", "interrupted": True,
                    "note": "interrupted while looking for changed modules"}]
    finally:
        running = False
    if not entries:
        return True
    interrupted = any(e.pop("interrupted", False) for e in entries)
    send(sock, {"id": req.get("id"), "event": "reloaded", "modules": entries})
    # the daemon forwards what was printed so far, then the event, and says
    # so: only then may the code's own output start
    if control is not None and not control.wait_ack(req.get("id")):
        raise OSError("the daemon closed the control socket")
    return not interrupted


def reload_modules(sock, req, reloader, control=None):
    """The reload op: reload (or purge) the named packages, with SIGINT live;
    the reloaded event, then done's fields."""
    global running
    modules, strategy = req.get("modules"), req.get("strategy") or "reload"
    if (not isinstance(modules, list) or not modules or
            not all(isinstance(m, str) and m for m in modules)):
        raise BadRequest("reload needs modules, a list of module names")
    if strategy not in ("reload", "purge"):
        raise BadRequest("strategy must be 'reload' or 'purge', not %r" % (strategy,))
    arm_sigint()
    try:
        start_running(control, req)
        entries = reloader.reload_op(modules, strategy)
        interrupted = any(e.pop("interrupted", False) for e in entries)
    except KeyboardInterrupt as exc:
        return {"ok": False, "error": error_of(exc)}
    finally:
        running = False
    send(sock, {"id": req.get("id"), "event": "reloaded", "modules": entries})
    if interrupted:
        return interrupted_reply("")
    failed = [e["module"] for e in entries if e.get("status") == "failed"]
    modules = [m for m in failed if not m.startswith("<")]
    said = []
    if modules:
        said.append("%d module%s failed to reload: %s; the old code is still in use" %
                    (len(modules), "" if len(modules) == 1 else "s", ", ".join(modules)))
    if len(modules) < len(failed):
        said.append("the hook's %s failed" %
                    " and ".join(m.strip("<>").rpartition(" ")[2] for m in failed
                                 if m.startswith("<")))
    if said:
        return {"ok": False, "error": {"type": "ReloadFailed", "traceback": "",
                                       "message": "; ".join(said)}}
    return {"ok": True}


def execute(req, main_ns, control=None, hook=None):
    """Run an exec or eval request with SIGINT live; return its done fields."""
    global requests_run, running
    requests_run += 1
    code, ns_name = req.get("code"), req.get("ns") or "main"
    filename = req.get("file") or "<hotload-%d>" % requests_run
    if not isinstance(code, str) or not isinstance(filename, str):
        raise BadRequest("%s needs a string code and file" % req["op"])
    if ns_name not in ("main", "fresh"):
        raise BadRequest("ns must be 'main' or 'fresh', not %r" % ns_name)
    ns = main_ns if ns_name == "main" else {"__name__": "__main__", "__builtins__": builtins}
    reply = {"ok": True}
    try:
        if ns is not main_ns and hook is not None:
            hook.prepare(ns)
        arm_sigint()
        try:
            start_running(control, req)
            with ScriptContext(req, ns):
                if req["op"] == "exec" and req.get("interactive") is True:
                    value = run_interactive(code, filename, ns)
                    if value is not None:
                        reply["value"] = repr(value)
                        if is_json(value):
                            reply["json"] = value
                elif req["op"] == "exec":
                    exec(compile_source(code, filename, "exec"), ns)
                else:
                    value = eval(compile_source(code, filename, "eval"), ns)
                    reply["value"] = repr(value)
                    if is_json(value):
                        reply["json"] = value
        finally:
            running = False
    except SystemExit as exc:
        if exc.code is None or exc.code == 0:
            return {"ok": True, "exit_code": 0}
        return {"ok": False, "error": error_of(exc, str(exc.code))}
    except Terminated:
        raise
    except BaseException as exc:  # anything user code raises is its reply
        return {"ok": False, "error": error_of(exc)}
    return reply


def ints_fit(value):
    """Tell whether every integer in value fits 64 bits and no key holds a
    NUL, as the daemon's JSON needs (jansson takes NULs in strings, not in
    an object's keys)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, int) and not isinstance(v, bool):
            if not INT64_MIN <= v <= INT64_MAX:
                return False
        elif isinstance(v, dict):
            if any(isinstance(k, str) and "\0" in k for k in v):
                return False
            todo.extend(v.values())
        elif isinstance(v, (list, tuple)):
            todo.extend(v)
    return True


def is_json(value):
    """Tell whether value is plain JSON: json.dumps takes it, no NaN, valid UTF-8,
    no integer beyond 64 bits."""
    try:
        json.dumps(value, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except Exception:
        return False
    return ints_fit(value)


def parse_request(line):
    """Decode one request line into a dict, or raise BadRequest."""
    try:
        # as text: json.loads would first guess the encoding of bytes
        req = json.loads(line.decode("utf-8"))
    except ValueError as exc:
        raise BadRequest("not a JSON line: %s" % exc)
    if not isinstance(req, dict):
        raise BadRequest("a request is a JSON object")
    return req


def read_code(control, req):
    """Read a request's code, the code_bytes bytes after its line, into
    req["code"]; False at EOF, BadRequest when they are not what was said."""
    n = req.pop("code_bytes")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise BadRequest("code_bytes must be a byte count, not %r" % (n,))
    data = control.read_payload(n)
    if data is None:
        return False
    try:
        req["code"] = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest("the code is not UTF-8: %s" % exc)
    return True


def start_debugger(sock, req):
    """The debug op: debugpy's server in this interpreter, connected out to
    the client (see hotload_debug); the done carries where and what."""
    def notify(event):
        try:
            send(sock, {"id": current_id, "event": event})
        except OSError:
            pass

    global debugging
    try:
        reply = agent_module("hotload_debug").start(req, notify, AGENT_DIR)
        debugging = True
        return reply
    except Terminated:
        raise
    except BaseException as exc:  # no debugpy, nobody listening, a bad token
        return {"ok": False, "error": error_of(exc)}


def serve(sock, hook=None, main_ns=None, reloader=None):
    """Answer requests until EOF (return None) or a stop request (return it)."""
    global current_id
    control = Control(sock)
    if main_ns is None:
        main_ns = new_main(hook)
    pending = None  # the request whose done is still owed
    try:
        while True:
            line = control.readline()
            if not line:
                return None
            pending = {"id": None}
            try:
                pending = parse_request(line)
                current_id = pending.get("id")
                if "code_bytes" in pending and not read_code(control, pending):
                    return None
                op = pending.get("op")
                if op == "interrupt":
                    # for a request that has ended already: nothing to do
                    pending = None
                    continue
                if op == "stop":
                    return pending
                if op in ("exec", "eval"):
                    if reload_first(sock, pending, control, reloader):
                        reply = execute(pending, main_ns, control, hook)
                    else:
                        reply = interrupted_reply("interrupted while reloading changed modules")
                elif op == "reload" and reloader is not None:
                    reply = reload_modules(sock, pending, reloader, control)
                elif op == "reset":
                    try:
                        main_ns = new_main(hook)
                        reply = {"ok": True}
                    except Terminated:
                        raise
                    except BaseException as exc:  # the hook's namespace code raised
                        reply = {"ok": False, "error": error_of(exc)}
                elif op == "ping":
                    reply = {"ok": True}
                elif op == "debug":
                    reply = start_debugger(sock, pending)
                else:
                    raise BadRequest("unknown op %r" % (op,))
            except BadRequest as exc:
                error = {"type": "BadRequest", "message": str(exc), "traceback": ""}
                reply = {"ok": False, "error": error}
            req_id, pending = pending.get("id"), None
            # the code may have put another SIGINT handler in (or none):
            # a SIGINT between requests must not end the worker
            arm_sigint()
            send_done(sock, req_id, reply)
    except Terminated as exc:
        if pending is not None:
            try:
                send_done(sock, pending.get("id"), {"ok": False, "error": error_of(exc)})
            except (OSError, Terminated):
                pass
        raise


def main():
    """Start up, report ready, serve requests, tear down and exit."""
    fd = os.environ.pop("HOTLOAD_CONTROL_FD", None)
    if not fd:
        sys.stderr.write("hookd: HOTLOAD_CONTROL_FD is not set\n")
        exit_now(2)
    os.set_inheritable(int(fd), False)  # children of user code must not hold it
    sock = socket.socket(fileno=int(fd))
    template = os.environ.pop("HOTLOAD_SPAWN", None) == "template"
    signal.signal(signal.SIGINT, on_sigint)
    signal.signal(signal.SIGTERM, on_sigterm)
    if hasattr(signal, "SIGURG"):
        signal.signal(signal.SIGURG, on_wake)
    setup_streams()
    if AGENT_DIR not in sys.path:
        sys.path.insert(0, AGENT_DIR)
    try:
        hotload_reload = agent_module("hotload_reload")
        agent_module("hotload_hook")  # for the hook's class, which imports it
        hotload_reload.install_stamps()  # before any user module is imported
        hotload_reload.AGENT_FILES.add(os.path.abspath(__file__))
        hotload_reload.AGENT_FILES.add(os.path.join(AGENT_DIR, "hookd.py"))
        hook = Hook(os.environ.get("HOTLOAD_HOOK"))
        reloader = hotload_reload.Reloader(hook)
        hook.initialize()
        main_ns = new_main(hook)
    except Terminated:
        exit_now(143)
    except BaseException as exc:  # a hook that cannot start is a failed worker
        send(sock, {"event": "failed", "error": error_of(exc)})
        exit_now(1)
    status, stop = 0, None
    try:
        ready = {"event": "ready", "pid": os.getpid(), "tid": main_thread_id(),
                 "python": "%d.%d.%d" % sys.version_info[:3], "executable": sys.executable}
        child = sock
        if template:  # spawn: fork: fork workers until stop; a child goes on below
            hotload_template = agent_module("hotload_template")
            send(sock, dict(ready, template=True))
            child, stop = hotload_template.Template(sock).serve()
            if child is not None:
                sock = child
                ready.update(pid=os.getpid(), tid=main_thread_id(), forked=True)
        if child is not None:
            send(sock, ready)
            stop = serve(sock, hook, main_ns, reloader)
    except Terminated:
        status = 143
    except OSError:  # the control socket broke: the daemon is gone, as at EOF
        pass
    try:
        error = hook.uninitialize()
    except Terminated:  # a second SIGTERM cuts the teardown short
        status, error = 143, None
    if stop is not None:
        reply = {"ok": False, "error": error} if error else {"ok": True}
        try:
            send_done(sock, stop.get("id"), reply)
        except OSError:
            pass
    elif error:
        sys.stderr.write(error["traceback"])
    exit_now(status)
