/** Adapters from the store and the bus to what subsystems report into: HAL audit, disk alerts. */
import type { AuditSink } from '../hal/ports';
import type { EventBus } from './bus/bus';
import type { Logger } from './log';
import type { Store } from './store/store';

/** HAL audit entries go to the audit log; a failing disk must never stop a safe-state switch. */
export function halAudit(store: Store, log: Logger): AuditSink {
  return {
    record(e) {
      try {
        store.audit.append({ ts: e.ts, actor: e.actor, op: `hal.${e.op}`, params: { device: e.deviceId, ...(e.detail ?? {}) }, outcome: e.outcome, errorCode: e.code });
      } catch (err) {
        log.error('audit', `could not record hal.${e.op} ${e.deviceId}: ${(err as Error).message}`);
      }
    },
  };
}

/**
 * A full or read-only disk must not stop agents: writes fail with OSZ_E_STORE_IO, the store shows
 * as degraded, and one `alert:disk_<kind>` event a minute per kind reaches rules and the fleet.
 */
export function watchDisk(store: Store, bus: EventBus, log: Logger): void {
  const lastAlert = new Map<string, number>();
  store.guard.onProblem((kind, message) => {
    const now = Date.now();
    if (now - (lastAlert.get(kind) ?? 0) < 60_000) return;
    lastAlert.set(kind, now);
    log.error('store', `disk ${kind}: ${message}; agents keep running, changes are refused until it is fixed`);
    bus.emit({ type: `alert:disk_${kind}`, source: 'store', data: { problem: kind, message } });
  });
}

