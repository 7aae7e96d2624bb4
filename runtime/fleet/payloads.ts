/**
 * Every payload the fleet link publishes, as zod schemas (DESIGN §8): the link builds its messages
 * from these types, the integration suite checks what a real broker carried against them, and
 * `npm run docs` writes them into docs/fleet-payloads.md as JSON Schema.
 */
import * as z from 'zod';
import { envelopeSchema } from '../bus/envelope';
import { agentEntry, deviceSection, fleetSection } from '../dashboard/model';

/** `status`, retained: the birth */
export const birthSchema = z.strictObject({
  v: z.literal(1),
  online: z.literal(true),
  session: z.number().int().positive().describe('the device\'s connection counter (persisted): tells an old will from a new birth'),
  ts: z.number().int().describe('Unix ms when the device connected (its clock may be unsynchronised)'),
  version: z.string(),
  board: z.string(),
});
/** `status`, retained: the will (the broker publishes it when the device vanishes), or a clean stop */
export const offlineSchema = z.strictObject({
  v: z.literal(1),
  online: z.literal(false),
  session: z.number().int().nonnegative(),
  clean: z.literal(true).optional().describe('present when the daemon stopped cleanly; absent in the will'),
});
export const statusSchema = z.union([birthSchema, offlineSchema]);

const bucketed = z.number().nullable();
/** the over-the-air views of the dashboard sections (runtime/fleet/views.ts) */
export const stateViews = {
  device: deviceSection,
  resources: z.strictObject({
    cpuPercent: bucketed.describe('5-point buckets'),
    memory: z.strictObject({ totalMb: z.number(), availableMb: bucketed.describe('4 MB buckets') }).nullable(),
    disk: z.strictObject({ path: z.string(), freePercent: bucketed.describe('1 % buckets') }).nullable(),
    socTempC: bucketed.describe('2 °C buckets'),
    throttling: z.unknown().nullable(),
    store: z.strictObject({ state: z.string(), detail: z.string().optional() }),
  }),
  // the dashboard's entry with its ticking and moving figures replaced (views.ts), tokens left to /metrics
  agents: z.strictObject({
    instances: z.array(
      agentEntry.omit({ uptimeMs: true, cpuPercent: true, rssBytes: true, snapshotAt: true, tokens: true }).extend({
        startedAt: bucketed.describe('Unix ms, to the second'),
        cpuPercent: bucketed.describe('5-point buckets'),
        rssMb: bucketed.describe('4 MB buckets'),
      }),
    ),
  }),
  hal: z.strictObject({ board: z.string(), devices: z.array(z.record(z.string(), z.unknown()).describe('a HAL device without its readings (those go to tele/<type>)')) }),
  rules: z.strictObject({ etag: z.string().nullable(), rules: z.array(z.record(z.string(), z.unknown())), timers: z.record(z.string(), z.number().nullable()) }),
  fleet: fleetSection.extend({ outbox: bucketed.describe('events waiting in the outbox, in buckets of 100') }),
} as const;

/** `state/<section>`, retained */
export const stateSchema = <T extends z.ZodType>(value: T) => z.strictObject({ v: z.literal(1), rev: z.number().int().nonnegative(), at: z.number().int(), value });

/** `tele/<sensor type>` */
export const teleSchema = z.strictObject({ v: z.literal(1), value: z.number(), unit: z.string(), ts: z.number().int() });

/** `evt/audit`: one per signed remote command */
export const auditEventSchema = z.strictObject({
  v: z.literal(1),
  ts: z.number().int(),
  actor: z.string().describe('mqtt:<issuer>'),
  op: z.string().describe('the operation, area.verb'),
  outcome: z.enum(['ok', 'error', 'denied']),
  code: z.string().optional(),
});

/** `pub/<topic>`: what a rule's `publish` action sends (docs/rules.md) */
export const rulePublishSchema = z.strictObject({
  v: z.literal(1),
  rule: z.string().describe('the id of the rule that published it'),
  event: z.string().describe('the id of the event that fired the rule (in evt/<area> when exported)'),
  type: z.string().describe('that event\'s type'),
  time: z.string().describe('when the rule ran, ISO 8601'),
  data: z.record(z.string(), z.unknown()).describe('the action\'s data, or else the event\'s'),
});

/** `evt/<area>`: exported events, in the one envelope */
export const eventSchema = envelopeSchema;

export type Birth = z.infer<typeof birthSchema>;
export type Offline = z.infer<typeof offlineSchema>;
export type AuditEvent = z.infer<typeof auditEventSchema>;
export type Tele = z.infer<typeof teleSchema>;
export type RulePublish = z.infer<typeof rulePublishSchema>;
