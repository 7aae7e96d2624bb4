/**
 * Reading a rules file (DESIGN §6): YAML with positions, the schema, then what the schema cannot
 * see — duplicate ids, CEL that does not compile, actions that do not parse, hal actions outside
 * the rule set's grants. Every problem is reported at once, each with its rule id and line:column;
 * nothing is applied unless there are none.
 */
import crypto from 'node:crypto';
import { envNameRefusal } from '../agents/env-policy';
import { LineCounter, parseDocument, type Node } from 'yaml';
import { OszError } from '../errors';
import { normaliseAction, type Step } from './action';
import { compile, type Compiled } from './condition';
import { type Cron, parseCron } from './cron';
import { ruleSetSchema, type RuleInput } from './schema';

import { MAX_RULES_BYTES } from './limits';

export { MAX_RULES_BYTES };

export interface Rule extends Omit<RuleInput, 'id' | 'on' | 'if' | 'action' | 'dedup'> {
  id: string;
  on: string[];
  condition?: Compiled;
  dedup?: { key: Compiled; ttl: number };
  steps: Step[];
  /** the action as written, for listings */
  actionText: string;
  /** the agents its spawn steps name, each where it is written (for "not installed" warnings) */
  spawns: Array<{ agent: string; line?: number; column?: number }>;
}

export interface RuleSet {
  etag: string;
  source: string;
  grants: { actuators: string[] };
  timers: Map<string, Cron>;
  rules: Rule[];
}

export interface RuleProblem {
  rule?: string;
  line?: number;
  column?: number;
  message: string;
}

export function loadRuleSet(text: string, file = 'orchestration.yaml'): RuleSet {
  const problems: RuleProblem[] = [];
  if (Buffer.byteLength(text) > MAX_RULES_BYTES) {
    throw rulesError(file, [{ message: `the file is ${Buffer.byteLength(text)} bytes; rules files are at most ${MAX_RULES_BYTES} bytes` }]);
  }
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  for (const e of doc.errors) problems.push({ message: e.message.split('\n')[0] ?? e.message, ...at(lines, e.pos[0]) });
  if (problems.length) throw rulesError(file, problems);
  let raw: unknown;
  try {
    raw = doc.toJS({ maxAliasCount: 50 });
  } catch (err) {
    // yaml refuses alias bombs ("billion laughs") here
    throw rulesError(file, [{ message: (err as Error).message }]);
  }
  const idAt = (i: number): string => {
    const r = (raw as { rules?: Array<{ id?: unknown }> } | null)?.rules?.[i];
    return typeof r?.id === 'string' ? r.id : `rule-${i + 1}`;
  };
  const posOf = (path: readonly PropertyKey[]): { line?: number; column?: number } => {
    for (let n = path.length; n >= 0; n--) {
      const node = doc.getIn(path.slice(0, n) as (string | number)[], true) as Node | undefined;
      if (node && typeof node === 'object' && 'range' in node && node.range) return at(lines, node.range[0]);
    }
    return {};
  };
  const parsed = ruleSetSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    for (const i of parsed.error.issues) {
      const ruleIndex = i.path[0] === 'rules' && typeof i.path[1] === 'number' ? i.path[1] : undefined;
      const where = i.path.map(String).join('.');
      // an unknown key is pointed at where it is written, not at its rule
      const path = i.code === 'unrecognized_keys' && i.keys[0] !== undefined ? [...i.path, i.keys[0]] : i.path;
      problems.push({ ...(ruleIndex !== undefined ? { rule: idAt(ruleIndex) } : {}), ...posOf(path), message: `${where ? `${where}: ` : ''}${i.message}` });
    }
    throw rulesError(file, problems);
  }
  const set = parsed.data;
  const timers = new Map<string, Cron>();
  for (const [name, expr] of Object.entries(set.timers)) {
    const c = parseCron(expr);
    if (typeof c === 'string') problems.push({ ...posOf(['timers', name]), message: `timers.${name}: ${c}` });
    else timers.set(name, c);
  }
  const seen = new Set<string>();
  const rules: Rule[] = [];
  set.rules.forEach((r, i) => {
    const id = r.id ?? `rule-${i + 1}`;
    const here = (key: string): RuleProblem => ({ rule: id, ...posOf(['rules', i, key]), message: '' });
    if (seen.has(id)) problems.push({ ...here('id'), message: `rule id "${id}" is used twice` });
    seen.add(id);
    let condition: Compiled | undefined;
    if (r.if !== undefined) {
      const c = compile(r.if);
      if (typeof c === 'string') problems.push({ ...here('if'), message: `if: ${c}` });
      else condition = c;
    }
    let dedup: Rule['dedup'];
    if (r.dedup) {
      const c = compile(r.dedup.key);
      if (typeof c === 'string') problems.push({ ...here('dedup'), message: `dedup.key: ${c}` });
      else dedup = { key: c, ttl: r.dedup.ttl };
    }
    const steps = normaliseAction(r.action);
    if (typeof steps === 'string') problems.push({ ...here('action'), message: `action: ${steps}` });
    else {
      for (const s of steps) {
        if (s.kind === 'hal' && !set.grants.actuators.includes(s.device)) {
          problems.push({ ...here('action'), message: `action: commands actuator "${s.device}", which grants.actuators of this rule set does not list` });
        }
        // the agents' env policy at apply time, not only when the rule fires
        for (const name of s.kind === 'spawn' ? Object.keys(s.env ?? {}) : []) {
          const why = envNameRefusal(name);
          if (why) problems.push({ ...here('action'), message: `action: env "${name}" refused: ${why}` });
        }
      }
    }
    if (r.debounce !== undefined && r.throttle !== undefined) problems.push({ ...here('throttle'), message: 'debounce (trailing) and throttle (leading) contradict each other; keep one' });
    const { id: _id, on, if: _if, action, dedup: _d, ...rest } = r;
    const stepList = typeof steps === 'string' ? [] : steps;
    // a string action points at itself; a structured one at its spawn key (in `steps`, at its step)
    const spawnPath = (k: number): PropertyKey[] => (typeof action === 'string' ? ['rules', i, 'action'] : 'steps' in action ? ['rules', i, 'action', 'steps', k, 'spawn'] : ['rules', i, 'action', 'spawn']);
    const spawns = stepList.flatMap((st, k) => (st.kind === 'spawn' ? [{ agent: st.agent, ...posOf(spawnPath(k)) }] : []));
    rules.push({ ...rest, id, on: typeof on === 'string' ? [on] : on, ...(condition ? { condition } : {}), ...(dedup ? { dedup } : {}), steps: stepList, actionText: typeof action === 'string' ? action : JSON.stringify(action), spawns });
  });
  if (problems.length) throw rulesError(file, problems);
  return { etag: etagOf(text), source: text, grants: set.grants, timers, rules };
}

/** a rule set's etag: the first 16 hex digits of the sha256 of its source */
export function etagOf(text: string): string {
  return crypto.createHash('sha256').update(text).digest('hex').slice(0, 16);
}

function at(lines: LineCounter, offset: number): { line: number; column: number } {
  const p = lines.linePos(offset);
  return { line: p.line, column: p.col };
}

function rulesError(file: string, problems: RuleProblem[]): OszError {
  const shown = problems.slice(0, 50);
  const text = shown.map((p) => `  - ${p.rule ? `rule ${p.rule}` : file}${p.line ? ` (line ${p.line}:${p.column ?? 0})` : ''}: ${p.message}`).join('\n');
  const more = problems.length > shown.length ? `\n  … and ${problems.length - shown.length} more` : '';
  return new OszError('OSZ_E_RULES', `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}; the previous rule set stays active:\n${text}${more}`, { problems: shown });
}
