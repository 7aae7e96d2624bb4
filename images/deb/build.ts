/**
 * A .deb of the bundle (issue 11) for daemon updates on SD-image devices:
 * `apt install ./openstarryd_<version>_arm64.deb` installs or upgrades in place. It carries the same
 * tree as the image (overlay.ts: /opt/openstarry, the units, sysusers and tmpfiles entries, the
 * default config as a conffile so local edits survive) minus the enable symlinks, which the postinst
 * makes. The state directory /var/lib/openstarry is never in the package, so upgrades keep it.
 * Reproducible: staged mtimes and SOURCE_DATE_EPOCH, root ownership (`--root-owner-group`). gzip,
 * which every dpkg reads and which packs 150 MB in seconds (xz took 14 s for 30 % less).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Entry, rootEntries, stageEntries } from '../sd/overlay';

export interface DebOptions {
  /** an unpacked bundle's openstarryd/ folder */
  bundle: string;
  outDir: string;
  work: string;
  epoch: number;
  /** the package version (default: the bundle's package.json) */
  version?: string;
}

const DEB_ARCH: Record<string, string> = { aarch64: 'arm64', 'x86-64': 'amd64' };
const HERE = import.meta.dirname;

/** the Debian architecture of the bundle's Node binary, from its ELF header */
export function bundleArch(bundle: string): string {
  const machine = fs.readFileSync(path.join(bundle, 'node/bin/node')).readUInt16LE(18);
  const arch = machine === 0xb7 ? DEB_ARCH.aarch64 : machine === 0x3e ? DEB_ARCH['x86-64'] : undefined;
  if (!arch) throw new Error(`the bundle's node is for ELF machine 0x${machine.toString(16)}, not arm64 or x64`);
  return arch;
}

/**
 * Installed-Size in KiB as dpkg-gencontrol counts it: each file's size rounded up to a KiB, one per
 * folder and link. Not `du`, whose block counts depend on the file system the tree was staged on
 * (two builds differed by 4 KiB, and so did the packages' bytes).
 */
function installedSize(entries: readonly Entry[]): number {
  return entries.reduce((kb, e) => kb + (e.kind === 'file' ? Math.max(1, Math.ceil(fs.statSync(e.source).size / 1024)) : 1), 0);
}

export function buildDeb(o: DebOptions): string {
  const pkg = JSON.parse(fs.readFileSync(path.join(o.bundle, 'package.json'), 'utf8')) as { version: string; description?: string };
  const version = o.version ?? pkg.version;
  const arch = bundleArch(o.bundle);
  fs.rmSync(o.work, { recursive: true, force: true });
  const root = path.join(o.work, 'root');
  // the enable symlinks are the postinst's to make: a package must not ship files in /etc/systemd/system
  const entries = rootEntries(o.bundle).filter((e: Entry) => !e.path.startsWith('/etc/systemd/'));
  stageEntries(entries, root, o.epoch);
  const debian = path.join(root, 'DEBIAN');
  fs.mkdirSync(debian, { mode: 0o755 });
  const installedKb = installedSize(entries);
  fs.writeFileSync(
    path.join(debian, 'control'),
    [
      'Package: openstarryd',
      `Version: ${version}`,
      `Architecture: ${arch}`,
      'Maintainer: OpenStarry <openstarryd@openstarry.dev>',
      `Installed-Size: ${installedKb}`,
      'Depends: libc6 (>= 2.31), libstdc++6 (>= 10), util-linux, systemd',
      'Section: admin',
      'Priority: optional',
      'Homepage: https://openstarry.dev',
      'Description: OpenStarry Management Zone daemon',
      ' Runs agents (WebAssembly sandboxes, Node processes, containers) on Raspberry Pi',
      ' boards, owns the hardware through a HAL, and reports to a cloud collector over',
      ' MQTT. Carries its own Node runtime in /opt/openstarry.',
      '',
    ].join('\n'),
  );
  fs.writeFileSync(path.join(debian, 'conffiles'), '/etc/openstarry/openstarryd.yaml\n');
  for (const script of ['postinst', 'prerm', 'postrm']) {
    fs.copyFileSync(path.join(HERE, script), path.join(debian, script));
    fs.chmodSync(path.join(debian, script), 0o755);
  }
  const when = new Date(o.epoch * 1000);
  for (const f of fs.readdirSync(debian)) fs.utimesSync(path.join(debian, f), when, when);
  fs.utimesSync(debian, when, when);
  fs.mkdirSync(o.outDir, { recursive: true });
  const out = path.join(o.outDir, `openstarryd_${version}_${arch}.deb`);
  execFileSync('dpkg-deb', ['--root-owner-group', '-Zgzip', '-z6', '--build', root, out], { env: { ...process.env, SOURCE_DATE_EPOCH: String(o.epoch) }, stdio: ['ignore', 'pipe', 'pipe'] });
  return out;
}
