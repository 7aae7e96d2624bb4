/** Limits on real process agents: memory (heap and RSS), CPU and tokens stop the agent with a reason. */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  state: string;
  reason: string | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  tokensLastHour: number;
}

let d: RunningDaemon;
beforeAll(async () => {
  // The RSS allowance is generous so the heap test hits V8's cap first; memhog grows far past it.
  d = await startDaemon({ config: { supervisor: { limits: { sampleMs: 200, cpuGraceMs: 1500, rssOverheadMb: 150 } } } });
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

async function stoppedWith(agent: string): Promise<{ status: Status; log: string }> {
  const r = await d.cli(['spawn', path.join(FIXTURES, 'agents', agent)]);
  const id = r.stdout.trim().split(' ').pop() ?? '';
  const status = await waitFor(`${agent} stopped`, async () => (await d.json<Status[]>(['ps', '--all'])).find((s) => s.instance === id && s.state === 'exited'), 30_000);
  const log = (await d.cli(['logs', id, '-n', '500'])).stdout;
  return { status, log };
}

describe('limits', () => {
  it('stops an agent whose native memory grows past memoryMb + runtime overhead', async () => {
    const { status, log } = await stoppedWith('memhog');
    expect(status.reason).toMatch(/^memory limit: RSS \d+ MB over 166 MB/);
    expect(log).toContain('stopping: memory limit');
    expect((await d.cli(['ps', '--all'])).stdout).toContain('memory limit');
  });

  it('names the V8 heap limit when the heap cap aborts the agent', async () => {
    const { status } = await stoppedWith('heaphog');
    expect(status.reason).toBe('memory limit: V8 heap over limits.memoryMb 16 MB');
  });

  it('stops a CPU spinner that stays over cpuPercent past the grace period', async () => {
    const { status, log } = await stoppedWith('spinner');
    expect(status.reason).toMatch(/^cpu limit: \d+% for \d+ s, over limits.cpuPercent 30%/);
    expect(log).toContain('stopping: cpu limit');
  });

  it('enforces tokensPerHour from what the agent reports', async () => {
    const { status } = await stoppedWith('tokenhog');
    expect(status.reason).toBe('token limit: 1200 tokens in the last hour, over limits.tokensPerHour 1000');
  });

  it('shows CPU and memory of running agents in ps', async () => {
    const r = await d.cli(['spawn', path.join(FIXTURES, 'agents/singleton')]);
    const id = r.stdout.trim().split(' ').pop() ?? '';
    const s = await waitFor('usage sampled', async () => (await d.json<Status[]>(['ps'])).find((x) => x.instance === id && x.rssBytes !== null));
    expect(s.rssBytes).toBeGreaterThan(10 * 1024 * 1024);
    expect(s.cpuPercent).toBeGreaterThanOrEqual(0);
    expect((await d.cli(['ps'])).stdout).toMatch(/CPU%\s+MEM/);
    await d.cli(['kill', id]);
  });
});
