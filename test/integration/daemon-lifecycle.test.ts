/** The daemon process itself: config errors, socket paths, restarts, crash recovery, a corrupt store. */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon';
import { FIXTURES, REPO, tmpDir, waitFor } from '../helpers/tmp';
import { processStartTime } from '../../runtime/util/proc';

interface Status {
  instance: string;
  state: string;
  osPid: number | null;
}

const daemonBin = path.join(REPO, 'bin/openstarryd');
const ctl = (args: string[], env: NodeJS.ProcessEnv = process.env): Promise<{ code: number; stdout: string; stderr: string }> =>
  new Promise((resolve) =>
    execFile(process.execPath, [path.join(REPO, 'dist/openstarryctl.mjs'), ...args], { env }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : 1) : 0, stdout, stderr }),
    ),
  );
/** Alive and not a zombie (field 3 of /proc/<pid>/stat, after the command name). */
function alive(pid: number): boolean {
  if (processStartTime(pid) === null) return false;
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
}

describe('daemon start-up errors', () => {
  it('exits 78 on config typos, naming every key and the fix', () => {
    const home = tmpDir('osd-life-');
    fs.writeFileSync(path.join(home, 'openstarryd.yaml'), 'htpp:\n  listen: 127.0.0.1:0\nsupervisor:\n  graceMs: -5\n');
    const r = spawnSync(daemonBin, ['--home', home], { encoding: 'utf8', env: { ...process.env, OPENSTARRYD_LOGS__LEVL: 'debug' } });
    expect(r.status).toBe(78);
    expect(r.stderr).toContain('htpp: unknown key; did you mean "http"?');
    expect(r.stderr).toContain('supervisor.graceMs');
    expect(r.stderr).toContain('logs.levl');
    expect(r.stderr).toContain('hint:');
  });

  it('exits 78 on an unknown board, naming the boards it knows', () => {
    const r = spawnSync(daemonBin, ['--home', tmpDir('osd-life-'), '--board', 'raspberrypi-4', '--http', '127.0.0.1:0'], { encoding: 'utf8' });
    expect(r.status).toBe(78);
    expect(r.stdout).toContain('unknown board "raspberrypi-4"; did you mean "raspberrypi-4b"?');
    expect(r.stdout).toContain('sim');
    const replay = spawnSync(daemonBin, ['--home', tmpDir('osd-life-'), '--replay', '/nonexistent/trace.jsonl', '--http', '127.0.0.1:0'], { encoding: 'utf8' });
    expect(replay.status).toBe(78);
    expect(replay.stdout).toContain('replay trace /nonexistent/trace.jsonl does not exist');
  });

  it('exits 64 on an unknown flag and 78 on a socket path over 107 bytes', () => {
    const home = tmpDir('osd-life-');
    expect(spawnSync(daemonBin, ['--home', home, '--borad', 'sim'], { encoding: 'utf8' }).stderr).toContain('did you mean --board');
    const long = path.join(home, 's'.repeat(110) + '.sock');
    const r = spawnSync(daemonBin, ['--home', home, '--http', '127.0.0.1:0', '--socket', long], { encoding: 'utf8' });
    expect(r.status).toBe(78);
    expect(r.stdout + r.stderr).toContain('OSZ_E_SOCKET_PATH');
  });

  it('falls back to a hashed socket name for a long home, and the CLI finds it', async () => {
    const home = path.join(tmpDir('osd-life-'), 'a-rather-long-folder-name-for-a-home-directory-'.repeat(2));
    const d = await startDaemon({ home });
    expect(d.socket.startsWith(home)).toBe(false);
    expect(Buffer.byteLength(d.socket)).toBeLessThanOrEqual(107);
    expect((await d.cli(['status'])).code).toBe(0);
    const second = spawnSync(daemonBin, ['--home', home, '--http', '127.0.0.1:0'], { encoding: 'utf8', timeout: 20_000 });
    expect(second.status).not.toBe(0);
    expect(second.stdout).toContain('already serving');
    expect(await d.stop()).toBe(0);
  });

  it('tells the user every socket path it tried when no daemon runs', async () => {
    const r = await ctl(['ps', '--home', tmpDir('osd-none-')], { ...process.env, HOME: tmpDir('osd-none-') });
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('OSZ_E_DAEMON_UNREACHABLE');
    expect(r.stderr).toContain('/run/openstarry/control.sock');
  });
});

describe('daemon restarts', () => {
  it('stops agents on SIGTERM and brings back the instances desired running', async () => {
    const first = await startDaemon();
    await first.cli(['secret', 'set', 'ECHO_SECRET', '--value', 'abcdef']);
    const a = (await first.cli(['spawn', path.join(FIXTURES, 'agents/echo')])).stdout.trim().split(' ').pop() ?? '';
    const b = (await first.cli(['spawn', 'echo'])).stdout.trim().split(' ').pop() ?? '';
    await first.cli(['kill', b]);
    const before = await first.json<Status[]>(['ps']);
    const pidA = before.find((s) => s.instance === a)?.osPid ?? 0;
    expect(pidA).toBeGreaterThan(0);
    expect(await first.stop()).toBe(0);
    expect(alive(pidA)).toBe(false);
    const second = await startDaemon({ home: first.home });
    const after = await waitFor('resumed', async () => {
      const rows = await second.json<Status[]>(['ps', '--all']);
      return rows.find((r) => r.instance === a)?.state === 'running' ? rows : undefined;
    });
    expect(after.find((r) => r.instance === b)?.state).toBe('exited');
    expect(after.filter((r) => r.state === 'running')).toHaveLength(1);
    expect(await second.stop()).toBe(0);
  });

  it('after kill -9 of the daemon, reaps the old agent process and respawns the instance once', async () => {
    const first = await startDaemon();
    const id = (await first.cli(['spawn', path.join(FIXTURES, 'agents/singleton')])).stdout.trim().split(' ').pop() ?? '';
    const oldPid = (await first.json<Status[]>(['ps'])).find((s) => s.instance === id)?.osPid ?? 0;
    await first.kill9();
    const second = await startDaemon({ home: first.home });
    const row = await waitFor('respawned', async () => (await second.json<Status[]>(['ps'])).find((r) => r.instance === id && r.state === 'running'));
    expect(row.osPid).not.toBe(oldPid);
    await waitFor('old agent gone', () => !alive(oldPid));
    expect(second.output.join('\n')).toContain(`reaped leftover agent process ${oldPid}`);
    expect((await second.json<Status[]>(['ps'])).filter((r) => r.state === 'running')).toHaveLength(1);
    expect(await second.stop()).toBe(0);
  });

  it('moves a corrupt database aside at boot and keeps serving', async () => {
    const home = path.join(tmpDir('osd-life-'), 'h');
    fs.mkdirSync(home);
    fs.writeFileSync(path.join(home, 'openstarry.db'), 'garbage, not a database '.repeat(200));
    const d = await startDaemon({ home });
    expect(d.output.join('\n')).toContain('failed its integrity check');
    const status = await d.json<{ store: { recoveredFrom: string | null }; health: Array<{ name: string; detail?: string }> }>(['status']);
    expect(status.store.recoveredFrom).toContain('openstarry.db.corrupt-');
    expect(fs.readFileSync(status.store.recoveredFrom ?? '', 'utf8')).toContain('garbage');
    expect((await d.cli(['spawn', path.join(FIXTURES, 'agents/singleton')])).code).toBe(0);
    expect(await d.stop()).toBe(0);
  });
});
