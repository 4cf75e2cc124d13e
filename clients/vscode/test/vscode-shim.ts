// A stand-in for the few parts of the VS Code API the extension uses, so
// that extension.js can be loaded and driven in plain Node against the real
// hotloadd (VS Code itself cannot be run here). It records what the
// extension shows; it is not VS Code, and proves nothing about how VS Code
// renders any of it.

import * as fs from "node:fs";
import * as Module from "node:module";
import * as path from "node:path";

type Listener<T> = (e: T) => unknown;

function emitter<T>() {
  const listeners: Listener<T>[] = [];
  const event = (l: Listener<T>) => {
    listeners.push(l);
    return { dispose: () => listeners.splice(listeners.indexOf(l), 1) };
  };
  return { event, fire: (e: T) => Promise.all(listeners.map((l) => l(e))) };
}

export class Uri {
  private constructor(
    readonly scheme: string,
    readonly path: string,
    readonly fragment = "",
  ) {}
  static file(p: string): Uri {
    return new Uri("file", path.resolve(p));
  }
  static untitled(name: string): Uri {
    return new Uri("untitled", name);
  }
  get fsPath(): string {
    return this.scheme === "file" ? this.path : "";
  }
  with(change: { fragment?: string }): Uri {
    return new Uri(this.scheme, this.path, change.fragment ?? this.fragment);
  }
  toString(): string {
    return `${this.scheme}://${this.path}${this.fragment ? `#${this.fragment}` : ""}`;
  }
}

export class Position {
  constructor(
    readonly line: number,
    readonly character: number,
  ) {}
}

export class Range {
  readonly start: Position;
  readonly end: Position;
  constructor(sl: number, sc: number, el: number, ec: number) {
    this.start = new Position(sl, sc);
    this.end = new Position(el, ec);
  }
}

export class Selection extends Range {
  get isEmpty(): boolean {
    return this.start.line === this.end.line && this.start.character === this.end.character;
  }
  get active(): Position {
    return this.end;
  }
}

export class TextDocument {
  languageId = "python";
  private lines: string[];
  constructor(
    readonly uri: Uri,
    text: string,
  ) {
    this.lines = text.split("\n");
  }
  static fromFile(file: string): TextDocument {
    return new TextDocument(Uri.file(file), fs.readFileSync(file, "utf8"));
  }
  get lineCount(): number {
    return this.lines.length;
  }
  lineAt(i: number) {
    const text = this.lines[i];
    return {
      text,
      lineNumber: i,
      firstNonWhitespaceCharacterIndex: text.length - text.trimStart().length,
      range: new Range(i, 0, i, text.length),
    };
  }
  getText(r?: Range): string {
    if (!r) return this.lines.join("\n");
    const out = this.lines.slice(r.start.line, r.end.line + 1);
    out[out.length - 1] = out[out.length - 1].slice(0, r.end.character);
    out[0] = out[0].slice(r.start.character);
    return out.join("\n");
  }
}

export class OutputChannel {
  text = "";
  shown = 0;
  constructor(readonly name: string) {}
  append(s: string) {
    this.text += s;
  }
  appendLine(s: string) {
    this.text += s + "\n";
  }
  show() {
    this.shown++;
  }
  dispose() {}
}

export class Diagnostic {
  source?: string;
  relatedInformation?: unknown[];
  constructor(
    readonly range: Range,
    readonly message: string,
    readonly severity: number,
  ) {}
}

export class DiagnosticCollection {
  readonly map = new Map<string, Diagnostic[]>();
  get(uri: Uri) {
    return this.map.get(uri.toString());
  }
  set(uri: Uri, list: Diagnostic[]) {
    this.map.set(uri.toString(), list);
  }
  delete(uri: Uri) {
    this.map.delete(uri.toString());
  }
  clear() {
    this.map.clear();
  }
  dispose() {}
}

export class StatusBarItem {
  text = "";
  tooltip: unknown;
  name = "";
  command: unknown;
  backgroundColor: unknown;
  visible = false;
  show() {
    this.visible = true;
  }
  hide() {
    this.visible = false;
  }
  dispose() {}
}

/** What the extension showed, and the settings it reads. */
export const recorded = {
  settings: {} as Record<string, unknown>,
  updates: [] as [string, unknown, number][],
  messages: [] as [string, string][],
  channels: new Map<string, OutputChannel>(),
  statusItems: [] as StatusBarItem[],
  diagnostics: undefined as DiagnosticCollection | undefined,
  linkProviders: [] as { provideDocumentLinks(doc: unknown): { range: Range; target: Uri }[] }[],
  commands: new Map<string, (...a: unknown[]) => unknown>(),
  /** Debugging: the providers and factories registered, and what startDebugging was given. */
  debugProviders: new Map<string, { resolveDebugConfiguration(folder: unknown, config: Record<string, unknown>): unknown }>(),
  debugFactories: new Map<string, { createDebugAdapterDescriptor(session: unknown): unknown }>(),
  debugStarts: [] as Record<string, unknown>[],
  /** Answer the next quick pick with the item this returns. */
  pick: undefined as ((items: { label: string; target?: string; detail?: string }[]) => unknown) | undefined,
  input: undefined as string | undefined,
};

const saved = emitter<TextDocument>();
const config = emitter<{ affectsConfiguration(s: string): boolean }>();
const windowState = emitter<{ focused: boolean }>();
const editorChange = emitter<unknown>();
const openDocuments: TextDocument[] = [];
const debugStarted = emitter<unknown>();
const debugEnded = emitter<unknown>();

/** A debug session as VS Code hands it to the extension's listeners. */
export function fireDebugSession(started: boolean, session: { type: string; configuration: Record<string, unknown> }): Promise<unknown> {
  return (started ? debugStarted : debugEnded).fire(session);
}

export class DebugAdapterExecutable {
  constructor(
    readonly command: string,
    readonly args: string[] = [],
  ) {}
}

function message(kind: string) {
  return (text: string) => {
    recorded.messages.push([kind, text]);
    return Promise.resolve(undefined);
  };
}

export const shim = {
  Uri,
  DebugAdapterExecutable,
  Position,
  Range,
  Selection,
  Diagnostic,
  DiagnosticSeverity: { Error: 0, Warning: 1, Information: 2, Hint: 3 },
  DiagnosticRelatedInformation: class {
    constructor(
      readonly location: unknown,
      readonly message: string,
    ) {}
  },
  Location: class {
    constructor(
      readonly uri: Uri,
      readonly range: Range,
    ) {}
  },
  DocumentLink: class {
    tooltip?: string;
    constructor(
      readonly range: Range,
      readonly target: Uri,
    ) {}
  },
  ThemeColor: class {
    constructor(readonly id: string) {}
  },
  StatusBarAlignment: { Left: 1, Right: 2 },
  QuickPickItemKind: { Separator: -1, Default: 0 },
  ConfigurationTarget: { Global: 1, Workspace: 2, WorkspaceFolder: 3 },
  window: {
    activeTextEditor: undefined as unknown,
    state: { focused: true },
    createOutputChannel(name: string) {
      const ch = new OutputChannel(name);
      recorded.channels.set(name, ch);
      return ch;
    },
    createStatusBarItem() {
      const item = new StatusBarItem();
      recorded.statusItems.push(item);
      return item;
    },
    showInformationMessage: message("info"),
    showWarningMessage: message("warning"),
    showErrorMessage: message("error"),
    showQuickPick(items: { label: string; target?: string }[]) {
      return Promise.resolve(recorded.pick?.(items));
    },
    showInputBox() {
      return Promise.resolve(recorded.input);
    },
    onDidChangeWindowState: windowState.event,
    onDidChangeActiveTextEditor: editorChange.event,
  },
  workspace: {
    textDocuments: openDocuments,
    workspaceFolders: undefined as unknown,
    getWorkspaceFolder: () => undefined,
    getConfiguration(section: string) {
      return {
        get: (key: string, def: unknown) => (`${section}.${key}` in recorded.settings ? recorded.settings[`${section}.${key}`] : def),
        update: (key: string, value: unknown, target: number) => {
          recorded.updates.push([`${section}.${key}`, value, target]);
          recorded.settings[`${section}.${key}`] = value;
          return Promise.resolve();
        },
      };
    },
    openTextDocument: (uri: Uri) => Promise.resolve(TextDocument.fromFile(uri.fsPath)),
    onDidSaveTextDocument: saved.event,
    onDidChangeConfiguration: config.event,
  },
  languages: {
    createDiagnosticCollection() {
      recorded.diagnostics = new DiagnosticCollection();
      return recorded.diagnostics;
    },
    registerDocumentLinkProvider(_selector: unknown, provider: (typeof recorded.linkProviders)[number]) {
      recorded.linkProviders.push(provider);
      return { dispose() {} };
    },
  },
  debug: {
    registerDebugConfigurationProvider(type: string, provider: { resolveDebugConfiguration(folder: unknown, config: Record<string, unknown>): unknown }) {
      recorded.debugProviders.set(type, provider);
      return { dispose: () => recorded.debugProviders.delete(type) };
    },
    registerDebugAdapterDescriptorFactory(type: string, factory: { createDebugAdapterDescriptor(session: unknown): unknown }) {
      recorded.debugFactories.set(type, factory);
      return { dispose: () => recorded.debugFactories.delete(type) };
    },
    startDebugging(_folder: unknown, config: Record<string, unknown>) {
      recorded.debugStarts.push(config);
      return Promise.resolve(true);
    },
    onDidStartDebugSession: debugStarted.event,
    onDidTerminateDebugSession: debugEnded.event,
  },
  commands: {
    registerCommand(name: string, fn: (...a: unknown[]) => unknown) {
      recorded.commands.set(name, fn);
      return { dispose: () => recorded.commands.delete(name) };
    },
    executeCommand(name: string, ...args: unknown[]) {
      return Promise.resolve(recorded.commands.get(name)?.(...args));
    },
  },
};

/** Open a document (it is then among workspace.textDocuments) and make it the active editor with a selection. */
export function openEditor(doc: TextDocument, sel: Selection = new Selection(0, 0, 0, 0)): void {
  if (!openDocuments.includes(doc)) openDocuments.push(doc);
  shim.window.activeTextEditor = { document: doc, selection: sel };
}

export function fireSave(doc: TextDocument): Promise<unknown> {
  return saved.fire(doc);
}

/** Make `require("vscode")` answer the stand-in. */
export function install(): void {
  const M = Module as unknown as { _load(request: string, ...rest: unknown[]): unknown };
  const load = M._load;
  M._load = function (request: string, ...rest: unknown[]) {
    if (request === "vscode") return shim;
    return load.call(this, request, ...rest);
  };
}
