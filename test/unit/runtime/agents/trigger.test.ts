import { describe, expect, it } from 'vitest';
import { capTrigger, MAX_TRIGGER_BYTES } from '../../../../runtime/agents/trigger';
import { makeEvent } from '../../../../runtime/bus/envelope';

describe('capTrigger', () => {
  it('hands an envelope within the cap on whole, and one over it with its data replaced by its size', () => {
    const small = makeEvent({ type: 'git:commit_pushed', source: 'hook:github', data: { branch: 'main' } });
    expect(capTrigger(small)).toBe(small);
    const big = makeEvent({ type: 'hal:camera', source: 'hal', data: { jpeg: 'x'.repeat(MAX_TRIGGER_BYTES) } });
    const capped = capTrigger(big);
    expect(capped).toMatchObject({ id: big.id, type: 'hal:camera', depth: 0, data: { truncated: true, bytes: Buffer.byteLength(JSON.stringify(big)) } });
    expect(Buffer.byteLength(JSON.stringify(capped))).toBeLessThan(MAX_TRIGGER_BYTES);
  });
});
