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
    name: 'daemon.doctor',
    summary: 'check clock, disk and SD card, store, socket and token, and the agent sandbox; say how to fix each',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => services.doctor(),
  }),
  defineOp({
    name: 'logs.level',
    summary: "set the daemon's log level (no target) or the minimum level kept from an instance or agent",
    params: z.strictObject({ level: z.enum(['debug', 'info', 'warn', 'error']), target: z.string().min(1).max(256).optional() }),
    role: 'operator',
    mutating: true,
    remote: true,
    handler: (p, { services }) => {
      if (!p.target || p.target === 'daemon') {
        services.setDaemonLogLevel(p.level);
        return { target: 'daemon', level: p.level };
      }
      services.supervisor.logTargets(p.target);
      services.supervisor.logs.setLevel(p.target, p.level);
      return { target: p.target, level: p.level };
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
