// Typed errors for everything that can go wrong talking to hotloadd. The
// error types of docs/protocol.md ("Error types") map to classes, so a
// caller can write `err instanceof Interrupted` instead of comparing strings;
// `type` always keeps the daemon's own name.

import type { DoneEvent, ReloadedModule, WireError } from "./types";

/** Base of every error this module throws. */
export class HotloadError extends Error {
  /** The daemon's error type (`"NotInstalled"`, `"ZeroDivisionError"`, …), or a client one. */
  readonly type: string;

  constructor(type: string, message: string) {
    super(message);
    this.type = type;
    this.name = new.target.name;
  }
}

/** No daemon answered where we looked: the socket is missing, nobody listens, … */
export class DaemonUnavailable extends HotloadError {
  /** Human words for where we tried, e.g. `unix socket /run/user/1000/hotload/hotloadd.sock`. */
  readonly address: string;
  /** The system error code (`ENOENT`, `ECONNREFUSED`, …) when there was one. */
  readonly code: string | undefined;

  constructor(address: string, reason: string, code?: string) {
    super("DaemonUnavailable", `cannot connect to hotloadd on ${address}: ${reason} (is hotloadd running?)`);
    this.address = address;
    this.code = code;
  }
}

/** The socket's directory is not ours alone, so another user could be listening there. */
export class UnsafeSocket extends HotloadError {
  readonly address: string;

  constructor(address: string, reason: string) {
    super("UnsafeSocket", `not connecting to ${address}: ${reason}`);
    this.address = address;
  }
}

/** A setting or argument the client cannot use: a bad target name, TCP address, token. */
export class BadArgument extends HotloadError {
  constructor(message: string) {
    super("BadArgument", message);
  }
}

/**
 * The daemon refused the whole connection (an `error` event): BadHeader,
 * UnknownTarget, NotInstalled, PermissionDenied, TooManyConnections,
 * ServerBusy, PayloadTooLarge, … It closes the connection after it.
 */
export class ConnectionRefused extends HotloadError {
  readonly error: WireError;

  constructor(error: WireError) {
    super(error.type || "Error", `${error.type || "Error"}: ${error.message || "refused"}`);
    this.error = error;
  }
}

/** The connection ended before a request's `done` came. */
export class ConnectionLost extends HotloadError {
  constructor(message: string) {
    super("ConnectionLost", message);
  }
}

/** The daemon sent something that is not the protocol. */
export class ProtocolError extends HotloadError {
  constructor(message: string) {
    super("ProtocolError", message);
  }
}

/** A request whose `done` said `ok: false`. Subclasses name the common cases. */
export class RequestFailed extends HotloadError {
  readonly error: WireError;
  readonly done: DoneEvent;
  /** What the request printed before it failed (exec, eval and reload fill these in). */
  stdout = "";
  stderr = "";
  reloaded: ReloadedModule[] = [];

  constructor(done: DoneEvent, error: WireError) {
    super(error.type || "Error", error.message || error.type || "request failed");
    this.error = error;
    this.done = done;
  }

  /** The Python traceback, when the failure has one. */
  get traceback(): string | undefined {
    return this.error.traceback || undefined;
  }
}

/** The code raised: any Python exception (NameError, SyntaxError, SystemExit, …). */
export class RemoteException extends RequestFailed {}

/** KeyboardInterrupt: by an interrupt op, or taken out of the queue before it ran. */
export class Interrupted extends RequestFailed {}

/** The request ran (or waited) longer than its timeout or deadline. */
export class Timeout extends RequestFailed {
  get limit(): number | undefined {
    return this.error.timeout;
  }
}

/** The worker died while running the request. */
export class WorkerDied extends RequestFailed {
  get exitStatus(): number | undefined {
    return this.error.exit_status;
  }
  get signal(): number | undefined {
    return this.error.signal;
  }
  get stderrTail(): string | undefined {
    return this.error.stderr_tail;
  }
}

export class WorkerStartFailed extends RequestFailed {}
export class TargetFailed extends RequestFailed {}
export class QueueFull extends RequestFailed {}
export class RequestRefused extends RequestFailed {}
export class ReloadFailed extends RequestFailed {}
export class BadRequest extends RequestFailed {}
export class ShuttingDown extends RequestFailed {}
export class ConfigError extends RequestFailed {}

/** Error types the daemon itself answers, with ok:false in a `done`. */
const DAEMON_TYPES: Record<string, new (done: DoneEvent, error: WireError) => RequestFailed> = {
  KeyboardInterrupt: Interrupted,
  Timeout,
  WorkerDied,
  WorkerStartFailed,
  TargetFailed,
  QueueFull,
  RequestRefused,
  ReloadFailed,
  BadRequest,
  ShuttingDown,
  ConfigError,
};

/**
 * The error for a `done` with `ok: false`. Ops that take several targets
 * answer without a top-level `error`; then the first failed target's is used.
 */
export function requestFailure(done: DoneEvent): RequestFailed {
  let error = done.error;
  if (!error && Array.isArray(done.targets)) {
    const bad = (done.targets as { target?: string; ok?: boolean; error?: WireError }[]).find(
      (t) => t && t.ok === false,
    );
    if (bad && bad.error) error = { ...bad.error, message: `${bad.target}: ${bad.error.message}` };
  }
  if (!error || typeof error.type !== "string") error = { type: "Error", message: "the request failed" };
  const Cls = DAEMON_TYPES[error.type] ?? RemoteException;
  return new Cls(done, error);
}
