/**
 * What the SD image adds to a Raspberry Pi OS root and boot partition (DESIGN §10), as a list of
 * entries both image flows apply: genimage's staged root for the test image, debugfs commands for
 * a customised base image. The bundle goes to /opt/openstarry; the units are installed and enabled
 * (their enable symlinks); the `openstarry` user comes from sysusers.d at boot (so no /etc/passwd
 * of the base image is edited); /etc/openstarry holds the default config. No device id: each card
 * makes its own on first start.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export type Entry =
  | { kind: 'dir'; path: string; mode: number }
  | { kind: 'file'; path: string; mode: number; source: string }
  | { kind: 'symlink'; path: string; target: string };

const FILES = path.join(import.meta.dirname, 'files');
const UNITS = path.join(import.meta.dirname, '..', 'systemd');
export const ENABLED_UNITS = ['openstarryd.service', 'openstarry-firstboot.service'];

/** every file and folder of an unpacked bundle (its top `openstarryd/` folder) under /opt/openstarry */
function bundleEntries(bundle: string): Entry[] {
  const out: Entry[] = [{ kind: 'dir', path: '/opt/openstarry', mode: 0o755 }];
  const walk = (dir: string, at: string): void => {
    for (const name of fs.readdirSync(dir).sort()) {
      const src = path.join(dir, name);
      const dst = `${at}/${name}`;
      const st = fs.lstatSync(src);
      if (st.isSymbolicLink()) out.push({ kind: 'symlink', path: dst, target: fs.readlinkSync(src) });
      else if (st.isDirectory()) {
        out.push({ kind: 'dir', path: dst, mode: 0o755 });
        walk(src, dst);
      } else if (st.isFile()) out.push({ kind: 'file', path: dst, mode: st.mode & 0o111 ? 0o755 : 0o644, source: src });
    }
  };
  walk(bundle, '/opt/openstarry');
  return out;
}

/** the root partition's entries, parents before children */
export function rootEntries(bundle: string): Entry[] {
  return [
    ...bundleEntries(bundle),
    { kind: 'dir', path: '/lib/systemd/system', mode: 0o755 },
    ...ENABLED_UNITS.map((u): Entry => ({ kind: 'file', path: `/lib/systemd/system/${u}`, mode: 0o644, source: path.join(UNITS, u) })),
    { kind: 'dir', path: '/etc/systemd/system/multi-user.target.wants', mode: 0o755 },
    ...ENABLED_UNITS.map((u): Entry => ({ kind: 'symlink', path: `/etc/systemd/system/multi-user.target.wants/${u}`, target: `/lib/systemd/system/${u}` })),
    { kind: 'dir', path: '/usr/lib/sysusers.d', mode: 0o755 },
    { kind: 'file', path: '/usr/lib/sysusers.d/openstarry.conf', mode: 0o644, source: path.join(FILES, 'sysusers.conf') },
    { kind: 'dir', path: '/usr/lib/tmpfiles.d', mode: 0o755 },
    { kind: 'file', path: '/usr/lib/tmpfiles.d/openstarry.conf', mode: 0o644, source: path.join(FILES, 'tmpfiles.conf') },
    { kind: 'dir', path: '/usr/bin', mode: 0o755 },
    { kind: 'symlink', path: '/usr/bin/openstarryctl', target: '/opt/openstarry/bin/openstarryctl' },
    { kind: 'dir', path: '/etc/openstarry', mode: 0o750 },
    { kind: 'file', path: '/etc/openstarry/openstarryd.yaml', mode: 0o640, source: path.join(FILES, 'openstarryd.yaml') },
    { kind: 'dir', path: '/etc/openstarry/credentials', mode: 0o700 },
  ];
}

/** the boot (FAT) partition's entries */
export function bootEntries(): Entry[] {
  return [
    { kind: 'dir', path: '/openstarry', mode: 0o755 },
    { kind: 'file', path: '/openstarry/README.txt', mode: 0o644, source: path.join(FILES, 'README.txt') },
    { kind: 'file', path: '/openstarry/device.yaml.example', mode: 0o644, source: path.join(FILES, 'device.yaml.example') },
  ];
}

/** writes entries under `root` (a staging folder), every mtime set to `epoch` for reproducible images */
export function stageEntries(entries: readonly Entry[], root: string, epoch: number): void {
  for (const e of entries) {
    const p = path.join(root, e.path);
    fs.mkdirSync(path.dirname(p), { recursive: true });
    if (e.kind === 'dir') {
      fs.mkdirSync(p, { recursive: true });
      fs.chmodSync(p, e.mode);
    } else if (e.kind === 'file') {
      fs.copyFileSync(e.source, p);
      fs.chmodSync(p, e.mode);
    } else {
      fs.rmSync(p, { force: true });
      fs.symlinkSync(e.target, p);
    }
  }
  const when = new Date(epoch * 1000);
  const touch = (p: string): void => {
    const st = fs.lstatSync(p);
    if (st.isDirectory()) for (const n of fs.readdirSync(p)) touch(path.join(p, n));
    fs.lutimesSync(p, when, when);
  };
  touch(root);
}

/**
 * bytes under `dir`, to size what it goes into: file sizes plus a block per folder, the same for the
 * same tree wherever it was staged (du's counts follow the staging file system, and an image sized
 * from them was not reproducible)
 */
export function treeBytes(dir: string): number {
  const st = fs.lstatSync(dir);
  if (!st.isDirectory()) return st.isFile() ? st.size : 0;
  return fs.readdirSync(dir).reduce((n, name) => n + treeBytes(path.join(dir, name)), 4096);
}

/** unpacks a bundle tarball into a fresh temporary folder; returns its openstarryd/ folder */
export function unpackBundle(tgz: string): string {
  if (!fs.existsSync(tgz)) throw new Error(`no bundle at ${tgz} (make one with npm run bundle -- --arch arm64)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-bundle-'));
  execFileSync('tar', ['xzf', tgz, '-C', dir]);
  if (!fs.existsSync(path.join(dir, 'openstarryd/bin/openstarryd'))) throw new Error(`${tgz} is not an openstarryd bundle`);
  return path.join(dir, 'openstarryd');
}
