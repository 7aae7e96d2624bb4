/**
 * The fleet link's suite, run against each broker (test/integration/fleet.test.ts: the embedded
 * aedes over MQTT 3.1.1; fleet-mosquitto.test.ts: Debian's mosquitto over MQTT 5 with a password
 * and an ACL): birth, retained state, telemetry, a request and response for every remote
 * operation, every refusal, a redelivered command answered from the cache, the operator CLI, the
 * outbox across a broker restart, the will on kill -9 and an explicit offline status on a clean stop.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type CommandReply, replySchema } from '../../runtime/fleet/command';
import { auditEventSchema, rulePublishSchema, stateSchema, stateViews, statusSchema, teleSchema } from '../../runtime/fleet/payloads';
import { newKeyPair, readPublicKey } from '../../runtime/fleet/keys';
import { makeCommand, type CommandOptions } from '../../runtime/fleet/sign';
import { OPERATIONS } from '../../runtime/control/ops';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import type { Listener } from '../helpers/mqtt';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

/** one broker, as the suite needs it */
export interface SuiteBroker {
  device: string;
  /** the daemon's fleet keys for this broker: broker, mqttVersion, credentials */
  fleet: Record<string, unknown>;
  /** `openstarryctl remote` flags that reach this broker as an operator */
  cliFlags: string[];
  /** an operator's subscription */
  listen(filter: string): Promise<Listener>;
  stop(): Promise<void>;
  start(): Promise<void>;
}

type SendOptions = CommandOptions & { device?: string; raw?: string; sig?: string; replyId?: string };

export interface SuiteContext {
  daemon(): RunningDaemon;
  watch(): Listener;
  /** signs `op` as `issuer`, publishes it and waits for its reply */
  send(issuer: string, op: string, params?: Record<string, unknown>, o?: SendOptions): Promise<CommandReply>;
  key(issuer: string): crypto.KeyObject;
}

/** registers the suite's hooks and tests in the calling describe; `extra` adds tests before the daemon is stopped */
export function fleetSuite(broker: () => SuiteBroker, extra?: (ctx: SuiteContext) => void): void {
  let b: SuiteBroker;
  let DEVICE = '';
  let base = '';
  let d: RunningDaemon;
  let watch: Listener;
  const keys: Record<string, crypto.KeyObject> = {};
  let keyDir: string;
  let config: Record<string, unknown>;

  const send = async (issuer: string, op: string, params: Record<string, unknown> = {}, o: SendOptions = {}): Promise<CommandReply> => {
    const cmd = makeCommand(issuer, keys[issuer] ?? keys.admin ?? '', o.device ?? DEVICE, op, params, o);
    if (o.sig) cmd.sig = o.sig;
    const before = watch.messages.length;
    await watch.client.publishAsync(`${base}/cmd/req/${op}`, o.raw ?? JSON.stringify(cmd), { qos: 1 });
    const id = o.replyId ?? (o.raw ? 'invalid' : cmd.id);
    const m = await waitFor(`reply to ${op}`, () => watch.messages.slice(before).find((x) => x.topic === `${base}/cmd/res/${id}`), 15_000);
    // every reply has the documented shape (docs/fleet-payloads.md)
    return replySchema.parse(JSON.parse(m.payload));
  };

  beforeAll(async () => {
    b = broker();
    DEVICE = b.device;
    base = `openstarry/v1/${DEVICE}`;
    const dir = tmpDir('osd-keys-');
    keyDir = dir;
    const issuers = [];
    for (const [id, role] of [['admin', 'admin'], ['watcher', 'viewer']] as const) {
      const pair = newKeyPair();
      fs.writeFileSync(path.join(dir, `${id}.pub`), pair.publicPem);
      keys[id] = crypto.createPrivateKey(pair.privatePem);
      fs.writeFileSync(path.join(dir, `${id}.key`), pair.privatePem, { mode: 0o600 });
      issuers.push({ id, publicKeyFile: path.join(dir, `${id}.pub`), role });
    }
    keys.stranger = crypto.createPrivateKey(newKeyPair().privatePem);
    watch = await b.listen(`${base}/#`);
    config = { fleet: { ...b.fleet, deviceId: DEVICE, issuers, telemetry: { temperature: { deadband: 0, minIntervalMs: 2000, maxIntervalMs: 60_000 } } }, dashboard: { pollMs: 1000 } };
    d = await startDaemon({ config });
    expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents/devops-agent')])).code).toBe(0);
  }, 60_000);

  afterAll(async () => {
    await d?.stop();
    await watch?.close();
  });

  it('announces the device with a retained birth and publishes its state sections, retained', async () => {
    const birth = await waitFor('birth', () => watch.json<{ online: boolean; session: number; board: string; version: string }>(`${base}/status`));
    expect(birth).toMatchObject({ v: 1, online: true, board: 'sim', session: expect.any(Number) as unknown });
    expect(statusSchema.safeParse(birth).success).toBe(true);
    for (const section of ['agents', 'hal', 'rules', 'resources', 'device', 'fleet'] as const) {
      const m = await waitFor(`state/${section}`, () => watch.messages.find((x) => x.topic === `${base}/state/${section}`));
      // what went over the air has the documented shape
      stateSchema(stateViews[section]).parse(JSON.parse(m.payload));
    }
    const late = await b.listen(`${base}/state/+`);
    await waitFor('retained state for a late subscriber', () => late.messages.filter((m) => m.retain).length >= 4);
    await late.close();
    expect(watch.json<{ value: { devices: Array<{ id: string }> } }>(`${base}/state/hal`)?.value.devices.map((x) => x.id)).toContain('fan');
  });

  it('sends the configured sensor types as telemetry, no more often than their minimum interval, and no others', async () => {
    const tele = (type: string): Array<{ value: number; unit: string }> => watch.messages.filter((m) => m.topic === `${base}/tele/${type}`).map((m) => JSON.parse(m.payload) as { value: number; unit: string });
    await waitFor('two temperature readings', () => tele('temperature').length >= 2, 15_000);
    expect(tele('temperature')[0]).toMatchObject({ unit: '°C', value: expect.any(Number) as unknown });
    tele('temperature').forEach((t) => teleSchema.parse(t));
    expect(tele('humidity')).toEqual([]);
    const times = watch.messages.filter((m) => m.topic === `${base}/tele/temperature`).length;
    await new Promise((r) => setTimeout(r, 1500));
    // the sim polls every second; the minimum interval is 2 s
    expect(watch.messages.filter((m) => m.topic === `${base}/tele/temperature`).length - times).toBeLessThanOrEqual(1);
  });

  it('runs signed commands through the control plane and replies under its own cmd/res', async () => {
    expect(await send('admin', 'daemon.ping')).toMatchObject({ v: 1, ok: true });
    const read = await send('watcher', 'hal.read', { sensor: 'temperature' });
    expect(read).toMatchObject({ ok: true, result: { unit: '°C', deviceId: 'climate' } });
    const spawn = await send('admin', 'agents.spawn', { agent: 'devops-agent' });
    expect(spawn).toMatchObject({ ok: true, result: { instance: expect.stringMatching(/^devops-agent-/) as unknown } });
    const list = await send('watcher', 'agents.list');
    expect((list.result as Array<{ agent: string }>).map((a) => a.agent)).toContain('devops-agent');
    // replyTo outside this device's subtree is ignored: the reply still comes under cmd/res/<id>
    expect(await send('admin', 'daemon.ping', {}, { replyTo: 'openstarry/v1/other/cmd/res/x' })).toMatchObject({ ok: true });
    expect(watch.messages.some((m) => m.topic.includes('/other/'))).toBe(false);
  });

  it('answers every remote operation of the table, each with its own result', async () => {
    const covered = new Set<string>();
    const ok = async (issuer: string, op: string, params: Record<string, unknown> = {}): Promise<unknown> => {
      const r = await send(issuer, op, params);
      expect(r, `${op}: ${JSON.stringify(r.error)}`).toMatchObject({ v: 1, ok: true });
      covered.add(op);
      return r.result;
    };
    const refused = async (issuer: string, op: string, params: Record<string, unknown> = {}): Promise<string | undefined> => (await send(issuer, op, params)).error?.code;

    expect(await ok('watcher', 'daemon.ping')).toMatchObject({ pong: true });
    const { instance } = (await ok('admin', 'agents.spawn', { agent: 'devops-agent' })) as { instance: string };
    expect((await ok('watcher', 'agents.list', { agent: 'devops-agent' })) as Array<{ instance: string }>).toEqual(expect.arrayContaining([expect.objectContaining({ instance })]));
    await waitFor('the agent is running', async () => ((await send('watcher', 'agents.list')).result as Array<{ instance: string; state: string }>).find((x) => x.instance === instance)?.state === 'running');
    expect(await refused('watcher', 'agents.logs', { target: instance })).toBe('OSZ_E_FORBIDDEN');
    const logs = (await ok('admin', 'agents.logs', { target: instance, lines: 20 }));
    expect(JSON.stringify(logs)).toContain('devops up as');
    expect(await ok('admin', 'agents.signal', { instance, signal: 'SIGCONT' })).toBeDefined();
    expect(await ok('admin', 'agents.kill', { instance })).toBeDefined();
    expect(await refused('admin', 'agents.kill', { instance: 'devops-agent-nope' })).toBe('OSZ_E_NO_SUCH_INSTANCE');
    expect(await ok('watcher', 'hal.read', { sensor: 'humidity' })).toMatchObject({ unit: '%RH', value: expect.any(Number) as unknown });
    const dash = (await ok('watcher', 'dashboard.get', { sections: ['device', 'hal'] })) as Record<string, unknown>;
    expect(Object.keys(dash).sort()).toEqual(expect.arrayContaining(['device', 'hal']));
    expect(dash).not.toHaveProperty('agents');

    // rules: read, apply over the etag that was read, and a stale etag refused
    const before = (await ok('watcher', 'rules.get')) as { etag: string } | null;
    const source = 'rules:\n  - on: "test:remote_check"\n    action: "publish(remote/ran)"\n';
    const applied = (await ok('admin', 'rules.apply', { source, file: 'remote.yaml', ifMatch: before?.etag ?? 'none' })) as { etag: string; changed: boolean };
    expect(applied.changed).toBe(true);
    expect(await refused('admin', 'rules.apply', { source: source + '# again\n', ifMatch: before?.etag ?? 'none' })).toBe('OSZ_E_ETAG_MISMATCH');
    expect(await refused('watcher', 'rules.apply', { source })).toBe('OSZ_E_FORBIDDEN');
    expect(await refused('admin', 'rules.apply', { source: 'rules: [ {on: 12' })).toBe('OSZ_E_RULES');
    expect(((await ok('watcher', 'rules.get')) as { etag: string }).etag).toBe(applied.etag);

    // a signed remote event enters the rule engine; the daemon's own areas cannot be forged
    const remoteEvent = (await ok('admin', 'events.emit', { type: 'test:remote_check', data: { n: 1 } })) as { id: string };
    expect(remoteEvent).toMatchObject({ type: 'test:remote_check', source: 'operator:mqtt:admin' });
    // the rule's publish reached the broker under the device's own pub/ (and the ACL lets it)
    const published = await waitFor('the rule published on the remote event', () => watch.messages.find((m) => m.topic === `${base}/pub/remote/ran`));
    expect(rulePublishSchema.parse(JSON.parse(published.payload))).toMatchObject({ v: 1, event: remoteEvent.id, type: 'test:remote_check', data: { n: 1 } });
    expect(await refused('admin', 'events.emit', { type: 'hal:sensor.temperature', data: { value: 99 } })).toBe('OSZ_E_FORBIDDEN');
    expect(await ok('admin', 'logs.level', { level: 'info' })).toBeDefined();
    expect(await ok('admin', 'daemon.rebirth')).toMatchObject({ ok: true });

    // issuers.put: a new issuer is trusted at once, a revoked one no more; operators cannot rotate
    const ci = newKeyPair();
    keys.ci = crypto.createPrivateKey(ci.privatePem);
    expect(await refused('watcher', 'issuers.put', { id: 'ci', publicKey: ci.publicPem, role: 'operator' })).toBe('OSZ_E_FORBIDDEN');
    expect(await ok('admin', 'issuers.put', { id: 'ci', publicKey: ci.publicPem, role: 'operator' })).toMatchObject({ id: 'ci', role: 'operator', source: 'rotated', updatedBy: 'mqtt:admin' });
    expect(await ok('ci', 'daemon.ping')).toMatchObject({ pong: true });
    expect(await refused('admin', 'issuers.put', { id: 'admin', revoke: true })).toBe('OSZ_E_ISSUER');
    expect(await ok('admin', 'issuers.put', { id: 'ci', revoke: true })).toEqual({ id: 'ci', revoked: true });
    expect(await refused('ci', 'daemon.ping')).toBe('OSZ_E_BAD_SIGNATURE');

    const remote = OPERATIONS.filter((o) => o.remote).map((o) => o.name);
    expect(remote.filter((name) => !covered.has(name))).toEqual([]);
  }, 90_000);

  it('refuses forged, expired, replayed, misdirected and unauthorised commands with a code, and keeps serving', async () => {
    const code = async (p: Promise<CommandReply>): Promise<string | undefined> => (await p).error?.code;
    expect(await code(send('admin', 'daemon.ping', {}, { sig: Buffer.alloc(64).toString('base64') }))).toBe('OSZ_E_BAD_SIGNATURE');
    expect(await code(send('stranger', 'daemon.ping'))).toBe('OSZ_E_BAD_SIGNATURE');
    expect(await code(send('admin', 'daemon.ping', {}, { ts: Date.now() + 1000, ttlMs: -5000 }))).toBe('OSZ_E_EXPIRED');
    expect(await code(send('admin', 'daemon.ping', {}, { ts: Date.now() - 30_000, ttlMs: 120_000 }))).toBe('OSZ_E_REPLAYED');
    expect(await code(send('admin', 'daemon.ping', {}, { nonce: 'same-nonce-1' }))).toBeUndefined();
    expect(await code(send('admin', 'daemon.ping', {}, { nonce: 'same-nonce-1' }))).toBe('OSZ_E_REPLAYED');
    expect(await code(send('admin', 'daemon.ping', {}, { device: 'gh-other' }))).toBe('OSZ_E_WRONG_DEVICE');
    expect(await code(send('watcher', 'agents.spawn', { agent: 'devops-agent' }))).toBe('OSZ_E_FORBIDDEN');
    expect(await code(send('admin', 'agents.add', { path: '/tmp' }))).toBe('OSZ_E_FORBIDDEN');
    expect(await code(send('admin', 'nothing.here'))).toBe('OSZ_E_UNKNOWN_OPERATION');
    expect(await code(send('admin', 'daemon.ping', {}, { raw: 'not json' }))).toBe('OSZ_E_INVALID_PARAMS');
    expect(await code(send('admin', 'daemon.ping', {}, { raw: JSON.stringify({ v: 2, id: 'x' }), replyId: 'x' }))).toBe('OSZ_E_INVALID_PARAMS');
    expect(await code(send('admin', 'daemon.ping', {}, { raw: 'x'.repeat(260 * 1024) }))).toBe('OSZ_E_REQUEST_TOO_LARGE');
    expect(await code(send('admin', 'agents.spawn', { agent: 'no-such-agent' }))).toBe('OSZ_E_NO_SUCH_AGENT');
    expect(await send('admin', 'daemon.ping')).toMatchObject({ ok: true });
    // audit events go out through the outbox (written once a second)
    await waitFor('the denial in evt/audit', () =>
      watch.messages
        .filter((m) => m.topic === `${base}/evt/audit`)
        .map((m) => auditEventSchema.parse(JSON.parse(m.payload)))
        .some((a) => a.op === 'agents.spawn' && a.outcome === 'denied' && a.code === 'OSZ_E_FORBIDDEN'),
    );
  }, 60_000);

  it('answers a redelivered command from its cache instead of running it again', async () => {
    const cmd = makeCommand('admin', keys.admin ?? '', DEVICE, 'agents.spawn', { agent: 'devops-agent' });
    const replies = (): string[] => watch.messages.filter((m) => m.topic === `${base}/cmd/res/${cmd.id}`).map((m) => m.payload);
    const count = async (): Promise<number> => (await d.json<Array<{ agent: string }>>(['ps', '-a'])).filter((s) => s.agent === 'devops-agent').length;
    const before = await count();
    await watch.client.publishAsync(`${base}/cmd/req/agents.spawn`, JSON.stringify(cmd), { qos: 1 });
    await waitFor('first reply', () => replies().length === 1);
    await watch.client.publishAsync(`${base}/cmd/req/agents.spawn`, JSON.stringify(cmd), { qos: 1 });
    await waitFor('second reply', () => replies().length === 2);
    const [a, b] = replies();
    expect(b).toBe(a);
    expect(await count()).toBe(before + 1);
  });

  it('the operator CLI writes issuer keys, sends signed commands and prints the replies', async () => {
    const out = tmpDir('osd-opkeys-');
    const k = await d.cli(['keys', 'new', '--out', out, '--name', 'alice']);
    expect(k.code).toBe(0);
    expect(fs.statSync(path.join(out, 'alice.key')).mode & 0o777).toBe(0o600);
    expect(() => readPublicKey(path.join(out, 'alice.pub'))).not.toThrow();
    expect((await d.cli(['keys', 'new', '--out', out, '--name', 'alice'])).stderr).toContain('exists');
    const common = b.cliFlags;
    const list = await d.cli(['remote', DEVICE, 'agents.list', ...common, '--key', path.join(keyDir, 'watcher.key'), '--issuer', 'watcher']);
    expect(list.code).toBe(0);
    expect(JSON.parse(list.stdout)).toEqual(expect.arrayContaining([expect.objectContaining({ agent: 'devops-agent' })]));
    const denied = await d.cli(['remote', DEVICE, 'agents.spawn', '{"agent":"devops-agent"}', ...common, '--key', path.join(keyDir, 'watcher.key'), '--issuer', 'watcher']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toMatch(/OSZ_E_FORBIDDEN: agents.spawn needs the operator role/);
    const unknownKey = await d.cli(['remote', DEVICE, 'daemon.ping', ...common, '--key', path.join(out, 'alice.key'), '--issuer', 'alice']);
    expect(unknownKey.stderr).toContain('OSZ_E_BAD_SIGNATURE');
    const nobody = await d.cli(['remote', 'no-such-device', 'daemon.ping', ...common, '--key', path.join(keyDir, 'admin.key'), '--issuer', 'admin', '--timeout', '1']);
    expect(nobody.stderr).toMatch(/no reply from no-such-device within 1 s/);
  }, 60_000);

  it('republishes its birth and state on daemon.rebirth and when the collector comes back online; lists its issuers', async () => {
    const births = (): number => watch.messages.filter((m) => m.topic === `${base}/status` && m.payload.includes('"online":true')).length;
    const agentStates = (): number => watch.messages.filter((m) => m.topic === `${base}/state/agents`).length;
    const [b0, a0] = [births(), agentStates()];
    expect(await send('admin', 'daemon.rebirth')).toMatchObject({ ok: true });
    await waitFor('a second birth and the unchanged state again', () => births() > b0 && agentStates() > a0);
    const b1 = births();
    await watch.client.publishAsync('openstarry/collector/status', JSON.stringify({ online: false }), { qos: 1, retain: true });
    await new Promise((r) => setTimeout(r, 300));
    expect(births()).toBe(b1);
    await watch.client.publishAsync('openstarry/collector/status', JSON.stringify({ online: true }), { qos: 1, retain: true });
    await waitFor('a birth for the collector', () => births() > b1);
    const issuers = await d.json<Array<{ id: string; role: string; fingerprint: string }>>(['call', 'issuers.list']);
    expect(issuers.map((i) => [i.id, i.role])).toEqual([['admin', 'admin'], ['watcher', 'viewer']]);
    expect(issuers[0]?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
  });

  it('keeps events and rule publishes in the outbox while the broker is down and across a restart, and delivers them all, in order, after', async () => {
    await watch.close();
    await b.stop();
    for (let i = 0; i < 20; i++) expect((await d.cli(['events', 'emit', `alert:probe_${i % 2 ? 'up' : 'down'}`, JSON.stringify({ n: i })])).code).toBe(0);
    // a rule's publish while offline, then a daemon restart: both wait in the outbox
    expect((await d.cli(['events', 'emit', 'test:remote_check', JSON.stringify({ n: 'offline' })])).code).toBe(0);
    expect(await d.stop()).toBe(0);
    d = await startDaemon({ home: d.home, config });
    await b.start();
    watch = await b.listen(`${base}/#`);
    const got = await waitFor('the 20 alerts', () => {
      const alerts = watch.messages
        .filter((m) => m.topic === `${base}/evt/alert`)
        .map((m) => JSON.parse(m.payload) as { type: string; data: { n: number } })
        .filter((e) => e.type.startsWith('alert:probe_'))
        .map((e) => e.data.n);
      return alerts.length >= 20 ? alerts : undefined;
    }, 60_000);
    expect(got).toEqual(Array.from({ length: 20 }, (_, i) => i));
    await waitFor('the publish made offline', () => watch.messages.some((m) => m.topic === `${base}/pub/remote/ran` && m.payload.includes('"offline"')));
    // a broker that was down is not a session takeover
    expect(watch.messages.some((m) => m.payload.includes('alert:fleet_takeover'))).toBe(false);
    await waitFor('online again', () => watch.json<{ online: boolean }>(`${base}/status`)?.online === true);
  }, 90_000);

  extra?.({ daemon: () => d, watch: () => watch, send, key: (issuer) => keys[issuer] ?? fail(issuer) });

  it('says offline on a clean stop, and its will says so when it is killed', async () => {
    expect(await d.stop()).toBe(0);
    await waitFor('offline status', () => watch.json<{ online: boolean; clean?: boolean }>(`${base}/status`)?.online === false);
    expect(watch.json(`${base}/status`)).toMatchObject({ online: false, clean: true });
    d = await startDaemon({ home: d.home, config });
    await waitFor('online again', () => watch.json<{ online: boolean }>(`${base}/status`)?.online === true);
    const session = watch.json<{ session: number }>(`${base}/status`)?.session ?? 0;
    await d.kill9();
    await waitFor('the will', () => watch.json<{ online: boolean }>(`${base}/status`)?.online === false, 30_000);
    expect(watch.json(`${base}/status`)).toEqual({ v: 1, online: false, session });
  }, 60_000);
}

function fail(issuer: string): never {
  throw new Error(`no key for ${issuer}`);
}
