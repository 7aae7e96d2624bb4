/**
 * The rules file, `orchestration.yaml` (DESIGN §6): a rule set with its own HAL grants and rules.
 * A rule: `id` (given, or `rule-N` by position), `on` (an event type or pattern), `if` (CEL),
 * `for`, `debounce`, `throttle`, `cooldown`, `dedup {key, ttl}`, `mode` with `max`, `timeout`,
 * limits, and one `action`: the seed's string form (`spawn(x)`, `kill(x)`, `signal(x, SIGHUP)`) or
 * the structured form (`{spawn: x, env}`, `{kill: x}`, `{signal: {target, signal}}`,
 * `{publish: {topic, data}}`, `{hal: {device, command}}`, `{steps: [... | {delay}]}`).
 */
import * as z from 'zod';
import { parseDuration } from './duration';

const duration = z.union([z.string(), z.number()]).transform((v, ctx) => {
  const ms = parseDuration(v);
  if (typeof ms === 'string') {
    ctx.addIssue({ code: 'custom', message: ms });
    return z.NEVER;
  }
  return ms;
});

const name = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/, 'an agent id or instance id');
/** `*` within a segment, `**` across: the bus's own pattern syntax (DESIGN §12.4) */
const pattern = z
  .string()
  .max(200)
  .regex(/^[a-z*][a-z0-9_*-]*:[a-z0-9_.*-]+$/, 'an event type like "git:commit_pushed", or a pattern like "hal:sensor.*" or "alert:**"');
const signal = z.enum(['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGSTOP', 'SIGCONT']);
const envRecord = z.record(z.string().regex(/^[A-Z][A-Z0-9_]*$/, 'env names are like MY_VAR').max(128), z.string().max(4096));

export const spawnAction = z.strictObject({ spawn: name, env: envRecord.optional() });
export const killAction = z.strictObject({ kill: name });
export const signalAction = z.strictObject({ signal: z.strictObject({ target: name, signal }) });
/**
 * Sent as `openstarry/v1/<device>/pub/<topic>` (fleet/topics.ts): lower-case words, at most 8
 * levels and 128 bytes, so no MQTT wildcard (`+`, `#`), no `..` or empty level, no `$` and no way
 * out of the device's own `pub/` (issue 17).
 */
export const publishTopic = z
  .string()
  .max(128, 'a publish topic is at most 128 characters')
  .regex(/^[a-z0-9_-]+(\/[a-z0-9_-]+){0,7}$/, 'a relative topic under the device\'s pub/: lower-case words separated by /, at most 8 levels; no + # . $, no empty level, no leading or trailing /');

export const publishAction = z.strictObject({
  publish: z.strictObject({
    topic: publishTopic,
    data: z.record(z.string(), z.unknown()).optional(),
  }),
});
export const halAction = z.strictObject({ hal: z.strictObject({ device: z.string().min(1).max(64), command: z.union([z.string().min(1).max(64), z.record(z.string(), z.unknown())]) }) });

const single = z.union([spawnAction, killAction, signalAction, publishAction, halAction]);
const step = z.union([single, z.strictObject({ delay: duration })]);
export const structuredAction = z.union([single, z.strictObject({ steps: z.array(step).min(1).max(32) })]);

export const ruleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9_.-]{0,63}$/, 'rule ids are lower-case words: letters, digits, _ . and -').optional(),
  description: z.string().max(500).optional(),
  enabled: z.boolean().default(true),
  on: z.union([pattern, z.array(pattern).min(1).max(16)]),
  if: z.string().min(1).max(2000).optional(),
  for: duration.optional().describe('the condition must hold this long (re-checked on each matching event); then the action runs once'),
  debounce: duration.optional().describe('trailing: run once the events have been quiet this long, with the last one'),
  throttle: duration.optional().describe('leading: run on the first event, then ignore matches for this long'),
  cooldown: duration.optional().describe('after a run ends, ignore matches for this long'),
  dedup: z.strictObject({ key: z.string().min(1).max(500).describe('a CEL expression; the same value within ttl runs once'), ttl: duration }).optional(),
  mode: z.enum(['single', 'restart', 'queued', 'parallel']).default('single'),
  max: z.number().int().min(1).max(100).default(10).describe('queued: events waiting; parallel: runs at once'),
  timeout: duration.optional().describe('kill what the run spawned after this long'),
  maxDepth: z.number().int().min(0).max(15).default(4).describe('ignore events this many rule actions deep'),
  maxPerMinute: z.number().int().min(1).max(600).default(30).describe('actions this rule may start per minute'),
  action: z.union([z.string().min(1).max(500), structuredAction]),
});

export const ruleSetSchema = z.strictObject({
  version: z.literal(1).default(1),
  description: z.string().max(500).optional(),
  grants: z.strictObject({ actuators: z.array(z.string().min(1).max(64)).max(64).default([]) }).prefault({}).describe('what hal actions of this rule set may command'),
  timers: z
    .record(z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'timer names are lower-case words'), z.string().min(1).max(100))
    .default({})
    .describe('cron timers: each raises cron:<name> at its times (device local time)'),
  rules: z.array(ruleSchema).max(500),
});

export type RuleInput = z.infer<typeof ruleSchema>;
export type RuleSetInput = z.infer<typeof ruleSetSchema>;
export type StructuredAction = z.infer<typeof structuredAction>;
