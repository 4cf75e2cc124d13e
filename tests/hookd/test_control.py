"""The agent's reader of the control socket (hotload_agent.Control), alone."""
import copy
import linecache
import os
import pickle
import signal
import socket
import sys
import threading
import time
import types
import unittest
from unittest import mock

from harness import AGENT_DIR

sys.path.insert(0, os.path.abspath(AGENT_DIR))
import hotload_agent  # noqa: E402  (after the path it is found on)


def interrupt(req_id):
    return b'{"op":"interrupt","id":%d}\n' % req_id


class ControlTest(unittest.TestCase):
    def setUp(self):
        self.ours, self.theirs = socket.socketpair()
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)
        # Blocking, as the agent's is (a timeout would make Python wait
        # before every read, MSG_DONTWAIT or not); a read that would block
        # for ever fails the test instead.
        signal.signal(signal.SIGALRM, self.timed_out)
        signal.alarm(20)
        self.addCleanup(signal.alarm, 0)
        self.control = hotload_agent.Control(self.ours)

    def timed_out(self, signum, frame):
        raise AssertionError("the reader blocked for 20 s")

    def later(self, data, delay=0.05):
        """Send data from another thread after delay seconds."""
        thread = threading.Thread(target=lambda: (time.sleep(delay), self.theirs.sendall(data)))
        thread.start()
        self.addCleanup(thread.join)

    def test_lines_sent_together_come_one_at_a_time(self):
        self.theirs.sendall(b'{"id":1}\n{"id":2}\n{"id":3}\n')
        self.assertEqual(self.control.readline(), b'{"id":1}\n')
        self.assertEqual(self.control.readline(), b'{"id":2}\n')
        self.assertEqual(self.control.readline(), b'{"id":3}\n')

    def test_a_line_in_pieces_is_one_line(self):
        self.theirs.sendall(b'{"op":')
        self.later(b'"exec"')
        self.later(b',"id":7}\n{"id"', 0.1)
        self.assertEqual(self.control.readline(), b'{"op":"exec","id":7}\n')
        self.later(b":8}\n")
        self.assertEqual(self.control.readline(), b'{"id":8}\n')

    def test_a_line_longer_than_a_read(self):
        line = b'{"code":"%s"}\n' % (b"x" * (3 * hotload_agent.CONTROL_READ + 5))
        self.later(line + b'{"id":2}\n', 0)
        self.assertEqual(self.control.readline(), line)
        self.assertEqual(self.control.readline(), b'{"id":2}\n')

    def test_eof(self):
        self.theirs.sendall(b'{"id":1}\n{"id"')
        self.theirs.shutdown(socket.SHUT_WR)
        self.assertEqual(self.control.readline(), b'{"id":1}\n')
        self.assertEqual(self.control.readline(), b'{"id"')  # the last line, cut short
        self.assertEqual(self.control.readline(), b"")
        self.assertEqual(self.control.readline(), b"")

    def test_payload_after_its_line(self):
        code = "print('é')\n" * 20000
        data = code.encode("utf-8")
        self.later(b'{"id":1,"code_bytes":%d}\n' % len(data) + data + b'{"id":2}\n', 0)
        self.assertEqual(self.control.readline(), b'{"id":1,"code_bytes":%d}\n' % len(data))
        self.assertEqual(bytes(self.control.read_payload(len(data))), data)
        self.assertEqual(self.control.readline(), b'{"id":2}\n')

    def test_payload_read_ahead_while_looking_for_an_interrupt(self):
        # the payload's bytes, split into "lines" by the search: all kept, in order
        data = b"a = 1\nb = 2\nc = 3"
        self.theirs.sendall(data + b'{"id":2}\n')
        time.sleep(0.05)
        self.assertFalse(self.control.interrupted(1))
        self.assertEqual(bytes(self.control.read_payload(len(data))), data)
        self.assertEqual(self.control.readline(), b'{"id":2}\n')

    def test_payload_cut_short(self):
        self.theirs.sendall(b"12345")
        self.theirs.shutdown(socket.SHUT_WR)
        self.assertIsNone(self.control.read_payload(10))

    def test_interrupted_does_not_wait(self):
        start = time.monotonic()
        self.assertFalse(self.control.interrupted(1))
        self.assertLess(time.monotonic() - start, 5)

    def test_interrupted_finds_its_request_and_keeps_the_rest(self):
        self.theirs.sendall(interrupt(1) + b'{"op":"exec","id":2}\n' + interrupt(2) + b'{"op"')
        time.sleep(0.05)
        self.assertTrue(self.control.interrupted(2))
        self.assertEqual(self.control.readline(), interrupt(1))
        self.assertEqual(self.control.readline(), b'{"op":"exec","id":2}\n')
        self.later(b':"ping","id":3}\n')
        self.assertEqual(self.control.readline(), b'{"op":"ping","id":3}\n')
        self.assertFalse(self.control.interrupted(2))

    def test_wait_ack_keeps_other_lines(self):
        ack = b'{"op":"reloaded-ack","id":4}\n'
        self.theirs.sendall(interrupt(3) + b'{"op":"ping","id":5}\n')
        self.later(ack + b'{"id":6}\n')
        self.assertTrue(self.control.wait_ack(4))
        self.assertEqual(self.control.readline(), interrupt(3))
        self.assertEqual(self.control.readline(), b'{"op":"ping","id":5}\n')
        self.assertEqual(self.control.readline(), b'{"id":6}\n')

    def test_wait_ack_at_eof(self):
        self.theirs.sendall(b'{"id":6}\n')
        self.theirs.shutdown(socket.SHUT_WR)
        self.assertFalse(self.control.wait_ack(4))
        self.assertEqual(self.control.readline(), b'{"id":6}\n')

    @unittest.skipUnless(sys.platform.startswith("linux"), "counts context switches in /proc")
    @unittest.skipUnless(hasattr(threading, "get_native_id"), "Python < 3.8: no thread ids")
    def test_waiting_is_not_woken_when_the_peer_reads(self):
        # A reader blocked in recv() on a Unix socket is woken whenever its
        # peer reads what it wrote; the worker's wait for the next request
        # must not be, or every request costs a wake-up more.
        tids = []

        def wait_for_a_line():
            tids.append(threading.get_native_id())
            self.ours.sendall(b'{"event":"done"}\n' * 64)
            self.assertEqual(self.control.readline(), b'{"id":9}\n')

        thread = threading.Thread(target=wait_for_a_line)
        thread.start()
        self.addCleanup(thread.join)
        while not tids:
            time.sleep(0.01)
        status = "/proc/self/task/%d/status" % tids[0]

        def switches():
            with open(status) as f:
                for line in f:
                    if line.startswith("voluntary_ctxt_switches:"):
                        return int(line.split()[1])
            raise AssertionError("no voluntary_ctxt_switches in " + status)

        def state():
            with open("/proc/self/task/%d/stat" % tids[0]) as f:
                return f.read().rsplit(")", 1)[1].split()[0]

        deadline = time.monotonic() + 10
        while state() != "S" and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.1)  # asleep in its wait for the line
        before = switches()
        for _ in range(64):  # the peer reads the replies one by one
            self.assertEqual(len(self.theirs.recv(17)), 17)
            time.sleep(0.001)
        time.sleep(0.05)
        woken = switches() - before
        self.theirs.sendall(b'{"id":9}\n')
        thread.join()
        self.assertEqual(woken, 0, "woken %d times while waiting for a request" % woken)


class SendDoneTest(unittest.TestCase):
    """send_done's formatted line for a plain done is the encoder's."""

    def setUp(self):
        self.ours, self.theirs = socket.socketpair()
        self.addCleanup(self.ours.close)
        self.addCleanup(self.theirs.close)
        self.reader = self.theirs.makefile("rb")
        self.addCleanup(self.reader.close)

    def sent(self, req_id, reply):
        hotload_agent.send_done(self.ours, req_id, reply)
        return self.reader.readline()

    def encoded(self, req_id, reply):
        msg = dict({"id": req_id, "event": "done"}, **reply)
        return (hotload_agent.ENCODER.encode(msg) + "\n").encode("utf-8")

    def test_plain_done_is_what_the_encoder_gives(self):
        for req_id in (0, 7, 2**63 - 1):
            self.assertEqual(self.sent(req_id, {"ok": True}),
                             self.encoded(req_id, {"ok": True}))

    def test_other_replies_go_through_the_encoder(self):
        for req_id, reply in ((True, {"ok": True}), (None, {"ok": True}), (3, {"ok": 1}),
                              (3, {"ok": False}), (3, {"ok": True, "value": "'\u00e9'"})):
            self.assertEqual(self.sent(req_id, reply), self.encoded(req_id, reply))
        self.assertEqual(self.sent(True, {"ok": True}), b'{"id":true,"event":"done","ok":true}\n')
        self.assertEqual(self.sent(3, {"ok": 1}), b'{"id":3,"event":"done","ok":1}\n')


class SourceEntryTest(unittest.TestCase):
    """A request's code in linecache is split into lines only when they are
    read, and is then the entry linecache would have made."""

    def setUp(self):
        self.name = "<hotload-test-%d>" % id(self)
        self.addCleanup(linecache.cache.pop, self.name, None)
        # longer than hotload_agent.SPLIT_AT_ONCE, under which the lines
        # are made at once
        self.code = "a = 1\r\nb = 2\n\n# " + "-" * 300 + "\nc = 3"

    def test_lines_when_read(self):
        hotload_agent.remember_source(self.name, self.code)
        entry = linecache.cache[self.name]
        self.assertEqual(len(entry), 4)
        other = self.name + "-other"
        self.addCleanup(linecache.cache.pop, other, None)
        hotload_agent.remember_source(other, self.code)
        linecache.checkcache(other)  # another file's entry, unpacked
        self.assertIsNone(entry.whole)  # not split yet
        self.assertIsNotNone(linecache.cache[other].whole)
        self.assertEqual(linecache.getline(self.name, 2), "b = 2\n")
        self.assertEqual(linecache.getlines(self.name), self.code.splitlines(True))
        self.assertEqual(len(linecache.getlines(self.name)), 5)
        self.assertEqual(tuple(entry), (len(self.code), None, self.code.splitlines(True),
                                        self.name))
        self.assertEqual(entry[2:], (self.code.splitlines(True), self.name))
        size, mtime, lines, name = entry
        self.assertEqual((size, mtime, name), (len(self.code), None, self.name))

    def test_kept_by_checkcache(self):
        hotload_agent.remember_source(self.name, self.code)
        linecache.checkcache()
        self.assertIs(type(linecache.cache[self.name]), hotload_agent.SourceEntry)
        self.assertEqual(linecache.getline(self.name, 5), "c = 3")

    def test_short_source_split_at_once(self):
        hotload_agent.remember_source(self.name, "a = 1\nb = 2\n")
        self.assertEqual(linecache.cache[self.name], (12, None, ["a = 1\n", "b = 2\n"], self.name))
        self.assertIs(type(linecache.cache[self.name]), tuple)

    def test_the_plain_entry_everywhere(self):
        """Compared, copied, pickled or shown, it is the entry linecache made."""
        plain = (len(self.code), None, self.code.splitlines(True), self.name)
        for made in (lambda e: e, copy.copy, copy.deepcopy,
                     lambda e: pickle.loads(pickle.dumps(e))):
            entry = hotload_agent.SourceEntry(self.code, self.name)
            self.assertEqual(made(entry), plain)
        entry = hotload_agent.SourceEntry(self.code, self.name)
        self.assertEqual(repr(entry), repr(plain))
        self.assertIn(plain[2], entry)
        self.assertEqual(entry.index(self.name), 3)
        self.assertEqual(entry.count(None), 1)
        self.assertFalse(entry != plain)

    def test_made_while_another_reader_makes_it(self):
        """A reader that finds the lines not made, and then another thread
        makes them all before it goes on, gets them too. The other thread is
        played, at that very point, by a trace function."""
        entry = hotload_agent.SourceEntry(self.code, self.name)
        other = []

        def in_entry(frame, event, arg):
            if event == "line" and not other and frame.f_locals.get("whole", 0) is None:
                other.append(entry.entry())
            return in_entry

        def tracer(frame, event, arg):
            if frame.f_code is hotload_agent.SourceEntry.entry.__code__:
                return in_entry
            return None

        sys.settrace(tracer)
        try:
            lines = entry[2]
        finally:
            sys.settrace(None)
        self.assertEqual(len(other), 1)
        self.assertEqual(lines, self.code.splitlines(True))


@unittest.skipUnless(os.path.exists("/proc/thread-self"), "Linux's /proc/thread-self")
class MainThreadIdTest(unittest.TestCase):
    """The thread id the agent reports where threading.get_native_id is
    missing (Python before 3.8) is the calling thread's, as that gives."""

    def test_read_from_proc_without_get_native_id(self):
        got = {}

        def other():
            got["other"] = hotload_agent.main_thread_id()
            got["native"] = getattr(threading, "get_native_id", lambda: None)()

        # the agent's threading without get_native_id; threading itself
        # needs it to start a thread
        with mock.patch.object(hotload_agent, "threading", types.SimpleNamespace()):
            thread = threading.Thread(target=other)
            thread.start()
            thread.join()
            mine = hotload_agent.main_thread_id()
        self.assertEqual(mine, os.getpid())
        self.assertNotEqual(got["other"], os.getpid())
        self.assertGreater(got["other"], 0)
        if got["native"] is not None:
            self.assertEqual(got["other"], got["native"])


if __name__ == "__main__":
    unittest.main()
