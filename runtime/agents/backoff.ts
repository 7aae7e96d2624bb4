/**
 * Restart policy decisions and exponential backoff with full jitter (DESIGN §3):
 * delay = random(0, min(maxMs, initialMs · 2^(attempt-1))). Full jitter spreads a fleet of agents
 * that crashed together (same sensor unplugged) instead of restarting them in lock-step.
 */
import type { AgentExit } from './drivers/driver';
import type { Manifest } from './manifest';

export type RestartPolicy = Manifest['restart']['policy'];

export function backoffDelay(attempt: number, initialMs: number, maxMs: number, random: () => number = Math.random): number {
  const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(Math.max(attempt - 1, 0), 30));
  return Math.floor(random() * ceiling);
}

/** A clean exit is code 0 with no signal and no host-side reason (limit, heartbeat, protocol). */
export function isCleanExit(exit: AgentExit): boolean {
  return exit.code === 0 && exit.signal === null && exit.reason === undefined;
}

/** Whether an exited instance whose desired state is still "running" should be started again. */
export function shouldRestart(policy: RestartPolicy, exit: AgentExit): boolean {
  switch (policy) {
    case 'no':
      return false;
    case 'on-failure':
      return !isCleanExit(exit);
    case 'always':
    case 'unless-stopped':
      return true;
  }
}

/**
 * The restarts a policy allows before the instance fails (issue 17): an explicit
 * `restart.maxRetries` holds under every policy; without one, `on-failure` gives up after
 * DEFAULT_MAX_RETRIES and `always` / `unless-stopped` never do (capped backoff, forever).
 */
export const DEFAULT_MAX_RETRIES = 5;
export function maxRetriesOf(restart: Pick<Manifest['restart'], 'policy' | 'maxRetries'>): number {
  if (restart.maxRetries !== undefined) return restart.maxRetries;
  return restart.policy === 'on-failure' ? DEFAULT_MAX_RETRIES : Infinity;
}

/**
 * At daemon start, whether an instance still desired running comes back (DESIGN §12.1, issue 17).
 * An instance done by its policy (a clean exit under `on-failure`, any exit under `no`, retries
 * spent, a kill) was set desired `stopped` when it ended, so what is left was interrupted by the
 * daemon's stop or crash: it comes back, except under `no`, whose one run that was.
 */
export function resumesAtBoot(policy: RestartPolicy): boolean {
  return policy !== 'no';
}
