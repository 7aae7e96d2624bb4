import { describe, expect, it } from 'vitest';
import { OutputCap } from '../../../../runtime/agents/output-cap';

/** a cap on a hand-driven clock, so refills are exact */
function capAt(bytesPerSecond: number, linesPerSecond: number): { cap: OutputCap; advance: (ms: number) => void } {
  let t = 0;
  return { cap: new OutputCap({ bytesPerSecond, linesPerSecond }, () => t), advance: (ms) => void (t += ms) };
}

function keptOf(cap: OutputCap, n: number, bytes: number): number {
  let kept = 0;
  for (let i = 0; i < n; i++) if (cap.admit(bytes)) kept++;
  return kept;
}

describe('output cap', () => {
  it('keeps a burst of twice the line rate, then the rate, and counts the rest', () => {
    const { cap, advance } = capAt(1024 * 1024, 100);
    expect(keptOf(cap, 10_000, 10)).toBe(200);
    advance(1000);
    expect(keptOf(cap, 10_000, 10)).toBe(100);
    expect(cap.takeReport()).toBe('dropped 19700 lines / 197000 bytes of output over logs.outputLinesPerSecond (1048576 bytes, 100 lines per second)');
    expect(cap.takeReport()).toBeUndefined();
  });

  it('keeps a burst of twice the byte rate and names that cap when bytes run out', () => {
    const { cap, advance } = capAt(4096, 100_000);
    expect(keptOf(cap, 1000, 1024)).toBe(8);
    advance(500);
    expect(keptOf(cap, 1000, 1024)).toBe(2);
    expect(cap.takeReport()).toMatch(/^dropped 1990 lines \/ 2037760 bytes of output over logs\.outputBytesPerSecond \(/);
  });

  it('lets a line longer than the whole burst through once the bucket is full', () => {
    const { cap, advance } = capAt(1024, 10);
    expect(cap.admit(16 * 1024)).toBe(true);
    expect(cap.admit(1)).toBe(false);
    advance(2000);
    expect(cap.admit(16 * 1024)).toBe(true);
  });

  it('asks a reader to pause only once the bucket is spent, until it is half full, within 50 ms..1 s', () => {
    const { cap, advance } = capAt(1024 * 1024, 100);
    expect(cap.pauseMs()).toBe(0);
    keptOf(cap, 200, 10);
    expect(cap.pauseMs()).toBe(1000);
    advance(600);
    expect(cap.pauseMs()).toBe(0);
    keptOf(cap, 60, 10);
    expect(cap.pauseMs()).toBe(1000);
    advance(10);
    // one line back: reading resumes (the pause is a ceiling on how long a reader waits, not a floor)
    expect(cap.pauseMs()).toBe(0);
    const slow = capAt(1024, 1000);
    keptOf(slow.cap, 100, 1000);
    expect(slow.cap.pauseMs()).toBeGreaterThanOrEqual(50);
    expect(slow.cap.pauseMs()).toBeLessThanOrEqual(1000);
  });
});
