// The rules soak for `npm run bench` (issue 17): 100 WASM and 10 process agents, 10 rules (their
// conditions read `agents`, two of them spawn a one-shot job, so instances pile up the way they do
// on a device that runs for months), and events emitted over the control socket at 200/s for
// `--soak-minutes` (default 10). Beside it, in the same run, an idle daemon (no agents, no rules)
// takes the same emits at a gentle rate: the soak's p99 emit latency is a ratio to that idle p99.
// Reported: the sustained rate, p99 emit latency, emits that timed out (5 s), /healthz answers
// that failed, the RSS slope after warm-up (least squares over samples every 10 s), then a ramp
// (20 s per step) for the highest rate that still holds: ≥ 95 % of it delivered, no timeouts, p99
// within 5× the idle daemon's.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ControlClient } from '../../runtime/cli/client';
import { percentile, rssOf, sleep, startUntil } from './measure';
import type { Add } from './wasm';

const MB = 1024 * 1024;
const EMIT_TIMEOUT_MS = 5000;
const WARMUP_MS = 120_000;

/** least-squares slope of y over x */
function slope(points: Array<[number, number]>): number {
  const n = points.length;
  if (n < 2) return 0;
  const mx = points.reduce((a, [x]) => a + x, 0) / n;
  const my = points.reduce((a, [, y]) => a + y, 0) / n;
  const num = points.reduce((a, [x, y]) => a + (x - mx) * (y - my), 0);
  const den = points.reduce((a, [x]) => a + (x - mx) ** 2, 0);
  return den === 0 ? 0 : num / den;
}

const RULES = `rules:
${Array.from({ length: 8 }, (_, i) => `  - { id: watch${i}, on: "soak:zone${i}", if: "agents['soak-proc'] >= 1 && value > 1000000 && device.board == 'sim'", mode: parallel, action: "kill(nobody)" }`).join('\n')}
  - { id: job8, on: "soak:zone8", if: "int(value) % 40 == 8 && agents['soak-proc'] > 0", mode: parallel, max: 5, maxPerMinute: 60, action: "spawn(soak-job)" }
  - { id: job9, on: "soak:zone9", if: "int(value) % 40 == 9", mode: parallel, max: 5, maxPerMinute: 60, action: "spawn(soak-job)" }
`;

function writeAgents(work: string, root: string): { wasm: string; proc: string; job: string } {
  const wasm = path.join(work, 'soak-wasm');
  fs.cpSync(path.join(root, 'test/fixtures/agents/wasidle'), wasm, { recursive: true });
  fs.writeFileSync(
    path.join(wasm, 'agent.json'),
    JSON.stringify({ identity: { id: 'soak-wasm', name: 'soak: counts zone0 events' }, runtime: { module: 'build/wasidle.wasm' }, capabilities: { events: { subscribe: ['soak:zone0'] } }, limits: { memoryMb: 4 }, restart: { policy: 'always' } }),
  );
  const proc = path.join(work, 'soak-proc');
  fs.mkdirSync(proc, { recursive: true });
  fs.writeFileSync(path.join(proc, 'agent.json'), JSON.stringify({ identity: { id: 'soak-proc', name: 'soak: counts zone1 events' }, runtime: { entry: 'main.mjs' }, capabilities: { events: { subscribe: ['soak:zone1'] } }, restart: { policy: 'always' } }));
  fs.writeFileSync(path.join(proc, 'main.mjs'), 'let n = 0;\nexport default { onEvent() { n++; }, snapshot() { return { n }; } };\n');
  const job = path.join(work, 'soak-job');
  fs.mkdirSync(job, { recursive: true });
  fs.writeFileSync(path.join(job, 'agent.json'), JSON.stringify({ identity: { id: 'soak-job', name: 'soak: a one-shot job' }, runtime: { entry: 'main.mjs' }, restart: { policy: 'no' } }));
  fs.writeFileSync(path.join(job, 'main.mjs'), "export default { init(ctx) { ctx.log.info('job done'); setTimeout(() => process.exit(0), 10); } };\n");
  return { wasm, proc, job };
}

interface Phase {
  sent: number;
  answered: number;
  timeouts: number;
  errors: number;
  latencies: number[];
  seconds: number;
}

/** Emits at `rate` for `ms` on a few clients, open loop: each emit leaves at its own scheduled time. */
async function emitAt(clients: ControlClient[], rate: number, ms: number, during?: (elapsed: number) => void): Promise<Phase> {
  const out: Phase = { sent: 0, answered: 0, timeouts: 0, errors: 0, latencies: [], seconds: ms / 1000 };
  const t0 = performance.now();
  const inflight: Array<Promise<void>> = [];
  let k = 0;
  let lastDuring = 0;
  for (;;) {
    const now = performance.now() - t0;
    if (now >= ms) break;
    const due = Math.floor((now / 1000) * rate);
    for (; k < due; k++) {
      const c = clients[k % clients.length];
      if (!c) continue;
      out.sent++;
      const start = performance.now();
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<'timeout'>((r) => (timer = setTimeout(() => r('timeout'), EMIT_TIMEOUT_MS)));
      inflight.push(
        Promise.race([c.call('events.emit', { type: `soak:zone${k % 10}`, data: { value: k, zone: k % 10 } }).then(() => 'ok' as const), timeout])
          .then((r) => {
            if (r === 'timeout') out.timeouts++;
            else {
              out.answered++;
              out.latencies.push(performance.now() - start);
            }
          })
          .catch(() => void out.errors++)
          .finally(() => clearTimeout(timer)),
      );
    }
    if (during && now - lastDuring >= 1000) {
      lastDuring = now;
      during(now);
    }
    await sleep(5);
  }
  await Promise.all(inflight);
  return out;
}

function healthz(addr: string): Promise<boolean> {
  const [hostname, port] = addr.split(':');
  return new Promise((resolve) => {
    const req = http.get({ hostname, port: Number(port), path: '/healthz', timeout: 2000 }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode === 200));
    });
    req.on('timeout', () => {
      req.destroy();
      resolve(false);
    });
    req.on('error', () => resolve(false));
  });
}

async function daemonAt(root: string, home: string): Promise<{ proc: Awaited<ReturnType<typeof startUntil>>['proc']; clients: ControlClient[]; admin: ControlClient; addr: string }> {
  const d = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  const socket = /control socket (\S+),/.exec(d.line)?.[1] ?? '';
  const addr = /http (\S+),/.exec(d.line)?.[1] ?? '';
  const clients = await Promise.all(Array.from({ length: 4 }, () => ControlClient.connect(socket)));
  return { proc: d.proc, clients, admin: await ControlClient.connect(socket), addr };
}

async function stop(d: { proc: Awaited<ReturnType<typeof startUntil>>['proc']; clients: ControlClient[]; admin: ControlClient }): Promise<void> {
  for (const c of [...d.clients, d.admin]) c.close();
  d.proc.kill('SIGTERM');
  await new Promise((r) => d.proc.once('exit', r));
}

export async function soakBench(root: string, work: string, add: Add, minutes: number): Promise<void> {
  // The idle daemon: no agents, no rules; the same emits at 20/s.
  const idleHome = path.join(work, 'soak-idle');
  fs.mkdirSync(idleHome, { recursive: true });
  const idle = await daemonAt(root, idleHome);
  await emitAt(idle.clients, 20, 5000);
  const idlePhase = await emitAt(idle.clients, 20, 30_000);
  await stop(idle);
  const idleP99 = percentile(idlePhase.latencies, 99);

  const home = path.join(work, 'soak');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'orchestration.yaml'), RULES);
  const d = await daemonAt(root, home);
  const dirs = writeAgents(work, root);
  for (const dir of Object.values(dirs)) await d.admin.call('agents.add', { path: dir });
  for (let i = 0; i < 10; i++) await d.admin.call('agents.spawn', { agent: 'soak-proc' });
  for (let i = 0; i < 100; i++) await d.admin.call('agents.spawn', { agent: 'soak-wasm' });
  const pid = d.proc.pid ?? 0;
  await sleep(3000);

  const rss: Array<[number, number]> = [];
  let health = 0;
  let healthFailed = 0;
  const ms = minutes * 60_000;
  let nextSample = 0;
  const soak = await emitAt(d.clients, 200, ms, (elapsed) => {
    if (elapsed < nextSample) return;
    nextSample = elapsed + 10_000;
    if (elapsed >= Math.min(WARMUP_MS, ms / 4)) rss.push([elapsed / 60_000, rssOf(pid) / MB]);
    health++;
    void healthz(d.addr).then((ok) => void (ok ? undefined : healthFailed++));
  });
  const instances = ((await d.admin.call('agents.list', { all: true })) as unknown[]).length;
  const rules = ((await d.admin.call('rules.list', {})) as { rules: Array<{ matched: number; fired: number; evalErrors: number }> }).rules;
  const sum = (k: 'matched' | 'fired' | 'evalErrors'): number => rules.reduce((a, r) => a + r[k], 0);

  // The ramp: the highest rate that still holds.
  let highest = 0;
  for (const rate of [300, 400, 600, 800, 1200, 1600, 2400]) {
    const p = await emitAt(d.clients, rate, 20_000);
    const holds = p.answered >= 0.95 * rate * p.seconds && p.timeouts === 0 && percentile(p.latencies, 99) <= 5 * idleP99;
    if (!holds) break;
    highest = rate;
  }
  await stop(d);

  const rate = soak.answered / soak.seconds;
  add(`soak (${minutes} min, 100 wasm + 10 process agents, 10 rules): events/s answered vs offered`, rate, 'events/s', 200, null);
  add('soak: emit p99 vs an idle daemon p99', percentile(soak.latencies, 99), 'ms', idleP99, 5);
  add('soak: emit p50 vs an idle daemon p50', percentile(soak.latencies, 50), 'ms', percentile(idlePhase.latencies, 50), null);
  add('soak: emits timed out (5 s) or failed', soak.timeouts + soak.errors, 'emits', soak.sent, null, 0);
  add('soak: /healthz failures', healthFailed, 'probes', health, null, 0);
  // the baseline here is the ceiling, so the ratio reads as a share of it
  add('soak: RSS slope after warm-up', slope(rss), 'MB/min', 0.5, 1, 0.5);
  add('soak: instances the daemon lists at the end (all: running, and exited kept per agent)', instances, 'instances', 110, null);
  // the rules did their work: every event matched one, jobs were spawned, no condition failed
  add('soak: rule matches vs events answered', sum('matched'), 'matches', soak.answered, null);
  add('soak: rule actions fired (jobs spawned)', sum('fired'), 'actions', soak.seconds, null);
  add('soak: rule condition errors', sum('evalErrors'), 'errors', sum('matched'), null, 0);
  add('soak: highest sustainable rate (ramp, 20 s steps)', highest, 'events/s', 200, null);
}
