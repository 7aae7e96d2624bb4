import { describe, expect, it } from 'vitest';
import { Telemetry } from '../../../../runtime/fleet/telemetry';

describe('sensor telemetry', () => {
  it('sends on a move past the deadband, never more often than minIntervalMs, and at least every maxIntervalMs', () => {
    let now = 0;
    const t = new Telemetry({ temperature: { deadband: 0.5, minIntervalMs: 10_000, maxIntervalMs: 60_000 } }, () => now);
    const sent: number[] = [];
    const offer = (v: number): void => {
      const p = t.offer('temperature', v, '°C', now);
      if (p) sent.push((JSON.parse(p) as { value: number }).value);
    };
    offer(21.0); // first: sent
    now = 5_000;
    offer(25.0); // too soon
    now = 15_000;
    offer(21.3); // within the deadband
    now = 20_000;
    offer(21.6); // moved 0.6: sent
    now = 79_000;
    offer(21.7); // quiet but under maxInterval
    now = 81_000;
    offer(21.7); // maxInterval passed: sent though unchanged
    expect(sent).toEqual([21.0, 21.6, 21.7]);
    expect(t.offer('humidity', 50, '%', 0)).toBeUndefined();
    expect(t.offer('temperature', Number.NaN, '°C', 0)).toBeUndefined();
  });
});
