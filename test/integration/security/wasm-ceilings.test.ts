/**
 * The daemon's ceilings over WASM agents, through the real daemon and CLI (issue 16): memory that
 * leaves with a guest goes back to the OS (the daemon's VmRSS, read from /proc), a shared-cell
 * call is capped so a spinning guest cannot get its cell-mate stopped for silence, and the
 * per-agent and device-wide memory ceilings refuse spawns with coded errors naming the key.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AgentStatus } from '../../../runtime/agents/supervisor';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { FIXTURES, waitFor } from '../../helpers/tmp';
import { ECHO_BODY, wasmAgent } from '../../helpers/wasm';

let a: RunningDaemon;
let b: RunningDaemon;
describeShipped('WASM ceilings', () => {
beforeAll(async () => {
  // a: heartbeats that a frozen cell would miss within 2 s; shared calls allowed up to 4 s
  a = await startDaemon({ asShipped: true, config: { wasm: { watchdogMs: 20, sharedCallTimeoutMs: 4000 }, supervisor: { heartbeatMs: 1000, missedHeartbeats: 2 } } });
  // b: a small device total and per-agent ceiling
  b = await startDaemon({ asShipped: true, config: { wasm: { maxMemoryMb: 16, totalMemoryMb: 24 } } });
});
afterAll(async () => {
  for (const d of [a, b]) if (d) expect(await d.stop()).toBe(0);
});

const rssMb = (d: RunningDaemon): number => Number(/^VmRSS:\s+(\d+) kB/m.exec(fs.readFileSync(`/proc/${d.proc.pid}/status`, 'utf8'))?.[1]) / 1024;
const one = async (d: RunningDaemon, instance: string): Promise<AgentStatus | undefined> => (await d.json<AgentStatus[]>(['ps', '--all'])).find((p) => p.instance === instance);
const logs = async (d: RunningDaemon, instance: string): Promise<string> => (await d.cli(['logs', instance, '-n', '500'])).stdout;
async function spawn(d: RunningDaemon, folder: string): Promise<string> {
  const r = await d.cli(['spawn', folder]);
  if (r.code !== 0) throw new Error(`spawn ${folder} failed: ${r.stderr}`);
  return r.stdout.trim().split(/\s+/).pop() ?? '';
}

/** Grows its memory to the host's maximum (256 MB) in init and writes every page, so it is resident. */
const hog = (id: string, isolation: 'shared' | 'dedicated'): Promise<string> =>
  wasmAgent({
    id,
    memory: '1 4096',
    body: `(data (i32.const 16) "grown")
      (func (export "init")
        (if (i32.eq (memory.grow (i32.const 4095)) (i32.const -1)) (then unreachable))
        (memory.fill (i32.const 1024) (i32.const 7) (i32.sub (i32.mul (memory.size) (i32.const 65536)) (i32.const 1024)))
        (call $log (i32.const 1) (i32.const 16) (i32.const 5)))
      (func (export "on_event") (param i32 i32))`,
    manifest: { runtime: { module: 'agent.wasm', isolation }, limits: { memoryMb: 256, callTimeoutMs: 4000 }, restart: { policy: 'no' } },
  });

describe('WASM memory goes back to the OS', () => {
  it('the daemon RSS returns near its baseline after a 256 MB guest is killed, shared or dedicated; the cell-mate carries on', async () => {
    const mate = await spawn(a, path.join(FIXTURES, 'agents/wcounter'));
    await waitFor('mate counting', async () => /n=3\b/.test(await logs(a, mate)));
    for (const isolation of ['shared', 'dedicated'] as const) {
      const baseline = rssMb(a);
      const h = await spawn(a, await hog(`wrss${isolation}`, isolation));
      // writing 256 MB takes a while on a loaded or slow board: its init may take up to the shared
      // cells' ceiling (4 s); if it is stopped instead, say why
      const grownOrGone = await waitFor('hog grown or gone', async () => {
        const text = await logs(a, h);
        if (text.includes('grown')) return 'grown';
        const s = await one(a, h);
        return s && s.state !== 'running' && s.state !== 'starting' ? `gone (${s.state}): ${s.reason ?? ''}\n${text}` : undefined;
      }, 60_000);
      expect(grownOrGone).toBe('grown');
      const grown = rssMb(a);
      expect(grown - baseline, `baseline ${baseline} MB, grown ${grown} MB`).toBeGreaterThan(200);
      expect((await a.cli(['kill', h])).code).toBe(0);
      const after = await waitFor('RSS back near the baseline', () => {
        const now = rssMb(a);
        return now - baseline < 30 ? now : undefined;
      }, 30_000);
      console.log(`wasm RSS (${isolation}): baseline ${baseline.toFixed(0)} MB, hog at its cap ${grown.toFixed(0)} MB, after kill ${after.toFixed(0)} MB`);
    }
    // the shared hog's cell was recycled under the mate, which came back from its snapshot
    const text = await logs(a, mate);
    expect(text).toContain('cell restarted because it was recycled to return 256 MB');
    expect(text).toContain('re-hosted from its last snapshot');
    expect(await one(a, mate)).toMatchObject({ state: 'running', restarts: 0 });
    const status = await a.json<{ wasm: { recycled: number } }>(['status']);
    expect(status.wasm.recycled).toBeGreaterThanOrEqual(2);
    await a.cli(['kill', mate]);
  }, 120_000);
});

describe('a shared cell call is capped', () => {
  it('stops a spinning call at wasm.sharedCallTimeoutMs without its mate being stopped for missed heartbeats', async () => {
    const mate = await spawn(a, path.join(FIXTURES, 'agents/wcounter'));
    await waitFor('mate counting', async () => /n=3\b/.test(await logs(a, mate)));
    const spinner = await wasmAgent({
      id: 'wcapspin',
      body: `(data (i32.const 16) "spin") (func (export "init") (drop (call $timer_set (i32.const 16) (i32.const 4) (i32.const 100) (i32.const 0)))) (func (export "on_event") (param i32 i32) (loop $l (br $l)))`,
      // twice the 2 s the mate may stay silent
      manifest: { limits: { callTimeoutMs: 4000 }, restart: { policy: 'no' } },
    });
    const s = await spawn(a, spinner);
    const gone = await waitFor('spinner stopped', async () => ((await one(a, s))?.state === 'exited' ? one(a, s) : undefined), 30_000);
    expect(gone?.reason).toMatch(/call timeout: instance wcapspin-\S+ ran \d+ ms, over limits.callTimeoutMs 4000 ms/);
    await waitFor('mate counting on', async () => {
      const t = await logs(a, mate);
      const restored = /restored n=(\d+)/.exec(t);
      return restored !== null && new RegExp(`n=${Number(restored[1]) + 2}\\b`).test(t.slice(restored.index));
    });
    const row = await one(a, mate);
    expect(row).toMatchObject({ state: 'running', restarts: 0 });
    expect(await logs(a, mate)).not.toContain('missed heartbeats');
    // one millisecond more than the cap is refused in a shared cell, and allowed in a dedicated one
    const longer = await wasmAgent({ id: 'wcaplong', body: ECHO_BODY, manifest: { limits: { callTimeoutMs: 4001 } } });
    const r = await a.cli(['spawn', longer]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('OSZ_E_WASM_CEILING');
    expect(r.stderr).toContain('wasm.sharedCallTimeoutMs 4000');
    expect(r.stderr).toContain('runtime.isolation "dedicated"');
    const alone = await wasmAgent({ id: 'wcapalone', body: ECHO_BODY, manifest: { runtime: { module: 'agent.wasm', isolation: 'dedicated' }, limits: { callTimeoutMs: 4001 } } });
    const d = await spawn(a, alone);
    await waitFor('dedicated running', async () => (await one(a, d))?.state === 'running');
    await a.cli(['kill', d]);
    await a.cli(['kill', mate]);
  }, 60_000);
});

describe('WASM memory ceilings', () => {
  it('refuses memoryMb over wasm.maxMemoryMb and a spawn past wasm.totalMemoryMb, and frees the total when an instance exits', async () => {
    const big = await wasmAgent({ id: 'wcbig', body: ECHO_BODY, manifest: { limits: { memoryMb: 17 } } });
    const r1 = await b.cli(['spawn', big]);
    expect(r1.code).not.toBe(0);
    expect(r1.stderr).toContain('OSZ_E_WASM_CEILING');
    expect(r1.stderr).toContain("limits.memoryMb 17, over this daemon's wasm.maxMemoryMb 16");

    // a module that may grow to 8 MB (128 pages): each instance holds 8 MB of the total
    const eight = await wasmAgent({ id: 'wceight', body: ECHO_BODY, memory: '1 128', manifest: { limits: { memoryMb: 8 } } });
    const running = [await spawn(b, eight), await spawn(b, eight), await spawn(b, eight)];
    const r2 = await b.cli(['spawn', 'wceight']);
    expect(r2.code).not.toBe(0);
    expect(r2.stderr).toContain('OSZ_E_WASM_MEMORY_FULL');
    expect(r2.stderr).toContain('3 running WASM instance(s) hold 24 MB of wasm.totalMemoryMb 24 MB');
    expect((await b.json<AgentStatus[]>(['ps'])).filter((p) => p.agent === 'wceight' && p.state === 'running')).toHaveLength(3);
    expect((await b.json<{ wasm: { memoryHeldMb: number; memoryTotalMb: number } }>(['status'])).wasm).toMatchObject({ memoryHeldMb: 24, memoryTotalMb: 24 });

    expect((await b.cli(['kill', running[0] ?? ''])).code).toBe(0);
    const again = await spawn(b, 'wceight');
    await waitFor('spawned into the freed room', async () => (await one(b, again))?.state === 'running');
    expect((await b.cli(['call', 'daemon.ping'])).code).toBe(0);
    await b.cli(['kill', 'wceight']);
  });
});
});
