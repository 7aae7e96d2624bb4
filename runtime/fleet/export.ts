/**
 * What of the bus goes to the collector, decided where the event log is written (the event
 * journal), from the moment the store opens: so events of the start-up, before the link is up,
 * are exported once it is, and the outbox keeps event-log order (issue 17). Loaded without MQTT.js.
 */
import type { EventEnvelope } from '../bus/envelope';
import { matchesAny } from '../bus/pattern';
import type { JournalExport } from '../store/event-journal';
import type { OutboxBounds } from '../store/outbox-repo';
import type { RulePublish } from './payloads';
import { topics } from './topics';

export function fleetExport(f: { export: readonly string[]; outbox: OutboxBounds }, deviceId: string): JournalExport {
  const t = topics(deviceId);
  return {
    topic: (e: EventEnvelope) => (matchesAny(f.export, e.type) ? t.evt(e.type.slice(0, e.type.indexOf(':'))) : undefined),
    bounds: f.outbox,
  };
}

/** a rule's publish: its topic under the device's own `pub/`, and its payload */
export function rulePublish(deviceId: string, topic: string, message: RulePublish): { topic: string; payload: string } {
  return { topic: topics(deviceId).pub(topic), payload: JSON.stringify(message) };
}
