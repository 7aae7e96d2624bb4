/** Rule durations: `250ms`, `5s`, `10m`, `2h`, `1d`, or a number of milliseconds; at most 7 days. */
const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };
export const MAX_DURATION_MS = 7 * 86_400_000;

/** Milliseconds, or a message saying what is wrong. */
export function parseDuration(v: unknown): number | string {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= MAX_DURATION_MS ? v : `a duration in ms is a whole number from 0 to ${MAX_DURATION_MS}`;
  if (typeof v !== 'string') return 'a duration is like "500ms", "5s", "10m", "2h" or "1d"';
  const m = /^(\d{1,9})(ms|s|m|h|d)$/.exec(v.trim());
  if (!m) return `"${v.slice(0, 20)}" is not a duration; write it like "500ms", "5s", "10m", "2h" or "1d"`;
  const ms = Number(m[1]) * (UNITS[m[2] ?? ''] ?? 1);
  return ms <= MAX_DURATION_MS ? ms : 'durations are at most 7 days';
}
