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

/** UTC instants, as ISO text */
const utc = (t: number | undefined): string => (t === undefined ? 'never' : new Date(t).toISOString().slice(0, 16));
const fires = (expr: string, from: string, n: number, zone: string): string[] => {
  const out: string[] = [];
  let t = Date.parse(from);
  for (let i = 0; i < n; i++) {
    const next = nextFire(cron(expr), t, zone);
    out.push(utc(next));
    if (next === undefined) break;
    t = next;
  }
  return out;
};

describe('cron across DST changes (issue 17)', () => {
  // Europe/Berlin: 2026-03-29 02:00 CET → 03:00 CEST (01:00Z); 2026-10-25 03:00 CEST → 02:00 CET (01:00Z)
  it('runs a fixed-time job that falls into the spring-forward gap at the first minute after it, once', () => {
    expect(fires('30 2 * * *', '2026-03-28T12:00Z', 3, 'Europe/Berlin')).toEqual(['2026-03-29T01:00', '2026-03-30T00:30', '2026-03-31T00:30']);
    // two times in the gap: one run at 03:00 CEST
    expect(fires('0,30 2 * * *', '2026-03-28T12:00Z', 2, 'Europe/Berlin')).toEqual(['2026-03-29T01:00', '2026-03-30T00:00']);
    // a time after the gap that day is not moved
    expect(fires('30 3 * * *', '2026-03-28T12:00Z', 1, 'Europe/Berlin')).toEqual(['2026-03-29T01:30']);
  });

  it('runs a fixed-time job in the repeated hour once, in its first pass', () => {
    expect(fires('30 2 * * *', '2026-10-24T12:00Z', 3, 'Europe/Berlin')).toEqual(['2026-10-25T00:30', '2026-10-26T01:30', '2026-10-27T01:30']);
    expect(fires('*/30 2 * * *', '2026-10-24T12:00Z', 3, 'Europe/Berlin')).toEqual(['2026-10-25T00:00', '2026-10-25T00:30', '2026-10-26T01:00']);
    // asked from inside the second pass: nothing more that day
    expect(fires('45 2 * * *', '2026-10-25T01:10Z', 1, 'Europe/Berlin')).toEqual(['2026-10-26T01:45']);
  });

  it('runs a job with * in its hour field by elapsed time: both passes of the repeated hour, nothing for the gap', () => {
    expect(fires('*/30 * * * *', '2026-10-24T23:45Z', 6, 'Europe/Berlin')).toEqual(['2026-10-25T00:00', '2026-10-25T00:30', '2026-10-25T01:00', '2026-10-25T01:30', '2026-10-25T02:00', '2026-10-25T02:30']);
    // from the first pass, the next is still 30 minutes on, not the second pass's 02:00
    expect(fires('0 * * * *', '2026-10-25T00:10Z', 3, 'Europe/Berlin')).toEqual(['2026-10-25T01:00', '2026-10-25T02:00', '2026-10-25T03:00']);
    expect(fires('*/30 * * * *', '2026-03-29T00:15Z', 3, 'Europe/Berlin')).toEqual(['2026-03-29T00:30', '2026-03-29T01:00', '2026-03-29T01:30']);
  });

  // Australia/Lord_Howe moves by 30 minutes: 2026-04-05 02:00 (+11) → 01:30 (+10:30) at 15:00Z the
  // day before; 2026-10-04 02:00 (+10:30) → 02:30 (+11) at 15:30Z the day before
  it('handles a zone that shifts by 30 minutes', () => {
    expect(fires('45 1 * * *', '2026-04-04T00:00Z', 2, 'Australia/Lord_Howe')).toEqual(['2026-04-04T14:45', '2026-04-05T15:15']);
    expect(fires('15 2 * * *', '2026-10-03T00:00Z', 2, 'Australia/Lord_Howe')).toEqual(['2026-10-03T15:30', '2026-10-04T15:15']);
    expect(fires('*/15 1 * * *', '2026-04-04T14:20Z', 4, 'Australia/Lord_Howe')).toEqual(['2026-04-04T14:30', '2026-04-04T14:45', '2026-04-05T14:30', '2026-04-05T14:45']);
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

  it.each([
    ['spring forward', '2026-03-28T22:00Z', ['2026-03-29T01:00']],
    ['fall back', '2026-10-24T22:00Z', ['2026-10-25T00:30']],
  ])('run 30 2 * * * once on the %s day in Europe/Berlin, on the injected clock', async (_name, start, expected) => {
    vi.setSystemTime(Date.parse(start));
    const fired: Record<string, string[]> = { nightly: [], half: [] };
    const t = new CronTimers(
      new Map([
        ['nightly', cron('30 2 * * *')],
        ['half', cron('*/30 * * * *')],
      ]),
      (name, when) => void fired[name]?.push(utc(when)),
      Date.now,
      'Europe/Berlin',
    );
    t.start();
    await vi.advanceTimersByTimeAsync(6 * 3_600_000);
    t.stop();
    expect(fired.nightly).toEqual(expected);
    // every half hour of elapsed time, whatever the wall clock did: 12 in 6 hours
    expect(fired.half).toHaveLength(12);
    expect(new Set(fired.half).size).toBe(12);
  });
});
