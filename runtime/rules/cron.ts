/**
 * Cron expressions for rule-set timers (DESIGN §6): five fields — minute, hour, day of month,
 * month, day of week — with `*`, lists, ranges, steps and names (`jan`, `mon`), or `@hourly`,
 * `@daily`, `@weekly`, `@monthly`, `@yearly`. When both day fields are restricted, either may
 * match (as in Vixie cron). Times are the device's local time.
 */
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
  return { source, minute, hour, dom, month, dow, domAny: parts[2] === '*', dowAny: parts[4] === '*' };
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
  const dom = c.dom.has(d.getDate());
  const dow = c.dow.has(d.getDay());
  if (c.domAny && c.dowAny) return true;
  if (c.domAny) return dow;
  if (c.dowAny) return dom;
  return dom || dow;
}

/** The first minute strictly after `after` that the expression matches (local time), within 5 years. */
export function nextFire(c: Cron, after: number): number | undefined {
  const d = new Date(after);
  d.setSeconds(0, 0);
  d.setMinutes(d.getMinutes() + 1);
  const limit = after + 5 * 366 * 86_400_000;
  while (d.getTime() <= limit) {
    if (!c.month.has(d.getMonth() + 1)) {
      d.setMonth(d.getMonth() + 1, 1);
      d.setHours(0, 0, 0, 0);
      continue;
    }
    if (!dayMatches(c, d)) {
      d.setDate(d.getDate() + 1);
      d.setHours(0, 0, 0, 0);
      continue;
    }
    if (!c.hour.has(d.getHours())) {
      d.setHours(d.getHours() + 1, 0, 0, 0);
      continue;
    }
    if (!c.minute.has(d.getMinutes())) {
      d.setMinutes(d.getMinutes() + 1, 0, 0);
      continue;
    }
    return d.getTime();
  }
  return undefined;
}
