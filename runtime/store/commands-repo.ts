/**
 * Replay protection for remote commands (DESIGN §12.12): the last `ts` accepted per issuer and the
 * nonces still inside their validity, on the `synchronous=FULL` connection. Written only for
 * commands whose signature has been checked.
 *
 * `reserve` takes a command's counter and nonce at once in memory (so a second copy is refused
 * from that moment) and commits them with the other secure writes of the next few milliseconds;
 * `accept` commits before returning. The link accepts mutating commands (durable before they run)
 * and reserves read-only ones: if the daemon dies before that commit, the only replay it allows is
 * of a read-only command, before its expiry.
 */
import type { Statement } from 'better-sqlite3';
import type { Db } from './db';
import type { SecureBatch } from './secure-batch';

/** how long a read-only command's counter may wait for its commit */
export const RESERVE_WITHIN_MS = 50;

export class CommandsRepo {
  private readonly pendingTs = new Map<string, number>();
  private readonly pendingNonces = new Set<string>();
  private readonly q: Record<'lastTs' | 'nonce' | 'putTs' | 'putNonce' | 'expire' | 'dropTs', Statement>;

  constructor(
    db: Db,
    private readonly batch: SecureBatch,
  ) {
    this.q = {
      lastTs: db.prepare('SELECT last_ts AS ts FROM issuer_counters WHERE issuer = ?'),
      nonce: db.prepare('SELECT 1 FROM command_nonces WHERE issuer = ? AND nonce = ?'),
      putTs: db.prepare('INSERT INTO issuer_counters (issuer, last_ts) VALUES (?, ?) ON CONFLICT (issuer) DO UPDATE SET last_ts = max(last_ts, excluded.last_ts)'),
      putNonce: db.prepare('INSERT OR IGNORE INTO command_nonces (issuer, nonce, expires_at) VALUES (?, ?, ?)'),
      expire: db.prepare('DELETE FROM command_nonces WHERE expires_at < ?'),
      dropTs: db.prepare('DELETE FROM issuer_counters WHERE issuer = ?'),
    };
  }

  lastTs(issuer: string): number | undefined {
    const pending = this.pendingTs.get(issuer);
    if (pending !== undefined) return pending;
    return (this.q.lastTs.get(issuer) as { ts: number } | undefined)?.ts;
  }

  nonceSeen(issuer: string, nonce: string): boolean {
    return this.pendingNonces.has(`${issuer}\0${nonce}`) || this.q.nonce.get(issuer, nonce) !== undefined;
  }

  /** takes the counter and nonce now; they reach the disk within RESERVE_WITHIN_MS */
  reserve(issuer: string, ts: number, nonce: string, expiresAt: number, now: number): void {
    const key = `${issuer}\0${nonce}`;
    this.pendingTs.set(issuer, Math.max(ts, this.pendingTs.get(issuer) ?? 0));
    this.pendingNonces.add(key);
    this.batch.later(
      'record a remote command',
      () => {
        this.q.putTs.run(issuer, ts);
        this.q.putNonce.run(issuer, nonce, expiresAt);
        this.q.expire.run(now);
      },
      // until then (or for ever, when the disk refuses) memory holds them
      () => {
        if (this.pendingTs.get(issuer) === ts) this.pendingTs.delete(issuer);
        this.pendingNonces.delete(key);
      },
      RESERVE_WITHIN_MS,
    );
  }

  /**
   * forgets an issuer's counter, on disk before returning: the link's answer to a counter set
   * while the clock was unset and now far ahead of it (runtime/fleet/verify.ts). The nonces stay,
   * and with exp checked against a set clock they still refuse every replay.
   */
  forget(issuer: string): void {
    this.pendingTs.delete(issuer);
    // queued behind any pending reserve of that counter, so it cannot be restored by it
    this.batch.later('reset a remote issuer counter', () => this.q.dropTs.run(issuer));
    this.batch.flush();
  }

  /** records an accepted command's counter and nonce on disk before returning */
  accept(issuer: string, ts: number, nonce: string, expiresAt: number, now: number): void {
    this.reserve(issuer, ts, nonce, expiresAt, now);
    this.batch.flush();
  }
}
