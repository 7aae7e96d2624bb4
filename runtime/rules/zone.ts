/**
 * Wall-clock time in a time zone, for cron (issue 17): the offset from UTC at an instant, and the
 * "wall" time — the local calendar reading as if it were UTC milliseconds, so that calendar
 * arithmetic on it (Date's UTC methods) never meets a DST change. `zone` is an IANA name
 * (`Europe/Berlin`); without one, the daemon's own local zone (TZ, /etc/localtime).
 */
const formats = new Map<string, Intl.DateTimeFormat>();

function format(zone: string): Intl.DateTimeFormat {
  let f = formats.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' });
    formats.set(zone, f);
  }
  return f;
}

/** milliseconds to add to UTC for the wall clock of `zone` at instant `t` */
export function offsetMs(t: number, zone?: string): number {
  const s = Math.floor(t / 1000) * 1000;
  if (zone === undefined) return -new Date(s).getTimezoneOffset() * 60_000;
  const p: Record<string, number> = {};
  for (const part of format(zone).formatToParts(s)) if (part.type !== 'literal') p[part.type] = Number(part.value);
  return Date.UTC(p.year ?? 1970, (p.month ?? 1) - 1, p.day ?? 1, p.hour ?? 0, p.minute ?? 0, p.second ?? 0) - s;
}

/** the wall-clock reading of instant `t`, as naive UTC milliseconds */
export function wallOf(t: number, zone?: string): number {
  return t + offsetMs(t, zone);
}
