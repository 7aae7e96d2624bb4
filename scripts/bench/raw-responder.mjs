// The baseline of the remote round-trip bench: a bare MQTT.js responder in its own process (as
// the daemon is), answering each request on raw/req with its payload on raw/res, QoS 1, no Nagle.
import mqtt from 'mqtt';

const c = await mqtt.connectAsync(process.argv[2], { protocolVersion: 4, reconnectPeriod: 0 });
c.stream.setNoDelay(true);
await c.subscribeAsync('raw/req', { qos: 1 });
c.on('message', (_t, p) => void c.publishAsync('raw/res', p, { qos: 1 }));
console.log('responding');
process.on('SIGTERM', () => void c.endAsync().then(() => process.exit(0)));
