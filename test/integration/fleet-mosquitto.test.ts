/**
 * The fleet link against Debian's mosquitto over MQTT 5, on a Unix socket, with a password and an
 * ACL: birth, a signed command answered on the MQTT 5 response topic with its correlation data,
 * refusals, and the ACL keeping a device out of another device's topics.
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
import { tmpDir, waitFor } from '../helpers/tmp';

describeWith('fleet link against mosquitto (MQTT 5, Unix socket, password, ACL)', [hasCommand('mosquitto', 'mosquitto'), hasCommand('mosquitto_passwd', 'mosquitto')], () => {
  const DEVICE = 'gh-mq-1';
  const base = `openstarry/v1/${DEVICE}`;
  let d: RunningDaemon;
  let ops: MqttClient;
  let url = '';
  const got: Array<{ topic: string; payload: string; correlation?: string }> = [];
  let key: crypto.KeyObject;
  const connect = (username: string, password: string): Promise<MqttClient> => mqtt.connectAsync(`mqtt+unix://${url.slice('unix://'.length)}`, { protocolVersion: 5, username, password, reconnectPeriod: 0 });

  beforeAll(async () => {
    const broker = await startMosquitto({ [DEVICE]: 'dev-secret-1', 'gh-mq-2': 'dev-secret-2', ops: 'ops-secret' });
    url = broker.url;
    const dir = tmpDir('osd-mqkeys-');
    const pair = newKeyPair();
    fs.writeFileSync(path.join(dir, 'ops.pub'), pair.publicPem);
    fs.writeFileSync(path.join(dir, 'password'), 'dev-secret-1\n', { mode: 0o600 });
    key = crypto.createPrivateKey(pair.privatePem);
    ops = await connect('ops', 'ops-secret');
    ops.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), ...(packet.properties?.correlationData ? { correlation: packet.properties.correlationData.toString() } : {}) }));
    await ops.subscribeAsync('openstarry/v1/#', { qos: 1 });
    d = await startDaemon({ config: { fleet: { broker: url, deviceId: DEVICE, mqttVersion: 5, username: DEVICE, passwordFile: path.join(dir, 'password'), issuers: [{ id: 'ops', publicKeyFile: path.join(dir, 'ops.pub'), role: 'operator' }] } } });
  }, 60_000);

  afterAll(async () => {
    await d?.stop();
    await ops?.endAsync();
  });

  it('connects with its password over MQTT 5 and announces itself', async () => {
    const birth = await waitFor('birth', () => got.find((m) => m.topic === `${base}/status`));
    expect(JSON.parse(birth.payload)).toMatchObject({ v: 1, online: true, board: 'sim' });
    await waitFor('state', () => got.find((m) => m.topic === `${base}/state/agents`));
  });

  it('answers a signed command on the MQTT 5 response topic with its correlation data, and refuses a forged one', async () => {
    const cmd = makeCommand('ops', key, DEVICE, 'agents.list');
    await ops.publishAsync(`${base}/cmd/req/agents.list`, JSON.stringify(cmd), { qos: 1, properties: { responseTopic: `${base}/cmd/res/mine`, correlationData: Buffer.from('corr-42') } });
    const reply = await waitFor('reply on the response topic', () => got.find((m) => m.topic === `${base}/cmd/res/mine`));
    expect(reply.correlation).toBe('corr-42');
    expect(JSON.parse(reply.payload)).toMatchObject({ id: cmd.id, ok: true });
    const forged = { ...makeCommand('ops', key, DEVICE, 'daemon.ping'), sig: Buffer.alloc(64, 1).toString('base64') };
    await ops.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(forged), { qos: 1 });
    const r = await waitFor('refusal', () => got.find((m) => m.topic === `${base}/cmd/res/${forged.id}`));
    expect(JSON.parse(r.payload)).toMatchObject({ ok: false, error: { code: 'OSZ_E_BAD_SIGNATURE' } });
  });

  it("keeps a device out of another device's topics", async () => {
    const dev2 = await connect('gh-mq-2', 'dev-secret-2');
    await expect(dev2.publishAsync(`${base}/status`, JSON.stringify({ v: 1, online: false }), { qos: 1 })).rejects.toThrow(/Not authorized/);
    const seen: string[] = [];
    dev2.on('message', (t) => seen.push(t));
    await dev2.subscribeAsync(`${base}/cmd/req/+`, { qos: 1 });
    await ops.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(makeCommand('ops', key, DEVICE, 'daemon.ping')), { qos: 1 });
    await new Promise((r) => setTimeout(r, 500));
    expect(seen).toEqual([]);
    await dev2.endAsync();
    // the daemon is still online and serving
    const ping = makeCommand('ops', key, DEVICE, 'daemon.ping');
    await ops.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(ping), { qos: 1 });
    await waitFor('still serving', () => got.find((m) => m.topic === `${base}/cmd/res/${ping.id}`));
  });
});
