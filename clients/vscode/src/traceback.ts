// Reading a Python traceback as it comes from a worker (error.traceback, or
// a module's error in a `reloaded` event) into frames with file and line, for
// diagnostics and for clickable `file:line` locations. Pure: no VS Code API.
//
// Handled: CPython's "Traceback (most recent call last):" blocks, chained
// exceptions ("During handling of the above exception…", "The above
// exception was the direct cause…"), SyntaxError's frame without "in" and
// its caret, 3.11's ~~^^ markers, frames without the word File as Blender
// prints some ("/path/x.py", line N, in f), and a traceback embedded in an
// exception message, as Blender's RuntimeError from bpy.ops carries the
// add-on's own traceback ("RuntimeError: Error: Python: Traceback …").

export interface Frame {
  /** As printed: an absolute path, or a name like `<string>`, `<stdin>`, `<hotload-3>`. */
  file: string;
  /** 1-based. */
  line: number;
  /** The function (`<module>` at top level); undefined in a SyntaxError's frame. */
  name?: string;
  /** The source line as the traceback shows it, stripped. */
  code?: string;
  /** Where the caret or ~^ markers point, 0-based, within `code` (the stripped line). */
  column?: number;
  endColumn?: number;
}

/** One traceback of a chain: its frames, outermost first, and its exception. */
export interface TracebackBlock {
  frames: Frame[];
  /** The exception's type, e.g. `ZeroDivisionError`, `mytools.errors.BadScene`. */
  type?: string;
  message?: string;
}

export interface Traceback {
  /** In the order printed; the last is the exception that was raised. */
  blocks: TracebackBlock[];
  /** Every frame of every block, in the order printed. */
  frames: Frame[];
  /** The last block's exception, `Type: message` (or `Type`). */
  exception?: string;
}

const FRAME_RE = /^\s*(?:File\s+)?"([^"\n]+)", line (\d+)(?:, in (.*?))?\s*$/;
const HEADER = "Traceback (most recent call last):";
const CHAIN_RE = /^(During handling of the above exception, another exception occurred:|The above exception was the direct cause of the following exception:)\s*$/;
const CARET_RE = /^(\s*)([~^]+)\s*$/;
const EXC_RE = /^([A-Za-z_][\w.]*)(?::\s?(.*))?$/;

/** Parse a traceback; text that has none gives no frames. */
export function parseTraceback(text: string): Traceback {
  const blocks: TracebackBlock[] = [];
  let block: TracebackBlock = { frames: [] };
  let frame: Frame | undefined; // the frame whose code/caret lines may follow
  let codeIndent = 0;

  const newBlock = () => {
    if (block.frames.length || block.type) blocks.push(block);
    block = { frames: [] };
    frame = undefined;
  };
  const exceptionLine = (line: string) => {
    const m = EXC_RE.exec(line.trim());
    if (m && block.type === undefined && block.frames.length) {
      block.type = m[1];
      if (m[2] !== undefined) block.message = m[2];
    }
  };

  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/\s+$/, "");
    const header = line.indexOf(HEADER);
    if (header >= 0) {
      // "RuntimeError: Error: Python: Traceback …": the text before is this block's exception.
      const before = line.slice(0, header).replace(/(Error:\s*)?Python:\s*$/, "").replace(/:\s*$/, "");
      if (before.trim()) exceptionLine(before);
      newBlock();
      continue;
    }
    if (CHAIN_RE.test(line.trim())) {
      newBlock();
      continue;
    }
    const fm = FRAME_RE.exec(line);
    if (fm) {
      if (block.type !== undefined) newBlock(); // frames after an exception line: a new traceback
      frame = { file: fm[1], line: Number(fm[2]) };
      if (fm[3] !== undefined) frame.name = fm[3];
      block.frames.push(frame);
      continue;
    }
    if (!line.trim()) continue;
    if (/^\s/.test(line)) {
      if (!frame) continue;
      const caret = CARET_RE.exec(line);
      if (caret && frame.code !== undefined && frame.column === undefined) {
        const start = caret[1].length - codeIndent;
        if (start >= 0) {
          frame.column = start;
          frame.endColumn = start + caret[2].length;
        }
      } else if (!caret && frame.code === undefined) {
        codeIndent = line.length - line.trimStart().length;
        frame.code = line.trim();
      }
      continue;
    }
    exceptionLine(line);
    frame = undefined;
  }
  newBlock();

  const last = blocks[blocks.length - 1];
  const result: Traceback = { blocks, frames: blocks.flatMap((b) => b.frames) };
  if (last?.type) result.exception = last.message !== undefined ? `${last.type}: ${last.message}` : last.type;
  return result;
}

/** A file on disk (an absolute path), not a pseudo-file like `<string>` or `<frozen os>`. */
export function isLocalFile(file: string): boolean {
  return !file.startsWith("<") && (/^\//.test(file) || /^[A-Za-z]:[\\/]/.test(file));
}

/** `file:line`, the form editors and terminals make clickable. */
export function frameLocation(frame: Frame): string {
  return `${frame.file}:${frame.line}`;
}

/** The innermost frame (the one that raised, or where parsing stopped) for which keep is true. */
export function innermostFrame(tb: Traceback, keep: (f: Frame) => boolean): Frame | undefined {
  for (let b = tb.blocks.length - 1; b >= 0; b--) {
    const frames = tb.blocks[b].frames;
    for (let i = frames.length - 1; i >= 0; i--) if (keep(frames[i])) return frames[i];
  }
  return undefined;
}

/** A file location in a line of text: where it is in the line, and what it names. */
export interface LocationMatch {
  /** Offsets in the line, end exclusive. */
  start: number;
  end: number;
  file: string;
  line: number;
}

const FRAME_LOC_RE = /"((?:\/|[A-Za-z]:[\\/])[^"\n]+)", line (\d+)/g;
const PATH_LOC_RE = /(^|[\s(])((?:\/|[A-Za-z]:[\\/])[^\s:"'()]+):(\d+)/g;

/**
 * The local file locations in one line of output: traceback frames
 * (`File "/x.py", line 3`) and `/x.py:3`, for links in the output panel.
 */
export function findLocations(text: string): LocationMatch[] {
  const out: LocationMatch[] = [];
  for (const m of text.matchAll(FRAME_LOC_RE)) {
    const start = m.index ?? 0;
    out.push({ start, end: start + m[0].length, file: m[1], line: Number(m[2]) });
  }
  for (const m of text.matchAll(PATH_LOC_RE)) {
    const start = (m.index ?? 0) + m[1].length;
    out.push({ start, end: start + m[2].length + 1 + m[3].length, file: m[2], line: Number(m[3]) });
  }
  return out.sort((a, b) => a.start - b.start);
}
