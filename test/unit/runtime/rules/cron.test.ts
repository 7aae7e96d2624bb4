import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { type Cron, nextFire, parseCron } from '../../../../runtime/rules/cron';
import { CronTimers } from '../../../../runtime/rules/cron-timers';
import { loadRuleSet } from '../../../../runtime/rules/load';

const cron = (s: string): Cron => {
  const c = parseCron(s);
  if (typeof c === 'string') throw new Error(c);
  return c;
};
const at = (s: string): number => new Date(s).getTime();
const iso = (t: number | undefined): string => (t === undefined ? 'never' : new Date(t).toString().slice(0, 21));

describe('cron', () => {
  it('finds the next time for steps, ranges, lists, names and shortcuts', () => {
    const from = at('2026-11-24T10:07:30');
    expect(iso(nextFire(cron('*/15 * * * *'), from))).toBe(iso(at('2026-11-24T10:15:00')));
    expect(iso(nextFire(cron('0 3 * * *'), from))).toBe(iso(at('2026-11-25T03:00:00')));
    expect(iso(nextFire(cron('30 8-10/2 * * mon-fri'), from))).toBe(iso(at('2026-11-24T10:30:00')));
    expect(iso(nextFire(cron('0 0 1 jan,jul *'), from))).toBe(iso(at('2027-01-01T00:00:00')));
    expect(iso(nextFire(cron('@weekly'), from))).toBe(iso(at('2026-11-29T00:00:00')));
    expect(iso(nextFire(cron('0 12 * * 7'), from))).toBe(iso(at('2026-11-29T12:00:00')));
    // both day fields restricted: either matches (the 1st, or any Friday)
    expect(iso(nextFire(cron('0 0 1 * fri'), from))).toBe(iso(at('2026-11-27T00:00:00')));
    expect(nextFire(cron('0 0 31 2 *'), from)).toBeUndefined();
  });

  it.each([
    ['* * * *', /has 4 fields/],
    ['60 * * * *', /minute: 60 is outside 0-59/],
    ['* * * foo *', /month: "foo" is not a number or name/],
    ['*/0 * * * *', /a step is at least 1/],
    ['5-1 * * * *', /outside/],
    ['* * * * * *', /has 6 fields/],
    ['$(reboot) * * * *', /not a value, range or step/],
  ])('refuses %s', (expr, re) => {
    expect(parseCron(expr)).toMatch(re);
  });

  it('is part of a rule set, with the line of a bad timer', () => {
    expect(loadRuleSet('timers:\n  nightly: "0 3 * * *"\nrules: []\n').timers.get('nightly')?.source).toBe('0 3 * * *');
    expect(() => loadRuleSet('timers:\n  nightly: "0 25 * * *"\nrules: []\n')).toThrow(/line 2:12\): timers.nightly: hour: 25 is outside 0-23/);
  });
});

describe('cron timers', () => {
  beforeEach(() => vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: at('2026-11-24T10:07:30') }));
  afterEach(() => vi.useRealTimers());

  it('fires at each time, and a clock jump skips instead of running missed jobs', async () => {
    const fired: Array<[string, string]> = [];
    const t = new CronTimers(new Map([['q', cron('*/15 * * * *')]]), (name, when) => void fired.push([name, iso(when)]));
    t.start();
    await vi.advanceTimersByTimeAsync(8 * 60_000);
    expect(fired).toEqual([['q', iso(at('2026-11-24T10:15:00'))]]);
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(fired).toHaveLength(2);
    // NTP moves the clock 3 days ahead: nothing of those 3 days runs; the schedule continues from now
    vi.setSystemTime(Date.now() + 3 * 86_400_000);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(fired).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(15 * 60_000);
    expect(fired).toHaveLength(3);
    t.stop();
  });
});
