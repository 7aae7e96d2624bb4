/**
 * The event that woke an instance (issue 17): a rule's spawn hands the whole envelope to the agent
 * (`agent.init` params, the Node SDK's `ctx.trigger`, the WASM ABI's `trigger`). It is stored with
 * the instance's spawn options, so an `always` instance that comes back after a crash or a reboot
 * still sees it. The daemon owns its size: bus producers cap event data at MAX_EVENT_DATA_BYTES,
 * but the daemon's own events are not checked there, so an envelope over MAX_TRIGGER_BYTES is
 * handed on with its data replaced by `{truncated: true, bytes}` (docs/agent-protocol.md).
 */
import * as z from 'zod';
import { type EventEnvelope, MAX_EVENT_DATA_BYTES, MAX_EVENT_DEPTH } from '../bus/envelope';

/** the data cap plus room for the envelope's own fields (their schema bounds them to < 1 KiB) */
export const MAX_TRIGGER_BYTES = MAX_EVENT_DATA_BYTES + 2048;

/**
 * The envelope's shape, without envelopeSchema's checks of type and time: the daemon's own events
 * are made without them, and a rule woken by one must still spawn (the agent treats it as input).
 */
export const triggerSchema = z.strictObject({
  v: z.literal(1),
  id: z.string().min(1).max(64),
  type: z.string().min(1).max(256),
  source: z.string().min(1).max(512),
  time: z.string().max(64),
  data: z.record(z.string(), z.unknown()),
  causedBy: z.string().max(64).optional(),
  depth: z.number().int().min(0).max(MAX_EVENT_DEPTH),
});

export function capTrigger(e: EventEnvelope): EventEnvelope {
  const bytes = Buffer.byteLength(JSON.stringify(e));
  return bytes <= MAX_TRIGGER_BYTES ? e : { ...e, data: { truncated: true, bytes } };
}
