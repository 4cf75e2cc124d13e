// hotloadctl mcp, driven by the official MCP client SDK (its Client and
// StdioClientTransport, as Claude Desktop, VS Code and Cursor use it)
// against a real hotloadd with python3 and Blender workers.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "node:fs";

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";

import { HOTLOADCTL, TestDaemon, sanitizerEnv } from "./daemon.mjs";

const BLENDER = ["/usr/bin/blender", "/usr/local/bin/blender"].some((p) => fs.existsSync(p));
const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:/;

let daemon;
const opened = [];

/** A transport that spawns `hotloadctl mcp ARGS` on the test daemon. */
function transport(args = []) {
  const t = new StdioClientTransport({
    command: HOTLOADCTL,
    args: ["--socket", daemon.socket, "mcp", ...args],
    env: sanitizerEnv(),
    stderr: "pipe",
  });
  t.errText = "";
  t.stderr.on("data", (d) => (t.errText += d));
  return t;
}

/** An SDK client connected to a new server process. */
async function connect(args = [], name = "hotload-mcp-test") {
  const t = transport(args);
  const c = new Client({ name, version: "1.0" });
  await c.connect(t);
  opened.push({ c, t });
  return c;
}

/** Send raw messages on an SDK transport and collect the answers by id. */
async function rawSession(messages, wantIds, args = []) {
  const t = transport(args);
  const got = new Map();
  const notes = [];
  const done = new Promise((resolve, reject) => {
    t.onmessage = (m) => {
      if (m.id !== undefined && m.id !== null) got.set(m.id, m);
      else if (m.error) got.set(null, m);
      else notes.push(m);
      if (wantIds.every((id) => got.has(id))) resolve();
    };
    t.onerror = reject;
    setTimeout(() => reject(new Error(`no answers for ${wantIds.filter((i) => !got.has(i))}; stderr: ${t.errText}`)), 30_000);
  });
  await t.start();
  for (const m of messages) await t.send(m);
  await done;
  await t.close();
  return { got, notes, stderr: t.errText };
}

const init = (id, version) => ({
  jsonrpc: "2.0",
  id,
  method: "initialize",
  params: { protocolVersion: version, capabilities: {}, clientInfo: { name: "raw", version: "0" } },
});

before(async () => {
  daemon = await TestDaemon.start();
});

after(async () => {
  for (const { c, t } of opened) {
    await c.close();
    assert.doesNotMatch(t.errText, SANITIZER_RE, t.errText);
  }
  await daemon.stop();
});

describe("handshake", () => {
  test("the SDK client connects and negotiates its newest revision", async () => {
    const c = await connect();
    assert.equal(c.getServerVersion().name, "hotload");
    assert.ok(c.getServerCapabilities().tools);
    assert.match(c.getInstructions() ?? "", /list_targets/);
    await c.ping();
  });

  test("revisions: known ones echoed, an unknown newer one answered with the newest", async () => {
    for (const [asked, answered] of [
      ["2025-06-18", "2025-06-18"],
      ["2025-11-25", "2025-11-25"],
      ["2024-11-05", "2024-11-05"],
      ["2099-01-01", "2025-11-25"],
    ]) {
      const { got } = await rawSession([init(1, asked)], [1]);
      assert.equal(got.get(1).result.protocolVersion, answered, `asked ${asked}`);
    }
  });

  test("bad input gets JSON-RPC errors and the server keeps serving", async () => {
    const { got } = await rawSession(
      [
        init(1, "2025-06-18"),
        { jsonrpc: "2.0", id: 2, method: "no/such/method" },
        { jsonrpc: "1.0", id: 3, method: "ping" },
        { jsonrpc: "2.0", id: 4, method: "tools/call", params: { arguments: {} } },
        { jsonrpc: "2.0", id: 5, method: "tools/call", params: { name: "no_such_tool" } },
        { jsonrpc: "2.0", id: 6, method: "tools/call", params: { name: "execute_python", arguments: { target: "python:3" } } },
        { jsonrpc: "2.0", id: 7, method: "ping" },
      ],
      [1, 2, 3, 4, 5, 6, 7],
    );
    assert.equal(got.get(2).error.code, -32601);
    assert.equal(got.get(3).error.code, -32600);
    assert.equal(got.get(4).error.code, -32602);
    assert.equal(got.get(5).error.code, -32602);
    assert.match(got.get(5).error.message, /unknown tool 'no_such_tool'/);
    assert.equal(got.get(6).result.isError, true);
    assert.match(got.get(6).result.content[0].text, /'code' is required/);
    assert.deepEqual(got.get(7).result, {});
  });

  test("tools before initialize are refused; ping is not", async () => {
    const { got } = await rawSession(
      [
        { jsonrpc: "2.0", id: 1, method: "tools/list" },
        { jsonrpc: "2.0", id: 2, method: "ping" },
        init(3, "2025-11-25"),
        { jsonrpc: "2.0", id: 4, method: "tools/list" },
      ],
      [1, 2, 3, 4],
    );
    assert.equal(got.get(1).error.code, -32600);
    assert.match(got.get(1).error.message, /initialize first/);
    assert.deepEqual(got.get(2).result, {});
    assert.equal(got.get(4).result.tools.length, 8);
  });

  test("a line that is not JSON is a parse error (-32700)", async () => {
    const t = transport();
    const answers = [];
    const done = new Promise((resolve) => {
      t.onmessage = (m) => {
        answers.push(m);
        if (answers.length === 2) resolve();
      };
    });
    await t.start();
    t._process.stdin.write("this is not json\n");
    await t.send({ jsonrpc: "2.0", id: 9, method: "ping" });
    await done;
    await t.close();
    assert.equal(answers[0].error.code, -32700);
    assert.equal(answers[0].id, undefined);
    assert.equal(answers[1].id, 9);
  });
});

describe("tools", () => {
  let c;
  before(async () => {
    c = await connect();
  });

  test("tools/list has every tool with input and output schemas", async () => {
    const { tools } = await c.listTools();
    const names = tools.map((t) => t.name).sort();
    assert.deepEqual(names, [
      "evaluate_python",
      "execute_python",
      "interrupt",
      "list_targets",
      "reload_modules",
      "restart_worker",
      "status",
      "worker_logs",
    ]);
    for (const t of tools) {
      assert.equal(t.inputSchema.type, "object", t.name);
      assert.equal(t.outputSchema.type, "object", t.name);
      assert.ok(t.description.length > 60, t.name);
    }
  });

  test("list_targets names python and blender with their installs", async () => {
    const r = await c.callTool({ name: "list_targets", arguments: {} });
    assert.equal(r.isError, false);
    const hooks = Object.fromEntries(r.structuredContent.hooks.map((h) => [h.name, h]));
    assert.ok(hooks.python.installs.length > 0);
    if (BLENDER) assert.ok(hooks.blender.installs.length > 0);
    assert.equal(r.content[0].type, "text");
  });

  test("a call that prints: stdout, structured and as text", async () => {
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "import sys\nmcp_state = 7\nprint('hello', 6 * 7)\nprint('warn', file=sys.stderr)" } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.ok, true);
    assert.equal(r.structuredContent.stdout, "hello 42\n");
    assert.equal(r.structuredContent.stderr, "warn\n");
    assert.match(r.content[0].text, /hello 42/);
  });

  test("evaluate_python: repr and JSON value, in the same namespace", async () => {
    const r = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "{'state': mcp_state, 'pi': 3.5}" } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.repr, "{'state': 7, 'pi': 3.5}");
    assert.deepEqual(r.structuredContent.value, { state: 7, pi: 3.5 });
    const o = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "object()" } });
    assert.equal(o.structuredContent.has_json_value, false);
    assert.match(o.structuredContent.repr, /^<object object at/);
  });

  test("a call that raises is a result with isError and the traceback", async () => {
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "print('before')\n{}['missing']" } });
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.ok, false);
    assert.equal(r.structuredContent.stdout, "before\n");
    assert.equal(r.structuredContent.error.type, "KeyError");
    assert.match(r.structuredContent.error.traceback, /Traceback[\s\S]*KeyError: 'missing'/);
    assert.match(r.content[0].text, /KeyError: 'missing'/);
  });

  test("a NUL in an error's message: nothing after it is lost", async () => {
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "raise ValueError('a\\x00b-after-nul')" } });
    assert.equal(r.isError, true);
    assert.equal(r.structuredContent.error.message, "a\u0000b-after-nul");
    assert.match(r.structuredContent.error.traceback, /ValueError: a\u0000b-after-nul\n$/);
    assert.match(r.content[0].text, /ValueError: a\u0000b-after-nul/);
  });

  test("a cancelled call interrupts the code; the worker stays warm with its state", async () => {
    const pid = (await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "__import__('os').getpid()" } })).structuredContent.value;
    const ac = new AbortController();
    const progress = [];
    const started = Date.now();
    const call = c.callTool(
      { name: "execute_python", arguments: { target: "python:3", code: "import time\nbefore_cancel = 'kept'\nprint('started', flush=True)\nfor _ in range(6000): time.sleep(0.01)\nafter_cancel = 1" } },
      undefined,
      { signal: ac.signal, onprogress: (p) => progress.push(p) },
    );
    while (!progress.some((p) => /output/.test(p.message ?? "")) && Date.now() - started < 20_000) await new Promise((r) => setTimeout(r, 50));
    ac.abort("the user pressed stop");
    await assert.rejects(call);
    const r = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "[before_cancel, 'after_cancel' in globals(), __import__('os').getpid()]" } });
    assert.deepEqual(r.structuredContent.value, ["kept", false, pid]);
    assert.ok(Date.now() - started < 20_000, "the cancelled code did not run its 60 s of short sleeps");
    assert.ok(progress.length >= 1, "progress notifications while it ran");
    assert.match(daemon.log(), /python:3: request \d+: interrupt, from client hotload-mcp-test\/1\.0/);
  });

  test("while a call runs: ping is answered at once, other calls wait their turn", async () => {
    const started = Date.now();
    const slow = c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "import time\ntime.sleep(1.5)\norder = ['slow']" } });
    await new Promise((r) => setTimeout(r, 200));
    await c.ping();
    const pinged = Date.now() - started;
    const queued = c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "order.append('queued')\nprint(order)" } });
    const ac = new AbortController();
    const dropped = c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "order.append('dropped')" } }, undefined, { signal: ac.signal });
    ac.abort();
    await assert.rejects(dropped);
    assert.equal((await slow).isError, false);
    const q = await queued;
    assert.equal(q.structuredContent.stdout, "['slow', 'queued']\n", "in order");
    const after = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "order" } });
    assert.deepEqual(after.structuredContent.value, ["slow", "queued"], "the call cancelled while it waited never ran");
    assert.ok(pinged < 1200, `ping took ${pinged} ms while a call ran`);
  });

  test("progress notifications while a request prints", async () => {
    const progress = [];
    const r = await c.callTool(
      { name: "execute_python", arguments: { target: "python:3", code: "import time\nfor i in range(4):\n    print(i, flush=True)\n    time.sleep(0.3)" } },
      undefined,
      { onprogress: (p) => progress.push(p) },
    );
    assert.equal(r.structuredContent.stdout, "0\n1\n2\n3\n");
    assert.ok(progress.length >= 2, JSON.stringify(progress));
    for (let i = 1; i < progress.length; i++) assert.ok(progress[i].progress > progress[i - 1].progress);
  });

  test("a timeout stops the code and says so", async () => {
    const started = Date.now();
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "import time\nfor _ in range(3000): time.sleep(0.01)", timeout: 1 } });
    assert.equal(r.isError, true);
    assert.ok(Date.now() - started < 15_000);
    assert.match(r.structuredContent.error.type, /Timeout|KeyboardInterrupt/);
    // the text a model reads says so after the interrupted code's traceback
    if (r.structuredContent.error.type === "Timeout") assert.match(r.content[0].text, /\nTimeout: /);
    const again = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "mcp_state" } });
    assert.equal(again.structuredContent.value, 7, "the worker is still warm after the interrupt");
  });

  test("every call is in the daemon's log with the client's name", async () => {
    const log = daemon.log();
    assert.match(log, /python:3: request \d+: exec, \d+ bytes of code, from client hotload-mcp-test\/1\.0/);
    assert.match(log, /python:3: request \d+: eval, \d+ bytes of code, from client hotload-mcp-test\/1\.0/);
    assert.match(log, /hotload: request \d+: list, from client hotload-mcp-test\/1\.0/);
    assert.doesNotMatch(log, /mcp_state = 7/, "the code itself is not logged");
  });

  test("status, worker_logs, restart_worker, interrupt, reload_modules", async () => {
    const st = await c.callTool({ name: "status", arguments: { target: "python:3" } });
    assert.equal(st.isError, false);
    assert.ok(st.structuredContent.targets.some((t) => t.target === "python:3"));
    await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "print('for the log')" } });
    const logs = await c.callTool({ name: "worker_logs", arguments: { target: "python:3" } });
    assert.match(logs.structuredContent.text, /for the log/);
    const intr = await c.callTool({ name: "interrupt", arguments: { target: "python:3" } });
    assert.equal(intr.structuredContent.interrupted, 0);
    const rel = await c.callTool({ name: "reload_modules", arguments: { target: "python:3", modules: ["json"] } });
    assert.equal(rel.isError, false, JSON.stringify(rel));
    assert.ok(Array.isArray(rel.structuredContent.modules));
    const rs = await c.callTool({ name: "restart_worker", arguments: { target: "python:3" } });
    assert.equal(rs.isError, false);
    assert.equal(rs.structuredContent.recycled, 1);
    const fresh = await c.callTool({ name: "evaluate_python", arguments: { target: "python:3", expression: "'mcp_state' in globals()" } });
    assert.equal(fresh.structuredContent.value, false, "a restarted worker starts over");
  });

  test("an unknown target is a tool error naming the known ones", async () => {
    const r = await c.callTool({ name: "execute_python", arguments: { target: "nosuchdcc", code: "1" } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /UnknownTarget/);
  });
});

describe("limits", () => {
  test("output past --max-output is cut with a note", async () => {
    const c = await connect(["--max-output", "1000"]);
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "print('x' * 5000)\nprint('é' * 3000)" } });
    assert.equal(r.isError, false);
    assert.equal(r.structuredContent.stdout_dropped_bytes, 5001 + 6001 - 1000);
    assert.match(r.structuredContent.stdout, /^x{1000}\n\[hotloadctl mcp: 10002 more bytes of stdout dropped; the limit is 1000\]\n$/);
    const big = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "raise ValueError('v' * 5000)" } });
    assert.equal(big.isError, true);
    assert.match(big.structuredContent.error.message, /^v{1000}\n\[hotloadctl mcp: 4000 more bytes of the message dropped; the limit is 1000\]\n$/);
    assert.ok(big.structuredContent.error.traceback.length < 1200);
    assert.match(big.structuredContent.error.traceback, /more bytes of the traceback dropped/);
  });

  test("--targets refuses other targets with a clear tool error", async () => {
    const c = await connect(["--targets", "python:3"]);
    const r = await c.callTool({ name: "execute_python", arguments: { target: "blender", code: "print(1)" } });
    assert.equal(r.isError, true);
    assert.match(r.content[0].text, /target 'blender' is not allowed here: .*--targets python:3/);
    const { tools } = await c.listTools();
    assert.deepEqual(tools.find((t) => t.name === "execute_python").inputSchema.properties.target.enum, ["python:3"]);
    const ok = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "print(1)" } });
    assert.equal(ok.isError, false);
  });

  test("--max-timeout caps a longer timeout", async () => {
    const c = await connect(["--max-timeout", "1"]);
    const started = Date.now();
    const r = await c.callTool({ name: "execute_python", arguments: { target: "python:3", code: "import time\nfor _ in range(3000): time.sleep(0.01)", timeout: 100 } });
    assert.equal(r.isError, true);
    assert.ok(Date.now() - started < 15_000);
  });
});

describe("blender", { skip: !BLENDER && !process.env.HOTLOAD_REQUIRE_BLENDER }, () => {
  test("a warm Blender: bpy, state kept, a raise, a cancel", { timeout: 120_000 }, async () => {
    const c = await connect([], "hotload-mcp-blender");
    const r = await c.callTool({ name: "execute_python", arguments: { target: "blender", code: "import bpy\nprint(bpy.app.version_string)\nnames = sorted(o.name for o in bpy.data.objects)", timeout: 60 } });
    assert.equal(r.isError, false, JSON.stringify(r));
    assert.match(r.structuredContent.stdout, /^\d+\.\d+/);
    const v = await c.callTool({ name: "evaluate_python", arguments: { target: "blender", expression: "names" } });
    assert.deepEqual(v.structuredContent.value, ["Camera", "Cube", "Light"]);
    const bad = await c.callTool({ name: "execute_python", arguments: { target: "blender", code: "bpy.data.objects['NoSuchObject']" } });
    assert.equal(bad.isError, true);
    assert.equal(bad.structuredContent.error.type, "KeyError");
    const ac = new AbortController();
    const progress = [];
    const call = c.callTool(
      { name: "execute_python", arguments: { target: "blender", code: "import time\nprint('busy', flush=True)\nfor _ in range(6000): time.sleep(0.01)" } },
      undefined,
      { signal: ac.signal, onprogress: (p) => progress.push(p) },
    );
    const started = Date.now();
    while (!progress.some((p) => /output/.test(p.message ?? "")) && Date.now() - started < 20_000) await new Promise((res) => setTimeout(res, 50));
    ac.abort();
    await assert.rejects(call);
    const after = await c.callTool({ name: "evaluate_python", arguments: { target: "blender", expression: "names" } });
    assert.deepEqual(after.structuredContent.value, ["Camera", "Cube", "Light"], "Blender stays warm after the cancel");
    assert.ok(Date.now() - started < 20_000);
    assert.match(daemon.log(), /blender(:[\d.]+)?: request \d+: exec, \d+ bytes of code, from client hotload-mcp-blender\/1\.0/);
  });
});
