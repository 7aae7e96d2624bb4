import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { OPERATIONS } from '../../../../runtime/control/ops/index';
import { defineOp, type Caller } from '../../../../runtime/control/op';
import { ControlPlane } from '../../../../runtime/control/plane';
import type { ControlServices } from '../../../../runtime/control/services';
import { OszError } from '../../../../runtime/errors';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

const admin: Caller = { actor: 'socket:test', role: 'admin', transport: 'socket' };
const viewer: Caller = { actor: 'http:viewer', role: 'viewer', transport: 'http' };
const remote: Caller = { actor: 'mqtt:ops', role: 'admin', transport: 'mqtt' };

let store: Store;
afterEach(() => store.close());

/** A plane over a fake runtime object: only what the operations under test touch. */
function plane(extra: ControlServices['supervisor'] | undefined = undefined): ControlPlane {
  store = createStore(path.join(tmpDir(), 'db'), memoryLogger(), { keepEvents: 10 });
  const calls: string[] = [];
  const supervisor = extra ?? ({ spawn: (agent: string) => (calls.push(agent), Promise.resolve({ instance: `${agent}-1`, state: 'running' })), list: () => [] } as unknown as ControlServices['supervisor']);
  const services = { store, supervisor, log: memoryLogger(), info: () => ({ version: 'test' }), health: () => [] } as unknown as ControlServices;
  return new ControlPlane(OPERATIONS, services);
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OszError) return err.code;
    throw err;
  }
  return 'ok';
}

describe('control plane', () => {
  it('declares the walking skeleton operations once, with the seed names as aliases', () => {
    const p = plane();
    const names = p.operations().map((o) => o.name);
    for (const n of ['agents.add', 'agents.remove', 'agents.installed', 'agents.spawn', 'agents.kill', 'agents.signal', 'agents.list', 'agents.logs', 'plugins.add', 'plugins.remove', 'plugins.list', 'secrets.set', 'secrets.remove', 'secrets.list', 'daemon.status']) {
      expect(names).toContain(n);
    }
    expect(p.find('spawnAgent')?.name).toBe('agents.spawn');
    expect(p.find('killAgent')?.name).toBe('agents.kill');
    expect(p.find('listAgents')?.name).toBe('agents.list');
    expect(() => new ControlPlane([...OPERATIONS, defineOp({ name: 'agents.list', summary: '', params: z.object({}), role: 'viewer', mutating: false, remote: false, handler: () => null })], {} as ControlServices)).toThrow(/twice/);
  });

  it('suggests the closest operation for an unknown name', async () => {
    await expect(plane().call('agents.lst', {}, admin)).rejects.toThrow(/did you mean "agents.list"/);
  });

  it('validates params and audits mutating calls with secrets redacted', async () => {
    const p = plane();
    expect(await codeOf(p.call('secrets.set', { name: 'API_KEY' }, admin))).toBe('OSZ_E_INVALID_PARAMS');
    expect(await codeOf(p.call('secrets.set', { name: 'API_KEY', value: 'hunter22', extra: 1 }, admin))).toBe('OSZ_E_INVALID_PARAMS');
    await p.call('secrets.set', { name: 'API_KEY', value: 'hunter22' }, admin);
    expect(await codeOf(p.call('secrets.remove', { name: 'NOPE' }, admin))).toBe('OSZ_E_NO_SUCH_SECRET');
    const audit = store.audit.recent(10);
    expect(audit[1]).toMatchObject({ actor: 'socket:test', op: 'secrets.set', outcome: 'ok', params: { name: 'API_KEY', value: '***' } });
    expect(audit[0]).toMatchObject({ op: 'secrets.remove', outcome: 'error', errorCode: 'OSZ_E_NO_SUCH_SECRET' });
    expect(JSON.stringify(audit)).not.toContain('hunter22');
    await p.call('secrets.list', {}, admin);
    expect(store.audit.recent(10)).toHaveLength(2);
  });

  it('enforces roles and the remote flag, auditing denials', async () => {
    const p = plane();
    expect(await codeOf(p.call('secrets.set', { name: 'A_B', value: 'x' }, viewer))).toBe('OSZ_E_FORBIDDEN');
    expect(await codeOf(p.call('agents.add', { path: '/tmp' }, remote))).toBe('OSZ_E_FORBIDDEN');
    expect(await p.call('spawnAgent', { agent: 'echo' }, remote)).toEqual({ instance: 'echo-1', state: 'running' });
    const denied = store.audit.recent(10).filter((a) => a.outcome === 'denied');
    expect(denied.map((a) => a.actor).sort()).toEqual(['http:viewer', 'mqtt:ops']);
  });
});
