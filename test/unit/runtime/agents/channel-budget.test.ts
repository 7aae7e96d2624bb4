import { describe, expect, it } from 'vitest';
import { ChannelBudget } from '../../../../runtime/agents/channel-budget';

/** a budget on a hand-driven clock, so refills are exact */
function budgetAt(messagesPerSecond: number, bytesPerSecond: number): { b: ChannelBudget; advance: (ms: number) => void } {
  let t = 0;
  return { b: new ChannelBudget({ messagesPerSecond, bytesPerSecond }, () => t), advance: (ms) => void (t += ms) };
}

/** charges messages until one answers a pause; how many went through before it, and the pause */
function untilPause(b: ChannelBudget, bytes: number, max = 1_000_000): { passed: number; pauseMs: number } {
  for (let i = 0; i < max; i++) {
    const ms = b.charge(bytes);
    if (ms > 0) return { passed: i, pauseMs: ms };
  }
  return { passed: max, pauseMs: 0 };
}

describe('channel budget', () => {
  it('passes a burst of twice the message rate, then pauses until half a second of rate is back', () => {
    const { b, advance } = budgetAt(100, 1024 * 1024);
    expect(untilPause(b, 10)).toEqual({ passed: 200, pauseMs: 510 });
    expect(b.over).toBe('messages');
    // after the pause, runs of about half a second's worth pass before the next pause
    advance(510);
    expect(untilPause(b, 10).passed).toBe(50);
  });

  it('holds a sender to the rate over time: what passes is the burst plus the rate times the time', () => {
    const { b, advance } = budgetAt(1000, 1024 * 1024);
    let handled = 0;
    let t = 0;
    // a sender that writes whenever the channel is read: 10 simulated seconds
    while (t < 10_000) {
      const ms = b.charge(50);
      handled++;
      if (ms > 0) {
        advance(ms);
        t += ms;
      }
    }
    expect(handled).toBeGreaterThan(10 * 1000);
    expect(handled).toBeLessThanOrEqual(2 * 1000 + 10 * 1000 + 1);
  });

  it('pays for bytes too, names that bucket, and a line larger than the burst costs at most one burst of debt', () => {
    const { b, advance } = budgetAt(1_000_000, 64 * 1024);
    expect(untilPause(b, 1024)).toEqual({ passed: 128, pauseMs: 516 });
    expect(b.over).toBe('bytes');
    advance(5000);
    // 10 MiB in one line: the pause is capped, and the debt is one burst, not 80 seconds' worth
    expect(b.charge(10 * 1024 * 1024)).toBe(1000);
    advance(1000);
    expect(b.charge(1)).toBe(1000);
    advance(1000);
    expect(b.charge(1)).toBe(501);
    advance(501);
    expect(b.charge(1)).toBe(0);
  });
});
