import { describe, expect, it } from 'vitest';
import { driverOf, envNameRefusal, MAX_MANIFEST_BYTES, parseManifest } from '../../../../runtime/agents/manifest';
import { OszError } from '../../../../runtime/errors';

const base = { identity: { id: 'greenhouse', name: 'Greenhouse' }, runtime: { entry: 'main.mjs' } };
const parse = (v: unknown): ReturnType<typeof parseManifest> => parseManifest(typeof v === 'string' ? v : JSON.stringify(v), 'agent.json');

function codeOf(v: unknown): { code: string; message: string } {
  try {
    parse(v);
  } catch (err) {
    if (err instanceof OszError) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('agent manifest', () => {
  it('fills defaults and keeps upstream OpenStarry fields and unknown keys', () => {
    const m = parse({ ...base, plugins: [{ name: 'pid-tables', path: 'plugins/pid', config: { kp: 1 }, extra: 'kept' }], futureField: { x: 1 } });
    expect(m.restart).toMatchObject({ policy: 'on-failure' });
    // no default maxRetries in the manifest: the policy decides (backoff.ts maxRetriesOf, issue 17)
    expect(m.restart.maxRetries).toBeUndefined();
    expect(m.limits.memoryMb).toBe(64);
    expect(m.capabilities.network).toBe(false);
    expect((m as Record<string, unknown>).futureField).toEqual({ x: 1 });
    expect(m.plugins[0]).toMatchObject({ name: 'pid-tables', extra: 'kept' });
  });

  it('infers the driver from module, entry or image', () => {
    expect(driverOf(parse(base))).toBe('process');
    expect(driverOf(parse({ ...base, runtime: { module: 'a.wasm' } }))).toBe('wasm');
    expect(driverOf(parse({ ...base, runtime: { image: 'greenhouse:1' } }))).toBe('docker');
    expect(driverOf(parse({ ...base, runtime: { driver: 'worker', entry: 'w.mjs' } }))).toBe('worker');
    expect(codeOf({ ...base, runtime: { driver: 'wasm', entry: 'x.mjs' } }).message).toContain('runtime.module');
    // image + entry: a Node agent in a container
    expect(driverOf(parse({ ...base, runtime: { entry: 'a.mjs', image: 'x' } }))).toBe('docker');
    expect(codeOf({ ...base, runtime: { module: 'a.wasm', entry: 'a.mjs' } }).message).toContain('not module and entry');
    expect(codeOf({ ...base, runtime: {} }).message).toContain('runtime.module');
  });

  it('enforces the env allow-list, naming the refused key', () => {
    for (const key of ['NODE_OPTIONS', 'LD_PRELOAD', 'OPENSTARRY_HOME', 'PATH', 'lower', '1ABC', 'A-B']) {
      const r = codeOf({ ...base, env: { [key]: 'x' } });
      expect(r.code, key).toBe(key === 'lower' || key === '1ABC' || key === 'A-B' ? 'OSZ_E_ENV_REFUSED' : 'OSZ_E_ENV_REFUSED');
      expect(r.message).toContain(key);
    }
    expect(envNameRefusal('LOG_LEVEL')).toBeUndefined();
    expect(codeOf({ ...base, secrets: ['NODE_AUTH'] }).message).toContain('NODE_AUTH');
    expect(codeOf({ ...base, env: { API_KEY: 'x' }, secrets: ['API_KEY'] }).message).toContain('both an env value and a granted secret');
  });

  it('keeps paths inside the agent folder', () => {
    expect(codeOf({ ...base, runtime: { entry: '../outside.mjs' } }).message).toContain('inside the agent folder');
    expect(codeOf({ ...base, runtime: { entry: '/etc/passwd' } }).message).toContain('relative');
    expect(codeOf({ ...base, plugins: [{ name: 'p', path: 'a/../../b' }] }).message).toContain('inside');
    expect(codeOf({ ...base, runtime: { entry: 'a\u0000b' } }).message).toContain('NUL');
  });

  it('refuses malformed, oversized and hostile manifests with stable codes', () => {
    expect(codeOf('{ not json').code).toBe('OSZ_E_MANIFEST');
    expect(codeOf('[]').code).toBe('OSZ_E_MANIFEST');
    expect(codeOf('null').code).toBe('OSZ_E_MANIFEST');
    expect(codeOf({ identity: { id: 'Bad_Id', name: 'x' }, runtime: { entry: 'a' } }).message).toContain('identity.id');
    expect(codeOf(`{"identity":{"id":"a","name":"${'x'.repeat(MAX_MANIFEST_BYTES)}"}}`).message).toContain('limit');
    expect(codeOf('{"__proto__":{"admin":true},"identity":{"id":"a","name":"a"},"runtime":{"entry":"a"}}').message).toContain('__proto__');
    expect(codeOf({ ...base, constructor: { prototype: {} } }).message).toContain('constructor');
    let deep: unknown = {};
    for (let i = 0; i < 200; i++) deep = { d: deep };
    expect(codeOf({ ...base, deep }).message).toContain('nesting');
    expect(codeOf({ ...base, limits: { memoryMb: -1 } }).message).toContain('limits.memoryMb');
    expect(codeOf({ ...base, restart: { policy: 'sometimes' } }).message).toContain('restart.policy');
    expect(codeOf({ ...base, capabilities: { events: { emit: ['NoColon'] } } }).message).toContain('capabilities.events.emit');
    expect(codeOf({ ...base, env: { A: 'x'.repeat(5000) } }).message).toContain('env.A');
    const many = codeOf({ identity: { id: '', name: '' }, runtime: { entry: '../x' }, limits: { memoryMb: 'a lot' } });
    expect(many.message.split('\n  - ').length).toBeGreaterThanOrEqual(4);
  });
});
