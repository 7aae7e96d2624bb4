/**
 * SD images without mounting anything (DESIGN §10, issue 11). The test image (genimage) is built
 * twice with identical sha256 and verified from outside: partition table and types, the FAT file
 * list, ext4 file modes, the units with their enable symlinks (and systemd-analyze verify on them),
 * no device id baked in, e2fsck -fn clean. The customise flow runs on a synthetic Raspberry Pi OS
 * image (plain and .xz) and keeps its disk signature, its own boot files and root files.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { beforeAll, expect, it } from 'vitest';
import { ext4Check, ext4Read, ext4Stat, extractPartition, fatFiles, fatRead, partitionTable, sha256 } from '../../images/sd/inspect';
import { BASE_SIGNATURE, PI_BOOT_FILES, syntheticRaspiOs } from '../helpers/raspios';
import { buildBundle, TSX } from '../helpers/bundle';
import { describeWith, hasCommand } from '../helpers/system';
import { REPO, tmpDir } from '../helpers/tmp';

const image = (args: string[]): string => execFileSync(TSX, [path.join(REPO, 'images/sd/index.ts'), ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describeWith('SD images', [hasCommand('genimage', 'genimage'), hasCommand('mdir', 'mtools'), hasCommand('debugfs', 'e2fsprogs'), hasCommand('sfdisk', 'fdisk'), hasCommand('aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu')], () => {
  let tgz = '';
  let bundleDir = '';

  beforeAll(() => {
    const b = buildBundle('arm64');
    tgz = b.tgz;
    bundleDir = path.dirname(b.dir);
  }, 600_000);

  it('builds the test image reproducibly and it has what a device needs, checked without mounting', async () => {
    const dir = tmpDir('osd-testimg-');
    const a = path.join(dir, 'a.img');
    const b = path.join(dir, 'b.img');
    image(['test', '--bundle', tgz, '--out', a]);
    // a second later: nothing of the wall clock may reach the image
    await new Promise((r) => setTimeout(r, 1100));
    image(['test', '--bundle', tgz, '--out', b]);
    expect(sha256(b)).toBe(sha256(a));

    const table = partitionTable(a);
    expect(table).toMatchObject({ label: 'dos', id: '0x4f535459' });
    expect(table.partitions.map((p) => [p.type, p.bootable === true])).toEqual([
      ['c', true],
      ['83', false],
    ]);
    expect(table.partitions[0]?.start).toBe(8192);

    const fat = fatFiles(a);
    expect(fat).toEqual(expect.arrayContaining(['/config.txt', '/cmdline.txt', '/openstarry/README.txt', '/openstarry/device.yaml.example']));
    expect(fat).not.toContain('/openstarry/device.yaml');

    const rootfs = path.join(dir, 'root.ext4');
    extractPartition(a, 2, rootfs);
    expect(ext4Check(rootfs).clean).toBe(true);
    const mode = (p: string): string => (ext4Stat(rootfs, p)?.mode ?? 0).toString(8);
    expect(mode('/opt/openstarry/bin/openstarryd')).toBe('755');
    expect(mode('/opt/openstarry/node/bin/node')).toBe('755');
    expect(mode('/opt/openstarry/dist/page/index.html')).toBe('644');
    expect(mode('/etc/openstarry')).toBe('750');
    expect(mode('/etc/openstarry/credentials')).toBe('700');
    expect(mode('/etc/openstarry/openstarryd.yaml')).toBe('640');
    expect(mode('/lib/systemd/system/openstarryd.service')).toBe('644');
    for (const unit of ['openstarryd.service', 'openstarry-firstboot.service']) {
      expect(ext4Stat(rootfs, `/etc/systemd/system/multi-user.target.wants/${unit}`)).toMatchObject({ type: 'symlink', target: `/lib/systemd/system/${unit}` });
      expect(ext4Read(rootfs, `/lib/systemd/system/${unit}`)).toBe(fs.readFileSync(path.join(REPO, 'images/systemd', unit), 'utf8'));
    }
    expect(ext4Stat(rootfs, '/usr/bin/openstarryctl')).toMatchObject({ type: 'symlink', target: '/opt/openstarry/bin/openstarryctl' });
    expect(ext4Read(rootfs, '/usr/lib/sysusers.d/openstarry.conf')).toMatch(/^u openstarry /m);
    // every owner is root: the daemon's user is made at boot, never baked in with a uid
    expect(ext4Stat(rootfs, '/etc/openstarry')).toMatchObject({ uid: 0, gid: 0 });
    // no device id (nor any state) in the image: each card makes its own
    expect(ext4Stat(rootfs, '/var/lib/openstarry')).toBeUndefined();
    expect(ext4Read(rootfs, '/etc/openstarry/openstarryd.yaml')).not.toMatch(/deviceId:\s*\S/);

    // the units verify against the image's own tree (its units and launcher) plus the host's targets
    if (fs.existsSync('/usr/bin/systemd-analyze')) {
      const staged = tmpDir('osd-imgroot-');
      fs.mkdirSync(path.join(staged, 'lib/systemd'), { recursive: true });
      fs.cpSync('/lib/systemd/system', path.join(staged, 'lib/systemd/system'), { recursive: true, filter: (s) => !fs.lstatSync(s).isSymbolicLink() || fs.existsSync(s) });
      execFileSync('debugfs', ['-R', `rdump /lib/systemd/system/openstarryd.service /lib/systemd/system/openstarry-firstboot.service ${path.join(staged, 'lib/systemd/system')}`, rootfs], { stdio: 'ignore' });
      fs.mkdirSync(path.join(staged, 'opt/openstarry'), { recursive: true });
      execFileSync('debugfs', ['-R', `rdump /opt/openstarry/bin ${path.join(staged, 'opt/openstarry')}`, rootfs], { stdio: 'ignore' });
      const out = execFileSync('systemd-analyze', ['verify', `--root=${staged}`, 'openstarryd.service', 'openstarry-firstboot.service'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      expect(out.trim()).toBe('');
    }
  }, 300_000);

  it('customises a Raspberry Pi OS image, plain or .xz: its disk signature, boot files and root stay, ours are added', () => {
    const dir = tmpDir('osd-custom-');
    const base = syntheticRaspiOs(path.join(dir, 'base'));
    const baseSha = sha256(base);
    const before = partitionTable(base);
    for (const [name, input] of [
      ['plain', base],
      ['xz', `${base}.xz`],
    ] as const) {
      if (name === 'xz') execFileSync('xz', ['-k', '-0', '-T0', base]);
      const out = path.join(dir, `${name}.img`);
      image(['--base', input, '--bundle', tgz, '--out', out]);
      const after = partitionTable(out);
      expect(after.id).toBe(BASE_SIGNATURE);
      expect(after.partitions[0]).toMatchObject({ start: before.partitions[0]?.start, size: before.partitions[0]?.size, type: 'c' });
      expect(after.partitions[1]?.start).toBe(before.partitions[1]?.start);
      expect(after.partitions[1]?.size).toBeGreaterThan((before.partitions[1]?.size ?? 0) * 2);
      for (const [f, content] of Object.entries(PI_BOOT_FILES)) expect([f, fatRead(out, f)]).toEqual([f, content]);
      expect(fatFiles(out)).toEqual(expect.arrayContaining(['/openstarry/README.txt', '/openstarry/device.yaml.example']));
      const rootfs = path.join(dir, `${name}.root`);
      extractPartition(out, 2, rootfs);
      expect(ext4Check(rootfs).clean).toBe(true);
      expect(ext4Read(rootfs, '/etc/passwd')).toContain('pi:x:1000');
      expect(ext4Read(rootfs, '/etc/os-release')).toContain('bookworm');
      expect(ext4Stat(rootfs, '/opt/openstarry/node/bin/node')).toMatchObject({ type: 'regular', mode: 0o755, uid: 0 });
      const node = path.join(dir, `${name}.node`);
      execFileSync('debugfs', ['-R', `dump /opt/openstarry/node/bin/node ${node}`, rootfs], { stdio: 'ignore' });
      expect(sha256(node)).toBe(sha256(path.join(bundleDir, 'openstarryd/node/bin/node')));
      expect(ext4Stat(rootfs, '/etc/systemd/system/multi-user.target.wants/openstarryd.service')).toMatchObject({ type: 'symlink', target: '/lib/systemd/system/openstarryd.service' });
    }
    // the user's image is read, never written
    expect(sha256(base)).toBe(baseSha);
  }, 300_000);

  it('refuses an image that is not a Raspberry Pi OS layout, and a missing bundle, with a clear message', () => {
    const dir = tmpDir('osd-notpi-');
    const img = path.join(dir, 'gpt.img');
    execFileSync('truncate', ['-s', '16M', img]);
    execFileSync('sfdisk', ['-q', '--no-reread', '--no-tell-kernel', img], { input: 'label: gpt\nsize=8M, type=L\n' });
    const err = (args: string[]): string => {
      try {
        image(args);
        return '';
      } catch (e) {
        return String((e as { stderr?: string }).stderr);
      }
    };
    expect(err(['--base', img, '--bundle', tgz, '--out', path.join(dir, 'o.img')])).toMatch(/is not a Raspberry Pi OS image: expected a DOS label/);
    expect(err(['--base', img, '--bundle', path.join(dir, 'none.tgz'), '--out', path.join(dir, 'o.img')])).toMatch(/no bundle at/);
    expect(fs.existsSync(path.join(dir, 'o.img'))).toBe(false);
  }, 120_000);
});
