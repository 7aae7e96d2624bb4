/**
 * Agent output is capped (issue 16): a real process agent flooding stdout under the real daemon.
 * What reaches the instance log stays within logs.outputLinesPerSecond (burst: twice that), the
 * drop is said in the log, the daemon stops reading the pipe (its CPU stays low while the agent
 * blocks in write) and /healthz still answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { FIXTURES, waitFor } from '../../helpers/tmp';

const LINES_PER_SECOND = 100;
const BYTES_PER_SECOND = 64 * 1024;
const CLOCK_TICKS = 100; // USER_HZ: /proc/<pid>/stat counts CPU time in 1/100 s on Linux

let d: RunningDaemon;

/** utime + stime of a process, in seconds */
function cpuSeconds(pid: number): number {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

const dropLines = (log: string): string[] => log.split('\n').filter((l) => / daemon warn dropped \d+ lines \/ \d+ bytes of output over /.test(l));

describeShipped('agent output cap', () => {
  beforeAll(async () => {
    d = await startDaemon({ asShipped: true, config: { logs: { outputLinesPerSecond: LINES_PER_SECOND, outputBytesPerSecond: BYTES_PER_SECOND } } });
  });
  afterAll(async () => {
    if (d) expect(await d.stop()).toBe(0);
  });

  it('keeps a flooding process agent within its cap, says the drops, and does not let it burn the daemon', async () => {
    const spawnedAt = performance.now();
    const r = await d.cli(['spawn', path.join(FIXTURES, 'agents/outflood')]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim().split(' ').pop() ?? '';
    try {
      const file = path.join(d.home, 'logs', `${id}.log`);
      const read = (): string => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
      await waitFor('the first drop line', () => dropLines(read()).length >= 1, 30_000);
      const ps = await d.json<Array<{ instance: string; osPid: number | null; state: string }>>(['ps']);
      const agentPid = ps.find((p) => p.instance === id)?.osPid ?? 0;
      expect(agentPid).toBeGreaterThan(0);
      const daemonPid = d.proc.pid ?? 0;
      const before = { t: performance.now(), daemon: cpuSeconds(daemonPid), agent: cpuSeconds(agentPid), drops: dropLines(read()).length };
      // the window is five more drop reports (one a second at most): the flood goes on meanwhile
      await waitFor('five more drop lines', () => dropLines(read()).length >= before.drops + 5, 60_000, 200);
      const health = await fetch(`http://${d.http}/healthz`);
      expect(health.status).toBe(200);
      const after = { t: performance.now(), daemon: cpuSeconds(daemonPid), agent: cpuSeconds(agentPid) };
      const seconds = (after.t - before.t) / 1000;
      const daemonShare = (after.daemon - before.daemon) / seconds;
      console.log(`flood window ${seconds.toFixed(1)} s: daemon ${(daemonShare * 100).toFixed(1)} % of a core, agent ${(((after.agent - before.agent) / seconds) * 100).toFixed(1)} %`);
      expect(daemonShare).toBeLessThan(0.25);

      // every kept flood line since the spawn fits in the burst plus the rate for the time elapsed
      const log = read();
      const elapsed = (performance.now() - spawnedAt) / 1000;
      const kept = log.split('\n').filter((l) => / stdout info x+ flood$/.test(l)).length;
      expect(kept).toBeGreaterThan(LINES_PER_SECOND);
      expect(kept).toBeLessThanOrEqual(2 * LINES_PER_SECOND + Math.ceil(LINES_PER_SECOND * elapsed));
      const drop = dropLines(log)[0] ?? '';
      expect(drop).toMatch(/dropped \d+ lines \/ \d+ bytes of output over logs\.outputLinesPerSecond/);
      // one drop line a second at most
      const stamps = dropLines(log).map((l) => Date.parse(l.slice(0, l.indexOf(' '))));
      for (let i = 1; i < stamps.length; i++) expect((stamps[i] ?? 0) - (stamps[i - 1] ?? 0)).toBeGreaterThanOrEqual(990);
    } finally {
      await d.cli(['kill', id, '--signal', 'SIGKILL']);
    }
  }, 180_000);
});
