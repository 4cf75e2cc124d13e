// "Attach debugger": the launch configuration of a debug session in a warm
// worker, and the command line of its debug adapter (`hotloadctl debug`,
// which speaks DAP on stdin/stdout; docs/debugging.md). No VS Code API
// here, so that it is tested in Node as it is.

import type { ConnectOptions } from "./protocol";

/** The debug type the extension contributes. */
export const DEBUG_TYPE = "hotload";

/** A hotload launch configuration (`request` is always "attach"). */
export interface HotloadDebugConfiguration {
  type: string;
  request: string;
  name: string;
  /** The target whose worker is debugged: "dcc[:version]". */
  target?: string;
  /** The debug session's name; runs name it to stop at breakpoints. */
  session?: string;
  /** Step only into the user's code (debugpy's option). */
  justMyCode?: boolean;
  [key: string]: unknown;
}

const SESSION_RE = /^[A-Za-z0-9._-]{1,64}$/;
const TARGET_RE = /^[A-Za-z0-9][A-Za-z0-9._+-]*(:[A-Za-z0-9][A-Za-z0-9._+-]*)?$/;

/** Why name is not a debug session's name, or undefined when it is. */
export function sessionProblem(name: unknown): string | undefined {
  if (typeof name !== "string" || !SESSION_RE.test(name))
    return `the debug session's name must be 1 to 64 characters of A-Z, a-z, 0-9, '.', '-' and '_', not ${JSON.stringify(name)}`;
  return undefined;
}

/** Why target is not "dcc[:version]", or undefined when it is. */
export function targetProblem(target: unknown): string | undefined {
  if (typeof target !== "string" || !TARGET_RE.test(target))
    return `the target must be DCC or DCC:VERSION (python:3, blender, mayapy:2024), not ${JSON.stringify(target)}`;
  return undefined;
}

/** The configuration "Attach Debugger" starts for target. */
export function attachConfiguration(target: string, session = "default"): HotloadDebugConfiguration {
  return {
    type: DEBUG_TYPE,
    request: "attach",
    name: `Hotload: attach to ${target}`,
    target,
    session,
    justMyCode: true,
  };
}

/**
 * A configuration from launch.json (or none: F5 without one) completed:
 * the active target and the default session where they are missing.
 * Throws an Error that says what is wrong with a bad one.
 */
export function completeConfiguration(config: Partial<HotloadDebugConfiguration>, activeTarget: string): HotloadDebugConfiguration {
  const target = config.target ?? activeTarget;
  const session = config.session ?? "default";
  const problem = targetProblem(target) ?? sessionProblem(session);
  if (problem) throw new Error(problem);
  if (config.request !== undefined && config.request !== "attach")
    throw new Error(`a hotload debug configuration attaches to a warm worker: "request" must be "attach", not ${JSON.stringify(config.request)}`);
  return {
    ...config,
    type: DEBUG_TYPE,
    request: "attach",
    name: config.name || `Hotload: attach to ${target}`,
    target,
    session,
  };
}

/** The debug adapter's command line for a completed configuration. */
export function adapterCommand(config: HotloadDebugConfiguration, connect: ConnectOptions, hotloadctl = "hotloadctl"): { command: string; args: string[] } {
  const problem = targetProblem(config.target) ?? sessionProblem(config.session);
  if (problem) throw new Error(problem);
  const args: string[] = [];
  if (connect.socket) args.push("--socket", connect.socket);
  else if (connect.tcp) args.push("--tcp", connect.tcp);
  if (connect.tokenFile) args.push("--token-file", connect.tokenFile);
  args.push("debug", "--session", config.session as string, config.target as string);
  return { command: hotloadctl || "hotloadctl", args };
}
