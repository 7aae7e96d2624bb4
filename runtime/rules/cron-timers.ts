/**
 * The rule set's cron timers: each raises `cron:<name>` at its times. The next time is computed
 * from the wall clock after every firing and re-checked at least once a minute, so a clock that
 * jumps (NTP sync on a Pi without an RTC) moves the schedule instead of firing missed jobs: a
 * time found more than two minutes past is skipped, not run (DESIGN §12.11). DST changes follow
 * cron.ts: a fixed-time job in a spring-forward gap runs right after it, in a repeated hour once.
 */
import { type Cron, nextFire } from './cron';

const RECHECK_MS = 60_000;

export class CronTimers {
  private readonly next = new Map<string, number | undefined>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly timers: ReadonlyMap<string, Cron>,
    private readonly fire: (name: string, scheduledFor: number) => void,
    private readonly now: () => number = Date.now,
    /** an IANA zone; the daemon's local zone without one (tests inject both) */
    private readonly zone?: string,
  ) {}

  start(): void {
    const now = this.now();
    for (const [name, c] of this.timers) this.next.set(name, nextFire(c, now, this.zone));
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** name → next firing (Unix ms), for listings */
  schedule(): Record<string, number | null> {
    return Object.fromEntries([...this.next].map(([k, v]) => [k, v ?? null]));
  }

  private arm(): void {
    this.stop();
    if (this.timers.size === 0) return;
    const now = this.now();
    const soonest = Math.min(...[...this.next.values()].map((v) => v ?? Infinity));
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(soonest - now, RECHECK_MS)));
    this.timer.unref();
  }

  private tick(): void {
    const now = this.now();
    for (const [name, c] of this.timers) {
      const at = this.next.get(name);
      if (at === undefined) continue;
      // The clock went back a long way (before the time that was computed from it): start over.
      if (at - now > 5 * 366 * 86_400_000) {
        this.next.set(name, nextFire(c, now, this.zone));
        continue;
      }
      if (now >= at) {
        // far past its time means the clock jumped forward (or the board slept): not a missed job to run
        if (now - at <= 2 * RECHECK_MS) this.fire(name, at);
        this.next.set(name, nextFire(c, now, this.zone));
      }
    }
    this.arm();
  }
}
