/** The packet cap on the link's incoming MQTT stream: oversized packets are skipped as they pass, never held. */
import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { describe, expect, it } from 'vitest';
import { type DroppedPacket, guardStream, PacketFilter } from '../../../../runtime/fleet/packet-guard';
import { waitFor } from '../../../helpers/tmp';

const MAX = 16 * 1024;
const publish = (topic: string, bytes: number, qos: 0 | 1, messageId = 7, protocolVersion = 4): Buffer =>
  mqttPacket.generate({ cmd: 'publish', topic, payload: Buffer.alloc(bytes, 0x61), qos, messageId, retain: false, dup: false }, { protocolVersion });
const parse = (bytes: Buffer, protocolVersion = 4): mqttPacket.Packet[] => {
  const p = mqttPacket.parser({ protocolVersion });
  const out: mqttPacket.Packet[] = [];
  p.on('packet', (x) => out.push(x));
  p.on('error', (e) => {
    throw e;
  });
  p.parse(bytes);
  return out;
};

describe('PacketFilter', () => {
  const stream = Buffer.concat([
    mqttPacket.generate({ cmd: 'pingresp' }),
    publish('a/small', 100, 1, 1),
    publish('a/huge', 100_000, 1, 2),
    publish('a/exact', MAX - 2 - 2 - 'a/exact'.length - 2 - 2, 0),
    publish('a/huge0', 40_000, 0),
    publish('a/after', 10, 1, 3),
  ]);

  it.each([1, 3, 4096, stream.length])('passes what fits and skips what does not, whatever the chunking (%i-byte chunks)', (size) => {
    const f = new PacketFilter(MAX);
    const dropped: DroppedPacket[] = [];
    const passed: Buffer[] = [];
    for (let i = 0; i < stream.length; i += size) passed.push(f.feed(stream.subarray(i, i + size), (p) => dropped.push(p)));
    const packets = parse(Buffer.concat(passed));
    expect(packets.map((p) => (p.cmd === 'publish' ? p.topic : p.cmd))).toEqual(['pingresp', 'a/small', 'a/exact', 'a/after']);
    expect(packets.find((p) => p.cmd === 'publish' && p.topic === 'a/exact')?.length).toBeLessThanOrEqual(MAX);
    expect(dropped).toEqual([
      { type: 3, qos: 1, bytes: publish('a/huge', 100_000, 1, 2).length, topic: 'a/huge', packetId: 2 },
      { type: 3, qos: 0, bytes: publish('a/huge0', 40_000, 0).length, topic: 'a/huge0' },
    ]);
  });

  it('never holds more of a dropped packet than its topic and packet id', () => {
    const f = new PacketFilter(MAX);
    const huge = publish('t', 8 * 1024 * 1024, 1);
    const before = process.memoryUsage().arrayBuffers;
    let out = 0;
    for (let i = 0; i < huge.length; i += 65_536) out += f.feed(huge.subarray(i, i + 65_536), () => undefined).length;
    expect(out).toBe(0);
    // what it kept of the 8 MB: the bounded peek at the topic (a few bytes here)
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(1024 * 1024);
  });

  it('reads MQTT 5 publishes (properties after the packet id) the same way', () => {
    const f = new PacketFilter(MAX);
    const dropped: DroppedPacket[] = [];
    const bytes = Buffer.concat([publish('v5/huge', 100_000, 1, 9, 5), publish('v5/ok', 10, 1, 10, 5)]);
    const packets = parse(f.feed(bytes, (p) => dropped.push(p)), 5);
    expect(packets.map((p) => (p.cmd === 'publish' ? p.topic : p.cmd))).toEqual(['v5/ok']);
    expect(dropped).toMatchObject([{ topic: 'v5/huge', packetId: 9, qos: 1 }]);
  });

  it('refuses a remaining length longer than the 4 bytes MQTT allows', () => {
    expect(() => new PacketFilter(MAX).feed(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), () => undefined)).toThrow(/malformed/);
  });
});

describe('guardStream under MQTT.js, against a real broker', () => {
  it('skips an oversized QoS 1 publish, acknowledges it so it is not redelivered, and keeps the connection', async () => {
    const broker = await Aedes.createBroker();
    const server = net.createServer((s) => broker.handle(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const url = `mqtt://127.0.0.1:${(server.address() as net.AddressInfo).port}`;
    const clients: MqttClient[] = [];
    try {
      const dropped: DroppedPacket[] = [];
      const got: string[] = [];
      let closes = 0;
      const guarded = (): MqttClient => {
        const c = mqtt.connect(url, { clientId: 'dev', clean: false, reconnectPeriod: 0, manualConnect: true, protocolVersion: 4 });
        const b = c as unknown as { streamBuilder: (cl: MqttClient) => import('node:stream').Duplex };
        const build = b.streamBuilder;
        b.streamBuilder = (cl) => guardStream(build(cl), MAX, (p) => dropped.push(p));
        c.on('message', (t) => got.push(t));
        c.on('close', () => closes++);
        c.connect();
        clients.push(c);
        return c;
      };
      const dev = guarded();
      await new Promise((r) => dev.once('connect', r));
      await dev.subscribeAsync('cmd/#', { qos: 1 });
      const sender = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
      clients.push(sender);
      await sender.publishAsync('cmd/huge', Buffer.alloc(2 * 1024 * 1024, 0x62), { qos: 1 });
      await sender.publishAsync('cmd/small', 'hello', { qos: 1 });
      await waitFor('the small one', () => got.includes('cmd/small'));
      expect(got).toEqual(['cmd/small']);
      expect(dropped).toMatchObject([{ topic: 'cmd/huge', qos: 1 }]);
      expect(closes).toBe(0);
      // the persistent session has nothing left to send again: the skipped publish was acknowledged
      await dev.endAsync();
      const again = guarded();
      await new Promise((r) => again.once('connect', r));
      await sender.publishAsync('cmd/marker', 'm', { qos: 1 });
      await waitFor('the marker', () => got.includes('cmd/marker'));
      expect(got).toEqual(['cmd/small', 'cmd/marker']);
      expect(dropped).toHaveLength(1);
    } finally {
      await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
      await new Promise<void>((r) => broker.close(() => server.close(() => r())));
    }
  });
});
