/**
 * The fleet link over mutual TLS against Debian's mosquitto: the broker requires a client
 * certificate from the fleet's CA and takes its CN as the device's identity (so the ACL applies to
 * it); the daemon connects with fleet.tls {caFile, certFile, keyFile}, announces itself and answers
 * a signed command; the operator CLI connects with --ca/--cert/--client-key; a client without a
 * certificate is refused, and one device's certificate cannot speak for another.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { newKeyPair } from '../../runtime/fleet/keys';
import { makeCommand } from '../../runtime/fleet/sign';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { startMosquitto } from '../helpers/mosquitto';
import { describeWith, hasCommand } from '../helpers/system';
import { freePort } from '../helpers/ports';
import { makeCa, type TestCa } from '../helpers/tls';
import { tmpDir, waitFor } from '../helpers/tmp';

describeWith('fleet link over mutual TLS (mosquitto)', [hasCommand('mosquitto', 'mosquitto'), hasCommand('openssl', 'openssl')], () => {
  const DEVICE = 'gh-tls-1';
  const base = `openstarry/v1/${DEVICE}`;
  let ca: TestCa;
  let url = '';
  let d: RunningDaemon;
  let ops: MqttClient;
  let keyFile = '';
  let key: crypto.KeyObject;
  const got: Array<{ topic: string; payload: string }> = [];
  const connect = (cn: string | undefined, extra: mqtt.IClientOptions = {}): Promise<MqttClient> => {
    const client = cn ? ca.client(cn) : undefined;
    return mqtt.connectAsync(url, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5000, ca: fs.readFileSync(ca.ca), ...(client ? { cert: fs.readFileSync(client.cert), key: fs.readFileSync(client.key) } : {}), ...extra });
  };

  beforeAll(async () => {
    ca = makeCa(tmpDir('osd-ca-'));
    const broker = await startMosquitto({ ops: 'unused-password' }, { ca: ca.ca, cert: ca.server.cert, key: ca.server.key, port: await freePort() });
    url = broker.url;
    const dir = tmpDir('osd-tlskeys-');
    const pair = newKeyPair();
    fs.writeFileSync(path.join(dir, 'ops.pub'), pair.publicPem);
    keyFile = path.join(dir, 'ops.key');
    fs.writeFileSync(keyFile, pair.privatePem, { mode: 0o600 });
    key = crypto.createPrivateKey(pair.privatePem);
    ops = await connect('ops');
    ops.on('message', (topic, payload) => got.push({ topic, payload: payload.toString() }));
    await ops.subscribeAsync('openstarry/v1/#', { qos: 1 });
    const device = ca.client(DEVICE);
    d = await startDaemon({ config: { fleet: { broker: url, deviceId: DEVICE, mqttVersion: 5, tls: { caFile: ca.ca, certFile: device.cert, keyFile: device.key }, issuers: [{ id: 'ops', publicKeyFile: path.join(dir, 'ops.pub'), role: 'operator' }] } } });
  }, 60_000);

  afterAll(async () => {
    await d?.stop();
    await ops?.endAsync();
  });

  it('connects with its client certificate, announces itself and answers a signed command', async () => {
    const birth = await waitFor('birth over TLS', () => got.find((m) => m.topic === `${base}/status` && m.payload.includes('"online":true')));
    expect(JSON.parse(birth.payload)).toMatchObject({ v: 1, online: true, board: 'sim' });
    const cmd = makeCommand('ops', key, DEVICE, 'daemon.ping');
    await ops.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(cmd), { qos: 1 });
    const reply = await waitFor('the reply', () => got.find((m) => m.topic === `${base}/cmd/res/${cmd.id}`));
    expect(JSON.parse(reply.payload)).toMatchObject({ ok: true, result: { pong: true } });
    const status = await d.json<{ health: Array<{ name: string; state: string }> }>(['status']);
    expect(status.health.find((s) => s.name === 'fleet')?.state).toBe('ok');
  });

  it('the operator CLI connects with --ca, --cert and --client-key', async () => {
    const opsCert = ca.client('ops');
    const r = await d.cli(['remote', DEVICE, 'agents.list', '--broker', url, '--ca', ca.ca, '--cert', opsCert.cert, '--client-key', opsCert.key, '--key', keyFile, '--issuer', 'ops']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('refuses a client without a certificate, and keeps one device out of another\'s topics', async () => {
    await expect(connect(undefined)).rejects.toThrow();
    const other = await connect('gh-tls-2');
    await expect(other.publishAsync(`${base}/status`, JSON.stringify({ v: 1, online: false, session: 0 }), { qos: 1 })).rejects.toThrow(/Not authorized/);
    await other.endAsync();
    expect(got.filter((m) => m.topic === `${base}/status`).every((m) => m.payload.includes('"online":true'))).toBe(true);
  });
});
