"""The agent under the real python3: the control protocol end to end."""
import json
import os
import shutil
import signal
import socket
import sys
import tempfile
import textwrap
import unittest

from harness import AGENT, Agent, python_argv

# One line, so the traceback shows it wherever the signal lands.
SLEEPER = "import time; print('started'); time.sleep(60)\n"
UNINIT_HOOK = {"name": "test", "uninitialize": "print('uninitialized')"}


class CoreCases:
    """Cases run under every interpreter; subclasses set argv()."""

    def start(self, hook=None, env=None):
        """Start an agent that is killed when the test ends."""
        agent = Agent(self.argv(), hook, env)
        self.addCleanup(agent.close)
        return agent

    def assertAgentFramesLeftOut(self, tb):
        """The traceback must not show the agent's own code."""
        self.assertNotIn(AGENT, tb)
        self.assertNotIn("hotload_agent.py", tb)
        self.assertNotIn("hookd.py", tb)

    def test_exec_prints(self):
        agent = self.start()
        agent.ready()
        done = agent.request("exec", code="import sys\nprint('hello from', __name__)\n"
                                           "print('to stderr', file=sys.stderr)\n")
        self.assertEqual(done, {"id": done["id"], "event": "done", "ok": True})
        self.assertIn("hello from __main__\n", agent.stdout())
        self.assertIn("to stderr\n", agent.stderr())

    def test_exception_traceback(self):
        agent = self.start()
        agent.ready()
        code = "def f(n):\n    return n / 0\n\nf(1)\n"
        done = agent.request("exec", code=code, file="job.py")
        self.assertFalse(done["ok"])
        error = done["error"]
        self.assertEqual(error["type"], "ZeroDivisionError")
        self.assertEqual(error["message"], "division by zero")
        tb = error["traceback"]
        self.assertTrue(tb.startswith("Traceback (most recent call last):\n"), tb)
        self.assertIn('  File "job.py", line 4, in <module>\n    f(1)\n', tb)
        self.assertIn('  File "job.py", line 2, in f\n    return n / 0\n', tb)
        self.assertTrue(tb.endswith("\nZeroDivisionError: division by zero\n"), tb)
        self.assertAgentFramesLeftOut(tb)
        self.assertTrue(agent.request("ping")["ok"])

    def test_code_reads_its_own_lines(self):
        """What the code prints of its own source while it runs
        (traceback.print_exc, inspect.getsource) and what a later request
        reads of an earlier one's are the lines that were sent."""
        agent = self.start()
        agent.ready()
        code = ("import inspect, traceback\n"
                "def half(n):\n"
                "    return n / 0  # the failing line\n"
                "try:\n"
                "    half(4)\n"
                "except ZeroDivisionError:\n"
                "    traceback.print_exc()\n"
                "print(inspect.getsource(half), end='')\n")
        before = len(agent.stderr())
        done = agent.request("exec", code=code)
        self.assertTrue(done["ok"], done)
        err = agent.stderr()[before:]
        self.assertIn("line 5, in <module>\n    half(4)\n", err)
        self.assertIn("line 3, in half\n    return n / 0  # the failing line\n", err)
        self.assertIn("def half(n):\n    return n / 0  # the failing line\n", agent.stdout())
        before = len(agent.stdout())
        done = agent.request("exec", code="import linecache\n"
                                           "print(linecache.getline(half.__code__.co_filename, 3)"
                                           ", end='')\n")
        self.assertTrue(done["ok"], done)
        self.assertEqual(agent.stdout()[before:], "    return n / 0  # the failing line\n")

    def test_sigint_interrupts_running_code(self):
        agent = self.start()
        agent.ready()
        req_id = agent.send("exec", code=SLEEPER)
        agent.wait_output("started\n")  # printed while the code still runs
        agent.signal(signal.SIGINT)
        done = agent.recv()
        self.assertEqual(done["id"], req_id)
        self.assertFalse(done["ok"])
        self.assertEqual(done["error"]["type"], "KeyboardInterrupt")
        self.assertIn('File "<hotload-1>", line 1, in <module>\n    ' + SLEEPER,
                      done["error"]["traceback"])
        self.assertAgentFramesLeftOut(done["error"]["traceback"])
        self.assertEqual(agent.request("eval", code="6 * 7")["json"], 42)
        self.assertIsNone(agent.proc.poll())

    def test_lines_around_form_feeds(self):
        """A form feed, a vertical tab or U+2028 does not end a line for
        the compiler: tracebacks and inspect.getsource show the lines it
        numbered, for short sources and long ones (split when read)."""
        agent = self.start()
        agent.ready()
        for pad in ("", "#" * 400 + "\n"):
            code = (pad + "import inspect\n"
                    "def first():\n    pass  # \u2028 in a comment\n"
                    "\x0c\n"
                    "def second():\n    return 1 / 0  # \x0b here\n"
                    "print(inspect.getsource(second), end='')\n"
                    "second()\n")
            before = len(agent.stdout())
            done = agent.request("exec", code=code)
            self.assertEqual(done["error"]["type"], "ZeroDivisionError")
            tb = done["error"]["traceback"]
            self.assertIn("in second\n    return 1 / 0  # \x0b here\n", tb)
            self.assertIn("in <module>\n    second()\n", tb)
            self.assertEqual(agent.stdout()[before:],
                             "def second():\n    return 1 / 0  # \x0b here\n")

    def test_sigint_idle_after_code_replaced_the_handler(self):
        """Code that puts Python's default SIGINT handling back (or the
        system's) does not leave a worker that a SIGINT between requests
        ends."""
        agent = self.start()
        agent.ready()
        for handler in ("signal.default_int_handler", "signal.SIG_DFL"):
            done = agent.request("exec", code="import signal\n"
                                               "signal.signal(signal.SIGINT, %s)" % handler)
            self.assertTrue(done["ok"], done)
            agent.signal(signal.SIGINT)
            self.assertTrue(agent.request("ping")["ok"])
            self.assertIsNone(agent.proc.poll())

    def test_sigint_ignored_while_idle(self):
        agent = self.start()
        agent.ready()
        agent.signal(signal.SIGINT)
        self.assertTrue(agent.request("ping")["ok"])
        agent.signal(signal.SIGINT)
        self.assertTrue(agent.request("exec", code="pass")["ok"])
        self.assertIsNone(agent.proc.poll())

    def test_sigterm_runs_uninitialize(self):
        agent = self.start(UNINIT_HOOK)
        agent.ready()
        agent.signal(signal.SIGTERM)
        self.assertEqual(agent.wait(), 143)
        self.assertIn("uninitialized\n", agent.stdout())

    def test_sigterm_during_code_answers_terminated(self):
        agent = self.start(UNINIT_HOOK)
        agent.ready()
        req_id = agent.send("exec", code=SLEEPER)
        agent.wait_output("started\n")
        agent.signal(signal.SIGTERM)
        done = agent.recv()
        self.assertEqual(done["id"], req_id)
        self.assertFalse(done["ok"])
        self.assertEqual(done["error"]["type"], "Terminated")
        self.assertIn('File "<hotload-1>", line 1, in <module>\n    ' + SLEEPER,
                      done["error"]["traceback"])
        self.assertAgentFramesLeftOut(done["error"]["traceback"])
        self.assertEqual(agent.wait(), 143)
        self.assertIn("uninitialized\n", agent.stdout())


class PythonCoreTest(CoreCases, unittest.TestCase):
    """The core cases under python3."""

    def argv(self):
        """Run the agent under the Python running the tests."""
        return python_argv()


class PythonAgentTest(unittest.TestCase):
    """Everything else, under python3 only."""

    def start(self, hook=None, env=None):
        """Start an agent that is killed when the test ends."""
        agent = Agent(python_argv(), hook, env)
        self.addCleanup(agent.close)
        return agent

    def exec_output(self, agent, code, **fields):
        """Run code, assert it succeeded, return the new stdout."""
        before = len(agent.stdout())
        done = agent.request("exec", code=code, **fields)
        self.assertTrue(done["ok"], done)
        return agent.stdout()[before:]

    def test_no_byte_code_written_next_to_the_agent(self):
        """Workers do not write in the agent's directory, which hotloadd
        checks: byte code a worker left there, with the worker's umask,
        could stop hotloadd's next start. Its own modules are imported
        without writing any; the code's modules still get theirs."""
        tmp = tempfile.mkdtemp(prefix="hotload-agent-")
        self.addCleanup(shutil.rmtree, tmp)
        here = os.path.dirname(AGENT)
        for name in os.listdir(here):
            if name.endswith(".py"):
                shutil.copy(os.path.join(here, name), tmp)
        mods = os.path.join(tmp, "mods")
        os.mkdir(mods)
        with open(os.path.join(mods, "usermod.py"), "w") as f:
            f.write("VALUE = 1\n")
        env = {"PYTHONDONTWRITEBYTECODE": ""}  # empty: Python writes byte code
        agent = Agent([sys.executable, os.path.join(tmp, "hookd.py")], None, env)
        self.addCleanup(agent.close)
        agent.ready()
        done = agent.request("exec", code="import sys\nsys.path.insert(0, %r)\n"
                                           "import usermod, hotload_hook" % mods)
        self.assertTrue(done["ok"], done)
        self.assertFalse(os.path.exists(os.path.join(tmp, "__pycache__")),
                         os.listdir(os.path.join(tmp, "__pycache__"))
                         if os.path.exists(os.path.join(tmp, "__pycache__")) else None)
        self.assertTrue(os.listdir(os.path.join(mods, "__pycache__")))

    def test_ready_message(self):
        agent = self.start()
        ready = agent.ready()
        self.assertEqual(ready["pid"], agent.proc.pid)
        self.assertEqual(ready["tid"], agent.proc.pid)  # python3's main thread is the first
        self.assertEqual(ready["python"], "%d.%d.%d" % sys.version_info[:3])
        self.assertEqual(ready["executable"], sys.executable)

    def test_plain_done_has_the_spelling_the_daemon_knows(self):
        # The daemon takes this exact line without a JSON parse
        # (is_plain_done in daemon/worker-agent.c); any other spelling
        # costs it the parse, so a change here is a change there.
        agent = self.start()
        agent.ready()
        req_id = agent.send("exec", code="pass")
        self.assertEqual(agent.reader.readline(),
                         b'{"id":%d,"event":"done","ok":true}\n' % req_id)

    def test_control_fd_is_not_inherited(self):
        agent = self.start()
        agent.ready()
        out = self.exec_output(agent, "import os\nprint(os.get_inheritable(3), "
                                      "'HOTLOAD_CONTROL_FD' in os.environ)\n")
        self.assertEqual(out, "False False\n")

    def test_python_and_native_output_keep_their_order(self):
        agent = self.start()
        agent.ready()
        out = self.exec_output(agent, "import os\nprint('a')\nos.write(1, b'b\\n')\nprint('c')\n")
        self.assertEqual(out, "a\nb\nc\n")

    def test_c_stdio_is_flushed_before_done(self):
        agent = self.start()
        agent.ready()
        code = "import ctypes\nctypes.CDLL(None).printf(b'from C stdio\\n')\n"
        self.assertIn("from C stdio\n", self.exec_output(agent, code))

    def test_output_is_utf8_with_backslashreplace(self):
        agent = self.start(env={"PYTHONIOENCODING": "ascii"})
        agent.ready()
        self.exec_output(agent, "print('caf\\u00e9 \\udcff')\n")
        self.assertIn("café \\udcff\n".encode("utf-8"), agent.out["stdout"])

    def test_main_namespace_persists(self):
        agent = self.start()
        agent.ready()
        self.exec_output(agent, "x = 41\n")
        done = agent.request("eval", code="x + 1")
        self.assertEqual((done["value"], done["json"]), ("42", 42))
        out = self.exec_output(agent, "import __main__\nprint(__main__.x, __name__)\n")
        self.assertEqual(out, "41 __main__\n")

    def test_fresh_namespace_is_separate(self):
        agent = self.start()
        agent.ready()
        self.exec_output(agent, "x = 1\n")
        out = self.exec_output(agent, "y = 2\nprint('x' in globals(), __name__)\n", ns="fresh")
        self.assertEqual(out, "False __main__\n")
        self.assertEqual(agent.request("eval", code="'y' in globals()")["json"], False)
        self.assertEqual(agent.request("eval", code="2 + 2", ns="fresh")["json"], 4)

    def test_main_namespace_is_the_main_module(self):
        agent = self.start()
        agent.ready()
        code = ("import pickle\nclass P:\n    pass\n"
                "print(type(pickle.loads(pickle.dumps(P()))).__name__)\n")
        self.assertEqual(self.exec_output(agent, code), "P\n")

    def test_reset(self):
        agent = self.start()
        agent.ready()
        self.exec_output(agent, "x = 1\n")
        self.assertTrue(agent.request("reset")["ok"])
        self.assertEqual(agent.request("eval", code="'x' in globals()")["json"], False)
        self.assertEqual(agent.request("eval", code="__name__")["json"], "__main__")

    def test_eval_value_and_json(self):
        agent = self.start()
        agent.ready()
        done = agent.request("eval", code="{'a': [1, 2.5, None, True, 'é']}")
        self.assertEqual(done["json"], {"a": [1, 2.5, None, True, "é"]})
        self.assertEqual(done["value"], "{'a': [1, 2.5, None, True, 'é']}")
        done = agent.request("eval", code="None")
        self.assertEqual((done["value"], done["json"]), ("None", None))
        done = agent.request("eval", code="[2**63 - 1, -2**63]")
        self.assertEqual(done["json"], [2**63 - 1, -2**63])
        for code, value in (("{1, 2}", "{1, 2}"), ("float('nan')", "nan"),
                            ("[float('inf')]", "[inf]"), ("'\\udcff'", "'\\udcff'"),
                            ("2**63", "9223372036854775808"),
                            ("{'a': [-2**63 - 1]}", "{'a': [-9223372036854775809]}"),
                            ("{'a\\x00': 1}", "{'a\\x00': 1}")):
            done = agent.request("eval", code=code)
            self.assertTrue(done["ok"], done)
            self.assertEqual(done["value"], value)
            self.assertNotIn("json", done)
        done = agent.request("eval", code="object()")
        self.assertTrue(done["value"].startswith("<object object at "))
        self.assertNotIn("json", done)

    def test_eval_of_a_statement_is_a_syntax_error(self):
        agent = self.start()
        agent.ready()
        done = agent.request("eval", code="x = 1")
        self.assertEqual(done["error"]["type"], "SyntaxError")

    def test_syntax_error(self):
        agent = self.start()
        agent.ready()
        done = agent.request("exec", code="print('ok')\ndef f(:\n    pass\n", file="bad.py")
        self.assertFalse(done["ok"])
        self.assertEqual(done["error"]["type"], "SyntaxError")
        tb = done["error"]["traceback"]
        lines = tb.splitlines()
        self.assertIn('  File "bad.py", line 2', lines)
        self.assertIn("    def f(:", lines)
        self.assertTrue(any(line.strip() == "^" for line in lines), tb)
        self.assertTrue(lines[-1].startswith("SyntaxError: "), tb)
        self.assertNotIn("hotload_agent.py", tb)
        self.assertNotIn("hookd.py", tb)
        self.assertEqual(agent.stdout(), "")  # nothing ran

    def test_traceback_shows_source_of_earlier_requests(self):
        agent = self.start()
        agent.ready()
        self.exec_output(agent, "def boom():\n    raise ValueError('bad value')\n")
        done = agent.request("exec", code="x = 1\nboom()\n")
        tb = done["error"]["traceback"]
        self.assertEqual(done["error"]["message"], "bad value")
        self.assertIn("line 2, in <module>\n    boom()\n", tb)
        self.assertIn("line 2, in boom\n    raise ValueError('bad value')\n", tb)
        self.assertEqual(tb.count('File "<hotload'), 2)

    def test_unprintable_exception(self):
        agent = self.start()
        agent.ready()
        code = ("class E(Exception):\n    def __str__(self):\n        raise RuntimeError\n"
                "raise E()\n")
        done = agent.request("exec", code=code)
        self.assertEqual(done["error"]["type"], "E")
        self.assertEqual(done["error"]["message"], "<exception str() failed>")

    def test_sys_exit(self):
        agent = self.start()
        agent.ready()
        done = agent.request("exec", code="import sys\nsys.exit(3)\n")
        self.assertFalse(done["ok"])
        self.assertEqual((done["error"]["type"], done["error"]["message"]), ("SystemExit", "3"))
        self.assertIn("sys.exit(3)", done["error"]["traceback"])
        done = agent.request("exec", code="raise SystemExit('bye')")
        self.assertEqual((done["error"]["type"], done["error"]["message"]), ("SystemExit", "bye"))
        for code in ("import sys; sys.exit()", "import sys; sys.exit(0)", "exit()"):
            done = agent.request("exec", code=code)
            self.assertEqual((done["ok"], done["exit_code"]), (True, 0), code)
        self.assertTrue(agent.request("ping")["ok"])
        self.assertIsNone(agent.proc.poll())

    def test_keyboard_interrupt_raised_by_code(self):
        agent = self.start()
        agent.ready()
        done = agent.request("exec", code="raise KeyboardInterrupt")
        self.assertEqual(done["error"]["type"], "KeyboardInterrupt")
        self.assertTrue(agent.request("ping")["ok"])

    def test_stdin_is_at_eof(self):
        agent = self.start()
        agent.ready()
        self.assertEqual(self.exec_output(agent, "import sys\nprint(repr(sys.stdin.read()))\n"),
                         "''\n")
        self.assertEqual(agent.request("exec", code="input()")["error"]["type"], "EOFError")

    def test_bad_requests(self):
        agent = self.start()
        agent.ready()
        for line in (b"not json\n", b"[1, 2]\n", b"\xff\xfe\n", b"\n"):
            agent.send_line(line)
            done = agent.recv()
            self.assertEqual((done["id"], done["ok"]), (None, False), line)
            self.assertEqual(done["error"]["type"], "BadRequest")
        for fields in ({"op": "frobnicate"}, {"op": "exec"}, {"op": "eval", "code": 1},
                       {"op": "exec", "code": "print(1)", "ns": "other"},
                       {"op": "exec", "code": "print(1)", "file": 7}):
            req_id = agent.send(**fields)
            done = agent.recv()
            self.assertEqual((done["id"], done["ok"]), (req_id, False), fields)
            self.assertEqual(done["error"]["type"], "BadRequest")
        self.assertEqual(agent.stdout(), "")
        self.assertTrue(agent.request("ping")["ok"])

    def test_code_bytes_frame_the_code(self):
        agent = self.start()
        agent.ready()
        # lines in the code that look like requests are code, and what
        # follows the payload at once is the next request
        code = 'print("\u00e9t\u00e9")\n# {"id":99,"op":"interrupt"}\n{"op": "ping"}\n'
        payload = code.encode("utf-8")
        line = json.dumps({"id": 1, "op": "exec", "code_bytes": len(payload)}).encode()
        agent.send_line(line + b"\n" + payload + b'{"id":2,"op":"eval","code":"6*7"}\n')
        self.assertEqual(agent.recv(), {"id": 1, "event": "done", "ok": True})
        done = agent.recv()
        self.assertEqual((done["id"], done["json"]), (2, 42))
        self.assertEqual(agent.stdout(), "\u00e9t\u00e9\n")
        # empty code, sent in pieces
        agent.send_line(b'{"id":3,"op":"exec","code_bytes":0}\n')
        self.assertTrue(agent.recv()["ok"])
        agent.send_line(b'{"id":4,"op":"eval","code_bytes":3}\n1+')
        agent.send_line(b"1")
        self.assertEqual(agent.recv()["json"], 2)
        self.assertEqual(agent.request("eval", code="40+2", inline=True)["json"], 42)

    def test_bad_code_bytes(self):
        agent = self.start()
        agent.ready()
        for n in (-1, "3", 1.5, True, None):
            agent.send_line(json.dumps({"id": 5, "op": "exec", "code_bytes": n}).encode() + b"\n")
            done = agent.recv()
            self.assertEqual((done["id"], done["ok"]), (5, False), n)
            self.assertIn("code_bytes", done["error"]["message"])
        agent.send_line(b'{"id":6,"op":"exec","code_bytes":2}\n\xff\xfe')
        done = agent.recv()
        self.assertEqual((done["id"], done["error"]["type"]), (6, "BadRequest"))
        self.assertIn("UTF-8", done["error"]["message"])
        self.assertTrue(agent.request("ping")["ok"])
        # the daemon gone in the middle of a payload: as at EOF, no answer
        agent.send_line(b'{"id":7,"op":"exec","code_bytes":100}\nprint(1)')
        agent.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(agent.wait(), 0)
        self.assertEqual(agent.stdout(), "")

    def test_stop(self):
        agent = self.start(UNINIT_HOOK)
        agent.ready()
        done = agent.request("stop")
        self.assertEqual(done, {"id": done["id"], "event": "done", "ok": True})
        self.assertEqual(agent.wait(), 0)
        self.assertEqual(agent.stdout(), "uninitialized\n")

    def test_stop_reports_uninitialize_error(self):
        agent = self.start({"uninitialize": "raise RuntimeError('teardown failed')"})
        agent.ready()
        done = agent.request("stop")
        self.assertFalse(done["ok"])
        self.assertEqual(done["error"]["message"], "teardown failed")
        self.assertEqual(agent.wait(), 0)

    def test_eof_runs_uninitialize(self):
        agent = self.start(UNINIT_HOOK)
        agent.ready()
        agent.sock.shutdown(2)
        self.assertEqual(agent.wait(), 0)
        self.assertEqual(agent.stdout(), "uninitialized\n")

    def test_inline_hook_has_its_own_namespace(self):
        hook = {"name": "test", "initialize": "state = 'hooked'\nprint('initialized')",
                "uninitialize": "print('uninitialized', state)"}
        agent = self.start(hook)
        agent.ready()
        self.assertEqual(agent.stdout(), "initialized\n")  # before ready
        self.assertEqual(self.exec_output(agent, "print('state' in globals())\n"), "False\n")
        agent.request("stop")
        self.assertEqual(agent.wait(), 0)
        self.assertEqual(agent.stdout(), "initialized\nFalse\nuninitialized hooked\n")

    def test_hook_class(self):
        tmp_dir = tempfile.TemporaryDirectory()
        self.addCleanup(tmp_dir.cleanup)
        tmp = tmp_dir.name
        with open(os.path.join(tmp, "studio_hook.py"), "w") as f:
            f.write(textwrap.dedent("""\
                from hotload_hook import BaseHook

                class Hook(BaseHook):
                    def initialize(self):
                        print("class initialize")

                    def uninitialize(self):
                        print("class uninitialize")
                """))
        hook = {"name": "studio", "class": "studio_hook:Hook", "path": [tmp],
                "initialize": "print('inline initialize')",
                "uninitialize": "print('inline uninitialize')"}
        agent = self.start(hook)
        agent.ready()
        self.assertEqual(agent.stdout(), "inline initialize\nclass initialize\n")
        self.exec_output(agent, "import studio_hook\n")  # the hook's path is on sys.path
        agent.request("stop")
        self.assertEqual(agent.wait(), 0)
        self.assertTrue(agent.stdout().endswith("class uninitialize\ninline uninitialize\n"))

    def test_namespace_names(self):
        """The hook's namespace code and class names start every user namespace:
        main, fresh ones, and main again after reset; the hook's own namespace
        is not the user's."""
        tmp_dir = tempfile.TemporaryDirectory()
        self.addCleanup(tmp_dir.cleanup)
        with open(os.path.join(tmp_dir.name, "ns_hook.py"), "w") as f:
            f.write(textwrap.dedent("""\
                from hotload_hook import BaseHook

                class Hook(BaseHook):
                    def namespace(self):
                        return {"studio": "acme"}
                """))
        hook = {"name": "dcc", "class": "ns_hook:Hook", "path": [tmp_dir.name],
                "initialize": "secret = 1",
                "namespace": "import json as js\nready = 'yes'"}
        agent = self.start(hook)
        agent.ready()
        code = "print(js.dumps([ready, studio]), 'secret' in globals())\n"
        self.assertEqual(self.exec_output(agent, code), '["yes", "acme"] False\n')
        self.assertEqual(self.exec_output(agent, code, ns="fresh"), '["yes", "acme"] False\n')
        self.exec_output(agent, "ready = 'changed'\n")
        self.assertTrue(agent.request("reset")["ok"])
        self.assertEqual(self.exec_output(agent, code), '["yes", "acme"] False\n')

    def test_namespace_failure(self):
        """Namespace code that raises fails the start, as initialize does."""
        agent = self.start({"name": "dcc", "namespace": "import no_such_module_here"})
        msg = agent.recv()
        self.assertEqual((msg["event"], msg["error"]["type"]), ("failed", "ModuleNotFoundError"))
        self.assertIn('File "<dcc namespace>", line 1', msg["error"]["traceback"])
        self.assertEqual(agent.wait(), 1)

    def test_base_hook_does_nothing(self):
        agent = self.start({"class": "hotload_hook:BaseHook"})
        agent.ready()
        self.assertTrue(agent.request("stop")["ok"])
        self.assertEqual(agent.wait(), 0)

    def test_initialize_failure(self):
        agent = self.start({"name": "mayapy",
                            "initialize": "x = 1\nraise RuntimeError('no licence')"})
        msg = agent.recv()
        self.assertEqual(msg["event"], "failed")
        self.assertEqual((msg["error"]["type"], msg["error"]["message"]),
                         ("RuntimeError", "no licence"))
        self.assertIn('File "<mayapy initialize>", line 2', msg["error"]["traceback"])
        self.assertNotIn("hotload_agent.py", msg["error"]["traceback"])
        self.assertEqual(agent.wait(), 1)

    def test_hook_class_failures(self):
        for hook, error in (({"class": "no_such_module:Hook"}, "ModuleNotFoundError"),
                            ({"class": "hotload_hook:Missing"}, "AttributeError"),
                            ({"class": "hotload_hook"}, "ValueError"),
                            ("{not json", "JSONDecodeError")):
            agent = self.start(hook)
            msg = agent.recv()
            self.assertEqual((msg["event"], msg["error"]["type"]), ("failed", error), hook)
            self.assertEqual(agent.wait(), 1)

    def test_missing_control_fd(self):
        agent = self.start(env={"HOTLOAD_CONTROL_FD": ""})
        self.assertEqual(agent.wait(), 2)
        self.assertIn("HOTLOAD_CONTROL_FD", agent.stderr())


if __name__ == "__main__":
    unittest.main()
