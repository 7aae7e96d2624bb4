/**
 * Messages for the collector (`evt/<area>`, `pub/<topic>`, QoS 1) through the SQLite outbox
 * (DESIGN §8). The event journal writes them, in event-log order and in the same commit as the
 * event log (store/event-journal.ts); this drains them in that order with a bounded number in
 * flight while the link is up, each row deleted when the broker acknowledged it, and starts a
 * drain after every commit that added some. Nothing is lost while offline or across a restart,
 * within `fleet.outbox` bounds (the oldest are dropped first, and counted).
 */
import type { OutboxRepo } from '../store/outbox-repo';

export interface OutboxPublisher {
  connected(): boolean;
  publish(topic: string, payload: string): Promise<void>;
}

/** the journal's side: where messages are queued, and when they are on disk */
export interface OutboxWriter {
  publish(topic: string, payload: string, withinMs?: number): void;
  onCommit(fn: () => void): () => void;
}

const IN_FLIGHT = 16;

export class FleetOutbox {
  private timer: NodeJS.Timeout | undefined;
  private draining = false;
  private again = false;
  private unwatch: (() => void) | undefined;
  sent = 0;

  constructor(
    private readonly repo: OutboxRepo,
    private readonly writer: OutboxWriter,
    private readonly out: OutboxPublisher,
    private readonly tickMs = 1000,
  ) {}

  start(): void {
    this.unwatch = this.writer.onCommit(() => void this.drain());
    this.timer = setInterval(() => void this.drain(), this.tickMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.unwatch?.();
  }

  /** queues a message after everything the journal holds; on disk within `withinMs` (by default the journal's commitWithinMs) */
  enqueue(topic: string, payload: string, withinMs?: number): void {
    this.writer.publish(topic, payload, withinMs);
  }

  /** Publishes the oldest rows in order, at most IN_FLIGHT at a time; stops when the link drops. */
  async drain(): Promise<void> {
    if (this.draining) {
      // a commit during a drain: the running loop reads on, but say so in case it was leaving
      this.again = true;
      return;
    }
    this.draining = true;
    try {
      do {
        this.again = false;
        await this.drainOnce();
      } while (this.again && this.out.connected());
    } finally {
      this.draining = false;
    }
  }

  private async drainOnce(): Promise<void> {
    let after = 0;
    while (this.out.connected()) {
      const rows = this.repo.next(after, IN_FLIGHT);
      if (rows.length === 0) break;
      // in order: MQTT keeps the order of QoS 1 publishes on one connection (MQTT 3.1.1 §4.6)
      const acks = rows.map((r) => this.out.publish(r.topic, r.payload).then(() => r.seq));
      const results = await Promise.allSettled(acks);
      const acked = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      this.repo.remove(acked);
      this.sent += acked.length;
      if (results.some((r) => r.status === 'rejected')) {
        // sent again from the first unacknowledged row at the next drain
        this.again = false;
        break;
      }
      after = rows.at(-1)?.seq ?? after;
    }
  }

  stats(): { messages: number; bytes: number; dropped: number; sent: number } {
    return { ...this.repo.stats(), sent: this.sent };
  }
}
