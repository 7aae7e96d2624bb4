/**
 * Sensor telemetry for the collector (DESIGN §8): `tele/<sensor type>` at QoS 0, per channel with a
 * deadband (a reading is sent only when it moved at least this much from the last one sent), a
 * minimum interval (never more often) and a maximum interval (at least this often, so a collector
 * sees a steady sensor is alive). Configured per type in `fleet.telemetry`; nothing is sent for
 * types that are not listed.
 */
import type { Tele } from './payloads';

export interface TelemetryRule {
  deadband: number;
  minIntervalMs: number;
  maxIntervalMs: number;
}

export class Telemetry {
  private readonly last = new Map<string, { value: number; at: number }>();

  constructor(
    private readonly rules: Readonly<Record<string, TelemetryRule>>,
    private readonly now: () => number = Date.now,
  ) {}

  /** the payload to send for this reading, or undefined when it should not be sent */
  offer(type: string, value: number, unit: string, ts: number): string | undefined {
    const rule = this.rules[type];
    if (!rule || !Number.isFinite(value)) return undefined;
    const now = this.now();
    const prev = this.last.get(type);
    if (prev) {
      const since = now - prev.at;
      if (since < rule.minIntervalMs) return undefined;
      if (Math.abs(value - prev.value) < rule.deadband && since < rule.maxIntervalMs) return undefined;
    }
    this.last.set(type, { value, at: now });
    return JSON.stringify({ v: 1, value, unit, ts } satisfies Tele);
  }
}
