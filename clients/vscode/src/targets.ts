// What the daemon's `list` and `status` answers mean for the user: which
// target a setting like `maya` or `hython:20.5` names, its state in one word
// for the status bar, and the items of the target picker. Pure: no VS Code API.

import type { DaemonStatus, HookInfo, TargetStatus } from "./protocol/types";

/** The one-word state the status bar shows. */
export type TargetState = "idle" | "busy" | "starting" | "stopping" | "stopped" | "backoff" | "failed" | "unknown";

export interface TargetSummary {
  state: TargetState;
  /** A sentence for the tooltip. */
  detail: string;
  /** The target as status names it, when the daemon has it. */
  target?: TargetStatus;
}

/**
 * The name status uses (`hook:version`) for a target as a user writes it
 * (`dcc[:version]`, dcc a hook name or alias), the way the daemon picks the
 * interpreter: the version given, else the hook's default_version, else the
 * newest install; a version matches exactly or as a prefix followed by a dot
 * (`20.5` finds `20.5.332`), the newest of those. Undefined when nothing matches.
 */
export function resolveTarget(hooks: readonly HookInfo[], spec: string): string | undefined {
  const colon = spec.indexOf(":");
  const dcc = colon < 0 ? spec : spec.slice(0, colon);
  const version = colon < 0 ? "" : spec.slice(colon + 1);
  const hook = hooks.find((h) => h.name === dcc || (h.aliases ?? []).includes(dcc));
  if (!hook) return undefined;
  const installs = hook.installs ?? []; // newest first, as the daemon sorts them
  const want = version || hook.default_version || "";
  let pick = want ? installs.find((i) => i.version === want) : installs[0];
  if (!pick && want) pick = installs.find((i) => i.version.startsWith(want + "."));
  return pick ? `${hook.name}:${pick.version}` : undefined;
}

/** The target's state in one word: failed and backoff from the target, else the busiest worker's. */
export function summarizeTarget(status: DaemonStatus, name: string): TargetSummary {
  const t = status.targets.find((x) => x.target === name && !x.retired) ?? status.targets.find((x) => x.target === name);
  if (!t) return { state: "stopped", detail: `${name}: no worker yet (the first request starts one)` };
  if (t.state === "failed")
    return { state: "failed", detail: `${name} failed: ${t.failed_reason ?? "too many crashes"} (Hotload: Recycle Worker, or hotloadctl start ${name})`, target: t };
  if (t.state === "backoff")
    return { state: "backoff", detail: `${name}: restarting after a crash${t.backoff_s !== undefined ? ` in ${Math.ceil(t.backoff_s)} s` : ""}`, target: t };
  const states = t.workers.map((w) => w.state);
  const count = (s: string) => states.filter((x) => x === s).length;
  const pids = t.workers.map((w) => w.pid).filter(Boolean).join(", ");
  const queue = t.queue ? `, ${t.queue} queued` : "";
  const of = `${t.workers.length} worker${t.workers.length === 1 ? "" : "s"}${pids ? ` (pid ${pids})` : ""}${queue}`;
  if (count("busy") || count("interrupting")) return { state: "busy", detail: `${name}: busy, ${of}`, target: t };
  if (count("starting")) return { state: "starting", detail: `${name}: starting, ${of}`, target: t };
  if (count("idle")) return { state: "idle", detail: `${name}: idle, ${of}`, target: t };
  if (count("stopping")) return { state: "stopping", detail: `${name}: stopping, ${of}`, target: t };
  return { state: "stopped", detail: `${name}: no worker running (the next request starts one)`, target: t };
}

export interface TargetItem {
  /** What the setting gets: `hook:version`, or `hook` for "the default version". */
  target: string;
  label: string;
  description: string;
  detail: string;
  /** The hook, to group items. */
  hook: string;
}

function describeWorkers(t: TargetStatus | undefined): string {
  if (!t) return "no worker";
  if (t.state === "failed") return `failed: ${t.failed_reason ?? "too many crashes"}`;
  if (t.state === "backoff") return "restarting after a crash";
  if (!t.workers.length) return "no worker";
  return t.workers.map((w) => `${w.state} (pid ${w.pid}${w.requests !== undefined ? `, ${w.requests} requests` : ""})`).join(", ");
}

/** The picker's items: for every hook its default, then every installed version, with its workers' state. */
export function targetItems(hooks: readonly HookInfo[], status: DaemonStatus | undefined): TargetItem[] {
  const byName = new Map((status?.targets ?? []).filter((t) => !t.retired).map((t) => [t.target, t]));
  const items: TargetItem[] = [];
  for (const h of hooks) {
    const aliases = h.aliases?.length ? ` (also ${h.aliases.join(", ")})` : "";
    const def = resolveTarget(hooks, h.name);
    if (def && h.installs.length > 1)
      items.push({
        target: h.name,
        label: h.name,
        description: `default: ${def}`,
        detail: `${h.description ?? ""}${aliases}`.trim(),
        hook: h.name,
      });
    for (const i of h.installs) {
      const name = `${h.name}:${i.version}`;
      items.push({
        target: name,
        label: name,
        description: i.path,
        detail: describeWorkers(byName.get(name)) + (name === def ? " · the default version" : ""),
        hook: h.name,
      });
    }
  }
  return items;
}
