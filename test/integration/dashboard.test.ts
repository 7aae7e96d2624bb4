/** The dashboard model from a real daemon: a process agent polled, a WASM agent's pushed snapshot, host and HAL sections. */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, REPO, waitFor } from '../helpers/tmp';

let d: RunningDaemon;

interface Dash {
  device: { rev: number; value: { board: string; version: string } };
  resources: { value: { cpuPercent: number | null; memory: { totalBytes: number } | null; store: { state: string } } };
  agents: { value: { instances: Array<{ agent: string; state: string; snapshot: Record<string, unknown> | null; snapshotError?: string }> } };
  hal: { value: { devices: Array<{ id: string }> } };
  rules: { value: { etag: string | null } };
  fleet: { value: { state: string } };
}

beforeAll(async () => {
  d = await startDaemon({ config: { dashboard: { pollMs: 1000, snapshotTimeoutMs: 500 } } });
  for (const a of [path.join(FIXTURES, 'agents/echo'), path.join(REPO, 'examples/agents/thermostat')]) expect((await d.cli(['agent', 'add', a])).code).toBe(0);
  expect((await d.cli(['secret', 'set', 'ECHO_SECRET', '--value', 'abcdef'])).code).toBe(0);
  expect((await d.cli(['spawn', 'echo'])).code).toBe(0);
  expect((await d.cli(['spawn', 'thermostat'])).code).toBe(0);
}, 60_000);
afterAll(() => d?.stop());

describe('dashboard', () => {
  it('projects device, resources, agents with their snapshots, HAL, rules and fleet into one model', async () => {
    const dash = await waitFor('both snapshots', async () => {
      const x = await d.json<Dash>(['dashboard']);
      const snaps = x.agents.value.instances.map((i) => i.snapshot);
      return snaps.length === 2 && snaps.every((s) => s !== null) ? x : undefined;
    }, 30_000);
    expect(dash.device.value).toMatchObject({ board: 'sim' });
    expect(dash.resources.value.memory?.totalBytes).toBeGreaterThan(0);
    expect(dash.resources.value.store.state).toBe('ok');
    const by = Object.fromEntries(dash.agents.value.instances.map((i) => [i.agent, i]));
    expect(by.echo?.snapshot).toMatchObject({ agentId: 'echo' });
    expect(by.thermostat?.snapshot).toMatchObject({ fan: expect.any(Boolean) as unknown, maxC: expect.any(Number) as unknown });
    expect(dash.hal.value.devices.map((x) => x.id)).toContain('grow_light');
    expect(dash.fleet.value.state).toBe('disabled');
    // the bundled daemon's simulated soil probe talks over serialport's mock binding
    await waitFor('a moisture reading', async () => (await d.cli(['hal', 'read', 'moisture'])).code === 0, 20_000);
    const text = await d.cli(['dashboard']);
    expect(text.stdout).toMatch(/^device .* \(board sim, openstarryd /m);
    expect(text.stdout).toMatch(/thermostat-\S+ +thermostat +running .*\{"fan":/);
  });
});
