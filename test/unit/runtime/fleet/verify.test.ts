/** The remote command checks, in DESIGN §12.12's order, and on hostile input. */
import crypto from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { CommandReply } from '../../../../runtime/fleet/command';
import { newKeyPair } from '../../../../runtime/fleet/keys';
import { makeCommand } from '../../../../runtime/fleet/sign';
import { checkCommand, type VerifyDeps } from '../../../../runtime/fleet/verify';

const pair = newKeyPair();
const key = crypto.createPrivateKey(pair.privatePem);
const deps = (over: Partial<VerifyDeps> = {}): VerifyDeps => ({
  self: 'dev-1',
  issuers: new Map([['ops', { key: crypto.createPublicKey(pair.publicPem), role: 'operator' as const }]]),
  opInfo: (op) => ({ 'daemon.ping': { role: 'viewer' as const, remote: true }, 'rules.apply': { role: 'admin' as const, remote: true }, 'agents.add': { role: 'admin' as const, remote: false } })[op],
  lastTs: () => undefined,
  nonceSeen: () => false,
  cached: () => undefined,
  now: () => 1_000_000,
  ...over,
});
const raw = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const codeOf = (v: ReturnType<typeof checkCommand>): string => (v.kind === 'refused' ? v.code : v.kind);

describe('remote command checks', () => {
  it('accepts a signed command and names its role', () => {
    const v = checkCommand(raw(makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts: 999_000 })), 'daemon.ping', deps());
    expect(v).toMatchObject({ kind: 'run', role: 'operator', body: { op: 'daemon.ping', device: 'dev-1' } });
  });

  it('checks in order: size, parse, schema, device, signature, cache, expiry, counter, nonce, role', () => {
    const good = makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts: 999_000 });
    expect(codeOf(checkCommand(Buffer.alloc(300 * 1024, 0x20), 'daemon.ping', deps()))).toBe('OSZ_E_REQUEST_TOO_LARGE');
    expect(codeOf(checkCommand(raw('{'), 'daemon.ping', deps()))).toBe('OSZ_E_INVALID_PARAMS');
    // a wrong device is refused before the signature is even looked at
    expect(codeOf(checkCommand(raw({ ...makeCommand('ops', key, 'dev-2', 'daemon.ping', {}, { ts: 999_000 }), sig: 'AAAA' }), 'daemon.ping', deps()))).toBe('OSZ_E_WRONG_DEVICE');
    expect(codeOf(checkCommand(raw({ ...good, sig: Buffer.alloc(64).toString('base64') }), 'daemon.ping', deps()))).toBe('OSZ_E_BAD_SIGNATURE');
    // the body is signed as bytes: re-serialising it (here: spaces) breaks the signature
    expect(codeOf(checkCommand(raw({ ...good, body: JSON.stringify(JSON.parse(good.body), null, 1) }), 'daemon.ping', deps()))).toBe('OSZ_E_BAD_SIGNATURE');
    const cached: CommandReply = { v: 1, id: good.id, ok: true, result: 'pong' };
    expect(checkCommand(raw(good), 'daemon.ping', deps({ cached: () => cached, now: () => 9e12 }))).toEqual({ kind: 'cached', reply: cached, issuer: 'ops' });
    expect(codeOf(checkCommand(raw(good), 'daemon.ping', deps({ now: () => 9e12 })))).toBe('OSZ_E_EXPIRED');
    expect(codeOf(checkCommand(raw(good), 'daemon.ping', deps({ lastTs: () => 999_000 })))).toBe('OSZ_E_REPLAYED');
    expect(codeOf(checkCommand(raw(good), 'daemon.ping', deps({ nonceSeen: () => true })))).toBe('OSZ_E_REPLAYED');
    expect(codeOf(checkCommand(raw(makeCommand('ops', key, 'dev-1', 'rules.apply', {}, { ts: 999_000 })), 'rules.apply', deps()))).toBe('OSZ_E_FORBIDDEN');
    expect(codeOf(checkCommand(raw(makeCommand('ops', key, 'dev-1', 'agents.add', {}, { ts: 999_000 })), 'agents.add', deps()))).toBe('OSZ_E_FORBIDDEN');
  });

  it.each([
    ['an array', '[1,2]'],
    ['a wrong version', { v: 2, id: 'a', issuer: 'ops', body: '{}', sig: 'x' }],
    ['extra keys', { v: 1, id: 'a', issuer: 'ops', body: '{}', sig: 'x', admin: true }],
    ['a body that is an object, not a string', { v: 1, id: 'a', issuer: 'ops', body: { op: 'daemon.ping' }, sig: 'x' }],
    ['a body that is not JSON', { v: 1, id: 'a', issuer: 'ops', body: 'op=ping', sig: 'x' }],
    ['a body for another topic', { v: 1, id: 'a', issuer: 'ops', body: JSON.stringify({ op: 'rules.apply', params: {}, device: 'dev-1', ts: 1, exp: 2, nonce: 'abcdefgh' }), sig: 'x' }],
    ['a hostile id', { v: 1, id: '../../x', issuer: 'ops', body: '{}', sig: 'x' }],
    ['a prototype key in the body', { v: 1, id: 'a', issuer: 'ops', body: '{"__proto__":{"op":"daemon.ping"}}', sig: 'x' }],
  ])('refuses %s as OSZ_E_INVALID_PARAMS, without a signature check', (_what, input) => {
    expect(codeOf(checkCommand(raw(input), 'daemon.ping', deps()))).toBe('OSZ_E_INVALID_PARAMS');
  });
});
