/**
 * The wasm driver with real cells (dist/wasm-cell.mjs), below the supervisor: a driver that is
 * closed after the test file, and `run`, which launches an agent folder and answers its requests
 * the way a session would.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import type { LaunchedAgent } from '../../../../../../runtime/agents/drivers/driver';
import { WasmDriver, type WasmDriverOptions } from '../../../../../../runtime/agents/drivers/wasm/driver';
import { buildLaunchSpec, type SpawnOptions } from '../../../../../../runtime/agents/launch-spec';
import { validateManifest } from '../../../../../../runtime/agents/manifest';
import { memoryLogger } from '../../../../../../runtime/log';
import { RpcPeer } from '../../../../../../runtime/rpc/peer';
import { createStore } from '../../../../../../runtime/store/store';
import { REPO, tmpDir } from '../../../../../helpers/tmp';

const drivers: WasmDriver[] = [];
afterAll(() => drivers.forEach((d) => d.close()));

/** Ceilings loose enough for the tests that are not about them (60 s calls in shared cells). */
export const LOOSE = { maxMemoryMb: 1024, totalMemoryMb: 16_384, maxCallTimeoutMs: 60_000, sharedCallTimeoutMs: 60_000 };

export function newDriver(cellSize = 8, extra: Partial<WasmDriverOptions> = {}): WasmDriver {
  const d = new WasmDriver({ cellPath: path.join(REPO, 'dist/wasm-cell.mjs'), cellSize, watchdogMs: 10, heartbeatMs: 200, usageMs: 200, rates: { logPerSecond: 1000, emitPerSecond: 1000 }, maxFileBytes: 1024, ceilings: LOOSE, ...extra });
  drivers.push(d);
  return d;
}

const dir = tmpDir('osd-wasm-driver-');
const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
let n = 0;

export interface Running {
  agent: LaunchedAgent;
  peer: RpcPeer;
  instance: string;
  logs: string[];
  out: string[];
  emits: Array<Record<string, unknown>>;
  heartbeats: number;
}

/** Launches, answers the guest's requests like a session would, and runs init. */
export async function run(driver: Pick<WasmDriver, 'launch'>, folder: string, instance = `w-${++n}`, options: SpawnOptions = {}): Promise<Running> {
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(folder, 'agent.json'), 'utf8')), 'x');
  const agentRec = { id: manifest.identity.id, name: 'x', version: null, hash: '', storePath: folder, sourcePath: folder, driver: 'wasm', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
  const { spec } = buildLaunchSpec({ instanceId: instance, agent: agentRec, manifest, options, dataRoot: path.join(dir, 'data'), separateUid: false, heartbeatMs: 200, plugins: store.plugins, secrets: store.secrets });
  const agent = await driver.launch(spec);
  const r: Running = { agent, peer: undefined as unknown as RpcPeer, instance, logs: [], out: [], emits: [], heartbeats: 0 };
  agent.onOutput((s, l) => r.out.push(`${s}:${l}`));
  r.peer = new RpcPeer((m) => agent.channel.send(m), {
    request: (method, params) => {
      if (method === 'bus.emit') r.emits.push(params as Record<string, unknown>);
      return { ok: true };
    },
    notification: (method, params) => {
      if (method === 'log') r.logs.push(String((params as { msg: unknown }).msg));
      if (method === 'heartbeat') r.heartbeats++;
    },
  });
  agent.channel.onMessage((m) => r.peer.receive(m));
  await r.peer.call('agent.init', {}, 5000);
  return r;
}

export const EMITS = { capabilities: { events: { emit: ['wasm:*'] } } };
export const event = (type: string, data: Record<string, unknown> = {}): object => ({ jsonrpc: '2.0', method: 'agent.event', params: { event: { v: 1, id: 'x', type, source: 'test', time: new Date().toISOString(), data, depth: 0 } } });
