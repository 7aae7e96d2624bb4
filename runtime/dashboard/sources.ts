/** Where the daemon's dashboard sections come from: the supervisor, the HAL, rules, the host and the store. */
import type { Supervisor } from '../agents/supervisor';
import type { DaemonInfo } from '../control/services';
import { type FleetState, storeHealth } from '../health';
import type { Hal } from '../../hal/hal';
import type { LazyRules } from '../rules/lazy';
import type { Store } from '../store/store';
import type { ProjectorSources } from './projector';

export interface DaemonParts {
  info(): DaemonInfo;
  supervisor: Supervisor;
  store: Store;
  hal: Hal | undefined;
  rules: LazyRules | undefined;
  deviceId: string;
  fleet?: () => FleetState;
}

export function daemonSources(p: DaemonParts): ProjectorSources {
  return {
    device: () => {
      const i = p.info();
      return { id: p.deviceId, board: i.board, version: i.version, node: i.node, startedAt: i.startedAt };
    },
    resources: () => {
      const h = p.info().host;
      const store = storeHealth(p.store);
      return {
        cpuPercent: h?.cpuPercent ?? null,
        memory: h?.memory ?? null,
        disk: h?.disk ?? null,
        socTempC: h?.socTempC ?? null,
        throttling: h?.throttling ?? null,
        store: { state: store.state, ...(store.detail ? { detail: store.detail } : {}) },
      };
    },
    agents: () =>
      p.supervisor.list().map((s) => ({ instance: s.instance, agent: s.agent, driver: s.driver, state: s.state, restarts: s.restarts, uptimeMs: s.uptimeMs, cpuPercent: s.cpuPercent, rssBytes: s.rssBytes, reason: s.reason, tokens: s.tokens })),
    hal: () => ({ board: p.info().board, devices: p.hal?.list() ?? [] }),
    rules: () => {
      const r = p.rules?.list();
      return { etag: r?.etag ?? null, rules: r?.rules ?? [], timers: r?.timers ?? {} };
    },
    fleet: () => {
      // the section's fields only: the refusal counts are health detail, not dashboard state
      const f = p.fleet?.() ?? { state: 'disabled' as const, broker: null };
      return { state: f.state, broker: f.broker, outbox: p.store.outbox.stats().messages };
    },
    snapshot: (instance, timeoutMs) => {
      const inst = p.supervisor.get(instance);
      return inst ? inst.snapshot(timeoutMs) : Promise.reject(new Error(`instance ${instance} is gone`));
    },
    snapshots: p.store.snapshots,
  };
}
