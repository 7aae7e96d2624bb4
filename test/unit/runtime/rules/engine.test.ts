/** The rule engine's semantics with fake timers: gates, modes, timeouts, loop protection, restarts. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { makeEvent, type EventEnvelope } from '../../../../runtime/bus/envelope';
import type { Step } from '../../../../runtime/rules/action';
import { RuleEngine } from '../../../../runtime/rules/engine';
import { loadRuleSet } from '../../../../runtime/rules/load';
import { rebase, type PendingState } from '../../../../runtime/rules/state';
import { FIXTURES } from '../../../helpers/tmp';

let steps: Array<{ rule: string; step: Step; event: EventEnvelope }>;
let emitted: Array<{ type: string; data: Record<string, unknown> }>;
let saved: PendingState[];
let n: number;
/** the deadline each spawn was given, by instance */
let deadlines: Record<string, number | undefined>;
let durableSaves: number;

function engine(yaml: string, pending: PendingState[] = []): RuleEngine {
  const e = new RuleEngine({
    runStep: (step, rule, event, run) => {
      steps.push({ rule: rule.id, step, event });
      if (step.kind !== 'spawn') return Promise.resolve(undefined);
      const instance = `${step.agent}-${++n}`;
      deadlines[instance] = run?.deadline;
      return Promise.resolve({ instance });
    },
    world: () => ({ now: 0, device: { id: 'gh-1', board: 'sim' }, agents: { 'devops-agent': 0 } }),
    emit: (type, data) => void emitted.push({ type, data }),
    log: { info: () => undefined, warn: () => undefined },
    mono: () => Date.now(),
    persist: (s) => void (saved = s),
    durable: () => void durableSaves++,
  });
  e.load(loadRuleSet(yaml), pending);
  return e;
}

const ev = (type: string, data: Record<string, unknown> = {}, depth = 0): EventEnvelope => ({ ...makeEvent({ type, source: 'test', data }), depth });
/** the supervisor's exit event; `final: false` while it restarts the instance */
const exited = (instance: string, final = true): EventEnvelope => ({ ...makeEvent({ type: 'agent:exited', source: 'supervisor', data: { instance, final } }), depth: 0 });
const spawned = (): string[] => steps.filter((s) => s.step.kind === 'spawn').map((s) => (s.step as { agent: string }).agent);

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'] });
  steps = [];
  emitted = [];
  saved = [];
  n = 0;
  deadlines = {};
  durableSaves = 0;
});
afterEach(() => vi.useRealTimers());

/** the seed spec's two rules, verbatim */
const SEED = fs.readFileSync(path.join(FIXTURES, 'rules/seed.yaml'), 'utf8');

describe('rule engine', () => {
  it("runs the seed's rules: main spawns the reviewer, another branch does not, an alert spawns devops", async () => {
    const e = engine(SEED);
    e.handle(ev('git:commit_pushed', { branch: 'main', commit: 'abc' }));
    e.handle(ev('git:commit_pushed', { branch: 'feature' }));
    e.handle(ev('alert:server_down', { target: 'db' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toEqual(['code-reviewer-agent', 'devops-agent']);
    expect(emitted.filter((x) => x.type === 'rules:fired').map((x) => x.data.rule)).toEqual(['rule-1', 'rule-2']);
    const stats = e.stats();
    expect(stats[0]).toMatchObject({ matched: 2, fired: 1, suppressed: { if: 1 } });
  });

  it('explains in a dry run which rules match, what they would do, and why others do not', () => {
    const e = engine(SEED);
    expect(e.test(ev('git:commit_pushed', { branch: 'dev' }))).toEqual([
      { rule: 'rule-1', matches: false, reason: "if: branch == 'main' is false" },
      { rule: 'rule-2', matches: false, reason: 'listens for alert:server_down, not git:commit_pushed' },
    ]);
    expect(e.test(ev('git:commit_pushed', { branch: 'main' }))[0]).toEqual({ rule: 'rule-1', matches: true, reason: 'fires', action: 'spawn code-reviewer-agent' });
    expect(steps).toEqual([]);
  });

  it('counts an evaluation error as false and shows it', () => {
    const e = engine(SEED);
    e.handle(ev('git:commit_pushed', { ref: 'refs/heads/main' }));
    expect(e.stats()[0]).toMatchObject({ fired: 0, evalErrors: 1, lastEvalError: 'Unknown variable: branch' });
  });

  it('gives conditions no way to the host: prototype names are unknown variables, counted as false', () => {
    const e = engine(`rules:
  - { id: p1, on: "x:y", if: "constructor != null", action: "spawn(a)" }
  - { id: p3, on: "x:y", if: "has(event.constructor)", action: "spawn(a)" }
`);
    e.handle(ev('x:y', JSON.parse('{"__proto__": {"polluted": 1}}') as Record<string, unknown>));
    expect(e.stats().map((s) => [s.id, s.fired, s.evalErrors])).toEqual([['p1', 0, 1], ['p3', 0, 0]]);
    expect(() => loadRuleSet('rules:\n  - { on: "x:y", if: "__proto__ != null", action: "spawn(a)" }\n')).toThrow(/Reserved identifier: __proto__/);
    expect(e.stats()[0]?.lastEvalError).toBe('Unknown variable: constructor');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it('for: fires once the condition held for the whole time, and starts over when it stops holding', async () => {
    const e = engine(`rules:\n  - { id: hot, on: "hal:sensor.temperature", if: "value > 30.0", for: 60s, action: "spawn(cooler)" }\n`);
    e.handle(ev('hal:sensor.temperature', { value: 31 }));
    await vi.advanceTimersByTimeAsync(30_000);
    e.handle(ev('hal:sensor.temperature', { value: 29 }));
    await vi.advanceTimersByTimeAsync(40_000);
    expect(spawned()).toEqual([]);
    e.handle(ev('hal:sensor.temperature', { value: 32 }));
    await vi.advanceTimersByTimeAsync(59_000);
    e.handle(ev('hal:sensor.temperature', { value: 33 }));
    expect(spawned()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1000);
    expect(spawned()).toEqual(['cooler']);
    expect(steps[0]?.event.data.value).toBe(33);
  });

  it('debounce (trailing) runs once with the last event; throttle (leading) runs the first and drops the rest', async () => {
    const e = engine(`rules:
  - { id: deb, on: "door:*", debounce: 5s, mode: parallel, action: "spawn(d)" }
  - { id: thr, on: "bell:*", throttle: 10s, mode: parallel, action: "spawn(t)" }
`);
    for (let i = 0; i < 5; i++) {
      e.handle(ev('door:moved', { i }));
      e.handle(ev('bell:rang', { i }));
      await vi.advanceTimersByTimeAsync(1000);
    }
    expect(spawned()).toEqual(['t']);
    await vi.advanceTimersByTimeAsync(5000);
    expect(spawned()).toEqual(['t', 'd']);
    expect(steps[1]?.event.data.i).toBe(4);
    e.handle(ev('bell:rang'));
    expect(spawned()).toEqual(['t', 'd', 't']);
  });

  it('cooldown counts from the end of the run; dedup runs a key once per ttl', async () => {
    const e = engine(`rules:
  - { id: cool, on: "a:b", cooldown: 1m, mode: parallel, action: "spawn(worker)" }
  - { id: dd, on: "c:d", dedup: { key: "host", ttl: 1h }, mode: parallel, action: "spawn(pager)" }
`);
    e.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(0);
    e.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(120_000);
    e.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(0);
    // parallel runs overlap: the cooldown starts only when one ends
    expect(spawned()).toEqual(['worker', 'worker', 'worker']);
    e.handle(exited('worker-1'));
    e.handle(ev('a:b'));
    expect(e.stats()[0]?.suppressed.cooldown).toBe(1);
    for (const host of ['db', 'db', 'web', 'db']) e.handle(ev('c:d', { host }));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned().filter((a) => a === 'pager')).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(3_600_000);
    e.handle(ev('c:d', { host: 'db' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned().filter((a) => a === 'pager')).toHaveLength(3);
  });

  it('modes: single skips while running, restart kills first, queued waits (up to max), parallel caps at max', async () => {
    const e = engine(`rules:
  - { id: s, on: "s:x", mode: single, action: "spawn(s)" }
  - { id: r, on: "r:x", mode: restart, action: "spawn(r)" }
  - { id: q, on: "q:x", mode: queued, max: 1, action: "spawn(q)" }
  - { id: p, on: "p:x", mode: parallel, max: 2, action: "spawn(p)" }
`);
    for (const t of ['s:x', 'r:x', 'q:x', 'p:x']) for (let i = 0; i < 3; i++) {
      e.handle(ev(t));
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(spawned()).toEqual(['s', 'r', 'r', 'r', 'q', 'p', 'p']);
    expect(steps.filter((x) => x.step.kind === 'kill').map((x) => (x.step as { target: string }).target)).toEqual(['r-2', 'r-3']);
    e.handle(exited('q-5'));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned().filter((a) => a === 'q')).toHaveLength(2);
    expect(e.stats().find((s) => s.id === 'q')?.suppressed.queued).toBe(2);
  });

  it('timeout kills what the run spawned, and says so', async () => {
    const e = engine(`rules:\n  - { id: t, on: "a:b", timeout: 30s, action: "spawn(slow)" }\n`);
    e.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(30_000);
    expect(steps.map((s) => s.step)).toEqual([{ kind: 'spawn', agent: 'slow' }, { kind: 'kill', target: 'slow-1' }]);
    expect(e.stats()[0]?.lastError).toBe('timeout after 30000 ms: killed slow-1');
    expect(e.stats()[0]?.running).toBe(0);
  });

  it('stops a rule storm: deep causal chains are ignored and spawns are rate-limited with a visible reason', async () => {
    const e = engine(`rules:\n  - { id: storm, on: "agent:exited", mode: parallel, max: 100, maxPerMinute: 5, action: "spawn(echo)" }\n`);
    e.handle(ev('agent:exited', { instance: 'x' }, 5));
    expect(e.stats()[0]?.suppressed.depth).toBe(1);
    for (let i = 0; i < 50; i++) {
      e.handle(ev('agent:exited', { instance: `echo-${i}` }));
      await vi.advanceTimersByTimeAsync(0);
    }
    expect(spawned()).toHaveLength(5);
    expect(emitted.filter((x) => x.type === 'rules:limited')).toEqual([{ type: 'rules:limited', data: { rule: 'storm', reason: expect.stringContaining('started 5 actions in the last minute') as unknown } }]);
    await vi.advanceTimersByTimeAsync(61_000);
    e.handle(ev('agent:exited', { instance: 'later' }));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toHaveLength(6);
  });

  it('limits the actions of all rules together per device, saying so', async () => {
    const e = new RuleEngine({
      runStep: (step) => {
        steps.push({ rule: '', step, event: ev('x:y') });
        return Promise.resolve();
      },
      world: () => ({ now: 0, device: { id: 'd', board: 'sim' }, agents: {} }),
      emit: (type, data) => void emitted.push({ type, data }),
      log: { info: () => undefined, warn: () => undefined },
      mono: () => Date.now(),
      maxActionsPerMinute: 10,
    });
    const rules = Array.from({ length: 6 }, (_, i) => `  - { id: r${i}, on: "x:y", mode: parallel, action: "kill(t${i})" }`).join('\n');
    e.load(loadRuleSet(`rules:\n${rules}\n`));
    for (let i = 0; i < 5; i++) e.handle(ev('x:y'));
    await vi.advanceTimersByTimeAsync(0);
    expect(steps).toHaveLength(10);
    expect(emitted.filter((x) => x.type === 'rules:limited')).toHaveLength(1);
    expect(emitted.find((x) => x.type === 'rules:limited')?.data.reason).toMatch(/rules.maxActionsPerMinute/);
  });

  it('runs steps in order with delays, and reports a failed step', async () => {
    const e = new RuleEngine({
      runStep: (step) => {
        steps.push({ rule: 's', step, event: ev('x:y') });
        return step.kind === 'kill' ? Promise.reject(Object.assign(new Error('no such instance'), { code: 'OSZ_E_NO_SUCH_INSTANCE' })) : Promise.resolve();
      },
      world: () => ({ now: 0, device: { id: 'd', board: 'sim' }, agents: {} }),
      emit: (type, data) => void emitted.push({ type, data }),
      log: { info: () => undefined, warn: () => undefined },
      mono: () => Date.now(),
    });
    e.load(loadRuleSet('grants: { actuators: [fan] }\nrules:\n  - { id: s, on: "x:y", action: { steps: [{ hal: { device: fan, command: "on" } }, { delay: 5s }, { kill: ghost }] } }\n'));
    e.handle(ev('x:y'));
    await vi.advanceTimersByTimeAsync(4000);
    expect(steps.map((s) => s.step.kind)).toEqual(['hal']);
    await vi.advanceTimersByTimeAsync(1000);
    expect(steps.map((s) => s.step.kind)).toEqual(['hal', 'kill']);
    expect(emitted.at(-1)).toMatchObject({ type: 'rules:failed', data: { rule: 's', code: 'OSZ_E_NO_SUCH_INSTANCE' } });
  });

  it('keeps for timers and dedup keys across a restart, re-based when the clock went back', async () => {
    const yaml = `rules:
  - { id: hot, on: "t:x", for: 10m, action: "spawn(cooler)" }
  - { id: dd, on: "c:d", dedup: { key: "host", ttl: 1h }, action: "spawn(pager)" }
`;
    const first = engine(yaml);
    first.handle(ev('t:x'));
    first.handle(ev('c:d', { host: 'db' }));
    await vi.advanceTimersByTimeAsync(4 * 60_000);
    first.handle(ev('t:x'));
    expect(saved.length).toBeGreaterThan(0);
    const state = { savedAt: Date.now(), bootId: 'boot-a', pending: first.pending() };
    first.stop();
    expect(state.pending.map((p) => [p.rule, p.kind, p.remainingMs])).toEqual([['hot', 'for', 6 * 60_000], ['dd', 'dedup', 56 * 60_000]]);
    steps = [];
    // the daemon restarts two minutes later on the same boot: the wall clock counts
    vi.setSystemTime(Date.now() + 2 * 60_000);
    const second = engine(yaml, rebase(state, Date.now(), 'boot-a'));
    second.handle(ev('c:d', { host: 'db' }));
    await vi.advanceTimersByTimeAsync(4 * 60_000 - 1);
    expect(spawned()).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(spawned()).toEqual(['cooler']);
    second.stop();
    // after a reboot into a clock that went back (no RTC), the time left at the save counts from now
    const rebased = rebase(state, state.savedAt - 5 * 365 * 86_400_000, 'boot-b');
    expect(rebased.map((p) => p.remainingMs)).toEqual([6 * 60_000, 56 * 60_000]);
  });

  it('rebuilds runs from the instances a rule spawned before a restart: max counts them, the stored timeout fires', async () => {
    const yaml = `rules:\n  - { id: par, on: "a:b", mode: parallel, max: 3, timeout: 10m, action: "spawn(svc)" }\n`;
    const first = engine(yaml);
    for (let i = 0; i < 5; i++) first.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toHaveLength(3);
    const owned = Object.entries(deadlines).map(([instance, deadline]) => ({ instance, rule: 'par', cause: instance, ...(deadline !== undefined ? { deadline } : {}) }));
    expect(owned.every((o) => o.deadline === Date.now() + 10 * 60_000)).toBe(true);
    first.stop();
    // a kill -9 four minutes later: the new engine knows nothing but what the store holds
    vi.setSystemTime(Date.now() + 4 * 60_000);
    steps = [];
    const second = engine(yaml);
    second.adopt(owned);
    expect(second.stats()[0]?.running).toBe(3);
    second.handle(ev('a:b'));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toEqual([]);
    expect(second.stats()[0]?.suppressed.parallel).toBe(1);
    // an always instance that crashed and is restarted stays in its run; a forged exit counts for nothing
    second.handle(exited('svc-1', false));
    second.handle(ev('agent:exited', { instance: 'svc-2' }));
    expect(second.stats()[0]?.running).toBe(3);
    await vi.advanceTimersByTimeAsync(6 * 60_000 - 1);
    expect(steps.filter((x) => x.step.kind === 'kill')).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    expect(steps.filter((x) => x.step.kind === 'kill').map((x) => (x.step as { target: string }).target).sort()).toEqual(['svc-1', 'svc-2', 'svc-3']);
    expect(second.stats()[0]?.running).toBe(0);
    second.stop();
  });

  it('keeps a cooldown and a throttle across a restart, and writes a starting cooldown at once', async () => {
    const yaml = `rules:\n  - { id: cool, on: "a:b", cooldown: 10m, action: "spawn(job)" }\n  - { id: thr, on: "c:d", throttle: 10m, action: "spawn(note)" }\n`;
    const first = engine(yaml);
    first.handle(ev('a:b'));
    first.handle(ev('c:d'));
    await vi.advanceTimersByTimeAsync(0);
    expect(durableSaves).toBe(0);
    first.handle(exited('job-1'));
    expect(durableSaves).toBe(1);
    await vi.advanceTimersByTimeAsync(60_000);
    const state = { savedAt: Date.now(), bootId: 'boot-a', pending: first.pending() };
    expect(state.pending.map((p) => [p.rule, p.kind, p.remainingMs])).toEqual([['cool', 'cooldown', 9 * 60_000], ['thr', 'throttle', 9 * 60_000]]);
    first.stop();
    steps = [];
    const second = engine(yaml, rebase(state, Date.now(), 'boot-a'));
    second.handle(ev('a:b'));
    second.handle(ev('c:d'));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toEqual([]);
    await vi.advanceTimersByTimeAsync(9 * 60_000);
    second.handle(ev('a:b'));
    second.handle(ev('c:d'));
    await vi.advanceTimersByTimeAsync(0);
    expect(spawned()).toEqual(['job', 'note']);
    // expired ones are not kept
    expect(rebase(state, state.savedAt + 20 * 60_000, 'boot-a')).toEqual([]);
  });

  it('counts a failing condition and a failing dedup key as errors, not as suppressed, and a condition over an agent with no instances holds', () => {
    const e = engine(`rules:
  - { id: cond, on: "a:b", if: "level > 3", action: "spawn(x)" }
  - { id: key, on: "a:b", dedup: { key: "host.name", ttl: 1m }, action: "spawn(y)" }
  - { id: none, on: "a:b", if: "agents['devops-agent'] == 0", action: "spawn(z)" }
`);
    e.handle(ev('a:b', { host: 'db' }));
    const [cond, key, none] = e.stats();
    expect(cond).toMatchObject({ evalErrors: 1, suppressed: {}, lastEvalError: expect.stringContaining('level') as unknown });
    expect(key).toMatchObject({ evalErrors: 1, suppressed: {}, fired: 0, lastEvalError: expect.stringContaining('dedup key host.name failed') as unknown });
    expect(none).toMatchObject({ evalErrors: 0, fired: 1 });
    expect(e.test(ev('a:b', { host: 'db' }))[1]).toMatchObject({ matches: false, error: true });
  });
});
