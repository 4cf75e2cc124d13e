// The protocol client against the real hotloadd (built-in python:3 target,
// real python3 workers): what the extension relies on, end to end.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { codeForRange } from "../src/cells";
import { modulesOfFileExpr } from "../src/modules";
import {
  Connection,
  ConnectionRefused,
  ControlClient,
  DaemonUnavailable,
  Interrupted,
  ReloadFailed,
  RemoteException,
  RequestFailed,
  Timeout,
  UnsafeSocket,
} from "../src/protocol";
import { resolveTarget, summarizeTarget, targetItems } from "../src/targets";
import { innermostFrame, isLocalFile, parseTraceback } from "../src/traceback";
import { TestDaemon } from "./daemon";

const TARGET = "python:3";

let daemon: TestDaemon;
let conn: Connection;

function opts() {
  return { socket: daemon.socket, env: {} };
}

/** Rewrite a file so that its modification time surely differs from the last one. */
function rewrite(file: string, text: string, bump: number): void {
  fs.writeFileSync(file, text);
  const t = new Date(Date.now() + bump * 2000);
  fs.utimesSync(file, t, t);
}

before(async () => {
  daemon = await TestDaemon.start();
  conn = await Connection.open(TARGET, opts());
});

after(async () => {
  conn?.close();
  await daemon?.stop();
});

describe("exec and eval", () => {
  test("stdout and stderr stream as printed, each in order", async () => {
    const events: [string, string, number][] = [];
    const code = [
      "import sys, time",
      "for i in range(3):",
      "    print('out', i, flush=True)",
      "    print('err', i, file=sys.stderr, flush=True)",
      "print('first', flush=True)",
      "time.sleep(0.6)",
      "print('last')",
    ].join("\n");
    const r = await conn.exec(code, {}, {
      onStdout: (d) => events.push(["stdout", d, Date.now()]),
      onStderr: (d) => events.push(["stderr", d, Date.now()]),
    });
    const doneAt = Date.now();
    assert.equal(r.stdout, "out 0\nout 1\nout 2\nfirst\nlast\n");
    assert.equal(r.stderr, "err 0\nerr 1\nerr 2\n");
    assert.equal(events.filter((e) => e[0] === "stdout").map((e) => e[1]).join(""), r.stdout);
    const first = events.find((e) => e[1].includes("first"));
    assert.ok(first, "the output before the sleep came as an event");
    assert.ok(doneAt - first[2] >= 400, `'first' arrived ${doneAt - first[2]} ms before done: not streamed`);
    assert.equal(typeof r.durationMs, "number");
  });

  test("eval answers the value, as repr and as JSON; the namespace persists", async () => {
    await conn.exec("x = 6");
    const r = await conn.eval("x * 7");
    assert.equal(r.value, "42");
    assert.equal(r.json, 42);
    assert.equal(r.hasJson, true);
    const d = await conn.eval("{'a': [1, 2], 'b': None}");
    assert.deepEqual(d.json, { a: [1, 2], b: null });
    const big = await conn.eval("2 ** 64");
    assert.equal(big.value, "18446744073709551616");
    assert.equal(big.hasJson, false);
    const fresh = await conn.exec("print('x' in dir())", { ns: "fresh" });
    assert.equal(fresh.stdout, "False\n");
  });

  test("a remote exception is a typed error with its traceback", async () => {
    await assert.rejects(conn.exec("def f():\n    return 1/0\nf()", { file: "probe.py" }), (e: unknown) => {
      assert.ok(e instanceof RemoteException && e instanceof RequestFailed);
      assert.equal(e.type, "ZeroDivisionError");
      assert.equal(e.message, "division by zero");
      assert.match(e.traceback ?? "", /File "probe.py", line 2, in f/);
      const tb = parseTraceback(e.traceback ?? "");
      assert.deepEqual(tb.frames.map((f) => [f.file, f.line, f.name]), [["probe.py", 3, "<module>"], ["probe.py", 2, "f"]]);
      assert.equal(tb.exception, "ZeroDivisionError: division by zero");
      return true;
    });
    await assert.rejects(conn.exec("def broken(:\n  pass"), (e: unknown) => {
      assert.ok(e instanceof RemoteException);
      assert.equal(e.type, "SyntaxError");
      return true;
    });
    await assert.rejects(conn.exec("print('before'); import sys; sys.exit(3)"), (e: unknown) => {
      assert.ok(e instanceof RequestFailed);
      assert.equal(e.type, "SystemExit");
      assert.equal(e.stdout, "before\n");
      return true;
    });
    // The connection goes on after errors.
    assert.equal((await conn.eval("1 + 1")).value, "2");
  });

  test("code runs byte for byte as written: non-ASCII, request-like lines, empty, large, back to back", { timeout: 30000 }, async () => {
    const code = 'x = "é→😀"\nprint(len(x), x)\nprint(\'{"id":1,"op":"ping"}\')\n';
    assert.equal((await conn.exec(code)).stdout, '3 é→😀\n{"id":1,"op":"ping"}\n');
    assert.equal((await conn.exec("")).stdout, "");
    const big = ("# ü" + "x".repeat(97) + "\n").repeat(3000) + "print('end')\n";
    assert.equal((await conn.exec(big, { file: "<big>" })).stdout, "end\n");
    const [a, b] = await Promise.all([conn.eval("'a' + 'é'"), conn.eval("2 * 21")]);
    assert.equal(a.json, "aé");
    assert.equal(b.json, 42);
  });

  test("large output and a large value arrive whole", async () => {
    let chunks = 0;
    const r = await conn.exec("import sys\nfor i in range(20000):\n    sys.stdout.write('%07d' % i + 'x' * 392 + '\\n')", {}, {
      onStdout: () => chunks++,
    });
    assert.equal(r.stdout.length, 20000 * 400);
    assert.ok(r.stdout.startsWith("0000000x") && r.stdout.endsWith("0019999" + "x".repeat(392) + "\n"));
    assert.ok(chunks > 1, "8 MB of output came in more than one event");
    const v = await conn.eval("'é' * 1000000");
    assert.equal(v.json, "é".repeat(1000000));
  });
});

describe("tracebacks of real local files", () => {
  test("frames name the file and line a run file raised at, across modules", async () => {
    const dir = daemon.scratch("tb");
    const main = path.join(dir, "main_script.py");
    const helper = path.join(dir, "tbhelper.py");
    fs.writeFileSync(helper, ["def boom(n):", "    items = [1, 2]", "    return items[n]  # line 3", ""].join("\n"));
    const source = ["import tbhelper", "", "def run():", "    return tbhelper.boom(5)  # line 4", "", "run()  # line 6", ""].join("\n");
    fs.writeFileSync(main, source);
    // As Hotload: Run File sends it: the editor's text, its path as file and path.
    await assert.rejects(conn.exec(source, { file: main, path: main }), (e: unknown) => {
      assert.ok(e instanceof RemoteException);
      assert.equal(e.type, "IndexError");
      const tb = parseTraceback(e.traceback ?? "");
      assert.deepEqual(tb.frames.map((f) => [f.file, f.line, f.name]), [
        [main, 6, "<module>"],
        [main, 4, "run"],
        [helper, 3, "boom"],
      ]);
      assert.ok(tb.frames.every((f) => isLocalFile(f.file) && fs.existsSync(f.file)));
      const raised = innermostFrame(tb, (f) => isLocalFile(f.file));
      assert.equal(raised?.file, helper);
      assert.equal(raised?.line, 3);
      assert.equal(raised?.code, "return items[n]  # line 3");
      assert.equal(tb.exception, "IndexError: list index out of range");
      return true;
    });
  });

  test("a cell or selection sent with its offset reports the file's own lines", async () => {
    const dir = daemon.scratch("cell");
    const file = path.join(dir, "cells.py");
    const lines = ["# %% setup", "a = 1", "# %% the failing cell", "b = 2", "c = undefined_name + b  # line 5", ""];
    fs.writeFileSync(file, lines.join("\n"));
    const code = codeForRange(lines.slice(2, 5).join("\n"), 2);
    await assert.rejects(conn.exec(code, { file }), (e: unknown) => {
      assert.ok(e instanceof RemoteException);
      assert.equal(e.type, "NameError");
      const f = innermostFrame(parseTraceback(e.traceback ?? ""), (x) => x.file === file);
      assert.equal(f?.line, 5);
      return true;
    });
    // An indented selection runs dedented, on its own lines.
    const sel = ["def outer():", "    if True:", "        print('in block')", "        raise ValueError('at line 4')"];
    await assert.rejects(conn.exec(codeForRange(sel.slice(2).join("\n"), 2), { file }), (e: unknown) => {
      assert.ok(e instanceof RemoteException);
      assert.equal(e.stdout, "in block\n");
      assert.equal(innermostFrame(parseTraceback(e.traceback ?? ""), (x) => x.file === file)?.line, 4);
      return true;
    });
  });
});

describe("interrupt and timeout", () => {
  // The code sleeps in short steps: a SIGINT that lands between CPython's
  // last check for signals and a sleep's system call waits for the call to
  // return (CPython's race), which with one time.sleep(30) is 30 s. The print
  // shares the loop's line: the output can arrive before print returns, and
  // an interrupt that lands then is raised in it, on the same line.
  test("interrupt stops sleeping code with KeyboardInterrupt; the worker stays warm", async () => {
    const before = await conn.ping();
    let started!: () => void;
    const running = new Promise<void>((r) => (started = r));
    const t0 = Date.now();
    const run = conn.exec("import time\nfor i in range(3000): i or print('sleeping', flush=True); time.sleep(0.01)", {}, {
      onStdout: (d) => d.includes("sleeping") && started(),
    });
    // checked from now on: the interrupt may end it before its own answer comes
    const rejected = assert.rejects(run, (e: unknown) => {
      assert.ok(e instanceof Interrupted);
      assert.equal(e.type, "KeyboardInterrupt");
      assert.match(e.traceback ?? "", /time\.sleep\(0\.01\)/);
      return true;
    });
    await running;
    assert.equal(await conn.interrupt(), 1);
    await rejected;
    assert.ok(Date.now() - t0 < 10_000);
    const after = await conn.ping();
    assert.equal(after.pid, before.pid, "the same worker answers after the interrupt");
    assert.equal(after.target, TARGET);
  });

  test("an aborted signal interrupts its request", async () => {
    const ac = new AbortController();
    const run = conn.exec("import time\nprint('go', flush=True)\nfor _ in range(3000): time.sleep(0.01)", {}, {
      signal: ac.signal,
      onStdout: () => ac.abort(),
    });
    await assert.rejects(run, Interrupted);
  });

  test("a timeout interrupts the request and keeps the worker", async () => {
    const before = await conn.ping();
    const t0 = Date.now();
    await assert.rejects(conn.exec("import time; time.sleep(30)", { timeout: 1 }), (e: unknown) => {
      assert.ok(e instanceof Timeout);
      assert.equal(e.limit, 1);
      assert.match(e.message, /timeout of 1 s/);
      return true;
    });
    assert.ok(Date.now() - t0 < 10_000);
    assert.equal((await conn.ping()).pid, before.pid);
  });
});

describe("the control target", () => {
  test("list and status have what the target picker and the status bar read", async () => {
    const pid = (await conn.ping()).pid;
    const control = await ControlClient.open(opts());
    try {
      const hooks = await control.list();
      const py = hooks.find((h) => h.name === "python");
      assert.ok(py, "the built-in python hook is listed");
      assert.ok(Array.isArray(py.aliases) && py.installs.length > 0);
      assert.ok(py.installs.every((i) => typeof i.version === "string" && path.isAbsolute(i.path)));
      assert.equal(resolveTarget(hooks, "python"), TARGET);
      assert.equal(resolveTarget(hooks, "python3"), TARGET);
      assert.equal(resolveTarget(hooks, "nosuch"), undefined);

      const status = await control.status();
      assert.equal(typeof status.daemon.pid, "number");
      assert.equal(typeof status.daemon.version, "string");
      const t = status.targets.find((x) => x.target === TARGET);
      assert.ok(t);
      assert.equal(t.state, "ok");
      assert.deepEqual(t.workers.map((w) => [w.state, w.pid]), [["idle", pid]]);
      assert.equal(summarizeTarget(status, TARGET).state, "idle");
      const only = await control.status(TARGET);
      assert.deepEqual(only.targets.map((x) => x.target), [TARGET]);

      const items = targetItems(hooks, status);
      const item = items.find((i) => i.target === TARGET);
      assert.ok(item);
      assert.match(item.detail, new RegExp(`idle \\(pid ${pid}`));

      // While a request runs the target is busy.
      const run = conn.exec("import time; time.sleep(1.5)");
      let busy = false;
      for (let i = 0; i < 40 && !busy; i++) {
        busy = summarizeTarget(await control.status(), TARGET).state === "busy";
        if (!busy) await new Promise((r) => setTimeout(r, 50));
      }
      assert.ok(busy, "status showed the worker busy");
      await run;
    } finally {
      control.close();
    }
  });

  test("recycle replaces the worker; interrupt of a target reaches another client's request", async () => {
    const control = await ControlClient.open(opts());
    try {
      const before = (await conn.ping()).pid;
      const [r] = await control.recycle(TARGET);
      assert.equal(r.target, TARGET);
      assert.equal(r.ok, true);
      assert.equal(r.recycled, 1);
      const after = (await conn.ping()).pid;
      assert.notEqual(after, before, "a fresh worker answers after recycle");

      let started!: () => void;
      const running = new Promise<void>((res) => (started = res));
      const run = conn.exec("import time\nprint('x', flush=True)\nfor _ in range(3000): time.sleep(0.01)", {}, { onStdout: () => started() });
      const rejected = assert.rejects(run, Interrupted); // it may end before interrupt answers
      await running;
      const [i] = await control.interrupt(TARGET);
      assert.equal(i.interrupted, 1);
      await rejected;
    } finally {
      control.close();
    }
  });
});

describe("reloading a saved file", () => {
  test("the worker names the modules of a file, and reload runs the saved code", async () => {
    const dir = daemon.scratch("reload");
    const pkg = path.join(dir, "vsreloadpkg");
    fs.mkdirSync(pkg);
    fs.writeFileSync(path.join(pkg, "__init__.py"), "");
    const core = path.join(pkg, "core.py");
    rewrite(core, "def version():\n    return 1\n", 0);
    await conn.exec(`import sys\nsys.path.insert(0, ${JSON.stringify(dir)})\nimport vsreloadpkg.core`);
    const found = await conn.eval(modulesOfFileExpr(core), { ns: "fresh" });
    assert.deepEqual(found.json, ["vsreloadpkg.core"]);
    const none = await conn.eval(modulesOfFileExpr(path.join(dir, "not_imported.py")), { ns: "fresh" });
    assert.deepEqual(none.json, []);

    rewrite(core, "def version():\n    return 2\n", 1);
    const r = await conn.reload(["vsreloadpkg.core"]);
    assert.deepEqual(r.reloaded.map((m) => [m.module, m.status]), [["vsreloadpkg.core", "reloaded"]]);
    assert.equal((await conn.eval("vsreloadpkg.core.version()")).json, 2);

    rewrite(core, "def version(:\n    return 3\n", 2);
    await assert.rejects(conn.reload(["vsreloadpkg.core"]), (e: unknown) => {
      assert.ok(e instanceof ReloadFailed);
      const failed = e.reloaded.find((m) => m.status === "failed");
      assert.ok(failed?.error?.traceback);
      const tb = parseTraceback(failed.error.traceback);
      const f = innermostFrame(tb, (x) => x.file === core);
      assert.equal(f?.line, 1);
      assert.equal(tb.blocks.at(-1)?.type, "SyntaxError");
      return true;
    });
    assert.equal((await conn.eval("vsreloadpkg.core.version()")).json, 2, "the old code stays in use");
  });

  test("watch= in the header reloads changed modules before the next request", async () => {
    const dir = daemon.scratch("watch");
    const mod = path.join(dir, "vswatched.py");
    rewrite(mod, "VALUE = 'one'\n", 0);
    const w = await Connection.open(TARGET, { ...opts(), watch: [dir] });
    try {
      await w.exec(`import sys\nsys.path.insert(0, ${JSON.stringify(dir)})\nimport vswatched`);
      rewrite(mod, "VALUE = 'two'\n", 1);
      let reloaded: string[] = [];
      for (let i = 0; i < 50 && !reloaded.length; i++) {
        const r = await w.eval("vswatched.VALUE", {}, { onReloaded: (m) => (reloaded = m.map((x) => `${x.module}:${x.status}`)) });
        if (r.json === "two") break;
        await new Promise((res) => setTimeout(res, 100));
      }
      assert.deepEqual(reloaded, ["vswatched:reloaded"]);
      assert.equal((await w.eval("vswatched.VALUE")).json, "two");
    } finally {
      w.close();
    }
  });
});

describe("connecting", () => {
  test("no daemon: DaemonUnavailable names the socket tried", async () => {
    const missing = path.join(daemon.dir, "nobody-here.sock");
    await assert.rejects(Connection.open(TARGET, { socket: missing }), (e: unknown) => {
      assert.ok(e instanceof DaemonUnavailable);
      assert.equal(e.code, "ENOENT");
      assert.equal(e.address, `unix socket ${missing}`);
      assert.ok(e.message.includes(missing) && /is hotloadd running/.test(e.message), e.message);
      return true;
    });
    const gone = path.join(daemon.dir, "no-such-dir", "hotloadd.sock");
    await assert.rejects(Connection.open(TARGET, { socket: gone }), (e: unknown) => e instanceof DaemonUnavailable && e.message.includes(gone));
    // The default path, when nothing else is set, is the one tried and named.
    const xdg = daemon.scratch("xdg-empty");
    await assert.rejects(
      Connection.open(TARGET, { env: { XDG_RUNTIME_DIR: xdg } }),
      (e: unknown) => e instanceof DaemonUnavailable && e.address === `unix socket ${path.join(xdg, "hotload", "hotloadd.sock")}`,
    );
    await assert.rejects(
      Connection.open(TARGET, { tcp: "127.0.0.1:1" }),
      (e: unknown) => e instanceof DaemonUnavailable && e.code === "ECONNREFUSED" && e.address === "TCP 127.0.0.1:1",
    );
  });

  test("$HOTLOAD_SOCKET is used when no socket is given", async () => {
    const c = await Connection.open(TARGET, { env: { HOTLOAD_SOCKET: daemon.socket } });
    try {
      assert.equal((await c.eval("1")).json, 1);
    } finally {
      c.close();
    }
  });

  test("a socket in a directory others can enter is not used", async () => {
    const dir = daemon.scratch("open-dir");
    fs.chmodSync(dir, 0o755);
    await assert.rejects(Connection.open(TARGET, { socket: path.join(dir, "hotloadd.sock") }), (e: unknown) => {
      assert.ok(e instanceof UnsafeSocket);
      assert.match(e.message, /mode 0755/);
      return true;
    });
  });

  test("a refused header fails the request with the daemon's reason and closes", async () => {
    const c = await Connection.open("nosuchdcc", opts());
    let closedWith: unknown;
    c.onClose((e) => (closedWith = e));
    await assert.rejects(c.exec("print(1)"), (e: unknown) => {
      assert.ok(e instanceof ConnectionRefused);
      assert.equal(e.type, "UnknownTarget");
      assert.match(e.message, /known: python/);
      return true;
    });
    assert.ok(c.closed);
    assert.ok(closedWith instanceof ConnectionRefused);
    await assert.rejects(c.exec("print(2)"), ConnectionRefused);
    const v = await Connection.open("python:0.0.0.1", opts());
    await assert.rejects(v.ping(), (e: unknown) => e instanceof ConnectionRefused && e.type === "NotInstalled");
  });
});

describe("a file larger than limits.max_payload", () => {
  let small: TestDaemon;
  before(async () => {
    small = await TestDaemon.start({ maxPayload: "64K" });
  });
  after(async () => {
    await small?.stop();
  });

  test("is refused with its size and the limit; the connection ends and a new one serves", { timeout: 30000 }, async () => {
    const c = await Connection.open(TARGET, { socket: small.socket, env: {} });
    const big = "# " + "x".repeat(100 * 1024) + "\nprint('ran')\n";
    await assert.rejects(c.exec(big), (e: unknown) => {
      assert.ok(e instanceof RequestFailed, String(e));
      assert.equal(e.type, "BadRequest");
      assert.match(e.message, /^the code is 102416 bytes, more than the \d+ that limits\.max_payload leaves after its request line$/);
      return true;
    });
    await new Promise<void>((resolve) => c.onClose(() => resolve()));
    assert.ok(c.closed);
    const again = await Connection.open(TARGET, { socket: small.socket, env: {} });
    try {
      assert.equal((await again.exec("print('ran')")).stdout, "ran\n");
    } finally {
      again.close();
    }
  });
});

describe("TCP with a required token", () => {
  let tcp: TestDaemon;
  before(async () => {
    tcp = await TestDaemon.start({ tcp: true, token: true });
  });
  after(async () => {
    await tcp?.stop();
  });

  test("the token from tokenFile lets the request in; without it it is refused", async () => {
    const addr = `127.0.0.1:${tcp.port}`;
    const c = await Connection.open(TARGET, { tcp: addr, tokenFile: tcp.tokenFile, env: {} });
    try {
      assert.equal((await c.eval("6 * 7")).json, 42);
    } finally {
      c.close();
    }
    const bare = await Connection.open(TARGET, { tcp: addr, env: {} });
    await assert.rejects(bare.eval("1"), (e: unknown) => e instanceof ConnectionRefused && e.type === "PermissionDenied");
    const viaEnv = await Connection.open(TARGET, { env: { HOTLOAD_TCP: addr, HOTLOAD_TOKEN: fs.readFileSync(tcp.tokenFile, "utf8").trim() } });
    try {
      assert.equal((await viaEnv.eval("1")).json, 1);
    } finally {
      viaEnv.close();
    }
  });
});
