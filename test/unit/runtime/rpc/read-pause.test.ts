import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ReadPause } from '../../../../runtime/rpc/read-pause';

describe('read pause', () => {
  beforeEach(() => void vi.useFakeTimers());
  afterEach(() => void vi.useRealTimers());

  function pauser(): { p: ReadPause; calls: string[] } {
    const calls: string[] = [];
    const p = new ReadPause(
      () => calls.push('stop'),
      () => calls.push('start'),
      () => Date.now(),
    );
    return { p, calls };
  }

  it('stops once, keeps the longest pause asked for, and starts when it runs out', () => {
    const { p, calls } = pauser();
    p.pause(300);
    p.pause(10);
    vi.advanceTimersByTime(299);
    expect(calls).toEqual(['stop']);
    p.pause(500); // longer than what is left: extends
    vi.advanceTimersByTime(499);
    expect(calls).toEqual(['stop']);
    expect(p.paused).toBe(true);
    vi.advanceTimersByTime(1);
    expect(calls).toEqual(['stop', 'start']);
    expect(p.paused).toBe(false);
  });

  it('ignores zero, negative and NaN pauses, and cancel never starts the reader', () => {
    const { p, calls } = pauser();
    p.pause(0);
    p.pause(-5);
    p.pause(Number.NaN);
    expect(calls).toEqual([]);
    p.pause(100);
    p.cancel();
    vi.advanceTimersByTime(1000);
    expect(calls).toEqual(['stop']);
  });
});
