/** The engine and CEL are loaded only when there are rules to run. */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../runtime/bus/bus';
import { makeEvent } from '../../../../runtime/bus/envelope';
import { memoryLogger } from '../../../../runtime/log';
import { LazyRules } from '../../../../runtime/rules/lazy';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

const stores: Store[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

function lazy(home: string): { rules: LazyRules; bus: EventBus } {
  const log = memoryLogger();
  const store = createStore(path.join(home, 'db'), log, { keepEvents: 100 });
  stores.push(store);
  const bus = new EventBus(log);
  const rules = new LazyRules({ repo: store.rules, bus, log, call: () => Promise.resolve({}), world: () => ({ device: { id: 'd', board: 'sim' }, agents: {} }), ruleInstances: () => [], bootId: 'b', file: path.join(home, 'orchestration.yaml'), publish: () => undefined, installed: (a) => store.agents.get(a) !== undefined });
  return { rules, bus };
}

describe('rules, loaded on need', () => {
  it('stays unloaded without a rule set, answers listings, and loads for a dry run or an apply', async () => {
    const { rules } = lazy(tmpDir('osd-lazy-'));
    await rules.start();
    expect(rules.loaded).toBe(false);
    expect(rules.list()).toEqual({ etag: undefined, rules: [], timers: {}, published: 0 });
    expect(rules.get()).toBeUndefined();
    expect(await rules.test(makeEvent({ type: 'x:y', source: 't' }))).toEqual([]);
    expect(rules.loaded).toBe(true);
    const r = await rules.apply('rules:\n  - { on: "x:y", action: "kill(a)" }\n', 'f.yaml', 'test');
    expect(r).toMatchObject({ rules: 1, changed: true });
    rules.stop();
  });

  it('loads at start when the home has orchestration.yaml, and runs it', async () => {
    const home = tmpDir('osd-lazy-');
    fs.writeFileSync(path.join(home, 'orchestration.yaml'), 'rules:\n  - { id: a, on: "x:y", action: "kill(nobody)" }\n');
    const { rules, bus } = lazy(home);
    await rules.start();
    expect(rules.loaded).toBe(true);
    bus.emit({ type: 'x:y', source: 't' });
    expect(rules.list().rules[0]).toMatchObject({ id: 'a', matched: 1, fired: 1 });
    rules.stop();
  });
});
