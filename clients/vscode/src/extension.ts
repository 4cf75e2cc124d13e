// The VS Code side of hotload: commands, the status bar, output channels,
// diagnostics and reload-on-save. Kept thin on purpose: talking to the
// daemon is src/protocol (tested in Node against the real hotloadd), and
// what tracebacks, cells, targets and modules mean is in pure modules
// tested the same way. What is left here is what only VS Code can run.

import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import * as vscode from "vscode";

import { cellAt, codeForRange, hasCells } from "./cells";
import { adapterCommand, attachConfiguration, completeConfiguration, DEBUG_TYPE, HotloadDebugConfiguration } from "./debugconfig";
import { guessModuleName, modulesOfFileExpr } from "./modules";
import { StreamMarker } from "./output";
import {
  ConnectOptions,
  Connection,
  ConnectionRefused,
  ControlClient,
  DaemonStatus,
  DaemonUnavailable,
  HookInfo,
  HotloadError,
  Interrupted,
  ReloadedModule,
  RequestFailed,
  RunOptions,
  Timeout,
  WorkerDied,
} from "./protocol";
import { resolveTarget, summarizeTarget, targetItems, TargetState } from "./targets";
import { findLocations, Frame, frameLocation, innermostFrame, isLocalFile, parseTraceback } from "./traceback";

type Reveal = "always" | "onError" | "never";

interface Settings {
  target: string;
  hotloadctl: string;
  connect: ConnectOptions;
  timeout: number | undefined;
  reloadOnSave: boolean;
  statusInterval: number;
  revealOutput: Reveal;
}

function expandHome(p: string): string {
  return p.startsWith("~/") ? path.join(os.homedir(), p.slice(2)) : p;
}

function readSettings(scope?: vscode.Uri): Settings {
  const c = vscode.workspace.getConfiguration("hotload", scope);
  const timeout = c.get<number>("timeout", 0);
  return {
    target: c.get<string>("target", "python:3").trim() || "python:3",
    hotloadctl: expandHome(c.get<string>("hotloadctlPath", "hotloadctl").trim()) || "hotloadctl",
    connect: {
      socket: expandHome(c.get<string>("socket", "").trim()) || undefined,
      tcp: c.get<string>("tcp", "").trim() || undefined,
      tokenFile: expandHome(c.get<string>("tokenFile", "").trim()) || undefined,
    },
    timeout: timeout > 0 ? timeout : undefined,
    reloadOnSave: c.get<boolean>("reloadOnSave", false),
    statusInterval: Math.max(c.get<number>("statusInterval", 5), 1),
    revealOutput: c.get<Reveal>("revealOutput", "always"),
  };
}

const STATE_ICON: Record<TargetState | "unavailable", string> = {
  idle: "$(zap)",
  busy: "$(sync~spin)",
  starting: "$(loading~spin)",
  stopping: "$(loading~spin)",
  stopped: "$(circle-outline)",
  backoff: "$(warning)",
  failed: "$(error)",
  unknown: "$(question)",
  unavailable: "$(circle-slash)",
};

class Hotload implements vscode.Disposable {
  private readonly conns = new Map<string, Promise<Connection>>();
  private control: { key: string; p: Promise<ControlClient> } | undefined;
  private readonly channels = new Map<string, vscode.OutputChannel>();
  private readonly diagnostics = vscode.languages.createDiagnosticCollection("hotload");
  /** Names sent as `file` for documents that have no path (untitled), to find them in tracebacks. */
  private readonly pseudoFiles = new Map<string, vscode.Uri>();
  private readonly running = new Set<Connection>();
  private readonly status = vscode.window.createStatusBarItem("hotload.target", vscode.StatusBarAlignment.Left, 50);
  private readonly stop = vscode.window.createStatusBarItem("hotload.interrupt", vscode.StatusBarAlignment.Left, 49);
  private hooks: { list: HookInfo[]; at: number } | undefined;
  private pollTimer: NodeJS.Timeout | undefined;
  private polling = false;
  private disposed = false;
  /** Debug sessions running, by target: runs of that target go to the session's worker. */
  private readonly debugSessions = new Map<string, string>();

  constructor() {
    this.status.name = "Hotload Target";
    this.status.command = "hotload.pickTarget";
    this.status.text = `$(zap) ${readSettings().target}`;
    this.status.show();
    this.stop.name = "Hotload Interrupt";
    this.stop.text = "$(debug-stop)";
    this.stop.tooltip = "Hotload: interrupt the running request";
    this.stop.command = "hotload.interrupt";
  }

  // ---- connections -------------------------------------------------------

  private connectionKey(s: Settings): string {
    return JSON.stringify([s.target, s.connect.socket, s.connect.tcp, s.connect.tokenFile]);
  }

  private connection(s: Settings): Promise<Connection> {
    const key = this.connectionKey(s);
    let p = this.conns.get(key);
    if (!p) {
      p = Connection.open(s.target, s.connect);
      this.conns.set(key, p);
      p.then(
        (c) => c.onClose(() => this.conns.get(key) === p && this.conns.delete(key)),
        () => this.conns.get(key) === p && this.conns.delete(key),
      );
    }
    return p;
  }

  private controlClient(s: Settings): Promise<ControlClient> {
    const key = this.connectionKey({ ...s, target: "hotload" });
    if (this.control?.key !== key) {
      this.control?.p.then((c) => c.close(), () => undefined);
      const p = ControlClient.open(s.connect);
      const entry = { key, p };
      this.control = entry;
      const forget = () => this.control === entry && (this.control = undefined);
      p.then((c) => c.connection.onClose(forget), forget);
    }
    return this.control.p;
  }

  /** Connection settings changed: drop every connection, so the next request uses the new ones. */
  resetConnections(): void {
    for (const p of this.conns.values()) p.then((c) => c.close(), () => undefined);
    this.conns.clear();
    this.control?.p.then((c) => c.close(), () => undefined);
    this.control = undefined;
    this.hooks = undefined;
  }

  private async hookList(s: Settings, fresh = false): Promise<HookInfo[]> {
    if (!fresh && this.hooks && Date.now() - this.hooks.at < 60_000) return this.hooks.list;
    const list = await (await this.controlClient(s)).list();
    this.hooks = { list, at: Date.now() };
    return list;
  }

  // ---- output --------------------------------------------------------------

  private channel(target: string): vscode.OutputChannel {
    let ch = this.channels.get(target);
    if (!ch) {
      ch = vscode.window.createOutputChannel(`Hotload: ${target}`);
      this.channels.set(target, ch);
    }
    return ch;
  }

  showOutput(): void {
    this.channel(readSettings(vscode.window.activeTextEditor?.document.uri).target).show(true);
  }

  /** The document a traceback's file names, when it is one of ours to mark. */
  private uriOf(file: string): vscode.Uri | undefined {
    const pseudo = this.pseudoFiles.get(file);
    if (pseudo) return pseudo;
    if (!isLocalFile(file)) return undefined;
    const uri = vscode.Uri.file(file);
    const open = vscode.workspace.textDocuments.some((d) => d.uri.fsPath === uri.fsPath);
    if (open || (vscode.workspace.getWorkspaceFolder(uri) && fs.existsSync(file))) return uri;
    return undefined;
  }

  private rangeOf(uri: vscode.Uri, frame: Frame): vscode.Range {
    const line = Math.max(frame.line - 1, 0);
    const doc = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (!doc || line >= doc.lineCount) return new vscode.Range(line, 0, line, 1000);
    const text = doc.lineAt(line);
    const first = text.firstNonWhitespaceCharacterIndex;
    if (frame.column !== undefined && frame.endColumn !== undefined && frame.endColumn > frame.column)
      return new vscode.Range(line, first + frame.column, line, first + frame.endColumn);
    return new vscode.Range(line, first, line, Math.max(text.range.end.character, first + 1));
  }

  /** Mark a traceback: an error where it was raised, a note on each line that called it. */
  private markTraceback(traceback: string, fallback: string): void {
    const tb = parseTraceback(traceback);
    const exception = tb.exception ?? fallback;
    const raised = innermostFrame(tb, (f) => this.uriOf(f.file) !== undefined);
    if (!raised) return;
    const byUri = new Map<string, { uri: vscode.Uri; list: vscode.Diagnostic[] }>();
    const add = (uri: vscode.Uri, d: vscode.Diagnostic) => {
      const k = uri.toString();
      if (!byUri.has(k)) byUri.set(k, { uri, list: [...(this.diagnostics.get(uri) ?? [])] });
      byUri.get(k)!.list.push(d);
    };
    const raisedUri = this.uriOf(raised.file)!;
    const main = new vscode.Diagnostic(this.rangeOf(raisedUri, raised), exception, vscode.DiagnosticSeverity.Error);
    main.source = "hotload";
    main.relatedInformation = tb.frames
      .filter((f) => f !== raised && this.uriOf(f.file))
      .map((f) => new vscode.DiagnosticRelatedInformation(new vscode.Location(this.uriOf(f.file)!, this.rangeOf(this.uriOf(f.file)!, f)), `${f.name ?? ""} ${frameLocation(f)}`.trim()));
    add(raisedUri, main);
    for (const f of tb.frames) {
      const uri = f === raised ? undefined : this.uriOf(f.file);
      if (!uri) continue;
      const d = new vscode.Diagnostic(this.rangeOf(uri, f), `called here, then ${exception}`, vscode.DiagnosticSeverity.Information);
      d.source = "hotload";
      add(uri, d);
    }
    for (const { uri, list } of byUri.values()) this.diagnostics.set(uri, list);
  }

  /** The traceback's files as `file:line` lines, which the output panel makes clickable. */
  private writeLocations(ch: vscode.OutputChannel, traceback: string): void {
    const frames = parseTraceback(traceback).frames.filter((f) => isLocalFile(f.file) || this.pseudoFiles.has(f.file));
    if (!frames.length) return;
    ch.appendLine("locations (innermost last):");
    for (const f of frames) {
      const file = this.pseudoFiles.get(f.file)?.fsPath ?? f.file;
      ch.appendLine(`  ${file}:${f.line}${f.name ? `  in ${f.name}` : ""}`);
    }
  }

  private writeReloaded(ch: vscode.OutputChannel, modules: ReloadedModule[], all = false): void {
    for (const m of modules) {
      if (m.status === "unchanged" && !all) continue;
      ch.appendLine(`reloaded: ${m.module}: ${m.status}${m.note ? ` (${m.note})` : ""}`);
      if (m.status === "failed" && m.error) {
        const tb = m.error.traceback || `${m.error.type}: ${m.error.message}\n`;
        ch.append(tb.endsWith("\n") ? tb : tb + "\n");
        this.writeLocations(ch, tb);
        this.markTraceback(tb, `${m.error.type}: ${m.error.message}`);
      } else if (m.file && (m.status === "reloaded" || m.status === "purged")) {
        this.diagnostics.delete(vscode.Uri.file(m.file));
      }
    }
  }

  /** Say what went wrong, in the channel and, for what needs the user, in a message. */
  private report(ch: vscode.OutputChannel, e: unknown, s: Settings): void {
    if (e instanceof RequestFailed) {
      if (e.traceback) {
        ch.append(e.traceback.endsWith("\n") ? e.traceback : e.traceback + "\n");
        if (e instanceof Timeout) ch.appendLine(`${e.type}: ${e.message}`);
        this.writeLocations(ch, e.traceback);
        if (!(e instanceof Interrupted) && !(e instanceof Timeout)) this.markTraceback(e.traceback, `${e.type}: ${e.message}`);
      } else {
        ch.appendLine(`${e.type}: ${e.message}`);
      }
      if (e instanceof WorkerDied && e.stderrTail) ch.appendLine(`the worker's last stderr:\n${e.stderrTail}`);
      return;
    }
    const msg = e instanceof Error ? e.message : String(e);
    ch.appendLine(msg);
    if (e instanceof DaemonUnavailable) {
      void vscode.window.showErrorMessage(`Hotload: ${msg}`, "Open Settings").then((b) => {
        if (b) void vscode.commands.executeCommand("workbench.action.openSettings", "hotload.");
      });
    } else if (e instanceof ConnectionRefused && (e.type === "UnknownTarget" || e.type === "NotInstalled")) {
      void vscode.window.showErrorMessage(`Hotload: ${s.target}: ${e.error.message.split("\n")[0]}`, "Pick Target").then((b) => {
        if (b) void vscode.commands.executeCommand("hotload.pickTarget");
      });
    } else if (!(e instanceof HotloadError)) {
      void vscode.window.showErrorMessage(`Hotload: ${msg}`);
    }
  }

  // ---- running code ------------------------------------------------------

  /** The `file` to send for a document: its path, or a name for an untitled one. */
  private fileName(doc: vscode.TextDocument): string {
    if (doc.uri.scheme === "file") return doc.uri.fsPath;
    const name = `<${doc.uri.scheme}:${doc.uri.path}>`.replace(/\s/g, "_");
    this.pseudoFiles.set(name, doc.uri);
    return name;
  }

  private async run(doc: vscode.TextDocument, code: string, what: string, extra: RunOptions = {}): Promise<void> {
    const s = readSettings(doc.uri);
    const ch = this.channel(s.target);
    if (s.revealOutput === "always") ch.show(true);
    const folder = vscode.workspace.getWorkspaceFolder(doc.uri);
    ch.appendLine(`── ${what} · ${s.target} · ${new Date().toLocaleTimeString()} ──`);
    this.diagnostics.clear(); // what the last run reported is stale now
    const marker = new StreamMarker();
    let conn: Connection | undefined;
    try {
      conn = await this.connection(s);
      const session = this.debugSessions.get(s.target);
      if (session) ch.appendLine(`(in debug session '${session}': breakpoints stop it)`);
      const pending = conn.exec(
        code,
        { file: this.fileName(doc), timeout: s.timeout, cwd: folder?.uri.scheme === "file" ? folder.uri.fsPath : undefined, session, ...extra },
        {
          collect: false,
          onStdout: (d) => ch.append(marker.write("stdout", d)),
          onStderr: (d) => ch.append(marker.write("stderr", d)),
          onWaiting: (state) => {
            ch.append(marker.end());
            ch.appendLine(`(waiting: ${state === "starting" ? "the worker is starting" : state === "backoff" ? "the target restarts after a crash" : "the worker is busy"})`);
            this.schedulePoll(0);
          },
          onReloaded: (m) => {
            ch.append(marker.end());
            this.writeReloaded(ch, m);
          },
        },
      );
      this.running.add(conn); // after the request is sent: the stop button is for outstanding requests
      this.showRunning();
      const r = await pending;
      ch.append(marker.end());
      ch.appendLine(`── ok${r.durationMs !== undefined ? ` in ${r.durationMs.toFixed(1)} ms` : ""} ──`);
    } catch (e) {
      ch.append(marker.end());
      this.report(ch, e, s);
      if (s.revealOutput === "onError") ch.show(true);
    } finally {
      if (conn && !conn.outstanding) this.running.delete(conn);
      this.showRunning();
      this.schedulePoll(0);
    }
  }

  /** Hotload: Attach Debugger — a debug session in a warm worker of the active target. */
  async attachDebugger(): Promise<void> {
    const s = readSettings(this.editor()?.document.uri);
    const folder = this.editor() ? vscode.workspace.getWorkspaceFolder(this.editor()!.document.uri) : undefined;
    await vscode.debug.startDebugging(folder, attachConfiguration(s.target));
  }

  /** F5 and launch.json: fill in the active target and the default session. */
  resolveDebugConfiguration(config: vscode.DebugConfiguration): vscode.DebugConfiguration | undefined {
    try {
      return completeConfiguration(config as Partial<HotloadDebugConfiguration>, readSettings(this.editor()?.document.uri).target);
    } catch (e) {
      void vscode.window.showErrorMessage(`Hotload: ${(e as Error).message}`);
      return undefined; // VS Code then starts nothing
    }
  }

  /** The adapter of a hotload debug session: hotloadctl debug, DAP on its stdin/stdout. */
  debugAdapter(session: vscode.DebugSession): vscode.DebugAdapterDescriptor {
    const s = readSettings(this.editor()?.document.uri);
    const { command, args } = adapterCommand(session.configuration as HotloadDebugConfiguration, s.connect, s.hotloadctl);
    return new vscode.DebugAdapterExecutable(command, args);
  }

  debugStarted(session: vscode.DebugSession): void {
    const c = session.configuration as HotloadDebugConfiguration;
    if (session.type !== DEBUG_TYPE || !c.target || !c.session) return;
    this.debugSessions.set(c.target, c.session);
    this.channel(c.target).appendLine(`── debug session '${c.session}' attached: runs of ${c.target} stop at breakpoints ──`);
    this.schedulePoll(0);
  }

  debugEnded(session: vscode.DebugSession): void {
    const c = session.configuration as HotloadDebugConfiguration;
    if (session.type !== DEBUG_TYPE || !c.target || this.debugSessions.get(c.target) !== c.session) return;
    this.debugSessions.delete(c.target);
    this.channel(c.target).appendLine(`── debug session '${c.session}' ended: its worker is recycled ──`);
    this.schedulePoll(0);
  }

  private editor(): vscode.TextEditor | undefined {
    const ed = vscode.window.activeTextEditor;
    if (!ed) void vscode.window.showInformationMessage("Hotload: open a Python file first.");
    return ed;
  }

  runFile(uri?: vscode.Uri): void {
    const doc = uri ? vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString()) : this.editor()?.document;
    if (!doc) {
      if (uri) void vscode.workspace.openTextDocument(uri).then((d) => this.runFile(d.uri));
      return;
    }
    const name = path.basename(doc.uri.fsPath || doc.uri.path);
    void this.run(doc, doc.getText(), `run ${name}`, doc.uri.scheme === "file" ? { path: doc.uri.fsPath } : {});
  }

  runSelection(): void {
    const ed = this.editor();
    if (!ed) return;
    const sel = ed.selection;
    if (sel.isEmpty) {
      const line = ed.document.lineAt(sel.active.line);
      void this.run(ed.document, codeForRange(line.text, line.lineNumber), `run line ${line.lineNumber + 1}`);
      return;
    }
    const text = ed.document.getText(new vscode.Range(sel.start.line, 0, sel.end.line, sel.end.character));
    const from = sel.start.line + 1, to = sel.end.line + 1;
    void this.run(ed.document, codeForRange(text, sel.start.line), from === to ? `run line ${from}` : `run lines ${from}-${to}`);
  }

  runCell(): void {
    const ed = this.editor();
    if (!ed) return;
    const lines = Array.from({ length: ed.document.lineCount }, (_, i) => ed.document.lineAt(i).text);
    const cell = cellAt(lines, ed.selection.active.line);
    if (cell.kind === "markdown") {
      void vscode.window.showInformationMessage("Hotload: this is a markdown cell; nothing to run.");
      return;
    }
    const text = lines.slice(cell.start, cell.end + 1).join("\n");
    const title = cell.title ? ` "${cell.title}"` : "";
    void this.run(ed.document, codeForRange(text, cell.start), `run cell${title} (lines ${cell.start + 1}-${cell.end + 1})`);
  }

  /** Ctrl+Enter: the selection, else the cell when the file has `# %%` cells, else the line. */
  runSelectionOrCell(): void {
    const ed = this.editor();
    if (!ed) return;
    if (!ed.selection.isEmpty) return this.runSelection();
    const lines = Array.from({ length: ed.document.lineCount }, (_, i) => ed.document.lineAt(i).text);
    if (hasCells(lines)) return this.runCell();
    return this.runSelection();
  }

  async interrupt(): Promise<void> {
    const s = readSettings(vscode.window.activeTextEditor?.document.uri);
    const ours = [...this.running].filter((c) => !c.closed && c.outstanding);
    if (ours.length) {
      const hit = (await Promise.all(ours.map((c) => c.interrupt().catch(() => 0)))).reduce((a, b) => a + b, 0);
      if (!hit) void vscode.window.showInformationMessage("Hotload: the request had already finished.");
      return;
    }
    const pick = await vscode.window.showWarningMessage(
      `Hotload: nothing sent from VS Code is running. Interrupt whatever runs in ${s.target} (another client's request)?`,
      "Interrupt",
    );
    if (!pick) return;
    try {
      const [r] = await (await this.controlClient(s)).interrupt(s.target);
      void vscode.window.showInformationMessage(`Hotload: interrupted ${r?.interrupted ?? 0} request(s) in ${s.target}.`);
    } catch (e) {
      this.report(this.channel(s.target), e, s);
    }
  }

  async recycle(): Promise<void> {
    const s = readSettings(vscode.window.activeTextEditor?.document.uri);
    try {
      const [r] = await (await this.controlClient(s)).recycle(s.target);
      void vscode.window.showInformationMessage(
        `Hotload: ${s.target}: ${r?.recycled ? `replacing ${r.recycled} worker(s) with fresh ones (a running request finishes first)` : "no worker to replace; the next request starts a fresh one"}.`,
      );
    } catch (e) {
      this.report(this.channel(s.target), e, s);
      void vscode.window.showErrorMessage(`Hotload: ${e instanceof Error ? e.message : String(e)}`);
    }
    this.schedulePoll(0);
  }

  async reloadModules(): Promise<void> {
    const doc = vscode.window.activeTextEditor?.document;
    const s = readSettings(doc?.uri);
    const guess =
      doc?.uri.scheme === "file" ? guessModuleName(doc.uri.fsPath, (d) => fs.existsSync(path.join(d, "__init__.py"))) : undefined;
    const input = await vscode.window.showInputBox({
      title: `Hotload: Reload Modules in ${s.target}`,
      prompt: "Modules or packages to reload (a package includes the modules below it), separated by spaces",
      value: guess ? guess.split(".")[0] : "",
    });
    const modules = input?.split(/[\s,]+/).filter(Boolean);
    if (!modules?.length) return;
    await this.reload(s, modules, true);
  }

  private async reload(s: Settings, modules: string[], explicit: boolean): Promise<void> {
    const ch = this.channel(s.target);
    if (explicit && s.revealOutput === "always") ch.show(true);
    ch.appendLine(`── reload ${modules.join(" ")} · ${s.target} ──`);
    const marker = new StreamMarker();
    try {
      const conn = await this.connection(s);
      await conn.reload(modules, "reload", {
        collect: false,
        onStdout: (d) => ch.append(marker.write("stdout", d)),
        onStderr: (d) => ch.append(marker.write("stderr", d)),
        onReloaded: (m) => {
          ch.append(marker.end());
          this.writeReloaded(ch, m, explicit);
        },
      });
      ch.append(marker.end());
    } catch (e) {
      ch.append(marker.end());
      if (!(e instanceof RequestFailed && e.type === "ReloadFailed")) this.report(ch, e, s);
      if (s.revealOutput !== "never") ch.show(true);
    }
  }

  /**
   * Reload on save: ask the worker which loaded modules are the saved file
   * (exact, where a guess from directories is not), then reload those.
   * Nothing is started for it: a target without a worker imports the new
   * file anyway when it starts.
   */
  async onSave(doc: vscode.TextDocument): Promise<void> {
    if (doc.languageId !== "python" || doc.uri.scheme !== "file") return;
    const s = readSettings(doc.uri);
    if (!s.reloadOnSave) return;
    try {
      const status = await (await this.controlClient(s)).status();
      const name = resolveTarget(await this.hookList(s), s.target);
      if (!name || !status.targets.some((t) => t.target === name && t.workers.some((w) => w.state === "idle" || w.state === "busy")))
        return;
      const conn = await this.connection(s);
      const found = await conn.eval(modulesOfFileExpr(doc.uri.fsPath), { ns: "fresh" });
      const modules = Array.isArray(found.json) ? (found.json as string[]) : [];
      if (modules.length) await this.reload(s, modules, false);
      else this.diagnostics.delete(doc.uri);
    } catch (e) {
      if (!(e instanceof DaemonUnavailable)) this.report(this.channel(s.target), e, s);
    }
  }

  // ---- targets and the status bar ----------------------------------------

  async pickTarget(): Promise<void> {
    const s = readSettings(vscode.window.activeTextEditor?.document.uri);
    let hooks: HookInfo[];
    let status: DaemonStatus | undefined;
    try {
      const control = await this.controlClient(s);
      [hooks, status] = await Promise.all([this.hookList(s, true), control.status()]);
    } catch (e) {
      void vscode.window.showErrorMessage(`Hotload: ${e instanceof Error ? e.message : String(e)}`);
      return;
    }
    type Item = vscode.QuickPickItem & { target?: string };
    const items: Item[] = [];
    let hook = "";
    for (const t of targetItems(hooks, status)) {
      if (t.hook !== hook) {
        hook = t.hook;
        items.push({ label: hook, kind: vscode.QuickPickItemKind.Separator });
      }
      items.push({ label: `${t.target === s.target ? "$(check) " : ""}${t.label}`, description: t.description, detail: t.detail, target: t.target });
    }
    const picked = await vscode.window.showQuickPick(items, {
      title: "Hotload: Pick Target",
      placeHolder: `now: ${s.target}; the versions installed on this machine, with their workers`,
      matchOnDescription: true,
      matchOnDetail: true,
    });
    if (!picked?.target) return;
    const where = vscode.workspace.workspaceFolders?.length ? vscode.ConfigurationTarget.Workspace : vscode.ConfigurationTarget.Global;
    await vscode.workspace.getConfiguration("hotload").update("target", picked.target, where);
    this.schedulePoll(0);
  }

  private showRunning(): void {
    for (const c of this.running) if (c.closed || !c.outstanding) this.running.delete(c);
    if (this.running.size) this.stop.show();
    else this.stop.hide();
  }

  private showState(target: string, state: TargetState | "unavailable", detail: string): void {
    this.status.text = `${STATE_ICON[state]} ${target}: ${state === "unavailable" ? "no daemon" : state}`;
    this.status.tooltip = `${detail}\nClick to pick a target.`;
    this.status.backgroundColor =
      state === "failed" || state === "unavailable"
        ? new vscode.ThemeColor("statusBarItem.errorBackground")
        : state === "backoff"
          ? new vscode.ThemeColor("statusBarItem.warningBackground")
          : undefined;
  }

  /** Ask for status once; every few seconds while the window has focus, and after each request. */
  private async poll(): Promise<void> {
    if (this.polling || this.disposed) return;
    this.polling = true;
    const s = readSettings(vscode.window.activeTextEditor?.document.uri);
    try {
      const control = await this.controlClient(s);
      const status = await control.status();
      const name = resolveTarget(await this.hookList(s), s.target);
      if (!name) this.showState(s.target, "unknown", `${s.target} is not installed here, or no hook has that name`);
      else {
        const sum = summarizeTarget(status, name);
        this.showState(s.target, sum.state, `${sum.detail}\nhotloadd ${status.daemon.version}, pid ${status.daemon.pid}`);
      }
    } catch (e) {
      this.showState(s.target, "unavailable", e instanceof Error ? e.message : String(e));
    } finally {
      this.polling = false;
      this.schedulePoll(s.statusInterval * 1000);
    }
  }

  schedulePoll(ms: number): void {
    if (this.disposed) return;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.pollTimer = setTimeout(() => {
      this.pollTimer = undefined;
      // Out of focus nothing is asked: regaining focus polls again.
      if (vscode.window.state.focused || ms === 0) void this.poll();
    }, ms);
  }

  dispose(): void {
    this.disposed = true;
    if (this.pollTimer) clearTimeout(this.pollTimer);
    this.resetConnections();
    for (const ch of this.channels.values()) ch.dispose();
    this.diagnostics.dispose();
    this.status.dispose();
    this.stop.dispose();
  }
}

/**
 * Links in hotload's output channels for traceback frames and `file:line`
 * locations of files on disk (the output panel links only paths inside the
 * workspace by itself).
 */
const outputLinks: vscode.DocumentLinkProvider = {
  provideDocumentLinks(doc) {
    // An output channel's URI holds the extension's id (hotload.hotload) and the channel's name.
    if (!decodeURIComponent(doc.uri.toString()).toLowerCase().includes("hotload")) return [];
    const links: vscode.DocumentLink[] = [];
    for (let i = 0; i < doc.lineCount; i++) {
      const text = doc.lineAt(i).text;
      for (const m of findLocations(text)) {
        if (!fs.existsSync(m.file)) continue;
        const link = new vscode.DocumentLink(new vscode.Range(i, m.start, i, m.end), vscode.Uri.file(m.file).with({ fragment: `L${m.line}` }));
        link.tooltip = `open ${m.file} at line ${m.line}`;
        links.push(link);
      }
    }
    return links;
  },
};

export function activate(context: vscode.ExtensionContext): void {
  const h = new Hotload();
  const cmd = (name: string, fn: (...args: never[]) => unknown) => vscode.commands.registerCommand(`hotload.${name}`, fn);
  context.subscriptions.push(
    h,
    cmd("runFile", (uri?: vscode.Uri) => h.runFile(uri)),
    cmd("runSelection", () => h.runSelection()),
    cmd("runCell", () => h.runCell()),
    cmd("runSelectionOrCell", () => h.runSelectionOrCell()),
    cmd("reloadModules", () => h.reloadModules()),
    cmd("interrupt", () => h.interrupt()),
    cmd("recycle", () => h.recycle()),
    cmd("pickTarget", () => h.pickTarget()),
    cmd("showOutput", () => h.showOutput()),
    cmd("attachDebugger", () => h.attachDebugger()),
    vscode.debug.registerDebugConfigurationProvider(DEBUG_TYPE, {
      resolveDebugConfiguration: (_folder, config) => h.resolveDebugConfiguration(config),
    }),
    vscode.debug.registerDebugAdapterDescriptorFactory(DEBUG_TYPE, {
      createDebugAdapterDescriptor: (session) => h.debugAdapter(session),
    }),
    vscode.debug.onDidStartDebugSession((session) => h.debugStarted(session)),
    vscode.debug.onDidTerminateDebugSession((session) => h.debugEnded(session)),
    vscode.workspace.onDidSaveTextDocument((doc) => h.onSave(doc)),
    vscode.languages.registerDocumentLinkProvider({ scheme: "output" }, outputLinks),
    vscode.workspace.onDidChangeConfiguration((e) => {
      if (["socket", "tcp", "tokenFile"].some((k) => e.affectsConfiguration(`hotload.${k}`))) h.resetConnections();
      if (e.affectsConfiguration("hotload")) h.schedulePoll(0);
    }),
    vscode.window.onDidChangeWindowState((w) => w.focused && h.schedulePoll(0)),
    vscode.window.onDidChangeActiveTextEditor(() => h.schedulePoll(0)),
  );
  h.schedulePoll(0);
}

export function deactivate(): void {
  // Everything is in context.subscriptions.
}
