import { describe, expect, it } from 'vitest';
import { HeldMessages } from '../../../../runtime/rpc/held-messages';

describe('HeldMessages', () => {
  it('holds messages until the first listener, in order and bounded, then passes them through', () => {
    const h = new HeldMessages(2);
    h.emit(1);
    h.emit(2);
    h.emit(3);
    const a: unknown[] = [];
    const b: unknown[] = [];
    h.on((m) => a.push(m));
    h.on((m) => b.push(m));
    h.emit(4);
    expect(a).toEqual([1, 2, 4]);
    expect(b).toEqual([4]);
  });
});
