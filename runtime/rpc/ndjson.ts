/**
 * Newline-delimited JSON framing with a hard line cap. Used by the control socket and the agent
 * channel. A line over the cap is dropped while it streams in (memory stays bounded by the cap,
 * however long the line runs), and the caller is told once, when its newline arrives or at once.
 *
 * `pause()` stops handing out lines at once, even in the middle of a chunk: the control socket
 * pauses when a client has not read its replies, and one 64 KiB chunk of `x\n` is 32,768 requests.
 * What was already read waits (at most the chunk being split) until `resume()`.
 */
import { StringDecoder } from 'node:string_decoder';

export interface LineSplitterEvents {
  line(text: string): void;
  /** a line exceeded the cap; `bytes` is how much had arrived when it was cut */
  oversize(bytes: number): void;
}

export class LineSplitter {
  private buf = '';
  private bufBytes = 0;
  private skipping = false;
  private paused = false;
  /** text read but not split yet, because the splitter was paused */
  private held = '';
  private readonly decoder = new StringDecoder('utf8');

  constructor(
    private readonly maxBytes: number,
    private readonly on: LineSplitterEvents,
  ) {}

  push(chunk: Buffer | string): void {
    const text = typeof chunk === 'string' ? chunk : this.decoder.write(chunk);
    if (this.paused) this.held += text;
    else this.split(text);
  }

  /** no more lines until `resume()`; a line handler may call it */
  pause(): void {
    this.paused = true;
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    const text = this.held;
    this.held = '';
    if (text !== '') this.split(text);
  }

  get isPaused(): boolean {
    return this.paused;
  }

  /** bytes currently held for an unfinished line */
  get pending(): number {
    return this.bufBytes;
  }

  private split(text: string): void {
    let start = 0;
    for (;;) {
      const nl = text.indexOf('\n', start);
      const piece = nl === -1 ? text.slice(start) : text.slice(start, nl);
      if (!this.skipping) {
        const pieceBytes = Buffer.byteLength(piece);
        if (this.bufBytes + pieceBytes > this.maxBytes) {
          this.on.oversize(this.bufBytes + pieceBytes);
          this.buf = '';
          this.bufBytes = 0;
          this.skipping = true;
        } else {
          this.buf += piece;
          this.bufBytes += pieceBytes;
        }
      }
      if (nl === -1) return;
      start = nl + 1;
      if (!this.skipping) {
        const line = this.buf.endsWith('\r') ? this.buf.slice(0, -1) : this.buf;
        this.buf = '';
        this.bufBytes = 0;
        if (line.trim() !== '') this.on.line(line);
      }
      this.skipping = false;
      if (this.paused) {
        this.held = text.slice(start) + this.held;
        return;
      }
    }
  }
}
