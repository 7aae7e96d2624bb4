/**
 * Walking, hashing and copying agent and plugin folders for the content-addressed store
 * (DESIGN §12.9). Only regular files and folders are accepted: symlinks, hard links, devices,
 * FIFOs and sockets are refused, because a symlink to /dev inside a granted folder opens under
 * both the Node permission model and node:wasi (measured, DESIGN §3).
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';

export const TREE_LIMITS = { maxBytes: 64 * 1024 * 1024, maxFiles: 10_000, maxDepth: 32 };

export interface TreeEntry {
  rel: string;
  kind: 'dir' | 'file';
  size: number;
  executable: boolean;
}

/** Lists a folder depth-first in sorted order, refusing anything but plain files and folders. */
export function walkTree(root: string, limits = TREE_LIMITS): TreeEntry[] {
  const entries: TreeEntry[] = [];
  let bytes = 0;
  const visit = (rel: string, depth: number): void => {
    if (depth > limits.maxDepth) throw new OszError('OSZ_E_INSTALL_TOO_LARGE', `${root}: folders nested deeper than ${limits.maxDepth} levels at ${rel}`);
    const names = fs.readdirSync(path.join(root, rel)).sort();
    for (const name of names) {
      const childRel = rel ? `${rel}/${name}` : name;
      const st = fs.lstatSync(path.join(root, childRel));
      const kind = describeRefused(st);
      if (kind) throw new OszError('OSZ_E_INSTALL_REFUSED', `${path.join(root, childRel)} is a ${kind}; only regular files and folders can be installed`, { path: childRel, kind });
      if (st.isDirectory()) {
        entries.push({ rel: childRel, kind: 'dir', size: 0, executable: false });
        visit(childRel, depth + 1);
      } else {
        bytes += st.size;
        entries.push({ rel: childRel, kind: 'file', size: st.size, executable: (st.mode & 0o111) !== 0 });
      }
      if (entries.length > limits.maxFiles) throw new OszError('OSZ_E_INSTALL_TOO_LARGE', `${root}: more than ${limits.maxFiles} files`);
      if (bytes > limits.maxBytes) throw new OszError('OSZ_E_INSTALL_TOO_LARGE', `${root}: more than ${limits.maxBytes} bytes`);
    }
  };
  const top = fs.lstatSync(root);
  if (!top.isDirectory()) throw new OszError('OSZ_E_INSTALL_REFUSED', `${root} is not a folder`, { path: root });
  visit('', 0);
  return entries;
}

function describeRefused(st: fs.Stats): string | undefined {
  if (st.isSymbolicLink()) return 'symlink';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  if (st.isFIFO()) return 'FIFO';
  if (st.isSocket()) return 'socket';
  if (st.isFile() && st.nlink > 1) return 'hard link';
  if (!st.isFile() && !st.isDirectory()) return 'special file';
  return undefined;
}

/** sha256 over the sorted list of paths, kinds, executable bits and file contents. */
export function hashTree(root: string, entries: readonly TreeEntry[]): string {
  const h = crypto.createHash('sha256');
  for (const e of entries) {
    h.update(`${e.kind} ${e.rel} ${e.executable ? 'x' : '-'} ${e.size}\n`);
    if (e.kind === 'file') h.update(fs.readFileSync(path.join(root, e.rel)));
  }
  return h.digest('hex');
}

/** Copies the listed entries into `dest` and makes the copy read-only (files 0444/0555, dirs 0555). */
export function copyTree(src: string, dest: string, entries: readonly TreeEntry[]): void {
  fs.mkdirSync(dest, { recursive: true, mode: 0o755 });
  for (const e of entries) {
    const to = path.join(dest, e.rel);
    if (e.kind === 'dir') fs.mkdirSync(to, { mode: 0o755 });
    else {
      // COPYFILE_EXCL: never follow or overwrite something already at the destination.
      fs.copyFileSync(path.join(src, e.rel), to, fs.constants.COPYFILE_EXCL);
      fs.chmodSync(to, e.executable ? 0o555 : 0o444);
    }
  }
  for (const e of [...entries].reverse()) if (e.kind === 'dir') fs.chmodSync(path.join(dest, e.rel), 0o555);
  fs.chmodSync(dest, 0o555);
}

/** Removes a read-only store folder. */
export function removeTree(dir: string): void {
  if (!fs.existsSync(dir)) return;
  const unlock = (p: string): void => {
    const st = fs.lstatSync(p);
    if (!st.isDirectory()) return;
    fs.chmodSync(p, 0o755);
    for (const name of fs.readdirSync(p)) unlock(path.join(p, name));
  };
  unlock(dir);
  fs.rmSync(dir, { recursive: true, force: true });
}
