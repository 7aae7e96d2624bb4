/** Months without anyone watching: crash recovery, graceful shutdown, doctor, log levels at run time. */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, waitFor } from '../helpers/tmp';
import { runnerPids } from '../helpers/runcount';

interface Status {
  instance: string;
  state: string;
  osPid: number | null;
}


describe('crash recovery', () => {
  it('survives kill -9 of the daemon 20 times with 10 agents: same instances, none twice, no strays, store intact', async () => {
    let d = await startDaemon();
    const home = d.home;
    expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents/stubborn')])).code).toBe(0);
    for (let i = 0; i < 10; i++) expect((await d.cli(['spawn', 'stubborn'])).code).toBe(0);
    const ids = (await d.json<Status[]>(['ps'])).map((s) => s.instance).sort();
    expect(ids).toHaveLength(10);
    for (let round = 0; round < 20; round++) {
      await d.kill9();
      const db = new Database(path.join(home, 'openstarry.db'), { readonly: true });
      expect(db.pragma('integrity_check', { simple: true })).toBe('ok');
      db.close();
      d = await startDaemon({ home });
      const rows = await waitFor(`round ${round}: all 10 running`, async () => {
        const r = await d.json<Status[]>(['ps']);
        return r.filter((s) => s.state === 'running').length === 10 ? r : undefined;
      });
      expect(rows.map((s) => s.instance).sort()).toEqual(ids);
      const pids = rows.map((s) => s.osPid ?? 0);
      expect(new Set(pids).size).toBe(10);
      await waitFor(`round ${round}: no stray agent process`, () => runnerPids(home).length === 10);
      expect(runnerPids(home).sort()).toEqual([...pids].sort());
    }
    await d.cli(['kill', '--signal', 'KILL', 'stubborn']);
    expect(await d.stop()).toBe(0);
    expect(runnerPids(home)).toEqual([]);
  }, 300_000);
});

describe('graceful shutdown', () => {
  it('stops agents with their grace periods on SIGTERM, KILLs one that ignores TERM, and exits 0', async () => {
    const d = await startDaemon({ config: { supervisor: { graceMs: 5000 } } });
    await d.cli(['secret', 'set', 'ECHO_SECRET', '--value', 'xyz123']);
    const polite = (await d.cli(['spawn', path.join(FIXTURES, 'agents/echo')])).stdout.trim().split(' ').pop() ?? '';
    const rude = (await d.cli(['spawn', path.join(FIXTURES, 'agents/stubborn')])).stdout.trim().split(' ').pop() ?? '';
    await waitFor('both running', async () => (await d.json<Status[]>(['ps'])).filter((s) => s.state === 'running').length === 2);
    const t0 = Date.now();
    expect(await d.stop()).toBe(0);
    // stubborn's grace is 300 ms; the margin covers a busy machine, not a second grace period.
    expect(Date.now() - t0).toBeLessThan(300 + 10_000);
    expect(runnerPids(d.home)).toEqual([]);
    const logs = path.join(d.home, 'logs');
    expect(fs.readFileSync(path.join(logs, `${rude}.log`), 'utf8')).toContain('sending KILL');
    expect(fs.readFileSync(path.join(logs, `${polite}.log`), 'utf8')).toContain('echo stopping');
    expect(d.output.join('\n')).toContain('daemon: stopping store');
  });
});

describe('a second stop signal', () => {
  it('kills agents at once instead of waiting out a long grace period', async () => {
    const d = await startDaemon();
    const dir = copyFixtureAgent('stubborn');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.stop = { graceMs: 60_000 };
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
    const id = (await d.cli(['spawn', dir])).stdout.trim().split(' ').pop() ?? '';
    const pid = (await waitFor('running', async () => (await d.json<Status[]>(['ps'])).find((s) => s.instance === id && s.state === 'running'))).osPid ?? 0;
    d.proc.kill('SIGTERM');
    await waitFor('TERM reached the agent', () => d.output.some((l) => l.includes('SIGTERM: stopping')));
    await new Promise((r) => setTimeout(r, 300));
    expect(runnerPids(d.home)).toContain(pid);
    d.proc.kill('SIGTERM');
    expect(await d.stop()).toBe(130);
    await waitFor('agent gone', () => !runnerPids(d.home).includes(pid));
    expect(d.output.join('\n')).toContain('SIGTERM again: killing agents now');
  });
});

describe('doctor and log levels', () => {
  it('runs every check and says how to fix problems', async () => {
    const d = await startDaemon();
    const checks = await d.json<Array<{ name: string; status: string; fix?: string }>>(['doctor']);
    expect(checks.map((c) => c.name)).toEqual(expect.arrayContaining(['clock', 'disk', 'filesystem', 'sd-card', 'store', 'control-socket', 'permission-model', 'agent-uid', 'env-allow-list']));
    expect(checks.find((c) => c.name === 'control-socket')?.status).toBe('ok');
    expect(checks.filter((c) => c.status !== 'ok').every((c) => c.fix)).toBe(true);
    const human = await d.cli(['doctor']);
    expect(human.stdout).toMatch(/ok {3}store: quick_check ok/);
    expect(await d.stop()).toBe(0);
  });

  it('changes what an agent may log, and the daemon\'s own level, at run time', async () => {
    const d = await startDaemon();
    await d.cli(['secret', 'set', 'ECHO_SECRET', '--value', 'xyz123']);
    const id = (await d.cli(['spawn', path.join(FIXTURES, 'agents/echo')])).stdout.trim().split(' ').pop() ?? '';
    await waitFor('first beat', async () => (await d.cli(['logs', id])).stdout.includes('event timer:beat'));
    expect((await d.cli(['log-level', 'warn', 'echo'])).code).toBe(0);
    expect((await d.cli(['signal', id, 'HUP'])).code).toBe(0);
    await new Promise((r) => setTimeout(r, 500));
    expect((await d.cli(['logs', id])).stdout).not.toContain('got SIGHUP');
    expect((await d.cli(['log-level', 'info', id])).code).toBe(0);
    await d.cli(['signal', id, 'HUP']);
    await waitFor('info lines again', async () => (await d.cli(['logs', id])).stdout.includes('got SIGHUP'));
    expect((await d.cli(['log-level', 'debug'])).stdout).toContain('log level of daemon is now debug');
    expect((await d.cli(['log-level', 'loud'])).code).toBe(1);
    expect((await d.cli(['log-level', 'info', 'no-such-agent'])).stderr).toContain('OSZ_E_NO_SUCH_INSTANCE');
    expect(await d.stop()).toBe(0);
  });
});

