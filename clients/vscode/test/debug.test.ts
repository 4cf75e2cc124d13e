// "Attach debugger": the launch configuration and adapter command line
// (src/debugconfig.ts), and the extension's debug wiring driven in Node
// with the VS Code stand-in — with the real adapter: the command line the
// extension's DebugAdapterDescriptorFactory returns is run (hotloadctl
// debug against the real hotloadd), a DAP exchange of VS Code's kind goes
// through it, and Hotload: Run File in the session stops at a breakpoint.
// VS Code's own debugger UI is not run: this checks what the extension
// hands VS Code and that it works as a debug adapter.

import * as assert from "node:assert/strict";
import * as child from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { adapterCommand, attachConfiguration, completeConfiguration, sessionProblem, targetProblem } from "../src/debugconfig";
import { hotloaddPath, TestDaemon } from "./daemon";
import { fireDebugSession, install, openEditor, recorded, shim, TextDocument } from "./vscode-shim";

install();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require("../src/extension") as typeof import("../src/extension");

describe("debug configurations", () => {
  test("Attach Debugger's configuration", () => {
    assert.deepEqual(attachConfiguration("blender:3.4"), {
      type: "hotload",
      request: "attach",
      name: "Hotload: attach to blender:3.4",
      target: "blender:3.4",
      session: "default",
      justMyCode: true,
    });
  });

  test("launch.json entries are completed, bad ones refused", () => {
    const c = completeConfiguration({ type: "hotload", request: "attach", name: "" }, "python:3");
    assert.equal(c.target, "python:3");
    assert.equal(c.session, "default");
    assert.equal(c.name, "Hotload: attach to python:3");
    assert.equal(completeConfiguration({ target: "mayapy:2024", session: "rig.v2" }, "python:3").session, "rig.v2");
    assert.throws(() => completeConfiguration({ request: "launch" }, "python:3"), /"request" must be "attach"/);
    assert.throws(() => completeConfiguration({ session: "no spaces" }, "python:3"), /1 to 64 characters/);
    assert.throws(() => completeConfiguration({ target: "python:3 mode=raw" }, "python:3"), /DCC or DCC:VERSION/);
    assert.equal(sessionProblem("a".repeat(64)), undefined);
    assert.match(sessionProblem("a".repeat(65)) ?? "", /1 to 64/);
    assert.equal(targetProblem("hython:20.5"), undefined);
  });

  test("the adapter's command line", () => {
    const c = attachConfiguration("python:3");
    assert.deepEqual(adapterCommand(c, { socket: "/run/u/hotload/hotloadd.sock" }, "/opt/hotload/bin/hotloadctl"), {
      command: "/opt/hotload/bin/hotloadctl",
      args: ["--socket", "/run/u/hotload/hotloadd.sock", "debug", "--session", "default", "python:3"],
    });
    assert.deepEqual(adapterCommand({ ...c, session: "s1" }, { tcp: "farm1:7720", tokenFile: "/home/me/t" }).args, [
      "--tcp",
      "farm1:7720",
      "--token-file",
      "/home/me/t",
      "debug",
      "--session",
      "s1",
      "python:3",
    ]);
    assert.equal(adapterCommand(c, {}, "").command, "hotloadctl");
    assert.throws(() => adapterCommand({ ...c, target: "" }, {}), /DCC or DCC:VERSION/);
  });
});

/** DAP over a child's stdin/stdout, as VS Code speaks it to an adapter executable. */
class Dap {
  private seq = 0;
  private buf = Buffer.alloc(0);
  private readonly messages: Record<string, unknown>[] = [];
  private readonly waiters: (() => void)[] = [];
  stderr = "";

  constructor(readonly proc: child.ChildProcessWithoutNullStreams) {
    proc.stdout.on("data", (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      for (;;) {
        const end = this.buf.indexOf("\r\n\r\n");
        if (end < 0) break;
        const m = /Content-Length: *(\d+)/i.exec(this.buf.subarray(0, end).toString());
        const len = Number(m?.[1]);
        if (this.buf.length < end + 4 + len) break;
        this.messages.push(JSON.parse(this.buf.subarray(end + 4, end + 4 + len).toString()));
        this.buf = this.buf.subarray(end + 4 + len);
      }
      this.waiters.splice(0).forEach((w) => w());
    });
    proc.stderr.on("data", (d: Buffer) => (this.stderr += d.toString()));
  }

  private async take(pred: (m: Record<string, unknown>) => boolean, what: string): Promise<Record<string, unknown>> {
    const end = Date.now() + 30_000;
    for (;;) {
      const i = this.messages.findIndex(pred);
      if (i >= 0) return this.messages.splice(i, 1)[0];
      if (Date.now() > end) throw new Error(`no ${what} from the adapter; its stderr: ${this.stderr}`);
      await new Promise<void>((r) => {
        this.waiters.push(r);
        setTimeout(r, 200);
      });
    }
  }

  async request(command: string, args: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
    const seq = ++this.seq;
    const body = JSON.stringify({ seq, type: "request", command, arguments: args });
    this.proc.stdin.write(`Content-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`);
    const r = await this.take((m) => m.type === "response" && m.request_seq === seq, `answer to ${command}`);
    assert.ok(r.success, `${command} failed: ${String(r.message)}`);
    return r;
  }

  event(name: string): Promise<Record<string, unknown>> {
    return this.take((m) => m.type === "event" && m.event === name, `${name} event`);
  }
}

const debugpy = ["/usr/lib/python3/dist-packages/debugpy/__init__.py"].some((p) => fs.existsSync(p));

describe("Attach Debugger in the extension, with the real adapter", { skip: debugpy ? false : "python3-debugpy is not installed" }, () => {
  let daemon: TestDaemon;
  const context = { subscriptions: [] as { dispose(): unknown }[] };
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hl-vsdbg-"));

  before(async () => {
    daemon = await TestDaemon.start();
    recorded.settings["hotload.socket"] = daemon.socket;
    recorded.settings["hotload.statusInterval"] = 1;
    recorded.settings["hotload.hotloadctlPath"] = path.join(path.dirname(hotloaddPath()), "hotloadctl");
    ext.activate(context as never);
  });

  after(async () => {
    for (const d of context.subscriptions.splice(0)) d.dispose();
    await daemon.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("the command, the provider, the factory's adapter, and a run that stops at a breakpoint", async () => {
    const mod = path.join(dir, "scaled.py");
    fs.writeFileSync(mod, "def scale(x):\n    y = x * 2\n    return y + 1\n");
    const script = path.join(dir, "script.py");
    fs.writeFileSync(script, "import scaled\nprint('result', scaled.scale(20))\n");
    openEditor(TextDocument.fromFile(script));

    await shim.commands.executeCommand("hotload.attachDebugger");
    const config = recorded.debugStarts.at(-1) as Record<string, unknown>;
    assert.equal(config.type, "hotload");
    assert.equal(config.target, "python:3");
    // F5 without a launch.json: the provider fills in the target
    const provider = recorded.debugProviders.get("hotload");
    const resolved = provider?.resolveDebugConfiguration(undefined, { type: "hotload", request: "attach", name: "" }) as Record<string, unknown>;
    assert.deepEqual([resolved.type, resolved.request, resolved.name, resolved.target, resolved.session], [config.type, config.request, config.name, config.target, config.session]);
    assert.equal(provider?.resolveDebugConfiguration(undefined, { type: "hotload", request: "attach", name: "x", session: "a b" }), undefined);

    const session = { type: "hotload", configuration: config };
    const exe = recorded.debugFactories.get("hotload")?.createDebugAdapterDescriptor(session) as { command: string; args: string[] };
    assert.deepEqual(exe.args, ["--socket", daemon.socket, "debug", "--session", "default", "python:3"]);

    // VS Code runs the adapter and talks DAP to it
    const dap = new Dap(child.spawn(exe.command, exe.args, { stdio: ["pipe", "pipe", "pipe"] }));
    await dap.request("initialize", { clientID: "vscode", adapterID: "hotload", linesStartAt1: true, columnsStartAt1: true, pathFormat: "path" });
    await dap.request("attach", { justMyCode: true });
    const bps = await dap.request("setBreakpoints", { source: { path: mod }, breakpoints: [{ line: 3 }] });
    assert.ok(((bps.body as { breakpoints: { verified: boolean }[] }).breakpoints[0] ?? {}).verified);
    await dap.request("configurationDone");
    await fireDebugSession(true, session);

    // Run File now goes to the session's worker and stops at the breakpoint
    const ran = shim.commands.executeCommand("hotload.runFile");
    const stopped = await dap.event("stopped");
    const thread = (stopped.body as { threadId: number }).threadId;
    const frames = (await dap.request("stackTrace", { threadId: thread })).body as { stackFrames: { id: number; line: number }[] };
    assert.equal(frames.stackFrames[0].line, 3);
    const scopes = (await dap.request("scopes", { frameId: frames.stackFrames[0].id })).body as { scopes: { variablesReference: number }[] };
    const vars = (await dap.request("variables", { variablesReference: scopes.scopes[0].variablesReference })).body as { variables: { name: string; value: string }[] };
    assert.equal(vars.variables.find((v) => v.name === "y")?.value, "40");
    await dap.request("continue", { threadId: thread });
    await ran;
    const ch = recorded.channels.get("Hotload: python:3");
    const end = Date.now() + 15_000;
    while (!/result 41/.test(ch?.text ?? "") && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.match(ch?.text ?? "", /debug session 'default' attached/);
    assert.match(ch?.text ?? "", /in debug session 'default'/);
    assert.match(ch?.text ?? "", /result 41/);

    // the end of the session: the adapter exits, runs go back to any worker
    await dap.request("disconnect", { terminateDebuggee: false });
    dap.proc.stdin.end();
    const status = await new Promise<number | null>((r) => dap.proc.on("exit", r));
    assert.equal(status, 0, dap.stderr);
    await fireDebugSession(false, session);
    assert.match(ch?.text ?? "", /debug session 'default' ended/);
  });
});
