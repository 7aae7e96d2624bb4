/** An embedded aedes broker on 127.0.0.1 for tests (DESIGN §11), and a client that collects messages. */
import net from 'node:net';
import { Aedes } from 'aedes';
import mqtt, { type MqttClient } from 'mqtt';

export interface TestBroker {
  url: string;
  port: number;
  /** every PUBLISH a client sent, in the order the broker took them (no subscription needed, so nothing sent before a listener subscribed is missed) */
  received: Array<{ topic: string; payload: string; client: string }>;
  close(): Promise<void>;
}

export async function startBroker(port = 0): Promise<TestBroker> {
  const broker = await Aedes.createBroker();
  const received: TestBroker['received'] = [];
  // aedes also emits its own $SYS publishes, with no client
  broker.on('publish', (packet, client) => {
    if (client) received.push({ topic: packet.topic, payload: packet.payload.toString(), client: client.id });
  });
  const server = net.createServer((s) => broker.handle(s));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  const p = (server.address() as net.AddressInfo).port;
  return {
    url: `mqtt://127.0.0.1:${p}`,
    port: p,
    received,
    close: () =>
      new Promise<void>((resolve) => {
        broker.close(() => server.close(() => resolve()));
        // connected clients keep the server open: end them
        for (const c of Object.values((broker as unknown as { clients: Record<string, { close(): void }> }).clients)) c.close();
      }),
  };
}

export interface Listener {
  client: MqttClient;
  messages: Array<{ topic: string; payload: string; retain: boolean }>;
  json<T = Record<string, unknown>>(topic: string): T | undefined;
  close(): Promise<void>;
}

/** a client subscribed to `filter`; `unix://` URLs (the daemon's spelling) work too */
export async function listen(url: string, filter: string, opts: { protocolVersion?: 4 | 5; username?: string; password?: string } = {}): Promise<Listener> {
  const target = url.startsWith('unix://') ? `mqtt+unix://${url.slice('unix://'.length)}` : url;
  const client = await mqtt.connectAsync(target, { protocolVersion: 4, reconnectPeriod: 0, ...opts });
  const messages: Listener['messages'] = [];
  client.on('message', (topic, payload, packet) => messages.push({ topic, payload: payload.toString(), retain: packet.retain }));
  await client.subscribeAsync(filter, { qos: 1 });
  return {
    client,
    messages,
    json: <T>(topic: string) => {
      const m = [...messages].reverse().find((x) => x.topic === topic);
      return m ? (JSON.parse(m.payload) as T) : undefined;
    },
    close: () => client.endAsync(),
  };
}
