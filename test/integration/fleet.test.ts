/** The fleet link's suite (fleet-suite.ts) against the embedded aedes broker, over MQTT 3.1.1. */
import { afterAll, beforeAll, describe } from 'vitest';
import { listen, startBroker, type TestBroker } from '../helpers/mqtt';
import { fleetSuite } from './fleet-suite';

describe('fleet link (aedes, MQTT 3.1.1)', () => {
  let broker: TestBroker | undefined;
  let port = 0;
  let url = '';
  beforeAll(async () => {
    broker = await startBroker();
    port = broker.port;
    url = broker.url;
  });
  // after hooks run last-registered first: the suite stops the daemon before this closes the broker
  afterAll(() => broker?.close());
  fleetSuite(() => ({
    device: 'gh-test-1',
    fleet: { broker: url, mqttVersion: 4 },
    cliFlags: ['--broker', url, '--mqtt-version', '4'],
    listen: (filter) => listen(url, filter),
    stop: async () => {
      await broker?.close();
      broker = undefined;
    },
    start: async () => {
      broker = await startBroker(port);
    },
  }));
});
