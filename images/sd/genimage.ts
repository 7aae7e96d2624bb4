/**
 * `npm run image:test` (issue 11): a small SD image built from scratch with genimage, for CI: a FAT
 * boot partition (mkdosfs + mcopy) and an ext4 root (`mke2fs -d`) holding the overlay of overlay.ts
 * on a bare skeleton. Reproducible: fixed timestamps (SOURCE_DATE_EPOCH, E2FSPROGS_FAKE_TIME, every
 * staged mtime), fixed filesystem UUID, hash seed and volume id, a fixed disk signature, so two
 * builds of the same tree have the same sha256. Needs root or fakeroot (file ownership in ext4).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { bootEntries, rootEntries, stageEntries, treeBytes } from './overlay';

export const TEST_DISK_SIGNATURE = 0x4f535459;
const ROOT_UUID = '6f70656e-7374-6172-7279-000000000001';
const HASH_SEED = '6f70656e-7374-6172-7279-000000000002';
const SKELETON = ['bin', 'boot/firmware', 'dev', 'etc', 'home', 'lib', 'proc', 'root', 'run', 'sbin', 'sys', 'tmp', 'usr', 'var/lib', 'var/log'];

export interface TestImageOptions {
  /** an unpacked bundle's openstarryd/ folder */
  bundle: string;
  /** the image file to write */
  out: string;
  epoch: number;
  work: string;
  progress?: (line: string) => void;
}

function mib(bytes: number): number {
  return Math.ceil(bytes / (1 << 20));
}

export function buildTestImage(o: TestImageOptions): string {
  const say = o.progress ?? (() => undefined);
  fs.rmSync(o.work, { recursive: true, force: true });
  const root = path.join(o.work, 'root');
  const input = path.join(o.work, 'input');
  const boot = path.join(input, 'boot');
  for (const d of SKELETON) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.chmodSync(path.join(root, 'tmp'), 0o1777);
  say('staging the root partition');
  stageEntries(rootEntries(o.bundle), root, o.epoch);
  say('staging the boot partition');
  fs.mkdirSync(boot, { recursive: true });
  fs.writeFileSync(path.join(boot, 'config.txt'), '# test image: no firmware\narm_64bit=1\n');
  fs.writeFileSync(path.join(boot, 'cmdline.txt'), 'console=serial0,115200 root=LABEL=rootfs rootfstype=ext4 fsck.repair=yes rootwait\n');
  stageEntries(bootEntries(), boot, o.epoch);
  const rootMb = mib(treeBytes(root) * 1.3) + 32;
  const bootFiles = fs.readdirSync(boot).sort();
  const fsCfg = `image boot.vfat {
  vfat {
    label = "bootfs"
    extraargs = "--invariant -i 4f535442"
    files = { ${bootFiles.map((f) => `"boot/${f}"`).join(', ')} }
  }
  size = 32M
}

image rootfs.ext4 {
  ext4 {
    use-mke2fs = true
    label = "rootfs"
    extraargs = "-U ${ROOT_UUID} -E hash_seed=${HASH_SEED}"
    fs-timestamp = "${new Date(o.epoch * 1000).toISOString().replace(/[-:T]/g, '').slice(0, 14)}"
  }
  size = ${rootMb}M
}
`;
  const diskCfg = `image ${path.basename(o.out)} {
  hdimage {
    disk-signature = 0x${TEST_DISK_SIGNATURE.toString(16)}
  }
  partition boot {
    partition-type = 0xC
    bootable = true
    image = "boot.vfat"
    offset = 4M
  }
  partition rootfs {
    partition-type = 0x83
    image = "rootfs.ext4"
  }
}
`;
  const outDir = path.join(o.work, 'images');
  fs.mkdirSync(outDir, { recursive: true });
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(o.epoch), E2FSPROGS_FAKE_TIME: String(o.epoch), TZ: 'UTC' };
  const asRoot = process.getuid?.() === 0;
  const genimage = (name: string, cfg: string, inputPath: string): void => {
    fs.writeFileSync(path.join(o.work, name), cfg);
    const args = ['--rootpath', root, '--tmppath', path.join(o.work, `tmp-${name}`), '--inputpath', inputPath, '--outputpath', outDir, '--config', path.join(o.work, name)];
    execFileSync(asRoot ? 'genimage' : 'fakeroot', asRoot ? args : ['genimage', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'], cwd: o.work });
  };
  say(`building the partitions with genimage (root ${rootMb} MB)`);
  genimage('partitions.cfg', fsCfg, input);
  // mke2fs -d copies each file's ctime (which nothing can set on the staged files) and atime (which
  // reading the staging folder moves): set both here
  say('fixing inode change and access times');
  const script = path.join(o.work, 'ctime.debugfs');
  const lines: string[] = [];
  const walk = (dir: string, at: string): void => {
    for (const n of fs.readdirSync(dir).sort()) {
      const p = `${at}/${n}`;
      lines.push(`sif "${p}" ctime @${o.epoch}`, `sif "${p}" atime @${o.epoch}`);
      if (fs.lstatSync(path.join(dir, n)).isDirectory()) walk(path.join(dir, n), p);
    }
  };
  lines.push(`sif / ctime @${o.epoch}`, `sif / atime @${o.epoch}`);
  walk(root, '');
  fs.writeFileSync(script, lines.join('\n') + '\n');
  execFileSync('debugfs', ['-w', '-f', script, path.join(outDir, 'rootfs.ext4')], { env, stdio: ['ignore', 'ignore', 'pipe'] });
  say('assembling the disk image');
  genimage('disk.cfg', diskCfg, outDir);
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  fs.renameSync(path.join(outDir, path.basename(o.out)), o.out);
  say(`wrote ${o.out}`);
  return o.out;
}
