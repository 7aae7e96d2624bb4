/**
 * Agent timers (`timer.set` / `timer.clear`): named, per instance, on the monotonic clock
 * (setTimeout), bounded in number and range. A fire is delivered to that instance only, as a
 * `timer:<name>` event.
 */
import { OszError } from '../errors';

export const MAX_TIMERS = 64;
export const MIN_TIMER_MS = 10;
export const MAX_TIMER_MS = 24 * 3600 * 1000;
export const TIMER_NAME = /^[a-z0-9_.-]{1,64}$/;

export class AgentTimers {
  private readonly timers = new Map<string, NodeJS.Timeout>();

  constructor(private readonly fire: (name: string) => void) {}

  set(name: unknown, ms: unknown, repeat: unknown): void {
    if (typeof name !== 'string' || !TIMER_NAME.test(name)) throw new OszError('OSZ_E_INVALID_PARAMS', 'timer names are 1-64 characters of a-z 0-9 _ . -');
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < MIN_TIMER_MS || ms > MAX_TIMER_MS) {
      throw new OszError('OSZ_E_TIMER_LIMIT', `timer "${name}": ms must be between ${MIN_TIMER_MS} and ${MAX_TIMER_MS}`);
    }
    this.clear(name);
    if (this.timers.size >= MAX_TIMERS) throw new OszError('OSZ_E_TIMER_LIMIT', `an agent may hold at most ${MAX_TIMERS} timers`);
    const tick = (): void => {
      if (!repeat) this.timers.delete(name);
      this.fire(name);
    };
    this.timers.set(name, repeat === true ? setInterval(tick, ms) : setTimeout(tick, ms));
  }

  clear(name: unknown): boolean {
    if (typeof name !== 'string') return false;
    const t = this.timers.get(name);
    if (!t) return false;
    clearTimeout(t);
    this.timers.delete(name);
    return true;
  }

  clearAll(): void {
    for (const t of this.timers.values()) clearTimeout(t);
    this.timers.clear();
  }

}
