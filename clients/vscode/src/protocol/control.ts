// The control target (`hotload mode=json`, docs/protocol.md "The control
// target"): status, list and the per-target ops, over one connection that
// can be kept open for many requests (a status bar polls through it).

import { ConnectOptions, Connection } from "./connection";
import type { DaemonStatus, HookInfo, LogEntry, TargetResult } from "./types";

type Targets = string | string[];

function targetsField(targets: Targets): Record<string, unknown> {
  return Array.isArray(targets) ? { targets } : { target: targets };
}

export class ControlClient {
  private constructor(private readonly conn: Connection) {}

  static async open(opts: ConnectOptions = {}): Promise<ControlClient> {
    return new ControlClient(await Connection.open("hotload", { ...opts, watch: undefined }));
  }

  get closed(): boolean {
    return this.conn.closed;
  }

  /** The connection underneath (its address, its close). */
  get connection(): Connection {
    return this.conn;
  }

  async ping(): Promise<void> {
    await this.conn.request("ping").done;
  }

  /** Every target and worker; with target (as status names it, e.g. `python:3`) only that one. */
  async status(target?: string): Promise<DaemonStatus> {
    const done = await this.conn.request("status", { target }).done;
    return done.status as DaemonStatus;
  }

  /** Every hook with the versions installed on this machine, newest first. */
  async list(): Promise<HookInfo[]> {
    const done = await this.conn.request("list").done;
    return (done.hooks ?? []) as HookInfo[];
  }

  start(targets: Targets): Promise<TargetResult[]> {
    return this.perTarget("start", targets);
  }

  stop(targets: Targets): Promise<TargetResult[]> {
    return this.perTarget("stop", targets);
  }

  restart(targets: Targets): Promise<TargetResult[]> {
    return this.perTarget("restart", targets);
  }

  /** SIGINT to every busy worker of each target, whoever sent its request. */
  interrupt(targets: Targets): Promise<TargetResult[]> {
    return this.perTarget("interrupt", targets);
  }

  /** Replace each target's workers with fresh ones (a running request finishes first). */
  recycle(targets: Targets): Promise<TargetResult[]> {
    return this.perTarget("recycle", targets);
  }

  /** The target watches dirs (absolute) until the daemon exits or they are unwatched; answers what it watches now. */
  async watch(target: string, dirs: string[]): Promise<string[]> {
    const done = await this.conn.request("watch", { target, dirs }).done;
    return (done.watch ?? []) as string[];
  }

  async unwatch(target: string, dirs: string[]): Promise<string[]> {
    const done = await this.conn.request("unwatch", { target, dirs }).done;
    return (done.watch ?? []) as string[];
  }

  /** The target's recent output, of requests and between them. */
  async logs(target: string, entries?: number): Promise<LogEntry[]> {
    const done = await this.conn.request("logs", { target, entries }).done;
    return (done.logs ?? []) as LogEntry[];
  }

  /** Re-read hotloadd.yaml and the hook files (rejects with ConfigError when they are bad). */
  async reloadConfig(): Promise<void> {
    await this.conn.request("reload").done;
  }

  close(): void {
    this.conn.close();
  }

  private async perTarget(op: string, targets: Targets): Promise<TargetResult[]> {
    const done = await this.conn.request(op, targetsField(targets)).done;
    return (done.targets ?? []) as TargetResult[];
  }
}
