// The extension's own layer (src/extension.ts), loaded in Node with a
// stand-in for the VS Code API (test/vscode-shim.ts) and driven against the
// real hotloadd: what its commands send, what lands in the output channel,
// the diagnostics, the status bar, reload-on-save. VS Code itself is not
// run: this checks the extension's logic, not VS Code's rendering of it.

import * as assert from "node:assert/strict";
import * as fs from "node:fs";
import * as path from "node:path";
import { after, before, describe, test } from "node:test";

import { TestDaemon } from "./daemon";
import { fireSave, install, openEditor, recorded, Selection, shim, TextDocument, Uri } from "./vscode-shim";

install();
// eslint-disable-next-line @typescript-eslint/no-require-imports
const ext = require("../src/extension") as typeof import("../src/extension");

let daemon: TestDaemon;
const context = { subscriptions: [] as { dispose(): unknown }[] };

function channel() {
  const ch = recorded.channels.get("Hotload: python:3");
  assert.ok(ch, "the target's output channel exists");
  return ch;
}

async function waitFor(what: string, cond: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; output so far:\n${recorded.channels.get("Hotload: python:3")?.text ?? ""}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** Run a command and wait until the output channel has grown by a line that matches. */
async function runAndWait(command: string, done: RegExp, ...args: unknown[]): Promise<string> {
  const start = recorded.channels.get("Hotload: python:3")?.text.length ?? 0;
  await shim.commands.executeCommand(command, ...args);
  let text = "";
  await waitFor(`${done} after ${command}`, () => {
    text = (recorded.channels.get("Hotload: python:3")?.text ?? "").slice(start);
    return done.test(text);
  });
  return text;
}

function diagnosticsOf(file: string) {
  return recorded.diagnostics?.get(Uri.file(file)) ?? [];
}

before(async () => {
  daemon = await TestDaemon.start();
  recorded.settings["hotload.socket"] = daemon.socket;
  recorded.settings["hotload.statusInterval"] = 1;
  ext.activate(context as never);
});

after(async () => {
  for (const d of context.subscriptions.splice(0)) d.dispose();
  await daemon?.stop();
});

describe("the extension against the real daemon", () => {
  test("the status bar shows the target and its state", async () => {
    const item = recorded.statusItems[0];
    await waitFor("a status", () => /python:3: /.test(item.text));
    assert.match(item.text, /python:3: (stopped|idle)/);
    assert.match(String(item.tooltip), /Click to pick a target/);
  });

  test("Run File streams stdout and marked stderr, then ok; the status becomes idle", async () => {
    const dir = daemon.scratch("ext-run");
    const file = path.join(dir, "hello.py");
    fs.writeFileSync(file, "import sys\nprint('hello from', __file__)\nprint('careful', file=sys.stderr)\n");
    openEditor(TextDocument.fromFile(file));
    const text = await runAndWait("hotload.runFile", /── ok/);
    assert.match(text, /── run hello\.py · python:3/);
    assert.ok(text.includes(`hello from ${file}\n`), text);
    assert.ok(text.includes("[stderr] careful\n"), text);
    const item = recorded.statusItems[0];
    await waitFor("idle", () => /python:3: idle/.test(item.text));
    assert.match(String(item.tooltip), /pid \d+/);
  });

  test("a traceback becomes diagnostics on the raising line and links in the output", async () => {
    const dir = daemon.scratch("ext-tb");
    const helper = path.join(dir, "exthelper.py");
    const main = path.join(dir, "extmain.py");
    fs.writeFileSync(helper, "def boom(n):\n    items = [1, 2]\n    return items[n]\n");
    fs.writeFileSync(main, "import exthelper\n\nexthelper.boom(9)\n");
    const doc = TextDocument.fromFile(main);
    const helperDoc = TextDocument.fromFile(helper);
    openEditor(helperDoc);
    openEditor(doc);
    const text = await runAndWait("hotload.runFile", /locations \(innermost last\):\n(.*\n)*.*exthelper\.py:3/);
    assert.match(text, /IndexError: list index out of range/);
    assert.ok(text.includes(`  ${main}:3  in <module>\n  ${helper}:3  in boom\n`), text);

    const [err] = diagnosticsOf(helper);
    assert.ok(err, "a diagnostic on the helper");
    assert.equal(err.severity, shim.DiagnosticSeverity.Error);
    assert.equal(err.message, "IndexError: list index out of range");
    // The range is what the ~~~^^^ markers point at: items[n].
    assert.deepEqual([err.range.start.line, err.range.start.character, err.range.end.line, err.range.end.character], [2, 11, 2, 19]);
    const [call] = diagnosticsOf(main);
    assert.equal(call.severity, shim.DiagnosticSeverity.Information);
    assert.equal(call.range.start.line, 2);

    // The output panel's links open the helper at the line.
    const out = channel().text.split("\n");
    const fakeOutput = {
      uri: { toString: () => "output:extension-output-hotload.hotload-#1-Hotload: python:3" },
      lineCount: out.length,
      lineAt: (i: number) => ({ text: out[i] }),
    };
    const links = recorded.linkProviders[0].provideDocumentLinks(fakeOutput);
    assert.ok(links.some((l) => l.target.path === helper && l.target.fragment === "L3"), "a link to the helper's line 3");

    // The next run starts clean.
    fs.writeFileSync(helper, "def boom(n):\n    return n\n");
    await runAndWait("hotload.runSelectionOrCell", /── ok/);
    assert.equal(diagnosticsOf(helper).length, 0);
  });

  test("Ctrl+Enter runs the cell at the cursor, and errors land on the file's own lines", async () => {
    const dir = daemon.scratch("ext-cells");
    const file = path.join(dir, "cells.py");
    fs.writeFileSync(file, "# %% one\nvalue = 41\n# %% two\nprint('cell two', value + 1)\n# %% three\nmissing_name\n");
    const doc = TextDocument.fromFile(file);
    openEditor(doc, new Selection(3, 0, 3, 0));
    let text = await runAndWait("hotload.runSelectionOrCell", /NameError/);
    assert.match(text, /run cell "two" \(lines 3-4\)/);
    assert.match(text, /NameError: name 'value' is not defined/, "only cell two ran");
    assert.equal(diagnosticsOf(file)[0]?.range.start.line, 3);
    openEditor(doc, new Selection(1, 0, 1, 0));
    await runAndWait("hotload.runSelectionOrCell", /── ok/);
    openEditor(doc, new Selection(3, 0, 3, 0));
    text = await runAndWait("hotload.runSelectionOrCell", /── ok/);
    assert.ok(text.includes("cell two 42\n"), text);

    openEditor(doc, new Selection(5, 0, 5, 12));
    text = await runAndWait("hotload.runSelectionOrCell", /NameError/);
    const [d] = diagnosticsOf(file);
    assert.equal(d.range.start.line, 5);
    assert.match(d.message, /NameError: name 'missing_name' is not defined/);
  });

  test("Interrupt stops a running file; the worker stays warm", async () => {
    const dir = daemon.scratch("ext-int");
    const file = path.join(dir, "sleepy.py");
    // short sleeps: see "interrupt stops sleeping code" in protocol.test.ts
    fs.writeFileSync(file, "import time, os\nprint('pid', os.getpid(), flush=True)\nfor _ in range(3000): time.sleep(0.01)\n");
    openEditor(TextDocument.fromFile(file));
    const start = channel().text.length;
    await shim.commands.executeCommand("hotload.runFile");
    await waitFor("the run to start", () => /pid \d+/.test(channel().text.slice(start)));
    const stop = recorded.statusItems[1];
    assert.ok(stop.visible, "the interrupt button shows while a request runs");
    const pid = /pid (\d+)/.exec(channel().text.slice(start))![1];
    await shim.commands.executeCommand("hotload.interrupt");
    await waitFor("KeyboardInterrupt", () => /KeyboardInterrupt/.test(channel().text.slice(start)));
    await waitFor("the button to go", () => !stop.visible);
    const second = channel().text.length;
    const again = await runAndWait("hotload.runFile", /pid \d+/);
    assert.equal(/pid (\d+)/.exec(again)![1], pid);
    await shim.commands.executeCommand("hotload.interrupt");
    await waitFor("KeyboardInterrupt", () => /KeyboardInterrupt/.test(channel().text.slice(second)));
  });

  test("reload on save reloads the worker's modules of the saved file, failures as diagnostics", async () => {
    const dir = daemon.scratch("ext-reload");
    const mod = path.join(dir, "extsaved.py");
    fs.writeFileSync(mod, "def answer():\n    return 1\n");
    const runner = path.join(dir, "use_saved.py");
    fs.writeFileSync(runner, `import sys\nsys.path.insert(0, ${JSON.stringify(dir)})\nimport extsaved\nprint('answer', extsaved.answer())\n`);
    openEditor(TextDocument.fromFile(runner));
    assert.match(await runAndWait("hotload.runFile", /── ok/), /answer 1/);

    recorded.settings["hotload.reloadOnSave"] = true;
    try {
      const bump = (text: string, n: number) => {
        fs.writeFileSync(mod, text);
        const t = new Date(Date.now() + n * 2000);
        fs.utimesSync(mod, t, t);
      };
      bump("def answer():\n    return 2\n", 1);
      const start = channel().text.length;
      await fireSave(TextDocument.fromFile(mod));
      assert.match(channel().text.slice(start), /reloaded: extsaved: reloaded/);
      openEditor(TextDocument.fromFile(runner), new Selection(3, 0, 3, 0));
      assert.match(await runAndWait("hotload.runSelection", /── ok/), /answer 2/);

      bump("def answer(:\n    return 3\n", 2);
      const modDoc = TextDocument.fromFile(mod);
      openEditor(modDoc);
      await fireSave(modDoc);
      assert.match(channel().text, /reloaded: extsaved: failed/);
      const [d] = diagnosticsOf(mod);
      assert.ok(d, "the failed reload marks the saved file");
      assert.equal(d.range.start.line, 0);
      assert.match(d.message, /SyntaxError/);

      bump("def answer():\n    return 4\n", 3);
      await fireSave(TextDocument.fromFile(mod));
      assert.equal(diagnosticsOf(mod).length, 0, "a good save clears them");
    } finally {
      recorded.settings["hotload.reloadOnSave"] = false;
    }
  });

  test("Pick Target lists the installed versions with worker states and sets the setting", async () => {
    let seen: { label: string; target?: string; detail?: string }[] = [];
    recorded.pick = (items) => {
      seen = items;
      return items.find((i) => i.target === "python:3");
    };
    await shim.commands.executeCommand("hotload.pickTarget");
    const py3 = seen.find((i) => i.target === "python:3");
    assert.ok(py3, "python:3 is offered");
    assert.match(py3.label, /^\$\(check\) python:3$/);
    assert.match(py3.detail ?? "", /idle \(pid \d+/);
    assert.ok(seen.some((i) => i.label === "python" && i.target === undefined), "a separator per hook");
    assert.deepEqual(recorded.updates.at(-1), ["hotload.target", "python:3", shim.ConfigurationTarget.Global]);
  });

  test("Recycle Worker swaps in a fresh interpreter", async () => {
    const dir = daemon.scratch("ext-recycle");
    const file = path.join(dir, "pid.py");
    fs.writeFileSync(file, "import os\nprint('worker', os.getpid())\n");
    openEditor(TextDocument.fromFile(file));
    const before = /worker (\d+)/.exec(await runAndWait("hotload.runFile", /── ok/))![1];
    await shim.commands.executeCommand("hotload.recycle");
    assert.match(recorded.messages.at(-1)![1], /replacing 1 worker/);
    const after = /worker (\d+)/.exec(await runAndWait("hotload.runFile", /── ok/))![1];
    assert.notEqual(after, before);
  });

  test("without a daemon the run says where it looked", async () => {
    const missing = path.join(daemon.dir, "absent", "hotloadd.sock");
    recorded.settings["hotload.socket"] = missing;
    try {
      const text = await runAndWait("hotload.runFile", /cannot connect/);
      assert.ok(text.includes(`cannot connect to hotloadd on unix socket ${missing}`), text);
      await waitFor("an error message", () => recorded.messages.some(([k, m]) => k === "error" && m.includes(missing)));
      const item = recorded.statusItems[0];
      await waitFor("no daemon in the status bar", () => /no daemon/.test(item.text), 5000);
    } finally {
      recorded.settings["hotload.socket"] = daemon.socket;
    }
  });
});
