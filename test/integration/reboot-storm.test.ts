/**
 * Issue 17: one-shot jobs stay done. Instances under every policy, and a killed one, across 20
 * daemon restarts on the same home (SIGTERM, and kill -9 every third round); each agent counts
 * its own runs in its data dir, so a job replayed at a boot shows as an extra line.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { runcountAgent as variant, runsOf as runs } from '../helpers/runcount';
import { tmpDir, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  agent: string;
  state: string;
  desired: string;
}

let d: RunningDaemon | undefined;
afterEach(async () => {
  await d?.cli(['kill', '--signal', 'KILL', 'svc']);
  await d?.stop();
  d = undefined;
});

describe('reboot storm', () => {
  it('runs a one-shot once, an on-failure job once, a failing job its retries, and brings back only what should run, across 20 restarts', async () => {
    const src = tmpDir('osd-storm-');
    const agents = {
      oneshot: variant(src, 'oneshot', 'exit0', { policy: 'no' }),
      longshot: variant(src, 'longshot', 'stay', { policy: 'no' }),
      job: variant(src, 'job', 'exit0', { policy: 'on-failure' }),
      flaky: variant(src, 'flaky', 'exit1', { policy: 'on-failure', maxRetries: 2 }),
      svc: variant(src, 'svc', 'stay', { policy: 'always' }),
      victim: variant(src, 'victim', 'stay', { policy: 'always' }),
    };
    d = await startDaemon();
    const home = d.home;
    const ids: Record<string, string> = {};
    for (const [id, dir] of Object.entries(agents)) {
      expect((await d.cli(['agent', 'add', dir])).code).toBe(0);
      const r = await d.cli(['spawn', id]);
      expect(r.code, r.stderr).toBe(0);
      ids[id] = r.stdout.trim().split(' ').pop() ?? '';
    }
    const stateOf = async (): Promise<Map<string, Status>> => new Map((await d!.json<Status[]>(['ps', '--all'])).map((s) => [s.agent, s]));
    await waitFor('jobs done, services up', async () => {
      const s = await stateOf();
      return s.get('oneshot')?.state === 'exited' && s.get('job')?.state === 'exited' && s.get('flaky')?.state === 'failed' && s.get('svc')?.state === 'running' && s.get('victim')?.state === 'running' && s.get('longshot')?.state === 'running';
    });
    expect((await d.cli(['kill', ids.victim ?? ''])).code).toBe(0);
    const once = { oneshot: 1, longshot: 1, job: 1, flaky: 3, victim: 1 };
    for (let round = 1; round <= 20; round++) {
      if (round % 3 === 0) await d.kill9();
      else expect(await d.stop()).toBe(0);
      d = await startDaemon({ home });
      const s = await waitFor(`round ${round}: svc resumed`, async () => {
        const st = await stateOf();
        return st.get('svc')?.state === 'running' && runs(home, 'svc').length === round + 1 ? st : undefined;
      });
      for (const [agent, n] of Object.entries(once)) expect(runs(home, agent), `round ${round}: ${agent}`).toHaveLength(n);
      expect([...s.values()].filter((x) => x.desired === 'running').map((x) => x.agent)).toEqual(['svc']);
    }
    expect(runs(home, 'svc')).toEqual(Array(21).fill(ids.svc));
    const final = await stateOf();
    expect(final.get('flaky')?.state).toBe('failed');
    expect(final.get('longshot')?.state).toBe('exited');
    expect(final.get('victim')?.state).toBe('exited');
  }, 300_000);
});
