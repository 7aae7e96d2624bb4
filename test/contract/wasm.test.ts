import fs from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { WasmDriver } from '../../runtime/agents/drivers/wasm/driver';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { REPO, tmpDir } from '../helpers/tmp';
import { wasmAgent } from '../helpers/wasm';
import { type Behaviour, describeDriverContract, type DriverHarness } from './driver.contract';

/** The contract's behaviours as WebAssembly: a clean agent, exit 3, a stop that never returns, output then exit 0. */
const BODIES: Record<Behaviour, string> = {
  'well-behaved': `(func (export "init")) (func (export "on_event") (param i32 i32))`,
  crash: `(func (export "init") (call $proc_exit (i32.const 3))) (func (export "on_event") (param i32 i32))`,
  stubborn: `(func (export "init")) (func (export "on_event") (param i32 i32)) (func (export "stop") (loop $l (br $l)))`,
  chatty: `
    (data (i32.const 16) "out line\\n") (data (i32.const 32) "err line\\n")
    (data (i32.const 512) "\\10\\00\\00\\00\\09\\00\\00\\00\\20\\00\\00\\00\\09\\00\\00\\00")
    (func (export "init")
      (drop (call $fd_write (i32.const 1) (i32.const 512) (i32.const 1) (i32.const 600)))
      (drop (call $fd_write (i32.const 2) (i32.const 520) (i32.const 1) (i32.const 600)))
      (call $proc_exit (i32.const 0)))
    (func (export "on_event") (param i32 i32))`,
};

const driver = new WasmDriver({
  cellPath: path.join(REPO, 'dist/wasm-cell.mjs'),
  cellSize: 8,
  watchdogMs: 20,
  heartbeatMs: 1000,
  usageMs: 1000,
  rates: { logPerSecond: 100, emitPerSecond: 100 },
  maxFileBytes: 1024 * 1024,
  // the contract's stop that never returns needs 5 s calls in a shared cell
  ceilings: { maxMemoryMb: 256, totalMemoryMb: 4096, maxCallTimeoutMs: 10_000, sharedCallTimeoutMs: 5000 },
});
afterAll(() => driver.close());

async function harness(): Promise<DriverHarness> {
  const dir = tmpDir('osd-wasm-contract-');
  const store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const folders = new Map<Behaviour, string>();
  for (const b of Object.keys(BODIES) as Behaviour[]) folders.set(b, await wasmAgent({ id: b, body: BODIES[b], manifest: { limits: { callTimeoutMs: 5000 } } }));
  let n = 0;
  return {
    driver,
    hasOsPid: false,
    async launch(behaviour) {
      const installDir = folders.get(behaviour) ?? '';
      const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), behaviour);
      const agent = { id: behaviour, name: behaviour, version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'wasm', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
      const instance = `wasm-contract-${++n}`;
      const { spec } = buildLaunchSpec({ instanceId: instance, agent, manifest, options: {}, dataRoot: path.join(dir, 'data'), separateUid: false, heartbeatMs: 1000, plugins: store.plugins, secrets: store.secrets });
      return { agent: await driver.launch(spec), token: spec.token, instance };
    },
  };
}

describeDriverContract('wasm', harness);
