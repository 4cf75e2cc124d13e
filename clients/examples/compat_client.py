#!/usr/bin/env python3
"""The original project's client, unchanged in spirit: connect to a compat
TCP port, send the script, read the reply until the server closes.

No header and no half-close: hotloadd maps each compat port (hotloadd.yaml)
to a fixed DCC and version, so clients written for the original server keep
working against it.

    compat_client.py --port 5000 myscript.py

Standard library only; Python 3.7+.
"""
import argparse
import socket
import sys


def send_script(code, host="127.0.0.1", port=5000, timeout=None):
    """Send code (str or bytes) and return the reply text."""
    if isinstance(code, str):
        code = code.encode("utf-8")
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(code)
        chunks = []
        while True:
            data = sock.recv(65536)
            if not data:
                break
            chunks.append(data)
    return b"".join(chunks).decode("utf-8", "replace")


def main(argv=None):
    """Command line: send one script to a compat port and print the reply."""
    parser = argparse.ArgumentParser(
        description="Send a script to a hotloadd compat port (no header) and print the reply.")
    parser.add_argument("script", nargs="?", default="-",
                        help="script file to send, '-' for stdin (default)")
    parser.add_argument("-c", "--code", help="send this code instead of a script file")
    parser.add_argument("--host", default="127.0.0.1", help="default: %(default)s")
    parser.add_argument("--port", type=int, default=5000, help="default: %(default)s")
    parser.add_argument("--timeout", type=float, default=None,
                        help="give up after this many seconds (default: wait)")
    args = parser.parse_args(argv)

    if args.code is not None:
        code = args.code
    elif args.script == "-":
        code = sys.stdin.buffer.read()
    else:
        try:
            with open(args.script, "rb") as f:
                code = f.read()
        except OSError as e:
            parser.error("cannot read %s: %s" % (args.script, e.strerror))
    try:
        reply = send_script(code, args.host, args.port, args.timeout)
    except OSError as e:
        print("%s: cannot talk to %s:%d: %s" % (parser.prog, args.host, args.port,
                                                e.strerror or e), file=sys.stderr)
        return 3
    sys.stdout.write(reply)
    if reply and not reply.endswith("\n"):
        sys.stdout.write("\n")
    return 1 if reply.startswith("ERRORS: \n") or "\nERRORS: \n" in reply else 0


if __name__ == "__main__":
    sys.exit(main())
