// Where hotloadd listens, found the way hotloadctl finds it: an explicit
// socket or TCP address, else $HOTLOAD_SOCKET, else $HOTLOAD_TCP, else the
// default Unix socket of this user. Before connecting to a Unix socket its
// directory must be ours alone (docs/security.md, "The runtime directory").

import * as fs from "node:fs";
import * as path from "node:path";

import { BadArgument, DaemonUnavailable, UnsafeSocket } from "./errors";

export const DEFAULT_HOST = "127.0.0.1";
export const DEFAULT_PORT = 7720;

export type Address =
  | { kind: "unix"; path: string }
  | { kind: "tcp"; host: string; port: number };

/** How to reach the daemon. Empty strings count as not given, as in hotloadctl. */
export interface AddressOptions {
  /** A Unix socket path (hotloadctl --socket). */
  socket?: string;
  /** `HOST:PORT`, `[v6]:PORT`, `HOST` or `:PORT` (hotloadctl --tcp). */
  tcp?: string;
  /** Defaults to process.env; tests pass their own. */
  env?: Record<string, string | undefined>;
  /** Defaults to process.geteuid(). */
  uid?: number;
}

function currentUid(): number {
  return typeof process.geteuid === "function" ? process.geteuid() : 0;
}

/**
 * The Unix socket a daemon of this user listens on by default:
 * `$XDG_RUNTIME_DIR/hotload/hotloadd.sock`; without XDG_RUNTIME_DIR,
 * `/run/hotload/hotloadd.sock` for root and `/tmp/hotload-UID/hotloadd.sock`
 * for anybody else.
 */
export function defaultSocketPath(env: Record<string, string | undefined> = process.env, uid = currentUid()): string {
  const xdg = env.XDG_RUNTIME_DIR;
  if (xdg) return path.join(xdg, "hotload", "hotloadd.sock");
  if (uid === 0) return "/run/hotload/hotloadd.sock";
  return `/tmp/hotload-${uid}/hotloadd.sock`;
}

/** Split a TCP address as hotloadctl does; a bare IPv6 address needs brackets. */
export function parseTcp(spec: string): { host: string; port: number } {
  let host: string;
  let port: string | undefined;
  if (spec.startsWith("[")) {
    const close = spec.indexOf("]");
    const rest = close < 0 ? "" : spec.slice(close + 1);
    if (close < 0 || (rest && !rest.startsWith(":"))) throw badTcp(spec);
    host = spec.slice(1, close);
    port = rest ? rest.slice(1) : undefined;
  } else {
    const colon = spec.lastIndexOf(":");
    if (colon >= 0 && spec.slice(0, colon).includes(":")) throw badTcp(spec);
    host = colon >= 0 ? spec.slice(0, colon) : spec;
    port = colon >= 0 ? spec.slice(colon + 1) : undefined;
  }
  if (port === "") throw badTcp(spec);
  const n = port === undefined ? DEFAULT_PORT : Number(port);
  if (!/^\d+$/.test(port ?? "0") || !Number.isInteger(n) || n < 1 || n > 65535) throw badTcp(spec);
  return { host: host || DEFAULT_HOST, port: n };
}

function badTcp(spec: string): BadArgument {
  return new BadArgument(`bad TCP address '${spec}': expected HOST:PORT`);
}

/** The address to connect to, in hotloadctl's order of precedence. */
export function resolveAddress(opts: AddressOptions = {}): Address {
  const env = opts.env ?? process.env;
  if (opts.socket && opts.tcp) throw new BadArgument("give a socket or a TCP address, not both");
  if (opts.socket) return { kind: "unix", path: opts.socket };
  if (opts.tcp) return { kind: "tcp", ...parseTcp(opts.tcp) };
  if (env.HOTLOAD_SOCKET) return { kind: "unix", path: env.HOTLOAD_SOCKET };
  if (env.HOTLOAD_TCP) return { kind: "tcp", ...parseTcp(env.HOTLOAD_TCP) };
  return { kind: "unix", path: defaultSocketPath(env, opts.uid ?? currentUid()) };
}

/** Human words for an address, as hotloadctl's messages say it. */
export function describeAddress(a: Address): string {
  if (a.kind === "unix") return `unix socket ${a.path}`;
  const host = a.host.includes(":") ? `[${a.host}]` : a.host;
  return `TCP ${host}:${a.port}`;
}

/**
 * Refuse a Unix socket whose directory another user could control: it must
 * be a real directory (not a symlink), owned by us, with no permission bits
 * for group or others. Root may talk to another user's daemon: for root the
 * owner may be anybody. A missing directory means no daemon is there.
 */
export function checkSocketDir(socketPath: string, uid = currentUid()): void {
  const where = `unix socket ${socketPath}`;
  const dir = path.dirname(socketPath);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(dir);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new DaemonUnavailable(where, `${dir}: ${err.code === "ENOENT" ? "no such directory" : err.message}`, err.code);
  }
  if (st.isSymbolicLink()) throw new UnsafeSocket(where, `${dir} is a symbolic link; refusing to use it as the runtime directory`);
  if (!st.isDirectory()) throw new UnsafeSocket(where, `${dir} is not a directory`);
  if (uid !== 0 && st.uid !== uid)
    throw new UnsafeSocket(where, `${dir} is owned by uid ${st.uid}, not by uid ${uid}: somebody else made it`);
  if (st.mode & 0o077)
    throw new UnsafeSocket(
      where,
      `${dir} has mode ${(st.mode & 0o7777).toString(8).padStart(4, "0")}; the runtime directory must be 0700`,
    );
}

/**
 * The token to show over TCP: the first line of tokenFile, else
 * $HOTLOAD_TOKEN. Never the daemon's own token file unasked: whatever
 * listens on the port would receive it (docs/security.md, "The token").
 */
export function readToken(tokenFile: string | undefined, env: Record<string, string | undefined> = process.env): string | undefined {
  let token: string | undefined;
  if (tokenFile) {
    let text: string;
    try {
      text = fs.readFileSync(tokenFile, "utf8");
    } catch (e) {
      throw new BadArgument(`cannot read the token file ${tokenFile}: ${(e as Error).message}`);
    }
    token = text.split(/\r?\n/, 1)[0];
    if (!token) throw new BadArgument(`the token file ${tokenFile} is empty`);
  } else if (env.HOTLOAD_TOKEN) {
    token = env.HOTLOAD_TOKEN;
  }
  if (token !== undefined && !/^[0-9a-fA-F]{1,128}$/.test(token))
    throw new BadArgument("the token must be 1 to 128 hexadecimal digits (the daemon's token file holds it)");
  return token;
}
