/**
 * Process and worker agents run under their own uid, with no groups, every capability set empty
 * and no_new_privs — as shipped: the daemon started the way images/systemd/openstarryd.service
 * runs it (its user, groups, ambient capabilities, umask, no_new_privs and syscall filter, read
 * from the unit file; test/helpers/shipped.ts), and as root (balena's container, a bare install).
 * What a uid and capabilities guard is checked under the agent's own credentials, past Node's
 * permission model: native code in an agent would have exactly these.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { type RunningDaemon, type StartOptions, startDaemon } from '../../helpers/daemon';
import { shippedRequirements, unitSettings } from '../../helpers/shipped';
import { describeWith } from '../../helpers/system';
import { copyFixtureAgent, FIXTURES, REPO, waitFor } from '../../helpers/tmp';

interface Row {
  instance: string;
  agent: string;
  state: string;
  osPid: number;
}

const running: RunningDaemon[] = [];
afterEach(async () => {
  for (const d of running.splice(0)) {
    await d.stop();
  }
});

async function start(opts: StartOptions): Promise<RunningDaemon> {
  const d = await startDaemon(opts);
  running.push(d);
  return d;
}

const statusOf = (pid: number): ((name: string) => string) => {
  const text = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return (name) => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(text)?.[1]?.trim() ?? '';
};

/** Runs `cmd` with exactly the credentials of process `pid` (uid, gid, groups, no capabilities). */
function asCredentialsOf(pid: number, cmd: string[]): Promise<{ code: number; stderr: string }> {
  const f = statusOf(pid);
  const uid = f('Uid').split(/\s+/)[0] ?? '';
  const gid = f('Gid').split(/\s+/)[0] ?? '';
  const groups = f('Groups').split(/\s+/).filter(Boolean);
  const args = [`--reuid=${uid}`, `--regid=${gid}`, groups.length ? `--groups=${groups.join(',')}` : '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--', ...cmd];
  return new Promise((resolve) => execFile('setpriv', args, (err, _out, stderr) => resolve({ code: err ? Number(err.code ?? 1) : 0, stderr })));
}

async function runningRows(d: RunningDaemon, n: number): Promise<Row[]> {
  return waitFor(`${n} running`, async () => {
    const r = await d.json<Row[]>(['ps']);
    return r.filter((x) => x.state === 'running' && x.osPid > 0).length >= n ? r.filter((x) => x.state === 'running') : undefined;
  });
}

const MODES: Array<[string, StartOptions]> = [
  ['as the systemd unit runs it', { asShipped: true }],
  ['as root (balena, a bare install)', {}],
];

describeWith('process and worker agents under their own uid', shippedRequirements(), () => {
  for (const [mode, opts] of MODES) {
    it(`${mode}: own uid, no groups, no capabilities, no_new_privs, private data dir`, async () => {
      const d = await start(opts);
      const daemonStatus = statusOf(d.proc.pid ?? 0);
      if (opts.asShipped) {
        // the harness really reproduced the unit
        expect(daemonStatus('Uid').split(/\s+/)[0]).not.toBe('0');
        expect(daemonStatus('CapAmb')).not.toBe('0000000000000000');
        expect(daemonStatus('NoNewPrivs')).toBe('1');
        expect(daemonStatus('Seccomp')).toBe('2');
      }
      // two process agents and a worker agent (its agent host is the process)
      for (const a of ['singleton', 'stubborn', 'widle']) expect([a, (await d.cli(['spawn', path.join(FIXTURES, 'agents', a)])).code]).toEqual([a, 0]);
      const rows = await runningRows(d, 3);
      const agents = await d.json<Array<{ id: string; uid: number }>>(['agent', 'ls']);
      const uids = new Set<number>();
      for (const row of rows) {
        const f = statusOf(row.osPid);
        const [ruid, euid, suid, fsuid] = f('Uid').split(/\s+/).map(Number);
        expect([row.agent, ruid]).toEqual([row.agent, agents.find((x) => x.id === row.agent)?.uid]);
        expect([euid, suid, fsuid]).toEqual([ruid, ruid, ruid]);
        expect(f('Gid').split(/\s+/).map(Number)).toEqual([ruid, ruid, ruid, ruid]);
        expect([row.agent, f('Groups')]).toEqual([row.agent, '']);
        for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) expect([row.agent, set, f(set)]).toEqual([row.agent, set, '0000000000000000']);
        expect(f('NoNewPrivs')).toBe('1');
        uids.add(ruid ?? -1);
        const dataDir = path.join(d.home, 'data', row.agent);
        expect(fs.statSync(dataDir).uid).toBe(ruid);
        expect(fs.statSync(dataDir).mode & 0o777).toBe(0o700);
      }
      expect(uids.size).toBe(3);
      expect(fs.statSync(path.join(path.dirname(d.socket), 'control.token')).mode & 0o777).toBe(0o640);
      expect(fs.statSync(d.socket).mode & 0o777).toBe(0o660);
    });

    it(`${mode}: what an agent's own credentials reach — not the token, the store, another agent's data, a device, root, init or the daemon`, async () => {
      const d = await start(opts);
      expect((await d.cli(['spawn', path.join(FIXTURES, 'agents/stubborn')])).code).toBe(0);
      const [other] = await runningRows(d, 1);
      const spawned = await d.cli(['spawn', path.join(FIXTURES, 'agents/uidprobe'), '--env', `DAEMON_PID=${d.proc.pid}`, '--env', `OTHER_PID=${other?.osPid}`]);
      expect(spawned.code).toBe(0);
      const probe = await waitFor('the probe done', async () => {
        const r = await d.cli(['logs', 'uidprobe', '-n', '100']);
        return r.stdout.includes('UIDPROBE done=yes') ? r.stdout : undefined;
      });
      const line = (name: string): string => new RegExp(`UIDPROBE ${name}=(\\S+)`).exec(probe)?.[1] ?? 'missing';
      expect(line('setuid_0')).toBe('denied:EPERM');
      expect(line('setgid_0')).toBe('denied:EPERM');
      expect(line('setgroups')).toBe('denied:EPERM');
      expect(line('kill_init')).toBe('denied:EPERM');
      expect(line('kill_daemon')).toBe('denied:EPERM');
      expect(line('kill_other')).toBe('denied:EPERM');

      // Past the permission model: native code in the agent would run with exactly the credentials
      // of the stubborn agent's process. A "device" the daemon's groups may open stands in for /dev.
      const device = path.join(d.home, 'run', 'fake-ttyS0');
      fs.writeFileSync(device, '');
      fs.chownSync(device, 0, Number(/^dialout:x:(\d+)/m.exec(fs.readFileSync('/etc/group', 'utf8'))?.[1] ?? 20));
      fs.chmodSync(device, 0o660);
      const pid = other?.osPid ?? 0;
      // a file in the probe agent's own data dir (0700 under its uid), as the agent would keep it
      const probeData = path.join(d.home, 'data', 'uidprobe');
      const kept = path.join(probeData, 'kept.txt');
      fs.writeFileSync(kept, 'private\n', { mode: 0o644 });
      fs.chownSync(kept, fs.statSync(probeData).uid, fs.statSync(probeData).gid);
      const list = await asCredentialsOf(pid, ['ls', probeData]);
      expect([probeData, list.code === 0 ? 'LISTED' : 'denied']).toEqual([probeData, 'denied']);
      for (const target of [path.join(path.dirname(d.socket), 'control.token'), path.join(d.home, 'openstarry.db'), kept, device, '/etc/shadow']) {
        const r = await asCredentialsOf(pid, ['cat', target]);
        expect([target, r.code === 0 ? 'READ' : 'denied']).toEqual([target, 'denied']);
      }
      const socketConnect = await asCredentialsOf(pid, ['python3', '-c', `import socket; s=socket.socket(socket.AF_UNIX); s.connect(${JSON.stringify(d.socket)})`]);
      expect(socketConnect.code).not.toBe(0);
      expect(socketConnect.stderr).toMatch(/Permission denied/);
      if (opts.asShipped) {
        // the daemon's own user reaches the device through its group: the agent must not
        const daemonUid = statusOf(d.proc.pid ?? 0)('Uid').split(/\s+/)[0] ?? '';
        expect(unitSettings().supplementaryGroups).toContain('dialout');
        expect(Number(daemonUid)).toBeGreaterThan(0);
      }
    });
  }

  it('as the systemd unit runs it: the permission model holds for process and worker agents (files, /dev, child processes, workers, addons, the control socket)', async () => {
    const d = await start({ asShipped: true });
    const addon = path.join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    // the same prober as a worker agent: its folder with the driver switched
    const wprober = copyFixtureAgent('prober');
    fs.writeFileSync(path.join(wprober, 'agent.json'), JSON.stringify({ identity: { id: 'wprober', name: 'Sandbox prober in a worker' }, runtime: { driver: 'worker', entry: 'main.mjs' }, restart: { policy: 'no' } }));
    for (const [agent, folder] of [['prober', path.join(FIXTURES, 'agents/prober')], ['wprober', wprober]] as const) {
      const r = await d.cli(['spawn', folder, '--env', `CONTROL_SOCKET=${d.socket}`, '--env', `ADDON_PATH=${addon}`]);
      expect([agent, r.code, r.stderr]).toEqual([agent, 0, '']);
      const text = await waitFor(`${agent} done`, async () => {
        const t = (await d.cli(['logs', agent, '-n', '200'])).stdout;
        return t.includes('PROBE done=yes') ? t : undefined;
      });
      const probes = Object.fromEntries([...text.matchAll(/PROBE (\w+)=(\S+)/g)].map((m) => [m[1] ?? '', m[2] ?? '']));
      for (const name of ['dev_null', 'dev_ttyS0', 'etc_passwd', 'child_process', 'write_outside_home']) expect([agent, name, probes[name]]).toEqual([agent, name, 'denied:ERR_ACCESS_DENIED']);
      expect([agent, probes.worker]).toEqual([agent, 'denied:ERR_ACCESS_DENIED']);
      expect([agent, probes.addon]).toEqual([agent, 'denied:ERR_DLOPEN_DISABLED']);
      expect([agent, probes.write_home]).toEqual([agent, 'ALLOWED']);
      // its own uid cannot even connect to the control socket
      expect([agent, probes.control_socket]).toEqual([agent, 'denied:EACCES']);
      expect([agent, probes.node_options_env]).toEqual([agent, 'denied:ABSENT']);
    }
    expect(fs.existsSync('/tmp/openstarry-prober-escape')).toBe(false);
  });

  it('refuses process and worker agents when the daemon cannot give them their own uid (the old unit), and says why', async () => {
    // the unit before this change: no CAP_SETPCAP (the bounding set cannot be dropped), no CAP_CHOWN, no capset
    const old = unitSettings();
    old.ambientCaps = ['CAP_SETUID', 'CAP_SETGID', 'CAP_KILL'];
    old.boundingCaps = old.ambientCaps;
    old.syscallFilter = old.syscallFilter.map((l) => l.replace(/ capset @chown$/, ''));
    const d = await start({ asShipped: old });
    expect(d.output.join('\n')).toMatch(/process and worker agents are refused: .*lacks CAP_CHOWN, CAP_SETPCAP/);
    for (const agent of ['singleton', 'widle']) {
      const r = await d.cli(['spawn', path.join(FIXTURES, 'agents', agent)]);
      expect([agent, r.code === 0]).toEqual([agent, false]);
      expect(r.stderr).toContain('OSZ_E_NO_AGENT_UID');
      expect(r.stderr).toContain('CAP_SETPCAP');
    }
    expect((await d.json<Row[]>(['ps'])).filter((r) => r.state === 'running')).toEqual([]);
    const doctor = JSON.parse((await d.cli(['doctor', '--json'])).stdout) as Array<{ name: string; status: string; detail: string }>;
    const uid = doctor.find((c) => c.name === 'agent-uid');
    expect(uid?.status).toBe('warn');
    expect(uid?.detail).toContain('refused');
  });

  it('shares the uid only under sandbox.shareUid, and doctor fails it', async () => {
    const plain = unitSettings();
    plain.ambientCaps = [];
    plain.boundingCaps = [];
    const d = await start({ asShipped: plain, config: { sandbox: { shareUid: true } } });
    expect((await d.cli(['spawn', path.join(FIXTURES, 'agents/singleton')])).code).toBe(0);
    const [row] = await runningRows(d, 1);
    expect(statusOf(row?.osPid ?? 0)('Uid')).toBe(statusOf(d.proc.pid ?? 0)('Uid'));
    const doctor = JSON.parse((await d.cli(['doctor', '--json'])).stdout) as Array<{ name: string; status: string; detail: string }>;
    expect(doctor.find((c) => c.name === 'agent-uid')).toMatchObject({ status: 'fail' });
  });
});
