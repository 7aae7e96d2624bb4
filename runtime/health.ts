/**
 * Each subsystem's health, as `/healthz`, `status` and the status page show it (DESIGN §12.7).
 * Only what the daemon cannot serve without is `down` (then /healthz is 503); a broker away, a
 * failed agent, a broken sensor or a rejected device.yaml are `degraded`, and the daemon goes on.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Hal } from '../hal/hal';
import type { Supervisor } from './agents/supervisor';
import type { SubsystemHealth } from './control/services';
import { FIRSTBOOT_STATUS } from './firstboot/apply';
import type { LazyRules } from './rules/lazy';
import type { Store } from './store/store';

/** `refused`: the garbage commands the link refused since start, per kind (runtime/fleet/noise.ts) */
export type FleetState = { state: 'disabled' | 'connecting' | 'online' | 'offline'; broker: string | null; refused?: Readonly<Record<string, number>> };

export interface HealthParts {
  board: string;
  boardFile: string | undefined;
  store: Store | undefined;
  supervisor: Supervisor | undefined;
  /** the control socket's path, when it serves */
  socket: string | undefined;
  http: string | undefined;
  hal: Hal | undefined;
  rules: LazyRules | undefined;
  docker: { problem?: string | undefined } | undefined;
  dockerSocket: string;
  fleet: FleetState;
  /** why first boot rejected device.yaml (readFirstbootError, once at start), if it did */
  firstbootError: string | undefined;
}

/** the store's own health: what the dashboard's resources section shows, without the rest */
export function storeHealth(store: Store | undefined): SubsystemHealth {
  const problem = store?.guard.problem;
  if (!store) return { name: 'store', state: 'down' };
  if (problem) return { name: 'store', state: 'degraded', detail: `disk ${problem.kind}: ${problem.message}` };
  return { name: 'store', state: 'ok', ...(store.recoveredFrom ? { detail: `recovered from ${store.recoveredFrom}` } : {}) };
}

export function subsystemHealth(p: HealthParts): SubsystemHealth[] {
  const failed = p.supervisor?.list().filter((s) => s.state === 'failed').length ?? 0;
  return [
    storeHealth(p.store),
    { name: 'supervisor', state: p.supervisor ? (failed > 0 ? 'degraded' : 'ok') : 'down', ...(failed > 0 ? { detail: `${failed} instance(s) failed` } : {}) },
    { name: 'control', state: p.socket ? 'ok' : 'down', ...(p.socket ? { detail: p.socket } : {}) },
    { name: 'http', state: p.http ? 'ok' : 'down' },
    halHealth(p),
    rulesHealth(p.rules),
    ...(p.docker ? [{ name: 'docker', state: p.docker.problem ? ('degraded' as const) : ('ok' as const), detail: p.docker.problem ?? p.dockerSocket }] : []),
    fleetHealth(p.fleet),
    ...(p.firstbootError === undefined ? [] : [{ name: 'firstboot', state: 'degraded' as const, detail: `device.yaml was rejected, running local-only: ${p.firstbootError}` }]),
  ];
}

function halHealth(p: HealthParts): SubsystemHealth {
  if (!p.hal) return { name: 'hal', state: 'disabled', detail: `board ${p.board}: no HAL backend in this build` };
  const broken = p.hal.list().filter((d) => d.status === 'error' || d.status === 'unavailable');
  return broken.length ? { name: 'hal', state: 'degraded', detail: broken.map((d) => `${d.id}: ${d.detail ?? 'error'}`).join('; ') } : { name: 'hal', state: 'ok', detail: `board ${p.board} (${p.boardFile ?? '?'})` };
}

function rulesHealth(rules: LazyRules | undefined): SubsystemHealth {
  if (!rules?.loaded) return { name: 'rules', state: 'disabled', detail: 'no rule set: apply one with openstarryctl rules apply FILE, or put orchestration.yaml in the home' };
  const { etag, rules: list } = rules.list();
  return { name: 'rules', state: 'ok', detail: `rule set ${etag ?? 'none'}, ${list.length} rules` };
}

/** an unreachable broker is degraded, never down: the device keeps working, the outbox keeps events */
function fleetHealth(f: FleetState): SubsystemHealth {
  if (f.state === 'disabled') return { name: 'fleet', state: 'disabled', detail: 'no broker configured' };
  const refused = Object.entries(f.refused ?? {}).filter(([, n]) => n > 0);
  const noise = refused.length ? `; refused garbage: ${refused.reduce((s, [, n]) => s + n, 0)} (${refused.map(([k, n]) => `${k} ${n}`).join(', ')})` : '';
  return { name: 'fleet', state: f.state === 'online' ? 'ok' : 'degraded', detail: `${f.state}: ${f.broker ?? ''}${noise}` };
}

/**
 * Why first boot rejected device.yaml (docs/first-boot.md), read once when the daemon starts: first
 * boot runs before the daemon, so the file does not change while it runs.
 */
export function readFirstbootError(home: string): string | undefined {
  try {
    const s = JSON.parse(fs.readFileSync(path.join(home, FIRSTBOOT_STATUS), 'utf8')) as { error?: unknown };
    return String(s.error).slice(0, 500);
  } catch {
    return undefined;
  }
}
