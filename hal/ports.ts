/**
 * What the HAL needs from outside (DESIGN §2, §5): an audit sink and an event sink. Grants come
 * with each call (the caller's manifest, resolved by the runtime from the channel the request
 * arrived on, never from what an agent claims). The HAL never imports `runtime/`; the composition
 * root adapts the store and the bus to these.
 */

/** Hardware an agent may use, from its manifest's `capabilities.hal` (deny by default). */
export interface HalGrants {
  sensors: readonly string[];
  actuators: readonly string[];
  cameras: readonly string[];
}

/** Who is asking: an agent instance with its grants, or the operator (CLI, REST), who needs none. */
export type HalCaller = { kind: 'agent'; agentId: string; instance: string; grants: HalGrants } | { kind: 'operator'; actor: string };

export interface HalAuditEntry {
  ts: number;
  actor: string;
  op: 'read' | 'actuate' | 'safe-state';
  deviceId: string;
  outcome: 'ok' | 'denied' | 'error';
  code?: string;
  detail?: Record<string, unknown>;
}

export interface AuditSink {
  /** must not throw: a full disk cannot stop an actuator from reaching its safe state */
  record(entry: HalAuditEntry): void;
}

export interface HalEventSink {
  /** `hal:sensor.<type>`, `hal:gpio.<alias>`, `hal:actuator.<id>` in the shared envelope (DESIGN §12.4) */
  emit(type: string, data: Record<string, unknown>): void;
}

export const actorOf = (c: HalCaller): string => (c.kind === 'agent' ? `agent:${c.agentId}/${c.instance}` : c.actor);
