"""The library inside a real DCC: a Blender worker whose code imports
hotload and drives the python:3 target of the same daemon.

Blender is part of the test environment (scripts/install-deps.sh --test):
a missing one fails this test rather than skipping it."""
import os
import unittest

import daemon
import hotload

BLENDER_CODE = r"""
import json, os, sys, threading
sys.path.insert(0, {library!r})
import bpy
import hotload

out = []
with hotload.Client("python:3", socket={sock!r}) as inner:
    r = inner.exec("import os, sys\nprint(sys.version_info[0], flush=True)\n"
                   "print('from python', file=sys.stderr)", on_stdout=out.append)
    value = inner.eval("6 * 7")
    try:
        inner.exec("1/0", file="inner.py")
    except hotload.RemoteError as e:
        error = [e.type, 'File "inner.py", line 1' in e.traceback]
    # an interrupt from a thread of the Blender worker
    timer = threading.Timer(0.3, inner.interrupt)
    timer.start()
    try:
        inner.exec("import time; time.sleep(30)")
    except hotload.Interrupted:
        interrupted = True
    timer.join()
    inner_pid = inner.ping()["pid"]
result = {{"blender": bpy.app.version_string, "stdout": r.stdout, "stderr": r.stderr,
          "streamed": out, "value": value, "error": error, "interrupted": interrupted,
          "pid": os.getpid(), "inner_pid": inner_pid, "library": hotload.__file__}}
print("drove python:3 from Blender")
"""


@unittest.skipUnless(daemon.BLENDER or os.environ.get("HOTLOAD_REQUIRE_BLENDER"), "")
class BlenderTest(unittest.TestCase):

    def test_blender_worker_drives_another_target(self):
        self.assertTrue(daemon.BLENDER, "Blender is not installed: apt-get install -y "
                        "--no-install-recommends blender")
        d = daemon.Daemon()
        try:
            # No timeout=: CTest's bounds the test. (A request with a deadline
            # still delays the daemon's exit until that deadline has passed.)
            with hotload.Client("blender", socket=d.sock) as c:
                code = BLENDER_CODE.format(library=daemon.LIBRARY_DIR, sock=d.sock)
                r = c.exec(code, file="drive.py")
                self.assertEqual(r.stdout, "drove python:3 from Blender\n")
                got = c.eval("result")
                self.assertEqual(got["blender"], c.eval("bpy.app.version_string"))
                self.assertEqual(got["stdout"], "3\n")
                self.assertEqual("".join(got["streamed"]), "3\n")
                self.assertEqual(got["stderr"], "from python\n")
                self.assertEqual(got["value"], 42)
                self.assertEqual(got["error"], ["ZeroDivisionError", True])
                self.assertTrue(got["interrupted"])
                self.assertNotEqual(got["pid"], got["inner_pid"])
                self.assertTrue(got["library"].startswith(daemon.LIBRARY_DIR))
                status = {t["target"]: t for t in c.status()["targets"]}
                self.assertIn("python:3", status)
                self.assertTrue(any(name.startswith("blender:") for name in status))
        finally:
            d.stop()


if __name__ == "__main__":
    unittest.main()
