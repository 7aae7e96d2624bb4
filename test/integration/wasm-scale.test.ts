/**
 * WASM agents where the address space is small (DESIGN §4): under `ulimit -v` of 512 GB (what a
 * 39-bit arm64 kernel leaves a process) the launcher turns V8's trap handler off and 1,000 agents
 * fit; forced on, agents past ~51 fail with a clear reason and the daemon keeps serving.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ControlClient } from '../../runtime/cli/client';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, waitFor } from '../helpers/tmp';
import { ECHO_BODY, wasmAgent } from '../helpers/wasm';

const GB512 = 512 * 1024 * 1024; // KiB

interface Status {
  wasm: { guests: number; cells: number; trapHandler: boolean };
}

const daemons: RunningDaemon[] = [];
afterAll(async () => {
  for (const d of daemons) expect(await d.stop()).toBe(0);
});

async function spawnMany(d: RunningDaemon, n: number): Promise<Array<{ instance: string; state: string }>> {
  const folder = await wasmAgent({ id: 'wtiny', body: ECHO_BODY, manifest: { limits: { memoryMb: 4 }, restart: { policy: 'no' } } });
  expect((await d.cli(['agent', 'add', folder])).code).toBe(0);
  const client = await ControlClient.connect(d.socket);
  try {
    const out: Array<{ instance: string; state: string }> = [];
    for (let i = 0; i < n; i++) out.push((await client.call('agents.spawn', { agent: 'wtiny' })) as { instance: string; state: string });
    return out;
  } finally {
    client.close();
  }
}

describe('WASM agents under a 512 GB address-space limit', () => {
  it('fits 1,000 agents: the launcher turns the trap handler off', async () => {
    // 1,000 x 4 MB of the WASM total, whatever a quarter of this machine's RAM is
    const d = await startDaemon({ ulimitV: GB512, config: { wasm: { cellSize: 64, totalMemoryMb: 8192 } } });
    daemons.push(d);
    const spawned = await spawnMany(d, 1000);
    expect(spawned.filter((s) => s.state === 'running')).toHaveLength(1000);
    const status = await d.json<Status>(['status']);
    expect(status.wasm).toMatchObject({ guests: 1000, trapHandler: false });
    const doctor = await d.json<Array<{ name: string; status: string; detail: string }>>(['doctor']);
    expect(doctor.find((c) => c.name === 'wasm')).toMatchObject({ status: 'ok' });
    expect((await d.cli(['kill', 'wtiny'])).code).toBe(0);
  }, 180_000);

  it('with the trap handler forced on, agents past the address space fail with a clear reason, and the daemon keeps serving', async () => {
    const d = await startDaemon({ ulimitV: GB512, env: { OPENSTARRYD_WASM__TRAP_HANDLER: 'on' } });
    daemons.push(d);
    const client = await ControlClient.connect(d.socket);
    const folder = await wasmAgent({ id: 'wtiny', body: ECHO_BODY, manifest: { limits: { memoryMb: 4 }, restart: { policy: 'no' } } });
    expect((await d.cli(['agent', 'add', folder])).code).toBe(0);
    let failedReason: string | undefined;
    try {
      for (let i = 0; i < 80 && !failedReason; i++) {
        try {
          await client.call('agents.spawn', { agent: 'wtiny' });
        } catch (err) {
          failedReason = (err as Error).message;
        }
      }
    } finally {
      client.close();
    }
    const failed = (await d.json<Array<{ state: string; reason: string | null }>>(['ps', '--all'])).filter((p) => p.state !== 'running');
    const reason = failedReason ?? failed[0]?.reason ?? '';
    expect(reason).toContain("could not reserve the agent's memory");
    expect(reason).toContain('wasm.trapHandler off');
    expect((await d.json<Status>(['status'])).wasm.trapHandler).toBe(true);
    // doctor exits 1 on a failed check, and says why
    const r = await d.cli(['doctor', '--json']);
    expect(r.code).toBe(1);
    const doctor = JSON.parse(r.stdout) as Array<{ name: string; status: string; detail: string }>;
    expect(doctor.find((c) => c.name === 'wasm')).toMatchObject({ status: 'fail', detail: expect.stringContaining('only about 51 WASM agents fit') as unknown });
    expect((await d.cli(['call', 'daemon.ping'])).code).toBe(0);
  }, 180_000);
});

describe('WASM agents across a daemon crash', () => {
  it('brings WASM instances desired running back after kill -9 of the daemon', async () => {
    const d = await startDaemon();
    const spawned = await d.cli(['spawn', path.join(FIXTURES, 'agents/wcounter')]);
    const inst = spawned.stdout.trim().split(/\s+/).pop() ?? '';
    await waitFor('counting', async () => /n=3\b/.test((await d.cli(['logs', inst])).stdout));
    await d.kill9();
    const again = await startDaemon({ home: d.home });
    daemons.push(again);
    const row = await waitFor('back', async () => (await again.json<Array<{ instance: string; state: string; driver: string }>>(['ps'])).find((p) => p.instance === inst && p.state === 'running'));
    expect(row.driver).toBe('wasm');
    // counting from the start again, after this daemon started it (read the whole tail: on a busy
    // board the count runs past a 5-line window between two polls)
    await waitFor('counting again', async () => {
      const t = (await again.cli(['logs', inst, '-n', '1000'])).stdout;
      return /\bn=2\b/.test(t.slice(t.lastIndexOf('started with driver wasm')));
    });
  }, 60_000);
});
