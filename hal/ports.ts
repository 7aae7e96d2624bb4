/**
 * What the HAL needs from outside (DESIGN §2, §5): grants per caller, an audit sink and an event
 * sink. The HAL depends only on these interfaces and never imports `runtime/`; the composition
 * root adapts the store and the bus to them. The HAL facade itself arrives with issue 4; until
 * then the runtime answers hardware requests with HAL_E_UNAVAILABLE (runtime/agents/hal-port.ts).
 */

/** Hardware an agent may use, from its manifest's `capabilities.hal` (deny by default). */
export interface HalGrants {
  sensors: readonly string[];
  actuators: readonly string[];
  cameras: readonly string[];
}

export interface GrantResolver {
  /** grants of a running instance; undefined for an unknown instance (treated as no grants) */
  grantsOf(instance: string): HalGrants | undefined;
}

export interface HalAuditEntry {
  ts: number;
  actor: string;
  op: 'read' | 'actuate' | 'camera' | 'safe-state';
  deviceId: string;
  outcome: 'ok' | 'denied' | 'error';
  code?: string;
  detail?: unknown;
}

export interface AuditSink {
  /** must not throw: a full disk cannot stop an actuator from reaching its safe state */
  record(entry: HalAuditEntry): void;
}

export interface HalEventSink {
  /** `hal:sensor.<type>`, `hal:gpio.<alias>`, `hal:result` in the shared envelope (DESIGN §12.4) */
  emit(type: string, data: Record<string, unknown>): void;
}
