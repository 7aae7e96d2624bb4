/**
 * The daemon's ceilings over what a WASM manifest may ask for (issue 16). Guests run inside the
 * daemon's own process, so `limits.memoryMb` and `limits.callTimeoutMs` are not the agent's to
 * choose freely: a manifest may ask for less than `wasm.maxMemoryMb` / `wasm.maxCallTimeoutMs`,
 * never more, and a shared cell caps calls at `wasm.sharedCallTimeoutMs` so one guest cannot
 * freeze its cell-mates. Over a ceiling the spawn is refused, naming the key to change; nothing is
 * clamped silently (an agent that was written for 10 minutes of work would otherwise be stopped
 * mid-call without knowing why).
 */
import os from 'node:os';
import { OszError } from '../../../errors';
import type { Manifest } from '../../manifest';

export interface WasmCeilings {
  maxMemoryMb: number;
  /** all WASM instances' limits.memoryMb together */
  totalMemoryMb: number;
  maxCallTimeoutMs: number;
  sharedCallTimeoutMs: number;
}

/** As the config has them: wasm.totalMemoryMb may be left out. */
export type WasmCeilingsConfig = Omit<WasmCeilings, 'totalMemoryMb'> & { totalMemoryMb?: number | undefined };

/** The config's ceilings, with wasm.totalMemoryMb defaulting to a quarter of the board's RAM (read once, at start). */
export function resolveCeilings(c: WasmCeilingsConfig, totalmem = os.totalmem()): WasmCeilings {
  return { ...c, totalMemoryMb: c.totalMemoryMb ?? Math.max(1, Math.floor(totalmem / 4 / 1048576)) };
}

/** Throws OSZ_E_WASM_CEILING when the manifest asks for more than the daemon allows. */
export function checkCeilings(manifest: Manifest, c: WasmCeilings): void {
  const { memoryMb, callTimeoutMs } = manifest.limits;
  const id = manifest.identity.id;
  if (memoryMb > c.maxMemoryMb) {
    throw new OszError('OSZ_E_WASM_CEILING', `agent "${id}" asks for limits.memoryMb ${memoryMb}, over this daemon's wasm.maxMemoryMb ${c.maxMemoryMb}: lower limits.memoryMb in agent.json, or raise wasm.maxMemoryMb in the daemon config`, { key: 'wasm.maxMemoryMb', asked: memoryMb, ceiling: c.maxMemoryMb });
  }
  if (callTimeoutMs > c.maxCallTimeoutMs) {
    throw new OszError('OSZ_E_WASM_CEILING', `agent "${id}" asks for limits.callTimeoutMs ${callTimeoutMs}, over this daemon's wasm.maxCallTimeoutMs ${c.maxCallTimeoutMs}: lower limits.callTimeoutMs in agent.json, or raise wasm.maxCallTimeoutMs in the daemon config`, { key: 'wasm.maxCallTimeoutMs', asked: callTimeoutMs, ceiling: c.maxCallTimeoutMs });
  }
  if (manifest.runtime.isolation !== 'dedicated' && callTimeoutMs > c.sharedCallTimeoutMs) {
    throw new OszError(
      'OSZ_E_WASM_CEILING',
      `agent "${id}" asks for limits.callTimeoutMs ${callTimeoutMs} in a shared cell, over wasm.sharedCallTimeoutMs ${c.sharedCallTimeoutMs} (a call that long would stall its cell-mates): set runtime.isolation "dedicated" in agent.json, lower limits.callTimeoutMs, or raise wasm.sharedCallTimeoutMs in the daemon config`,
      { key: 'wasm.sharedCallTimeoutMs', asked: callTimeoutMs, ceiling: c.sharedCallTimeoutMs, isolation: 'shared' },
    );
  }
}

/**
 * The device-wide total (wasm.totalMemoryMb): each running instance holds its limits.memoryMb from
 * launch until it exits, and a spawn that would take the sum past the total is refused. What is
 * held is the ceiling, not what the guest uses now: a guest may grow to its ceiling at any moment,
 * and all of it would come out of the daemon's RSS.
 */
export class WasmMemoryBudget {
  private readonly held = new Map<string, number>();

  constructor(readonly totalMb: number) {}

  get usedMb(): number {
    let n = 0;
    for (const mb of this.held.values()) n += mb;
    return n;
  }

  get instances(): number {
    return this.held.size;
  }

  /** Throws OSZ_E_WASM_MEMORY_FULL when `mb` more would not fit (an instance already holding is not counted twice). */
  assertRoom(instance: string | undefined, mb: number): void {
    const used = this.usedMb - (instance === undefined ? 0 : (this.held.get(instance) ?? 0));
    if (used + mb <= this.totalMb) return;
    const n = this.held.size - (instance !== undefined && this.held.has(instance) ? 1 : 0);
    throw new OszError(
      'OSZ_E_WASM_MEMORY_FULL',
      `no room for ${mb} MB more WASM memory: ${n} running WASM instance(s) hold ${used} MB of wasm.totalMemoryMb ${this.totalMb} MB; stop one (openstarryctl ps), lower limits.memoryMb, or raise wasm.totalMemoryMb in the daemon config`,
      { key: 'wasm.totalMemoryMb', askedMb: mb, usedMb: used, instances: n, totalMb: this.totalMb },
    );
  }

  /** Holds `mb` for the instance (again for the same instance: replaces its hold); throws when over the total. */
  reserve(instance: string, mb: number): void {
    this.assertRoom(instance, mb);
    this.held.set(instance, mb);
  }

  holds(instance: string): boolean {
    return this.held.has(instance);
  }

  release(instance: string): void {
    this.held.delete(instance);
  }
}
