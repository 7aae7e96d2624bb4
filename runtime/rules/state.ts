/**
 * Pending rule state across restarts (DESIGN §12.11): `for` and debounce timers, dedup keys,
 * cooldowns and throttles (issue 17) are saved with the time they had left, their wall-clock
 * deadline and the boot id. On load, the same boot (a daemon restart) counts down by the wall
 * clock; after a reboot the wall clock is trusted only if it has not gone back past the save (a Pi
 * without an RTC boots in the past until NTP), and otherwise the deadline is re-based: the time
 * left at the save, from now.
 */
import type { EventEnvelope } from '../bus/envelope';

export interface PendingState {
  rule: string;
  kind: 'for' | 'debounce' | 'dedup' | 'cooldown' | 'throttle';
  key: string;
  remainingMs: number;
  wallDeadline: number;
  event?: EventEnvelope;
}

export interface SavedState {
  savedAt: number;
  bootId: string;
  pending: PendingState[];
}

export function rebase(saved: SavedState, now: number, bootId: string): PendingState[] {
  const trustWall = saved.bootId === bootId || now >= saved.savedAt;
  return saved.pending
    .map((p) => ({ ...p, remainingMs: trustWall ? p.wallDeadline - now : p.remainingMs }))
    // a `for` or debounce timer that ran out while the daemon was down fires at once; a key, a
    // cooldown or a throttle that ran out is simply over
    .filter((p) => p.remainingMs > 0 || p.kind === 'for' || p.kind === 'debounce')
    .map((p) => ({ ...p, remainingMs: Math.max(0, p.remainingMs) }));
}
