"""hotload_debug: a debugger in the worker, for the agent's "debug" op.

debugpy's debug server (pydevd) runs in this interpreter and connects out
to the debugging client's port on loopback; no adapter process is started,
so nothing is relaunched through sys.executable (which in a DCC is the DCC,
not a Python). The connection is authenticated both ways with the request's
tokens: the client proves access_token before pydevd takes any command from
it, and pydevd answers with client_access_token. Nothing listens here.

Standard library only, apart from debugpy itself; must parse as Python 3.7.
See docs/debugging.md.
"""
import importlib.util
import os
import sys

# Where Debian's python3-debugpy puts it, for interpreters that do not have
# it on their own path (a DCC's bundled Python, a venv).
DEFAULT_DIRS = ("/usr/lib/python3/dist-packages",)


# debugpy, and what Debian's splits out of it into packages of their own.
NEEDED = ("bytecode", "debugpy")


def load_from(name, dirs):
    """Import package name from the first of dirs that has it, taking only
    that package from the directory, not its neighbours; None if none has."""
    for d in dirs:
        pkg = os.path.join(d, name)
        init = os.path.join(pkg, "__init__.py")
        if not os.path.isfile(init):
            continue
        spec = importlib.util.spec_from_file_location(name, init,
                                                      submodule_search_locations=[pkg])
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
        return module
    return None


def find_debugpy():
    """Import debugpy: from the interpreter's own path, else from the
    directories in HOTLOAD_DEBUGPY_PATH when it is set, else from Debian's."""
    extra = [d for d in os.environ.get("HOTLOAD_DEBUGPY_PATH", "").split(os.pathsep) if d]
    dirs = extra or list(DEFAULT_DIRS)
    module = None
    for name in NEEDED:
        try:
            module = importlib.import_module(name)
            continue
        except ImportError:
            pass
        try:
            module = load_from(name, dirs)
        except Exception as exc:
            raise ImportError("debugpy cannot be imported in this worker (Python %d.%d): "
                              "%s: %s (Debian's python3-debugpy supports Python 3.8 to "
                              "3.11; HOTLOAD_DEBUGPY_PATH can name another copy)"
                              % (sys.version_info[0], sys.version_info[1],
                                 type(exc).__name__, exc)) from exc
        if module is None and name == "debugpy":
            raise ImportError(
                "debugpy is not importable in this worker (Python %d.%d): install "
                "python3-debugpy, or set HOTLOAD_DEBUGPY_PATH (in the hook's env) to the "
                "directory that holds debugpy/; looked in: %s"
                % (sys.version_info[0], sys.version_info[1], ", ".join(dirs)))
    return module


def start(req, notify, agent_dir):
    """Start the debug server for a debug request and connect it to the
    client; return the done's fields. notify(event) tells the daemon that
    a thread stopped in the debugger ("paused") or went on ("resumed")."""
    host, port = req.get("host") or "127.0.0.1", req.get("port")
    token, client_token = req.get("access_token"), req.get("client_access_token")
    if not isinstance(port, int) or not isinstance(token, str) or \
            not isinstance(client_token, str):
        raise ValueError("debug needs port, access_token and client_access_token")
    # pydevd checks that the files it is given exist: a warning on stderr
    # for frozen modules would land in the first request's output.
    os.environ.setdefault("PYDEVD_DISABLE_FILE_VALIDATION", "1")
    debugpy = find_debugpy()
    import debugpy.server  # noqa: F401  (makes its pydevd importable, DAP protocol)
    import pydevd
    if pydevd.get_global_debugger() is not None:
        raise RuntimeError("a debugger runs in this worker already")
    here = os.path.dirname(os.path.abspath(debugpy.__file__))
    pydevd.settrace(host=host, port=port, suspend=False, stdout_to_server=False,
                    stderr_to_server=False, patch_multiprocessing=False,
                    trace_only_current_thread=False, block_until_connected=True,
                    wait_for_ready_to_run=False, notify_stdin=False,
                    access_token=token, client_access_token=client_token,
                    dont_trace_start_patterns=(agent_dir, here),
                    dont_trace_end_patterns=())
    py_db = pydevd.get_global_debugger()
    wait_suspend = py_db.do_wait_suspend

    def do_wait_suspend(*args, **kwargs):
        # a thread stops at a breakpoint or a step: its request's time
        # limit stands still until it goes on
        notify("paused")
        try:
            return wait_suspend(*args, **kwargs)
        finally:
            notify("resumed")

    py_db.do_wait_suspend = do_wait_suspend
    return {
        "ok": True,
        "pid": os.getpid(),
        "debugpy": getattr(debugpy, "__version__", "?"),
        "python": "%d.%d.%d" % sys.version_info[:3],
        "host": host,
        "port": port,
        # the worker runs on this machine: a file has the same path on both sides
        "path_mappings": [{"localRoot": "/", "remoteRoot": "/"}],
    }
