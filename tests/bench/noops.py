"""No-ops for instructions.sh: N requests that run "pass", in JSON mode on
one connection or in raw mode with a connection each, checked but not
timed. The server is hotloadd, or relay.c in front of direct_server.py.

Usage: python3 noops.py SOCKET_PATH TARGET json|raw N
Standard library only. Not a test; not part of hotload.
"""
import json
import socket
import sys


def json_noops(path, target, n):
    s = socket.socket(socket.AF_UNIX)
    s.connect(path)
    s.sendall(b"%s mode=json\n" % target.encode())
    r = s.makefile("rb")
    for i in range(1, n + 1):
        s.sendall(b'{"id":%d,"op":"exec","code":"pass"}\n' % i)
        while True:
            line = r.readline()
            if not line:
                raise SystemExit("noops: the server closed the connection")
            ev = json.loads(line)
            if ev.get("event") == "done":
                break
        if not ev.get("ok") or ev.get("id") != i:
            raise SystemExit("noops: request %d: %s" % (i, ev))
    s.close()


def raw_noops(path, target, n):
    for _ in range(n):
        s = socket.socket(socket.AF_UNIX)
        s.connect(path)
        s.sendall(b"%s\npass" % target.encode())
        s.shutdown(socket.SHUT_WR)
        reply = b""
        while True:
            data = s.recv(65536)
            if not data:
                break
            reply += data
        s.close()
        if reply != b"Script executed (no output).":
            raise SystemExit("noops: raw reply: %r" % reply[:300])


def main():
    if len(sys.argv) != 5 or sys.argv[3] not in ("json", "raw"):
        raise SystemExit("usage: noops.py SOCKET_PATH TARGET json|raw N")
    path, target, mode, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    (json_noops if mode == "json" else raw_noops)(path, target, n)


if __name__ == "__main__":
    main()
