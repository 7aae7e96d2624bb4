/**
 * The one dashboard model (DESIGN §12.8): sections `device, resources, agents, hal, rules, fleet`,
 * each typed here and carrying its own revision, bumped only when its content changes. The
 * projector is its only writer; `dashboard.get`, `dashboard.watch`, the status page and MQTT
 * `state/<section>` read it.
 */
import * as z from 'zod';

export const SECTIONS = ['device', 'resources', 'agents', 'hal', 'rules', 'fleet'] as const;
export type SectionName = (typeof SECTIONS)[number];

export const deviceSection = z.strictObject({
  id: z.string(),
  board: z.string(),
  version: z.string(),
  node: z.string(),
  startedAt: z.number(),
});

export const resourcesSection = z.strictObject({
  cpuPercent: z.number().nullable(),
  memory: z.strictObject({ totalBytes: z.number(), availableBytes: z.number() }).nullable(),
  disk: z.strictObject({ path: z.string(), totalBytes: z.number(), freeBytes: z.number() }).nullable(),
  socTempC: z.number().nullable(),
  throttling: z.unknown().nullable(),
  store: z.strictObject({ state: z.string(), detail: z.string().optional() }),
});

export const agentEntry = z.strictObject({
  instance: z.string(),
  agent: z.string(),
  driver: z.string(),
  state: z.string(),
  restarts: z.number(),
  uptimeMs: z.number().nullable(),
  cpuPercent: z.number().nullable(),
  rssBytes: z.number().nullable(),
  reason: z.string().nullable(),
  tokens: z.number().describe('tokens the agent reported since the instance started'),
  /** the agent's latest state snapshot (JSON, capped), and when it was taken */
  snapshot: z.unknown().nullable(),
  snapshotAt: z.number().nullable(),
  /** why the latest poll gave no snapshot: a timeout, garbage, a crash mid-call */
  snapshotError: z.string().optional(),
});

export const agentsSection = z.strictObject({ instances: z.array(agentEntry) });
export const halSection = z.strictObject({ board: z.string(), devices: z.array(z.unknown()) });
export const rulesSection = z.strictObject({ etag: z.string().nullable(), rules: z.array(z.unknown()), timers: z.record(z.string(), z.number().nullable()) });
export const fleetSection = z.strictObject({ state: z.enum(['disabled', 'connecting', 'online', 'offline']), broker: z.string().nullable(), outbox: z.number() });

export interface DashboardSections {
  device: z.infer<typeof deviceSection>;
  resources: z.infer<typeof resourcesSection>;
  agents: z.infer<typeof agentsSection>;
  hal: z.infer<typeof halSection>;
  rules: z.infer<typeof rulesSection>;
  fleet: z.infer<typeof fleetSection>;
}

export type AgentEntry = z.infer<typeof agentEntry>;

export interface Section<K extends SectionName = SectionName> {
  name: K;
  /** schema version of the section's shape */
  v: 1;
  /** bumped on every change of `value` */
  rev: number;
  at: number;
  value: DashboardSections[K];
}

export type Dashboard = { [K in SectionName]?: Section<K> };
