/**
 * Replies to one control client, written with backpressure. A client that writes requests and
 * never reads the answers once grew the daemon without bound (3 MiB of `x\n` took its RSS from
 * 132 to 749 MB and stalled /healthz for seconds): Node queues every write in memory.
 *
 * Here, once more than `maxBuffer` bytes wait for the client, the owner is told to stop reading
 * its requests (`over`), and told again when the client has read enough (`under`). A client that
 * stays over for `stallMs`, or lets replies and stream items pile up to twice the buffer, is cut
 * off, as the SSE hub drops a phone that stops reading (runtime/http/stream.ts). One reply larger
 * than the buffer still goes out whole: the check is made before each write.
 */
import type net from 'node:net';

export interface ReplyFlowOptions {
  maxBuffer: number;
  stallMs: number;
}

export interface ReplyFlowEvents {
  over(): void;
  under(): void;
  /** the client was destroyed for not reading; `why` is for the log */
  cutOff(why: string): void;
}

export class ReplyFlow {
  private overSince: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: net.Socket,
    private readonly opts: ReplyFlowOptions,
    private readonly on: ReplyFlowEvents,
  ) {}

  /** false when the client is gone or was just cut off */
  write(text: string): boolean {
    const s = this.socket;
    if (s.destroyed) return false;
    if (s.writableLength > 2 * this.opts.maxBuffer) {
      this.cut(`${s.writableLength} bytes of replies unread, over twice control.maxReplyBufferBytes`);
      return false;
    }
    // The callback runs once this piece has reached the kernel: the moment to look again.
    s.write(text, () => this.check());
    this.check();
    return true;
  }

  get isOver(): boolean {
    return this.overSince !== undefined;
  }

  /** the client closed: no timer may outlive it */
  dispose(): void {
    if (this.overSince) clearTimeout(this.overSince);
    this.overSince = undefined;
  }

  private check(): void {
    if (this.socket.destroyed) return this.dispose();
    const over = this.socket.writableLength > this.opts.maxBuffer;
    if (over && !this.overSince) {
      this.overSince = setTimeout(() => this.cut(`replies unread for ${this.opts.stallMs} ms, over control.maxReplyBufferBytes`), this.opts.stallMs);
      this.overSince.unref();
      this.on.over();
    } else if (!over && this.overSince) {
      this.dispose();
      this.on.under();
    }
  }

  private cut(why: string): void {
    this.dispose();
    if (this.socket.destroyed) return;
    this.socket.destroy();
    this.on.cutOff(why);
  }
}
