/** Worker agents: one sandboxed agent host per grant set, isolation between agents, limits, signals. */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  agent: string;
  state: string;
  osPid: number | null;
  reason: string | null;
  rssBytes: number | null;
}

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ config: { supervisor: { limits: { sampleMs: 300 } } } });
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

const lastWord = (s: string): string => s.trim().split(/\s+/).pop() ?? '';
const hostPids = (): number[] =>
  fs
    .readdirSync('/proc')
    .filter((p) => /^\d+$/.test(p))
    .filter((p) => {
      try {
        return fs.readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(`${d.home}/lib/worker-host.mjs`);
      } catch {
        return false;
      }
    })
    .map(Number);

describe('worker driver', () => {
  it('runs instances of one agent in one host, and agents with other grants in another', async () => {
    const other = copyFixtureAgent('wecho');
    const m = JSON.parse(fs.readFileSync(path.join(other, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.identity = { id: 'wecho-two', name: 'Second worker agent' };
    fs.writeFileSync(path.join(other, 'agent.json'), JSON.stringify(m));
    const a1 = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/wecho')])).stdout);
    const a2 = lastWord((await d.cli(['spawn', 'wecho'])).stdout);
    const b1 = lastWord((await d.cli(['spawn', other])).stdout);
    const rows = await waitFor('three running', async () => {
      const r = await d.json<Status[]>(['ps']);
      return r.filter((s) => s.state === 'running').length === 3 ? r : undefined;
    });
    const pid = (id: string): number | null | undefined => rows.find((r) => r.instance === id)?.osPid;
    expect(pid(a1)).toBe(pid(a2));
    expect(pid(b1)).not.toBe(pid(a1));
    expect(hostPids().sort()).toEqual([pid(a1), pid(b1)].sort());
    expect(await d.cli(['logs', a1])).toMatchObject({ stdout: expect.stringContaining(`wecho up in worker`) as unknown });
    expect((await d.cli(['logs', a1])).stdout).toContain('stdout worker stdout line');
    await waitFor('worker usage', async () => (await d.json<Status[]>(['ps'])).every((s) => s.rssBytes !== null && s.rssBytes < 64 * 1024 * 1024));

    expect((await d.cli(['signal', a1, 'HUP'])).code).toBe(0);
    await waitFor('HUP delivered', async () => (await d.cli(['logs', a1])).stdout.includes('got SIGHUP'));
    expect((await d.cli(['signal', a1, 'STOP'])).stdout).toContain('already gone');

    await d.cli(['kill', 'wecho']);
    await d.cli(['kill', 'wecho-two']);
    expect((await d.cli(['logs', a2])).stdout).toContain('wecho stopping');
    await waitFor('hosts gone', () => hostPids().length === 0);
  });

  it('keeps a worker agent out of another agent\'s files', async () => {
    const agents = await d.json<Array<{ id: string; hash: string }>>(['agent', 'ls']);
    const wecho = agents.find((a) => a.id === 'wecho');
    const foreign = path.join(d.home, 'store', wecho?.hash ?? '', 'main.mjs');
    const prober = copyFixtureAgent('wecho');
    const m = JSON.parse(fs.readFileSync(path.join(prober, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.identity = { id: 'wprober', name: 'Worker prober' };
    fs.writeFileSync(path.join(prober, 'agent.json'), JSON.stringify(m));
    expect((await d.cli(['agent', 'add', prober])).code).toBe(0);
    const own = path.join(d.home, 'store', (await d.json<Array<{ id: string; hash: string }>>(['agent', 'ls'])).find((a) => a.id === 'wprober')?.hash ?? '', 'main.mjs');
    const id = lastWord((await d.cli(['spawn', 'wprober', '--env', `PROBE_PATHS=${foreign},${own},/etc/passwd,/dev/null`])).stdout);
    const log = await waitFor('probes', async () => {
      const t = (await d.cli(['logs', id])).stdout;
      return t.includes('/dev/null=') ? t : undefined;
    });
    expect(log).toContain(`PROBE ${foreign}=denied:ERR_ACCESS_DENIED`);
    expect(log).toContain(`PROBE ${own}=ALLOWED`);
    expect(log).toContain('PROBE /etc/passwd=denied:ERR_ACCESS_DENIED');
    expect(log).toContain('PROBE /dev/null=denied:ERR_ACCESS_DENIED');
    await d.cli(['kill', id]);
  });

  it('stops a worker at its heap limit and says so', async () => {
    const id = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/wheaphog')])).stdout);
    const s = await waitFor('heap limit', async () => (await d.json<Status[]>(['ps', '--all'])).find((x) => x.instance === id && x.state === 'exited'));
    expect(s.reason).toBe('memory limit: worker heap over limits.memoryMb 16 MB');
    // V8's cap is the manifest's 16 MB (plus young generation), not a process-wide flag's
    const limit = Number(/heap_size_limit (\d+)/.exec((await d.cli(['logs', id])).stdout)?.[1]);
    expect(limit).toBeGreaterThan(16 * 1024 * 1024);
    expect(limit).toBeLessThan(24 * 1024 * 1024);
  });
});
