/**
 * The event that woke an agent reaches it (issue 17): a rule on `git:commit_pushed` spawns a
 * process, a worker and a WASM agent (AssemblyScript SDK), and each reports the branch and commit
 * it read from its trigger; an `always` instance still sees the same trigger after the daemon
 * restarts. Each agent's report is an event it emitted (and, for the process agent, a line it
 * wrote in its data dir), so the test checks what the agent saw, not what the daemon sent.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

interface Seen {
  agent: string;
  instance?: string;
  trigger: string | null;
  type: string | null;
  branch: string | null;
  commit: string | null;
}
interface Envelope {
  id: string;
  type: string;
  causedBy?: string;
  data: Record<string, unknown>;
}

const RULES = `rules:
  - id: review
    on: "git:commit_pushed"
    if: "branch == 'main'"
    action:
      steps:
        - spawn: treviewer
        - spawn: wtreviewer
        - spawn: wreviewer
`;

let d: RunningDaemon;
const config = { supervisor: { backoff: { initialMs: 50, maxMs: 200 } } };

const seen = async (): Promise<Array<Envelope & { data: Seen }>> => (await d.json<Array<Envelope & { data: Seen }>>(['events', 'tail', '--type', 'review:seen', '-n', '100']));

beforeAll(async () => {
  d = await startDaemon({ config });
  const worker = copyFixtureAgent('treviewer');
  const manifest = JSON.parse(fs.readFileSync(path.join(worker, 'agent.json'), 'utf8')) as Record<string, Record<string, unknown>>;
  fs.writeFileSync(path.join(worker, 'agent.json'), JSON.stringify({ ...manifest, identity: { id: 'wtreviewer', name: 'the same in a worker' }, runtime: { driver: 'worker', entry: 'main.mjs' }, limits: { memoryMb: 32 } }));
  for (const dir of [path.join(FIXTURES, 'agents/treviewer'), worker, path.join(FIXTURES, 'agents/wreviewer')]) {
    const r = await d.cli(['agent', 'add', dir]);
    expect(r.code, r.stderr).toBe(0);
  }
  const file = path.join(tmpDir('osd-trig-'), 'orchestration.yaml');
  fs.writeFileSync(file, RULES);
  const applied = await d.cli(['rules', 'apply', file]);
  expect(applied.code, applied.stderr).toBe(0);
}, 60_000);

afterAll(async () => {
  await d?.stop();
});

it('a rule-spawned process, worker and WASM agent each read trigger.data.branch of the push that woke it, and again after a restart', async () => {
  const other = await d.json<Envelope>(['events', 'emit', 'git:commit_pushed', '{"branch":"dev","commit":"0000000"}']);
  const push = await d.json<Envelope>(['events', 'emit', 'git:commit_pushed', '{"branch":"main","commit":"c0ffee1","repo":"acme/greenhouse"}']);
  expect(other.id).not.toBe(push.id);
  const all = await waitFor('three reports', async () => {
    const s = await seen();
    return s.length >= 3 ? s : undefined;
  }, 30_000);
  const byAgent = Object.fromEntries(all.map((e) => [e.data.agent, e]));
  for (const agent of ['treviewer', 'wtreviewer', 'wreviewer']) {
    expect(byAgent[agent]?.data, agent).toMatchObject({ trigger: push.id, type: 'git:commit_pushed', branch: 'main', commit: 'c0ffee1' });
    // the agent's emit continues the push's causal chain
    expect(byAgent[agent]?.causedBy, agent).toBe(push.id);
  }
  expect(all).toHaveLength(3);

  // `always` instances come back after a restart with the same trigger (kept in SQLite)
  expect(await d.stop()).toBe(0);
  d = await startDaemon({ home: d.home, config });
  const again = await waitFor('three reports after the restart', async () => {
    const s = await seen();
    return s.length >= 6 ? s : undefined;
  }, 30_000);
  const restarted = again.slice(3);
  expect(restarted.map((e) => e.data.agent).sort()).toEqual(['treviewer', 'wreviewer', 'wtreviewer']);
  for (const e of restarted) expect(e.data, e.data.agent).toMatchObject({ trigger: push.id, branch: 'main', commit: 'c0ffee1' });
  // what the process agent wrote in its own data dir, at each of its two starts
  const lines = fs.readFileSync(path.join(d.home, 'data', 'treviewer', 'seen.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Seen);
  expect(lines.map((l) => [l.branch, l.commit, l.trigger])).toEqual([
    ['main', 'c0ffee1', push.id],
    ['main', 'c0ffee1', push.id],
  ]);
}, 120_000);

it('an agent an operator spawns has no trigger', async () => {
  const before = (await seen()).length;
  const r = await d.cli(['spawn', 'treviewer']);
  expect(r.code, r.stderr).toBe(0);
  const s = await waitFor('the report', async () => {
    const all = await seen();
    return all.length > before ? all : undefined;
  });
  expect(s.at(-1)?.data).toMatchObject({ agent: 'treviewer', trigger: null, branch: null });
}, 30_000);
