"""The hotload kernel driven by jupyter_client (KernelManager and its
blocking client, as JupyterLab's server and nbclient use them), from
kernelspecs hotloadctl wrote, against a real hotloadd with python:3."""
import os
import queue
import time
import unittest

import jupyter_env
from jupyter_env import daemon

import hotload
from jupyter_client.manager import KernelManager

TIMEOUT = 60


class Session:
    """A started kernel of spec name and its blocking client."""

    def __init__(self, name):
        self.km = KernelManager(kernel_name=name)
        self.km.start_kernel()
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=TIMEOUT)

    def run(self, code, **kwargs):
        """Execute code; (reply content, [(msg_type, content, time)]) of
        what iopub said for it until the kernel went idle.

        stop_on_error is off: ipykernel aborts whatever arrives just after
        an error reply (its queue, for every kernel), and these tests run
        the next cell at once."""
        kwargs.setdefault("stop_on_error", False)
        msg_id = self.kc.execute(code, **kwargs)
        out = []
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind not in ("status", "execute_input"):
                out.append((kind, content, time.monotonic()))
        return self.reply(msg_id)["content"], out

    def shell(self, send, *args):
        """Another shell request (complete, is_complete, kernel_info): its reply."""
        return self.reply(send(*args))["content"]

    def reply(self, msg_id):
        """The shell reply to msg_id; others (wait_for_ready's extra
        kernel_info replies) are skipped."""
        deadline = time.monotonic() + TIMEOUT
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, deadline - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                return reply

    def value(self, code):
        """The text/plain of the cell's execute_result."""
        reply, out = self.run(code)
        results = [c for kind, c, _ in out if kind == "execute_result"]
        if reply["status"] != "ok" or len(results) != 1:
            raise AssertionError("%r gave %r, %r" % (code, reply, out))
        return results[0]["data"]["text/plain"]

    def close(self):
        self.kc.stop_channels()
        if self.km.has_kernel:
            self.km.shutdown_kernel(now=False)


def streams(out, name):
    return "".join(c["text"] for kind, c, _ in out if kind == "stream" and c["name"] == name)


class KernelTest(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.daemon = daemon.Daemon()
        cls.jupyter = jupyter_env.Jupyter(cls.daemon)
        cls.jupyter.install("python:3", "hl-python")
        cls.s = Session("hl-python")

    @classmethod
    def tearDownClass(cls):
        try:
            cls.s.close()
        finally:
            cls.jupyter.cleanup()
            cls.daemon.stop()

    def worker(self, what):
        with hotload.Client("python:3", socket=self.daemon.sock) as c:
            return c.eval(what)

    def test_kernel_info_names_the_target_and_its_python(self):
        info = self.s.shell(self.s.kc.kernel_info)
        self.assertEqual(info["status"], "ok")
        self.assertEqual(info["implementation"], "hotload")
        self.assertEqual(info["implementation_version"], hotload.__version__)
        lang = info["language_info"]
        self.assertEqual((lang["name"], lang["file_extension"]), ("python", ".py"))
        self.assertEqual(lang["version"],
                         self.worker("'%d.%d.%d' % __import__('sys').version_info[:3]"))
        self.assertIn("hotload kernel for python:3", info["banner"])
        self.assertIn("Python " + self.worker("__import__('sys').version"), info["banner"])

    def test_last_expression_is_the_cell_value(self):
        self.assertEqual(self.s.value("x = 20\nx + 1"), "21")
        self.assertEqual(self.s.value("{1, 2}"), "{1, 2}")
        for code in ("print(1)", "y = 5", "None", "import os"):
            reply, out = self.s.run(code)
            self.assertEqual(reply["status"], "ok")
            self.assertFalse([k for k, _, _ in out if k == "execute_result"], code)
        reply, out = self.s.run("3 * 3")
        result = [c for k, c, _ in out if k == "execute_result"][0]
        self.assertEqual(result["execution_count"], reply["execution_count"])

    def test_output_streams_as_it_is_printed(self):
        reply, out = self.s.run("import sys, time\n"
                                "for i in range(3):\n"
                                "    print('out', i, flush=True)\n"
                                "    print('err', i, file=sys.stderr, flush=True)\n"
                                "    time.sleep(0.3)\n")
        done = time.monotonic()
        self.assertEqual(reply["status"], "ok")
        self.assertEqual(streams(out, "stdout"), "out 0\nout 1\nout 2\n")
        self.assertEqual(streams(out, "stderr"), "err 0\nerr 1\nerr 2\n")
        first = min(t for kind, _, t in out if kind == "stream")
        self.assertLess(first, done - 0.5)  # not all at the end

    def test_error_carries_the_remote_traceback(self):
        reply, out = self.s.run("def f():\n    return 1 / 0\n\nprint('before')\nf()")
        self.assertEqual(reply["status"], "error")
        self.assertEqual((reply["ename"], reply["evalue"]),
                         ("ZeroDivisionError", "division by zero"))
        tb = reply["traceback"]
        n = reply["execution_count"]
        self.assertIn('  File "In [%d]", line 5, in <module>' % n, tb)
        self.assertIn('  File "In [%d]", line 2, in f' % n, tb)
        self.assertIn("    return 1 / 0", tb)
        self.assertEqual(tb[-1], "ZeroDivisionError: division by zero")
        errors = [c for kind, c, _ in out if kind == "error"]
        self.assertEqual(len(errors), 1)
        self.assertEqual(errors[0]["traceback"], tb)
        self.assertEqual(streams(out, "stdout"), "before\n")
        self.assertEqual(self.s.value("'still serving'"), "'still serving'")

    def interrupt_case(self, session):
        pid = session.value("__import__('os').getpid()")
        # one line: the output can arrive before print returns, and an
        # interrupt that lands then is raised in print, not in the sleep
        msg_id = session.kc.execute("import time\nprint('sleeping', flush=True); time.sleep(60)\n",
                                    stop_on_error=False)
        # wait until the cell runs in the worker, then interrupt it
        deadline = time.monotonic() + TIMEOUT
        while True:
            msg = session.kc.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            if (msg["parent_header"].get("msg_id") == msg_id and msg["msg_type"] == "stream"):
                break
        t0 = time.monotonic()
        session.km.interrupt_kernel()
        reply = session.reply(msg_id)
        self.assertLess(time.monotonic() - t0, 10)
        content = reply["content"]
        self.assertEqual((content["status"], content["ename"]), ("error", "KeyboardInterrupt"))
        self.assertIn("    print('sleeping', flush=True); time.sleep(60)", content["traceback"])
        # the worker stayed warm, its namespace too
        self.assertEqual(session.value("__import__('os').getpid()"), pid)

    def test_interrupt_message_mode(self):
        self.assertEqual(self.s.km.kernel_spec.interrupt_mode, "message")
        self.interrupt_case(self.s)

    def test_interrupt_signal_mode(self):
        self.jupyter.install("python:3", "hl-signal", interrupt_mode="signal")
        session = Session("hl-signal")
        try:
            self.assertEqual(session.km.kernel_spec.interrupt_mode, "signal")
            self.interrupt_case(session)
        finally:
            session.close()

    def test_restart_starts_the_namespace_over(self):
        self.jupyter.install("python:3", "hl-restart")
        session = Session("hl-restart")
        try:
            session.run("kept = 'before the restart'")
            pid = session.value("__import__('os').getpid()")
            session.km.restart_kernel(now=False)
            session.kc.wait_for_ready(timeout=TIMEOUT)
            reply, out = session.run("kept")
            self.assertEqual((reply["status"], reply["ename"]), ("error", "NameError"))
            self.assertNotEqual(session.value("__import__('os').getpid()"), pid)
        finally:
            session.close()

    def test_complete_from_the_worker_namespace(self):
        self.s.run("import os\nmy_unusual_name = 1\nmy_unusual_other = 2")
        c = self.s.shell(self.s.kc.complete, "print(my_unus", 13)
        self.assertEqual(c["status"], "ok")
        self.assertEqual(sorted(c["matches"]), ["my_unusual_name", "my_unusual_other"])
        self.assertEqual((c["cursor_start"], c["cursor_end"]), (6, 13))
        c = self.s.shell(self.s.kc.complete, "os.pat")
        self.assertIn("os.path", c["matches"])
        self.assertEqual((c["cursor_start"], c["cursor_end"]), (0, 6))
        c = self.s.shell(self.s.kc.complete, "pri")
        self.assertIn("print", c["matches"])  # builtins, without rlcompleter's "("
        c = self.s.shell(self.s.kc.complete, "no_such_name_")
        self.assertEqual(c["matches"], [])

    def test_is_complete(self):
        def ask(code):
            return self.s.shell(self.s.kc.is_complete, code)
        self.assertEqual(ask("x = 1")["status"], "complete")
        self.assertEqual(ask("def f():"), {"status": "incomplete", "indent": "    "})
        self.assertEqual(ask("def f():\n    return 1")["status"], "incomplete")
        self.assertEqual(ask("def f():\n    return 1\n")["status"], "complete")
        self.assertEqual(ask("x = (1,")["status"], "incomplete")
        self.assertEqual(ask("x = )")["status"], "invalid")

    def test_worker_death_is_an_error_and_the_kernel_goes_on(self):
        reply, out = self.s.run("import os\nos._exit(3)")
        self.assertEqual((reply["status"], reply["ename"]), ("error", "WorkerDied"))
        self.assertIn("exit", reply["evalue"])
        self.assertEqual(self.s.value("1 + 1"), "2")

    def test_daemon_unavailable_is_an_error_and_the_kernel_goes_on(self):
        nowhere = os.path.join(self.jupyter.dir, "nowhere", "hotloadd.sock")
        self.jupyter.install("python:3", "hl-nowhere", env={"HOTLOAD_SOCKET": nowhere})
        session = Session("hl-nowhere")  # kernel_info is answered without a daemon
        try:
            for _ in range(2):
                reply, out = session.run("print(1)")
                self.assertEqual((reply["status"], reply["ename"]),
                                 ("error", "DaemonUnavailable"))
                self.assertIn(nowhere, reply["evalue"])
            info = session.shell(session.kc.kernel_info)
            self.assertIn("no worker yet", info["banner"])
        finally:
            session.close()


if __name__ == "__main__":
    unittest.main()
