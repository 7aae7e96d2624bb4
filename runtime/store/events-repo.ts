/**
 * The bounded event log. Rows are written by the event journal (event-journal.ts), inside its
 * group commit on the synchronous=FULL connection, and read on the main connection; the table is
 * trimmed to `keep` rows.
 */
import type { EventEnvelope } from '../bus/envelope';
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';

export class EventsRepo {
  /** prepared once, on the write connection: the journal commits many times a second */
  private readonly insertRow: Statement;
  private readonly trim: Statement;

  constructor(
    private readonly db: Db,
    write: Db,
    private readonly keep: number,
  ) {
    this.insertRow = write.prepare('INSERT INTO events (id, type, source, time, envelope) VALUES (?, ?, ?, ?, ?)');
    this.trim = write.prepare('DELETE FROM events WHERE seq <= (SELECT MAX(seq) FROM events) - ?');
  }

  /** appends in order and trims; runs inside the caller's transaction on the write connection */
  insert(batch: readonly EventEnvelope[]): void {
    if (batch.length === 0) return;
    for (const e of batch) this.insertRow.run(e.id, e.type, e.source, Date.parse(e.time), JSON.stringify(e));
    this.trim.run(this.keep);
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
