/** daemon.* operations: status and liveness (doctor arrives with the supervisor-depth issue). */
import * as z from 'zod';
import { defineOp } from '../op';

export const daemonOps = [
  defineOp({
    name: 'daemon.status',
    summary: 'version, uptime, paths, subsystem health and instance counts',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => {
      const info = services.info();
      const instances = services.supervisor.list();
      const byState: Record<string, number> = {};
      for (const i of instances) byState[i.state] = (byState[i.state] ?? 0) + 1;
      return {
        ...info,
        uptimeMs: Date.now() - info.startedAt,
        health: services.health(),
        agents: { installed: services.store.agents.list().length, instances: instances.length, byState },
        store: { recoveredFrom: services.store.recoveredFrom ?? null },
      };
    },
  }),
  defineOp({
    name: 'daemon.ping',
    summary: 'liveness check',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: true,
    handler: (_p, { services }) => ({ pong: true, version: services.info().version, ts: Date.now() }),
  }),
];
