/**
 * Issuers rotated over the air (`issuers.put`, DESIGN §12.12), on the `synchronous=FULL`
 * connection and committed before the call returns. A row overrides the config's issuer of the
 * same id; a revoked row hides it, so a key taken back stays taken back across restarts.
 */
import type { Db } from './db';
import type { SecureBatch } from './secure-batch';

export interface StoredIssuer {
  id: string;
  publicKey: string | null;
  role: string | null;
  revoked: boolean;
  updatedAt: number;
  updatedBy: string;
}

export class IssuersRepo {
  constructor(
    private readonly secure: Db,
    private readonly batch: SecureBatch,
  ) {}

  all(): StoredIssuer[] {
    const rows = this.secure.prepare('SELECT * FROM issuers ORDER BY id').all() as Array<{ id: string; public_key: string | null; role: string | null; revoked: number; updated_at: number; updated_by: string }>;
    return rows.map((r) => ({ id: r.id, publicKey: r.public_key, role: r.role, revoked: r.revoked === 1, updatedAt: r.updated_at, updatedBy: r.updated_by }));
  }

  put(i: StoredIssuer): void {
    this.batch.later('record an issuer', () => {
      this.secure
        .prepare(
          `INSERT INTO issuers (id, public_key, role, revoked, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?)
           ON CONFLICT (id) DO UPDATE SET public_key = excluded.public_key, role = excluded.role, revoked = excluded.revoked,
             updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
        )
        .run(i.id, i.publicKey, i.role, i.revoked ? 1 : 0, i.updatedAt, i.updatedBy);
    });
    this.batch.flush();
  }
}
