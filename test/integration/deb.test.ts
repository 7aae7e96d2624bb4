/**
 * The .deb that upgrades SD-image devices in place (issue 11): its control fields and contents,
 * reproducible bytes, and a real dpkg install, upgrade and purge into a scratch root
 * (`dpkg --root --force-script-chrootless`, so the maintainer scripts run with DPKG_ROOT set): the
 * state directory and a locally edited config survive the upgrade, the units are enabled, purge
 * removes the device's config and state.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { sha256 } from '../../images/sd/inspect';
import { BUNDLE_VERSION, buildBundle, TSX } from '../helpers/bundle';
import { describeWith, hasCommand } from '../helpers/system';
import { REPO, tmpDir } from '../helpers/tmp';

const version = BUNDLE_VERSION;
const deb = (args: string[]): string => execFileSync(TSX, [path.join(REPO, 'images/deb/index.ts'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

function scratchRoot(): string {
  const r = tmpDir('osd-dpkgroot-');
  for (const d of ['var/lib/dpkg/info', 'var/lib/dpkg/updates', 'var/lib/dpkg/triggers']) fs.mkdirSync(path.join(r, d), { recursive: true });
  for (const f of ['var/lib/dpkg/status', 'var/lib/dpkg/available']) fs.writeFileSync(path.join(r, f), '');
  return r;
}
const dpkg = (root: string, args: string[]): string => execFileSync('dpkg', [`--root=${root}`, '--force-script-chrootless', '--force-architecture', '--force-depends', '--force-confold', '--log=/dev/null', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describeWith('the .deb', [hasCommand('dpkg-deb', 'dpkg'), hasCommand('aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu')], () => {
  let tgz = '';
  beforeAll(() => {
    tgz = buildBundle('arm64').tgz;
  }, 600_000);

  it('has the control fields, the tree and no state; the same bytes when built again', () => {
    const out = tmpDir('osd-deb-');
    const a = deb(['--bundle', tgz, '--out', path.join(out, 'a')]);
    const b = deb(['--bundle', tgz, '--out', path.join(out, 'b')]);
    expect(path.basename(a)).toBe(`openstarryd_${version}_arm64.deb`);
    expect(sha256(b)).toBe(sha256(a));
    const info = execFileSync('dpkg-deb', ['--field', a], { encoding: 'utf8' });
    expect(info).toMatch(/^Package: openstarryd$/m);
    expect(info).toMatch(/^Architecture: arm64$/m);
    expect(info).toMatch(/^Depends: .*util-linux/m);
    const contents = execFileSync('dpkg-deb', ['--contents', a], { encoding: 'utf8', maxBuffer: 1 << 26 });
    expect(contents).toMatch(/^-rwxr-xr-x root\/root .* \.\/opt\/openstarry\/node\/bin\/node$/m);
    expect(contents).toMatch(/^-rw-r--r-- root\/root .* \.\/lib\/systemd\/system\/openstarryd\.service$/m);
    expect(contents).toMatch(/^-rw-r----- root\/root .* \.\/etc\/openstarry\/openstarryd\.yaml$/m);
    expect(contents).not.toMatch(/\.\/etc\/systemd\//);
    expect(contents).not.toMatch(/\.\/var\/lib\/openstarry/);
    expect(execFileSync('dpkg-deb', ['--info', a, 'conffiles'], { encoding: 'utf8' })).toBe('/etc/openstarry/openstarryd.yaml\n');
  }, 300_000);

  it('installs, upgrades in place keeping the state directory and a local config edit, and purges', () => {
    const out = tmpDir('osd-deb-');
    const v1 = deb(['--bundle', tgz, '--out', out]);
    const v2 = deb(['--bundle', tgz, '--out', out, '--version', `${version}+1`]);
    const root = scratchRoot();
    dpkg(root, ['-i', v1]);
    expect(fs.readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/openstarryd.service'))).toBe('/lib/systemd/system/openstarryd.service');
    expect(fs.statSync(path.join(root, 'opt/openstarry/node/bin/node')).mode & 0o777).toBe(0o755);
    // a device's life: its state, and a local edit of the shipped config
    fs.mkdirSync(path.join(root, 'var/lib/openstarry'), { recursive: true });
    fs.writeFileSync(path.join(root, 'var/lib/openstarry/openstarry.db'), 'the registry');
    fs.writeFileSync(path.join(root, 'var/lib/openstarry/device-id'), 'gh-17\n');
    fs.appendFileSync(path.join(root, 'etc/openstarry/openstarryd.yaml'), '# edited on the device\n');
    dpkg(root, ['-i', v2]);
    expect(dpkg(root, ['-s', 'openstarryd'])).toMatch(new RegExp(`^Version: ${version.replace(/\./g, '\\.')}\\+1$`, 'm'));
    expect(fs.readFileSync(path.join(root, 'var/lib/openstarry/openstarry.db'), 'utf8')).toBe('the registry');
    expect(fs.readFileSync(path.join(root, 'var/lib/openstarry/device-id'), 'utf8')).toBe('gh-17\n');
    expect(fs.readFileSync(path.join(root, 'etc/openstarry/openstarryd.yaml'), 'utf8')).toContain('# edited on the device');
    expect(fs.readlinkSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/openstarryd.service'))).toBe('/lib/systemd/system/openstarryd.service');
    dpkg(root, ['--purge', 'openstarryd']);
    for (const gone of ['opt/openstarry/bin', 'etc/openstarry', 'var/lib/openstarry']) expect([gone, fs.existsSync(path.join(root, gone))]).toEqual([gone, false]);
    expect(() => fs.lstatSync(path.join(root, 'etc/systemd/system/multi-user.target.wants/openstarryd.service'))).toThrow();
  }, 300_000);
});
