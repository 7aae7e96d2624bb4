/**
 * The bounded event log. Events arrive at bus speed, so they are queued and written in one
 * transaction per flush (DESIGN §7: one transaction per tick, not one per event), and the table is
 * trimmed to `keep` rows.
 */
import type { EventEnvelope } from '../bus/envelope';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export class EventsRepo {
  private pending: EventEnvelope[] = [];
  /** prepared once: flush runs every second for the daemon's whole life */
  private readonly insert: Statement;
  private readonly trim: Statement;

  constructor(
    private readonly db: Db,
    private readonly keep: number,
    private readonly guard: WriteGuard,
  ) {
    this.insert = db.prepare('INSERT INTO events (id, type, source, time, envelope) VALUES (?, ?, ?, ?, ?)');
    this.trim = db.prepare('DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?');
  }

  enqueue(e: EventEnvelope): void {
    this.pending.push(e);
    // A burst must not grow RAM without bound while the disk is slow or full.
    if (this.pending.length > this.keep) this.pending.splice(0, this.pending.length - this.keep);
  }

  flush(): number {
    if (this.pending.length === 0) return 0;
    const batch = this.pending;
    this.pending = [];
    try {
      this.guard.run('write the event log', () =>
        this.db.transaction(() => {
          for (const e of batch) this.insert.run(e.id, e.type, e.source, Date.parse(e.time), JSON.stringify(e));
          this.trim.run(this.keep);
        })(),
      );
    } catch (err) {
      // Keep the batch for the next flush (a full disk may recover); the queue stays bounded.
      this.pending = [...batch, ...this.pending].slice(-this.keep);
      throw err;
    }
    return batch.length;
  }

  recent(limit: number, typePrefix?: string): EventEnvelope[] {
    const rows = (
      typePrefix
        ? this.db.prepare('SELECT envelope FROM events WHERE type LIKE ? ORDER BY seq DESC LIMIT ?').all(`${typePrefix}%`, limit)
        : this.db.prepare('SELECT envelope FROM events ORDER BY seq DESC LIMIT ?').all(limit)
    ) as Array<{ envelope: string }>;
    return rows.map((r) => JSON.parse(r.envelope) as EventEnvelope).reverse();
  }
}
