/**
 * Events for the collector (`evt/<area>`, QoS 1) through the SQLite outbox (DESIGN §8): queued in
 * memory, written once per tick, drained in order with a bounded number in flight while the link
 * is up, each row deleted when the broker acknowledged it. Nothing is lost while offline, within
 * `fleet.outbox` bounds (the oldest are dropped first, and counted).
 */
import type { OutboxRepo } from '../store/outbox-repo';

export interface OutboxPublisher {
  connected(): boolean;
  publish(topic: string, payload: string): Promise<void>;
}

const IN_FLIGHT = 16;

export class FleetOutbox {
  private queue: Array<{ topic: string; payload: string }> = [];
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  sent = 0;

  constructor(
    private readonly repo: OutboxRepo,
    private readonly bounds: { maxMessages: number; maxBytes: number },
    private readonly out: OutboxPublisher,
    private readonly onError: (msg: string) => void,
    private readonly tickMs = 1000,
  ) {}

  start(): void {
    this.timer = setInterval(() => this.tick(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.flush();
  }

  enqueue(topic: string, payload: string): void {
    this.queue.push({ topic, payload });
    // a burst must not grow RAM without bound while the disk is slow
    if (this.queue.length > this.bounds.maxMessages) this.queue.splice(0, this.queue.length - this.bounds.maxMessages);
  }

  /** writes what is queued, then drains if the link is up */
  tick(): void {
    this.flush();
    void this.drain();
  }

  flush(): void {
    if (this.queue.length === 0) return;
    const batch = this.queue;
    this.queue = [];
    try {
      this.repo.append(batch, this.bounds);
    } catch (err) {
      this.queue = [...batch, ...this.queue].slice(-this.bounds.maxMessages);
      this.onError(`fleet outbox not written: ${(err as Error).message}`);
    }
  }

  /** Publishes the oldest rows in order, at most IN_FLIGHT at a time; stops when the link drops. */
  async drain(): Promise<void> {
    if (this.draining) return;
    this.draining = true;
    try {
      let after = 0;
      while (this.out.connected()) {
        const rows = this.repo.next(after, IN_FLIGHT);
        if (rows.length === 0) break;
        // in order: MQTT keeps the order of QoS 1 publishes on one connection
        const acks = rows.map((r) => this.out.publish(r.topic, r.payload).then(() => r.seq));
        const results = await Promise.allSettled(acks);
        const acked = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
        this.repo.remove(acked);
        this.sent += acked.length;
        if (results.some((r) => r.status === 'rejected')) break;
        after = rows.at(-1)?.seq ?? after;
      }
    } finally {
      this.draining = false;
    }
  }

  stats(): { messages: number; bytes: number; dropped: number; queued: number; sent: number } {
    return { ...this.repo.stats(), queued: this.queue.length, sent: this.sent };
  }
}
