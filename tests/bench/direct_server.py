"""The "direct" baseline for bench.py: one Python process, one hop.

A minimal exec server in the manner of the original DCC Hotload Server: it
accepts connections on a Unix socket, one at a time, runs the code it is sent
in its own interpreter with stdout/stderr captured, and answers. It speaks the
same client protocol as hotloadd (a header line, then raw or JSON mode) so
that bench.py measures both with the same client code; the header's target
is read and ignored.

Usage: python3 direct_server.py SOCKET_PATH
Standard library only. Not a test; not part of hotload.
"""
import contextlib
import io
import json
import os
import socket
import sys
import traceback

MAIN_NS = {"__name__": "__main__"}


def run(code, filename):
    """Exec code in the shared namespace; return (stdout, stderr, error dict or None)."""
    out, err = io.StringIO(), io.StringIO()
    error = None
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(code, filename, "exec"), MAIN_NS)
        except BaseException as exc:  # the code's error is its reply
            error = {"type": type(exc).__name__, "message": str(exc),
                     "traceback": traceback.format_exc()}
    return out.getvalue(), err.getvalue(), error


def serve_raw(conn, rest):
    """Raw mode: the payload runs until EOF; reply in the original format, close."""
    chunks = [rest]
    while True:
        data = conn.recv(65536)
        if not data:
            break
        chunks.append(data)
    code = b"".join(chunks).decode("utf-8", "replace")
    out, err, error = run(code, "<direct>")
    if error:
        err += error["traceback"]
    reply = []
    if out:
        reply.append("OUTPUT: \n" + out)
    if err:
        reply.append("ERRORS: \n" + err)
    if not reply:
        reply.append("Script executed (no output).")
    conn.sendall("".join(reply).encode("utf-8", "replace"))


def serve_json(conn, rest):
    """JSON mode: one request per line, events back, until the client closes."""
    reader = conn.makefile("rb")
    pending = rest
    while True:
        cut = pending.find(b"\n") + 1
        if cut:
            line, pending = pending[:cut], pending[cut:]
        else:
            line, pending = pending + reader.readline(), b""
        if not line:
            return
        if not line.strip():
            continue
        req = json.loads(line)
        rid = req.get("id")
        if "code_bytes" in req:  # the code follows the line, as bytes
            n = req["code_bytes"]
            data, pending = pending[:n], pending[n:]
            if len(data) < n:
                data += reader.read(n - len(data))
            req["code"] = data.decode("utf-8")
        out, err, error = run(req.get("code", ""), req.get("file") or "<direct>")
        msgs = []
        if out:
            msgs.append({"id": rid, "event": "stdout", "data": out})
        if err:
            msgs.append({"id": rid, "event": "stderr", "data": err})
        done = {"id": rid, "event": "done", "ok": error is None}
        if error:
            done["error"] = error
        msgs.append(done)
        conn.sendall("".join(json.dumps(m, ensure_ascii=False, separators=(",", ":")) + "\n"
                             for m in msgs).encode("utf-8"))


def handle(conn):
    """Read the header line, then serve the connection in its mode."""
    buf = b""
    while b"\n" not in buf:
        data = conn.recv(4096)
        if not data:
            return
        buf += data
    header, _, rest = buf.partition(b"\n")
    if b"mode=json" in header.split():
        serve_json(conn, rest)
    else:
        serve_raw(conn, rest)


def main():
    """Listen on the given path and serve connections one after another."""
    path = sys.argv[1]
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(128)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    while True:
        conn, _ = srv.accept()
        with conn:
            try:
                handle(conn)
            except (OSError, ValueError) as exc:
                sys.__stderr__.write("direct_server: %s\n" % exc)


if __name__ == "__main__":
    main()
