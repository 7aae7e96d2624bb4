// Event figures for `npm run bench` (issue 17): `events.emit` answers only once the event is on
// disk (a group commit on the synchronous=FULL connection), so its throughput, with 16 callers at
// once over 4 control connections, is measured beside `daemon.ping` at the same concurrency in the
// same daemon: the round trip it cannot avoid. Run alone: `npx tsx scripts/bench/events.ts`.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ControlClient } from '../../runtime/cli/client';
import { median, startUntil } from './measure';
import type { Add } from './wasm';

const CONNECTIONS = 4;
const PER_CONNECTION = 4;
const CALLS = 2000;

/** calls/s of `call` with CONNECTIONS × PER_CONNECTION callers in flight */
async function rate(clients: ControlClient[], call: (c: ControlClient, i: number) => Promise<unknown>): Promise<number> {
  let next = 0;
  const t0 = performance.now();
  const caller = async (c: ControlClient): Promise<void> => {
    while (next < CALLS) await call(c, next++);
  };
  await Promise.all(clients.flatMap((c) => Array.from({ length: PER_CONNECTION }, () => caller(c))));
  return CALLS / ((performance.now() - t0) / 1000);
}

export async function eventsBench(root: string, work: string, add: Add): Promise<void> {
  const home = path.join(work, 'events');
  fs.mkdirSync(home, { recursive: true });
  const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  try {
    const socket = /control socket (\S+),/.exec(daemon.line)?.[1] ?? '';
    const clients = await Promise.all(Array.from({ length: CONNECTIONS }, () => ControlClient.connect(socket)));
    const emits: number[] = [];
    const pings: number[] = [];
    // interleaved, so a busy neighbour slows both alike
    for (let round = 0; round < 3; round++) {
      pings.push(await rate(clients, (c) => c.call('daemon.ping')));
      emits.push(await rate(clients, (c, i) => c.call('events.emit', { type: 'bench:tick', data: { i } })));
    }
    clients.forEach((c) => c.close());
    // throughput: higher is better, so the budget is on ping/emit (how much slower a durable emit is)
    add('events.emit, 16 callers: emits/s vs daemon.ping calls/s', median(emits), 'calls/s', median(pings), null);
    add('events.emit, 16 callers: time per emit vs daemon.ping', 1e6 / median(emits), 'µs', 1e6 / median(pings), 4);
  } finally {
    daemon.proc.kill('SIGTERM');
    await new Promise((r) => daemon.proc.once('exit', r));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === path.resolve(import.meta.filename)) {
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-bench-events-'));
  const root = path.resolve(import.meta.dirname, '../..');
  await eventsBench(root, work, (name, value, unit, baseline) => console.log(`${name}: ${value.toFixed(1)} ${unit}, baseline ${baseline.toFixed(1)} ${unit}, ratio ${(value / baseline).toFixed(2)}`));
  fs.rmSync(work, { recursive: true, force: true });
}
