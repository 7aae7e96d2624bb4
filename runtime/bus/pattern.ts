/**
 * Event type patterns (DESIGN §12.4): `*` matches within one dot segment, `**` across segments.
 * `hal:sensor.*` matches `hal:sensor.temperature` but not `hal:sensor.a.b`; `hal:**` matches all
 * of `hal:`. The area before the colon is matched the same way, treating `:` as a separator.
 */
const cache = new Map<string, RegExp>();

export function compilePattern(pattern: string): RegExp {
  const hit = cache.get(pattern);
  if (hit) return hit;
  let re = '';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i] ?? '';
    if (ch === '*' && pattern[i + 1] === '*') {
      re += '.*';
      i++;
    } else if (ch === '*') {
      re += '[^.:]*';
    } else {
      re += ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
    }
  }
  const compiled = new RegExp(`^${re}$`);
  if (cache.size > 1000) cache.clear();
  cache.set(pattern, compiled);
  return compiled;
}

export function matchesPattern(pattern: string, type: string): boolean {
  return compilePattern(pattern).test(type);
}

export function matchesAny(patterns: readonly string[], type: string): boolean {
  return patterns.some((p) => matchesPattern(p, type));
}
