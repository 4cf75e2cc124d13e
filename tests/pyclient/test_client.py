"""hotload.Client against the real hotloadd built in the build tree."""
import json
import os
import signal
import socket
import tempfile
import textwrap
import threading
import time
import unittest

import daemon
import hotload
from hotload import _errors

D = None


def setUpModule():
    global D
    D = daemon.Daemon(tcp=True)


def tearDownModule():
    D.stop()


def client(**options):
    options.setdefault("socket", D.sock)
    return hotload.Client("python:3", **options)


class RunCodeTest(unittest.TestCase):
    """exec and eval: output, values, namespaces, the request's fields."""

    @classmethod
    def setUpClass(cls):
        cls.c = client()

    @classmethod
    def tearDownClass(cls):
        cls.c.close()

    def test_exec_streams_output_in_order(self):
        chunks = []

        def on(stream):
            return lambda text: chunks.append((stream, text, time.monotonic()))

        code = textwrap.dedent("""\
            import sys, time
            for i in range(3):
                print("out", i, flush=True)
                print("err", i, file=sys.stderr, flush=True)
            time.sleep(0.5)
            print("last")
            """)
        r = self.c.exec(code, on_stdout=on("stdout"), on_stderr=on("stderr"))
        returned = time.monotonic()
        self.assertTrue(r.ok)
        self.assertEqual(r.stdout, "out 0\nout 1\nout 2\nlast\n")
        self.assertEqual(r.stderr, "err 0\nerr 1\nerr 2\n")
        self.assertEqual("".join(t for s, t, _ in chunks if s == "stdout"), r.stdout)
        self.assertEqual("".join(t for s, t, _ in chunks if s == "stderr"), r.stderr)
        # streamed as printed, not when the code ended
        self.assertLess(chunks[0][2], returned - 0.3)
        self.assertIsNone(r.value)
        self.assertIsNone(r.error)
        self.assertGreater(r.duration, 0.4)

    def test_native_output_too(self):
        r = self.c.exec("import os; os.system('echo from a child'); os.write(2, b'raw\\n')")
        self.assertEqual(r.stdout, "from a child\n")
        self.assertEqual(r.stderr, "raw\n")

    def test_eval_values(self):
        self.c.exec("x = 6")
        self.assertEqual(self.c.eval("x * 7"), 42)
        self.assertEqual(self.c.eval("[1, 'two', None, True, {'k': 1.5}]"),
                         [1, "two", None, True, {"k": 1.5}])
        self.assertEqual(self.c.eval("'text'"), "text")
        self.assertIsNone(self.c.eval("None"))
        # not plain JSON: the repr
        self.assertEqual(self.c.eval("{1, 2}"), "{1, 2}")
        self.assertEqual(self.c.eval("2 ** 64"), "18446744073709551616")
        r = self.c.eval_result("'text'")
        self.assertEqual((r.value, r.repr), ("text", "'text'"))

    def test_code_goes_after_the_line(self):
        from hotload import _protocol
        code = 'print("caf\u00e9")\n# {"id":1,"op":"ping"}\n'
        wire = _protocol.encode({"id": 4, "op": "exec", "code": code})
        line, _, rest = wire.partition(b"\n")
        self.assertEqual(json.loads(line), {"id": 4, "op": "exec", "code_bytes": len(rest)})
        self.assertEqual(rest.decode("utf-8"), code)
        # other ops stay a line
        self.assertEqual(_protocol.encode({"id": 5, "op": "ping"}), b'{"id":5,"op":"ping"}\n')
        # through the daemon: lines in the code are code; large code too
        r = self.c.exec(code + "x = '%s'\nprint(len(x))\n" % ("y" * 300000))
        self.assertEqual(r.stdout, "caf\u00e9\n300000\n")
        # text no daemon could take (a lone surrogate) is refused here
        with self.assertRaises(ValueError) as cm:
            self.c.exec("x = 1\n'\udce9'")
        self.assertIn("surrogate", str(cm.exception))
        self.assertEqual(self.c.eval("6 * 7"), 42)

    def test_exec_interactive_gives_the_last_expression(self):
        r = self.c.exec("x = 20\nx + 1", interactive=True)
        self.assertEqual((r.value, r.repr), (21, "21"))
        r = self.c.exec("s = {1}; s", interactive=True)
        self.assertEqual((r.value, r.repr), ("{1}", "{1}"))
        for code in ("print('p')", "x = 2", "None", "x; x = 3"):
            r = self.c.exec(code, interactive=True)
            self.assertEqual((r.value, r.repr), (None, None), code)
        self.assertIsNone(self.c.exec("x").value)  # not interactive: no value
        self.assertEqual(self.c.eval("x"), 3)
        # the traceback shows the cell's lines, those of its functions too
        with self.assertRaises(hotload.RemoteError) as cm:
            self.c.exec("def f():\n    return 1 / 0\nf()", file="<cell>", interactive=True)
        self.assertIn('File "<cell>", line 3, in <module>\n    f()\n', cm.exception.traceback)
        self.assertIn('line 2, in f\n    return 1 / 0\n', cm.exception.traceback)

    def test_fresh_namespace_and_reset(self):
        self.c.exec("y = 1")
        with self.assertRaises(hotload.RemoteError) as cm:
            self.c.eval("y", fresh=True)
        self.assertEqual(cm.exception.type, "NameError")
        self.assertEqual(self.c.eval("y"), 1)
        self.c.reset()
        with self.assertRaises(hotload.RemoteError):
            self.c.eval("y")

    def test_path_cwd_argv(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = os.path.realpath(tmp)
            with open(os.path.join(tmp, "helper.py"), "w") as f:
                f.write("NAME = 'helper'\n")
            script = os.path.join(tmp, "tool.py")
            r = self.c.exec("import helper, os, sys\n"
                            "print(helper.NAME, os.getcwd(), sys.argv, __file__)",
                            path=script, cwd=tmp, argv=["tool.py", "--fast"])
            self.assertEqual(r.stdout, "helper %s ['tool.py', '--fast'] %s\n" % (tmp, script))

    def test_exec_file(self):
        with tempfile.TemporaryDirectory() as tmp:
            tmp = os.path.realpath(tmp)
            with open(os.path.join(tmp, "sibling.py"), "w") as f:
                f.write("VALUE = 7\n")
            script = os.path.join(tmp, "build.py")
            with open(script, "w", encoding="utf-8") as f:
                f.write("\ufeffimport sys, sibling\nprint(sys.argv[1:], sibling.VALUE)\n1/0\n")
            with self.assertRaises(hotload.RemoteError) as cm:
                self.c.exec_file(script, ["--fast"])
            self.assertEqual(cm.exception.result.stdout, "['--fast'] 7\n")
            self.assertIn('File "%s", line 3' % script, cm.exception.traceback)

    def test_callback_that_raises(self):
        def boom(text):
            raise RuntimeError("callback failed on %r" % text)

        with self.assertRaisesRegex(RuntimeError, "callback failed on 'x"):
            self.c.exec("print('x', flush=True)\nimport time; time.sleep(0.3)\nprint('y')",
                        on_stdout=boom)
        self.assertEqual(self.c.eval("1 + 1"), 2)  # the client goes on

    def test_threads_share_one_client(self):
        results = {}

        def work(n):
            results[n] = self.c.eval("%d * 2" % n)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        self.assertEqual(results, {n: n * 2 for n in range(8)})


class ErrorsTest(unittest.TestCase):
    """Every kind of failure is its exception, with what it carries."""

    def test_remote_exception_with_its_traceback(self):
        with client() as c:
            with self.assertRaises(hotload.RemoteError) as cm:
                c.exec("print('before')\ndef f():\n    return 1/0\nf()", file="probe.py")
            e = cm.exception
            self.assertIsInstance(e, hotload.Error)
            self.assertEqual((e.type, e.message), ("ZeroDivisionError", "division by zero"))
            self.assertEqual(str(e), "ZeroDivisionError: division by zero")
            self.assertIn('File "probe.py", line 3, in f', e.traceback)
            self.assertTrue(e.traceback.startswith("Traceback (most recent call last):"))
            self.assertIsInstance(e.__cause__, _errors.RemoteTraceback)
            self.assertIn("probe.py", str(e.__cause__))
            self.assertEqual(e.result.stdout, "before\n")
            self.assertFalse(e.result.ok)

            r = c.exec("1/0", raise_on_error=False)
            self.assertFalse(r.ok)
            self.assertIsInstance(r.error, hotload.RemoteError)
            self.assertEqual(r.error.type, "ZeroDivisionError")
            with self.assertRaises(hotload.RemoteError) as cm:
                c.exec("def (:")
            self.assertEqual(cm.exception.type, "SyntaxError")

    def test_raise_on_error_default_of_the_client(self):
        with client(raise_on_error=False) as c:
            self.assertEqual(c.exec("raise ValueError('no')").error.message, "no")
            with self.assertRaises(hotload.RemoteError):  # eval always raises
                c.eval("1/0")
            self.assertEqual(c.exec("raise SystemExit(3)").error.type, "SystemExit")
            with self.assertRaises(hotload.RemoteError):
                c.exec("1/0", raise_on_error=True)
            self.assertTrue(c.exec("import sys; sys.exit(0)").ok)

    def test_worker_died(self):
        with client() as c:
            before = c.eval("__import__('os').getpid()")
            with self.assertRaises(hotload.WorkerDied) as cm:
                c.exec("import os, sys\nsys.stderr.write('dying\\n'); sys.stderr.flush()\n"
                       "os._exit(7)")
            e = cm.exception
            self.assertEqual((e.exit_status, e.signal), (7, 0))
            self.assertIn("dying", e.stderr_tail)
            self.assertIn("exited with status 7", e.message)
            with self.assertRaises(hotload.WorkerDied) as cm:
                c.exec("import os, signal; os.kill(os.getpid(), signal.SIGKILL)")
            self.assertEqual(cm.exception.signal, signal.SIGKILL)
            after = c.eval("__import__('os').getpid()")  # a new worker serves
            self.assertNotEqual(before, after)

    def test_timeout(self):
        with client() as c:
            pid = c.eval("__import__('os').getpid()")
            start = time.monotonic()
            with self.assertRaises(hotload.Timeout) as cm:
                c.exec("import time; time.sleep(30)", timeout=0.5)
            self.assertLess(time.monotonic() - start, 10)
            e = cm.exception
            self.assertFalse(e.client_side)
            self.assertAlmostEqual(e.timeout, 0.5, delta=0.1)
            self.assertIn("KeyboardInterrupt", e.traceback)
            self.assertEqual(c.eval("__import__('os').getpid()"), pid)  # still warm
        with client(timeout=0.5) as c:  # the client's default
            with self.assertRaises(hotload.Timeout):
                c.exec("import time; time.sleep(30)")
            self.assertEqual(c.exec("pass", timeout=None).ok, True)

    def test_timeout_of_code_that_ignores_the_interrupt(self):
        with client() as c:
            pid = c.eval("__import__('os').getpid()")
            with self.assertRaises(hotload.Timeout) as cm:
                c.exec("import time\nwhile True:\n    try:\n        time.sleep(10)\n"
                       "    except KeyboardInterrupt:\n        pass\n", timeout=0.5)
            # SIGTERM, as the interrupt was not enough
            self.assertRegex(cm.exception.message, "Terminated|killed")
            self.assertNotEqual(c.eval("__import__('os').getpid()"), pid)

    def test_refused_target(self):
        with hotload.Client("nosuch", socket=D.sock) as c:
            for _ in range(2):  # and every later request, the same way
                with self.assertRaises(hotload.Refused) as cm:
                    c.exec("print(1)")
                self.assertEqual(cm.exception.type, "UnknownTarget")
                self.assertIn("unknown DCC 'nosuch'", cm.exception.message)
        with hotload.Client("python:9.99", socket=D.sock) as c:
            with self.assertRaises(hotload.Refused) as cm:
                c.eval("1")
            self.assertEqual(cm.exception.type, "NotInstalled")
        with self.assertRaisesRegex(ValueError, "bad target"):
            hotload.Client("python 3", socket=D.sock)

    def test_daemon_unavailable_is_fast_and_says_where(self):
        tmp = tempfile.mkdtemp(prefix="hl-py-none-")
        self.addCleanup(os.rmdir, tmp)
        path = os.path.join(tmp, "hotloadd.sock")
        start = time.monotonic()
        with self.assertRaises(hotload.DaemonUnavailable) as cm:
            hotload.Client("python:3", socket=path)
        self.assertLess(time.monotonic() - start, 1)
        self.assertIn("unix socket %s: No such file or directory" % path, str(cm.exception))
        self.assertIn("hotloadctl start", str(cm.exception))
        port = daemon.free_port()
        with self.assertRaises(hotload.DaemonUnavailable) as cm:
            hotload.Client("python:3", tcp="127.0.0.1:%d" % port)
        self.assertIn("TCP 127.0.0.1:%d: Connection refused" % port, str(cm.exception))

    def test_daemon_gone_mid_request(self):
        d = daemon.Daemon()
        try:
            c = hotload.Client("python:3", socket=d.sock)
            states = []
            c.eval("1", on_waiting=states.append)  # the first request waits for a start
            self.assertEqual(states, ["starting"])
            threading.Timer(0.5, d.kill).start()
            with self.assertRaises(hotload.DaemonUnavailable) as cm:
                c.exec("import time; time.sleep(30)")
            self.assertIn("closed the connection", str(cm.exception))
            with self.assertRaises(hotload.DaemonUnavailable):
                c.eval("1")
            c.close()
        finally:
            d.kill()

    def test_daemon_that_does_not_answer(self):
        tmp = tempfile.mkdtemp(prefix="hl-py-mute-")
        path = os.path.join(tmp, "hotloadd.sock")
        srv = socket.socket(socket.AF_UNIX)
        srv.bind(path)
        srv.listen(1)
        self.addCleanup(lambda: (srv.close(), os.unlink(path), os.rmdir(tmp)))
        with hotload.Client("python:3", socket=path, timeout_grace=0.3) as c:
            start = time.monotonic()
            with self.assertRaises(hotload.Timeout) as cm:
                c.exec("print(1)", timeout=0.2)
            self.assertTrue(cm.exception.client_side)
            self.assertLess(time.monotonic() - start, 3)
            with self.assertRaises(hotload.DaemonUnavailable):
                c.exec("print(1)")


class InterruptTest(unittest.TestCase):
    """interrupt() from another thread, and Ctrl-C of the waiting thread."""

    def test_interrupt_from_another_thread(self):
        with client() as c:
            pid = c.eval("__import__('os').getpid()")
            hit = []
            timer = threading.Timer(0.5, lambda: hit.append(c.interrupt()))
            timer.start()
            start = time.monotonic()
            with self.assertRaises(hotload.Interrupted) as cm:
                c.exec("import time; time.sleep(30)")
            timer.join()
            self.assertLess(time.monotonic() - start, 5)
            self.assertEqual(hit, [1])
            self.assertIsInstance(cm.exception, hotload.RemoteError)
            self.assertIn("time.sleep(30)", cm.exception.traceback)
            # the same warm worker
            self.assertEqual(c.eval("__import__('os').getpid()"), pid)
            status = c.status("python:3")["targets"][0]
            self.assertIn(pid, [w["pid"] for w in status["workers"]])
            self.assertEqual(c.interrupt(), 0)

    @unittest.skipUnless(threading.current_thread() is threading.main_thread(), "needs SIGINT")
    def test_ctrl_c_while_waiting_interrupts_the_request(self):
        with client() as c:
            pid = c.eval("__import__('os').getpid()")
            timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
            timer.start()
            with self.assertRaises(KeyboardInterrupt):
                c.exec("import time; time.sleep(30)")
            start = time.monotonic()
            self.assertEqual(c.eval("__import__('os').getpid()"), pid)
            self.assertLess(time.monotonic() - start, 5)


class ReloadTest(unittest.TestCase):
    """reload_modules, and modules reloaded by themselves with watch=."""

    def setUp(self):
        self.tmp = os.path.realpath(tempfile.mkdtemp(prefix="hl-py-mods-"))
        self.addCleanup(lambda: os.system("rm -rf '%s'" % self.tmp))

    def write(self, name, text, bump=0):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text)
        if bump:  # a new mtime, whatever the file system's resolution
            st = os.stat(path)
            os.utime(path, (st.st_atime + bump, st.st_mtime + bump))
        return path

    def test_reload_modules(self):
        name = "pyc_mod_%d" % os.getpid()
        path = self.write(name + ".py", "def f():\n    return 1\n")
        with client() as c:
            c.exec("import sys; sys.path.insert(0, %r); import %s; g = %s.f" % (self.tmp, name,
                                                                                name))
            self.assertEqual(c.eval("g()"), 1)
            self.write(name + ".py", "def f():\n    print('new f')\n    return 2\n", bump=2)
            r = c.reload_modules(name)
            self.assertEqual([(m["module"], m["status"], m["file"]) for m in r.reloaded],
                             [(name, "reloaded", path)])
            self.assertEqual(c.eval("g()"), 2)  # patched in place

            self.write(name + ".py", "def f(:\n", bump=4)
            with self.assertRaises(hotload.ReloadFailed) as cm:
                c.reload_modules([name])
            self.assertEqual(cm.exception.modules[0]["status"], "failed")
            self.assertEqual(cm.exception.modules[0]["error"]["type"], "SyntaxError")
            self.assertIsInstance(cm.exception, hotload.RemoteError)
            r = c.reload_modules([name], raise_on_error=False)
            self.assertIsInstance(r.error, hotload.ReloadFailed)
            self.assertEqual(c.eval("g()"), 2)  # the old code stays

            r = c.reload_modules(name, purge=True)
            self.assertEqual(r.reloaded[0]["status"], "purged")
            self.assertFalse(c.eval("%r in __import__('sys').modules" % name))

    def test_watch_reloads_before_the_request(self):
        name = "pyc_watched_%d" % os.getpid()
        self.write(name + ".py", "VALUE = 1\n")
        seen = []
        with client(watch=[self.tmp]) as c:
            c.exec("import sys; sys.path.insert(0, %r); import %s" % (self.tmp, name))
            self.write(name + ".py", "VALUE = 2\n", bump=2)
            deadline = time.monotonic() + 10
            while True:
                r = c.eval_result("%s.VALUE" % name, on_reloaded=seen.append)
                if r.value == 2 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            self.assertEqual(r.value, 2)
            self.assertEqual(r.reloaded[0]["module"], name)
            self.assertEqual(seen, [r.reloaded])
            status = c.status("python:3")["targets"][0]
            self.assertIn(self.tmp, status.get("watch", []))
        # the connection let the directory go
        with hotload.Client(socket=D.sock) as control:
            status = control.status("python:3")["targets"][0]
            self.assertNotIn(self.tmp, status.get("watch", []))


class ControlTest(unittest.TestCase):
    """status, list, ping and the per-target control requests."""

    def test_status_list_ping_shapes(self):
        with client() as c:
            pong = c.ping()
            self.assertEqual(pong["target"], "python:3")
            self.assertIsInstance(pong["pid"], int)
            status = c.status()
            self.assertEqual(status["daemon"]["version"], hotload.__version__)
            self.assertEqual(status["daemon"]["pid"], D.proc.pid)
            target = [t for t in status["targets"] if t["target"] == "python:3"][0]
            self.assertEqual(target["state"], "ok")
            self.assertIn(pong["pid"], [w["pid"] for w in target["workers"]])
            only = c.status("python:3")
            self.assertEqual([t["target"] for t in only["targets"]], ["python:3"])
            hooks = {h["name"]: h for h in c.list()}
            self.assertIn("python", hooks)
            self.assertIn("python3", hooks["python"]["aliases"])
            self.assertTrue(all("version" in i and "path" in i
                                for i in hooks["python"]["installs"]))

    def test_control_only_client_from_the_environment(self):
        old = os.environ.get("HOTLOAD_SOCKET")
        os.environ["HOTLOAD_SOCKET"] = D.sock
        try:
            with hotload.Client() as c:
                self.assertIn("targets", c.status())
                with self.assertRaisesRegex(ValueError, "no target"):
                    c.exec("1")
                with self.assertRaisesRegex(ValueError, "name the targets"):
                    c.restart()
        finally:
            if old is None:
                del os.environ["HOTLOAD_SOCKET"]
            else:
                os.environ["HOTLOAD_SOCKET"] = old

    def test_restart_and_recycle(self):
        with client() as c:
            pid = c.eval("__import__('os').getpid()")
            self.assertEqual([(t["target"], t["ok"]) for t in c.restart()], [("python:3", True)])
            new = c.eval("__import__('os').getpid()")
            self.assertNotEqual(new, pid)
            answers = c.recycle()
            self.assertEqual(answers[0]["recycled"], 1)
            self.assertNotEqual(c.eval("__import__('os').getpid()"), new)
            with self.assertRaises(hotload.Refused) as cm:
                c.start("nosuch")
            self.assertEqual(cm.exception.type, "UnknownTarget")


class ConnectionTest(unittest.TestCase):
    """The context manager, TCP and the token."""

    def connections(self):
        with hotload.Client(socket=D.sock) as control:
            return control.status()["daemon"]["connections"]

    def test_context_manager_closes_the_socket(self):
        with client() as c:
            c.eval("1")
            c.status()
            during = self.connections()  # ours: the target's and the control one
            sock, reader = c._conn.sock, c._conn._reader
        self.assertTrue(c.closed)
        self.assertEqual(sock.fileno(), -1)
        self.assertFalse(reader.is_alive())
        with self.assertRaises(hotload.DaemonUnavailable):
            c.eval("1")
        deadline = time.monotonic() + 5
        while self.connections() > during - 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        self.assertLessEqual(self.connections(), during - 2)

    def test_tcp(self):
        with hotload.Client("python:3", tcp=D.tcp) as c:
            self.assertEqual(c.eval("6 * 7"), 42)
            self.assertEqual(c.address.describe(), "TCP " + D.tcp)

    def test_tcp_token(self):
        d = daemon.Daemon(tcp=True, listen_extra="  token: required\n")
        try:
            with hotload.Client("python:3", tcp=d.tcp, token=d.token()) as c:
                self.assertEqual(c.eval("1 + 1"), 2)
            with hotload.Client("python:3", tcp=d.tcp,
                                token_file=os.path.join(d.dir, "token")) as c:
                self.assertEqual(c.eval("1 + 2"), 3)
            with hotload.Client("python:3", tcp=d.tcp) as c:
                with self.assertRaises(hotload.Refused) as cm:
                    c.eval("1")
                self.assertEqual(cm.exception.type, "PermissionDenied")
            with hotload.Client("python:3", tcp=d.tcp, token="00" * 32) as c:
                with self.assertRaises(hotload.Refused) as cm:
                    c.eval("1")
                self.assertIn("wrong token", cm.exception.message)
            with hotload.Client(socket=d.sock) as c:  # the Unix socket needs none
                self.assertIn("targets", c.status())
        finally:
            d.stop()



class ReaderTest(unittest.TestCase):
    """The reader thread's lines (_Connection._lines), on a socket pair."""

    def setUp(self):
        from hotload import client as client_module
        self.ours, self.theirs = socket.socketpair()
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)
        conn = client_module._Connection.__new__(client_module._Connection)
        conn.sock = self.ours
        self.lines = conn._lines()

    def later(self, data, delay=0.05):
        thread = threading.Thread(target=lambda: (time.sleep(delay), self.theirs.sendall(data)))
        thread.start()
        self.addCleanup(thread.join)

    def test_lines_in_pieces_and_together(self):
        self.theirs.sendall(b'{"id":1}\n{"id":2}\n{"id"')
        self.later(b':3}\n')
        self.assertEqual(next(self.lines), b'{"id":1}\n')
        self.assertEqual(next(self.lines), b'{"id":2}\n')
        self.assertEqual(next(self.lines), b'{"id":3}\n')

    def test_a_line_longer_than_a_read(self):
        line = b'{"data":"%s"}\n' % (b"x" * (3 * (256 << 10) + 7))
        self.later(line + b'{"id":2}\n', 0)
        self.assertEqual(next(self.lines), line)
        self.assertEqual(next(self.lines), b'{"id":2}\n')

    def test_end_of_connection(self):
        self.theirs.sendall(b'{"id":1}\n{"cut')
        self.theirs.shutdown(socket.SHUT_WR)
        self.assertEqual(list(self.lines), [b'{"id":1}\n', b'{"cut'])

    @unittest.skipUnless(os.path.exists("/proc/self/task"), "counts context switches in /proc")
    @unittest.skipUnless(hasattr(threading, "get_native_id"), "Python < 3.8: no thread ids")
    def test_waiting_is_not_woken_when_the_daemon_reads(self):
        # A reader blocked in recv() on a Unix socket is woken whenever its
        # peer reads what this side wrote: once a request, for nothing.
        tids, got = [], []

        def wait_for_a_line():
            tids.append(threading.get_native_id())
            got.append(next(self.lines))

        self.ours.sendall(b'{"id":1,"op":"exec","code":"pass"}\n' * 64)
        thread = threading.Thread(target=wait_for_a_line)
        thread.start()
        self.addCleanup(thread.join)
        while not tids:
            time.sleep(0.01)

        def field(name, what):
            with open("/proc/self/task/%d/%s" % (tids[0], name)) as f:
                text = f.read()
            return what(text)

        deadline = time.monotonic() + 10
        while (field("stat", lambda t: t.rsplit(")", 1)[1].split()[0]) != "S"
               and time.monotonic() < deadline):
            time.sleep(0.01)
        time.sleep(0.1)
        switches = lambda t: int(t.split("voluntary_ctxt_switches:")[1].split()[0])  # noqa: E731
        before = field("status", switches)
        for _ in range(64):  # the daemon reads the requests one by one
            self.assertEqual(len(self.theirs.recv(35)), 35)
            time.sleep(0.001)
        time.sleep(0.05)
        woken = field("status", switches) - before
        self.theirs.sendall(b'{"id":1,"event":"done","ok":true}\n')
        thread.join()
        self.assertEqual(got, [b'{"id":1,"event":"done","ok":true}\n'])
        self.assertEqual(woken, 0, "woken %d times while waiting for the answer" % woken)

if __name__ == "__main__":
    unittest.main()
