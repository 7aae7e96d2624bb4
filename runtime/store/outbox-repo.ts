/**
 * The fleet outbox (DESIGN §8): messages waiting for the broker, in SQLite so they survive a
 * daemon restart. Rows are appended by the event journal (event-journal.ts) in the same
 * synchronous=FULL transaction as the event log, so the outbox holds them in event-log order
 * (issue 17); a row is deleted, on the main connection, when the broker acknowledged it. Bounded
 * by rows and bytes: the oldest are dropped first and counted. The totals are kept in memory
 * (every writer is this object) so a commit does not scan the table.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface OutboxRow {
  seq: number;
  topic: string;
  payload: string;
}

export interface OutboxBounds {
  maxMessages: number;
  maxBytes: number;
}

export class OutboxRepo {
  private readonly insertRow: Statement;
  private readonly dropOldest: Statement;
  private readonly countDropped: Statement;
  private readonly del: Statement;
  private totals: { n: number; bytes: number } | undefined;

  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
    private readonly write: Db = db,
  ) {
    this.insertRow = write.prepare('INSERT INTO fleet_outbox (topic, payload, bytes, created_at) VALUES (?, ?, ?, ?)');
    this.dropOldest = write.prepare('DELETE FROM fleet_outbox WHERE seq = (SELECT MIN(seq) FROM fleet_outbox) RETURNING bytes');
    this.countDropped = write.prepare("INSERT INTO meta (key, value) VALUES ('fleet.outbox.dropped', ?) ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + excluded.value");
    this.del = db.prepare('DELETE FROM fleet_outbox WHERE seq = ? RETURNING bytes');
  }

  /** Appends a batch in its own transaction and trims to the bounds; returns how many old rows were dropped. */
  append(rows: ReadonlyArray<{ topic: string; payload: string }>, bounds: OutboxBounds, now = Date.now()): number {
    if (rows.length === 0) return 0;
    try {
      return this.guard.run('write the fleet outbox', () => this.write.transaction(() => this.insert(rows, bounds, now))());
    } catch (err) {
      this.forgetTotals();
      throw err;
    }
  }

  /**
   * Appends and trims inside the caller's transaction on the write connection; a caller whose
   * transaction is rolled back calls forgetTotals().
   */
  insert(rows: ReadonlyArray<{ topic: string; payload: string }>, bounds: OutboxBounds, now = Date.now()): number {
    if (rows.length === 0) return 0;
    const t = this.count();
    for (const r of rows) {
      const bytes = Buffer.byteLength(r.payload);
      this.insertRow.run(r.topic, r.payload, bytes, now);
      t.n++;
      t.bytes += bytes;
    }
    let dropped = 0;
    while (t.n > 0 && (t.n > bounds.maxMessages || t.bytes > bounds.maxBytes)) {
      const gone = this.dropOldest.get() as { bytes: number } | undefined;
      if (!gone) break;
      t.n--;
      t.bytes -= gone.bytes;
      dropped++;
    }
    if (dropped) this.countDropped.run(String(dropped));
    return dropped;
  }

  /** the in-memory totals no longer match the table (a rolled-back transaction): read them again */
  forgetTotals(): void {
    this.totals = undefined;
  }

  /** the oldest rows after `afterSeq` */
  next(afterSeq: number, limit: number): OutboxRow[] {
    return this.db.prepare('SELECT seq, topic, payload FROM fleet_outbox WHERE seq > ? ORDER BY seq LIMIT ?').all(afterSeq, limit) as OutboxRow[];
  }

  /** deletes acknowledged rows, in one transaction */
  remove(seqs: readonly number[]): void {
    if (seqs.length === 0) return;
    try {
      this.guard.run('trim the fleet outbox', () =>
        this.db.transaction(() => {
          for (const s of seqs) {
            const gone = this.del.get(s) as { bytes: number } | undefined;
            if (gone && this.totals) {
              this.totals.n--;
              this.totals.bytes -= gone.bytes;
            }
          }
        })(),
      );
    } catch (err) {
      this.forgetTotals();
      throw err;
    }
  }

  stats(): { messages: number; bytes: number; dropped: number } {
    const { n, bytes } = this.count();
    const d = this.db.prepare("SELECT value FROM meta WHERE key = 'fleet.outbox.dropped'").get() as { value: string } | undefined;
    return { messages: n, bytes, dropped: Number(d?.value ?? 0) };
  }

  private count(): { n: number; bytes: number } {
    this.totals ??= this.db.prepare('SELECT COUNT(*) AS n, COALESCE(SUM(bytes), 0) AS bytes FROM fleet_outbox').get() as { n: number; bytes: number };
    return this.totals;
  }
}
