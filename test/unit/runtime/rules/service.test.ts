/**
 * The rules service over a real store (issue 17): spawns of agents that are not installed are
 * warned about at apply with rule id and line:column, shown as "waiting for" in listings and dry
 * runs; a rule's error clears after a later successful run.
 */
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../runtime/bus/bus';
import { makeEvent } from '../../../../runtime/bus/envelope';
import { memoryLogger } from '../../../../runtime/log';
import { RulesService } from '../../../../runtime/rules/service';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

function service(installed: Set<string>, call: (op: string, params: unknown) => Promise<unknown>): { rules: RulesService; bus: EventBus } {
  const home = tmpDir('osd-rsvc-');
  const log = memoryLogger();
  const store = createStore(path.join(home, 'db'), log, { keepEvents: 100 });
  stores.push(store);
  const bus = new EventBus(log);
  const rules = new RulesService({ repo: store.rules, bus, log, call, world: () => ({ device: { id: 'd', board: 'sim' }, agents: {} }), ruleInstances: () => [], publish: () => undefined, bootId: 'b', file: path.join(home, 'orchestration.yaml'), installed: (a) => installed.has(a) });
  rules.start();
  return { rules, bus };
}

const SET = `rules:
  - id: review
    on: "git:commit_pushed"
    action: "spawn(code-reviewer-agent)"
  - id: steps
    on: "alert:server_down"
    action:
      steps:
        - { kill: old }
        - { spawn: devops-agent }
  - id: present
    on: "x:y"
    action: { spawn: here }
`;

describe('rules naming agents that are not installed', () => {
  it('are applied with a warning at the spawn, listed as waiting, and a dry run that fires says so', () => {
    const installed = new Set(['here']);
    const { rules } = service(installed, () => Promise.resolve({ instance: 'i-1' }));
    const r = rules.apply(SET, 'orchestration.yaml', 'test');
    expect(r.changed).toBe(true);
    expect(r.warnings).toEqual([
      { rule: 'review', line: 4, column: 13, message: 'spawns agent "code-reviewer-agent", which is not installed; the rule waits for it (openstarryctl agent add)' },
      { rule: 'steps', line: 10, column: 20, message: 'spawns agent "devops-agent", which is not installed; the rule waits for it (openstarryctl agent add)' },
    ]);
    expect(rules.list().rules.map((x) => [x.id, x.waitingFor])).toEqual([
      ['review', ['code-reviewer-agent']],
      ['steps', ['devops-agent']],
      ['present', undefined],
    ]);
    const verdicts = rules.test(makeEvent({ type: 'git:commit_pushed', source: 't', data: {} }));
    expect(verdicts[0]).toMatchObject({ rule: 'review', matches: true, waitingFor: ['code-reviewer-agent'] });
    expect(verdicts[1]?.waitingFor).toBeUndefined();
    // installed later: the warning and the waiting go
    installed.add('code-reviewer-agent');
    installed.add('devops-agent');
    expect(rules.missingAgents()).toEqual([]);
    expect(rules.list().rules.every((x) => x.waitingFor === undefined)).toBe(true);
    expect(rules.apply(SET, 'orchestration.yaml', 'test')).toMatchObject({ changed: false, warnings: [] });
    rules.stop();
  });

  it("clear a rule's error after a later successful run, and a condition error after a later evaluation", async () => {
    let fail = true;
    const { rules, bus } = service(new Set(), (op) => (op === 'agents.kill' && fail ? Promise.reject(Object.assign(new Error('no running instance "x"'), { code: 'OSZ_E_NO_SUCH_INSTANCE' })) : Promise.resolve({})));
    rules.apply('rules:\n  - { id: k, on: "x:y", mode: parallel, action: "kill(x)" }\n  - { id: c, on: "x:c", if: "n > 1", action: "kill(y)" }\n', 'f.yaml', 'test');
    const stat = (id: string) => rules.list().rules.find((x) => x.id === id);
    bus.emit({ type: 'x:y', source: 't' });
    await new Promise((r) => setImmediate(r));
    expect(stat('k')?.lastError).toBe('no running instance "x"');
    fail = false;
    bus.emit({ type: 'x:y', source: 't' });
    await new Promise((r) => setImmediate(r));
    expect(stat('k')).toMatchObject({ fired: 2 });
    expect(stat('k')?.lastError).toBeUndefined();
    bus.emit({ type: 'x:c', source: 't', data: {} });
    expect(stat('c')).toMatchObject({ evalErrors: 1 });
    expect(stat('c')?.lastEvalError).toMatch(/n/);
    bus.emit({ type: 'x:c', source: 't', data: { n: 0 } });
    expect(stat('c')).toMatchObject({ evalErrors: 1 });
    expect(stat('c')?.lastEvalError).toBeUndefined();
    rules.stop();
  });
});
