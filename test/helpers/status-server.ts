/**
 * The daemon's HTTP server with its status routes over a real store, for the HTTP unit suites
 * (gate, limits): what the daemon registers, with the given limits and connection grace.
 */
import path from 'node:path';
import { EventBus } from '../../runtime/bus/bus';
import { OPERATIONS } from '../../runtime/control/ops/index';
import { ControlPlane } from '../../runtime/control/plane';
import type { ControlServices } from '../../runtime/control/services';
import { registerHealth } from '../../runtime/http/health';
import type { HttpLimits } from '../../runtime/http/limits';
import { registerStatusRoutes } from '../../runtime/http/routes';
import { HttpServer } from '../../runtime/http/server';
import type { SseHub } from '../../runtime/http/stream';
import { memoryLogger } from '../../runtime/log';
import { createStore, type Store } from '../../runtime/store/store';
import { tmpDir } from './tmp';

export interface StatusServer {
  server: HttpServer;
  hub: SseHub;
  store: Store;
  addr: string;
  stop(): Promise<void>;
}

export async function statusServer(token: string, limits: Partial<HttpLimits>, grace?: number): Promise<StatusServer> {
  const store = createStore(path.join(tmpDir(), 'db'), memoryLogger(), { keepEvents: 10 });
  const services = { store, bus: new EventBus(memoryLogger()), supervisor: { list: () => [] }, log: memoryLogger(), info: () => ({ version: 'test' }), health: () => [] } as unknown as ControlServices;
  const server = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [], limits, connectionGraceMs: grace }, memoryLogger());
  registerHealth(server, () => [], '0.1.0');
  const hub = registerStatusRoutes(server, { plane: new ControlPlane(OPERATIONS, services), bus: services.bus, token: () => token, dashboard: () => undefined, rules: () => [], hal: () => [] });
  await server.start();
  return {
    server,
    hub,
    store,
    addr: server.address ?? '',
    async stop() {
      hub.close();
      await server.stop();
      store.close();
    },
  };
}
