/**
 * Replay protection for remote commands (DESIGN §12.12): the last `ts` accepted per issuer and the
 * nonces still inside their validity, on the `synchronous=FULL` connection. Written only for
 * commands whose signature has been checked; one transaction per accepted command.
 */
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export class CommandsRepo {
  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  lastTs(issuer: string): number | undefined {
    const r = this.db.prepare('SELECT last_ts AS ts FROM issuer_counters WHERE issuer = ?').get(issuer) as { ts: number } | undefined;
    return r?.ts;
  }

  nonceSeen(issuer: string, nonce: string): boolean {
    return this.db.prepare('SELECT 1 FROM command_nonces WHERE issuer = ? AND nonce = ?').get(issuer, nonce) !== undefined;
  }

  /** Records an accepted command's counter and nonce, and forgets nonces past their expiry. */
  accept(issuer: string, ts: number, nonce: string, expiresAt: number, now: number): void {
    this.guard.run('record a remote command', () =>
      this.db.transaction(() => {
        this.db.prepare('INSERT INTO issuer_counters (issuer, last_ts) VALUES (?, ?) ON CONFLICT (issuer) DO UPDATE SET last_ts = excluded.last_ts').run(issuer, ts);
        this.db.prepare('INSERT INTO command_nonces (issuer, nonce, expires_at) VALUES (?, ?, ?)').run(issuer, nonce, expiresAt);
        this.db.prepare('DELETE FROM command_nonces WHERE expires_at < ?').run(now);
      })(),
    );
  }
}
