// A private hotloadd for the MCP tests: its own runtime directory, socket,
// configuration and hooks (the build tree's shipped ones: python, blender,
// ...), nothing of the user's read; stopped with SIGTERM and checked to
// have exited cleanly with no sanitizer report.
import * as child from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";

const SANITIZER_RE = /ERROR: (AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer)|runtime error:/;

export const HOTLOADD = process.env.HOTLOAD_HOTLOADD;
export const HOTLOADCTL = process.env.HOTLOAD_HOTLOADCTL;
export const BINARY_DIR = process.env.HOTLOAD_BINARY_DIR;

/** The environment for our children: the sanitizers halt on a report. */
export function sanitizerEnv(extra = {}) {
  const env = { ...process.env, ...extra };
  for (const [k, def] of [
    ["ASAN_OPTIONS", "detect_leaks=1"],
    ["UBSAN_OPTIONS", "print_stacktrace=1"],
  ]) {
    let v = env[k] || def;
    if (!v.includes("halt_on_error=")) v += ":halt_on_error=1";
    env[k] = v;
  }
  return env;
}

function canConnect(p) {
  return new Promise((resolve) => {
    const s = net.createConnection({ path: p });
    s.once("connect", () => {
      s.destroy();
      resolve(true);
    });
    s.once("error", () => resolve(false));
  });
}

export class TestDaemon {
  constructor() {
    if (!HOTLOADD || !HOTLOADCTL || !BINARY_DIR) throw new Error("set HOTLOAD_HOTLOADD, HOTLOAD_HOTLOADCTL and HOTLOAD_BINARY_DIR (run.sh does)");
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "hotload-mcp-"));
    fs.chmodSync(this.dir, 0o700);
    this.socket = path.join(this.dir, "hotloadd.sock");
    this.errPath = path.join(this.dir, "hotloadd.err");
    fs.mkdirSync(path.join(this.dir, "hooks.d"));
  }

  static async start() {
    const d = new TestDaemon();
    await d.launch();
    return d;
  }

  /** What the daemon logged so far. */
  log() {
    try {
      return fs.readFileSync(this.errPath, "utf8");
    } catch {
      return "";
    }
  }

  async launch() {
    const config = path.join(this.dir, "hotloadd.yaml");
    fs.writeFileSync(
      config,
      "listen:\n" +
        `  unix: ${JSON.stringify(this.socket)}\n` +
        '  tcp: ""\n' +
        `hooks_dirs: [${JSON.stringify(path.join(BINARY_DIR, "share", "hotload", "hooks.d"))}, ${JSON.stringify(path.join(this.dir, "hooks.d"))}]\n` +
        "log_level: info\n",
    );
    const err = fs.openSync(this.errPath, "a");
    const proc = child.spawn(HOTLOADD, ["--config", config], {
      stdio: ["ignore", err, err],
      env: sanitizerEnv({ XDG_RUNTIME_DIR: this.dir }),
    });
    fs.closeSync(err);
    this.proc = proc;
    this.exit = new Promise((resolve) => proc.once("exit", (code, sig) => resolve(sig ? 128 + (os.constants.signals[sig] ?? 0) : code)));
    let alive = true;
    void this.exit.then(() => (alive = false));
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && alive) {
      if (fs.existsSync(this.socket) && (await canConnect(this.socket))) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`hotloadd did not get ready:\n${this.log()}`);
  }

  /** SIGTERM; throws when it did not exit with 0 or a sanitizer spoke. */
  async stop() {
    if (!this.proc) return;
    this.proc.kill("SIGTERM");
    const timer = setTimeout(() => this.proc.kill("SIGKILL"), 20_000);
    const status = await this.exit;
    clearTimeout(timer);
    const log = this.log();
    const report = SANITIZER_RE.exec(log);
    if (report) throw new Error(`sanitizer report from hotloadd:\n${log.slice(Math.max(report.index - 200, 0), report.index + 4000)}`);
    if (status !== 0) throw new Error(`hotloadd exited with status ${status}:\n${log.slice(-4000)}`);
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}
