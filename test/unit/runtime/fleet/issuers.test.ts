/** Issuer rotation (issuers.put): config issuers overlaid by stored rotations, durable, never without an admin. */
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { IssuerRegistry } from '../../../../runtime/fleet/issuers';
import { fingerprint, newKeyPair } from '../../../../runtime/fleet/keys';
import { memoryLogger } from '../../../../runtime/log';
import { createStore } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

const pub = (pem: string): crypto.KeyObject => crypto.createPublicKey(pem);

function setup(): { file: string; admin: { publicPem: string }; registry: (file: string) => { reg: IssuerRegistry; close: () => void } } {
  const admin = newKeyPair();
  const file = path.join(tmpDir(), 'i.db');
  const registry = (f: string): { reg: IssuerRegistry; close: () => void } => {
    const store = createStore(f, memoryLogger(), { keepEvents: 10 });
    const reg = new IssuerRegistry(new Map([['root', { key: pub(admin.publicPem), role: 'admin' as const }]]), store.issuers);
    return { reg, close: () => store.close() };
  };
  return { file, admin, registry };
}

describe('issuer registry', () => {
  it('adds an issuer, rotates its key and role, and keeps that across a restart over the config', () => {
    const { file, registry } = setup();
    const { reg, close } = registry(file);
    const first = newKeyPair();
    expect(reg.put({ id: 'ci', publicKey: first.publicPem, role: 'operator' }, 'mqtt:root')).toMatchObject({ id: 'ci', role: 'operator', source: 'rotated', updatedBy: 'mqtt:root' });
    expect(reg.get('ci')?.role).toBe('operator');
    // a raw 32-byte key in base64 works as well as PEM
    const second = newKeyPair();
    const raw = pub(second.publicPem).export({ format: 'jwk' }).x ?? '';
    const rawB64 = Buffer.from(raw, 'base64url').toString('base64');
    reg.put({ id: 'ci', publicKey: rawB64 }, 'mqtt:root');
    expect(reg.get('ci')?.key.equals(pub(second.publicPem))).toBe(true);
    reg.put({ id: 'ci', role: 'viewer' }, 'mqtt:root');
    close();
    const again = registry(file);
    expect(again.reg.list().map((i) => [i.id, i.role, i.source])).toEqual([
      ['root', 'admin', 'config'],
      ['ci', 'viewer', 'rotated'],
    ]);
    expect(again.reg.list()[1]?.fingerprint).toBe(fingerprint(pub(second.publicPem)));
    again.close();
  });

  it('revokes an issuer, even one from the config, and the revocation outlives a restart', () => {
    const { file, registry } = setup();
    const { reg, close } = registry(file);
    reg.put({ id: 'ops2', publicKey: newKeyPair().publicPem, role: 'admin' }, 'test');
    expect(reg.put({ id: 'root', revoke: true }, 'test')).toEqual({ id: 'root', revoked: true });
    expect(reg.get('root')).toBeUndefined();
    close();
    const again = registry(file);
    expect(again.reg.get('root')).toBeUndefined();
    expect(again.reg.get('ops2')?.role).toBe('admin');
    again.close();
  });

  it('never leaves the device without an admin issuer, and refuses bad and hostile keys without changing anything', () => {
    const { file, registry } = setup();
    const { reg, close } = registry(file);
    const refused = (f: () => unknown): string => {
      try {
        f();
        return 'accepted';
      } catch (err) {
        return (err as { code: string }).code;
      }
    };
    expect(refused(() => reg.put({ id: 'root', revoke: true }, 't'))).toBe('OSZ_E_ISSUER');
    expect(refused(() => reg.put({ id: 'root', role: 'operator' }, 't'))).toBe('OSZ_E_ISSUER');
    expect(refused(() => reg.put({ id: 'nobody', revoke: true }, 't'))).toBe('OSZ_E_ISSUER');
    expect(refused(() => reg.put({ id: 'new', role: 'admin' }, 't'))).toBe('OSZ_E_ISSUER');
    expect(refused(() => reg.put({ id: 'new', publicKey: newKeyPair().publicPem }, 't'))).toBe('OSZ_E_ISSUER');
    const rsa = crypto.generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    for (const bad of [rsa, 'not a key', Buffer.alloc(31).toString('base64'), '-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----', 'A'.repeat(5000), '../../etc/passwd']) {
      expect(refused(() => reg.put({ id: 'new', publicKey: bad, role: 'viewer' }, 't'))).toBe('OSZ_E_ISSUER');
    }
    expect(reg.list().map((i) => i.id)).toEqual(['root']);
    close();
    const again = registry(file);
    expect(again.reg.list().map((i) => [i.id, i.role])).toEqual([['root', 'admin']]);
    again.close();
  });
});
