"""A debugger attached to a warm worker, for real: hotloadctl debug run as
the debug adapter of a DAP client (dap.py), against the hotloadd of this
build, with python3 and Blender workers and Debian's debugpy in them.

Each test sets a breakpoint in a file, runs code through hotload (hotloadctl
exec --session), receives "stopped" at the right line, reads a variable,
continues, and receives the output and the done.
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pyclient"))
sys.path.insert(0, HERE)

import daemon  # noqa: E402  (tests/pyclient/daemon.py: a private hotloadd)
from dap import DapClient  # noqa: E402

HOTLOADCTL = os.path.join(daemon.BINARY_DIR, "bin", "hotloadctl")
DEBUGPY = any(os.path.isfile(os.path.join(d, "debugpy", "__init__.py"))
              for d in ["/usr/lib/python3/dist-packages"] + sys.path)

# python:3 with two workers: a debug session leases one, the other serves
# everyone else.
POOL_HOOK = """name: pydbg
description: python3 with two workers, for the debugger's tests
default_version: "3"
hints:
  linux: ["python{version}"]
argv: ["{executable}", "{agent}"]
max_workers: 2
startup_timeout: 30
"""

MODULE = '''\
def scale(x):
    y = x * 2
    return y + 1
'''

SCRIPT = '''\
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
import scaled
print("result", scaled.scale(20))
'''


def need_debugpy(test):
    if not DEBUGPY:
        if os.environ.get("CI"):
            raise AssertionError("python3-debugpy is not installed (install-deps --test has it)")
        raise unittest.SkipTest("python3-debugpy is not installed")


class Session:
    """A daemon, a DAP client running hotloadctl debug, and a directory of files."""

    def __init__(self, test, target, hooks=None, session=None):
        self.d = daemon.Daemon(hooks=hooks)
        test.addCleanup(self.d.stop)
        self.tmp = tempfile.mkdtemp(prefix="hl-dbg-")
        test.addCleanup(shutil.rmtree, self.tmp, True)
        self.target = target
        argv = [HOTLOADCTL, "--socket", self.d.sock, "debug", target]
        if session:
            argv[3:3] = ["--session", session]
        self.dap = DapClient(argv)
        self.session = session or "default"

    def write(self, name, text):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def ctl(self, *args, **kw):
        return subprocess.run([HOTLOADCTL, "--socket", self.d.sock] + list(args),
                              capture_output=True, text=True, timeout=kw.get("timeout", 60))

    def exec_in_session(self, path, *extra):
        """hotloadctl exec --session in the background: its events as JSON lines."""
        return subprocess.Popen([HOTLOADCTL, "--socket", self.d.sock, "exec", "--json",
                                 "--session", self.session] + list(extra) +
                                [self.target, path],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def status_workers(self):
        out = self.ctl("status", "--json")
        assert out.returncode == 0, out.stderr
        status = json.loads(out.stdout)
        return [w for t in status["targets"] if t["target"].startswith(self.target.split(":")[0])
                for w in t["workers"]]


def events_of(proc, timeout=60):
    out, err = proc.communicate(timeout=timeout)
    return [json.loads(line) for line in out.splitlines() if line.strip()], err


class DebugPython(unittest.TestCase):
    def setUp(self):
        need_debugpy(self)

    def test_breakpoint_variable_continue_output_done(self):
        s = Session(self, "pydbg:3", hooks={"pydbg.yaml": POOL_HOOK})
        module = s.write("scaled.py", MODULE)
        # after the breakpoint, a second of the time the timeout has left
        script = s.write("script.py", SCRIPT + "import time\ntime.sleep(1)\n")
        answers = s.dap.attach({module: [3]})
        self.assertTrue(answers[module][0]["verified"], answers)
        # a timeout shorter than the time the code stands at the breakpoint:
        # stopped time does not count, and what was left runs on after it
        run = s.exec_in_session(script, "--timeout", "3")
        stopped = s.dap.wait_event("stopped")
        self.assertEqual(stopped["body"]["reason"], "breakpoint")
        frame, variables = s.dap.variables_of_top_frame(stopped["body"]["threadId"])
        self.assertEqual(frame["line"], 3)
        self.assertEqual(os.path.realpath(frame["source"]["path"]), os.path.realpath(module))
        self.assertEqual(variables["x"], "20")
        self.assertEqual(variables["y"], "40")
        # while it stands there, other requests go to the other worker
        other = s.ctl("eval", s.target, "__import__('os').getpid()")
        self.assertEqual(other.returncode, 0, other.stderr)
        time.sleep(4)
        status = s.status_workers()
        leased = [w for w in status if w.get("session") == "default"]
        self.assertEqual(len(leased), 1, status)
        self.assertTrue(leased[0].get("paused"), status)
        self.assertNotEqual(int(other.stdout), leased[0]["pid"])
        table = s.ctl("status", s.target).stdout
        self.assertIn("pydbg:3: worker %d (pid %d) is leased to debug session 'default', "
                      "stopped in the debugger" % (leased[0]["id"], leased[0]["pid"]), table)
        self.assertRegex(table, r"\n\S+\s+%d\s+paused\s" % leased[0]["id"])
        s.dap.request("continue", {"threadId": stopped["body"]["threadId"]})
        events, err = events_of(run)
        self.assertEqual(run.returncode, 0, err)
        printed = "".join(e["data"] for e in events if e["event"] == "stdout")
        self.assertEqual(printed, "result 41\n")
        self.assertEqual(events[-1]["event"], "done")
        self.assertTrue(events[-1]["ok"], events[-1])
        # the session's worker is recycled when the client goes
        self.assertEqual(s.dap.close(), 0)
        deadline = time.monotonic() + 20
        while any(w["pid"] == leased[0]["pid"] for w in s.status_workers()):
            self.assertLess(time.monotonic(), deadline, "the leased worker was not recycled")
            time.sleep(0.1)
        self.assertIn("recycling worker %d: its debug session ended" % leased[0]["pid"],
                      s.d.read_log())

    def test_step_and_evaluate_in_frame(self):
        s = Session(self, "python:3", session="steps")
        module = s.write("scaled.py", MODULE)
        script = s.write("script.py", SCRIPT)
        s.dap.attach({module: [2]})
        run = s.exec_in_session(script)
        stopped = s.dap.wait_event("stopped")
        tid = stopped["body"]["threadId"]
        s.dap.request("next", {"threadId": tid})
        stepped = s.dap.wait_event("stopped")
        frame, variables = s.dap.variables_of_top_frame(tid)
        self.assertEqual(stepped["body"]["reason"], "step")
        self.assertEqual(frame["line"], 3)
        value = s.dap.request("evaluate", {"expression": "y * 10", "frameId": frame["id"],
                                           "context": "repl"})
        self.assertEqual(value["body"]["result"], "400")
        s.dap.request("continue", {"threadId": tid})
        events, err = events_of(run)
        self.assertEqual(run.returncode, 0, err)
        self.assertTrue(events[-1]["ok"])
        # one worker (max_workers 1): a request without the session waits
        # for the session to end, then runs in a fresh worker
        self.assertEqual(s.dap.close(), 0)
        after = s.ctl("eval", s.target, "'scaled' in __import__('sys').modules")
        self.assertEqual(after.stdout.strip(), "False", after.stderr)

    def test_python_client_runs_in_the_session(self):
        sys.path.insert(0, daemon.LIBRARY_DIR)
        import hotload
        s = Session(self, "python:3")
        module = s.write("scaled.py", MODULE)
        script = s.write("script.py", SCRIPT)
        s.dap.attach({module: [3]})
        with self.assertRaises(ValueError):
            hotload.Client("python:3", socket=s.d.sock, session="not a name")
        printed = []
        with hotload.Client("python:3", socket=s.d.sock, session="default") as c:
            import threading
            done = []
            t = threading.Thread(target=lambda: done.append(
                c.exec_file(script, on_stdout=printed.append)))
            t.start()
            stopped = s.dap.wait_event("stopped")
            _, variables = s.dap.variables_of_top_frame(stopped["body"]["threadId"])
            self.assertEqual(variables["y"], "40")
            s.dap.request("continue", {"threadId": stopped["body"]["threadId"]})
            t.join(30)
            self.assertEqual(done[0].stdout, "result 41\n")
        # the asyncio client too: its requests go to the leased worker
        import asyncio
        import hotload.aio

        async def leased_pid():
            async with hotload.aio.Client("python:3", socket=s.d.sock,
                                          session="default") as ac:
                return await ac.eval("__import__('os').getpid()")
        leased = [w["pid"] for w in s.status_workers() if w.get("session") == "default"]
        self.assertEqual([asyncio.run(leased_pid())], leased)
        with hotload.Client("python:3", socket=s.d.sock, session="other") as c:
            with self.assertRaises(hotload.Refused) as e:
                c.eval("1")
            self.assertIn("has no debug session 'other'", str(e.exception))
        self.assertEqual(s.dap.close(), 0)

    def test_interrupt_while_stopped(self):
        s = Session(self, "python:3")
        module = s.write("scaled.py", MODULE)
        script = s.write("script.py", SCRIPT)
        s.dap.attach({module: [3]})
        run = s.exec_in_session(script, "--timeout", "20")
        s.dap.wait_event("stopped")
        interrupted = s.ctl("interrupt", s.target)
        self.assertEqual(interrupted.returncode, 0, interrupted.stderr)
        # stopped code is interrupted at once: the run ends where it stood
        events, err = events_of(run)
        error = events[-1]["error"]
        self.assertEqual(error["type"], "KeyboardInterrupt", events[-1])
        self.assertTrue(error["traceback"].endswith(
            'scaled.py", line 3, in scale\n    return y + 1\n           ^\nKeyboardInterrupt\n'),
            error["traceback"])
        self.assertNotIn("pydevd", error["traceback"])
        self.assertEqual(error["traceback"].count("scaled.py"), 1, error["traceback"])
        # the worker stays warm and leased
        again = s.ctl("eval", "--session", "default", s.target, "'scaled' in __import__('sys').modules")
        self.assertEqual(again.stdout, "True\n", again.stderr)
        self.assertEqual(s.dap.close(), 0)

    def test_sessions_by_name(self):
        s = Session(self, "python:3")
        s.dap.attach()
        missing = s.ctl("exec", "--session", "other", s.target, "-c", "print(1)")
        self.assertEqual(missing.returncode, 1, missing.stderr)
        self.assertIn("DebugSession: python:3 has no debug session 'other'", missing.stderr)
        taken = subprocess.run([HOTLOADCTL, "--socket", s.d.sock, "debug", s.target],
                               input=b"", capture_output=True, timeout=60)
        self.assertEqual(taken.returncode, 4, taken.stderr)
        self.assertIn(b"has a debug session 'default' already", taken.stderr)
        bad = s.ctl("exec", "--session", "no spaces", s.target, "-c", "print(1)")
        self.assertEqual(bad.returncode, 1, bad.stderr)
        self.assertIn("field 'session' must be a debug session's name", bad.stderr)
        ok = s.ctl("exec", "--session", "default", s.target, "-c", "print(6 * 7)")
        self.assertEqual((ok.returncode, ok.stdout), (0, "42\n"), ok.stderr)
        self.assertEqual(s.dap.close(), 0)

    def test_killed_adapter_ends_the_session(self):
        s = Session(self, "python:3")
        s.dap.attach()
        pid = [w["pid"] for w in s.status_workers() if w.get("session")][0]
        s.dap.proc.kill()
        s.dap.proc.wait()
        deadline = time.monotonic() + 20
        while any(w["pid"] == pid for w in s.status_workers()):
            self.assertLess(time.monotonic(), deadline, "the leased worker was not recycled")
            time.sleep(0.1)
        fresh = s.ctl("eval", s.target, "__import__('os').getpid()")
        self.assertEqual(fresh.returncode, 0, fresh.stderr)
        self.assertNotEqual(int(fresh.stdout), pid)


class DebugOpSecurity(unittest.TestCase):
    """The op itself, spoken by hand: what the worker's debugger does with a
    connection that does not prove the token, and what the daemon refuses."""

    def setUp(self):
        need_debugpy(self)
        self.d = daemon.Daemon()
        self.addCleanup(self.d.stop)

    def json_conn(self):
        c = socket.socket(socket.AF_UNIX)
        c.connect(self.d.sock)
        f = c.makefile("rwb")
        f.write(b"python:3 mode=json\n")
        f.flush()
        self.addCleanup(c.close)
        return f

    @staticmethod
    def call(f, req):
        f.write(json.dumps(req).encode() + b"\n")
        f.flush()
        while True:
            m = json.loads(f.readline())
            if m.get("event") == "done":
                return m

    def test_unauthenticated_client_gets_nothing(self):
        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        self.addCleanup(listener.close)
        f = self.json_conn()
        done = self.call(f, {"id": 1, "op": "debug", "port": listener.getsockname()[1],
                             "access_token": "a" * 32, "client_access_token": "b" * 32})
        self.assertTrue(done["ok"], done)
        conn, _ = listener.accept()
        self.addCleanup(conn.close)
        # a client that does not show the access token: every request refused
        body = json.dumps({"seq": 1, "type": "request", "command": "evaluate",
                           "arguments": {"expression": "__import__('os').getpid()"}}).encode()
        conn.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        reader = conn.makefile("rb")
        while True:
            header = reader.readline()
            length = int(header.split(b":")[1])
            reader.readline()
            m = json.loads(reader.read(length))
            if m.get("type") == "response":
                break
        self.assertFalse(m["success"], m)
        self.assertEqual(m["message"], "Client not authenticated.")

    def test_refused_fields(self):
        f = self.json_conn()
        cases = [
            ({"port": 1, "host": "10.0.0.1"}, "field 'host' must be an IPv4 loopback address"),
            ({"port": 0}, "op 'debug' needs field 'port'"),
            ({"port": 1, "access_token": "short"}, "op 'debug' needs field 'access_token'"),
            ({"port": 1, "client_access_token": "x y" * 10},
             "op 'debug' needs field 'client_access_token'"),
            ({"port": 1, "session": ""}, "field 'session' must be a debug session's name"),
        ]
        for i, (fields, message) in enumerate(cases, 1):
            req = {"id": i, "op": "debug", "access_token": "a" * 32,
                   "client_access_token": "b" * 32}
            req.update(fields)
            done = self.call(f, req)
            self.assertEqual(done["error"]["type"], "BadRequest", done)
            self.assertIn(message, done["error"]["message"])
        # the daemon keeps serving the connection
        self.assertTrue(self.call(f, {"id": 9, "op": "eval", "code": "1"})["ok"])

    def test_nobody_listening_fails_and_recycles(self):
        f = self.json_conn()
        pid = self.call(f, {"id": 1, "op": "eval", "code": "__import__('os').getpid()"})["value"]
        done = self.call(f, {"id": 2, "op": "debug", "port": daemon.free_port(),
                             "access_token": "a" * 32, "client_access_token": "b" * 32})
        self.assertFalse(done["ok"], done)
        self.assertEqual(done["error"]["type"], "ConnectionRefusedError", done)
        # the worker that had half a debugger is replaced; the name is free again
        after = self.call(f, {"id": 3, "op": "eval", "code": "__import__('os').getpid()"})
        self.assertNotEqual(after["value"], pid)
        self.assertIn("the debug session 'default' of python:3 could not start",
                      self.d.read_log())


class DebugWithoutDebugpy(unittest.TestCase):
    def test_adapter_answers_with_the_reason(self):
        hook = POOL_HOOK.replace("name: pydbg", "name: nodbg") + \
            "env:\n  HOTLOAD_DEBUGPY_PATH: /nonexistent\n"
        d = daemon.Daemon(hooks={"nodbg.yaml": hook})
        self.addCleanup(d.stop)
        dap = DapClient([HOTLOADCTL, "--socket", d.sock, "debug", "nodbg:3"])
        answer = dap.request("initialize", {"adapterID": "hotload"}, ok=False)
        self.assertFalse(answer["success"])
        self.assertIn("ImportError: debugpy is not importable in this worker", answer["message"])
        self.assertEqual(dap.close(), 1)
        self.assertIn(b"debugpy is not importable", dap.stderr)
        # the worker with half a debugger is gone; the target serves on
        out = subprocess.run([HOTLOADCTL, "--socket", d.sock, "eval", "nodbg:3", "6 * 7"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(out.stdout, "42\n", out.stderr)


class DebugBlender(unittest.TestCase):
    def setUp(self):
        need_debugpy(self)
        if not daemon.BLENDER:
            if os.environ.get("HOTLOAD_REQUIRE_BLENDER"):
                self.fail("blender is not installed (apt-get install blender)")
            self.skipTest("blender is not installed")

    def test_breakpoint_in_blender(self):
        s = Session(self, "blender")
        module = s.write("scene_tools.py", textwrap.dedent('''\
            import bpy

            def count_objects():
                names = sorted(o.name for o in bpy.data.objects)
                return len(names)
            '''))
        script = s.write("script.py", textwrap.dedent('''\
            import sys, os
            sys.path.insert(0, os.path.dirname(__file__))
            import scene_tools
            print("objects", scene_tools.count_objects())
            '''))
        s.dap.attach({module: [5]})
        run = s.exec_in_session(script, "--timeout", "60")
        stopped = s.dap.wait_event("stopped", timeout=60)
        frame, variables = s.dap.variables_of_top_frame(stopped["body"]["threadId"])
        self.assertEqual(frame["line"], 5)
        self.assertIn("Cube", variables["names"])
        s.dap.request("continue", {"threadId": stopped["body"]["threadId"]})
        events, err = events_of(run, timeout=120)
        self.assertEqual(run.returncode, 0, err)
        printed = "".join(e["data"] for e in events if e["event"] == "stdout")
        self.assertIn("objects 3\n", printed)
        self.assertTrue(events[-1]["ok"], events[-1])
        self.assertEqual(s.dap.close(), 0)


if __name__ == "__main__":
    unittest.main()
