// `npm run bench`: each figure beside a baseline measured in the same run on the same machine
// (DESIGN §11). Budgets are ratios to the baseline, so a slow or busy machine moves both.
// `npm run bench -- --json FILE` also writes [{name, value, unit, baseline, ratio, budget}].
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ProcessDriver } from '../../runtime/agents/drivers/process';
import { buildLaunchSpec } from '../../runtime/agents/launch-spec';
import { validateManifest } from '../../runtime/agents/manifest';
import { MirrorReader, SensorMirror } from '../../hal/mirror';
import { ControlClient } from '../../runtime/cli/client';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { median, rssOf, sleep, spawnToHelloMs, startUntil, ussOf } from './measure';
import { dockerBench } from './docker';
import { eventsBench } from './events';
import { fleetBench } from './fleet';
import { httpBench } from './http';
import { rulesBench } from './rules';
import { serialBench } from './serial';
import { soakBench } from './soak';
import { wasmBench } from './wasm';

interface Row {
  name: string;
  value: number;
  unit: string;
  baseline: number;
  ratio: number;
  budget: number | null;
  limit?: number;
}

const root = path.resolve(import.meta.dirname, '../..');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-bench-'));
fs.chmodSync(work, 0o755);
const rows: Row[] = [];
/** budget: the most value/baseline may be; limit: an absolute ceiling on value, where the issue sets one */
const add = (name: string, value: number, unit: string, baseline: number, budget: number | null, limit?: number): void => {
  rows.push({ name, value: round(value), unit, baseline: round(baseline), ratio: round(value / baseline), budget, ...(limit !== undefined ? { limit } : {}) });
};
const round = (x: number): number => Math.round(x * 100) / 100;
const MB = 1024 * 1024;

/** The bundled daemon on its own home, through its launcher, with a control client. */
async function benchDaemon(home: string): Promise<{ daemon: Awaited<ReturnType<typeof startUntil>>; client: ControlClient }> {
  const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  const socket = /control socket (\S+),/.exec(daemon.line)?.[1] ?? '';
  return { daemon, client: await ControlClient.connect(socket) };
}

async function idleRss(): Promise<void> {
  const bare = await startUntil(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], /up/);
  const home = path.join(work, 'idle');
  const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  await sleep(3000);
  const base = rssOf(bare.proc.pid ?? 0);
  const ours = rssOf(daemon.proc.pid ?? 0);
  bare.proc.kill();
  daemon.proc.kill('SIGTERM');
  add('daemon idle RSS (bundled) vs bare node', ours / MB, 'MB', base / MB, 1.5);
}

async function spawnLatency(): Promise<void> {
  const empty = path.join(work, 'empty.mjs');
  fs.writeFileSync(empty, 'process.send("up"); process.disconnect();\n');
  const store = createStore(path.join(work, 'spawn.db'), memoryLogger(), { keepEvents: 10 });
  const installDir = path.join(root, 'test/fixtures/agents/singleton');
  const manifest = validateManifest(JSON.parse(fs.readFileSync(path.join(installDir, 'agent.json'), 'utf8')), 'bench');
  const driver = new ProcessDriver({ separateUid: false, runnerPath: path.join(root, 'dist/sdk/runner.mjs') });
  const agent = { id: 'singleton', name: 's', version: null, hash: '', storePath: installDir, sourcePath: installDir, driver: 'process', manifest: '', uid: null, installedAt: 0, updatedAt: 0 };
  const bareTimes: number[] = [];
  const ours: number[] = [];
  // Interleaved, so both see the same machine load.
  for (let i = 0; i < 25; i++) {
    const t0 = performance.now();
    // No execArgv and a clean env: the child must not inherit tsx's loader from this script.
    const child = fork(empty, [], { stdio: 'ignore', execArgv: [], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    await new Promise<void>((r) => child.once('message', () => r()));
    bareTimes.push(performance.now() - t0);
    await new Promise((r) => child.once('exit', r));

    const { spec } = buildLaunchSpec({ instanceId: `b-${i}`, agent, manifest, options: {}, dataRoot: path.join(work, 'data'), separateUid: false, heartbeatMs: 5000, plugins: store.plugins, secrets: store.secrets });
    ours.push(await spawnToHelloMs(driver, spec));
  }
  store.close();
  forkMs = median(bareTimes);
  add('process-agent spawn to hello vs bare fork', median(ours), 'ms', median(bareTimes), 1.5);
}

async function listRoundTrip(): Promise<void> {
  const home = path.join(work, 'list');
  const { daemon, client } = await benchDaemon(home);
  const agentDir = path.join(work, 'agent');
  fs.cpSync(path.join(root, 'test/fixtures/agents/stubborn'), agentDir, { recursive: true });
  await client.call('agents.add', { path: agentDir });
  for (let i = 0; i < 20; i++) await client.call('agents.spawn', { agent: 'stubborn' });
  const time = async (method: string, n: number): Promise<number> => {
    const xs: number[] = [];
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      await client.call(method, {});
      xs.push(performance.now() - t0);
    }
    return median(xs);
  };
  await time('agents.list', 20);
  const ping = await time('daemon.ping', 300);
  const list = await time('agents.list', 300);
  client.close();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
  add('agents.list with 20 instances vs daemon.ping round trip', list, 'ms', ping, 10);
}

/**
 * 20 idle agents per driver: the daemon's RSS, what the agents add, and how fast they spawn.
 * "Unique" is USS (private pages): shared pages of the node binary cost a board nothing extra.
 */
async function twentyAgents(): Promise<void> {
  const bare = await startUntil(process.execPath, ['-e', 'console.log("up"); setInterval(() => {}, 1000)'], /up/);
  await sleep(1500);
  const bareRss = rssOf(bare.proc.pid ?? 0);
  const bareUss = ussOf(bare.proc.pid ?? 0);
  bare.proc.kill();
  const home = path.join(work, 'twenty');
  const { daemon, client } = await benchDaemon(home);
  const emptyRss = rssOf(daemon.proc.pid ?? 0);
  for (const [driver, fixture] of [['process', 'stubborn'], ['worker', 'widle']] as const) {
    const dir = path.join(work, fixture);
    fs.cpSync(path.join(root, 'test/fixtures/agents', fixture), dir, { recursive: true });
    await client.call('agents.add', { path: dir });
    const t0 = performance.now();
    for (let i = 0; i < 20; i++) await client.call('agents.spawn', { agent: fixture });
    const spawnMs = performance.now() - t0;
    await sleep(3000);
    const rows = (await client.call('agents.list', { agent: fixture })) as Array<{ osPid: number | null }>;
    const pids = [...new Set(rows.map((r) => r.osPid).filter((p): p is number => p !== null))];
    const agentsRss = pids.reduce((sum, p) => sum + rssOf(p), 0);
    const agentsUss = pids.reduce((sum, p) => sum + ussOf(p), 0);
    const daemonRss = rssOf(daemon.proc.pid ?? 0);
    add(`20 idle ${driver} agents: daemon RSS vs with none`, daemonRss / MB, 'MB', emptyRss / MB, 1.25);
    add(`20 idle ${driver} agents: unique memory per agent vs bare node`, agentsUss / 20 / MB, 'MB', bareUss / MB, 1.5);
    add(`20 idle ${driver} agents: total RSS (daemon + agents) vs bare node`, (daemonRss + agentsRss) / MB, 'MB', bareRss / MB, null);
    add(`${driver} spawn rate (20 in a row) vs bare fork`, 20 / (spawnMs / 1000), 'agents/s', 1000 / forkMs, null);
    await client.call('agents.kill', { instance: fixture, signal: 'SIGKILL' });
  }
  client.close();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
}

/** hal.read over a process agent's channel vs the in-process mirror read WASM cells use. */
async function halRead(): Promise<void> {
  const mirror = new SensorMirror(['temperature', 'humidity']);
  const reader = new MirrorReader(mirror.layout());
  mirror.write('temperature', 21.5, Date.now());
  const map = new Map([['temperature', { value: 21.5, ts: Date.now() }]]);
  const perCall = (fn: () => unknown, n = 2_000_000): number => {
    for (let i = 0; i < 10_000; i++) fn();
    const t0 = performance.now();
    for (let i = 0; i < n; i++) fn();
    return ((performance.now() - t0) * 1e6) / n;
  };
  const mirrorNs = perCall(() => reader.read('temperature'));
  add('mirror read vs Map.get in-process', mirrorNs, 'ns', perCall(() => map.get('temperature')), 20);

  const home = path.join(work, 'hal');
  const { daemon, client } = await benchDaemon(home);
  const dir = path.join(work, 'halbench');
  fs.cpSync(path.join(root, 'test/fixtures/agents/halbench'), dir, { recursive: true });
  await client.call('agents.add', { path: dir });
  await client.call('agents.spawn', { agent: 'halbench' });
  let us = 0;
  for (let i = 0; i < 300 && !us; i++) {
    await sleep(100);
    const logs = (await client.call('agents.logs', { target: 'halbench', lines: 50 })) as { lines: Array<{ msg: string }> };
    us = Number(/HALBENCH median_us=([\d.]+)/.exec(logs.lines.map((l) => l.msg).join('\n'))?.[1] ?? 0);
  }
  client.close();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
  add('hal.read from a process agent vs mirror read', us * 1000, 'ns', mirrorNs, null);
}

let forkMs = 0;
// `--only soak,rules` runs those groups; `--soak-minutes N` sets the soak's length (default 10).
const arg = (name: string): string | undefined => {
  const at = process.argv.indexOf(name);
  return at > 0 ? process.argv[at + 1] : undefined;
};
const only = arg('--only')?.split(',');
const soakMinutes = Number(arg('--soak-minutes') ?? '10');
const groups: Array<[string, () => Promise<void>]> = [
  ['daemon', idleRss],
  ['spawn', spawnLatency],
  ['control', listRoundTrip],
  ['agents', twentyAgents],
  ['hal', halRead],
  ['wasm', () => wasmBench(root, work, add)],
  ['docker', () => dockerBench(root, work, add)],
  ['serial', () => serialBench(work, add)],
  ['rules', () => rulesBench(root, work, add)],
  ['events', () => eventsBench(root, work, add)],
  ['fleet', () => fleetBench(root, work, add)],
  ['http', () => httpBench(root, work, add)],
  ['soak', () => soakBench(root, work, add, soakMinutes)],
];
for (const [name, run] of groups) if (!only || only.includes(name)) await run();
fs.rmSync(work, { recursive: true, force: true });

const header = ['benchmark', 'value', 'baseline', 'ratio', 'budget'];
const over = (r: Row): boolean => (r.budget !== null && r.ratio > r.budget) || (r.limit !== undefined && r.value > r.limit);
const budgetText = (r: Row): string => [r.budget === null ? '' : `≤ ${r.budget}x`, r.limit === undefined ? '' : `≤ ${r.limit} ${r.unit}`].filter(Boolean).join(', ') || '-';
const lines = rows.map((r) => [r.name, `${r.value} ${r.unit}`, `${r.baseline} ${r.unit}`, `${r.ratio}x`, `${budgetText(r)}${over(r) ? '  OVER' : ''}`]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)));
for (const l of [header, ...lines]) console.log(l.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  '));
const jsonAt = process.argv.indexOf('--json');
if (jsonAt > 0 && process.argv[jsonAt + 1]) fs.writeFileSync(process.argv[jsonAt + 1] ?? '', JSON.stringify(rows, null, 2) + '\n');
process.exitCode = rows.some(over) ? 1 : 0;
