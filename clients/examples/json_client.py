#!/usr/bin/env python3
"""A small reusable client for hotloadd's JSON mode, and a command line.

One connection, many requests in sequence; output streams back while the
code runs:

    from json_client import HotloadClient

    with HotloadClient("python:3") as hl:
        r = hl.exec("import sys; print(sys.version)", on_stdout=print_now)
        print(hl.eval("1 + 1").value)         # '2'
        r = hl.exec("1/0")
        if not r.ok:
            print(r.error["traceback"])

Command line: run each -c CODE, -e EXPR and FILE in order on one connection.

    json_client.py python:3 -c 'x = 20' -e 'x * 2' tools/report.py

Standard library only; Python 3.7+.
"""
import argparse
import json
import sys

from hotload_socket import add_connection_args, connect


class HotloadRefused(Exception):
    """The daemon refused the connection: unknown target, not installed..."""

    def __init__(self, error):
        self.type = error.get("type", "Error")
        self.message = error.get("message", "")
        super().__init__("%s: %s" % (self.type, self.message))


class Result:
    """The outcome of one request: its "done" event plus the output."""

    def __init__(self, done, stdout, stderr):
        self.done = done
        self.ok = bool(done.get("ok"))
        self.value = done.get("value")          # eval: repr of the value
        self.error = done.get("error")          # dict: type, message, traceback
        self.duration_ms = done.get("duration_ms")
        self.stdout = stdout
        self.stderr = stderr

    def __repr__(self):
        return "Result(ok=%r, value=%r, error=%r)" % (self.ok, self.value, self.error)


class HotloadClient:
    """A JSON-mode connection to one target ("dcc[:version]")."""

    def __init__(self, target, socket_path=None, tcp=None, timeout=None):
        self.target = target
        self._sock = connect(socket_path, tcp, timeout)
        self._lines = self._sock.makefile("rb")
        self._next_id = 1
        self._send_line(target + " mode=json")

    def _send_line(self, text):
        try:
            self._sock.sendall(text.encode("utf-8") + b"\n")
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused: the reason waits to be read as an "error" event

    def request(self, op, on_stdout=None, on_stderr=None, **fields):
        """Send one request and wait for its "done"; stdout/stderr data is
        passed to the callbacks as it arrives and also kept in the Result."""
        rid = self._next_id
        self._next_id += 1
        fields.update(id=rid, op=op)
        self._send_line(json.dumps(fields))
        out, err = [], []
        while True:
            line = self._lines.readline()
            if not line:
                raise ConnectionError("hotloadd closed the connection before request %d "
                                      "finished" % rid)
            event = json.loads(line)
            kind = event.get("event")
            if kind == "error" and event.get("id") in (None, rid):
                raise HotloadRefused(event.get("error") or {})
            if event.get("id") != rid:
                continue
            if kind == "stdout":
                out.append(event["data"])
                if on_stdout:
                    on_stdout(event["data"])
            elif kind == "stderr":
                err.append(event["data"])
                if on_stderr:
                    on_stderr(event["data"])
            elif kind == "done":
                return Result(event, "".join(out), "".join(err))

    def exec(self, code, file="<string>", fresh=False, **callbacks):
        """Run code; file is the name tracebacks show."""
        fields = {"code": code, "file": file}
        if fresh:
            fields["ns"] = "fresh"
        return self.request("exec", **dict(callbacks, **fields))

    def eval(self, expr, **callbacks):
        """Evaluate an expression; Result.value is its repr."""
        return self.request("eval", code=expr, **callbacks)

    def ping(self):
        """Check that a worker answers."""
        return self.request("ping")

    def close(self):
        self._lines.close()
        self._sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _stream(f):
    """A callback that writes to f at once."""
    def write(data):
        f.write(data)
        f.flush()
    return write


def main(argv=None):
    """Command line: run the steps in order, streaming output."""
    parser = argparse.ArgumentParser(
        description="Run code in hotloadd over one JSON-mode connection, in order.")
    parser.add_argument("target", help="DCC[:VERSION], e.g. python:3 or mayapy:2024")
    parser.add_argument("-c", dest="steps", action="append", metavar="CODE",
                        type=lambda s: ("exec", s), help="run CODE (repeatable)")
    parser.add_argument("-e", dest="steps", action="append", metavar="EXPR",
                        type=lambda s: ("eval", s), help="evaluate EXPR and print it (repeatable)")
    parser.add_argument("files", nargs="*", metavar="FILE",
                        help="script files to run after the -c/-e steps; stdin if no steps")
    parser.add_argument("--fresh", action="store_true",
                        help="run each exec in a fresh namespace")
    add_connection_args(parser)
    args = parser.parse_intermixed_args(argv)

    steps = list(args.steps or [])
    for path in args.files:
        try:
            with open(path, encoding="utf-8") as f:
                steps.append(("exec", f.read(), path))
        except (OSError, UnicodeDecodeError) as e:
            parser.error("cannot read %s: %s" % (path, e))
    if not steps:
        steps.append(("exec", sys.stdin.read(), "<stdin>"))

    status = 0
    try:
        with HotloadClient(args.target, args.socket, args.tcp) as hl:
            for step in steps:
                stream = dict(on_stdout=_stream(sys.stdout), on_stderr=_stream(sys.stderr))
                if step[0] == "eval":
                    r = hl.eval(step[1], **stream)
                else:
                    name = step[2] if len(step) > 2 else "<string>"
                    r = hl.exec(step[1], file=name, fresh=args.fresh, **stream)
                if r.ok and r.value is not None:
                    print(r.value)
                elif not r.ok:
                    e = r.error or {}
                    sys.stderr.write(e.get("traceback") or
                                     "%s: %s\n" % (e.get("type"), e.get("message")))
                    status = 1
    except HotloadRefused as e:
        print("%s: %s" % (parser.prog, e), file=sys.stderr)
        return 4
    except OSError as e:
        print("%s: %s" % (parser.prog, e.strerror or e), file=sys.stderr)
        return 3
    return status


if __name__ == "__main__":
    sys.exit(main())
