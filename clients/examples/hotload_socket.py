"""Where hotloadd listens, and how to connect to it (standard library only).

Shared by the example clients in this directory. Python 3.7+.
"""
import os
import socket

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7720


def default_socket_path():
    """The Unix socket a daemon of this user listens on by default."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "hotload", "hotloadd.sock")
    if os.geteuid() == 0:
        return "/run/hotload/hotloadd.sock"
    return "/tmp/hotload-%d/hotloadd.sock" % os.geteuid()


def parse_tcp(spec, default_port=DEFAULT_PORT):
    """'host:port', '[v6]:port', 'host' or ':port' -> (host, port)."""
    if spec.startswith("["):
        host, _, rest = spec[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    elif spec.count(":") == 1:
        host, _, port = spec.partition(":")
    else:
        host, port = spec, ""
    return host or DEFAULT_HOST, int(port) if port else default_port


def connect(socket_path=None, tcp=None, timeout=None):
    """Connect to tcp ('host:port') if given, else to the Unix socket
    socket_path (default: $HOTLOAD_SOCKET, $HOTLOAD_TCP, then the default
    socket). Raises OSError with the address in the message."""
    if not socket_path and not tcp:
        socket_path = os.environ.get("HOTLOAD_SOCKET") or None
        tcp = None if socket_path else os.environ.get("HOTLOAD_TCP") or None
    try:
        if tcp:
            return socket.create_connection(parse_tcp(tcp), timeout=timeout)
        path = socket_path or default_socket_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(path)
        except OSError:
            sock.close()
            raise
        return sock
    except OSError as e:
        where = "TCP %s" % tcp if tcp else "unix socket %s" % path
        raise OSError(e.errno, "cannot connect to hotloadd on %s: %s (is hotloadd running?)"
                      % (where, e.strerror or e)) from None


def add_connection_args(parser):
    """Add --socket and --tcp to an argparse parser."""
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--socket", metavar="PATH",
                       help="hotloadd's Unix socket (default: $HOTLOAD_SOCKET or %s)"
                       % default_socket_path())
    group.add_argument("--tcp", metavar="HOST:PORT",
                       help="connect over TCP instead (default port %d; or $HOTLOAD_TCP)"
                       % DEFAULT_PORT)
