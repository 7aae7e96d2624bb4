/**
 * The daemon's ceilings over WASM manifests (issue 16): a manifest may ask for less, never more;
 * every refusal is coded and names the key to change; the device total counts each instance once,
 * holds under concurrent launches through a real driver, and is freed when an instance exits.
 */
import { describe, expect, it } from 'vitest';
import path from 'node:path';
import { checkCeilings, resolveCeilings, WasmMemoryBudget } from '../../../../../../runtime/agents/drivers/wasm/ceilings';
import { LazyWasmDriver } from '../../../../../../runtime/agents/drivers/wasm/lazy';
import { validateManifest } from '../../../../../../runtime/agents/manifest';
import { OszError } from '../../../../../../runtime/errors';
import { refusalOf as refusal } from '../../../../../helpers/refusal';
import { ECHO_BODY, wasmAgent } from '../../../../../helpers/wasm';
import { REPO } from '../../../../../helpers/tmp';
import { LOOSE, newDriver, run } from './harness';

const CEILINGS = { maxMemoryMb: 256, totalMemoryMb: 1024, maxCallTimeoutMs: 10_000, sharedCallTimeoutMs: 1000 };

const manifest = (limits: Record<string, number>, isolation?: 'shared' | 'dedicated'): ReturnType<typeof validateManifest> =>
  validateManifest({ identity: { id: 'wx', name: 'x' }, runtime: { driver: 'wasm', module: 'agent.wasm', ...(isolation ? { isolation } : {}) }, limits }, 'x');


describe('WASM ceilings', () => {
  it('lets a manifest ask for up to each ceiling', () => {
    expect(() => checkCeilings(manifest({ memoryMb: 256, callTimeoutMs: 1000 }), CEILINGS)).not.toThrow();
    expect(() => checkCeilings(manifest({ memoryMb: 4, callTimeoutMs: 10_000 }, 'dedicated'), CEILINGS)).not.toThrow();
  });

  it('refuses memoryMb over wasm.maxMemoryMb, naming the key', () => {
    const e = refusal(() => checkCeilings(manifest({ memoryMb: 1500 }), CEILINGS));
    expect(e.code).toBe('OSZ_E_WASM_CEILING');
    expect(e.message).toContain('limits.memoryMb 1500, over this daemon\'s wasm.maxMemoryMb 256');
    expect(e.details).toMatchObject({ key: 'wasm.maxMemoryMb', asked: 1500, ceiling: 256 });
  });

  it('refuses callTimeoutMs over wasm.maxCallTimeoutMs even in a dedicated cell', () => {
    const e = refusal(() => checkCeilings(manifest({ callTimeoutMs: 600_000 }, 'dedicated'), CEILINGS));
    expect(e.code).toBe('OSZ_E_WASM_CEILING');
    expect(e.details).toMatchObject({ key: 'wasm.maxCallTimeoutMs', asked: 600_000 });
  });

  it('refuses a shared-cell callTimeoutMs over wasm.sharedCallTimeoutMs, and says to choose dedicated isolation', () => {
    for (const isolation of [undefined, 'shared'] as const) {
      const e = refusal(() => checkCeilings(manifest({ callTimeoutMs: 5000 }, isolation), CEILINGS));
      expect(e.code).toBe('OSZ_E_WASM_CEILING');
      expect(e.message).toContain('runtime.isolation "dedicated"');
      expect(e.details).toMatchObject({ key: 'wasm.sharedCallTimeoutMs', asked: 5000, ceiling: 1000, isolation: 'shared' });
    }
  });

  it('defaults the device total to a quarter of the RAM', () => {
    const { totalMemoryMb, ...rest } = CEILINGS;
    expect(resolveCeilings(rest, 4 * 1024 * 1048576).totalMemoryMb).toBe(1024);
    expect(resolveCeilings({ ...rest, totalMemoryMb: undefined }, 1024 * 1048576).totalMemoryMb).toBe(256);
    expect(resolveCeilings({ ...rest, totalMemoryMb }, 1).totalMemoryMb).toBe(1024);
  });
});

describe('WASM memory total', () => {
  it('refuses a reservation past the total with what is held, by how many, and the key', () => {
    const b = new WasmMemoryBudget(100);
    b.reserve('a', 60);
    b.reserve('b', 40);
    const e = refusal(() => b.reserve('c', 1));
    expect(e.code).toBe('OSZ_E_WASM_MEMORY_FULL');
    expect(e.message).toContain('2 running WASM instance(s) hold 100 MB of wasm.totalMemoryMb 100 MB');
    expect(e.details).toEqual({ key: 'wasm.totalMemoryMb', askedMb: 1, usedMb: 100, instances: 2, totalMb: 100 });
    expect(b.usedMb).toBe(100);
  });

  it('counts an instance once when it reserves again, and frees its room when released', () => {
    const b = new WasmMemoryBudget(100);
    b.reserve('a', 60);
    b.reserve('a', 60);
    expect(b.usedMb).toBe(60);
    expect(() => b.assertRoom('a', 100)).not.toThrow();
    expect(() => b.assertRoom(undefined, 41)).toThrow(expect.objectContaining({ code: 'OSZ_E_WASM_MEMORY_FULL' }));
    b.release('a');
    b.release('a');
    expect(b.usedMb).toBe(0);
    b.reserve('c', 100);
    expect(b.instances).toBe(1);
  });
});

describe('WASM ceilings through the driver', () => {
  it('refuses a launch over a ceiling before anything starts', async () => {
    const d = newDriver(8, { ceilings: { ...LOOSE, maxMemoryMb: 64, sharedCallTimeoutMs: 500 } });
    const big = await wasmAgent({ id: 'wcbig', body: ECHO_BODY, manifest: { limits: { memoryMb: 65 } } });
    await expect(run(d, big)).rejects.toMatchObject({ code: 'OSZ_E_WASM_CEILING', details: { key: 'wasm.maxMemoryMb' } });
    const slow = await wasmAgent({ id: 'wcslow', body: ECHO_BODY, manifest: { limits: { callTimeoutMs: 501 } } });
    await expect(run(d, slow)).rejects.toMatchObject({ code: 'OSZ_E_WASM_CEILING', details: { key: 'wasm.sharedCallTimeoutMs' } });
    // the same call budget in a cell of its own is allowed
    const alone = await wasmAgent({ id: 'wcalone', body: ECHO_BODY, memory: '1 1024', manifest: { runtime: { module: 'agent.wasm', isolation: 'dedicated' }, limits: { callTimeoutMs: 501 } } });
    await run(d, alone);
    expect(d.stats()).toMatchObject({ guests: 1, memoryHeldMb: 64 });
  });

  it('holds the device total under concurrent launches, and frees an instance\'s share when it exits', async () => {
    const d = newDriver(8, { ceilings: { ...LOOSE, totalMemoryMb: 16 } });
    // a module that may grow to 8 MB (128 pages): held at 8 MB
    const folder = await wasmAgent({ id: 'wctotal', body: ECHO_BODY, memory: '1 128', manifest: { limits: { memoryMb: 8 } } });
    const results = await Promise.allSettled([run(d, folder), run(d, folder), run(d, folder)]);
    const ok = results.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as OszError] : []));
    expect(ok).toHaveLength(2);
    expect(refused.map((e) => e.code)).toEqual(['OSZ_E_WASM_MEMORY_FULL']);
    expect(refused[0]?.message).toContain('2 running WASM instance(s) hold 16 MB of wasm.totalMemoryMb 16 MB');
    expect(d.stats()).toMatchObject({ guests: 2, memoryHeldMb: 16, memoryTotalMb: 16 });
    ok[0]?.agent.signal('SIGKILL');
    await ok[0]?.agent.exited;
    expect(d.stats().memoryHeldMb).toBe(8);
    await run(d, folder);
    expect(d.stats()).toMatchObject({ guests: 2, memoryHeldMb: 16 });
  });

  it('holds what a guest can really grow to: a module declaring 1 MB is held at 1 MB, not at its memoryMb of 64', async () => {
    const d = newDriver(8, { ceilings: { ...LOOSE, totalMemoryMb: 4 } });
    const small = await wasmAgent({ id: 'wcsmall', body: ECHO_BODY, memory: '1 16', manifest: { limits: { memoryMb: 64 } } });
    for (let i = 0; i < 4; i++) await run(d, small);
    expect(d.stats()).toMatchObject({ guests: 4, memoryHeldMb: 4 });
    await expect(run(d, small)).rejects.toMatchObject({ code: 'OSZ_E_WASM_MEMORY_FULL' });
  });

  it('frees the share of a guest that fails to start', async () => {
    const d = newDriver(8, { ceilings: { ...LOOSE, totalMemoryMb: 8 } });
    const trap = await wasmAgent({ id: 'wctrap', body: '(func $s unreachable) (start $s) (func (export "init")) (func (export "on_event") (param i32 i32))', manifest: { limits: { memoryMb: 8 } } });
    await expect(run(d, trap)).rejects.toMatchObject({ code: 'OSZ_E_SPAWN_FAILED' });
    expect(d.stats().memoryHeldMb).toBe(0);
  });
});

describe('WASM ceilings through the lazily loaded driver (as the daemon holds it)', () => {
  it('counts each instance once although both layers reserve, and refuses the one past the total', async () => {
    const lazy = new LazyWasmDriver({ cellPath: path.join(REPO, 'dist/wasm-cell.mjs'), cellSize: 8, watchdogMs: 10, heartbeatMs: 200, usageMs: 200, rates: { logPerSecond: 100, emitPerSecond: 100 }, maxFileBytes: 1024, ceilings: { ...LOOSE, totalMemoryMb: 16 } });
    try {
      const folder = await wasmAgent({ id: 'wclazy', body: ECHO_BODY, memory: '1 128', manifest: { limits: { memoryMb: 8 } } });
      const results = await Promise.allSettled([run(lazy, folder), run(lazy, folder), run(lazy, folder)]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'fulfilled', 'rejected']);
      expect(lazy.stats()).toMatchObject({ guests: 2, memoryHeldMb: 16, memoryTotalMb: 16 });
      expect(() => lazy.check(validateManifest({ identity: { id: 'wclazy', name: 'x' }, runtime: { driver: 'wasm', module: 'agent.wasm' }, limits: { memoryMb: 4 } }, 'x'))).toThrow(expect.objectContaining({ code: 'OSZ_E_WASM_MEMORY_FULL' }));
    } finally {
      lazy.close();
    }
  });
});
