/**
 * The Node agent SDK's types (docs/agent-protocol.md). A Node agent is an ES module whose default
 * export is an AgentDefinition; the SDK runner speaks the agent protocol for it. This file holds
 * declarations only, so the build copies it as `types.d.ts` for agents scaffolded outside the repo.
 */

export interface EventEnvelope {
  v: 1;
  id: string;
  type: string;
  source: string;
  time: string;
  data: Record<string, unknown>;
  causedBy?: string;
  depth: number;
}

export interface PluginMount {
  name: string;
  path: string;
  config?: unknown;
}

export interface SensorReading {
  value: number;
  unit: string;
  ts: number;
  deviceId: string;
}

export interface AgentContext {
  readonly agentId: string;
  readonly instance: string;
  /** the agent's own writable data dir (OPENSTARRY_HOME) */
  readonly home: string;
  readonly plugins: readonly PluginMount[];
  /**
   * The event that woke this instance when a rule spawned it (the whole envelope: `trigger.data.branch`
   * of a `git:commit_pushed`), the same after a restart of the instance; null when an operator
   * spawned it. Set before `init` runs. Over 66 KiB, its data is `{truncated: true, bytes}`.
   */
  readonly trigger: EventEnvelope | null;
  readonly log: {
    debug(msg: string): void;
    info(msg: string): void;
    warn(msg: string): void;
    error(msg: string): void;
  };
  /** publishes an event on the daemon's bus; the type must match capabilities.events.emit */
  emit(type: string, data?: Record<string, unknown>): Promise<void>;
  readonly hal: {
    /** the latest value of a granted sensor type (`type` or `type@deviceId`) */
    read(sensorType: string): Promise<number>;
    reading(sensorType: string): Promise<SensorReading>;
    /** drives a granted actuator */
    actuate(deviceId: string, command: unknown): Promise<void>;
    /** the latest JPEG still of a granted camera */
    camera(deviceId: string): Promise<{ jpeg: Uint8Array; ts: number }>;
  };
  readonly timers: {
    /** delivers a `timer:<name>` event after `ms` (every `ms` with repeat) */
    set(name: string, ms: number, opts?: { repeat?: boolean }): Promise<void>;
    clear(name: string): Promise<void>;
  };
  /** reports LLM or API tokens used, counted against limits.tokensPerHour */
  tokens(n: number): void;
}

export interface AgentDefinition {
  init?(ctx: AgentContext): Promise<void> | void;
  onEvent?(event: EventEnvelope, ctx: AgentContext): Promise<void> | void;
  /** the agent's state for the dashboard: small JSON */
  snapshot?(ctx: AgentContext): unknown;
  /** called on stop (TERM); the process exits when it returns */
  stop?(ctx: AgentContext): Promise<void> | void;
  /** SIGHUP / SIGUSR1 / SIGUSR2 delivered with `openstarryctl signal`; without it they are logged and ignored, never end the agent */
  onSignal?(signal: string, ctx: AgentContext): Promise<void> | void;
}
