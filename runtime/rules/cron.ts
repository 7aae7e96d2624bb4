/**
 * Cron expressions for rule-set timers (DESIGN §6): five fields — minute, hour, day of month,
 * month, day of week — with `*`, lists, ranges, steps and names (`jan`, `mon`), or `@hourly`,
 * `@daily`, `@weekly`, `@monthly`, `@yearly`. When both day fields are restricted, either may
 * match (as in Vixie cron). Times are the device's local time.
 *
 * Across DST changes (issue 17), close to Vixie cron's cron(8): a job at wall-clock hours (its
 * hour field does not start with `*`) that falls into a gap (spring forward) runs once, at the
 * first valid minute after it, and in a repeated hour (fall back) in the first pass only; a job
 * whose hour field is `*` (or a step over it) runs by elapsed time: in both passes of a repeated
 * hour, and not for the minutes of a gap. (Vixie counts a `*` minute field as elapsed time too,
 * so that every-5-minutes-of-2-am would not run at all on the spring-forward day; here it runs
 * once, after the gap.)
 */
import { offsetMs, wallOf } from './zone';

const SHORTCUTS: Record<string, string> = { '@hourly': '0 * * * *', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@weekly': '0 0 * * 0', '@monthly': '0 0 1 * *', '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *' };
const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'];
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'];
const FIELDS: Array<{ name: string; min: number; max: number; names?: string[]; offset?: number }> = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS, offset: 1 },
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];

export interface Cron {
  source: string;
  minute: Set<number>;
  hour: Set<number>;
  dom: Set<number>;
  month: Set<number>;
  dow: Set<number>;
  domAny: boolean;
  dowAny: boolean;
  /** the hour field starts with `*`: runs by elapsed time across DST changes */
  wildcard: boolean;
}

/** The parsed expression, or a message saying which field is wrong. */
export function parseCron(source: string): Cron | string {
  const text = SHORTCUTS[source.trim().toLowerCase()] ?? source.trim();
  const parts = text.split(/\s+/);
  if (parts.length !== 5) return `"${source.slice(0, 60)}" has ${parts.length} fields; cron takes 5 (minute hour day-of-month month day-of-week) or @hourly, @daily, @weekly, @monthly, @yearly`;
  const sets: Set<number>[] = [];
  for (let i = 0; i < 5; i++) {
    const f = FIELDS[i];
    const r = f ? parseField(parts[i] ?? '', f) : 'bad field';
    if (typeof r === 'string') return `${f?.name ?? 'field'}: ${r}`;
    sets.push(r);
  }
  const [minute, hour, dom, month, dow] = sets as [Set<number>, Set<number>, Set<number>, Set<number>, Set<number>];
  if (dow.has(7)) dow.add(0);
  return { source, minute, hour, dom, month, dow, domAny: parts[2] === '*', dowAny: parts[4] === '*', wildcard: (parts[1] ?? '').startsWith('*') };
}

function parseField(text: string, f: { min: number; max: number; names?: string[]; offset?: number }): Set<number> | string {
  const out = new Set<number>();
  const value = (v: string): number | undefined => {
    const named = f.names?.indexOf(v.toLowerCase());
    if (named !== undefined && named >= 0) return named + (f.offset ?? 0);
    return /^\d{1,2}$/.test(v) ? Number(v) : undefined;
  };
  for (const item of text.split(',')) {
    const m = /^(\*|[a-z0-9]+(?:-[a-z0-9]+)?)(?:\/(\d{1,2}))?$/i.exec(item);
    if (!m) return `"${item.slice(0, 20)}" is not a value, range or step`;
    const step = m[2] === undefined ? 1 : Number(m[2]);
    if (step < 1) return 'a step is at least 1';
    let lo = f.min;
    let hi = f.max === 7 ? 6 : f.max;
    if (m[1] !== '*') {
      const [a = '', b] = (m[1] ?? '').split('-');
      const va = value(a);
      const vb = b === undefined ? (m[2] === undefined ? va : hi) : value(b);
      if (va === undefined || vb === undefined) return `"${item.slice(0, 20)}" is not a number${f.names ? ' or name' : ''}`;
      lo = va;
      hi = vb;
    }
    if (lo < f.min || hi > f.max || lo > hi) return `${item.slice(0, 20)} is outside ${f.min}-${f.max}`;
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function dayMatches(c: Cron, d: Date): boolean {
  const dom = c.dom.has(d.getUTCDate());
  const dow = c.dow.has(d.getUTCDay());
  if (c.domAny && c.dowAny) return true;
  if (c.domAny) return dow;
  if (c.dowAny) return dom;
  return dom || dow;
}

const MINUTE = 60_000;
const DAY = 86_400_000;
/** more than any DST shift (2 h at most, Antarctica/Troll) */
const SHIFT = 3 * 3_600_000;

/** The first wall-clock minute strictly after wall time `w` (naive UTC ms, zone.ts) that the expression matches, up to `limit`. */
export function nextWall(c: Cron, w: number, limit: number): number | undefined {
  const d = new Date(w);
  d.setUTCSeconds(0, 0);
  d.setUTCMinutes(d.getUTCMinutes() + 1);
  while (d.getTime() <= limit) {
    if (!c.month.has(d.getUTCMonth() + 1)) {
      d.setUTCMonth(d.getUTCMonth() + 1, 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(c, d)) {
      d.setUTCDate(d.getUTCDate() + 1);
      d.setUTCHours(0, 0, 0, 0);
      continue;
    }
    if (!c.hour.has(d.getUTCHours())) {
      d.setUTCHours(d.getUTCHours() + 1, 0, 0, 0);
      continue;
    }
    if (!c.minute.has(d.getUTCMinutes())) {
      d.setUTCMinutes(d.getUTCMinutes() + 1, 0, 0);
      continue;
    }
    return d.getTime();
  }
  return undefined;
}

/**
 * The instants at which wall time `w` runs: the one instant it has; in a repeated hour both
 * (a `*` job) or the first; in a gap none (a `*` job) or the first minute after the gap.
 */
function instantsOf(c: Cron, w: number, zone: string | undefined): number[] {
  const offsets = [...new Set([offsetMs(w - DAY, zone), offsetMs(w, zone), offsetMs(w + DAY, zone)])];
  const at = [...new Set(offsets.map((o) => w - o))].filter((u) => wallOf(u, zone) === w).sort((a, b) => a - b);
  if (at.length > 0) return c.wildcard ? at : at.slice(0, 1);
  if (c.wildcard) return [];
  // in the gap: the wall clock is before w at lo and past it at hi; the first minute past it ends the gap
  let lo = w - Math.max(...offsets);
  let hi = w - Math.min(...offsets);
  while (hi - lo > MINUTE) {
    const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE;
    if (wallOf(mid, zone) > w) hi = mid;
    else lo = mid;
  }
  return [hi];
}

/**
 * The first instant strictly after `after` at which the expression runs in `zone` (default: the
 * local zone), within 5 years; DST changes as the header says.
 */
export function nextFire(c: Cron, after: number, zone?: string): number | undefined {
  const limit = after + 5 * 366 * DAY;
  const wallAfter = wallOf(after, zone);
  // the clock goes back within SHIFT: the repeated wall times start before `after`'s own
  const fallsBack = offsetMs(after + SHIFT, zone) < offsetMs(after, zone);
  let w = fallsBack ? wallAfter - SHIFT : wallAfter;
  let best: number | undefined;
  for (;;) {
    const next = nextWall(c, w, wallAfter + (limit - after) + SHIFT);
    if (next === undefined) break;
    // found, and no wall time further on can run earlier: past SHIFT, or no DST change around it
    if (best !== undefined && (next > wallOf(best, zone) + SHIFT || offsetMs(best - SHIFT, zone) === offsetMs(best + SHIFT, zone))) break;
    for (const u of instantsOf(c, next, zone)) if (u > after && (best === undefined || u < best)) best = u;
    w = next;
  }
  return best !== undefined && best <= limit ? best : undefined;
}
