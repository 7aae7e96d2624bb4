/** rules.* and events.* operations (DESIGN §12.15): replace, read, list and dry-run rule sets; tail and emit events. */
import * as z from 'zod';
import { envelopeSchema, makeEvent, type EventEnvelope, EVENT_TYPE, MAX_EVENT_DATA_BYTES } from '../../bus/envelope';
import { matchesPattern } from '../../bus/pattern';
import { OszError } from '../../errors';
import { MAX_RULES_BYTES } from '../../rules/limits';
import type { LazyRules } from '../../rules/lazy';
import { defineOp, streaming } from '../op';

const data = z.record(z.string().max(128), z.unknown()).refine((d) => Buffer.byteLength(JSON.stringify(d)) <= MAX_EVENT_DATA_BYTES, `event data is at most ${MAX_EVENT_DATA_BYTES} bytes`);
const eventType = z.string().max(200).regex(EVENT_TYPE, 'event types look like "area:thing" (lower case), e.g. git:commit_pushed');

const RESERVED_AREAS = ['agent', 'hal', 'rules', 'timer'];

function requireRules(rules: LazyRules | undefined): LazyRules {
  if (!rules) throw new OszError('OSZ_E_DRIVER_UNAVAILABLE', 'the rule engine is not running in this daemon');
  return rules;
}

/** `rules test` takes a whole envelope, or the shorthand `{type, ...data}` (DESIGN §12.4). */
export function eventFromTestInput(input: Record<string, unknown>): EventEnvelope {
  if ('v' in input && 'id' in input) {
    const r = envelopeSchema.safeParse(input);
    if (!r.success) throw new OszError('OSZ_E_INVALID_PARAMS', `not an event envelope: ${r.error.issues.map((i) => `${i.path.join('.') || 'event'}: ${i.message}`).join('; ')}`);
    return r.data;
  }
  const { type, ...rest } = input;
  const t = eventType.safeParse(type);
  if (!t.success) throw new OszError('OSZ_E_INVALID_PARAMS', `"type" must be an event type like "git:commit_pushed"${typeof type === 'string' ? `, not "${type.slice(0, 60)}"` : ''}`);
  return makeEvent({ type: t.data, source: 'rules.test', data: rest });
}

export const ruleOps = [
  defineOp({
    name: 'rules.apply',
    summary: 'replace the rule set with a rules file (all problems reported at once; the old set stays on any)',
    params: z.strictObject({
      source: z.string().max(MAX_RULES_BYTES * 2),
      file: z.string().min(1).max(4096).default('orchestration.yaml'),
      ifMatch: z.string().regex(/^(none|[0-9a-f]{8,64})$/).optional().describe('apply only over this etag (from rules.get); "none": only when no rule set is active'),
    }),
    role: 'admin',
    mutating: true,
    remote: true,
    redact: ['source'],
    handler: (p, { services, caller }) => requireRules(services.rules).apply(p.source, p.file, caller.actor, p.ifMatch),
  }),
  defineOp({
    name: 'rules.get',
    summary: 'the active rule set: its source, etag, and who applied it when',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: true,
    handler: (_p, { services }) => requireRules(services.rules).get() ?? null,
  }),
  defineOp({
    name: 'rules.list',
    summary: 'the active rules with their counters: matched, fired, suppressed (and why), evaluation errors, runs',
    params: z.strictObject({}),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (_p, { services }) => requireRules(services.rules).list(),
  }),
  defineOp({
    name: 'rules.test',
    summary: 'dry run: which rules an event would fire, what they would do, and why the others would not',
    params: z.strictObject({ event: z.record(z.string(), z.unknown()) }),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: async (p, { services }) => {
      const e = eventFromTestInput(p.event);
      const rules = requireRules(services.rules);
      return { event: e, verdicts: await rules.test(e), warnings: rules.warnings() };
    },
  }),
  defineOp({
    name: 'events.tail',
    summary: 'the latest events from the event log (and with follow, every new one)',
    params: z.strictObject({ lines: z.number().int().min(0).max(10_000).default(50), type: z.string().max(200).optional(), follow: z.boolean().default(false) }),
    role: 'viewer',
    mutating: false,
    remote: false,
    handler: (p, { services }) => {
      services.store.journal.flush();
      const pattern = p.type;
      // the pattern's literal start narrows the query in SQLite; the pattern itself decides
      const prefix = pattern?.slice(0, pattern.search(/\*|$/));
      const recent = services.store.events.recent(pattern ? 10_000 : p.lines, prefix || undefined).filter((e) => !pattern || matchesPattern(pattern, e.type)).slice(-p.lines);
      if (!p.follow) return recent;
      return streaming(recent, (send) => {
        const owner = `events.tail:${Math.random()}`;
        services.bus.on(owner, pattern ?? '**', (e) => send(e));
        return () => services.bus.removeOwner(owner);
      });
    },
  }),
  defineOp({
    name: 'events.emit',
    summary: 'raise an event as the operator (it enters the rule engine like any other); answered once it is on disk',
    params: z.strictObject({ type: eventType, data: data.default({}) }),
    role: 'operator',
    mutating: true,
    remote: true,
    handler: async (p, { services, caller }) => {
      // what the daemon itself reports (agent lifecycle, HAL readings, rule outcomes) cannot be forged:
      // a fake hal:sensor reading could otherwise drive actuators through rules
      const area = p.type.slice(0, p.type.indexOf(':'));
      if (RESERVED_AREAS.includes(area)) throw new OszError('OSZ_E_FORBIDDEN', `"${area}:" events come from the daemon only; emit under another area, e.g. test:${p.type.slice(area.length + 1)}`);
      const e = services.bus.emit({ type: p.type, source: `operator:${caller.actor}`, data: p.data });
      // answered once the event is in the event log and, when exported, the outbox (issue 17)
      await services.store.journal.durable();
      return e;
    },
  }),
];
