/**
 * Issue 17, with the real daemon and the embedded aedes broker (whose `received` is every PUBLISH
 * the broker took, in order): an acknowledged event is in the event log and reaches the broker
 * even when the daemon is killed -9 in the middle of a stream of concurrent emits (answered ⊆
 * exported); the reply is written after an fsync of the WAL (strace); events of the start-up and
 * of a broker outage are exported once the broker is reachable; and on the wire a cause comes
 * before its effects (rules:fired, agent:spawned, the rule's publish under pub/), for several chains.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ControlClient } from '../../runtime/cli/client';
import { rulePublishSchema } from '../../runtime/fleet/payloads';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { startBroker, type TestBroker } from '../helpers/mqtt';
import { freePort } from '../helpers/ports';
import { describeWith, hasCommand } from '../helpers/system';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

interface Envelope {
  id: string;
  type: string;
  data: Record<string, unknown>;
  causedBy?: string;
}

const DEVICE = 'gh-durable-1';
const base = `openstarry/v1/${DEVICE}`;

const cleanups: Array<() => Promise<unknown>> = [];
/** closed after every daemon has stopped: a broker with a daemon reconnecting to it does not close */
const brokers: TestBroker[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch(() => undefined);
  for (const b of brokers.splice(0)) await b.close();
});

const fleet = (url: string, exp: string[]): Record<string, unknown> => ({ fleet: { broker: url, mqttVersion: 4, deviceId: DEVICE, export: exp } });

async function daemon(opts: Parameters<typeof startDaemon>[0]): Promise<RunningDaemon> {
  const d = await startDaemon(opts);
  cleanups.push(() => d.stop());
  return d;
}

async function broker(port?: number): Promise<TestBroker> {
  const b = await startBroker(port);
  brokers.push(b);
  return b;
}

/** the exported events the broker took, in its order */
const eventsAt = (b: TestBroker): Envelope[] => b.received.filter((m) => m.topic.startsWith(`${base}/evt/`) && m.topic !== `${base}/evt/audit`).map((m) => JSON.parse(m.payload) as Envelope);

describe('acknowledged events are durable and exported (issue 17)', () => {
  it('every event answered before a kill -9 is in the event log after the restart, and at the broker', async () => {
    const b = await broker();
    const config = fleet(b.url, ['test:**']);
    const d = await daemon({ config });
    const clients = await Promise.all(Array.from({ length: 8 }, () => ControlClient.connect(d.socket)));
    const answered: string[] = [];
    let n = 0;
    let cut = false;
    const caller = async (c: ControlClient): Promise<void> => {
      while (!cut) {
        try {
          answered.push(((await c.call('events.emit', { type: 'test:burst', data: { n: n++ } })) as Envelope).id);
        } catch {
          return;
        }
      }
    };
    // two callers per connection: requests are always in flight when the kill comes
    const loops = clients.flatMap((c) => [caller(c), caller(c)]);
    await waitFor('400 answered emits', () => answered.length >= 400, 60_000);
    await d.kill9();
    cut = true;
    await Promise.all(loops);
    clients.forEach((c) => c.close());
    const asked = n;
    expect(asked).toBeGreaterThan(answered.length);

    const again = await daemon({ home: d.home, config });
    const logged = new Set((await again.json<Envelope[]>(['events', 'tail', '--type', 'test:burst', '-n', '10000'])).map((e) => e.id));
    expect(answered.filter((id) => !logged.has(id))).toEqual([]);
    const missing = (): string[] => {
      const got = new Set(eventsAt(b).map((e) => e.id));
      return answered.filter((id) => !got.has(id));
    };
    await waitFor('every answered event at the broker', () => missing().length === 0, 30_000).catch(() => undefined);
    expect(missing()).toEqual([]);
  }, 120_000);

  it('exports what happened at start-up and while the broker was unreachable, once it is, in order', async () => {
    const port = await freePort();
    const home = path.join(tmpDir('osd-durable-'), 'h');
    fs.mkdirSync(home, { recursive: true });
    // imported at start (rules:applied), before the fleet link even starts
    fs.writeFileSync(path.join(home, 'orchestration.yaml'), 'rules:\n  - { id: early, on: "test:early", mode: parallel, action: "publish(early/seen)" }\n');
    const d = await daemon({ home, config: fleet(`mqtt://127.0.0.1:${port}`, ['test:**', 'rules:**']) });
    const emitted: string[] = [];
    for (let i = 0; i < 10; i++) emitted.push((await d.json<Envelope>(['events', 'emit', 'test:early', JSON.stringify({ i })])).id);
    const b = await broker(port);
    const early = (): Envelope[] => eventsAt(b).filter((e) => e.type === 'test:early');
    await waitFor('the ten early events', () => early().length >= 10, 60_000);
    expect(early().map((e) => e.id)).toEqual(emitted);
    expect(eventsAt(b).find((e) => e.type === 'rules:applied')?.data).toMatchObject({ rules: 1, actor: 'daemon:start' });
    await waitFor('the ten publishes', () => b.received.filter((m) => m.topic === `${base}/pub/early/seen`).length >= 10);
    const pubs = b.received.filter((m) => m.topic === `${base}/pub/early/seen`).map((m) => rulePublishSchema.parse(JSON.parse(m.payload)));
    expect(pubs.map((p) => p.event)).toEqual(emitted);
    expect(pubs[0]).toMatchObject({ v: 1, rule: 'early', type: 'test:early', data: { i: 0 } });
  }, 90_000);

  it('on the wire, each cause comes before its effects: rules:fired, agent:spawned and the rule’s publish', async () => {
    const b = await broker();
    const home = path.join(tmpDir('osd-order-'), 'h');
    fs.mkdirSync(home, { recursive: true });
    fs.writeFileSync(
      path.join(home, 'orchestration.yaml'),
      [
        'rules:',
        '  - { id: review, on: "git:commit_pushed", mode: parallel, max: 20, maxPerMinute: 600, action: { steps: [ { publish: { topic: "ci/review" } }, { spawn: devops-agent } ] } }',
        '  - { id: page, on: "alert:server_down", mode: parallel, max: 20, maxPerMinute: 600, action: { steps: [ { spawn: devops-agent }, { publish: { topic: "ops/page", data: { severity: high } } } ] } }',
        '',
      ].join('\n'),
    );
    const d = await daemon({ home, config: fleet(b.url, ['git:**', 'alert:**', 'rules:**', 'agent:**']) });
    expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents/devops-agent')])).code).toBe(0);
    await waitFor('online', () => b.received.some((m) => m.topic === `${base}/status` && m.payload.includes('"online":true')));
    const causes: Envelope[] = [];
    const client = await ControlClient.connect(d.socket);
    cleanups.push(() => Promise.resolve(client.close()));
    // concurrent chains, so their effects interleave
    const emits = Array.from({ length: 6 }, (_, i) => client.call('events.emit', i % 2 ? { type: 'alert:server_down', data: { probe: `db${i}` } } : { type: 'git:commit_pushed', data: { branch: 'main', commit: `c${i}` } }));
    causes.push(...((await Promise.all(emits)) as Envelope[]));
    const wire = (): Array<{ kind: string; cause: string }> =>
      b.received.flatMap((m) => {
        if (m.topic.startsWith(`${base}/pub/`)) return [{ kind: 'publish', cause: rulePublishSchema.parse(JSON.parse(m.payload)).event }];
        if (!m.topic.startsWith(`${base}/evt/`) || m.topic === `${base}/evt/audit`) return [];
        const e = JSON.parse(m.payload) as Envelope;
        if (e.type === 'rules:fired') return [{ kind: 'fired', cause: String(e.data.event) }];
        if (e.type === 'agent:spawned') return [{ kind: 'spawned', cause: e.causedBy ?? '' }];
        return causes.some((c) => c.id === e.id) ? [{ kind: 'cause', cause: e.id }] : [];
      });
    await waitFor('every effect of every chain', () => causes.every((c) => ['cause', 'fired', 'spawned', 'publish'].every((k) => wire().some((w) => w.kind === k && w.cause === c.id))), 30_000);
    const seen = wire();
    for (const c of causes) {
      const at = (kind: string): number => seen.findIndex((w) => w.kind === kind && w.cause === c.id);
      expect(at('cause'), `${c.type} ${c.id}`).toBeGreaterThanOrEqual(0);
      for (const effect of ['fired', 'spawned', 'publish']) expect(at(effect), `${effect} of ${c.type} after it`).toBeGreaterThan(at('cause'));
    }
    // the event log has the same order
    const log = await d.json<Envelope[]>(['events', 'tail', '-n', '500']);
    for (const c of causes) {
      const cause = log.findIndex((e) => e.id === c.id);
      expect(log.findIndex((e) => e.type === 'rules:fired' && e.data.event === c.id)).toBeGreaterThan(cause);
      expect(log.findIndex((e) => e.type === 'agent:spawned' && e.causedBy === c.id)).toBeGreaterThan(cause);
    }
  }, 90_000);
});

describeWith('the fsync before the reply (strace)', [hasCommand('strace', 'strace')], () => {
  it('events.emit writes its reply only after an fsync of the WAL that follows the request', async () => {
    const d = await daemon({ config: {} });
    const client = await ControlClient.connect(d.socket);
    cleanups.push(() => Promise.resolve(client.close()));
    const trace = path.join(tmpDir('osd-strace-'), 'trace');
    const st = spawn('strace', ['-f', '-qq', '-y', '-s', '2000', '-e', 'trace=read,recvfrom,write,writev,sendto,fsync,fdatasync', '-o', trace, '-p', String(d.proc.pid)], { stdio: 'ignore' });
    const traced = new Promise((r) => st.once('exit', r));
    cleanups.push(async () => {
      st.kill('SIGINT');
      await traced;
    });
    await waitFor('strace attached', async () => {
      await client.call('daemon.ping');
      return fs.existsSync(trace) && fs.readFileSync(trace, 'utf8').includes('daemon.ping');
    });
    const marks = ['mark-5f1c-a', 'mark-5f1c-b', 'mark-5f1c-c'];
    const ids: string[] = [];
    for (const mark of marks) ids.push(((await client.call('events.emit', { type: 'test:traced', data: { mark } })) as Envelope).id);
    st.kill('SIGINT');
    await traced;
    const lines = fs.readFileSync(trace, 'utf8').split('\n');
    marks.forEach((mark, i) => {
      const request = lines.findIndex((l) => /\b(read|recvfrom)\(/.test(l) && l.includes(mark));
      const reply = lines.findIndex((l, k) => k > request && /\b(write|writev|sendto)\(/.test(l) && l.includes(ids[i] ?? '?'));
      expect(request, `the request with ${mark}`).toBeGreaterThanOrEqual(0);
      expect(reply, `the reply with ${ids[i]}`).toBeGreaterThan(request);
      const syncs = lines.slice(request, reply).filter((l) => /\bf(data)?sync\(\d+<[^>]*-wal>\)/.test(l));
      expect(syncs, `an fsync of the WAL between request ${mark} and its reply`).not.toEqual([]);
    });
  }, 60_000);
});
