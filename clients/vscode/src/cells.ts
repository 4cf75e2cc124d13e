// `# %%` cells (the convention of Jupyter, Spyder and VS Code's Python
// tools) and the code sent for a selection or a cell. Pure: no VS Code API;
// lines are 0-based.

/** `# %%`, `#%%`, `# %% title`, `# %% [markdown]`, indented or not. */
const MARKER_RE = /^\s*#\s*%%(.*)$/;

export interface Cell {
  /** The first line: the marker line, or 0 for the text before the first marker. */
  start: number;
  /** The last line, inclusive. */
  end: number;
  /** What follows `# %%` on the marker line, trimmed (`[markdown]` taken out). */
  title: string;
  /** `# %% [markdown]` cells hold prose, not code. */
  kind: "code" | "markdown";
}

/** Whether a line starts a cell. */
export function isCellMarker(line: string): boolean {
  return MARKER_RE.test(line);
}

/**
 * The cells of a file. Without any marker the whole file is one cell; text
 * before the first marker is a cell of its own (unless it is empty).
 */
export function findCells(lines: readonly string[]): Cell[] {
  const cells: Cell[] = [];
  const markers: number[] = [];
  lines.forEach((l, i) => {
    if (MARKER_RE.test(l)) markers.push(i);
  });
  const last = Math.max(lines.length - 1, 0);
  if (!markers.length) return [{ start: 0, end: last, title: "", kind: "code" }];
  if (markers[0] > 0 && lines.slice(0, markers[0]).some((l) => l.trim()))
    cells.push({ start: 0, end: markers[0] - 1, title: "", kind: "code" });
  markers.forEach((m, i) => {
    let title = (MARKER_RE.exec(lines[m])?.[1] ?? "").trim();
    let kind: Cell["kind"] = "code";
    const md = /^\[markdown\]\s*/i.exec(title);
    if (md) {
      kind = "markdown";
      title = title.slice(md[0].length);
    }
    cells.push({ start: m, end: i + 1 < markers.length ? markers[i + 1] - 1 : last, title, kind });
  });
  return cells;
}

/** The cell that holds line (the first cell, for a line in an empty preamble). */
export function cellAt(lines: readonly string[], line: number): Cell {
  const cells = findCells(lines);
  for (let i = cells.length - 1; i >= 0; i--) if (cells[i].start <= line) return cells[i];
  return cells[0];
}

/** Whether a file uses cell markers at all. */
export function hasCells(lines: readonly string[]): boolean {
  return lines.some((l) => MARKER_RE.test(l));
}

/** Remove the indentation all non-blank lines share, so an indented block runs at top level. */
export function dedent(text: string): string {
  const lines = text.split("\n");
  let common: string | undefined;
  for (const l of lines) {
    if (!l.trim()) continue;
    const indent = /^[ \t]*/.exec(l)![0];
    if (common === undefined || !indent.startsWith(common)) {
      let n = 0;
      const prev = common ?? indent;
      while (n < prev.length && n < indent.length && prev[n] === indent[n]) n++;
      common = prev.slice(0, n);
    }
  }
  if (!common) return text;
  const cut = common.length;
  return lines.map((l) => (l.trim() ? l.slice(cut) : l.replace(/^[ \t]*/, ""))).join("\n");
}

/**
 * The code to send for text that starts at line firstLine of its file:
 * dedented, and preceded by firstLine empty lines, so that the line numbers
 * of its tracebacks are the file's own and diagnostics land on the right
 * lines.
 */
export function codeForRange(text: string, firstLine: number): string {
  return "\n".repeat(Math.max(firstLine, 0)) + dedent(text.replace(/\r\n/g, "\n"));
}
