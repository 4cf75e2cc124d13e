// Interleaving a request's stdout and stderr in one text output without
// losing which is which: every line of stderr starts with a mark. Output
// arrives in chunks, not lines (a print may be split, a progress bar never
// ends its line), so nothing is held back: text is marked as it comes, and a
// line cut by the other stream is ended first. Pure: no VS Code API.

export type Stream = "stdout" | "stderr";

export const STDERR_MARK = "[stderr] ";

export class StreamMarker {
  private atLineStart = true;
  private last: Stream | undefined;

  constructor(private readonly mark = STDERR_MARK) {}

  /** The text to append for a chunk of stream. */
  write(stream: Stream, data: string): string {
    if (!data) return "";
    let out = "";
    if (!this.atLineStart && this.last !== stream) out += "\n";
    if (this.last !== stream) this.atLineStart = true;
    this.last = stream;
    if (stream === "stdout") {
      out += data;
    } else {
      const parts = data.split("\n");
      parts.forEach((part, i) => {
        if (part && this.atLineStart) out += this.mark;
        out += part;
        if (part) this.atLineStart = false;
        if (i < parts.length - 1) {
          out += "\n";
          this.atLineStart = true;
        }
      });
      return out;
    }
    this.atLineStart = data.endsWith("\n");
    return out;
  }

  /** The text that ends the output cleanly: a newline when a line is still open. */
  end(): string {
    const out = this.atLineStart ? "" : "\n";
    this.atLineStart = true;
    this.last = undefined;
    return out;
  }
}
