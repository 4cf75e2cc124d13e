// Unit tests of the pure modules: the line reader, addresses, cells,
// tracebacks, the stream marker, targets and module names.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { describe, test } from "node:test";

import { cellAt, codeForRange, dedent, findCells, hasCells } from "../src/cells";
import { guessModuleName, modulesOfFileExpr } from "../src/modules";
import { StreamMarker } from "../src/output";
import {
  BadArgument,
  checkSocketDir,
  Connection,
  DaemonUnavailable,
  defaultSocketPath,
  describeAddress,
  Interrupted,
  LineReader,
  parseTcp,
  ProtocolError,
  readToken,
  RemoteException,
  requestFailure,
  resolveAddress,
  Timeout,
  UnsafeSocket,
  WorkerDied,
} from "../src/protocol";
import type { DaemonStatus, HookInfo } from "../src/protocol";
import { resolveTarget, summarizeTarget, targetItems } from "../src/targets";
import { findLocations, frameLocation, innermostFrame, isLocalFile, parseTraceback } from "../src/traceback";

describe("LineReader", () => {
  const collect = () => {
    const lines: string[] = [];
    return { lines, reader: new LineReader((l) => lines.push(l)) };
  };

  test("lines split anywhere, even inside a UTF-8 character, come out whole", () => {
    const { lines, reader } = collect();
    const text = '{"data":"héllo wörld ✓ 😀"}\n{"b":2}\r\n\n{"c":3}\n';
    const bytes = Buffer.from(text);
    for (let i = 0; i < bytes.length; i++) reader.push(bytes.subarray(i, i + 1));
    assert.deepEqual(lines, ['{"data":"héllo wörld ✓ 😀"}', '{"b":2}', "", '{"c":3}']);
    assert.equal(reader.pending, 0);
  });

  test("many lines in one chunk, and a partial last one kept for later", () => {
    const { lines, reader } = collect();
    reader.push(Buffer.from("a\nb\nc"));
    assert.deepEqual(lines, ["a", "b"]);
    assert.equal(reader.pending, 1);
    reader.push(Buffer.from("d\n"));
    assert.deepEqual(lines, ["a", "b", "cd"]);
    reader.push(Buffer.from("tail"));
    assert.equal(reader.end(), "tail");
    assert.equal(reader.end(), undefined);
  });

  test("a 32 MB line in 64 KiB chunks is joined once, in linear time", () => {
    const { lines, reader } = collect();
    const big = Buffer.alloc(32 * 1024 * 1024, 0x61);
    const t0 = Date.now();
    for (let i = 0; i < big.length; i += 65536) reader.push(big.subarray(i, i + 65536));
    reader.push(Buffer.from("\nnext\n"));
    assert.equal(lines.length, 2);
    assert.equal(lines[0].length, big.length);
    assert.equal(lines[1], "next");
    assert.ok(Date.now() - t0 < 5000);
  });

  test("a line over the limit is a ProtocolError", () => {
    const reader = new LineReader(() => undefined, 10);
    assert.throws(() => reader.push(Buffer.from("0123456789ab")), ProtocolError);
    const r2 = new LineReader(() => undefined, 10);
    r2.push(Buffer.from("01234"));
    assert.throws(() => r2.push(Buffer.from("56789abc\n")), ProtocolError);
  });
});

describe("addresses", () => {
  test("the default socket follows XDG_RUNTIME_DIR, root and /tmp/hotload-UID", () => {
    assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: "/run/user/1000" }, 1000), "/run/user/1000/hotload/hotloadd.sock");
    assert.equal(defaultSocketPath({ XDG_RUNTIME_DIR: "" }, 0), "/run/hotload/hotloadd.sock");
    assert.equal(defaultSocketPath({}, 0), "/run/hotload/hotloadd.sock");
    assert.equal(defaultSocketPath({}, 1234), "/tmp/hotload-1234/hotloadd.sock");
  });

  test("precedence: explicit socket or TCP, then HOTLOAD_SOCKET, then HOTLOAD_TCP, then the default", () => {
    const env = { HOTLOAD_SOCKET: "/env.sock", HOTLOAD_TCP: "127.0.0.1:9", XDG_RUNTIME_DIR: "/x" };
    assert.deepEqual(resolveAddress({ socket: "/a.sock", env }), { kind: "unix", path: "/a.sock" });
    assert.deepEqual(resolveAddress({ tcp: ":7800", env }), { kind: "tcp", host: "127.0.0.1", port: 7800 });
    assert.deepEqual(resolveAddress({ env }), { kind: "unix", path: "/env.sock" });
    assert.deepEqual(resolveAddress({ env: { HOTLOAD_TCP: "[::1]:7721", HOTLOAD_SOCKET: "" } }), { kind: "tcp", host: "::1", port: 7721 });
    assert.deepEqual(resolveAddress({ env: { XDG_RUNTIME_DIR: "/x" } }), { kind: "unix", path: "/x/hotload/hotloadd.sock" });
    assert.throws(() => resolveAddress({ socket: "/a", tcp: "b:1" }), BadArgument);
  });

  test("TCP addresses as hotloadctl reads them", () => {
    assert.deepEqual(parseTcp("farm042:7720"), { host: "farm042", port: 7720 });
    assert.deepEqual(parseTcp("farm042"), { host: "farm042", port: 7720 });
    assert.deepEqual(parseTcp("[::1]"), { host: "::1", port: 7720 });
    for (const bad of ["::1:7720", "host:", "host:x", "host:70000", "[::1", "[::1]x"]) assert.throws(() => parseTcp(bad), BadArgument, bad);
    assert.equal(describeAddress({ kind: "tcp", host: "::1", port: 1 }), "TCP [::1]:1");
    assert.equal(describeAddress({ kind: "unix", path: "/s" }), "unix socket /s");
  });

  test("the socket's directory must be ours alone", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "hotload-vscode-unit-"));
    try {
      const ok = path.join(base, "ok");
      fs.mkdirSync(ok, { mode: 0o700 });
      checkSocketDir(path.join(ok, "s.sock"));
      const open = path.join(base, "open");
      fs.mkdirSync(open);
      fs.chmodSync(open, 0o750);
      assert.throws(() => checkSocketDir(path.join(open, "s.sock")), (e: unknown) => e instanceof UnsafeSocket && /mode 0750/.test(e.message));
      const link = path.join(base, "link");
      fs.symlinkSync(ok, link);
      assert.throws(() => checkSocketDir(path.join(link, "s.sock")), (e: unknown) => e instanceof UnsafeSocket && /symbolic link/.test(e.message));
      assert.throws(() => checkSocketDir(path.join(base, "missing", "s.sock")), DaemonUnavailable);
      const uid = typeof process.getuid === "function" ? process.getuid() : 0;
      if (uid !== 0)
        assert.throws(() => checkSocketDir(path.join(ok, "s.sock"), uid + 1), (e: unknown) => e instanceof UnsafeSocket && /owned by uid/.test(e.message));
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });

  test("the token comes from the file given, else HOTLOAD_TOKEN, and must be hex", () => {
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "hotload-vscode-unit-"));
    try {
      const f = path.join(base, "token");
      fs.writeFileSync(f, "00ff\nignored\n");
      assert.equal(readToken(f, { HOTLOAD_TOKEN: "aa" }), "00ff");
      assert.equal(readToken(undefined, { HOTLOAD_TOKEN: "aa" }), "aa");
      assert.equal(readToken(undefined, {}), undefined);
      assert.throws(() => readToken(undefined, { HOTLOAD_TOKEN: "not hex" }), BadArgument);
      assert.throws(() => readToken(path.join(base, "none"), {}), BadArgument);
    } finally {
      fs.rmSync(base, { recursive: true, force: true });
    }
  });
});

describe("errors", () => {
  test("the protocol's error types map to classes, keeping the type", () => {
    const done = (type: string) => ({ id: 1, event: "done" as const, ok: false, error: { type, message: "m" } });
    assert.ok(requestFailure(done("KeyboardInterrupt")) instanceof Interrupted);
    assert.ok(requestFailure(done("Timeout")) instanceof Timeout);
    assert.ok(requestFailure(done("WorkerDied")) instanceof WorkerDied);
    const py = requestFailure(done("ValueError"));
    assert.ok(py instanceof RemoteException);
    assert.equal(py.type, "ValueError");
    const multi = requestFailure({ id: 2, event: "done", ok: false, targets: [{ target: "a:1", ok: true }, { target: "b:2", ok: false, error: { type: "NotInstalled", message: "no b" } }] });
    assert.equal(multi.type, "NotInstalled");
    assert.equal(multi.message, "b:2: no b");
  });
});

describe("cells", () => {
  const file = ["import os", "", "# %% first", "a = 1", "#%%", "b = 2", "  # %% [markdown] Notes", "# prose", "# %%", "c = 3"];

  test("markers, titles, kinds and the text before the first marker", () => {
    assert.deepEqual(findCells(file), [
      { start: 0, end: 1, title: "", kind: "code" },
      { start: 2, end: 3, title: "first", kind: "code" },
      { start: 4, end: 5, title: "", kind: "code" },
      { start: 6, end: 7, title: "Notes", kind: "markdown" },
      { start: 8, end: 9, title: "", kind: "code" },
    ]);
    assert.ok(hasCells(file));
  });

  test("the cell at a line", () => {
    assert.equal(cellAt(file, 3).start, 2);
    assert.equal(cellAt(file, 2).start, 2);
    assert.equal(cellAt(file, 9).start, 8);
    assert.equal(cellAt(file, 0).start, 0);
    const blankPreamble = ["", "# %% x", "y = 1"];
    assert.deepEqual(findCells(blankPreamble), [{ start: 1, end: 2, title: "x", kind: "code" }]);
    assert.equal(cellAt(blankPreamble, 0).start, 1);
  });

  test("a file without markers is one cell", () => {
    assert.deepEqual(findCells(["x = 1", "y = 2"]), [{ start: 0, end: 1, title: "", kind: "code" }]);
    assert.deepEqual(findCells([]), [{ start: 0, end: 0, title: "", kind: "code" }]);
    assert.ok(!hasCells(["x = 1  # %% not at the start"]));
  });

  test("dedent and the padding that keeps line numbers", () => {
    assert.equal(dedent("    a = 1\n\n    if a:\n        b = 2\n"), "a = 1\n\nif a:\n    b = 2\n");
    assert.equal(dedent("\ta\n\t\tb"), "a\n\tb");
    assert.equal(dedent("a\n  b"), "a\n  b");
    assert.equal(codeForRange("  x = 1\r\n  y = 2", 3), "\n\n\nx = 1\ny = 2");
    assert.equal(codeForRange("x", 0), "x");
  });
});

describe("tracebacks", () => {
  const cpython = [
    "Traceback (most recent call last):",
    '  File "/home/me/dev/tool.py", line 12, in <module>',
    "    main()",
    '  File "/home/me/dev/tool.py", line 8, in main',
    "    return helper(0)",
    "           ^^^^^^^^^",
    '  File "/home/me/dev/lib/helper.py", line 3, in helper',
    "    return 10 / n",
    "           ~~~^~~",
    "ZeroDivisionError: division by zero",
    "",
  ].join("\n");

  test("CPython: frames outermost first, code, markers, the exception", () => {
    const tb = parseTraceback(cpython);
    assert.deepEqual(tb.frames.map(frameLocation), ["/home/me/dev/tool.py:12", "/home/me/dev/tool.py:8", "/home/me/dev/lib/helper.py:3"]);
    assert.deepEqual(tb.frames.map((f) => f.name), ["<module>", "main", "helper"]);
    assert.equal(tb.frames[2].code, "return 10 / n");
    assert.deepEqual([tb.frames[2].column, tb.frames[2].endColumn], [7, 13]);
    assert.deepEqual([tb.frames[1].column, tb.frames[1].endColumn], [7, 16]);
    assert.equal(tb.frames[0].column, undefined);
    assert.equal(tb.exception, "ZeroDivisionError: division by zero");
    assert.equal(innermostFrame(tb, (f) => f.file.endsWith("tool.py"))?.line, 8);
  });

  test("a SyntaxError's frame has no function, and its caret gives the column", () => {
    const tb = parseTraceback(
      ['  File "/home/me/dev/mytools/core.py", line 1', "    def run(:", "            ^", "SyntaxError: invalid syntax", ""].join("\n"),
    );
    assert.deepEqual(tb.frames, [{ file: "/home/me/dev/mytools/core.py", line: 1, code: "def run(:", column: 8, endColumn: 9 }]);
    assert.equal(tb.exception, "SyntaxError: invalid syntax");
  });

  test("chained exceptions: every block, the last one raised", () => {
    const tb = parseTraceback(
      [
        "Traceback (most recent call last):",
        '  File "/a.py", line 2, in f',
        "    d['k']",
        "KeyError: 'k'",
        "",
        "During handling of the above exception, another exception occurred:",
        "",
        "Traceback (most recent call last):",
        '  File "/a.py", line 4, in f',
        "    raise ValueError('no k')",
        "ValueError: no k",
      ].join("\n"),
    );
    assert.equal(tb.blocks.length, 2);
    assert.equal(tb.blocks[0].type, "KeyError");
    assert.equal(tb.blocks[1].message, "no k");
    assert.equal(tb.exception, "ValueError: no k");
    assert.equal(innermostFrame(tb, () => true)?.line, 4);
  });

  test("Blender: frames without File, and an add-on's traceback inside a RuntimeError", () => {
    const plain = parseTraceback(['  "/home/me/addons/myaddon/ops.py", line 21, in execute', "    bpy.ops.mesh.foo()", "RuntimeError: bad"].join("\n"));
    assert.deepEqual(plain.frames.map(frameLocation), ["/home/me/addons/myaddon/ops.py:21"]);
    assert.equal(plain.frames[0].name, "execute");
    const nested = parseTraceback(
      [
        "Traceback (most recent call last):",
        '  File "/home/me/scripts/build.py", line 5, in <module>',
        "    bpy.ops.myaddon.run()",
        '  File "/opt/blender/4.1/scripts/modules/bpy/ops.py", line 109, in __call__',
        "    ret = _op_call(self.idname_py(), kw)",
        "RuntimeError: Error: Python: Traceback (most recent call last):",
        '  File "/home/me/addons/myaddon/ops.py", line 30, in execute',
        "    return 1 / 0",
        "ZeroDivisionError: division by zero",
        "",
        "location: <unknown location>:-1",
      ].join("\n"),
    );
    assert.equal(nested.blocks.length, 2);
    assert.equal(nested.blocks[0].type, "RuntimeError");
    assert.deepEqual(nested.frames.map((f) => f.line), [5, 109, 30]);
    assert.equal(nested.exception, "ZeroDivisionError: division by zero");
    assert.equal(innermostFrame(nested, (f) => f.file.startsWith("/home/me/"))?.file, "/home/me/addons/myaddon/ops.py");
  });

  test("<string>, <stdin> and frozen frames are not local files", () => {
    const tb = parseTraceback(
      [
        "Traceback (most recent call last):",
        '  File "<stdin>", line 1, in <module>',
        '  File "<string>", line 3, in <module>',
        '  File "<frozen importlib._bootstrap>", line 1204, in _gcd_import',
        '  File "C:\\Users\\me\\tool.py", line 2, in run',
        "NameError: name 'x' is not defined",
      ].join("\n"),
    );
    assert.deepEqual(tb.frames.map((f) => [f.file, f.line]), [["<stdin>", 1], ["<string>", 3], ["<frozen importlib._bootstrap>", 1204], ["C:\\Users\\me\\tool.py", 2]]);
    assert.deepEqual(tb.frames.map((f) => isLocalFile(f.file)), [false, false, false, true]);
    assert.equal(tb.exception, "NameError: name 'x' is not defined");
  });

  test("locations in output lines, for links", () => {
    assert.deepEqual(findLocations('  File "/home/me/x.py", line 12, in f'), [{ start: 7, end: 31, file: "/home/me/x.py", line: 12 }]);
    assert.deepEqual(findLocations("  /home/me/x.py:12  in f"), [{ start: 2, end: 18, file: "/home/me/x.py", line: 12 }]);
    assert.deepEqual(findLocations('  File "<string>", line 1, in <module>'), []);
    assert.deepEqual(findLocations("ratio 3:4 at http://host:80/x"), []);
  });

  test("text without a traceback has no frames", () => {
    assert.deepEqual(parseTraceback("").frames, []);
    assert.deepEqual(parseTraceback("KeyboardInterrupt\n").frames, []);
    assert.equal(parseTraceback("just words\nmore: words").exception, undefined);
  });
});

describe("StreamMarker", () => {
  test("stderr lines are marked, and a line cut by the other stream is ended first", () => {
    const m = new StreamMarker("! ");
    let out = "";
    out += m.write("stdout", "progress 1");
    out += m.write("stderr", "warn");
    out += m.write("stderr", "ing\nsecond\n");
    out += m.write("stdout", "done\n");
    out += m.write("stderr", "\n");
    out += m.write("stderr", "tail");
    out += m.end();
    assert.equal(out, "progress 1\n! warning\n! second\ndone\n\n! tail\n");
    assert.equal(m.end(), "");
  });

  test("stdout passes unchanged", () => {
    const m = new StreamMarker();
    assert.equal(m.write("stdout", "a\nb") + m.write("stdout", "c\n") + m.end(), "a\nbc\n");
  });
});

describe("targets", () => {
  const hooks: HookInfo[] = [
    { name: "python", aliases: ["python3"], default_version: "3", installs: [{ version: "3.11", path: "/usr/bin/python3.11" }, { version: "3", path: "/usr/bin/python3" }] },
    { name: "hython", aliases: ["houdini"], default_version: null, installs: [{ version: "20.5.332", path: "/opt/hfs20.5.332/bin/hython" }, { version: "20.0.547", path: "/opt/hfs20.0.547/bin/hython" }] },
    { name: "mayapy", aliases: ["maya"], default_version: "2024", installs: [{ version: "2025", path: "/a/2025" }, { version: "2024", path: "/a/2024" }] },
    { name: "blender", aliases: [], installs: [] },
  ];

  test("resolveTarget picks the version the daemon picks", () => {
    assert.equal(resolveTarget(hooks, "python"), "python:3");
    assert.equal(resolveTarget(hooks, "python3:3.11"), "python:3.11");
    assert.equal(resolveTarget(hooks, "houdini"), "hython:20.5.332");
    assert.equal(resolveTarget(hooks, "hython:20.0"), "hython:20.0.547");
    assert.equal(resolveTarget(hooks, "hython:20"), "hython:20.5.332");
    assert.equal(resolveTarget(hooks, "maya"), "mayapy:2024");
    assert.equal(resolveTarget(hooks, "maya:2023"), undefined);
    assert.equal(resolveTarget(hooks, "blender"), undefined);
    assert.equal(resolveTarget(hooks, "nuke"), undefined);
  });

  const status = (workers: string[], extra: object = {}): DaemonStatus => ({
    daemon: { pid: 1, version: "0.1.0" },
    targets: [{ target: "python:3", hook: "python", version: "3", state: "ok", queue: 0, workers: workers.map((s, i) => ({ id: i + 1, state: s, pid: 100 + i })), ...extra }],
  });

  test("summarizeTarget: the busiest worker, or the target's trouble", () => {
    assert.equal(summarizeTarget(status(["idle"]), "python:3").state, "idle");
    assert.equal(summarizeTarget(status(["idle", "busy"]), "python:3").state, "busy");
    assert.equal(summarizeTarget(status(["interrupting"]), "python:3").state, "busy");
    assert.equal(summarizeTarget(status(["starting"]), "python:3").state, "starting");
    assert.equal(summarizeTarget(status([]), "python:3").state, "stopped");
    assert.equal(summarizeTarget(status([]), "mayapy:2024").state, "stopped");
    const failed = summarizeTarget(status([], { state: "failed", failed_reason: "5 crashes in 600 s" }), "python:3");
    assert.equal(failed.state, "failed");
    assert.match(failed.detail, /5 crashes/);
    assert.equal(summarizeTarget(status([], { state: "backoff", backoff_s: 1.2 }), "python:3").state, "backoff");
    assert.match(summarizeTarget(status(["idle", "busy"]), "python:3").detail, /2 workers \(pid 100, 101\)/);
  });

  test("targetItems: a default entry where there is a choice, every install with its workers", () => {
    const items = targetItems(hooks, status(["busy"]));
    assert.deepEqual(items.map((i) => i.target), ["python", "python:3.11", "python:3", "hython", "hython:20.5.332", "hython:20.0.547", "mayapy", "mayapy:2025", "mayapy:2024"]);
    const py3 = items.find((i) => i.target === "python:3")!;
    assert.match(py3.detail, /^busy \(pid 100\) · the default version$/);
    assert.equal(items.find((i) => i.target === "python:3.11")!.detail, "no worker");
    assert.equal(items.find((i) => i.target === "hython")!.description, "default: hython:20.5.332");
  });
});

describe("modules", () => {
  test("a file's module name from the packages around it", () => {
    const pkgs = new Set(["/dev/mytools/mytools", "/dev/mytools/mytools/ui"]);
    const isPkg = (d: string) => pkgs.has(d);
    assert.equal(guessModuleName("/dev/mytools/mytools/ui/panel.py", isPkg), "mytools.ui.panel");
    assert.equal(guessModuleName("/dev/mytools/mytools/__init__.py", isPkg), "mytools");
    assert.equal(guessModuleName("/dev/scripts/run.py", isPkg), "run");
    assert.equal(guessModuleName("/dev/notes.txt", isPkg), undefined);
  });

  test("the lookup expression quotes any path safely", () => {
    const expr = modulesOfFileExpr('/tmp/we"ird\\path/x.py');
    assert.ok(expr.includes('realpath("/tmp/we\\"ird\\\\path/x.py")'));
  });
});

describe("the wire", () => {
  /** What a Connection writes, as a server that answers nothing receives it. */
  async function written(send: (c: Connection) => void, until: (got: Buffer) => boolean): Promise<Buffer> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hotload-wire-"));
    const sock = path.join(dir, "s.sock");
    let got = Buffer.alloc(0);
    let arrived: () => void = () => undefined;
    let failed: (e: Error) => void = () => undefined;
    const enough = new Promise<void>((resolve, reject) => {
      arrived = resolve;
      failed = reject;
    });
    const timer = setTimeout(() => failed(new Error(`after 5 s, only this had come: ${JSON.stringify(got.toString("utf8"))}`)), 5000);
    const server = net.createServer((s) =>
      s.on("data", (d: Buffer) => {
        got = Buffer.concat([got, d]);
        if (until(got)) arrived();
      }),
    );
    await new Promise<void>((resolve) => server.listen(sock, resolve));
    let c: Connection | undefined;
    try {
      c = await Connection.open("python:3", { socket: sock, env: {} });
      send(c);
      await enough;
    } finally {
      c?.close();
      clearTimeout(timer);
      server.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
    return got;
  }

  test("code goes after its line as UTF-8 bytes (code_bytes), not escaped in it", async () => {
    const code = 'print("é→😀")\n{"id":9,"op":"ping"}\n';
    const want = Buffer.from(code, "utf8");
    const header = "python:3 mode=json\n";
    const got = await written(
      (c) => {
        for (const p of [c.exec(code, { file: "x.py" }), c.eval("1 + 1")]) p.catch(() => undefined); // they fail at close
      },
      (b) => b.toString("utf8").endsWith('"code_bytes":5}\n1 + 1'),
    );
    assert.equal(got.subarray(0, header.length).toString(), header);
    let rest = got.subarray(header.length);
    const nl = rest.indexOf(0x0a);
    const first = JSON.parse(rest.subarray(0, nl).toString("utf8"));
    assert.deepEqual(first, { file: "x.py", id: 1, op: "exec", code_bytes: want.length });
    assert.ok(want.length > code.length, "the count is of bytes, not of UTF-16 units");
    rest = rest.subarray(nl + 1);
    assert.deepEqual(rest.subarray(0, want.length), want);
    rest = rest.subarray(want.length);
    const [second, tail] = rest.toString("utf8").split("\n");
    assert.deepEqual(JSON.parse(second), { id: 2, op: "eval", code_bytes: 5 });
    assert.equal(tail, "1 + 1");
  });

  test("code with a lone surrogate is refused unsent; only exec and eval carry code_bytes", async () => {
    let refused: unknown;
    const got = await written(
      (c) => {
        c.exec("s = '\ud800'").catch((e) => (refused = e));
        c.eval("'\udc00' + 'x'").catch((e) => (refused = refused ?? e));
        c.request("ping", { code: "x" }).done.catch(() => undefined);
      },
      (b) => b.toString("utf8").endsWith('"op":"ping"}\n'),
    );
    await new Promise((r) => setImmediate(r));
    assert.ok(refused instanceof BadArgument && /lone surrogate at position 5/.test(refused.message), String(refused));
    assert.equal(got.toString("utf8"), 'python:3 mode=json\n{"code":"x","id":3,"op":"ping"}\n');
  });
});

describe("layering", () => {
  test("the protocol client uses no VS Code API", () => {
    const dir = path.resolve(__dirname, "../../src/protocol");
    const files = fs.readdirSync(dir).filter((f) => f.endsWith(".ts"));
    assert.ok(files.length >= 5);
    for (const f of files) {
      const src = fs.readFileSync(path.join(dir, f), "utf8");
      assert.doesNotMatch(src, /from\s+["']vscode["']|require\(["']vscode["']\)/, f);
    }
    for (const f of ["cells.ts", "traceback.ts", "output.ts", "targets.ts", "modules.ts"]) {
      const src = fs.readFileSync(path.resolve(__dirname, "../../src", f), "utf8");
      assert.doesNotMatch(src, /["']vscode["']/, f);
    }
  });
});
