/**
 * The audit log: one row per mutating control-plane call and per denial, written on the
 * synchronous=FULL connection (DESIGN §12.11) so it survives power loss, committed with the
 * other secure writes of the same turn of the event loop. Params are stored
 * already redacted by the caller.
 */
import type { Db } from './db';
import type { Statement } from 'better-sqlite3';
import type { SecureBatch } from './secure-batch';

export interface AuditEntry {
  ts: number;
  actor: string;
  op: string;
  params: unknown;
  outcome: 'ok' | 'error' | 'denied';
  errorCode?: string | undefined;
}

export const KEEP_AUDIT_ROWS = 50_000;

export class AuditRepo {
  private writes = 0;
  private readonly insert: Statement;

  constructor(
    private readonly secure: Db,
    private readonly batch: SecureBatch,
  ) {
    this.insert = secure.prepare('INSERT INTO audit (ts, actor, op, params, outcome, error_code) VALUES (?, ?, ?, ?, ?, ?)');
  }

  /**
   * Queues the row for the next secure transaction: at the end of this turn of the event loop
   * (one fsync for a burst), or within `withinMs` when the caller allows it.
   */
  append(e: AuditEntry, withinMs = 0): void {
    this.batch.later(
      'write the audit log',
      () => {
        this.insert.run(e.ts, e.actor, e.op, JSON.stringify(e.params ?? {}).slice(0, 8192), e.outcome, e.errorCode ?? null);
        if (++this.writes % 500 === 0) this.secure.prepare('DELETE FROM audit WHERE id <= (SELECT MAX(id) FROM audit) - ?').run(KEEP_AUDIT_ROWS);
      },
      undefined,
      withinMs,
    );
  }

  recent(limit = 100): Array<AuditEntry & { id: number }> {
    this.batch.flush();
    return (
      this.secure.prepare('SELECT * FROM audit ORDER BY id DESC LIMIT ?').all(limit) as Array<{
        id: number;
        ts: number;
        actor: string;
        op: string;
        params: string;
        outcome: AuditEntry['outcome'];
        error_code: string | null;
      }>
    ).map((r) => ({
      id: r.id,
      ts: r.ts,
      actor: r.actor,
      op: r.op,
      params: JSON.parse(r.params) as unknown,
      outcome: r.outcome,
      errorCode: r.error_code ?? undefined,
    }));
  }
}
