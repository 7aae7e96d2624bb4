// Fleet figures for `npm run bench` (issue 9), against an aedes broker in this process: a remote
// agents.list round trip beside a raw MQTT.js request/response on the same broker; the bytes an
// idle device with 20 agents publishes (extrapolated to a month; the ceiling is 50 MB); and
// the outbox's enqueue (to SQLite) and drain (to the broker) rates beside raw QoS 1 publishes.
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { newKeyPair } from '../../runtime/fleet/keys';
import { FleetOutbox } from '../../runtime/fleet/outbox';
import { makeCommand } from '../../runtime/fleet/sign';
import { ControlClient } from '../../runtime/cli/client';
import { memoryLogger } from '../../runtime/log';
import { createStore } from '../../runtime/store/store';
import { median, sleep, startUntil } from './measure';
import type { Add } from './wasm';

async function broker(): Promise<{ url: string; close(): Promise<void> }> {
  const b = await Aedes.createBroker();
  // no Nagle on either side, as the daemon's link does: otherwise every round trip waits ~40 ms for delayed ACKs
  const server = net.createServer((s) => {
    s.setNoDelay(true);
    b.handle(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`,
    close: () => new Promise<void>((r) => b.close(() => server.close(() => r()))),
  };
}

const connect = async (url: string): Promise<mqtt.MqttClient> => {
  const c = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0 });
  (c.stream as net.Socket).setNoDelay(true);
  return c;
};

/** a raw MQTT.js request/response through the same broker, the responder in its own process as the daemon is */
async function rawRoundTrip(root: string, url: string, n: number): Promise<number> {
  const a = await connect(url);
  const responder = await startUntil(process.execPath, [path.join(root, 'scripts/bench/raw-responder.mjs'), url], /responding/);
  await a.subscribeAsync('raw/res', { qos: 1 });
  let waiting: (() => void) | undefined;
  a.on('message', () => waiting?.());
  const xs: number[] = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    const got = new Promise<void>((r) => (waiting = r));
    await a.publishAsync('raw/req', JSON.stringify({ i }), { qos: 1 });
    await got;
    xs.push(performance.now() - t0);
  }
  await a.endAsync();
  responder.proc.kill('SIGTERM');
  return median(xs);
}

export async function fleetBench(root: string, work: string, add: Add): Promise<void> {
  const br = await broker();
  const device = 'bench-dev';
  const home = path.join(work, 'fleet');
  fs.mkdirSync(home, { recursive: true });
  const pair = newKeyPair();
  fs.writeFileSync(path.join(home, 'ops.pub'), pair.publicPem);
  fs.writeFileSync(path.join(home, 'openstarryd.yaml'), `fleet:\n  broker: ${br.url}\n  deviceId: ${device}\n  mqttVersion: 4\n  issuers:\n    - { id: ops, publicKeyFile: ${path.join(home, 'ops.pub')}, role: admin }\n`);
  const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  const socket = /control socket (\S+),/.exec(daemon.line)?.[1] ?? '';
  const client = await ControlClient.connect(socket);
  const key = crypto.createPrivateKey(pair.privatePem);
  const ops = await connect(br.url);
  let bytes = 0;
  let counting = false;
  let refused = 0;
  let waiting: { id: string; done: () => void } | undefined;
  ops.on('message', (topic, payload) => {
    if (counting && !topic.includes('/cmd/')) bytes += topic.length + payload.length;
    if (waiting && topic.endsWith(`/cmd/res/${waiting.id}`)) {
      if (!(JSON.parse(payload.toString()) as { ok: boolean }).ok) refused++;
      waiting.done();
    }
  });
  await ops.subscribeAsync(`openstarry/v1/${device}/#`, { qos: 1 });
  await sleep(1500);
  const remote: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const cmd = makeCommand('ops', key, device, 'agents.list');
    const t0 = performance.now();
    const got = new Promise<void>((done) => (waiting = { id: cmd.id, done }));
    await ops.publishAsync(`openstarry/v1/${device}/cmd/req/agents.list`, JSON.stringify(cmd), { qos: 1 });
    await got;
    remote.push(performance.now() - t0);
  }
  if (refused) throw new Error(`${refused} of the bench's remote commands were refused`);
  const raw = await rawRoundTrip(root, br.url, 1000);
  // Profiled in the daemon (3,000 round trips): Ed25519 verify ≈ 0.12 ms, JSON and zod ≈ 0.03 ms,
  // the counter, nonce and audit row share one synchronous=FULL commit per 50 ms (≈ 0.4 ms each,
  // off the reply's path). The verify alone is ≈ 0.5x of the raw round trip.
  add('remote agents.list round trip (signed, checked, counter on disk) vs raw MQTT.js request/response (responder in its own process)', median(remote), 'ms', raw, 1.5);

  // an idle device with 20 agents: what it publishes once the start-up burst is over
  const dir = path.join(work, 'widle-fleet');
  fs.cpSync(path.join(root, 'test/fixtures/agents/widle'), dir, { recursive: true });
  await client.call('agents.add', { path: dir });
  for (let i = 0; i < 20; i++) await client.call('agents.spawn', { agent: 'widle' });
  await sleep(25_000);
  counting = true;
  const windowMs = 60_000;
  await sleep(windowMs);
  counting = false;
  const perHour = (bytes / windowMs) * 3600_000;
  const perMonthMb = (perHour * 24 * 30) / 1e6;
  add('idle device, 20 agents: bytes an hour published', perHour, 'B/hour', (50e6 / 30 / 24), null);
  add('idle device, 20 agents: MB a month published (diffs and buckets) vs the 50 MB ceiling', perMonthMb, 'MB/month', 50, null, 50);

  client.close();
  await ops.endAsync();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));

  // the outbox: enqueue + write to SQLite, and drain to the broker, beside raw QoS 1 publishes
  const store = createStore(path.join(work, 'outbox.db'), memoryLogger(), { keepEvents: 10 });
  const pub = await connect(br.url);
  const N = 5000;
  const payload = JSON.stringify({ v: 1, id: crypto.randomUUID(), type: 'agent:exited', source: 'supervisor', time: new Date().toISOString(), data: { instance: 'x-1', code: 0 }, depth: 0 });
  const outbox = new FleetOutbox(store.outbox, store.journal, { connected: () => true, publish: (t, p) => pub.publishAsync(t, p, { qos: 1 }).then(() => undefined) });
  let t0 = performance.now();
  for (let i = 0; i < N; i++) outbox.enqueue('bench/evt/agent', payload);
  store.journal.flush();
  const enqueueRate = N / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  await outbox.drain();
  const drainRate = N / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  for (let i = 0; i < N; i += 16) await Promise.all(Array.from({ length: Math.min(16, N - i) }, () => pub.publishAsync('bench/raw', payload, { qos: 1 })));
  const rawRate = N / ((performance.now() - t0) / 1000);
  add('outbox enqueue (to SQLite, one synchronous=FULL commit) vs raw QoS 1 publishes', enqueueRate, 'events/s', rawRate, null);
  add('outbox drain to the broker (16 in flight, delete on PUBACK) vs raw QoS 1 publishes (16 in flight)', drainRate, 'events/s', rawRate, null);
  await pub.endAsync();
  store.close();
  await br.close();
}
