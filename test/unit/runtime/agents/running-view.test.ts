import { describe, expect, it } from 'vitest';
import { RunningView } from '../../../../runtime/agents/running-view';

describe('RunningView', () => {
  it('counts instances entering and leaving running, every installed agent at 0 without any', () => {
    let ids: ReadonlySet<string> = new Set(['pump', 'fan']);
    const v = new RunningView(() => ids);
    expect(v.get()).toEqual({ pump: 0, fan: 0 });
    v.transition('pump', undefined, 'starting');
    v.transition('pump', 'starting', 'running');
    v.transition('pump', 'starting', 'running');
    v.transition('fan', 'starting', 'running');
    expect(v.get()).toEqual({ pump: 2, fan: 1 });
    // stopping, backoff, exited: each leaves running once; a repeated non-running state changes nothing
    v.transition('pump', 'running', 'stopping');
    v.transition('pump', 'stopping', 'exited');
    v.transition('fan', 'running', 'backoff');
    v.transition('fan', 'backoff', 'starting');
    expect(v.get()).toEqual({ pump: 1, fan: 0 });
    expect(v.running('pump')).toBe(1);
    // a removed agent leaves the view; a new one appears at 0
    ids = new Set(['pump', 'heater']);
    expect(v.get()).toEqual({ pump: 1, heater: 0 });
  });

  it('hands the same frozen object until something changes', () => {
    const ids = new Set(['pump']);
    const v = new RunningView(() => ids);
    const a = v.get();
    expect(v.get()).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    v.transition('pump', 'starting', 'running');
    const b = v.get();
    expect(b).not.toBe(a);
    expect(b).toEqual({ pump: 1 });
  });
});
