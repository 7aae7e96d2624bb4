/** The remote command checks, in DESIGN §12.12's order, and on hostile input. */
import crypto from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../../runtime/log';
import { createStore } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';
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
  synced: () => false,
  limits: { maxClockSkewMs: 300_000, maxCommandTtlMs: 3_600_000 },
  ...over,
});
const raw = (v: unknown): Buffer => Buffer.from(typeof v === 'string' ? v : JSON.stringify(v));
const codeOf = (v: ReturnType<typeof checkCommand>): string => (v.kind === 'refused' ? v.code : v.kind);

describe('remote command checks', () => {
  it('accepts a signed command and names its role', () => {
    const v = checkCommand(raw(makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts: 999_000 })), 'daemon.ping', deps());
    expect(v).toMatchObject({ kind: 'run', role: 'operator', body: { op: 'daemon.ping', device: 'dev-1' } });
  });

  it('checks in order: size, parse, schema, device, signature, cache, expiry, validity, skew, counter, nonce, role', () => {
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
    expect(codeOf(checkCommand(raw(good), 'daemon.ping', deps({ limits: { maxClockSkewMs: 300_000, maxCommandTtlMs: 59_999 } })))).toBe('OSZ_E_COMMAND_TTL');
    expect(codeOf(checkCommand(raw(good), 'daemon.ping', deps({ synced: () => true, now: () => 999_000 - 300_001 })))).toBe('OSZ_E_CLOCK_SKEW');
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

describe('remote command clock rules', () => {
  const YEAR = 365 * 86_400_000;
  const NOW = Date.UTC(2025, 0, 1);
  const at = (now: number, synced: boolean, over: Partial<VerifyDeps> = {}): VerifyDeps => deps({ now: () => now, synced: () => synced, ...over });
  const ping = (ts: number, ttlMs = 60_000): Buffer => raw(makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts, ttlMs }));

  it('judges ts against the clock only once it is synchronised', () => {
    // unset (a Pi at boot, 1970 or fake-hwclock's last time): a ts far ahead is nothing to go by
    expect(codeOf(checkCommand(ping(NOW + 50 * YEAR), 'daemon.ping', at(NOW, false)))).toBe('run');
    expect(checkCommand(ping(NOW + 50 * YEAR), 'daemon.ping', at(NOW, true))).toMatchObject({ kind: 'refused', code: 'OSZ_E_CLOCK_SKEW', signed: true, issuer: 'ops' });
    expect(codeOf(checkCommand(ping(NOW + 300_000), 'daemon.ping', at(NOW, true)))).toBe('run');
    expect(codeOf(checkCommand(ping(NOW + 300_001), 'daemon.ping', at(NOW, true)))).toBe('OSZ_E_CLOCK_SKEW');
    // behind is fine: only exp says how old a command may be
    expect(codeOf(checkCommand(ping(NOW - 30_000), 'daemon.ping', at(NOW, true)))).toBe('run');
  });

  it('refuses a validity (exp - ts) over maxCommandTtlMs, clock set or not', () => {
    for (const synced of [false, true]) {
      expect(codeOf(checkCommand(ping(NOW, 10 * YEAR), 'daemon.ping', at(NOW, synced)))).toBe('OSZ_E_COMMAND_TTL');
      expect(codeOf(checkCommand(ping(NOW, 3_600_001), 'daemon.ping', at(NOW, synced)))).toBe('OSZ_E_COMMAND_TTL');
      expect(codeOf(checkCommand(ping(NOW, 3_600_000), 'daemon.ping', at(NOW, synced)))).toBe('run');
    }
    // a signed refusal: the caller audits it
    expect(checkCommand(ping(NOW, 10 * YEAR), 'daemon.ping', at(NOW, false))).toMatchObject({ signed: true, message: expect.stringMatching(/fleet\.maxCommandTtlMs/) as unknown });
  });

  it('asks for a counter far ahead of a synchronised clock to be reset, and judges the command without it', () => {
    const far = NOW + 50 * YEAR;
    // before the clock is set, the far counter stands: the caller cannot tell it from a real one
    expect(checkCommand(ping(NOW), 'daemon.ping', at(NOW, false, { lastTs: () => far }))).toMatchObject({ code: 'OSZ_E_REPLAYED' });
    const v = checkCommand(ping(NOW), 'daemon.ping', at(NOW, true, { lastTs: () => far }));
    expect(v).toMatchObject({ kind: 'run', reset: far });
    // a refused command still resets it: the reset is about the counter, not this command
    expect(checkCommand(ping(NOW), 'daemon.ping', at(NOW, true, { lastTs: () => far, nonceSeen: () => true }))).toMatchObject({ code: 'OSZ_E_REPLAYED', reset: far, signed: true });
    expect(checkCommand(ping(NOW + 50 * YEAR + 1), 'daemon.ping', at(NOW, true, { lastTs: () => far }))).toMatchObject({ code: 'OSZ_E_CLOCK_SKEW', reset: far });
    // within the skew a counter is a real one: no reset, and replays are still refused
    const near = checkCommand(ping(NOW), 'daemon.ping', at(NOW, true, { lastTs: () => NOW + 300_000 }));
    expect(near).toMatchObject({ code: 'OSZ_E_REPLAYED' });
    expect(near).not.toHaveProperty('reset');
    // garbage never resets anything: no signature, no verdict about counters
    expect(checkCommand(raw({ ...JSON.parse(ping(NOW).toString()), sig: Buffer.alloc(64).toString('base64') }), 'daemon.ping', at(NOW, true, { lastTs: () => far }))).not.toHaveProperty('reset');
  });

  it('names the kind of each unsigned refusal, for the rate-limited log', () => {
    const good = makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts: 999_000 });
    const noiseOf = (input: Buffer, topic = 'daemon.ping'): string | undefined => {
      const v = checkCommand(input, topic, deps());
      return v.kind === 'refused' ? v.noise : undefined;
    };
    expect(noiseOf(Buffer.alloc(300 * 1024, 0x20))).toBe('oversize');
    expect(noiseOf(raw('{'))).toBe('unparseable');
    expect(noiseOf(raw({ v: 1, id: 'a' }))).toBe('unparseable');
    expect(noiseOf(raw(good), 'rules.apply')).toBe('misdirected');
    expect(noiseOf(raw(makeCommand('ops', key, 'dev-2', 'daemon.ping')))).toBe('misdirected');
    expect(noiseOf(raw({ ...good, issuer: 'nobody' }))).toBe('unsigned');
    expect(noiseOf(raw({ ...good, sig: Buffer.alloc(64).toString('base64') }))).toBe('bad-signature');
    // signed refusals are audited instead
    expect(noiseOf(raw(good), 'daemon.ping')).toBeUndefined();
  });
});

describe('one command dated decades ahead, before the clock was set', () => {
  it('locks its issuer out only until the clock is set', () => {
    const file = path.join(tmpDir(), 's.db');
    let store = createStore(file, memoryLogger(), { keepEvents: 10 });
    try {
      const clock = { now: Date.UTC(2025, 0, 1), synced: false };
      const d = deps({ now: () => clock.now, synced: () => clock.synced, lastTs: (i) => store.commands.lastTs(i), nonceSeen: (i, n) => store.commands.nonceSeen(i, n) });
      // what the link does with a verdict
      const run = (ts: number): string => {
        const v = checkCommand(raw(makeCommand('ops', key, 'dev-1', 'daemon.ping', {}, { ts })), 'daemon.ping', d);
        if (v.kind !== 'cached' && v.reset !== undefined) store.commands.forget('ops');
        if (v.kind === 'run') store.commands.accept('ops', v.body.ts, v.body.nonce, v.body.exp, clock.now);
        return codeOf(v);
      };
      expect(run(clock.now + 50 * 365 * 86_400_000)).toBe('run');
      expect(run(clock.now + 1000)).toBe('OSZ_E_REPLAYED');
      clock.synced = true;
      expect(run(clock.now + 2000)).toBe('run');
      expect(run(clock.now + 3000)).toBe('run');
      expect(run(clock.now + 2500)).toBe('OSZ_E_REPLAYED');
      // the reset is on disk: a restart does not bring the far counter back
      store.close();
      store = createStore(file, memoryLogger(), { keepEvents: 10 });
      expect(store.commands.lastTs('ops')).toBe(clock.now + 3000);
    } finally {
      store.close();
    }
  });
});
