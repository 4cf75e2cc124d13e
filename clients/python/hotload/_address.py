"""Where hotloadd listens, found the way hotloadctl finds it.

The order is hotloadctl's (clients/hotloadctl.c, docs/hotloadctl.md):
``socket=`` or ``tcp=``, then ``$HOTLOAD_SOCKET``, then ``$HOTLOAD_TCP``,
then the default socket of this user. A Unix socket is only connected to
when its directory is this user's own (0700, not a symbolic link), so that
code never goes to a listener somebody else put there.
"""
import errno
import os
import re
import socket
import stat
import sys

from typing import Mapping, Optional

from ._errors import DaemonUnavailable

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7720

# How to get a daemon when none answers; the wording of hotloadctl.
START_HINT = ("is hotloadd running? Start it with 'hotloadctl start', or point "
              "socket= or tcp= (or $HOTLOAD_SOCKET, $HOTLOAD_TCP) at it")

_HEX = re.compile(r"\A[0-9A-Fa-f]{1,128}\Z")


def default_socket_path(environ: Optional[Mapping[str, str]] = None) -> str:
    """The Unix socket a daemon of this user listens on by default:
    ``$XDG_RUNTIME_DIR/hotload/hotloadd.sock``, else
    ``/run/hotload/hotloadd.sock`` for root and
    ``/tmp/hotload-UID/hotloadd.sock`` for anybody else."""
    env = os.environ if environ is None else environ
    runtime = env.get("XDG_RUNTIME_DIR")
    if runtime:
        return runtime + "/hotload/hotloadd.sock"
    if os.geteuid() == 0:
        return "/run/hotload/hotloadd.sock"
    return "/tmp/hotload-%d/hotloadd.sock" % os.geteuid()


def parse_tcp(spec):
    """``host:port``, ``[v6]:port``, ``host`` or ``:port`` -> (host, port).

    The host defaults to 127.0.0.1 and the port to 7720, as in hotloadctl.
    Raises ValueError for anything else (a bare IPv6 address needs
    brackets)."""
    bad = ValueError("bad TCP address %r: expected HOST:PORT" % (spec,))
    if spec.startswith("["):
        host, sep, rest = spec[1:].partition("]")
        if not sep or (rest and not rest.startswith(":")):
            raise bad
        port = rest[1:] if rest else None
    else:
        host, sep, port = spec.rpartition(":")
        if not sep:
            host, port = spec, None
        elif ":" in host:
            raise bad
    if port == "":
        raise bad
    if port is None:
        port = DEFAULT_PORT
    elif port.isdigit():
        port = int(port, 10)
    # else a service name, which getaddrinfo looks up as hotloadctl's does
    return host or DEFAULT_HOST, port


class Address:
    """Where one client connects: a Unix socket path, or a TCP address, and
    the token to show over TCP."""

    def __init__(self, socket_path=None, tcp=None, token=None):
        self.socket_path = socket_path
        self.tcp = tcp
        self.token = token

    def describe(self):
        """"unix socket PATH" or "TCP HOST:PORT", as hotloadctl says it."""
        if self.socket_path is not None:
            return "unix socket %s" % self.socket_path
        return "TCP %s" % self.tcp

    def __repr__(self):
        return "<hotload address: %s>" % self.describe()


def _read_token_file(path):
    """The first line of a token file."""
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            line = f.readline()
    except OSError as e:
        raise ValueError("cannot read the token file %s: %s" % (path, e.strerror or e)) from None
    token = line.strip("\r\n")
    if not token:
        raise ValueError("the token file %s is empty" % path)
    return token


def resolve(socket_path=None, tcp=None, token=None, token_file=None, environ=None):
    """Pick the address as hotloadctl does; see the module's docstring.

    The token is ``token=``, else the first line of ``token_file=``, else
    ``$HOTLOAD_TOKEN``. It is only shown over TCP, and never read from the
    daemon's own token file: whoever listens on the port would receive it."""
    env = os.environ if environ is None else environ
    if socket_path is not None and tcp is not None:
        raise ValueError("give socket or tcp, not both")
    if socket_path is not None or tcp is not None:
        if not (socket_path if socket_path is not None else tcp):
            raise ValueError("empty socket or tcp")
    elif env.get("HOTLOAD_SOCKET"):
        socket_path = env["HOTLOAD_SOCKET"]
    elif env.get("HOTLOAD_TCP"):
        tcp = env["HOTLOAD_TCP"]
    else:
        socket_path = default_socket_path(env)
    if socket_path is not None:
        socket_path = os.fspath(socket_path)
    if tcp is not None:
        parse_tcp(tcp)  # a bad address is the caller's mistake: say so now
    if token is None and token_file is not None:
        token = _read_token_file(os.fspath(token_file))
    if token is None and env.get("HOTLOAD_TOKEN"):
        token = env["HOTLOAD_TOKEN"]
    if token is not None and not _HEX.match(token):
        raise ValueError("the token must be 1 to 128 hexadecimal digits "
                         "(the daemon's token file holds it)")
    return Address(socket_path, tcp, token)


def _describe_uid(uid):
    try:
        import pwd
        return "uid %d (%s)" % (uid, pwd.getpwuid(uid).pw_name)
    except (ImportError, KeyError):
        return "uid %d" % uid


def check_socket_dir(path):
    """None when the socket's directory may be used, else why not.

    The checks of hotloadctl (lib/pathsafe.c): the directory is
    not a symbolic link, is a directory, belongs to us, and has no
    permission for group or others. Root may use another user's directory,
    as long as it is 0700. A directory that does not exist raises
    FileNotFoundError."""
    directory = os.path.dirname(path) or "."
    st = os.lstat(directory)
    uid = os.geteuid()
    if uid == 0 and stat.S_ISDIR(st.st_mode):
        uid = st.st_uid
    if stat.S_ISLNK(st.st_mode):
        return ("%s is a symbolic link (owned by %s); refusing to use it as the runtime "
                "directory: remove it" % (directory, _describe_uid(st.st_uid)))
    if not stat.S_ISDIR(st.st_mode):
        return "%s is not a directory; refusing to use it as the runtime directory" % directory
    if st.st_uid != uid:
        return ("%s is owned by %s, not by %s; refusing to use it as the runtime directory: "
                "somebody else made it (remove it, or set XDG_RUNTIME_DIR)"
                % (directory, _describe_uid(st.st_uid), _describe_uid(uid)))
    if st.st_mode & 0o077:
        return ("%s has mode %04o; the runtime directory must be 0700 (chmod 700 %s)"
                % (directory, stat.S_IMODE(st.st_mode), directory))
    return None


def no_sigpipe(sock):
    """macOS has no MSG_NOSIGNAL: ask the socket not to raise SIGPIPE. A
    DCC that embeds Python may leave SIGPIPE at its default (death)."""
    if sys.platform == "darwin":
        try:
            sock.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_NOSIGPIPE", 0x1022), 1)
        except OSError:
            pass


def unreachable(address, exc):
    """The message for a connection to address that failed with exc."""
    if isinstance(exc, socket.gaierror):
        return "cannot resolve %s: %s" % (address.tcp, exc.strerror or exc)
    return "cannot connect to hotloadd on %s: %s; %s" % (address.describe(),
                                                          exc.strerror or exc, START_HINT)


def check_address(address):
    """Before connecting to a Unix socket: DaemonUnavailable when its
    directory is missing or may not be used (check_socket_dir)."""
    if address.socket_path is None:
        return
    try:
        why = check_socket_dir(address.socket_path)
    except OSError as e:
        raise DaemonUnavailable(unreachable(address, e), address) from None
    if why:
        raise DaemonUnavailable("not connecting to %s: %s" % (address.describe(), why), address)


def connect(address, timeout):
    """A connected, blocking socket (``timeout`` bounds the connect only),
    or DaemonUnavailable saying where and why, and how to start the daemon
    when nothing answers."""
    check_address(address)
    try:
        if address.socket_path is not None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.settimeout(timeout)
                sock.connect(address.socket_path)
            except OSError:
                sock.close()
                raise
        else:
            sock = socket.create_connection(parse_tcp(address.tcp), timeout=timeout)
    except OSError as e:
        raise DaemonUnavailable(unreachable(address, e), address) from None
    sock.settimeout(None)
    no_sigpipe(sock)
    return sock
