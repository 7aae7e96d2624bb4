/**
 * What the agent host sends the daemon on fd 3, while the daemon may not be reading (issue 16:
 * it holds the channel of an agent over its budget). Nothing waits in the socket's own buffer
 * past its high-water mark: the host's own messages (started, a flooded or killed worker's exit)
 * go ahead of every instance's queue, and each instance's messages wait in order in a queue of
 * their own, at most `maxBytes`. Past that the instance is flooded: `onFlood` ends it, its queue
 * is dropped, and nothing more of it is sent — its posted messages cannot be made to wait, so
 * otherwise they would grow the host without bound.
 */
export interface OutboxSocket {
  write(text: string): boolean;
  readonly writableNeedDrain: boolean;
  on(event: 'drain', fn: () => void): unknown;
}

interface Queue {
  lines: string[];
  bytes: number;
}

export class HostOutbox {
  private readonly control: string[] = [];
  private readonly queues = new Map<string, Queue>();
  /** instances whose messages are no longer sent (flooded, or killed by the daemon) */
  private readonly dropped = new Set<string>();
  private readonly drainFns: Array<() => void> = [];

  constructor(
    private readonly sock: OutboxSocket,
    private readonly maxLineBytes: number,
    private readonly maxBytes: number,
    private readonly onFlood: (instance: string) => void,
  ) {
    sock.on('drain', () => this.pump());
  }

  /** the socket is full: readers feeding the outbox should stop until `onDrain` */
  get held(): boolean {
    return this.sock.writableNeedDrain;
  }

  onDrain(fn: () => void): void {
    this.drainFns.push(fn);
  }

  /** One of the host's own messages, ahead of every instance's. */
  sendControl(msg: object): void {
    const line = this.line(msg);
    if (line === undefined) return;
    if (this.held) this.control.push(line);
    else this.sock.write(line);
  }

  /** One message of `instance`, in order with its others. */
  send(instance: string, msg: object): void {
    if (this.dropped.has(instance)) return;
    const line = this.line(msg) ?? this.line({ c: 'out', instance, stream: 'stderr', line: `openstarry agent host: a message over ${this.maxLineBytes} bytes was dropped` });
    if (line === undefined) return;
    const q = this.queues.get(instance);
    if (!this.held && !q) {
      this.sock.write(line);
      return;
    }
    const queue = q ?? { lines: [], bytes: 0 };
    this.queues.set(instance, queue);
    queue.lines.push(line);
    queue.bytes += line.length;
    if (queue.bytes > this.maxBytes) {
      this.drop(instance);
      this.onFlood(instance);
    }
  }

  /** Drops what `instance` has waiting, and everything it sends later. */
  drop(instance: string): void {
    this.dropped.add(instance);
    this.queues.delete(instance);
  }

  /** The instance is gone for good: forget it. */
  forget(instance: string): void {
    this.dropped.delete(instance);
    this.queues.delete(instance);
  }

  /** Writes until the socket is full again: the host's messages, then one line per instance in turn. */
  private pump(): void {
    while (!this.held && this.control.length > 0) this.sock.write(this.control.shift() ?? '');
    while (!this.held) {
      const next = this.queues.entries().next();
      if (next.done) break;
      const [instance, q] = next.value;
      const line = q.lines.shift() ?? '';
      q.bytes -= line.length;
      this.sock.write(line);
      // to the back of the line: each instance gets its turn, whoever floods
      this.queues.delete(instance);
      if (q.lines.length > 0) this.queues.set(instance, q);
    }
    if (!this.held) this.drainFns.forEach((f) => f());
  }

  private line(msg: object): string | undefined {
    const text = JSON.stringify(msg);
    // the daemon would refuse it: the host's channel caps lines like every agent channel
    return Buffer.byteLength(text) > this.maxLineBytes ? undefined : `${text}\n`;
  }
}
