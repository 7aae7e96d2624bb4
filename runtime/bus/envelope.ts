/**
 * The event envelope every event travels in (DESIGN §12.4): bus, agent emit, HAL, webhooks,
 * probes, timers, MQTT evt/*, the event log, SSE and `rules test` all use this one shape.
 */
import crypto from 'node:crypto';
import * as z from 'zod';
import { EVENT_TYPE, MAX_EVENT_DATA_BYTES, MAX_EVENT_DEPTH } from './limits';

export { EVENT_TYPE, MAX_EVENT_DATA_BYTES, MAX_EVENT_DEPTH };

export const envelopeSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().min(1).max(64),
  type: z.string().max(200).regex(EVENT_TYPE, 'event types look like "area:thing" (lower case), e.g. git:commit_pushed'),
  source: z.string().min(1).max(200),
  time: z.iso.datetime(),
  data: z.record(z.string(), z.unknown()),
  causedBy: z.string().max(64).optional(),
  depth: z.number().int().min(0).max(MAX_EVENT_DEPTH),
});

export type EventEnvelope = z.infer<typeof envelopeSchema>;

export interface NewEvent {
  type: string;
  source: string;
  data?: Record<string, unknown>;
  /** the event this one was caused by; depth follows from it */
  cause?: Pick<EventEnvelope, 'id' | 'depth'>;
}

export function makeEvent(e: NewEvent, now = new Date()): EventEnvelope {
  return {
    v: 1,
    id: crypto.randomUUID(),
    type: e.type,
    source: e.source,
    time: now.toISOString(),
    data: e.data ?? {},
    ...(e.cause ? { causedBy: e.cause.id } : {}),
    // capped: a chain past the cap stays at it, and rules (maxDepth ≤ 15) ignore it
    depth: e.cause ? Math.min(e.cause.depth + 1, MAX_EVENT_DEPTH) : 0,
  };
}
