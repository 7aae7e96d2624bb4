/** Refused garbage: counted per kind, logged at most once a minute per kind. */
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { NoiseLog } from '../../../../runtime/fleet/noise';

describe('the noise log', () => {
  beforeEach(() => vi.useFakeTimers({ now: Date.UTC(2025, 0, 1) }));
  afterEach(() => vi.useRealTimers());

  it('logs the first of a kind at once and the rest of the minute as one summary line', () => {
    const lines: string[] = [];
    const log = new NoiseLog((m) => lines.push(m));
    for (let i = 0; i < 5000; i++) log.note('unsigned', `on t/${i}: OSZ_E_BAD_SIGNATURE: issuer x is not in fleet.issuers`);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('on t/0:');
    vi.advanceTimersByTime(59_999);
    expect(lines).toHaveLength(1);
    vi.advanceTimersByTime(1);
    expect(lines).toHaveLength(2);
    expect(lines[1]).toMatch(/^refused 4999 unsigned commands in the last 60 s \(5000 since start\); the latest on t\/4999:/);
    // a quiet minute writes nothing; the next one is logged at once again
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(2);
    log.note('unsigned', 'on t/x: again');
    expect(lines).toHaveLength(3);
    expect(lines[2]).toMatch(/^refused 1 unsigned command in the last 120 s/);
    expect(log.counts.unsigned).toBe(5001);
    log.stop();
  });

  it('limits each kind on its own and counts them all', () => {
    const lines: string[] = [];
    const log = new NoiseLog((m) => lines.push(m));
    for (let i = 0; i < 100; i++) {
      log.note('oversize', 'o');
      log.note('unparseable', 'u');
      log.note('bad-signature', 'b');
    }
    expect(lines).toHaveLength(3);
    expect(log.counts).toEqual({ oversize: 100, unparseable: 100, misdirected: 0, unsigned: 0, 'bad-signature': 100 });
    expect(log.total).toBe(300);
    // stopped: the pending summaries are dropped, not written after the link is gone
    log.stop();
    vi.advanceTimersByTime(120_000);
    expect(lines).toHaveLength(3);
  });
});
