// The messages of hotloadd's JSON mode and control target, as docs/protocol.md
// describes them. Only the fields a client reads are typed; the daemon may send
// more, and those pass through untouched.

/** The error object of a failed `done` or of a connection-level `error`. */
export interface WireError {
  type: string;
  message: string;
  traceback?: string;
  /** WorkerDied */
  exit_status?: number;
  /** WorkerDied: the signal that killed the worker, 0 when none */
  signal?: number;
  /** WorkerDied: the last output the worker wrote to stderr */
  stderr_tail?: string;
  /** Timeout: the limit in seconds */
  timeout?: number;
}

/** One module in a `reloaded` event. */
export interface ReloadedModule {
  module: string;
  file?: string;
  status: "reloaded" | "unchanged" | "purged" | "deleted" | "failed" | string;
  error?: WireError;
  note?: string;
}

/** Every event has `event`; all but a connection-level `error` have `id`. */
export interface OutputEvent {
  id: unknown;
  event: "stdout" | "stderr";
  data: string;
}

export interface WaitingEvent {
  id: unknown;
  event: "waiting";
  state: "starting" | "backoff" | "queued" | string;
}

export interface ReloadedEvent {
  id: unknown;
  event: "reloaded";
  modules: ReloadedModule[];
}

/** The last event of every request. Ops add their own fields. */
export interface DoneEvent {
  id: unknown;
  event: "done";
  ok: boolean;
  error?: WireError;
  duration_ms?: number;
  [field: string]: unknown;
}

export interface ErrorEvent {
  event: "error";
  error: WireError;
}

export type Event = OutputEvent | WaitingEvent | ReloadedEvent | DoneEvent | ErrorEvent;

/** `status`: one worker of a target. */
export interface WorkerStatus {
  id: number;
  state: "starting" | "idle" | "busy" | "interrupting" | "stopping" | "stopped" | string;
  pid: number;
  pgid?: number;
  uptime_s?: number;
  requests?: number;
  rss_bytes?: number;
}

/** `status`: one target (a hook at one resolved version). */
export interface TargetStatus {
  target: string;
  hook: string;
  version: string;
  executable?: string;
  state: "ok" | "backoff" | "failed" | string;
  backoff_s?: number;
  failed_reason?: string;
  restarts?: number;
  queue?: number;
  last_exit?: unknown;
  retired?: boolean;
  workers: WorkerStatus[];
  watch?: string[];
  watch_mode?: "events" | "poll";
}

export interface DaemonStatus {
  daemon: {
    pid: number;
    version: string;
    uptime_s?: number;
    connections?: number;
    log?: string;
  };
  targets: TargetStatus[];
}

/** `list`: one installed interpreter of a hook. */
export interface Install {
  version: string;
  path: string;
}

/** `list`: one hook, its installs newest first. */
export interface HookInfo {
  name: string;
  aliases: string[];
  description?: string;
  source?: string;
  default_version?: string | null;
  installs: Install[];
}

/** The per-target answer of start, stop, restart, interrupt and recycle. */
export interface TargetResult {
  target: string;
  ok: boolean;
  error?: WireError;
  interrupted?: number;
  recycled?: number;
}

/** An entry of the control op `logs`. */
export interface LogEntry {
  time: number | string;
  pid: number;
  stream: string;
  data: string;
}
