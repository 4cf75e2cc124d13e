"""A small Debug Adapter Protocol client for the tests: it runs a debug
adapter (hotloadctl debug) as a DAP client does, frames messages with
Content-Length headers, and sorts what comes back into responses and events.
"""
import json
import queue
import subprocess
import threading
import time


class DapError(AssertionError):
    pass


class DapClient:
    def __init__(self, argv, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.seq = 0
        self.messages = queue.Queue()
        self.events = []  # every event seen, in order
        self.stderr = b""
        threading.Thread(target=self._read, daemon=True).start()
        self._stderr_reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._stderr_reader.start()

    def _read(self):
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    self.messages.put(None)
                    return
                if line in (b"\r\n", b"\n"):
                    break
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            self.messages.put(json.loads(out.read(length)))

    def _read_stderr(self):
        self.stderr = self.proc.stderr.read()

    def send(self, command, arguments=None):
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command,
                           "arguments": arguments or {}}).encode()
        self.proc.stdin.write(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self.proc.stdin.flush()
        return self.seq

    def _next(self, deadline):
        left = deadline - time.monotonic()
        if left <= 0:
            raise DapError("no answer in time; events so far: %s" % [
                e.get("event") for e in self.events])
        try:
            m = self.messages.get(timeout=left)
        except queue.Empty:
            raise DapError("no answer in time; events so far: %s" % [
                e.get("event") for e in self.events])
        if m is None:
            self.messages.put(None)  # stays at the end
            raise DapError("the adapter closed its output (exit %s): %s"
                           % (self.proc.poll(), self.stderr.decode(errors="replace")))
        if m.get("type") == "event":
            self.events.append(m)
        return m

    def request(self, command, arguments=None, timeout=30, ok=True):
        """Send a request and wait for its response; with ok, it must succeed."""
        seq = self.send(command, arguments)
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m.get("type") == "response" and m.get("request_seq") == seq:
                if ok and not m.get("success"):
                    raise DapError("%s failed: %s" % (command, m.get("message")))
                return m

    def wait_event(self, name, timeout=30):
        """The next event called name (seen already, or coming)."""
        for i, e in enumerate(self.events):
            if e.get("event") == name and not e.get("_taken"):
                e["_taken"] = True
                return e
        deadline = time.monotonic() + timeout
        while True:
            m = self._next(deadline)
            if m.get("type") == "event" and m.get("event") == name:
                m["_taken"] = True
                return m

    def attach(self, breakpoints=None):
        """initialize, attach, breakpoints ({path: [line, ...]}), configurationDone,
        as VS Code does it; returns the setBreakpoints answers by path."""
        self.request("initialize", {"clientID": "hotload-tests", "adapterID": "hotload",
                                    "linesStartAt1": True, "columnsStartAt1": True,
                                    "pathFormat": "path"})
        self.request("attach", {"justMyCode": True})
        answers = {}
        for path, lines in (breakpoints or {}).items():
            answers[path] = self.request("setBreakpoints", {
                "source": {"path": path},
                "breakpoints": [{"line": n} for n in lines]})["body"]["breakpoints"]
        self.request("configurationDone")
        return answers

    def variables_of_top_frame(self, thread_id):
        """(top frame, {name: value}) of the frame the thread stopped in."""
        frames = self.request("stackTrace", {"threadId": thread_id})["body"]["stackFrames"]
        scopes = self.request("scopes", {"frameId": frames[0]["id"]})["body"]["scopes"]
        ref = scopes[0]["variablesReference"]  # Locals
        variables = self.request("variables", {"variablesReference": ref})["body"]["variables"]
        return frames[0], {v["name"]: v["value"] for v in variables}

    def close(self, timeout=20):
        """disconnect as an editor does, then end our side; the adapter's exit status."""
        if self.proc.poll() is None:
            try:
                self.request("disconnect", {"terminateDebuggee": False}, timeout=10)
            except (DapError, OSError):
                pass
            try:
                self.proc.stdin.close()
            except OSError:
                pass
        try:
            status = self.proc.wait(timeout)
            self._stderr_reader.join(timeout)
            return status
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise DapError("the adapter did not exit within %s s of the end" % timeout)
