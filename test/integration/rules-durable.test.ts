/**
 * Issue 17: a rule's limits survive restarts and crashes. Its running instances are stored with
 * the rule that spawned them and their timeout's deadline, so after kill -9 of the daemon a
 * parallel `max` still counts them, the timeout still fires, and a cooldown still holds.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { runcountAgent, runnerPids, runsOf } from '../helpers/runcount';
import { tmpDir, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  agent: string;
  state: string;
  desired: string;
  reason: string | null;
}

interface RuleRow {
  id: string;
  matched: number;
  fired: number;
  running: number;
  suppressed: Record<string, number>;
  evalErrors: number;
  lastEvalError?: string;
  lastError?: string;
}

let d: RunningDaemon | undefined;
afterEach(async () => {
  for (const a of ['svc', 'slow']) await d?.cli(['kill', '--signal', 'KILL', a]);
  await d?.stop();
  d = undefined;
});

const rule = async (id: string): Promise<RuleRow | undefined> => (await d!.json<{ rules: RuleRow[] }>(['rules', 'ls'])).rules.find((r) => r.id === id);
const live = async (agent: string): Promise<Status[]> => (await d!.json<Status[]>(['ps', '--all'])).filter((s) => s.agent === agent && s.desired === 'running');

async function apply(yaml: string): Promise<void> {
  const file = path.join(tmpDir('osd-rules-'), 'orchestration.yaml');
  fs.writeFileSync(file, yaml);
  const r = await d!.cli(['rules', 'apply', file]);
  expect(r.code, r.stderr).toBe(0);
}

describe('durable rule state', () => {
  it('never has more than max instances of a parallel rule alive across a kill -9 storm', async () => {
    const MAX = 3;
    d = await startDaemon();
    const home = d.home;
    expect((await d.cli(['agent', 'add', runcountAgent(tmpDir('osd-cap-'), 'svc', 'stay', { policy: 'always' })])).code).toBe(0);
    await apply(`rules:\n  - { id: cap, on: "test:go", mode: parallel, max: ${MAX}, maxPerMinute: 600, action: "spawn(svc)" }\n`);
    let emitted = 0;
    for (let round = 0; round < 8; round++) {
      for (let i = 0; i < 4; i++) {
        expect((await d.cli(['events', 'emit', 'test:go'])).code).toBe(0);
        emitted++;
      }
      // every emit reached the rule (this daemon's count) and each either fired or was capped
      await waitFor(`round ${round}: emits handled`, async () => {
        const r = await rule('cap');
        return r !== undefined && r.matched > 0 && r.matched === r.fired + (r.suppressed.parallel ?? 0) && r.running === MAX;
      });
      const alive = await waitFor(`round ${round}: ${MAX} running`, async () => {
        const rows = await live('svc');
        expect(rows.length, `round ${round}: instances desired running`).toBeLessThanOrEqual(MAX);
        expect(runnerPids(home).length, `round ${round}: agent processes`).toBeLessThanOrEqual(MAX);
        return rows.length === MAX && rows.every((s) => s.state === 'running') ? rows : undefined;
      });
      expect(alive).toHaveLength(MAX);
      await d.kill9();
      d = await startDaemon({ home });
      await waitFor(`round ${round}: resumed`, async () => {
        const rows = await live('svc');
        expect(rows.length).toBeLessThanOrEqual(MAX);
        return rows.length === MAX && rows.every((s) => s.state === 'running');
      });
      expect((await rule('cap'))?.running).toBe(MAX);
    }
    expect(emitted).toBe(32);
    // every run the agent counted is one of the three first instances, resumed
    expect(new Set(runsOf(home, 'svc')).size).toBe(MAX);
  }, 300_000);

  it('fires a timeout stored with the instance after kill -9, and keeps a cooldown', async () => {
    d = await startDaemon();
    const home = d.home;
    const src = tmpDir('osd-tmo-');
    expect((await d.cli(['agent', 'add', runcountAgent(src, 'slow', 'stay', { policy: 'always' })])).code).toBe(0);
    expect((await d.cli(['agent', 'add', runcountAgent(src, 'job', 'exit0', { policy: 'on-failure' })])).code).toBe(0);
    await apply(`rules:
  - { id: tmo, on: "test:slow", timeout: 8s, action: "spawn(slow)" }
  - { id: cool, on: "test:job", cooldown: 1h, action: "spawn(job)" }
  - { id: zero, on: "test:zero", if: "agents['slow'] == 0", action: "spawn(job)" }
  - { id: badkey, on: "test:zero", dedup: { key: "host.name", ttl: 1m }, action: "spawn(job)" }
`);
    expect((await d.cli(['events', 'emit', 'test:slow'])).code).toBe(0);
    expect((await d.cli(['events', 'emit', 'test:job'])).code).toBe(0);
    const [slow] = await waitFor('slow running', async () => {
      const rows = await live('slow');
      return rows.length === 1 && rows[0]?.state === 'running' ? rows : undefined;
    });
    await waitFor('job done', () => runsOf(home, 'job').length === 1 && (async () => (await rule('cool'))?.running === 0)());
    await d.kill9();
    d = await startDaemon({ home });
    // the timeout's deadline came back with the instance: the rule kills it
    const killed = await waitFor('timeout fired after the restart', async () => {
      const row = (await d!.json<Status[]>(['ps', '--all'])).find((s) => s.instance === slow?.instance);
      return row?.desired === 'stopped' && row.state === 'exited' ? row : undefined;
    }, 60_000);
    expect(killed.reason).toBe('stopped');
    expect((await rule('tmo'))?.lastError).toContain(`timeout after 8000 ms: killed ${slow?.instance ?? ''}`);
    // the cooldown came back too: no second job
    expect((await d.cli(['events', 'emit', 'test:job'])).code).toBe(0);
    await waitFor('cooldown counted', async () => (await rule('cool'))?.suppressed.cooldown === 1);
    expect(runsOf(home, 'job')).toHaveLength(1);
    // a condition over an agent with no instances holds; a key that fails is an error
    expect((await d.cli(['events', 'emit', 'test:zero', '{"host":"db"}'])).code).toBe(0);
    await waitFor('zero fired', async () => (await rule('zero'))?.fired === 1);
    expect(await rule('zero')).toMatchObject({ evalErrors: 0 });
    expect(await rule('badkey')).toMatchObject({ fired: 0, evalErrors: 1, suppressed: {} });
    expect((await rule('badkey'))?.lastEvalError).toContain('dedup key host.name failed');
    expect((await d.cli(['rules', 'ls'])).stdout).toContain('1 eval: dedup key host.name failed');
  }, 180_000);
});
