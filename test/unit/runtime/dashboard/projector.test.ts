/** State projection with agents that answer, answer slowly, answer garbage, or crash mid-call. */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type AgentRow, Projector, type ProjectorSources } from '../../../../runtime/dashboard/projector';
import type { Section } from '../../../../runtime/dashboard/model';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

const row = (instance: string, state = 'running'): AgentRow => ({ instance, agent: instance.split('-')[0] ?? instance, driver: 'process', state, restarts: 0, uptimeMs: 1, cpuPercent: 0, rssBytes: 1, reason: null, tokens: 0 });

function sources(rows: () => AgentRow[], answer: (instance: string) => Promise<unknown>, store?: Store): ProjectorSources {
  return {
    device: () => ({ id: 'gh-1', board: 'sim', version: '0.1.0', node: 'v20', startedAt: 1 }),
    resources: () => ({ cpuPercent: 1, memory: null, disk: null, socTempC: null, throttling: null, store: { state: 'ok' } }),
    agents: rows,
    hal: () => ({ board: 'sim', devices: [] }),
    rules: () => ({ etag: null, rules: [], timers: {} }),
    fleet: () => ({ state: 'disabled', broker: null, outbox: 0 }),
    snapshot: (i) => answer(i),
    ...(store ? { snapshots: store.snapshots } : {}),
  };
}

describe('dashboard projector', () => {
  it('merges snapshots with agent state; marks slow, garbage and crashing agents without waiting for them', async () => {
    const never = new Promise<unknown>(() => undefined);
    const answers: Record<string, () => Promise<unknown>> = {
      'good-1': () => Promise.resolve({ temperature: 21.5 }),
      'slow-1': () => never,
      'cyclic-1': () => {
        const o: Record<string, unknown> = {};
        o.self = o;
        return Promise.resolve(o);
      },
      'big-1': () => Promise.resolve({ blob: 'x'.repeat(100_000) }),
      'crash-1': () => Promise.reject(new Error('instance crash-1 exited during the call (code 1)')),
    };
    const p = new Projector(sources(() => [...Object.keys(answers).map((i) => row(i)), row('gone-1', 'exited')], (i) => answers[i]?.() ?? Promise.reject(new Error('?'))), { snapshotTimeoutMs: 100 });
    const t0 = performance.now();
    await p.project();
    expect(performance.now() - t0).toBeLessThan(5000);
    const byId = Object.fromEntries((p.get().agents?.value.instances ?? []).map((a) => [a.instance, a]));
    expect(byId['good-1']).toMatchObject({ snapshot: { temperature: 21.5 }, state: 'running' });
    expect(byId['slow-1']).toMatchObject({ snapshot: null, snapshotError: 'no answer within 100 ms' });
    expect(byId['cyclic-1']?.snapshotError).toMatch(/not JSON/);
    expect(byId['big-1']?.snapshotError).toMatch(/at most 65536 are kept/);
    expect(byId['crash-1']?.snapshotError).toBe('instance crash-1 exited during the call (code 1)');
    expect(byId['gone-1']).toMatchObject({ state: 'exited', snapshot: null });
    // the next round does not call the agent that has not answered yet
    await p.project();
    expect(p.get().agents?.value.instances.find((a) => a.instance === 'slow-1')?.snapshotError).toMatch(/^no answer to the snapshot call since \d+ s ago$/);
  });

  it('keeps the last good snapshot when a later call fails, and bumps only the sections that changed', async () => {
    let n = 0;
    let fail = false;
    const p = new Projector(sources(() => [row('a-1')], () => (fail ? Promise.reject(new Error('busy')) : Promise.resolve({ n: ++n }))));
    const seen: Section[][] = [];
    p.watch((c) => seen.push(c));
    await p.project();
    expect(seen[0]?.map((s) => s.name)).toEqual(['device', 'resources', 'agents', 'hal', 'rules', 'fleet']);
    await p.project();
    expect(seen[1]?.map((s) => [s.name, s.rev])).toEqual([['agents', 2]]);
    fail = true;
    await p.project();
    expect(p.get(['agents']).agents?.value.instances[0]).toMatchObject({ snapshot: { n: 2 }, snapshotError: 'busy' });
    expect(p.get(['agents', 'fleet'])).not.toHaveProperty('device');
  });

  it('keeps the latest snapshot of each agent in SQLite and shows it again after a restart', async () => {
    const file = path.join(tmpDir('osd-dash-'), 'state.db');
    const first = createStore(file, memoryLogger(), { keepEvents: 100 });
    stores.push(first);
    const p1 = new Projector(sources(() => [row('climate-1')], () => Promise.resolve({ setpoint: 24 }), first));
    await p1.project();
    await p1.project();
    first.close();
    stores.pop();
    const second = createStore(file, memoryLogger(), { keepEvents: 100 });
    stores.push(second);
    expect(second.snapshots.all()).toEqual([{ agent: 'climate', instance: 'climate-1', at: expect.any(Number) as unknown, snapshot: { setpoint: 24 } }]);
    const p2 = new Projector(sources(() => [row('climate-1', 'starting')], () => new Promise(() => undefined), second));
    p2.start();
    await p2.project();
    p2.stop();
    expect(p2.get().agents?.value.instances[0]).toMatchObject({ snapshot: { setpoint: 24 } });
  });
});
