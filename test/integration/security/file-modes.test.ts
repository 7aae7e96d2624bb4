/**
 * File modes as shipped whatever the umask (issue 16): the real daemon started from a shell with
 * umask 000 keeps its database (and -wal / -shm, where secrets live), instance logs and control
 * token unreadable by others; only what agents under their own uid must read (the store's
 * install copies, the runner) is, and plugins.add refuses to widen a file its owner kept private.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { FIXTURES, tmpDir, waitFor } from '../../helpers/tmp';

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon({ umask: 0 });
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

/** every file and folder under root with its mode */
function walk(root: string): Array<{ rel: string; mode: number; dir: boolean }> {
  const out: Array<{ rel: string; mode: number; dir: boolean }> = [];
  for (const e of fs.readdirSync(root, { recursive: true, withFileTypes: true })) {
    const full = path.join(e.parentPath, e.name);
    const st = fs.lstatSync(full);
    out.push({ rel: path.relative(root, full), mode: st.mode & 0o777, dir: st.isDirectory() });
  }
  return out;
}

/** what agents under their own uid must be able to read (0444 files, 0555 folders, the runner) */
const AGENT_READABLE = /^(store\/[0-9a-f]{64}(\/.*)?|lib(\/.*)?|openstarryd\.yaml|device-id)$/;

describe('file modes under umask 000', () => {
  it('keeps the database, -wal, -shm, logs and the control token from others', async () => {
    expect((await d.cli(['secret', 'set', 'ECHO_SECRET', '--value', 'hunter22-secret'])).code).toBe(0);
    const r = await d.cli(['spawn', path.join(FIXTURES, 'agents/echo')]);
    expect(r.code, r.stderr).toBe(0);
    const id = r.stdout.trim().split(' ').pop() ?? '';
    const logFile = path.join(d.home, 'logs', `${id}.log`);
    await waitFor('the instance log on disk', () => fs.existsSync(logFile) && fs.readFileSync(logFile, 'utf8').includes('echo up'));
    const mode = (f: string): string => (fs.statSync(f).mode & 0o777).toString(8);
    for (const suffix of ['', '-wal', '-shm']) expect(mode(path.join(d.home, `openstarry.db${suffix}`)), `openstarry.db${suffix}`).toBe('600');
    expect(mode(logFile)).toBe('640');
    expect(mode(path.join(path.dirname(d.socket), 'control.token'))).toBe('640');
    // and nothing else in the home is readable or listable by others, except what agents must read
    // (store/ and data/ are 0711: agent uids pass through them to their own folder, they cannot list them)
    const open = walk(d.home).filter((e) => (e.mode & 0o004) !== 0 && !AGENT_READABLE.test(e.rel));
    expect(open.map((e) => `${e.rel} ${e.mode.toString(8)}`)).toEqual([]);
    // the install copy stays readable by agent uids, as it must
    const copy = walk(path.join(d.home, 'store')).filter((e) => !e.dir);
    expect(copy.length).toBeGreaterThan(0);
    for (const e of copy) expect(e.mode & 0o444).toBe(0o444);
  });

  it('refuses plugins.add of a 0600 file, naming it, and stores nothing', async () => {
    const dir = tmpDir('osd-plugin-');
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'keys', version: '1.0.0' }));
    fs.writeFileSync(path.join(dir, 'key.pem'), 'PRIVATE KEY\n');
    fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
    const before = fs.readdirSync(path.join(d.home, 'store')).sort();
    const r = await d.cli(['plugin', 'add', dir]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('OSZ_E_INSTALL_PRIVATE');
    expect(r.stderr).toContain(path.join(dir, 'key.pem'));
    expect(fs.readdirSync(path.join(d.home, 'store')).sort()).toEqual(before);
    expect((await d.cli(['plugin', 'ls'])).stdout).not.toContain('keys');
  });
});
