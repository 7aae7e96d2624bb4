/** The supervisor over the fake driver: desired state, policies, reconciliation, protocol checks. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FakeDriver, type FakeScript, protocolAgent } from '../../../../runtime/agents/drivers/fake';
import { unavailableHal } from '../../../../runtime/agents/hal-port';
import { Installer } from '../../../../runtime/agents/install';
import { InstanceLogs } from '../../../../runtime/agents/logs';
import { Supervisor } from '../../../../runtime/agents/supervisor';
import { EventBus } from '../../../../runtime/bus/bus';
import type { EventEnvelope } from '../../../../runtime/bus/envelope';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { copyFixtureAgent, tmpDir, waitFor } from '../../../helpers/tmp';

interface World {
  dir: string;
  store: Store;
  sup: Supervisor;
  bus: EventBus;
  events: EventEnvelope[];
  logs: InstanceLogs;
  restart(): Promise<Supervisor>;
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.sup.stop();
    w.store.close();
  }
});

/** Installs agents copied from fixtures, each with the given manifest changes, run by fake scripts. */
async function world(agents: Record<string, { script: FakeScript; manifest?: Record<string, unknown> }>, opts: { healthyResetMs?: number; keepExited?: number; channel?: { messagesPerSecond: number; bytesPerSecond: number } } = {}): Promise<World> {
  const dir = tmpDir('osd-sup-');
  const log = memoryLogger();
  const store = createStore(path.join(dir, 'db'), log, { keepEvents: 1000 });
  const installer = new Installer(store, path.join(dir, 'store'), { base: 61000, count: 100 });
  const scripts: Record<string, FakeScript> = {};
  for (const [id, a] of Object.entries(agents)) {
    const src = copyFixtureAgent('singleton');
    const m = { ...(JSON.parse(fs.readFileSync(path.join(src, 'agent.json'), 'utf8')) as Record<string, unknown>), singleton: false, ...(a.manifest ?? {}), identity: { id, name: id } };
    fs.writeFileSync(path.join(src, 'agent.json'), JSON.stringify(m));
    installer.addAgent(src);
    scripts[id] = a.script;
  }
  const bus = new EventBus(log);
  const events: EventEnvelope[] = [];
  bus.on('test', '**', (e) => events.push(e));
  const logs = new InstanceLogs({ dir: path.join(dir, 'logs'), ringLines: 100, maxBytes: 100_000, files: 2 });
  const make = (): Supervisor =>
    new Supervisor({
      store,
      bus,
      log,
      logs,
      hal: unavailableHal,
      installer,
      dataRoot: path.join(dir, 'data'),
      separateUid: false,
      supervisor: {
        backoff: { initialMs: 10, maxMs: 20 },
        healthyResetMs: opts.healthyResetMs ?? 600_000,
        heartbeatMs: 100,
        missedHeartbeats: 3,
        helloTimeoutMs: 2000,
        graceMs: 200,
        keepExited: opts.keepExited ?? 20,
        limits: { sampleMs: 1000, cpuGraceMs: 10_000, rssOverheadMb: 48 },
        channel: { unreadBytes: 4 * 1024 * 1024, ...(opts.channel ?? { messagesPerSecond: 1000, bytesPerSecond: 1024 * 1024 }) },
      },
      drivers: new Map([['process', new FakeDriver(scripts)]]),
    });
  const w: World = {
    dir,
    store,
    sup: make(),
    bus,
    events,
    logs,
    async restart() {
      await w.sup.stop();
      w.sup = make();
      await w.sup.start();
      return w.sup;
    },
  };
  worlds.push(w);
  await w.sup.start();
  return w;
}

const stateOf = (w: World, id: string): string | undefined => w.sup.list({ all: true }).find((s) => s.instance === id)?.state;

describe('supervisor', () => {
  it('brings back exactly the instances desired running after a daemon restart', async () => {
    const w = await world({ worker: { script: protocolAgent() }, oneshot: { script: protocolAgent(), manifest: { restart: { policy: 'no' } } } });
    const a = (await w.sup.spawn('worker')).instance;
    const b = (await w.sup.spawn('worker')).instance;
    const c = (await w.sup.spawn('worker')).instance;
    const once = (await w.sup.spawn('oneshot')).instance;
    await w.sup.kill(c);
    const sup = await w.restart();
    const running = sup.list().filter((s) => s.state === 'running').map((s) => s.instance).sort();
    expect(running).toEqual([a, b].sort());
    expect(stateOf(w, c)).toBe('exited');
    expect(stateOf(w, once)).toBe('exited');
    expect(w.store.instances.runs(a)).toHaveLength(2);
  });

  it('never resumes an instance done by its policy: clean exit under on-failure, any exit under no, retries spent', async () => {
    const crash: FakeScript = protocolAgent((io) => io.handle('agent.init', () => (setImmediate(() => io.exit(1)), { ok: true })));
    const finish: FakeScript = protocolAgent((io) => io.handle('agent.init', () => (setImmediate(() => io.exit(0)), { ok: true })));
    const w = await world({
      job: { script: finish, manifest: { restart: { policy: 'on-failure' } } },
      once: { script: crash, manifest: { restart: { policy: 'no' } } },
      strict: { script: crash, manifest: { restart: { policy: 'on-failure', maxRetries: 1 } } },
      capped: { script: crash, manifest: { restart: { policy: 'always', maxRetries: 1 } } },
    });
    const ids = { job: '', once: '', strict: '', capped: '' };
    for (const k of Object.keys(ids) as Array<keyof typeof ids>) ids[k] = (await w.sup.spawn(k)).instance;
    await waitFor('all ended', () => Object.values(ids).every((id) => ['exited', 'failed'].includes(stateOf(w, id) ?? '')));
    const runsBefore = Object.fromEntries(Object.values(ids).map((id) => [id, w.store.instances.runs(id).length]));
    expect(runsBefore[ids.job]).toBe(1);
    expect(runsBefore[ids.once]).toBe(1);
    expect(runsBefore[ids.strict]).toBe(2);
    for (const id of Object.values(ids)) expect(w.store.instances.get(id)?.desired).toBe('stopped');
    const exits = w.events.filter((e) => e.type === 'agent:exited' && e.data.instance === ids.strict).map((e) => e.data.final);
    expect(exits).toEqual([false, true]);
    await w.restart();
    await w.restart();
    for (const id of Object.values(ids)) expect(w.store.instances.runs(id).length).toBe(runsBefore[id]);
    expect(w.sup.list()).toEqual([]);
  });

  it('restarts `always` without a maxRetries forever, past the on-failure default', async () => {
    const crash: FakeScript = protocolAgent((io) => io.handle('agent.init', () => (setImmediate(() => io.exit(1)), { ok: true })));
    const w = await world({ forever: { script: crash, manifest: { restart: { policy: 'always', backoff: { initialMs: 10, maxMs: 20 } } } } });
    const id = (await w.sup.spawn('forever')).instance;
    await waitFor('more restarts than the default budget', () => w.store.instances.runs(id).length > 8);
    expect(stateOf(w, id)).not.toBe('failed');
    expect(w.store.instances.get(id)?.desired).toBe('running');
    expect(w.logs.tail([id], 100).map((l) => l.msg).join('\n')).toContain('no limit');
    await w.sup.kill(id, 'SIGKILL');
    expect(w.store.instances.get(id)?.desired).toBe('stopped');
  });

  it('resumes a `no` instance cut by the daemon stop never, and says so on the bus', async () => {
    const w = await world({ once: { script: protocolAgent(), manifest: { restart: { policy: 'no' } } }, svc: { script: protocolAgent() } });
    const once = (await w.sup.spawn('once')).instance;
    const svc = (await w.sup.spawn('svc')).instance;
    await w.restart();
    expect(stateOf(w, once)).toBe('exited');
    expect(stateOf(w, svc)).toBe('running');
    expect(w.store.instances.get(once)?.desired).toBe('stopped');
    expect(w.events.find((e) => e.type === 'agent:exited' && e.data.instance === once && e.data.reason === 'daemon restarted (policy no)')?.data.final).toBe(true);
    await w.restart();
    expect(w.store.instances.runs(once)).toHaveLength(1);
    expect(w.store.instances.runs(svc)).toHaveLength(3);
  });

  it('keeps the last keepExited exited instances per agent and removes the others with their log files', async () => {
    const finish: FakeScript = protocolAgent((io) => io.handle('agent.init', () => (setTimeout(() => io.exit(0), 5), { ok: true })));
    const w = await world({ job: { script: finish }, other: { script: finish } }, { keepExited: 3 });
    const jobs: string[] = [];
    for (let i = 0; i < 7; i++) {
      const id = (await w.sup.spawn('job')).instance;
      await waitFor('job done', () => stateOf(w, id) === 'exited');
      jobs.push(id);
    }
    const other = (await w.sup.spawn('other')).instance;
    await waitFor('other done', () => stateOf(w, other) === 'exited');
    w.logs.flush();
    const kept = w.sup.list({ all: true, agent: 'job' }).map((s) => s.instance);
    expect(kept.sort()).toEqual(jobs.slice(-3).sort());
    expect(w.store.instances.get(other)).toBeDefined();
    const files = fs.readdirSync(path.join(w.dir, 'logs'));
    expect(files.sort()).toEqual([...jobs.slice(-3), other].map((id) => `${id}.log`).sort());
    // a log file left by an instance that no longer exists goes at the next start
    fs.writeFileSync(path.join(w.dir, 'logs', 'job-0badc0de.log.1'), 'old\n');
    fs.writeFileSync(path.join(w.dir, 'logs', 'notes.txt'), 'not an instance log\n');
    await w.restart();
    expect(fs.readdirSync(path.join(w.dir, 'logs'))).not.toContain('job-0badc0de.log.1');
    expect(fs.readdirSync(path.join(w.dir, 'logs'))).toContain('notes.txt');
  });

  it('counts running instances per installed agent with 0 for none, and lists what rules spawned', async () => {
    const w = await world({ pump: { script: protocolAgent() }, idle: { script: protocolAgent() } });
    const mine = (await w.sup.spawn('pump', { cause: { id: 'ev-1', depth: 0 }, rule: { id: 'r1', deadline: 12345 } })).instance;
    await w.sup.spawn('pump');
    expect(w.sup.runningByAgent()).toEqual({ pump: 2, idle: 0 });
    expect(w.sup.ruleInstances()).toEqual([{ instance: mine, rule: 'r1', cause: 'ev-1', deadline: 12345 }]);
    await w.sup.kill(mine);
    expect(w.sup.ruleInstances()).toEqual([]);
    expect(w.sup.runningByAgent()).toEqual({ pump: 1, idle: 0 });
  });

  it('resets the restart counter after a healthy period', async () => {
    const flaky: FakeScript = protocolAgent((io) => io.handle('agent.init', () => (setTimeout(() => io.exit(1), 120), { ok: true })));
    const w = await world({ flaky: { script: flaky, manifest: { restart: { policy: 'on-failure', maxRetries: 1 } } } }, { healthyResetMs: 50 });
    const id = (await w.sup.spawn('flaky')).instance;
    await waitFor('several restarts', () => (w.sup.list({ all: true }).find((x) => x.instance === id)?.restarts ?? 0) >= 3);
    expect(stateOf(w, id)).not.toBe('failed');
    await w.sup.kill(id, 'SIGKILL');
  });

  it('refuses a hello with the wrong token and stops that agent', async () => {
    const impostor: FakeScript = async (io) => {
      io.handle('agent.init', () => ({ ok: true }));
      await io.peer.call('hello', { protocol: 1, instance: io.spec.instanceId, token: 'guessed' }).catch(() => undefined);
    };
    const w = await world({ impostor: { script: impostor, manifest: { restart: { policy: 'no' } } } });
    const { instance } = await w.sup.spawn('impostor');
    await waitFor('impostor stopped', () => stateOf(w, instance) === 'exited');
    const s = w.sup.list({ all: true }).find((x) => x.instance === instance);
    expect(s?.reason).toContain('hello refused');
    expect(w.logs.tail([instance], 100).map((l) => l.msg).join('\n')).toContain('protocol violation');
  });

  it('fails at once, without retries, when a granted secret is missing', async () => {
    const w = await world({ needy: { script: protocolAgent(), manifest: { secrets: ['API_TOKEN'] } } });
    const { instance, state } = await w.sup.spawn('needy');
    expect(state).toBe('failed');
    expect(w.sup.list({ all: true }).find((x) => x.instance === instance)?.reason).toContain('OSZ_E_NO_SUCH_SECRET');
    w.store.secrets.set('API_TOKEN', 'tok-123456', Date.now());
    const again = await w.sup.spawn('needy');
    expect(again.state).toBe('running');
  });

  it('serves timers, checks emit grants and HAL requests, and delivers subscribed events', async () => {
    const seen: string[] = [];
    const results: Record<string, string> = {};
    const talker: FakeScript = protocolAgent((io) => {
      io.handle('agent.event', (p) => void seen.push((p as { event: EventEnvelope }).event.type));
      io.handle('agent.init', async () => {
        await io.peer.call('timer.set', { name: 'tick', ms: 20 });
        await io.peer.call('bus.emit', { type: 'greenhouse:too_hot', data: { c: 41 } });
        for (const [name, call] of [
          ['forbidden', () => io.peer.call('bus.emit', { type: 'alert:server_down' })],
          ['hal', () => io.peer.call('hal.read', { sensorType: 'temperature' })],
          ['badTimer', () => io.peer.call('timer.set', { name: 'x', ms: 1 })],
          ['unknown', () => io.peer.call('agent.teleport', {})],
        ] as const) {
          results[name] = await call().then(
            () => 'ok',
            (e: { code?: string }) => e.code ?? 'error',
          );
        }
        return { ok: true };
      });
    });
    const w = await world({ talker: { script: talker, manifest: { capabilities: { events: { emit: ['greenhouse:*'], subscribe: ['timer:*', 'test:*'] } } } } });
    await w.sup.spawn('talker');
    w.bus.emit({ type: 'test:poke', source: 'test' });
    await waitFor('timer and poke', () => seen.includes('timer:tick') && seen.includes('test:poke'));
    expect(w.events.find((e) => e.type === 'greenhouse:too_hot')?.source).toMatch(/^agent:talker\//);
    expect(results).toEqual({ forbidden: 'OSZ_E_FORBIDDEN', hal: 'HAL_E_UNAVAILABLE', badTimer: 'OSZ_E_TIMER_LIMIT', unknown: 'OSZ_E_UNKNOWN_OPERATION' });
  });

  it('stops an agent that floods the channel with invalid messages', async () => {
    const flooder: FakeScript = protocolAgent((io) =>
      io.handle('agent.init', () => {
        setImmediate(() => {
          for (let i = 0; i < 150; i++) io.sendRaw({ nonsense: i });
        });
        return { ok: true };
      }),
    );
    const w = await world({ flooder: { script: flooder, manifest: { restart: { policy: 'no' } } } });
    const { instance } = await w.sup.spawn('flooder');
    await waitFor('flooder stopped', () => stateOf(w, instance) === 'exited');
    expect(w.sup.list({ all: true }).find((x) => x.instance === instance)?.reason).toContain('invalid protocol messages');
  });
});
