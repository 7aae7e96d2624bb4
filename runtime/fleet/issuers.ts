/**
 * The issuers whose signed commands this device accepts (DESIGN §12.12): those of `fleet.issuers`
 * in the config, overlaid by rotations recorded through a signed `issuers.put` (stored on the
 * synchronous=FULL connection). A stored row replaces the config's key or role for its id; a
 * revoked row hides it. At least one admin issuer always remains, so a device cannot be locked out
 * of its own rotation.
 */
import type crypto from 'node:crypto';
import type { Role } from '../control/op';
import { OszError } from '../errors';
import type { IssuersRepo } from '../store/issuers-repo';
import { fingerprint, parsePublicKey } from './keys';
import type { Issuer } from './verify';

export interface IssuerView {
  id: string;
  role: Role;
  fingerprint: string;
  source: 'config' | 'rotated';
  updatedAt?: number;
  updatedBy?: string;
}

export interface IssuerPut {
  id: string;
  publicKey?: string | undefined;
  role?: Role | undefined;
  revoke?: boolean | undefined;
}

export class IssuerRegistry {
  private effective = new Map<string, Issuer & { view: IssuerView }>();

  constructor(
    private readonly configured: ReadonlyMap<string, Issuer>,
    private readonly repo: IssuersRepo | undefined,
    private readonly warn: (m: string) => void = () => undefined,
  ) {
    this.effective = this.build();
  }

  get(id: string): Issuer | undefined {
    return this.effective.get(id);
  }

  list(): IssuerView[] {
    return [...this.effective.values()].map((i) => i.view);
  }

  /** adds, re-keys, changes the role of, or revokes an issuer; durable before it returns */
  put(p: IssuerPut, by: string): IssuerView | { id: string; revoked: true } {
    const now = Date.now();
    if (!this.repo) throw new OszError('OSZ_E_DRIVER_UNAVAILABLE', 'issuers can only be rotated on a daemon with a store');
    if (p.revoke) {
      if (!this.effective.has(p.id)) throw new OszError('OSZ_E_ISSUER', `there is no issuer ${p.id} to revoke`, { issuer: p.id });
      const next = new Map(this.effective);
      next.delete(p.id);
      this.keepAnAdmin(next, p.id);
      this.repo.put({ id: p.id, publicKey: null, role: null, revoked: true, updatedAt: now, updatedBy: by });
      this.effective = next;
      return { id: p.id, revoked: true };
    }
    const current = this.effective.get(p.id);
    let key: crypto.KeyObject;
    try {
      key = p.publicKey !== undefined ? parsePublicKey(p.publicKey) : (current?.key ?? fail(`issuer ${p.id} is new: give its publicKey`));
    } catch (err) {
      throw new OszError('OSZ_E_ISSUER', `issuer ${p.id}: ${(err as Error).message}`, { issuer: p.id });
    }
    const role = p.role ?? current?.role;
    if (!role) throw new OszError('OSZ_E_ISSUER', `issuer ${p.id} is new: give its role`, { issuer: p.id });
    const view: IssuerView = { id: p.id, role, fingerprint: fingerprint(key), source: 'rotated', updatedAt: now, updatedBy: by };
    const next = new Map(this.effective);
    next.set(p.id, { key, role, view });
    this.keepAnAdmin(next, p.id);
    this.repo.put({ id: p.id, publicKey: key.export({ type: 'spki', format: 'pem' }).toString(), role, revoked: false, updatedAt: now, updatedBy: by });
    this.effective = next;
    return view;
  }

  private keepAnAdmin(next: ReadonlyMap<string, Issuer>, id: string): void {
    if (![...next.values()].some((i) => i.role === 'admin')) throw new OszError('OSZ_E_ISSUER', `this would leave no admin issuer (${id} is the last one)`, { issuer: id });
  }

  private build(): Map<string, Issuer & { view: IssuerView }> {
    const out = new Map<string, Issuer & { view: IssuerView }>();
    for (const [id, i] of this.configured) out.set(id, { ...i, view: { id, role: i.role, fingerprint: fingerprint(i.key), source: 'config' } });
    for (const row of this.repo?.all() ?? []) {
      if (row.revoked) {
        out.delete(row.id);
        continue;
      }
      try {
        const key = parsePublicKey(row.publicKey ?? '');
        const role = row.role as Role;
        out.set(row.id, { key, role, view: { id: row.id, role, fingerprint: fingerprint(key), source: 'rotated', updatedAt: row.updatedAt, updatedBy: row.updatedBy } });
      } catch (err) {
        this.warn(`stored issuer ${row.id} is unreadable and is ignored: ${(err as Error).message}`);
      }
    }
    return out;
  }
}

function fail(message: string): never {
  throw new Error(message);
}
