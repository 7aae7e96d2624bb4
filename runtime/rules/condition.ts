/**
 * Rule conditions in CEL (DESIGN §6, §12.4), compiled once at import and type-checked, so a call
 * to a function CEL does not have is refused then, not at the first event. The variables are the
 * keys of the event's `data`, plus `event` (the envelope without data), `now` (Unix ms), `device`
 * (`{id, board}`) and `agents` (agent id → running instances); those reserved names win over data
 * keys. The context has no prototype: `constructor` or `__proto__` are unknown variables, not the
 * host's objects.
 */
import { parse } from '@marcbachmann/cel-js';
import type { EventEnvelope } from '../bus/envelope';

export interface Compiled {
  source: string;
  evaluate(vars: Record<string, unknown>): unknown;
}

export interface World {
  now: number;
  device: { id: string; board: string };
  agents: Record<string, number>;
}

export const RESERVED = ['event', 'now', 'device', 'agents'] as const;
const IDENT = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** The compiled expression, or the compiler's message (first line, with the column). */
export function compile(source: string): Compiled | string {
  try {
    const fn = parse(source);
    const checked = fn.check();
    if (!checked.valid) return firstLine(checked.error);
    return { source, evaluate: (vars) => fn(vars) as unknown };
  } catch (err) {
    return firstLine(err);
  }
}

function firstLine(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  const lines = msg.split('\n');
  const caret = lines.findIndex((l) => l.trimStart().startsWith('^'));
  const col = caret > 0 ? (lines[caret] ?? '').indexOf('^') - ((lines[caret - 1] ?? '').indexOf('|') + 2) + 1 : 0;
  return `${lines[0] ?? msg}${col > 0 ? ` (column ${col})` : ''}`;
}

export function variables(e: EventEnvelope, world: World): Record<string, unknown> {
  const vars = Object.create(null) as Record<string, unknown>;
  for (const [k, v] of Object.entries(e.data)) if (IDENT.test(k)) vars[k] = v;
  vars.event = { id: e.id, type: e.type, source: e.source, time: e.time, depth: e.depth, ...(e.causedBy ? { causedBy: e.causedBy } : {}) };
  vars.now = world.now;
  vars.device = world.device;
  vars.agents = world.agents;
  return vars;
}

/** CEL values as a stable string (dedup keys): bigints as numbers, maps with sorted keys. */
export function keyOf(v: unknown): string {
  const replacer = (_k: string, x: unknown): unknown => (typeof x === 'bigint' ? Number(x) : x instanceof Map ? Object.fromEntries([...(x as Map<unknown, unknown>).entries()].sort()) : x);
  return JSON.stringify(v, replacer) ?? 'null';
}
