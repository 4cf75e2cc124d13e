// One JSON-mode connection to hotloadd (docs/protocol.md, "JSON mode"): the
// header line, then requests with ids of our own and their events, routed
// by id to whoever sent the request. Only node:net; nothing of VS Code.

import * as net from "node:net";

import { Address, AddressOptions, checkSocketDir, describeAddress, readToken, resolveAddress } from "./address";
import {
  BadArgument,
  ConnectionLost,
  ConnectionRefused,
  DaemonUnavailable,
  HotloadError,
  ProtocolError,
  RequestFailed,
  requestFailure,
} from "./errors";
import { LineReader } from "./lines";
import type { DoneEvent, ReloadedModule } from "./types";

/** `dcc[:version]`, as the header grammar allows it. */
const TARGET_RE = /^[A-Za-z0-9._+-]{1,63}(:[A-Za-z0-9._+-]{1,63})?$/;

export interface ConnectOptions extends AddressOptions {
  /** A file whose first line is the daemon's token (sent over TCP only). Else $HOTLOAD_TOKEN. */
  tokenFile?: string;
  /** Absolute directories the target watches while the connection is open (header `watch=`, at most 4). */
  watch?: string[];
  /** How long connecting may take, in ms (default 5000). */
  connectTimeoutMs?: number;
}

/** Callbacks for the events of one request, called as they arrive. */
export interface RequestHandlers {
  onStdout?(data: string): void;
  onStderr?(data: string): void;
  /** The request was queued: a worker is `starting`, in `backoff`, or all are busy (`queued`). */
  onWaiting?(state: string): void;
  /** Modules the worker reloaded (a `reload` op, or before an exec/eval of a watching target). */
  onReloaded?(modules: ReloadedModule[]): void;
}

/** A request on its way: its id (for `interrupt`) and its `done`. */
export interface PendingRequest {
  readonly id: number;
  /** Resolves with the `done` event when ok, rejects with a RequestFailed subclass when not. */
  readonly done: Promise<DoneEvent>;
}

/** Fields of exec and eval (docs/protocol.md, "Requests"). */
export interface RunOptions {
  /** The file name tracebacks show. */
  file?: string;
  /** `main` (default): the shared namespace; `fresh`: a new one for this request. */
  ns?: "main" | "fresh";
  /** Seconds the code may run (the daemon interrupts it, then escalates). */
  timeout?: number;
  /** Seconds from now by which it must be done, its wait for a worker included. */
  deadline?: number;
  /** The file the code was read from: `__file__`, and its directory first on sys.path. */
  path?: string;
  /** The directory to run in. */
  cwd?: string;
  argv?: string[];
  /** The debug session whose leased worker runs it (`hotloadctl debug`): its breakpoints stop the code. */
  session?: string;
}

export interface RunHandlers extends RequestHandlers {
  /** Keep stdout and stderr in the result (default true; false for output too large to hold twice). */
  collect?: boolean;
  /** Aborting interrupts the request (an `interrupt` op for its id). */
  signal?: AbortSignal;
}

export interface ExecResult {
  done: DoneEvent;
  stdout: string;
  stderr: string;
  reloaded: ReloadedModule[];
  durationMs: number | undefined;
}

export interface EvalResult extends ExecResult {
  /** repr() of the value. */
  value: string;
  /** The value itself, when it is plain JSON (see hasJson). */
  json: unknown;
  hasJson: boolean;
}

interface Pending {
  handlers: RequestHandlers;
  resolve(done: DoneEvent): void;
  reject(err: Error): void;
  handlerError?: unknown;
}

const ERRNO_WORDS: Record<string, string> = {
  ENOENT: "no such file or directory",
  ECONNREFUSED: "connection refused",
  EACCES: "permission denied",
  ENOTSOCK: "not a socket",
  ETIMEDOUT: "timed out",
  EHOSTUNREACH: "no route to host",
};

/** A UTF-16 surrogate without its other half: no UTF-8 for it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Check a target name before it goes into a header. */
export function checkTarget(target: string): void {
  if (!TARGET_RE.test(target))
    throw new BadArgument(`bad target '${target}': expected DCC or DCC:VERSION (letters, digits, . _ + -)`);
}

function headerLine(target: string, address: Address, opts: ConnectOptions): string {
  checkTarget(target);
  let line = `${target} mode=json`;
  if (address.kind === "tcp") {
    const token = readToken(opts.tokenFile, opts.env ?? process.env);
    if (token) line += ` token=${token}`;
  }
  const watch = opts.watch ?? [];
  if (watch.length > 4) throw new BadArgument("at most 4 watched directories per connection");
  for (const dir of watch) {
    if (!dir.startsWith("/") || /[\s\x00-\x1f\x7f]/.test(dir) || Buffer.byteLength(dir) > 511)
      throw new BadArgument(`cannot watch '${dir}' through the header: it must be an absolute path of at most 511 bytes without spaces`);
    line += ` watch=${dir}`;
  }
  if (Buffer.byteLength(line) + 1 > 1024) throw new BadArgument("the header line would be longer than 1024 bytes");
  return line + "\n";
}

export class Connection {
  readonly target: string;
  readonly address: Address;
  private readonly socket: net.Socket;
  private readonly reader: LineReader;
  private readonly pending = new Map<number, Pending>();
  private readonly closeListeners: ((err: HotloadError) => void)[] = [];
  private nextId = 1;
  private closedError: HotloadError | undefined;
  private socketError: Error | undefined;

  /** Connect to the daemon and send the header for target (`dcc[:version]`, or `hotload`). */
  static open(target: string, opts: ConnectOptions = {}): Promise<Connection> {
    let address: Address;
    let header: string;
    try {
      address = resolveAddress(opts);
      header = headerLine(target, address, opts);
      if (address.kind === "unix") checkSocketDir(address.path, opts.uid);
    } catch (e) {
      return Promise.reject(e);
    }
    const where = describeAddress(address);
    const timeoutMs = opts.connectTimeoutMs ?? 5000;
    return new Promise((resolve, reject) => {
      const socket =
        address.kind === "unix" ? net.createConnection({ path: address.path }) : net.createConnection({ host: address.host, port: address.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new DaemonUnavailable(where, `no answer within ${timeoutMs / 1000} s`, "ETIMEDOUT"));
      }, timeoutMs);
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new DaemonUnavailable(where, (err.code && ERRNO_WORDS[err.code]) || err.message, err.code));
      };
      socket.once("error", onError);
      socket.once("connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        if (address.kind === "tcp") socket.setNoDelay(true);
        resolve(new Connection(socket, target, address, header));
      });
    });
  }

  private constructor(socket: net.Socket, target: string, address: Address, header: string) {
    this.socket = socket;
    this.target = target;
    this.address = address;
    this.reader = new LineReader((line) => this.onLine(line));
    socket.on("data", (chunk: Buffer) => {
      try {
        this.reader.push(chunk);
      } catch (e) {
        this.fail(e instanceof HotloadError ? e : new ProtocolError(String(e)));
      }
    });
    socket.on("error", (err) => {
      this.socketError = err;
    });
    socket.on("close", () => {
      const why = this.socketError ? `: ${this.socketError.message}` : "";
      this.fail(new ConnectionLost(`hotloadd closed the connection${why}`));
    });
    socket.write(header);
  }

  /** True once the connection is over; every request after that fails at once. */
  get closed(): boolean {
    return this.closedError !== undefined;
  }

  /** Requests sent and not answered yet. */
  get outstanding(): number {
    return this.pending.size;
  }

  /** Called once when the connection ends, with the reason (ConnectionRefused when the daemon refused it). */
  onClose(listener: (err: HotloadError) => void): void {
    if (this.closedError) listener(this.closedError);
    else this.closeListeners.push(listener);
  }

  /** Send one request; fields undefined are left out. The string `code` of
   * an exec or eval goes after the line as its UTF-8 bytes (`code_bytes`,
   * protocol.md "Code after the line"), as hotloadctl and the Python client
   * send it: it is not escaped here, and the daemon does not decode it as a
   * JSON string, which costs it 8 to 10 µs per KiB. Code with a lone
   * surrogate is not valid text and is refused (BadArgument), as those
   * clients refuse it. */
  request(op: string, fields: Record<string, unknown> = {}, handlers: RequestHandlers = {}): PendingRequest {
    const id = this.nextId++;
    if (this.closedError) return { id, done: Promise.reject(this.closedError) };
    const { code, ...rest } = fields;
    const framed = (op === "exec" || op === "eval") && typeof code === "string";
    let bytes: Buffer | undefined;
    if (framed) {
      const bad = LONE_SURROGATE.exec(code);
      if (bad) return { id, done: Promise.reject(new BadArgument(`the code is not valid text: a lone surrogate at position ${bad.index}`)) };
      bytes = Buffer.from(code, "utf8");
    }
    const done = new Promise<DoneEvent>((resolve, reject) => {
      this.pending.set(id, { handlers, resolve, reject });
    });
    if (bytes) {
      const line = JSON.stringify({ ...rest, id, op, code_bytes: bytes.length }) + "\n";
      this.socket.write(Buffer.concat([Buffer.from(line, "utf8"), bytes]));
    } else {
      this.socket.write(JSON.stringify({ ...fields, id, op }) + "\n");
    }
    return { id, done };
  }

  /** Run statements. Rejects with RemoteException (the code raised), Interrupted, Timeout, WorkerDied, … */
  exec(code: string, opts: RunOptions = {}, handlers: RunHandlers = {}): Promise<ExecResult> {
    return this.run("exec", { ...opts, code }, handlers);
  }

  /** Evaluate one expression. */
  async eval(expr: string, opts: RunOptions = {}, handlers: RunHandlers = {}): Promise<EvalResult> {
    const r = await this.run("eval", { ...opts, code: expr }, handlers);
    return { ...r, value: String(r.done.value ?? ""), json: r.done.json, hasJson: "json" in r.done };
  }

  /** Reload modules (and the modules below packages) in the worker that takes it. Rejects with ReloadFailed. */
  reload(modules: string[], strategy?: "reload" | "purge", handlers: RunHandlers = {}): Promise<ExecResult> {
    return this.run("reload", { modules, strategy }, handlers);
  }

  /** Start the worker if none runs; answers who answered. */
  async ping(): Promise<{ target: string; pid: number }> {
    const done = await this.request("ping").done;
    return { target: String(done.target ?? this.target), pid: Number(done.pid) };
  }

  /** The worker's __main__ namespace starts over. */
  async reset(): Promise<void> {
    await this.request("reset").done;
  }

  /** KeyboardInterrupt in one request of this connection, or all of them; answers how many it hit. */
  async interrupt(requestId?: number): Promise<number> {
    const done = await this.request("interrupt", { request: requestId }).done;
    return Number(done.interrupted ?? 0);
  }

  /** Close now; outstanding requests fail with ConnectionLost. */
  close(): void {
    this.fail(new ConnectionLost("the connection was closed by the client"));
  }

  private async run(op: string, fields: Record<string, unknown>, h: RunHandlers): Promise<ExecResult> {
    const collect = h.collect !== false;
    const out: string[] = [];
    const err: string[] = [];
    const reloaded: ReloadedModule[] = [];
    const p = this.request(op, fields, {
      onStdout: (d) => {
        if (collect) out.push(d);
        h.onStdout?.(d);
      },
      onStderr: (d) => {
        if (collect) err.push(d);
        h.onStderr?.(d);
      },
      onWaiting: h.onWaiting,
      onReloaded: (m) => {
        reloaded.push(...m);
        h.onReloaded?.(m);
      },
    });
    const abort = () => {
      this.interrupt(p.id).catch(() => undefined);
    };
    if (h.signal?.aborted) abort();
    else h.signal?.addEventListener("abort", abort, { once: true });
    try {
      const done = await p.done;
      return { done, stdout: out.join(""), stderr: err.join(""), reloaded, durationMs: done.duration_ms };
    } catch (e) {
      if (e instanceof RequestFailed) {
        e.stdout = out.join("");
        e.stderr = err.join("");
        e.reloaded = reloaded;
      }
      throw e;
    } finally {
      h.signal?.removeEventListener("abort", abort);
    }
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let ev: Record<string, unknown>;
    try {
      ev = JSON.parse(line);
    } catch {
      this.fail(new ProtocolError(`hotloadd sent a line that is not JSON: ${line.slice(0, 200)}`));
      return;
    }
    if (!ev || typeof ev !== "object" || typeof ev.event !== "string") {
      this.fail(new ProtocolError(`hotloadd sent a line that is not an event: ${line.slice(0, 200)}`));
      return;
    }
    if (ev.event === "error" && ev.id === undefined) {
      // The whole connection is refused; the daemon closes after this.
      const error = (ev.error ?? {}) as { type: string; message: string };
      this.fail(new ConnectionRefused({ type: String(error.type ?? "Error"), message: String(error.message ?? "") }));
      return;
    }
    if (typeof ev.id !== "number") return; // an answer to no request of ours
    const p = this.pending.get(ev.id);
    if (!p) return;
    const call = (fn: (() => void) | undefined) => {
      try {
        fn?.();
      } catch (e) {
        if (p.handlerError === undefined) p.handlerError = e;
      }
    };
    switch (ev.event) {
      case "stdout":
        call(p.handlers.onStdout && (() => p.handlers.onStdout!(String(ev.data ?? ""))));
        break;
      case "stderr":
        call(p.handlers.onStderr && (() => p.handlers.onStderr!(String(ev.data ?? ""))));
        break;
      case "waiting":
        call(p.handlers.onWaiting && (() => p.handlers.onWaiting!(String(ev.state ?? ""))));
        break;
      case "reloaded":
        call(p.handlers.onReloaded && (() => p.handlers.onReloaded!((ev.modules ?? []) as ReloadedModule[])));
        break;
      case "done":
      case "error": {
        this.pending.delete(ev.id);
        const done = { ...ev, event: "done", ok: ev.event === "done" && ev.ok === true } as DoneEvent;
        if (p.handlerError !== undefined) p.reject(p.handlerError instanceof Error ? p.handlerError : new Error(String(p.handlerError)));
        else if (done.ok) p.resolve(done);
        else p.reject(requestFailure(done));
        break;
      }
      default:
        break; // an event this client does not know yet
    }
  }

  private fail(err: HotloadError): void {
    if (this.closedError) return;
    this.closedError = err;
    this.socket.destroy();
    const pending = [...this.pending.values()];
    this.pending.clear();
    for (const p of pending) p.reject(err);
    for (const l of this.closeListeners.splice(0)) l(err);
  }
}
