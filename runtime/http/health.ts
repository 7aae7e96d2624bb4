/** `GET /healthz`: liveness plus each subsystem's state (DESIGN §12.7). Degraded stays 200. */
import type { SubsystemHealth } from '../control/services';
import { type HttpServer, sendJson } from './server';

export function registerHealth(server: HttpServer, health: () => SubsystemHealth[], version: string): void {
  server.route('GET', '/healthz', (_req, res) => {
    const subsystems = health();
    const down = subsystems.filter((s) => s.state === 'down');
    const degraded = subsystems.filter((s) => s.state === 'degraded');
    const status = down.length > 0 ? 'down' : degraded.length > 0 ? 'degraded' : 'ok';
    // Only a subsystem that cannot serve at all makes the daemon unhealthy: an offline broker
    // must not make balena restart the container in a loop.
    sendJson(res, down.length > 0 ? 503 : 200, { status, version, subsystems });
  });
}
