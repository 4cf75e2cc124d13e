// Newline-delimited input from a stream that delivers arbitrary chunks: a
// line may arrive in many pieces (a 50 MB eval value) or many lines in one.
// Lines are split on the byte 0x0A, which never occurs inside a multi-byte
// UTF-8 character, so each line is decoded whole and no character is cut.
// Work is linear in the input: pieces are kept, and joined once per line.

import { ProtocolError } from "./errors";

/** The default limit on one line: far above anything the daemon sends. */
export const MAX_LINE_BYTES = 256 * 1024 * 1024;

export class LineReader {
  private parts: Buffer[] = [];
  private partBytes = 0;

  constructor(
    private readonly onLine: (line: string) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  /** Feed a chunk; onLine is called for every line it completes (without "\n" or "\r\n"). */
  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      if (nl < 0) break;
      let line: Buffer;
      if (this.parts.length) {
        this.parts.push(chunk.subarray(start, nl));
        line = Buffer.concat(this.parts, this.partBytes + nl - start);
        this.parts = [];
        this.partBytes = 0;
      } else {
        line = chunk.subarray(start, nl);
      }
      start = nl + 1;
      if (line.length > this.maxLineBytes) throw this.tooLong();
      const end = line.length && line[line.length - 1] === 0x0d ? line.length - 1 : line.length;
      this.onLine(line.toString("utf8", 0, end));
    }
    if (start < chunk.length) {
      this.parts.push(chunk.subarray(start));
      this.partBytes += chunk.length - start;
      if (this.partBytes > this.maxLineBytes) throw this.tooLong();
    }
  }

  /** Bytes of an unfinished line held so far. */
  get pending(): number {
    return this.partBytes;
  }

  /** The end of the stream: the unfinished last line, if any, is returned and dropped. */
  end(): string | undefined {
    if (!this.partBytes) return undefined;
    const rest = Buffer.concat(this.parts, this.partBytes).toString("utf8");
    this.parts = [];
    this.partBytes = 0;
    return rest;
  }

  private tooLong(): ProtocolError {
    this.parts = [];
    this.partBytes = 0;
    return new ProtocolError(`a line from hotloadd is longer than ${this.maxLineBytes} bytes`);
  }
}
