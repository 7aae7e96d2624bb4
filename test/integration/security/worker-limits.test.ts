/**
 * Worker agents' limits act on the OS's figures for their agent host (issue 16): CPU burnt off the
 * worker's event loop, native memory, lies about usage and nested workers do not get around them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { FIXTURES, waitFor } from '../../helpers/tmp';

interface Status {
  instance: string;
  state: string;
  osPid: number | null;
  reason: string | null;
  cpuPercent: number | null;
  rssBytes: number | null;
}

const MB = 1024 * 1024;
let d: RunningDaemon;

async function spawn(agent: string): Promise<string> {
  const r = await d.cli(['spawn', path.join(FIXTURES, 'agents', agent)]);
  expect(r.code).toBe(0);
  return r.stdout.trim().split(/\s+/).pop() ?? '';
}
const row = async (id: string): Promise<Status | undefined> => (await d.json<Status[]>(['ps', '--all'])).find((s) => s.instance === id);
const exited = (id: string): Promise<Status> => waitFor(`${id} stopped`, async () => ((await row(id))?.state === 'exited' ? row(id) : undefined), 60_000);
const logs = async (id: string): Promise<string> => (await d.cli(['logs', id, '-n', '500'])).stdout;
const vmRss = (pid: number): number => Number(/VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
const hostOf = (pid: number): boolean => fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(`${d.home}/lib/worker-host.mjs`);

describeShipped('worker agent limits', () => {
  beforeAll(async () => {
    // The grace is long enough for the test to see the spinner in ps before it is stopped.
    d = await startDaemon({ asShipped: true, config: { supervisor: { limits: { sampleMs: 200, cpuGraceMs: 5000 } } } });
  });
  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
  });

  it('refuses a nested worker, shows CPU burnt off the event loop and stops the agent for cpuPercent', async () => {
    const id = await spawn('wspin');
    // Before: the figure was the worker's event-loop utilisation, near 0 for work on the thread pool.
    const busy = await waitFor('host CPU in ps', async () => {
      const s = await row(id);
      return s?.state === 'running' && (s.cpuPercent ?? 0) > 5 ? s : undefined;
    }, 30_000);
    expect(busy.osPid).not.toBeNull();
    expect(hostOf(busy.osPid ?? 0)).toBe(true);
    const log = await logs(id);
    for (const how of ['import', 'require', 'binding']) expect(log).toContain(`NESTED ${how} refused: ERR_ACCESS_DENIED`);
    expect(log).not.toMatch(/NESTED \w+ started/);
    const s = await exited(id);
    expect(s.reason).toMatch(new RegExp(`^cpu limit: agent host ${busy.osPid} at \\d+% for \\d+ s, over limits.cpuPercent 5%$`));
    expect(Number(/at (\d+)%/.exec(s.reason ?? '')?.[1])).toBeGreaterThan(5);
    expect(await logs(id)).toContain('stopping: cpu limit');
  });

  it('stops a worker whose native memory outgrows memoryMb, after refusing it a nested worker', async () => {
    const id = await spawn('wbufhog');
    const s = await exited(id);
    // 16 MB limit + 24 MB for the worker + 48 MB for the host's runtime
    expect(s.reason).toMatch(/^memory limit: agent host \d+ RSS \d+ MB over 88 MB \(\(limits.memoryMb 16 \+ 24 MB worker\) \+ 48 MB runtime\)$/);
    const log = await logs(id);
    expect(log).toContain('NESTED refused: ERR_ACCESS_DENIED');
    expect(log).not.toContain('NESTED started');
  });

  it('shows the host\'s RSS however the agent reports its usage', async () => {
    const id = await spawn('wliar');
    await waitFor('holding', async () => (await logs(id)).includes('holding 41943040 bytes'));
    // The lies arrive as the agent's own messages, which the daemon rejects as invalid protocol.
    await waitFor('lies rejected', async () => (await logs(id)).includes('protocol:'));
    const s = await waitFor('rss sampled', async () => {
      const r = await row(id);
      return r?.state === 'running' && r.rssBytes !== null ? r : undefined;
    });
    const pid = s.osPid ?? 0;
    expect(hostOf(pid)).toBe(true);
    expect(s.rssBytes).toBeGreaterThan(40 * MB);
    // The same process the OS reports on, sampled a moment apart: within a few MB of each other.
    expect(Math.abs((s.rssBytes ?? 0) - vmRss(pid))).toBeLessThan(16 * MB);
    expect((await row(id))?.state).toBe('running');
    await d.cli(['kill', id]);
  });

  it('shows every instance of one host the host\'s figures', async () => {
    const a = await spawn('widle');
    const b = await spawn('widle');
    const rows = await waitFor('both sampled', async () => {
      const all = await d.json<Status[]>(['ps']);
      const two = all.filter((s) => s.instance === a || s.instance === b);
      return two.length === 2 && two.every((s) => s.state === 'running' && s.rssBytes !== null) ? two : undefined;
    });
    expect(rows[0]?.osPid).toBe(rows[1]?.osPid);
    expect(rows[0]?.rssBytes).toBe(rows[1]?.rssBytes);
    expect(rows[0]?.cpuPercent).toBe(rows[1]?.cpuPercent);
    await d.cli(['kill', 'widle']);
  });
});
