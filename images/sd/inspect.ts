/**
 * Reading an SD image without mounting it (DESIGN §10): the partition table (sfdisk), a FAT
 * partition's files (mtools on image@@offset), an ext4 partition's inodes (debugfs) and its
 * consistency (e2fsck -fn). The builders use these to check what they wrote; the tests use them
 * to check the images.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface PartitionTable {
  label: string;
  /** the disk signature, e.g. 0x4f535459 */
  id: string;
  partitions: Array<{ node: string; start: number; size: number; type: string; bootable?: boolean }>;
}

export const SECTOR = 512;

export function partitionTable(img: string): PartitionTable {
  const j = JSON.parse(execFileSync('sfdisk', ['--json', img], { encoding: 'utf8' })) as { partitiontable: PartitionTable };
  return j.partitiontable;
}

/** copies partition `n` (1-based) out of the image */
export function extractPartition(img: string, n: number, to: string): void {
  const p = partitionTable(img).partitions[n - 1];
  if (!p) throw new Error(`${img} has no partition ${n}`);
  execFileSync('dd', [`if=${img}`, `of=${to}`, `bs=${SECTOR}`, `skip=${p.start}`, `count=${p.size}`, 'status=none']);
}

/** every path on the FAT partition `n`, recursively, as /dir/file */
export function fatFiles(img: string, n = 1): string[] {
  const p = partitionTable(img).partitions[n - 1];
  if (!p) throw new Error(`${img} has no partition ${n}`);
  const out = execFileSync('mdir', ['-/', '-b', '-i', `${img}@@${p.start * SECTOR}`, '::'], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
  return out
    .split('\n')
    .map((l) => l.trim().replace(/^::/, ''))
    .filter(Boolean)
    .sort();
}

/** a FAT file's content */
export function fatRead(img: string, file: string, n = 1): string {
  const p = partitionTable(img).partitions[n - 1];
  if (!p) throw new Error(`${img} has no partition ${n}`);
  return execFileSync('mtype', ['-i', `${img}@@${p.start * SECTOR}`, `::${file}`], { encoding: 'utf8', env: { ...process.env, MTOOLS_SKIP_CHECK: '1' } });
}

export interface InodeInfo {
  type: string;
  mode: number;
  uid: number;
  gid: number;
  /** a symlink's target */
  target?: string;
}

/** stat of `path` in an ext4 file system image, or undefined when it does not exist */
export function ext4Stat(fsImage: string, path: string): InodeInfo | undefined {
  let out: string;
  try {
    out = execFileSync('debugfs', ['-R', `stat "${path}"`, fsImage], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch {
    return undefined;
  }
  const m = /Type: (\S+)\s+Mode:\s+(\d+)/.exec(out);
  if (!m) return undefined;
  const ids = /User:\s+(\d+)\s+Group:\s+(\d+)/.exec(out);
  const link = /Fast link dest: "(.*)"/.exec(out);
  return { type: m[1] ?? '', mode: parseInt(m[2] ?? '0', 8), uid: Number(ids?.[1] ?? -1), gid: Number(ids?.[2] ?? -1), ...(link ? { target: link[1] } : {}) };
}

/** a file's content from an ext4 file system image */
export function ext4Read(fsImage: string, path: string): string {
  return execFileSync('debugfs', ['-R', `cat "${path}"`, fsImage], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
}

/** e2fsck -fn: true when clean; the output otherwise */
export function ext4Check(fsImage: string): { clean: boolean; output: string } {
  try {
    return { clean: true, output: execFileSync('e2fsck', ['-fn', fsImage], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }) };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string };
    return { clean: false, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

export const sha256 = (file: string): string => execFileSync('sha256sum', [file], { encoding: 'utf8' }).split(' ')[0] ?? '';
export const exists = (p: string): boolean => fs.existsSync(p);
