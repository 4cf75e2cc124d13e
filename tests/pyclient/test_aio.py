"""hotload.aio.Client against the real hotloadd built in the build tree."""
import asyncio
import os
import tempfile
import time
import unittest

import daemon
import hotload
import hotload.aio

D = None


def setUpModule():
    global D
    D = daemon.Daemon()


def tearDownModule():
    D.stop()


def run(coro):
    """asyncio.run, with a deadline so that a hang fails the test."""
    return asyncio.run(asyncio.wait_for(coro, 60))


class AioTest(unittest.TestCase):

    def test_exec_eval_and_errors(self):
        async def main():
            chunks = []
            async with hotload.aio.Client("python:3", socket=D.sock) as c:
                r = await c.exec("import sys\nprint('a', flush=True)\n"
                                 "print('b', file=sys.stderr)", on_stdout=chunks.append)
                self.assertEqual((r.stdout, r.stderr, "".join(chunks)), ("a\n", "b\n", "a\n"))
                self.assertEqual(await c.eval("[6 * 7, None]"), [42, None])
                self.assertEqual((await c.eval_result("{1}")).value, "{1}")
                with self.assertRaises(hotload.RemoteError) as cm:
                    await c.exec("1/0", file="probe.py")
                self.assertIn('File "probe.py", line 1', cm.exception.traceback)
                r = await c.exec("1/0", raise_on_error=False)
                self.assertEqual(r.error.type, "ZeroDivisionError")
                with self.assertRaises(hotload.WorkerDied):
                    await c.exec("import os; os._exit(1)")
                with self.assertRaises(hotload.Timeout):
                    await c.exec("import time; time.sleep(30)", timeout=0.3)
                self.assertEqual((await c.ping())["target"], "python:3")
            self.assertTrue(c.closed)
            with self.assertRaises(hotload.DaemonUnavailable):
                await c.eval("1")
        run(main())

    def test_tasks_share_one_client(self):
        async def main():
            async with hotload.aio.Client("python:3", socket=D.sock) as c:
                values = await asyncio.gather(*[c.eval("%d + 1" % n) for n in range(6)])
                self.assertEqual(values, [n + 1 for n in range(6)])
        run(main())

    def test_interrupt_from_another_task_and_by_cancelling(self):
        async def main():
            async with hotload.aio.Client("python:3", socket=D.sock) as c:
                pid = await c.eval("__import__('os').getpid()")
                task = asyncio.ensure_future(c.exec("import time; time.sleep(30)"))
                await asyncio.sleep(0.5)
                self.assertEqual(await c.interrupt(), 1)
                with self.assertRaises(hotload.Interrupted):
                    await task
                # cancelling the awaiting task interrupts the request too
                task = asyncio.ensure_future(c.exec("import time; time.sleep(30)"))
                await asyncio.sleep(0.5)
                task.cancel()
                with self.assertRaises(asyncio.CancelledError):
                    await task
                start = time.monotonic()
                self.assertEqual(await c.eval("__import__('os').getpid()"), pid)
                self.assertLess(time.monotonic() - start, 5)
        run(main())

    def test_control_and_refusals(self):
        async def main():
            c = await hotload.aio.connect(socket=D.sock)
            try:
                status = await c.status()
                self.assertEqual(status["daemon"]["version"], hotload.__version__)
                self.assertIn("python", [h["name"] for h in await c.list()])
                with self.assertRaises(hotload.Refused):
                    await c.restart("nosuch")
            finally:
                await c.close()
            async with hotload.aio.Client("nosuch", socket=D.sock) as bad:
                with self.assertRaises(hotload.Refused) as cm:
                    await bad.exec("1")
                self.assertEqual(cm.exception.type, "UnknownTarget")
            tmp = tempfile.mkdtemp(prefix="hl-py-none-")
            try:
                with self.assertRaises(hotload.DaemonUnavailable) as cm:
                    await hotload.aio.connect("python:3", socket=os.path.join(tmp, "x.sock"))
                self.assertIn("hotloadctl start", str(cm.exception))
            finally:
                os.rmdir(tmp)
        run(main())

    def test_reload_modules(self):
        async def main():
            tmp = os.path.realpath(tempfile.mkdtemp(prefix="hl-py-amods-"))
            name = "pyc_amod_%d" % os.getpid()
            path = os.path.join(tmp, name + ".py")
            with open(path, "w") as f:
                f.write("X = 1\n")
            try:
                async with hotload.aio.Client("python:3", socket=D.sock) as c:
                    await c.exec("import sys; sys.path.insert(0, %r); import %s" % (tmp, name))
                    with open(path, "w") as f:
                        f.write("X = 2\n")
                    st = os.stat(path)
                    os.utime(path, (st.st_atime + 2, st.st_mtime + 2))
                    r = await c.reload_modules(name)
                    self.assertEqual(r.reloaded[0]["status"], "reloaded")
                    self.assertEqual(await c.eval(name + ".X"), 2)
            finally:
                os.unlink(path)
                os.rmdir(tmp)
        run(main())


if __name__ == "__main__":
    unittest.main()
