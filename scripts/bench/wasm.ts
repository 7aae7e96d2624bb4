// WASM driver figures for `npm run bench` (issue 5), each beside a baseline from the same run:
// spawn vs a raw instantiate in a warm worker, idle memory per agent in shared and dedicated
// cells vs bare V8 instances, event dispatch vs direct calls, hal_read vs a JS mirror read, the
// watchdog's stop time vs its budget, and wasm speed with and without the trap handler.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { MirrorReader, SensorMirror } from '../../hal/mirror';
import type { LaunchedAgent } from '../../runtime/agents/drivers/driver';
import { WasmDriver } from '../../runtime/agents/drivers/wasm/driver';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { ControlClient } from '../../runtime/cli/client';
import { memoryLogger } from '../../runtime/log';
import { RpcPeer } from '../../runtime/rpc/peer';
import { createStore } from '../../runtime/store/store';
import { median, rssOf, sleep, startUntil } from './measure';

export type Add = (name: string, value: number, unit: string, baseline: number, budget: number | null, limit?: number) => void;

const MB = 1024 * 1024;

/** A worker that instantiates modules it is sent with stub imports: the raw V8 baseline. */
const BASELINE_WORKER = `
const { parentPort } = require('node:worker_threads');
const kept = [];
let memory;
function imports(module) {
  const out = {};
  for (const i of WebAssembly.Module.imports(module)) {
    out[i.module] ??= {};
    if (i.kind === 'memory') out[i.module][i.name] = memory = new WebAssembly.Memory({ initial: 1, maximum: 64 });
    else out[i.module][i.name] = () => 0;
  }
  return out;
}
parentPort.on('message', (m) => {
  if (m.c === 'inst') {
    const t0 = performance.now();
    const inst = new WebAssembly.Instance(m.module, imports(m.module));
    inst.exports.init();
    if (m.keep) kept.push(inst);
    parentPort.postMessage({ ms: performance.now() - t0 });
  } else if (m.c === 'events') {
    const inst = new WebAssembly.Instance(m.module, imports(m.module));
    inst.exports.init();
    const bytes = new TextEncoder().encode(m.json);
    const t0 = performance.now();
    for (let i = 0; i < m.n; i++) {
      const ptr = inst.exports.alloc(bytes.length);
      new Uint8Array(memory.buffer, ptr, bytes.length).set(bytes);
      inst.exports.on_event(ptr, bytes.length);
    }
    parentPort.postMessage({ ms: performance.now() - t0 });
  }
});
`;

class Harness {
  readonly driver: WasmDriver;
  private readonly store;
  private n = 0;

  constructor(
    private readonly root: string,
    private readonly work: string,
    mirror?: SensorMirror,
  ) {
    this.store = createStore(path.join(work, `wasm-${Math.random()}.db`), memoryLogger(), { keepEvents: 10 });
    this.driver = new WasmDriver({
      cellPath: path.join(root, 'dist/wasm-cell.mjs'),
      cellSize: 32,
      watchdogMs: 50,
      heartbeatMs: 5000,
      usageMs: 2000,
      rates: { logPerSecond: 100, emitPerSecond: 100 },
      maxFileBytes: 1024 * 1024,
      // a total that does not limit how many agents a run starts; whalbench's 10 s calls share a cell
      ceilings: { maxMemoryMb: 256, totalMemoryMb: 65_536, maxCallTimeoutMs: 10_000, sharedCallTimeoutMs: 10_000 },
      ...(mirror ? { mirror: { layout: mirror.layout(), readable: (g) => [...g] } } : {}),
    });
  }

  /** launch → hello answered → agent.init returned */
  async run(folder: string, onLog?: (msg: string) => void): Promise<{ agent: LaunchedAgent; peer: RpcPeer; ms: number }> {
    const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(folder, 'agent.json'), 'utf8')), 'bench');
    const rec = { id: manifest.identity.id, name: 'b', version: null, hash: '', storePath: folder, sourcePath: folder, driver: 'wasm', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
    const { spec } = buildLaunchSpec({ instanceId: `wb-${++this.n}`, agent: rec, manifest, options: {}, dataRoot: path.join(this.work, 'data'), separateUid: false, heartbeatMs: 5000, plugins: this.store.plugins, secrets: this.store.secrets });
    const t0 = performance.now();
    const agent = await this.driver.launch(spec);
    const peer = new RpcPeer((m) => agent.channel.send(m), {
      request: () => ({ ok: true }),
      notification: (method, params) => {
        if (method === 'log') onLog?.(String((params as { msg: unknown }).msg));
      },
    });
    agent.channel.onMessage((m) => peer.receive(m));
    await peer.call('agent.init', {}, 10_000);
    return { agent, peer, ms: performance.now() - t0 };
  }

  close(): void {
    this.driver.close();
    this.store.close();
  }
}

const event = (type: string, data: Record<string, unknown>): { jsonrpc: '2.0'; method: string; params: unknown } => ({
  jsonrpc: '2.0',
  method: 'agent.event',
  params: { event: { v: 1, id: '0b2f6a3e-1111-4222-8333-944445555666', type, source: 'hal', time: new Date().toISOString(), data, depth: 0 } },
});

async function spawnVsInstantiate(root: string, work: string, add: Add): Promise<void> {
  const folder = path.join(root, 'examples/agents/thermostat');
  const bytes = fs.readFileSync(path.join(folder, 'build/thermostat.wasm'));
  const module = await WebAssembly.compile(bytes);
  const w = new Worker(BASELINE_WORKER, { eval: true });
  const inst = (): Promise<void> =>
    new Promise((resolve) => {
      w.once('message', () => resolve());
      w.postMessage({ c: 'inst', module });
    });
  const h = new Harness(root, work);
  for (let i = 0; i < 20; i++) await inst(); // warm
  (await h.run(folder)).agent.signal('SIGKILL');
  const raw: number[] = [];
  const ours: number[] = [];
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    await inst();
    raw.push(performance.now() - t0);
    const { agent, ms } = await h.run(folder);
    ours.push(ms);
    agent.signal('SIGKILL');
    await agent.exited;
  }
  await w.terminate();
  h.close();
  add('wasm spawn to init returned vs raw instantiate+init in a warm worker (round trip)', median(ours), 'ms', median(raw), 3);
}

/** The daemon's RSS with N idle AssemblyScript agents, per agent, vs N bare V8 instances in one worker. */
async function idleMemory(root: string, work: string, add: Add): Promise<void> {
  const bareScript = path.join(work, 'bare-instances.cjs');
  fs.writeFileSync(
    bareScript,
    `const { Worker } = require('node:worker_threads');
const fs = require('node:fs');
const rss = () => Number(/VmRSS:\\s+(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]) * 1024;
const n = Number(process.argv[2]);
const wasmModule = new WebAssembly.Module(fs.readFileSync(process.argv[3]));
const w = new Worker(${JSON.stringify(BASELINE_WORKER)}, { eval: true });
let done = 0;
w.on('message', () => { if (++done < n) w.postMessage({ c: 'inst', module: wasmModule, keep: true }); else { setTimeout(() => { console.log(String(rss() - base)); process.exit(0); }, 1500); } });
let base = 0;
setTimeout(() => { base = rss(); w.postMessage({ c: 'inst', module: wasmModule, keep: true }); }, 1000);
`,
  );
  const wasm = path.join(root, 'test/fixtures/agents/wasidle/build/wasidle.wasm');
  for (const [kind, fixture] of [['shared', 'wasidle'], ['dedicated', 'wasdedicated']] as const) {
    const home = path.join(work, `idle-${kind}`);
    const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
    const client = await ControlClient.connect(/control socket (\S+),/.exec(daemon.line)?.[1] ?? '');
    const dir = path.join(work, fixture);
    fs.cpSync(path.join(root, 'test/fixtures/agents', fixture), dir, { recursive: true });
    await client.call('agents.add', { path: dir });
    await sleep(1500);
    const empty = rssOf(daemon.proc.pid ?? 0);
    let spawned = 0;
    for (const n of [1, 10, 100, 200]) {
      for (; spawned < n; spawned++) await client.call('agents.spawn', { agent: fixture });
      await sleep(2000);
      const perAgent = (rssOf(daemon.proc.pid ?? 0) - empty) / n;
      const bare = Number(execFileSync(process.execPath, [bareScript, String(n), wasm], { encoding: 'utf8' }).trim()) / n;
      add(`idle RSS per wasm agent, ${kind} cells, N=${n} vs bare V8 instance`, perAgent / MB, 'MB', Math.max(bare, 1) / MB, null, kind === 'shared' && n === 200 ? 0.5 : undefined);
    }
    client.close();
    daemon.proc.kill('SIGTERM');
    await new Promise((r) => daemon.proc.once('exit', r));
  }
}

async function dispatchRate(root: string, work: string, add: Add): Promise<void> {
  const folder = path.join(root, 'examples/agents/sensor-logger');
  const module = await WebAssembly.compile(fs.readFileSync(path.join(folder, 'build/sensor-logger.wasm')));
  const data = { value: 21.37, unit: '°C', ts: Date.now(), deviceId: 'climate' };
  const n = 20_000;
  const w = new Worker(BASELINE_WORKER, { eval: true });
  const direct = await new Promise<{ ms: number }>((resolve) => {
    w.once('message', resolve);
    w.postMessage({ c: 'events', module, n, json: JSON.stringify((event('hal:sensor.temperature', data).params as { event: unknown }).event) });
  });
  await w.terminate();
  const h = new Harness(root, work);
  const { peer, agent } = await h.run(folder);
  const t0 = performance.now();
  // In batches under the per-guest backlog (events past it would be dropped, not dispatched);
  // agent.snapshot is answered after every event posted before it.
  for (let sent = 0; sent < n; sent += 500) {
    for (let i = 0; i < 500; i++) agent.channel.send(event('hal:sensor.temperature', data));
    await peer.call('agent.snapshot', undefined, 60_000);
  }
  const ms = performance.now() - t0;
  h.close();
  add('wasm event dispatch through the driver vs direct on_event calls', n / (ms / 1000), 'events/s', n / (direct.ms / 1000), null);
}

async function halReadCost(root: string, work: string, add: Add): Promise<void> {
  const mirror = new SensorMirror(['temperature']);
  mirror.write('temperature', 21.5, Date.now());
  const reader = new MirrorReader(mirror.layout());
  const n = 2_000_000;
  for (let i = 0; i < 10_000; i++) reader.read('temperature');
  const t0 = performance.now();
  for (let i = 0; i < n; i++) reader.read('temperature');
  const jsNs = ((performance.now() - t0) * 1e6) / n;
  const h = new Harness(root, work, mirror);
  const lines: string[] = [];
  const { agent } = await h.run(path.join(root, 'test/fixtures/agents/whalbench'), (l) => lines.push(l));
  const xs: number[] = [];
  for (let i = 0; i < 5; i++) {
    agent.channel.send(event('x:go', {}));
    const before = lines.length;
    while (lines.length === before) await sleep(10);
    xs.push(Number(/HALREAD ns=([\d.]+)/.exec(lines.at(-1) ?? '')?.[1] ?? 0));
  }
  h.close();
  add('hal_read from an AssemblyScript agent (mirror) vs a JS mirror read', median(xs), 'ns', jsNs, null);
}

async function watchdogStop(root: string, work: string, add: Add): Promise<void> {
  const folder = path.join(work, 'wspin');
  fs.mkdirSync(folder, { recursive: true });
  const wabt = await (await import('wabt')).default();
  const text = `(module (import "env" "memory" (memory 1 2)) (func (export "alloc") (param i32) (result i32) i32.const 1024) (func (export "init")) (func (export "on_event") (param i32 i32) (loop $l (br $l))))`;
  fs.writeFileSync(path.join(folder, 'agent.wasm'), new Uint8Array(wabt.parseWat('s.wat', text).toBinary({}).buffer));
  fs.writeFileSync(path.join(folder, 'agent.json'), JSON.stringify({ identity: { id: 'wspin', name: 's' }, runtime: { module: 'agent.wasm' }, limits: { callTimeoutMs: 200 } }));
  const h = new Harness(root, work);
  const xs: number[] = [];
  for (let i = 0; i < 10; i++) {
    const { agent } = await h.run(folder);
    const t0 = performance.now();
    agent.channel.send(event('x:spin', {}));
    await agent.exited;
    xs.push(performance.now() - t0);
  }
  h.close();
  add('busy loop stopped by the watchdog vs callTimeoutMs + watchdog period', median(xs), 'ms', 200 + 50, 1.25);
}

function trapHandlerSpeed(work: string, add: Add): void {
  const script = path.join(work, 'kernel.cjs');
  // A memory-bound kernel: sum and store over a 4 MB array, 200 passes.
  fs.writeFileSync(
    script,
    `const wabt = require(${JSON.stringify(createRequire(import.meta.url).resolve('wabt'))});
wabt().then((w) => {
  const text = '(module (memory (export "m") 64 64) (func (export "run") (result i32) (local $i i32) (local $s i32) (local $p i32)' +
    '(loop $pass (local.set $i (i32.const 0)) (loop $l (local.set $s (i32.add (local.get $s) (i32.load (local.get $i)))) (i32.store (local.get $i) (local.get $s))' +
    '(local.set $i (i32.add (local.get $i) (i32.const 4))) (br_if $l (i32.lt_u (local.get $i) (i32.const 4194300))))' +
    '(local.set $p (i32.add (local.get $p) (i32.const 1))) (br_if $pass (i32.lt_u (local.get $p) (i32.const 200)))) (local.get $s)))';
  const inst = new WebAssembly.Instance(new WebAssembly.Module(w.parseWat('k.wat', text).toBinary({}).buffer));
  inst.exports.run();
  const xs = [];
  for (let r = 0; r < 5; r++) { const t0 = performance.now(); inst.exports.run(); xs.push(performance.now() - t0); }
  xs.sort((a, b) => a - b);
  console.log(String(xs[2]));
});
`,
  );
  const run = (flags: string[]): number => Number(execFileSync(process.execPath, [...flags, script], { encoding: 'utf8' }).trim());
  const on = run([]);
  const off = run(['--disable-wasm-trap-handler']);
  add('wasm memory-bound kernel: trap handler off (bounds checks) vs on', off, 'ms', on, null);
}

const PARTS: Record<string, (root: string, work: string, add: Add) => Promise<void> | void> = {
  spawn: spawnVsInstantiate,
  dispatch: dispatchRate,
  halread: halReadCost,
  watchdog: watchdogStop,
  traphandler: (_root, work, add) => trapHandlerSpeed(work, add),
  memory: idleMemory,
};

/** All parts, or only the one named (`npm run bench -- --only wasm:spawn`). */
export async function wasmBench(root: string, work: string, add: Add, only?: string): Promise<void> {
  for (const [name, part] of Object.entries(PARTS)) if (!only || only === name) await part(root, work, add);
}
