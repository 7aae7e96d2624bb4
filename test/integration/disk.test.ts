/**
 * A full disk and a read-only store (DESIGN §7, issue 3): the daemon keeps running its agents,
 * refuses changes with OSZ_E_STORE_IO, shows the store as degraded, raises alert:disk_*, and
 * recovers by itself when the disk does. A small tmpfs stands in for the SD card.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { fillDisk } from '../helpers/disk';
import { startDaemon } from '../helpers/daemon';
import { asRoot, describeWith, hasCommand } from '../helpers/system';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  state: string;
}
interface DaemonStatus {
  health: Array<{ name: string; state: string; detail?: string }>;
}

const mounts: string[] = [];
afterAll(() => {
  for (const m of mounts) {
    try {
      execFileSync('umount', ['-l', m]);
    } catch {
      /* already gone */
    }
  }
});

describeWith('a full or read-only disk', [asRoot(), hasCommand('mount', 'mount')], () => {
  it('keeps agents running, refuses changes with a clear error, and recovers', async () => {
    const mnt = path.join(tmpDir('osd-disk-'), 'sd');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0755', 'tmpfs', mnt]);
    mounts.push(mnt);
    const d = await startDaemon({ home: path.join(mnt, 'h') });
    const first = await d.cli(['spawn', path.join(FIXTURES, 'agents/watcher')]);
    expect(first.code, first.stderr).toBe(0);
    const watcher = first.stdout.trim().split(' ').pop() ?? '';
    await d.cli(['agent', 'add', path.join(FIXTURES, 'agents/stubborn')]);

    const filler = fillDisk(mnt);
    const refused = await d.cli(['spawn', 'stubborn']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('OSZ_E_STORE_IO');
    expect(refused.stderr).toMatch(/full/i);
    expect((await d.json<Status[]>(['ps'])).filter((s) => s.state === 'running')).toHaveLength(1);
    const degraded = await d.json<DaemonStatus>(['status']);
    expect(degraded.health.find((h) => h.name === 'store')).toMatchObject({ state: 'degraded' });
    expect(d.output.join('\n')).toMatch(/disk full: .*agents keep running/);
    // Rules and agents hear about it: a running agent subscribed to alert:* got the event.
    await waitFor('alert delivered', async () => (await d.cli(['logs', watcher])).stdout.includes('ALERT alert:disk_full {"problem":"full"'));

    fs.rmSync(filler);
    const again = await d.cli(['spawn', 'stubborn']);
    expect(again.code, again.stderr).toBe(0);
    expect((await d.json<DaemonStatus>(['status'])).health.find((h) => h.name === 'store')?.state).toBe('ok');

    expect(await d.stop()).toBe(0);
  });

  it('comes back on a read-only store: agents run from the desired state, changes are refused', async () => {
    const mnt = path.join(tmpDir('osd-disk-'), 'sd');
    fs.mkdirSync(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=6m,mode=0755', 'tmpfs', mnt]);
    mounts.push(mnt);
    const home = path.join(mnt, 'h');
    const first = await startDaemon({ home });
    for (const agent of ['singleton', 'stubborn']) expect((await first.cli(['spawn', path.join(FIXTURES, 'agents', agent)])).code).toBe(0);
    expect(await first.stop()).toBe(0);

    // What ext4 does after I/O errors on an SD card; the socket lives in /run on a real device.
    execFileSync('mount', ['-o', 'remount,ro', mnt]);
    const run = path.join(tmpDir('osd-run-'), 'control.sock');
    const d = await startDaemon({ home, args: ['--socket', run], writeConfig: false });
    expect(d.output.join('\n')).toContain('read-only filesystem');
    const rows = await waitFor('agents back', async () => {
      const r = await d.json<Status[]>(['--socket', run, 'ps']);
      return r.filter((s) => s.state === 'running').length === 2 ? r : undefined;
    });
    expect(rows).toHaveLength(2);
    const refused = await d.cli(['--socket', run, 'spawn', 'stubborn']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain('OSZ_E_STORE_IO');
    expect(refused.stderr).toMatch(/readonly|read-only/);
    const status = await d.json<DaemonStatus>(['--socket', run, 'status']);
    expect(status.health.find((h) => h.name === 'store')).toMatchObject({ state: 'degraded' });
    const doctor = await d.cli(['--socket', run, 'doctor']);
    expect(doctor.code).toBe(1);
    expect(doctor.stdout).toMatch(/FAIL filesystem: .* read-only/);
    expect(await d.stop()).toBe(0);
    execFileSync('mount', ['-o', 'remount,rw', mnt]);
  });
});
