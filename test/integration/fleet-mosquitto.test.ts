/**
 * The fleet link's suite (fleet-suite.ts) against Debian's mosquitto over MQTT 5, on a Unix socket,
 * with a password file and an ACL; and what only MQTT 5 and an ACL can show: a reply on the
 * request's response topic with its correlation data, and a device kept out of another's topics.
 */
import fs from 'node:fs';
import path from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { makeCommand } from '../../runtime/fleet/sign';
import { listen } from '../helpers/mqtt';
import { type Mosquitto, startMosquitto } from '../helpers/mosquitto';
import { describeWith, hasCommand } from '../helpers/system';
import { tmpDir, waitFor } from '../helpers/tmp';
import { fleetSuite } from './fleet-suite';

describeWith('fleet link (mosquitto, MQTT 5, Unix socket, password, ACL)', [hasCommand('mosquitto', 'mosquitto'), hasCommand('mosquitto_passwd', 'mosquitto')], () => {
  const DEVICE = 'gh-mq-1';
  const base = `openstarry/v1/${DEVICE}`;
  let broker: Mosquitto;
  let dir = '';
  let ops: MqttClient;
  const got: Array<{ topic: string; payload: string; correlation?: string }> = [];
  const connect = (username: string, password: string): Promise<MqttClient> => mqtt.connectAsync(`mqtt+unix://${broker.socket}`, { protocolVersion: 5, username, password, reconnectPeriod: 0 });

  beforeAll(async () => {
    broker = await startMosquitto({ [DEVICE]: 'dev-secret-1', 'gh-mq-2': 'dev-secret-2', ops: 'ops-secret' });
    dir = tmpDir('osd-mqpw-');
    fs.writeFileSync(path.join(dir, 'device-password'), 'dev-secret-1\n', { mode: 0o600 });
    fs.writeFileSync(path.join(dir, 'ops-password'), 'ops-secret\n', { mode: 0o600 });
  });
  afterAll(() => ops?.endAsync());

  fleetSuite(
    () => ({
      device: DEVICE,
      fleet: { broker: broker.url, mqttVersion: 5, username: DEVICE, passwordFile: path.join(dir, 'device-password') },
      cliFlags: ['--broker', broker.url, '--username', 'ops', '--password-file', path.join(dir, 'ops-password')],
      listen: (filter) => listen(broker.url, filter, { protocolVersion: 5, username: 'ops', password: 'ops-secret' }),
      stop: () => broker.stop(),
      start: () => broker.start(),
    }),
    (ctx) => {
      it('answers a signed command on the MQTT 5 response topic with its correlation data', async () => {
        ops = await connect('ops', 'ops-secret');
        ops.on('message', (topic, payload, packet) => got.push({ topic, payload: payload.toString(), ...(packet.properties?.correlationData ? { correlation: packet.properties.correlationData.toString() } : {}) }));
        await ops.subscribeAsync(`${base}/cmd/res/#`, { qos: 1 });
        const cmd = makeCommand('watcher', ctx.key('watcher'), DEVICE, 'agents.list');
        await ops.publishAsync(`${base}/cmd/req/agents.list`, JSON.stringify(cmd), { qos: 1, properties: { responseTopic: `${base}/cmd/res/mine`, correlationData: Buffer.from('corr-42') } });
        const reply = await waitFor('reply on the response topic', () => got.find((m) => m.topic === `${base}/cmd/res/mine`));
        expect(reply.correlation).toBe('corr-42');
        expect(JSON.parse(reply.payload)).toMatchObject({ id: cmd.id, ok: true });
        // a response topic outside this device's subtree is not followed
        const other = makeCommand('watcher', ctx.key('watcher'), DEVICE, 'daemon.ping');
        await ops.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(other), { qos: 1, properties: { responseTopic: 'openstarry/v1/gh-mq-2/cmd/res/x', correlationData: Buffer.from('corr-43') } });
        const r = await waitFor('reply under its own subtree', () => got.find((m) => m.topic === `${base}/cmd/res/${other.id}`));
        expect(r.correlation).toBe('corr-43');
      });

      it('is never sent a publish over fleet.maxPacketBytes: the broker drops it (MQTT 5 Maximum Packet Size), and commands still work', async () => {
        const sender = await connect('ops', 'ops-secret');
        try {
          const w = ctx.watch();
          const [before, lines] = [w.messages.length, ctx.daemon().output.length];
          await sender.publishAsync(`${base}/cmd/req/daemon.ping`, Buffer.alloc(1024 * 1024, 0x7b), { qos: 1 });
          // one publisher, one topic: delivered in order, so this reply comes after the big one's would
          const cmd = makeCommand('watcher', ctx.key('watcher'), DEVICE, 'daemon.ping');
          await sender.publishAsync(`${base}/cmd/req/daemon.ping`, JSON.stringify(cmd), { qos: 1 });
          const reply = await waitFor('the reply', () => w.messages.slice(before).find((m) => m.topic === `${base}/cmd/res/${cmd.id}`));
          expect(JSON.parse(reply.payload)).toMatchObject({ ok: true });
          // had it reached the device, its guard would have skipped it, answered on cmd/res/invalid and logged it
          expect(w.messages.slice(before).filter((m) => m.topic === `${base}/cmd/res/invalid`)).toEqual([]);
          expect(ctx.daemon().output.slice(lines).filter((l) => l.includes('(oversize)'))).toEqual([]);
          // the operator's listener (no maximum) did get it: the broker dropped it for the device alone
          expect(w.messages.slice(before).some((m) => m.topic === `${base}/cmd/req/daemon.ping` && m.payload.length === 1024 * 1024)).toBe(true);
        } finally {
          await sender.endAsync();
        }
      });

      it("keeps a device out of another device's topics", async () => {
        const dev2 = await connect('gh-mq-2', 'dev-secret-2');
        await expect(dev2.publishAsync(`${base}/status`, JSON.stringify({ v: 1, online: false }), { qos: 1 })).rejects.toThrow(/Not authorized/);
        const seen: string[] = [];
        dev2.on('message', (t) => seen.push(t));
        await dev2.subscribeAsync(`${base}/cmd/req/+`, { qos: 1 });
        await ctx.send('watcher', 'daemon.ping');
        await new Promise((r) => setTimeout(r, 300));
        expect(seen).toEqual([]);
        await dev2.endAsync();
        // the daemon is still online and serving
        expect(await ctx.send('watcher', 'daemon.ping')).toMatchObject({ ok: true });
      });
    },
  );
});
