#!/usr/bin/env python3
"""Send a Python script to hotloadd in raw mode and print the reply.

Raw mode is the original project's protocol plus one header line:
"<dcc>[:<version>] [file=NAME] [ns=fresh]\\n", then the script, then the
client half-closes (shutdown(SHUT_WR)) and reads the reply until the daemon
closes: "OUTPUT: \\n" + stdout, "ERRORS: \\n" + stderr and traceback, or
"Script executed (no output).".

    raw_client.py python:3 myscript.py
    echo 'print(1)' | raw_client.py python:3 -

send_to_maya.py and send_to_houdini.py are this with a default target.
Standard library only; Python 3.7+.
"""
import argparse
import os
import socket
import sys

from hotload_socket import add_connection_args, connect


def header_file_name(path):
    """The name to show in tracebacks, if the header can carry it."""
    name = os.path.basename(path)
    if not name or len(name.encode("utf-8", "replace")) > 255:
        return None
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in name):
        return None
    return name


def send_raw(target, code, file=None, fresh=False, socket_path=None, tcp=None, timeout=None):
    """Run code (str or bytes) on target; return the reply text."""
    header = target
    if file:
        header += " file=" + file
    if fresh:
        header += " ns=fresh"
    if isinstance(code, str):
        code = code.encode("utf-8")
    sock = connect(socket_path, tcp, timeout)
    with sock:
        try:
            sock.sendall(header.encode("utf-8") + b"\n" + code)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the daemon refused the header; its reason is in the reply
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def main(default_target=None, argv=None):
    """Command line: parse, send, print; exit 1 when the reply has errors."""
    parser = argparse.ArgumentParser(
        description="Send a Python script to hotloadd (raw mode) and print the reply.")
    if default_target:
        parser.add_argument("--target", default=default_target,
                            help="DCC[:VERSION] to run in (default: %(default)s)")
    else:
        parser.add_argument("target", help="DCC[:VERSION] to run in, e.g. python:3")
    parser.add_argument("script", nargs="?", default="-",
                        help="script file to send, '-' for stdin (default)")
    parser.add_argument("-c", "--code", help="send this code instead of a script file")
    parser.add_argument("--fresh", action="store_true",
                        help="run in a fresh namespace instead of the shared __main__")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up after this many seconds (default: wait)")
    add_connection_args(parser)
    args = parser.parse_args(argv)

    if args.code is not None:
        code, file = args.code, None
    elif args.script == "-":
        code, file = sys.stdin.buffer.read(), None
    else:
        try:
            with open(args.script, "rb") as f:
                code = f.read()
        except OSError as e:
            parser.error("cannot read %s: %s" % (args.script, e.strerror))
        file = header_file_name(args.script)
    try:
        reply = send_raw(args.target, code, file=file, fresh=args.fresh,
                         socket_path=args.socket, tcp=args.tcp, timeout=args.timeout)
    except OSError as e:
        print("%s: %s" % (parser.prog, e.strerror or e), file=sys.stderr)
        return 3
    sys.stdout.write(reply)
    if reply and not reply.endswith("\n"):
        sys.stdout.write("\n")
    return 1 if reply.startswith("ERRORS: \n") or "\nERRORS: \n" in reply else 0


if __name__ == "__main__":
    sys.exit(main())
