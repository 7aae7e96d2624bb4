/**
 * The write deadline of an HTTP listener (issue 16): a response whose bytes wait in the daemon
 * while the client takes none of them for `http.writeStallMs` is cut, and what waited for it is
 * freed. Without it a client that asks for a large reply (`events.tail`, a log) or holds a stream
 * and never reads kept that reply in the daemon's memory for as long as it kept the socket.
 *
 * Progress is what the kernel took: bytes whose write completed, and libuv's own queue shrinking
 * (a single large write is taken in pieces). A slow reader that takes anything keeps its
 * connection; the SSE hub still drops a stream 1 MiB behind (stream.ts). The cut is a reset
 * (`resetAndDestroy`), so the kernel's send buffer is dropped too rather than kept for a peer that
 * does not read.
 */
import type net from 'node:net';

interface Progress {
  taken: number;
  queued: number;
  since: number;
}

export class WriteStallWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly seen = new WeakMap<net.Socket, Progress>();
  /** responses cut since start */
  cut = 0;

  constructor(
    private readonly stallMs: number,
    private readonly sockets: () => Iterable<net.Socket>,
    private readonly onCut: (socket: net.Socket, unsent: number) => void,
  ) {}

  start(): void {
    // looked at four times per deadline, at most once per second
    const every = Math.max(25, Math.min(1000, Math.floor(this.stallMs / 4)));
    this.timer = setInterval(() => this.sweep(Date.now()), every);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** one look at every socket; `now` in ms */
  sweep(now: number): void {
    for (const socket of this.sockets()) {
      const unsent = socket.writableLength;
      if (unsent === 0 || socket.destroyed) {
        this.seen.delete(socket);
        continue;
      }
      const p: Progress = { taken: socket.bytesWritten - unsent, queued: queuedInLibuv(socket), since: now };
      const last = this.seen.get(socket);
      if (!last || p.taken !== last.taken || p.queued < last.queued) {
        this.seen.set(socket, p);
        continue;
      }
      if (now - last.since < this.stallMs) continue;
      this.seen.delete(socket);
      this.cut++;
      if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
      else socket.destroy();
      this.onCut(socket, unsent);
    }
  }
}

/** bytes libuv still holds of the write in progress (its write_queue_size); 0 when unknown */
function queuedInLibuv(socket: net.Socket): number {
  const size = (socket as unknown as { _handle?: { writeQueueSize?: unknown } | null })._handle?.writeQueueSize;
  return typeof size === 'number' ? size : 0;
}
