/**
 * The fleet outbox (DESIGN §8): events waiting for the broker, in SQLite so they survive a daemon
 * restart. Bounded by rows and bytes; the oldest are dropped first and counted. Written in one
 * transaction per tick; a row is deleted when the broker acknowledged it.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface OutboxRow {
  seq: number;
  topic: string;
  payload: string;
}

export class OutboxRepo {
  private readonly insert: Statement;
  private readonly del: Statement;

  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {
    this.insert = db.prepare('INSERT INTO fleet_outbox (topic, payload, bytes, created_at) VALUES (?, ?, ?, ?)');
    this.del = db.prepare('DELETE FROM fleet_outbox WHERE seq = ?');
  }

  /** Appends a batch and trims to the bounds; returns how many old rows were dropped. */
  append(rows: ReadonlyArray<{ topic: string; payload: string }>, bounds: { maxMessages: number; maxBytes: number }, now = Date.now()): number {
    if (rows.length === 0) return 0;
    return this.guard.run('write the fleet outbox', () =>
      this.db.transaction(() => {
        for (const r of rows) this.insert.run(r.topic, r.payload, Buffer.byteLength(r.payload), now);
        let dropped = 0;
        const { n, bytes } = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM fleet_outbox').get() as { n: number; bytes: number };
        if (n > bounds.maxMessages) dropped += this.db.prepare('DELETE FROM fleet_outbox WHERE seq IN (SELECT seq FROM fleet_outbox ORDER BY seq LIMIT ?)').run(n - bounds.maxMessages).changes;
        let over = bytes - bounds.maxBytes;
        while (over > 0) {
          const old = this.db.prepare('SELECT seq, bytes FROM fleet_outbox ORDER BY seq LIMIT 100').all() as Array<{ seq: number; bytes: number }>;
          if (old.length === 0) break;
          for (const o of old) {
            if (over <= 0) break;
            this.del.run(o.seq);
            over -= o.bytes;
            dropped++;
          }
        }
        if (dropped) this.db.prepare("INSERT INTO meta (key, value) VALUES ('fleet.outbox.dropped', ?) ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value").run(String(dropped));
        return dropped;
      })(),
    );
  }

  /** the oldest rows after `afterSeq` */
  next(afterSeq: number, limit: number): OutboxRow[] {
    return this.db.prepare('SELECT seq, topic, payload FROM fleet_outbox WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as OutboxRow[];
  }

  /** deletes acknowledged rows, in one transaction */
  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    this.guard.run('trim the fleet outbox', () =>
      this.db.transaction(() => {
        for (const s of seqs) this.del.run(s);
      })(),
    );
  }

  stats(): { messages: number; bytes: number; dropped: number } {
    const { n, bytes } = this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM fleet_outbox').get() as { n: number; bytes: number };
    const d = this.db.prepare("SELECT value FROM meta WHERE key = 'fleet.outbox.dropped'").get() as { value: string } | undefined;
    return { messages: n, bytes, dropped: Number(d?.value ?? 0) };
  }
}
