"""Where the client connects, and what its header says, without a daemon:
the rules of hotloadctl (docs/hotloadctl.md, "Where it connects")."""
import os
import socket
import tempfile
import unittest
from unittest import mock

import daemon  # noqa: F401  (puts the library on sys.path)
import hotload
from hotload import _address, _protocol


class ResolveTest(unittest.TestCase):
    """resolve(): arguments, then $HOTLOAD_SOCKET, $HOTLOAD_TCP, the default."""

    def test_arguments_come_first(self):
        env = {"HOTLOAD_SOCKET": "/env/sock", "HOTLOAD_TCP": "h:1"}
        a = _address.resolve(socket_path="/arg/sock", environ=env)
        self.assertEqual((a.socket_path, a.tcp), ("/arg/sock", None))
        a = _address.resolve(tcp="127.0.0.1:9", environ=env)
        self.assertEqual((a.socket_path, a.tcp), (None, "127.0.0.1:9"))

    def test_both_or_empty_arguments_are_mistakes(self):
        with self.assertRaisesRegex(ValueError, "not both"):
            _address.resolve(socket_path="/s", tcp="h:1", environ={})
        with self.assertRaisesRegex(ValueError, "empty"):
            _address.resolve(socket_path="", environ={})

    def test_environment_socket_then_tcp(self):
        a = _address.resolve(environ={"HOTLOAD_SOCKET": "/env/sock", "HOTLOAD_TCP": "h:1"})
        self.assertEqual((a.socket_path, a.tcp), ("/env/sock", None))
        a = _address.resolve(environ={"HOTLOAD_SOCKET": "", "HOTLOAD_TCP": "h:1"})
        self.assertEqual((a.socket_path, a.tcp), (None, "h:1"))
        self.assertEqual(a.describe(), "TCP h:1")

    def test_default_socket(self):
        env = {"XDG_RUNTIME_DIR": "/run/user/1000"}
        self.assertEqual(_address.resolve(environ=env).socket_path,
                         "/run/user/1000/hotload/hotloadd.sock")
        with mock.patch("os.geteuid", return_value=0):
            self.assertEqual(_address.default_socket_path({"XDG_RUNTIME_DIR": ""}),
                             "/run/hotload/hotloadd.sock")
        with mock.patch("os.geteuid", return_value=1234):
            self.assertEqual(_address.default_socket_path({}),
                             "/tmp/hotload-1234/hotloadd.sock")
        self.assertEqual(hotload.default_socket_path(env), "/run/user/1000/hotload/hotloadd.sock")

    def test_tcp_addresses(self):
        cases = {"127.0.0.1:7720": ("127.0.0.1", 7720), "farm042:7721": ("farm042", 7721),
                 "localhost": ("localhost", 7720), ":7001": ("127.0.0.1", 7001),
                 "[::1]:7720": ("::1", 7720), "[::1]": ("::1", 7720)}
        for spec, want in cases.items():
            with self.subTest(spec=spec):
                self.assertEqual(_address.parse_tcp(spec), want)
        for bad in ("::1", "host:", "[::1", "[::1]x"):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                _address.parse_tcp(bad)
        with self.assertRaises(ValueError):
            _address.resolve(tcp="host:", environ={})


class TokenTest(unittest.TestCase):
    """A token only when told (never the daemon's own file), only over TCP."""

    def test_argument_then_file_then_environment(self):
        with tempfile.NamedTemporaryFile("w", suffix=".token") as f:
            f.write("beef\n")
            f.flush()
            env = {"HOTLOAD_TOKEN": "cafe"}
            self.assertEqual(_address.resolve(tcp="h:1", token="abcd", token_file=f.name,
                                              environ=env).token, "abcd")
            self.assertEqual(_address.resolve(tcp="h:1", token_file=f.name,
                                              environ=env).token, "beef")
            self.assertEqual(_address.resolve(tcp="h:1", environ=env).token, "cafe")
        self.assertIsNone(_address.resolve(tcp="h:1", environ={}).token)

    def test_bad_tokens(self):
        with self.assertRaisesRegex(ValueError, "hexadecimal"):
            _address.resolve(tcp="h:1", token="not hex", environ={})
        with self.assertRaisesRegex(ValueError, "cannot read the token file"):
            _address.resolve(tcp="h:1", token_file="/nonexistent/token", environ={})
        with tempfile.NamedTemporaryFile("w") as f:
            with self.assertRaisesRegex(ValueError, "is empty"):
                _address.resolve(tcp="h:1", token_file=f.name, environ={})

    def test_token_only_in_a_tcp_header(self):
        tcp = _address.resolve(tcp="h:1", token="abcd", environ={})
        unix = _address.resolve(socket_path="/s", token="abcd", environ={})
        self.assertEqual(_protocol.header("python:3", tcp), b"python:3 mode=json token=abcd\n")
        self.assertEqual(_protocol.header("python:3", unix), b"python:3 mode=json\n")


class HeaderTest(unittest.TestCase):
    """Targets and watch directories are checked before anything is sent."""

    def test_targets(self):
        for good in ("python", "python:3", "mayapy:2024", "hython:20.5.332", "blender:3.4"):
            _protocol.check_target(good)
        for bad in ("", "python 3", "python:3 mode=raw", "a:b:c", "x" * 64, "python:",
                    "hotload", None):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                _protocol.check_target(bad)

    def test_watch(self):
        a = _address.resolve(socket_path="/s", environ={})
        self.assertEqual(_protocol.header("python:3", a, ["/w/a", "/w/b"]),
                         b"python:3 mode=json watch=/w/a watch=/w/b\n")
        self.assertEqual(_protocol.header("python:3", a, "/w/a"),
                         b"python:3 mode=json watch=/w/a\n")
        for bad in (["relative"], ["/with space"], ["/a", "/b", "/c", "/d", "/e"],
                    ["/" + "x" * 1100]):
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                _protocol.header("python:3", a, bad)


class SocketDirTest(unittest.TestCase):
    """The socket's directory must be ours and 0700, as hotloadctl checks."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="hl-py-dir-")
        self.addCleanup(lambda: os.system("rm -rf '%s'" % self.dir))

    def client(self, path):
        with self.assertRaises(hotload.DaemonUnavailable) as cm:
            hotload.Client("python:3", socket=path)
        return str(cm.exception)

    def test_open_directory_is_refused(self):
        os.chmod(self.dir, 0o755)
        msg = self.client(os.path.join(self.dir, "hotloadd.sock"))
        self.assertIn("not connecting to unix socket", msg)
        self.assertIn("has mode 0755; the runtime directory must be 0700", msg)

    def test_symlink_is_refused(self):
        link = self.dir + "-link"
        os.symlink(self.dir, link)
        self.addCleanup(os.unlink, link)
        msg = self.client(os.path.join(link, "hotloadd.sock"))
        self.assertIn("is a symbolic link", msg)

    def test_other_owner_is_refused(self):
        st = os.lstat(self.dir)
        with mock.patch("os.geteuid", return_value=st.st_uid + 1):
            msg = self.client(os.path.join(self.dir, "hotloadd.sock"))
        self.assertIn("is owned by uid %d" % st.st_uid, msg)
        self.assertIn("somebody else made it", msg)

    def test_missing_socket_says_how_to_start(self):
        path = os.path.join(self.dir, "hotloadd.sock")
        msg = self.client(path)
        self.assertIn("cannot connect to hotloadd on unix socket %s" % path, msg)
        self.assertIn("hotloadctl start", msg)
        msg = self.client(os.path.join(self.dir, "missing", "hotloadd.sock"))
        self.assertIn("No such file or directory", msg)

    def test_listener_in_a_safe_directory_is_used(self):
        path = os.path.join(self.dir, "hotloadd.sock")
        with socket.socket(socket.AF_UNIX) as srv:
            srv.bind(path)
            srv.listen(1)
            sock = _address.connect(_address.resolve(socket_path=path, environ={}), 1)
            sock.close()


if __name__ == "__main__":
    unittest.main()
