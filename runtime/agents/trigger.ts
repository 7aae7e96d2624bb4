/**
 * The event that woke an instance (issue 17): a rule's spawn hands the whole envelope to the agent
 * (`agent.init` params, the Node SDK's `ctx.trigger`, the WASM ABI's `trigger`). It is stored with
 * the instance's spawn options, so an `always` instance that comes back after a crash or a reboot
 * still sees it. The daemon owns its size: bus producers cap event data at MAX_EVENT_DATA_BYTES,
 * but the daemon's own events are not checked there, so an envelope over MAX_TRIGGER_BYTES is
 * handed on with its data replaced by `{truncated: true, bytes}` (docs/agent-protocol.md).
 */
import { type EventEnvelope, MAX_EVENT_DATA_BYTES } from '../bus/envelope';

/** the data cap plus room for the envelope's own fields (their schema bounds them to < 1 KiB) */
export const MAX_TRIGGER_BYTES = MAX_EVENT_DATA_BYTES + 2048;

export function capTrigger(e: EventEnvelope): EventEnvelope {
  const bytes = Buffer.byteLength(JSON.stringify(e));
  return bytes <= MAX_TRIGGER_BYTES ? e : { ...e, data: { truncated: true, bytes } };
}
