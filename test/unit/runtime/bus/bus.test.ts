import { describe, expect, it } from 'vitest';
import { EventBus } from '../../../../runtime/bus/bus';
import { envelopeSchema, makeEvent } from '../../../../runtime/bus/envelope';
import { matchesPattern } from '../../../../runtime/bus/pattern';
import { memoryLogger } from '../../../../runtime/log';

describe('event patterns', () => {
  it('matches * within one dot segment and ** across segments', () => {
    expect(matchesPattern('hal:sensor.*', 'hal:sensor.temperature')).toBe(true);
    expect(matchesPattern('hal:sensor.*', 'hal:sensor.a.b')).toBe(false);
    expect(matchesPattern('hal:**', 'hal:sensor.a.b')).toBe(true);
    expect(matchesPattern('*:tick', 'demo:tick')).toBe(true);
    expect(matchesPattern('*:tick', 'demo:tock')).toBe(false);
    expect(matchesPattern('git:commit_pushed', 'git:commit_pushed')).toBe(true);
    expect(matchesPattern('git:commit.pushed', 'git:commitXpushed')).toBe(false);
    expect(matchesPattern('**', 'anything:at.all')).toBe(true);
  });
});

describe('event envelope', () => {
  it('builds v1 envelopes with depth from the cause', () => {
    const root = makeEvent({ type: 'git:commit_pushed', source: 'hooks:github', data: { branch: 'main' } });
    expect(envelopeSchema.parse(root)).toEqual(root);
    const child = makeEvent({ type: 'agent:spawned', source: 'rules', cause: root });
    expect(child).toMatchObject({ causedBy: root.id, depth: 1 });
    expect(envelopeSchema.safeParse({ ...root, type: 'NoColon' }).success).toBe(false);
    expect(envelopeSchema.safeParse({ ...root, extra: 1 }).success).toBe(false);
  });
});

describe('event bus', () => {
  it('delivers by pattern, removes listeners by owner, and survives a throwing listener', () => {
    const log = memoryLogger();
    const bus = new EventBus(log);
    const got: string[] = [];
    bus.on('a', 'agent:*', (e) => got.push(`a:${e.type}`));
    bus.on('b', '**', (e) => got.push(`b:${e.type}`));
    bus.on('b', 'agent:exited', () => {
      throw new Error('boom');
    });
    bus.emit({ type: 'agent:exited', source: 'test' });
    expect(got).toEqual(['a:agent:exited', 'b:agent:exited']);
    expect(log.lines.join()).toContain('listener of b failed');
    bus.removeOwner('b');
    expect(bus.listenerCount('b')).toBe(0);
    bus.emit({ type: 'agent:started', source: 'test' });
    expect(got).toEqual(['a:agent:exited', 'b:agent:exited', 'a:agent:started']);
  });
});
