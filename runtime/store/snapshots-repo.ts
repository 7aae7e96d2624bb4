/**
 * The latest state snapshot of each agent (DESIGN §6): written once per projection round in one
 * transaction, and only the rows whose snapshot changed (SD wear, DESIGN §7).
 */
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export interface StoredSnapshot {
  agent: string;
  instance: string;
  at: number;
  snapshot: unknown;
}

export class SnapshotsRepo {
  private readonly written = new Map<string, string>();

  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  all(): StoredSnapshot[] {
    const rows = this.db.prepare('SELECT agent_id AS agent, instance_id AS instance, taken_at AS at, snapshot FROM agent_snapshots').all() as Array<Omit<StoredSnapshot, 'snapshot'> & { snapshot: string }>;
    return rows.flatMap((r) => {
      try {
        this.written.set(r.agent, r.snapshot);
        return [{ ...r, snapshot: JSON.parse(r.snapshot) as unknown }];
      } catch {
        return [];
      }
    });
  }

  /** Writes the rows that differ from what is stored; returns how many were written. */
  save(rows: readonly StoredSnapshot[]): number {
    const changed = rows.map((r) => ({ ...r, text: JSON.stringify(r.snapshot) })).filter((r) => this.written.get(r.agent) !== r.text);
    if (changed.length === 0) return 0;
    const upsert = this.db.prepare('INSERT INTO agent_snapshots (agent_id, instance_id, taken_at, snapshot) VALUES (?, ?, ?, ?) ON CONFLICT (agent_id) DO UPDATE SET instance_id = excluded.instance_id, taken_at = excluded.taken_at, snapshot = excluded.snapshot');
    this.guard.run('store agent snapshots', () =>
      this.db.transaction(() => {
        for (const r of changed) upsert.run(r.agent, r.instance, r.at, r.text);
      })(),
    );
    for (const r of changed) this.written.set(r.agent, r.text);
    return changed.length;
  }
}
