// The real hotloadd for the Node tests: started from the build tree on a
// private socket, configuration and hooks directory (nothing of the user's
// is read), stopped with SIGTERM, and checked to have exited cleanly with no
// sanitizer report, as the C integration tests and the soak test do.
//
// HOTLOAD_HOTLOADD names the binary (CTest sets it); else build/bin/hotloadd
// at the top of the repository.

import * as child from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

export function hotloaddPath(): string {
  const p = process.env.HOTLOAD_HOTLOADD || path.resolve(__dirname, "../../../../build/bin/hotloadd");
  if (!fs.existsSync(p)) throw new Error(`hotloadd not found at ${p}: build it, or set HOTLOAD_HOTLOADD`);
  return p;
}

export interface DaemonOptions {
  /** Listen on TCP loopback too (a free port). */
  tcp?: boolean;
  /** listen.token: required. */
  token?: boolean;
  /** limits.max_payload, e.g. "64K". */
  maxPayload?: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canConnect(opts: net.NetConnectOpts): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createConnection(opts);
    s.once("connect", () => {
      s.destroy(); // a connection closed before any byte is closed quietly
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:/;

export class TestDaemon {
  readonly dir: string;
  readonly socket: string;
  readonly errPath: string;
  port = 0;
  private proc: child.ChildProcess | undefined;
  private exit: Promise<number | null> | undefined;

  private constructor(private readonly opts: DaemonOptions) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "hotload-vscode-"));
    this.socket = path.join(this.dir, "hotloadd.sock");
    this.errPath = path.join(this.dir, "hotloadd.err");
    fs.mkdirSync(path.join(this.dir, "hooks.d"));
  }

  static async start(opts: DaemonOptions = {}): Promise<TestDaemon> {
    const d = new TestDaemon(opts);
    await d.launch();
    return d;
  }

  /** The daemon's token file (in the runtime directory, the socket's). */
  get tokenFile(): string {
    return path.join(this.dir, "token");
  }

  /** A scratch directory for a test's files. */
  scratch(name: string): string {
    const p = path.join(this.dir, "files", name);
    fs.mkdirSync(p, { recursive: true });
    return p;
  }

  stderr(): string {
    try {
      return fs.readFileSync(this.errPath, "utf8");
    } catch {
      return "";
    }
  }

  private async launch(): Promise<void> {
    for (let attempt = 0; attempt < 3; attempt++) {
      this.port = this.opts.tcp ? await freePort() : 0;
      const config = path.join(this.dir, "hotloadd.yaml");
      fs.writeFileSync(
        config,
        "listen:\n" +
          `  unix: ${JSON.stringify(this.socket)}\n` +
          `  tcp: ${JSON.stringify(this.opts.tcp ? `127.0.0.1:${this.port}` : "")}\n` +
          (this.opts.token ? "  token: required\n" : "") +
          `hooks_dirs: [${JSON.stringify(path.join(this.dir, "hooks.d"))}]\n` +
          (this.opts.maxPayload ? `limits:\n  max_payload: ${this.opts.maxPayload}\n` : "") +
          "log_level: info\n",
      );
      const env = { ...process.env };
      for (const [k, def] of [
        ["ASAN_OPTIONS", "detect_leaks=1"],
        ["UBSAN_OPTIONS", "print_stacktrace=1"],
      ]) {
        let v = env[k] || def;
        if (!v.includes("halt_on_error=")) v += ":halt_on_error=1";
        env[k] = v;
      }
      const err = fs.openSync(this.errPath, "a");
      const proc = child.spawn(hotloaddPath(), ["--config", config], { stdio: ["ignore", err, err], env });
      fs.closeSync(err);
      this.proc = proc;
      this.exit = new Promise((resolve) => proc.once("exit", (code, sig) => resolve(sig ? 128 + (os.constants.signals[sig] ?? 0) : code)));
      const deadline = Date.now() + 30_000;
      let alive = true;
      void this.exit.then(() => (alive = false));
      while (Date.now() < deadline && alive) {
        const ready =
          fs.existsSync(this.socket) &&
          (await canConnect({ path: this.socket })) &&
          (!this.opts.tcp || (await canConnect({ host: "127.0.0.1", port: this.port })));
        if (ready) return;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (alive) throw new Error(`hotloadd did not get ready in 30 s:\n${this.stderr()}`);
      if (!/address already in use/i.test(this.stderr())) throw new Error(`hotloadd exited at start:\n${this.stderr()}`);
    }
    throw new Error(`hotloadd found no free port:\n${this.stderr()}`);
  }

  /** SIGTERM; resolves with its exit status, and throws when it was not 0 or a sanitizer spoke. */
  async stop(): Promise<void> {
    if (!this.proc || !this.exit) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc?.kill("SIGKILL"), 20_000);
    const status = await this.exit;
    clearTimeout(timer);
    const err = this.stderr();
    const report = SANITIZER_RE.exec(err);
    if (report) throw new Error(`sanitizer report from hotloadd:\n${err.slice(Math.max(report.index - 200, 0), report.index + 4000)}`);
    if (status !== 0) throw new Error(`hotloadd exited with status ${status}:\n${err.slice(-4000)}`);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
