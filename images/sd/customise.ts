/**
 * `npm run image -- --base <raspios.img[.xz]> --bundle <tgz> --out <img>` (issue 11): turns a
 * user-supplied Raspberry Pi OS Lite image into an openstarryd image without mounting anything and
 * without root: the partitions are cut out with dd, the root file system grown with resize2fs and
 * written with debugfs -w, the boot partition with mtools, and the disk reassembled around them
 * keeping the original MBR and its disk signature (Raspberry Pi OS finds its root by PARTUUID,
 * which is derived from it). Never downloads anything; the base image is not modified.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { ext4Check, extractPartition, partitionTable, SECTOR } from './inspect';
import { bootEntries, type Entry, rootEntries, treeBytes } from './overlay';

export interface CustomiseOptions {
  base: string;
  /** an unpacked bundle's openstarryd/ folder */
  bundle: string;
  out: string;
  work: string;
  epoch: number;
  progress?: (line: string) => void;
}

const run = (cmd: string, args: string[], input?: string): string => execFileSync(cmd, args, { encoding: 'utf8', stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], ...(input === undefined ? {} : { input }) });
const q = (p: string): string => `"${p.replace(/"/g, '\\"')}"`;

/** debugfs commands that apply `entries` to a root file system, replacing what is there */
export function debugfsScript(entries: readonly Entry[], epoch: number): string {
  const lines: string[] = [];
  const meta = (p: string, mode: number): void => {
    lines.push(`sif ${q(p)} mode 0${mode.toString(8)}`, `sif ${q(p)} uid 0`, `sif ${q(p)} gid 0`);
    for (const t of ['mtime', 'ctime', 'atime']) lines.push(`sif ${q(p)} ${t} @${epoch}`);
  };
  // a base image may lack /opt and the like: make every ancestor first (an existing one just says so)
  const made = new Set<string>(['/']);
  const parents = (p: string): void => {
    const parent = path.posix.dirname(p);
    if (made.has(parent)) return;
    parents(parent);
    made.add(parent);
    lines.push(`mkdir ${q(parent)}`);
  };
  for (const e of entries) {
    parents(e.path);
    if (e.kind === 'dir') {
      made.add(e.path);
      lines.push(`mkdir ${q(e.path)}`);
      meta(e.path, 0o40000 | e.mode);
    } else if (e.kind === 'file') {
      lines.push(`rm ${q(e.path)}`, `write ${q(e.source)} ${q(e.path)}`);
      meta(e.path, 0o100000 | e.mode);
    } else {
      lines.push(`rm ${q(e.path)}`, `symlink ${q(e.path)} ${q(e.target)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function customiseImage(o: CustomiseOptions): void {
  const say = o.progress ?? (() => undefined);
  fs.rmSync(o.work, { recursive: true, force: true });
  fs.mkdirSync(o.work, { recursive: true });
  let base = o.base;
  if (base.endsWith('.xz')) {
    say(`decompressing ${path.basename(base)}`);
    base = path.join(o.work, 'base.img');
    execFileSync('sh', ['-c', 'xz -dc -T0 "$0" > "$1"', o.base, base]);
  }
  const table = partitionTable(base);
  const [boot, root] = table.partitions;
  if (table.label !== 'dos' || !boot || !root || !['c', 'b', 'e'].includes(boot.type) || root.type !== '83') {
    throw new Error(`${o.base} is not a Raspberry Pi OS image: expected a DOS label with a FAT boot and a Linux root partition, found ${table.label} ${table.partitions.map((p) => p.type).join(',')}`);
  }
  if (table.partitions.length !== 2) throw new Error(`${o.base} has ${table.partitions.length} partitions; the layout is boot + root`);
  say(`base: disk signature ${table.id}, boot ${(boot.size * SECTOR) >> 20} MB, root ${(root.size * SECTOR) >> 20} MB`);

  say('cutting out the partitions');
  const bootImg = path.join(o.work, 'boot.vfat');
  const rootImg = path.join(o.work, 'root.ext4');
  extractPartition(base, 1, bootImg);
  extractPartition(base, 2, rootImg);

  const grow = Math.ceil((treeBytes(o.bundle) * 1.3 + (64 << 20)) / (4 << 20)) * (4 << 20);
  say(`growing the root file system by ${grow >> 20} MB`);
  fs.truncateSync(rootImg, fs.statSync(rootImg).size + grow);
  // resize2fs insists on a freshly checked file system; -p: fix what is safe, say so otherwise
  try {
    run('e2fsck', ['-fp', rootImg]);
  } catch (err) {
    const status = (err as { status?: number }).status ?? 8;
    if (status >= 4) throw new Error(`the base image's root file system has errors e2fsck cannot fix safely: ${(err as Error).message}`);
  }
  run('resize2fs', [rootImg]);

  say('writing the root partition (debugfs)');
  const script = path.join(o.work, 'root.debugfs');
  fs.writeFileSync(script, debugfsScript(rootEntries(o.bundle), o.epoch));
  run('debugfs', ['-w', '-f', script, rootImg]);
  const check = ext4Check(rootImg);
  if (!check.clean) throw new Error(`the customised root file system does not check clean:\n${check.output}`);

  say('writing the boot partition (mtools)');
  const mt = { ...process.env, MTOOLS_SKIP_CHECK: '1' };
  for (const e of bootEntries()) {
    if (e.kind === 'dir') {
      try {
        execFileSync('mmd', ['-i', bootImg, `::${e.path}`], { env: mt, stdio: 'ignore' });
      } catch {
        // already there
      }
    } else if (e.kind === 'file') execFileSync('mcopy', ['-o', '-m', '-i', bootImg, e.source, `::${e.path}`], { env: mt });
  }

  say('assembling the disk image');
  fs.mkdirSync(path.dirname(o.out), { recursive: true });
  const tmp = `${o.out}.tmp`;
  execFileSync('cp', ['--sparse=always', base, tmp]);
  const rootSectors = fs.statSync(rootImg).size / SECTOR;
  fs.truncateSync(tmp, (root.start + rootSectors) * SECTOR);
  execFileSync('dd', [`if=${bootImg}`, `of=${tmp}`, `bs=${SECTOR}`, `seek=${boot.start}`, 'conv=notrunc,sparse', 'status=none']);
  execFileSync('dd', [`if=${rootImg}`, `of=${tmp}`, `bs=1M`, `seek=${root.start * SECTOR}`, 'oflag=seek_bytes', 'conv=notrunc,sparse', 'status=none']);
  // the root partition's new size; sfdisk -N keeps its start, the other partition and the disk signature
  run('sfdisk', ['--no-reread', '--no-tell-kernel', '-q', '-N', '2', tmp], `${root.start},${rootSectors}\n`);
  const after = partitionTable(tmp);
  if (after.id !== table.id) throw new Error(`the disk signature changed (${table.id} → ${after.id})`);
  fs.renameSync(tmp, o.out);
  say(`wrote ${o.out} (${(fs.statSync(o.out).size / 1e6).toFixed(0)} MB, disk signature ${after.id} kept)`);
}
