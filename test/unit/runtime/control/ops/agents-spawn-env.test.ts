/**
 * `agents.spawn` is remote (MQTT, signed fleet commands) as well as local: its env goes through
 * the same refusal list as `spawn --env` and manifests. Here the real operation table, control
 * plane and supervisor run over the fake driver, so "refused" means no instance and no launch.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { envNameRefusal } from '../../../../../runtime/agents/env-policy';
import { FakeDriver, protocolAgent } from '../../../../../runtime/agents/drivers/fake';
import type { LaunchSpec } from '../../../../../runtime/agents/drivers/driver';
import { unavailableHal } from '../../../../../runtime/agents/hal-port';
import { Installer } from '../../../../../runtime/agents/install';
import { InstanceLogs } from '../../../../../runtime/agents/logs';
import { Supervisor } from '../../../../../runtime/agents/supervisor';
import { EventBus } from '../../../../../runtime/bus/bus';
import type { Caller } from '../../../../../runtime/control/op';
import { OPERATIONS } from '../../../../../runtime/control/ops/index';
import { ControlPlane } from '../../../../../runtime/control/plane';
import type { ControlServices } from '../../../../../runtime/control/services';
import { OszError } from '../../../../../runtime/errors';
import { memoryLogger } from '../../../../../runtime/log';
import { createStore, type Store } from '../../../../../runtime/store/store';
import { copyFixtureAgent, tmpDir } from '../../../../helpers/tmp';

const remote: Caller = { actor: 'mqtt:fleet-ops', role: 'operator', transport: 'mqtt' };
const local: Caller = { actor: 'socket:test', role: 'admin', transport: 'socket' };

interface World {
  plane: ControlPlane;
  store: Store;
  sup: Supervisor;
  launched: LaunchSpec[];
}

const worlds: World[] = [];
afterEach(async () => {
  for (const w of worlds.splice(0)) {
    await w.sup.stop();
    w.store.close();
  }
});

async function world(before: (store: Store) => void = () => undefined): Promise<World> {
  const dir = tmpDir('osd-ops-env-');
  const log = memoryLogger();
  const store = createStore(path.join(dir, 'db'), log, { keepEvents: 100 });
  const installer = new Installer(store, path.join(dir, 'store'), { base: 61000, count: 100 });
  const src = copyFixtureAgent('singleton');
  const m = JSON.parse(fs.readFileSync(path.join(src, 'agent.json'), 'utf8')) as Record<string, unknown>;
  fs.writeFileSync(path.join(src, 'agent.json'), JSON.stringify({ ...m, singleton: false, identity: { id: 'probe', name: 'probe' } }));
  installer.addAgent(src);
  const launched: LaunchSpec[] = [];
  const script = protocolAgent();
  const drivers = new Map([['process', new FakeDriver({ probe: (io) => (launched.push(io.spec), script(io)) })]]);
  const sup = new Supervisor({
    store,
    bus: new EventBus(log),
    log,
    logs: new InstanceLogs({ dir: path.join(dir, 'logs'), ringLines: 100, maxBytes: 100_000, files: 2 }),
    hal: unavailableHal,
    installer,
    dataRoot: path.join(dir, 'data'),
    separateUid: false,
    supervisor: {
      backoff: { initialMs: 10, maxMs: 20 },
      healthyResetMs: 600_000,
      heartbeatMs: 100,
      missedHeartbeats: 3,
      helloTimeoutMs: 2000,
      graceMs: 200,
        keepExited: 20,
      limits: { sampleMs: 1000, cpuGraceMs: 10_000, rssOverheadMb: 48 },
      channel: { messagesPerSecond: 1000, bytesPerSecond: 1024 * 1024, unreadBytes: 4 * 1024 * 1024 },
    },
    drivers,
  });
  before(store);
  await sup.start();
  const services = { store, supervisor: sup, log, info: () => ({ version: 'test' }), health: () => [] } as unknown as ControlServices;
  const w = { plane: new ControlPlane(OPERATIONS, services), store, sup, launched };
  worlds.push(w);
  return w;
}

async function refusal(p: Promise<unknown>): Promise<OszError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OszError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('agents.spawn env', () => {
  it('refuses a remote spawn whose env would load code, before any instance exists', async () => {
    const w = await world();
    for (const [key, reader] of [
      ['OPENSSL_CONF', 'OpenSSL'],
      ['OPENSSL_MODULES', 'OpenSSL'],
      ['LD_PRELOAD', 'glibc'],
      ['NODE_OPTIONS', 'Node'],
      ['GCONV_PATH', 'glibc'],
      ['ICU_DATA', 'ICU'],
      ['UV_USE_IO_URING', 'libuv'],
    ] as const) {
      const err = await refusal(w.plane.call('agents.spawn', { agent: 'probe', env: { GREETING: 'hi', [key]: '/srv/agents/probe/x' } }, remote));
      expect(err.code, key).toBe('OSZ_E_ENV_REFUSED');
      expect(err.message, key).toBe(`env "${key}" refused: ${envNameRefusal(key) ?? ''}`);
      expect(err.message, key).toContain(reader);
    }
    // nothing was recorded or started, and the audit says who was refused with which code
    expect(w.store.instances.byAgent('probe')).toEqual([]);
    expect(w.launched).toEqual([]);
    const audit = w.store.audit.recent(20).filter((a) => a.op === 'agents.spawn');
    expect(audit).toHaveLength(7);
    expect(audit.every((a) => a.actor === 'mqtt:fleet-ops' && a.outcome === 'error' && a.errorCode === 'OSZ_E_ENV_REFUSED')).toBe(true);
  });

  it('starts the same spawn with an ordinary env, which reaches the agent as given', async () => {
    const w = await world();
    for (const caller of [remote, local]) {
      const r = (await w.plane.call('agents.spawn', { agent: 'probe', env: { GREETING: 'hi', ZONE: 'north' } }, caller)) as { instance: string };
      expect(r.instance).toMatch(/^probe-/);
    }
    expect(w.launched).toHaveLength(2);
    for (const spec of w.launched) {
      expect(spec.env).toMatchObject({ GREETING: 'hi', ZONE: 'north', PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', OPENSTARRY_AGENT_ID: 'probe' });
      expect(spec.env.OPENSSL_CONF).toBeUndefined();
    }
  });

  it('does not resume an instance stored with an env this list now refuses (a daemon upgrade)', async () => {
    // spawned by an older daemon whose list let OPENSSL_CONF through, then the daemon restarted
    const w = await world((store) => store.instances.create('probe-old', 'probe', JSON.stringify({ env: { OPENSSL_CONF: '/srv/agents/probe/ossl.cnf' } }), Date.now()));
    const rec = w.store.instances.get('probe-old');
    expect(rec?.state).toBe('failed');
    expect(rec?.reason).toContain(`OSZ_E_ENV_REFUSED: env "OPENSSL_CONF" refused: ${envNameRefusal('OPENSSL_CONF') ?? ''}`);
    expect(w.launched).toEqual([]);
  });
});
