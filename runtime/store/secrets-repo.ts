/**
 * Agent secrets (DESIGN §12.9): set by the operator, granted per agent in its manifest, injected
 * at spawn. Values never leave this repo except into an agent's environment; listings show names.
 */
import { OszError } from '../errors';
import type { Db } from './db';
import type { WriteGuard } from './write-guard';

export const SECRET_NAME = /^[A-Z][A-Z0-9_]{0,127}$/;
export const MAX_SECRET_BYTES = 64 * 1024;

export class SecretsRepo {
  constructor(
    private readonly db: Db,
    private readonly guard: WriteGuard,
  ) {}

  set(name: string, value: string, now: number): void {
    if (!SECRET_NAME.test(name)) throw new OszError('OSZ_E_SECRET_INVALID', `secret name "${name.slice(0, 140)}" is not allowed`, { name });
    if (Buffer.byteLength(value) > MAX_SECRET_BYTES || value.includes('\0')) {
      throw new OszError('OSZ_E_SECRET_INVALID', `secret "${name}" value is over ${MAX_SECRET_BYTES} bytes or holds a NUL byte`, { name });
    }
    this.guard.run('store the secret', () =>
      this.db
        .prepare('INSERT INTO secrets (name, value, updated_at) VALUES (?,?,?) ON CONFLICT(name) DO UPDATE SET value=excluded.value, updated_at=excluded.updated_at')
        .run(name, Buffer.from(value, 'utf8'), now),
    );
  }

  remove(name: string): void {
    const res = this.guard.run('remove the secret', () => this.db.prepare('DELETE FROM secrets WHERE name = ?').run(name));
    if (res.changes === 0) throw new OszError('OSZ_E_NO_SUCH_SECRET', `no secret "${name}"`, { name });
  }

  list(): Array<{ name: string; updatedAt: number }> {
    return (this.db.prepare('SELECT name, updated_at FROM secrets ORDER BY name').all() as Array<{ name: string; updated_at: number }>).map((r) => ({
      name: r.name,
      updatedAt: r.updated_at,
    }));
  }

  /** Values for the granted names; a missing secret is an error naming it. */
  resolve(names: readonly string[]): Record<string, string> {
    const out: Record<string, string> = {};
    const get = this.db.prepare('SELECT value FROM secrets WHERE name = ?');
    for (const name of names) {
      const row = get.get(name) as { value: Buffer } | undefined;
      if (!row) throw new OszError('OSZ_E_NO_SUCH_SECRET', `the agent is granted secret "${name}", but it is not set`, { name });
      out[name] = row.value.toString('utf8');
    }
    return out;
  }
}
