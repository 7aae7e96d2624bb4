import { describe, expect, it } from 'vitest';
import { backoffDelay, maxRetriesOf, resumesAtBoot, shouldRestart } from '../../../../runtime/agents/backoff';

describe('restart policy', () => {
  it('decides restarts per policy', () => {
    const clean = { code: 0, signal: null };
    const crash = { code: 1, signal: null };
    const killed = { code: null, signal: 'SIGKILL' };
    expect(shouldRestart('no', crash)).toBe(false);
    expect(shouldRestart('on-failure', clean)).toBe(false);
    expect(shouldRestart('on-failure', crash)).toBe(true);
    expect(shouldRestart('on-failure', killed)).toBe(true);
    expect(shouldRestart('on-failure', { ...clean, reason: 'missed heartbeats' })).toBe(true);
    expect(shouldRestart('always', clean)).toBe(true);
    expect(shouldRestart('unless-stopped', clean)).toBe(true);
  });

  it('brings instances still desired running back at boot unless the policy is no', () => {
    expect(resumesAtBoot('no')).toBe(false);
    expect(resumesAtBoot('on-failure')).toBe(true);
    expect(resumesAtBoot('always')).toBe(true);
    expect(resumesAtBoot('unless-stopped')).toBe(true);
  });

  it('applies the default retry budget to on-failure only; an explicit one to every policy', () => {
    expect(maxRetriesOf({ policy: 'on-failure' })).toBe(5);
    expect(maxRetriesOf({ policy: 'always' })).toBe(Infinity);
    expect(maxRetriesOf({ policy: 'unless-stopped' })).toBe(Infinity);
    expect(maxRetriesOf({ policy: 'always', maxRetries: 2 })).toBe(2);
    expect(maxRetriesOf({ policy: 'on-failure', maxRetries: 0 })).toBe(0);
  });

  it('grows the backoff ceiling exponentially up to the cap, with full jitter', () => {
    expect(backoffDelay(1, 1000, 300_000, () => 0.999)).toBe(999);
    expect(backoffDelay(3, 1000, 300_000, () => 0.999)).toBe(3996);
    expect(backoffDelay(30, 1000, 300_000, () => 0.999)).toBe(299_700);
    expect(backoffDelay(1000, 1000, 300_000, () => 0.5)).toBe(150_000);
    expect(backoffDelay(5, 1000, 300_000, () => 0)).toBe(0);
  });
});
