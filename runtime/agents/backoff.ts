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
 * At daemon start, whether an instance desired running comes back (DESIGN §12.1). Instances whose
 * last state was `failed` stay failed except under `always`, which grants a fresh retry budget
 * after a reboot (a sensor that was missing may be back). That is the one difference between
 * `always` and `unless-stopped`: with §12.1's sticky kill, neither ever undoes a kill.
 */
export function resumesAtBoot(policy: RestartPolicy, lastState: string): boolean {
  if (policy === 'no') return false;
  if (lastState === 'failed') return policy === 'always';
  return true;
}
