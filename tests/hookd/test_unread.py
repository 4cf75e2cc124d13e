"""The agent's "drained" in a done: it says so only when the daemon has read
everything written to fd 1 and 2 (hotload_agent.UnreadOutput)."""
import os
import socket
import sys
import tempfile
import unittest

from harness import AGENT_DIR, Agent, python_argv

sys.path.insert(0, os.path.abspath(AGENT_DIR))
import hotload_agent  # noqa: E402  (after the path it is found on)

LINUX = sys.platform.startswith("linux")


@unittest.skipUnless(LINUX, "the unread byte counts asked are Linux's")
class UnreadOutputTest(unittest.TestCase):
    def probe(self, *fds):
        unread = hotload_agent.UnreadOutput(fds)
        self.addCleanup(unread.close)
        return unread

    def test_socket(self):
        ours, theirs = socket.socketpair()
        self.addCleanup(ours.close)
        self.addCleanup(theirs.close)
        unread = self.probe(ours.fileno())
        self.assertTrue(unread.all_read())
        ours.sendall(b"0123456789")
        self.assertFalse(unread.all_read())
        theirs.recv(4)
        self.assertFalse(unread.all_read(), "6 bytes are still unread")
        theirs.recv(6)
        self.assertTrue(unread.all_read())

    def test_pipe(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        self.addCleanup(os.close, w)
        unread = self.probe(w)
        self.assertTrue(unread.all_read())
        os.write(w, b"abc")
        self.assertFalse(unread.all_read())
        os.read(r, 3)
        self.assertTrue(unread.all_read())

    def test_both_must_be_read(self):
        r1, w1 = os.pipe()
        r2, w2 = os.pipe()
        for fd in (r1, w1, r2, w2):
            self.addCleanup(os.close, fd)
        unread = self.probe(w1, w2)
        os.write(w2, b"err")
        self.assertFalse(unread.all_read())
        os.read(r2, 3)
        self.assertTrue(unread.all_read())

    def test_a_file_never_counts_as_read(self):
        with tempfile.TemporaryFile() as f:
            unread = self.probe(f.fileno())
            self.assertFalse(unread.all_read())
            self.assertEqual(unread.probes, [])

    def test_it_asks_its_own_duplicates(self):
        r, w = os.pipe()
        self.addCleanup(os.close, r)
        unread = self.probe(w)
        os.write(w, b"x")
        os.close(w)  # the fd it was made from, gone: the pipe is still asked
        self.assertFalse(unread.all_read())
        os.read(r, 1)
        self.assertTrue(unread.all_read())


@unittest.skipUnless(LINUX, "the agent says drained on Linux only")
class DrainedTest(unittest.TestCase):
    """Through the real agent, its stdout and stderr on pipes as the harness
    (and, with sockets, hotloadd) gives them."""

    def setUp(self):
        self.agent = Agent(python_argv())
        self.addCleanup(self.agent.close)
        self.agent.ready()

    def test_drained_when_all_output_was_read(self):
        done = self.agent.request("exec", code="pass")
        self.assertTrue(done["ok"], done)
        self.assertIs(done.get("drained"), True)

    def test_not_drained_while_output_waits(self):
        for code in ("print('waiting')", "import os\nos.write(2, b'native')",
                     "import ctypes\nctypes.CDLL(None).printf(b'from C')"):
            done = self.agent.request("exec", code=code)
            self.assertTrue(done["ok"], done)
            self.assertNotIn("drained", done, code)
            self.agent.drain()
        self.assertEqual(self.agent.out["stdout"], b"waiting\nfrom C")
        self.assertEqual(self.agent.out["stderr"], b"native")
        self.assertIs(self.agent.request("exec", code="pass").get("drained"), True)

    def test_fd_1_pointed_elsewhere_does_not_hide_what_waits(self):
        done = self.agent.request("exec", code="print('unread')")
        self.assertNotIn("drained", done)
        # fd 1 becomes a socket nothing was written to; the daemon's pipe
        # still holds "unread"
        done = self.agent.request("exec", code="import os, socket\n"
                                                "kept = socket.socketpair()\n"
                                                "os.dup2(kept[0].fileno(), 1)\n")
        self.assertTrue(done["ok"], done)
        self.assertNotIn("drained", done)
        self.agent.drain()
        self.assertEqual(self.agent.out["stdout"], b"unread\n")
        self.assertIs(self.agent.request("exec", code="pass").get("drained"), True)

    def test_every_done_and_only_a_done(self):
        self.assertIs(self.agent.request("ping").get("drained"), True)
        agent = Agent(python_argv())
        self.addCleanup(agent.close)
        self.assertNotIn("drained", agent.ready())

if __name__ == "__main__":
    unittest.main()
