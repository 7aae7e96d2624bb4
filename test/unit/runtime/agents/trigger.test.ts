import { describe, expect, it } from 'vitest';
import { capTrigger, MAX_TRIGGER_BYTES, triggerSchema } from '../../../../runtime/agents/trigger';
import { envelopeSchema, makeEvent } from '../../../../runtime/bus/envelope';

describe('the trigger handed to an agent', () => {
  it('hands an envelope within the cap on whole, and one over it with its data replaced by its size', () => {
    const small = makeEvent({ type: 'git:commit_pushed', source: 'hook:github', data: { branch: 'main' } });
    expect(capTrigger(small)).toBe(small);
    const big = makeEvent({ type: 'hal:camera', source: 'hal', data: { jpeg: 'x'.repeat(MAX_TRIGGER_BYTES) } });
    const capped = capTrigger(big);
    expect(capped).toMatchObject({ id: big.id, type: 'hal:camera', depth: 0, data: { truncated: true, bytes: Buffer.byteLength(JSON.stringify(big)) } });
    expect(Buffer.byteLength(JSON.stringify(capped))).toBeLessThan(MAX_TRIGGER_BYTES);
  });

  it("takes the daemon's own events, which are made without the envelope's checks, and refuses what is not an envelope", () => {
    const own = makeEvent({ type: 'hal:gpio.Door_1', source: 'hal', data: { value: 1 } });
    expect(envelopeSchema.safeParse(own).success).toBe(false);
    expect(triggerSchema.parse(own)).toEqual(own);
    expect(triggerSchema.safeParse({ ...own, extra: 1 }).success).toBe(false);
    expect(triggerSchema.safeParse({ ...own, depth: 99 }).success).toBe(false);
    expect(triggerSchema.safeParse({ ...own, data: [] }).success).toBe(false);
  });
});
