/**
 * The systemd unit (images/systemd/): `systemd-analyze verify` against a staged image root and
 * `systemd-analyze security --offline=yes` within the exposure budget of 2.5 (DESIGN §12.16); both
 * work without systemd as PID 1. And what the unit must say: Type=notify with a watchdog, restart on
 * failure, safe states after any stop, the device ACL exactly the HAL's buses.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { expect, it } from 'vitest';
import { describeWith, hasCommand } from '../../helpers/system';
import { REPO, tmpDir } from '../../helpers/tmp';

const UNIT = path.join(REPO, 'images/systemd/openstarryd.service');
const DOCKER = path.join(REPO, 'images/systemd/openstarryd.service.d/docker.conf');
const FIRSTBOOT = path.join(REPO, 'images/systemd/openstarry-firstboot.service');
const EXPOSURE_BUDGET = 2.5;

/** `Key=value` lines of a unit file, repeated keys kept in order */
function directives(file: string): Array<[string, string]> {
  return fs
    .readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#') && !l.startsWith('['))
    .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)] as [string, string]);
}
const values = (file: string, key: string): string[] => directives(file).filter(([k]) => k === key).map(([, v]) => v);

/** a staged root as an image has it: the host's own units (targets), ours, and the launcher */
function stageRoot(withDocker: boolean): string {
  const root = tmpDir('osd-sroot-');
  const units = path.join(root, 'lib/systemd/system');
  fs.mkdirSync(units, { recursive: true });
  fs.cpSync('/lib/systemd/system', units, { recursive: true, dereference: false, filter: (src) => !fs.lstatSync(src).isSymbolicLink() || fs.existsSync(src) });
  fs.copyFileSync(UNIT, path.join(units, 'openstarryd.service'));
  fs.copyFileSync(FIRSTBOOT, path.join(units, 'openstarry-firstboot.service'));
  if (withDocker) {
    fs.mkdirSync(path.join(root, 'etc/systemd/system/openstarryd.service.d'), { recursive: true });
    fs.copyFileSync(DOCKER, path.join(root, 'etc/systemd/system/openstarryd.service.d/docker.conf'));
  }
  fs.mkdirSync(path.join(root, 'opt/openstarry/bin'), { recursive: true });
  fs.copyFileSync(path.join(REPO, 'bin/openstarryd'), path.join(root, 'opt/openstarry/bin/openstarryd'));
  fs.chmodSync(path.join(root, 'opt/openstarry/bin/openstarryd'), 0o755);
  return root;
}

const analyze = (args: string[]): { code: number; out: string } => {
  try {
    return { code: 0, out: execFileSync('systemd-analyze', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { status: number; stdout: string; stderr: string };
    return { code: e.status, out: `${e.stdout}${e.stderr}` };
  }
};

describeWith('the systemd unit', [hasCommand('systemd-analyze', 'systemd')], () => {
  it('passes systemd-analyze verify in a staged image root, with and without the docker drop-in', () => {
    for (const docker of [false, true]) {
      const r = analyze(['verify', `--root=${stageRoot(docker)}`, 'openstarryd.service', 'openstarry-firstboot.service']);
      expect([docker, r.code, r.out.trim()]).toEqual([docker, 0, '']);
    }
  });

  it(`has an exposure score of at most ${EXPOSURE_BUDGET} (systemd-analyze security --offline=yes)`, () => {
    const r = analyze(['security', '--offline=yes', UNIT]);
    const score = Number(/Overall exposure level for openstarryd\.service: ([\d.]+)/.exec(r.out)?.[1]);
    expect(score).toBeGreaterThan(0);
    expect(score).toBeLessThanOrEqual(EXPOSURE_BUDGET);
  });

  it('runs first boot as a root oneshot before the daemon, only when a device.yaml is there', () => {
    expect(values(FIRSTBOOT, 'Type')).toEqual(['oneshot']);
    expect(values(FIRSTBOOT, 'User')).toEqual([]);
    expect(values(FIRSTBOOT, 'Before')).toEqual(['openstarryd.service']);
    expect(values(FIRSTBOOT, 'ConditionPathExists')).toEqual(['/boot/firmware/openstarry/device.yaml']);
    expect(values(FIRSTBOOT, 'ExecStart')[0]).toMatch(/^\/opt\/openstarry\/bin\/openstarryd firstboot --boot \/boot\/firmware /);
  });

  it('is Type=notify with a watchdog, restarts on failure, drives actuators safe after any stop', () => {
    const one = (key: string): string | undefined => values(UNIT, key)[0];
    expect(one('Type')).toBe('notify');
    expect(one('NotifyAccess')).toBe('main');
    expect(one('WatchdogSec')).toMatch(/^\d+s$/);
    expect(one('Restart')).toBe('on-failure');
    expect(one('ExecStart')).toMatch(/^\/opt\/openstarry\/bin\/openstarryd .*--socket \/run\/openstarry\/control\.sock/);
    expect(one('ExecStopPost')).toMatch(/^\/opt\/openstarry\/bin\/openstarryd safe-state /);
    expect(one('User')).toBe('openstarry');
    for (const [k, v] of [['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['DevicePolicy', 'closed'], ['StateDirectory', 'openstarry'], ['RuntimeDirectory', 'openstarry']]) expect([k, one(k ?? '')]).toEqual([k, v]);
    expect(values(UNIT, 'SystemCallFilter')[0]).toBe('@system-service');
    expect(one('LoadCredential')).toMatch(/^openstarry:\/etc\/openstarry\/credentials$/);
    // each one serves handing agents their own uid (docs/security.md), nothing else
    expect(values(UNIT, 'AmbientCapabilities')).toEqual(['CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_CHOWN CAP_KILL']);
    expect(values(UNIT, 'CapabilityBoundingSet')).toEqual(values(UNIT, 'AmbientCapabilities'));
  });

  it("allows exactly the devices of the HAL's buses in the board profiles", () => {
    // what each bus kind opens under /dev (gpio and pwm are sysfs folders, not device nodes)
    const NODES: Record<string, string[]> = { i2c: ['char-i2c'], serial: ['char-ttyAMA', 'char-ttyS'], camera: ['char-video4linux', 'char-media', 'char-dma_heap'], gpio: [], pwm: [] };
    const needed = new Set<string>();
    for (const f of fs.readdirSync(path.join(REPO, 'boards')).filter((x) => x.endsWith('.yaml') && x !== 'sim.yaml')) {
      const p = YAML.parse(fs.readFileSync(path.join(REPO, 'boards', f), 'utf8')) as { buses?: Record<string, { kind: string }> };
      for (const bus of Object.values(p.buses ?? {})) for (const n of NODES[bus.kind] ?? [`unknown bus kind ${bus.kind}`]) needed.add(n);
    }
    // the camera (rpicam-vid) is a device kind of every Pi profile
    for (const n of NODES.camera ?? []) needed.add(n);
    expect(values(UNIT, 'DeviceAllow').map((v) => v.split(' ')[0]).sort()).toEqual([...needed].sort());
    expect(values(UNIT, 'DeviceAllow').every((v) => v.endsWith(' rw'))).toBe(true);
  });
});
