/**
 * Our own WASI preview 1 shim (DESIGN §4, §12.10), never `node:wasi` (documented as not a
 * sandbox). It serves clocks, random bytes, stdout/stderr (to the agent's log), args and env,
 * and read-only files from the install copy and granted plugins. There is nothing else behind it:
 * no writes, no sockets, no directories outside the preopens, and path resolution refuses
 * absolute paths, `..`, symlinks and anything but regular files and folders, so `/dev`, `/sys`,
 * `/proc` and `/run` are out of reach whatever the guest asks for.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { type GuestMemory, GuestMemoryError } from './guest-memory';

export const ERRNO = {
  SUCCESS: 0, ACCES: 2, BADF: 8, FAULT: 21, FBIG: 22, INVAL: 28, IO: 29, ISDIR: 31, LOOP: 32, MFILE: 33,
  NAMETOOLONG: 37, NOENT: 44, NOSYS: 52, NOTDIR: 54, NOTSUP: 58, ROFS: 69, SPIPE: 70, NOTCAPABLE: 76,
} as const;
const FILETYPE = { CHARACTER_DEVICE: 2, DIRECTORY: 3, REGULAR_FILE: 4 } as const;
const OFLAGS_WRITE = 1 | 4 | 8; // CREAT, EXCL, TRUNC
const OFLAG_DIRECTORY = 2;
const RIGHTS_WRITE = (1n << 6n) | (1n << 4n) | (1n << 22n) | (1n << 10n); // fd_write, fd_allocate, path_filestat_set_size, path_create_file
const FDFLAGS_WRITE = 1 | 2 | 8 | 16; // APPEND, DSYNC, RSYNC, SYNC
const MAX_FDS = 64;
const MAX_PATH = 1024;

/** proc_exit: unwinds the guest's call; the cell ends the instance with this code. */
export class ProcExit extends Error {
  constructor(readonly code: number) {
    super(`proc_exit(${code})`);
  }
}

type Fd =
  | { kind: 'std'; n: 0 | 1 | 2 }
  | { kind: 'dir'; dir: string; root: string; preopen?: string }
  | { kind: 'file'; data: Buffer; pos: number; mtimeNs: bigint };

export interface WasiOptions {
  memory: () => GuestMemory;
  args: string[];
  env: Record<string, string>;
  preopens: Array<{ name: string; dir: string }>;
  maxFileBytes: number;
  /** bytes the guest wrote to fd 1 or 2 */
  output(stream: 'stdout' | 'stderr', text: string): void;
}

class WasiError extends Error {
  constructor(readonly errno: number) {
    super(`errno ${errno}`);
  }
}

export function wasiImports(o: WasiOptions): Record<string, (...args: never[]) => unknown> {
  const fds = new Map<number, Fd>([
    [0, { kind: 'std', n: 0 }],
    [1, { kind: 'std', n: 1 }],
    [2, { kind: 'std', n: 2 }],
  ]);
  o.preopens.forEach((p, i) => fds.set(3 + i, { kind: 'dir', dir: p.dir, root: p.dir, preopen: p.name }));
  const argv = o.args.map((a) => Buffer.from(`${a}\0`));
  const envv = Object.entries(o.env).map(([k, v]) => Buffer.from(`${k}=${v}\0`));

  const fd = (n: number): Fd => fds.get(n) ?? fail(ERRNO.BADF);
  const u32 = (ptr: number, v: number): void => o.memory().checked(ptr, 4).setUint32(ptr >>> 0, v >>> 0, true);
  const u64 = (ptr: number, v: bigint): void => o.memory().checked(ptr, 8).setBigUint64(ptr >>> 0, BigInt.asUintN(64, v), true);

  /** Wraps a call so a bad pointer is EFAULT and a refusal its errno; ProcExit passes through. */
  const call =
    <A extends unknown[]>(fn: (...args: A) => number | void) =>
    (...args: A): number => {
      try {
        return fn(...args) ?? ERRNO.SUCCESS;
      } catch (err) {
        if (err instanceof WasiError) return err.errno;
        if (err instanceof GuestMemoryError) return ERRNO.FAULT;
        if (err instanceof ProcExit) throw err;
        return ERRNO.IO;
      }
    };

  const iovecs = (ptr: number, n: number): Array<[number, number]> => {
    if (n >>> 0 > 1024) fail(ERRNO.INVAL);
    const dv = o.memory().checked(ptr, (n >>> 0) * 8);
    const out: Array<[number, number]> = [];
    for (let i = 0; i < n >>> 0; i++) out.push([dv.getUint32((ptr >>> 0) + i * 8, true), dv.getUint32((ptr >>> 0) + i * 8 + 4, true)]);
    return out;
  };

  const strings = (list: Buffer[], ptrsPtr: number, bufPtr: number): void => {
    let at = bufPtr >>> 0;
    list.forEach((b, i) => {
      u32((ptrsPtr >>> 0) + i * 4, at);
      o.memory().write(at, b);
      at += b.length;
    });
  };

  const resolve = (dirFd: number, pathPtr: number, pathLen: number): { full: string; st: fs.Stats } => {
    const base = fd(dirFd);
    if (base.kind !== 'dir') fail(ERRNO.NOTDIR);
    const rel = o.memory().text(pathPtr, pathLen, MAX_PATH);
    return resolveInside(base.root, base.dir, rel);
  };

  const stat = (ptr: number, filetype: number, size: bigint, mtimeNs: bigint): void => {
    const dv = o.memory().checked(ptr, 64);
    const p = ptr >>> 0;
    new Uint8Array(dv.buffer, p, 64).fill(0);
    dv.setUint8(p + 16, filetype);
    dv.setBigUint64(p + 24, 1n, true);
    dv.setBigUint64(p + 32, size, true);
    for (const off of [40, 48, 56]) dv.setBigUint64(p + off, mtimeNs, true);
  };

  const statOf = (st: fs.Stats): [number, bigint, bigint] => [st.isDirectory() ? FILETYPE.DIRECTORY : FILETYPE.REGULAR_FILE, BigInt(st.size), BigInt(Math.round(st.mtimeMs)) * 1_000_000n];

  return {
    args_sizes_get: call((argcPtr: number, sizePtr: number) => {
      u32(argcPtr, argv.length);
      u32(sizePtr, argv.reduce((n, b) => n + b.length, 0));
    }),
    args_get: call((ptrs: number, buf: number) => strings(argv, ptrs, buf)),
    environ_sizes_get: call((countPtr: number, sizePtr: number) => {
      u32(countPtr, envv.length);
      u32(sizePtr, envv.reduce((n, b) => n + b.length, 0));
    }),
    environ_get: call((ptrs: number, buf: number) => strings(envv, ptrs, buf)),
    clock_res_get: call((id: number, ptr: number) => {
      if (id >>> 0 > 3) fail(ERRNO.INVAL);
      u64(ptr, id === 0 ? 1_000_000n : 1000n);
    }),
    clock_time_get: call((id: number, _precision: bigint, ptr: number) => {
      if (id === 0) u64(ptr, BigInt(Date.now()) * 1_000_000n);
      else if (id >= 1 && id <= 3) u64(ptr, process.hrtime.bigint());
      else fail(ERRNO.INVAL);
    }),
    random_get: call((ptr: number, len: number) => {
      const view = o.memory().view(ptr, len, 1024 * 1024);
      for (let off = 0; off < view.length; off += 65536) crypto.getRandomValues(view.subarray(off, Math.min(view.length, off + 65536)));
    }),
    fd_write: call((n: number, iovs: number, count: number, nwrittenPtr: number) => {
      const f = fd(n);
      if (f.kind !== 'std' || f.n === 0) fail(ERRNO.BADF);
      let total = 0;
      for (const [p, l] of iovecs(iovs, count)) {
        o.output(f.n === 1 ? 'stdout' : 'stderr', o.memory().text(p, l, 64 * 1024));
        total += l;
      }
      u32(nwrittenPtr, total);
    }),
    fd_read: call((n: number, iovs: number, count: number, nreadPtr: number) => {
      const f = fd(n);
      if (f.kind === 'dir') fail(ERRNO.ISDIR);
      if (f.kind === 'std') {
        if (f.n !== 0) fail(ERRNO.BADF);
        u32(nreadPtr, 0);
        return;
      }
      let total = 0;
      for (const [p, l] of iovecs(iovs, count)) {
        const chunk = f.data.subarray(f.pos, f.pos + (l >>> 0));
        o.memory().write(p, chunk);
        f.pos += chunk.length;
        total += chunk.length;
        if (chunk.length < l >>> 0) break;
      }
      u32(nreadPtr, total);
    }),
    fd_seek: call((n: number, offset: bigint, whence: number, newPtr: number) => {
      const f = fd(n);
      if (f.kind === 'std') fail(ERRNO.SPIPE);
      if (f.kind === 'dir') fail(ERRNO.ISDIR);
      const base = whence === 0 ? 0n : whence === 1 ? BigInt(f.pos) : whence === 2 ? BigInt(f.data.length) : fail(ERRNO.INVAL);
      const next = base + offset;
      if (next < 0n || next > BigInt(f.data.length)) fail(ERRNO.INVAL);
      f.pos = Number(next);
      u64(newPtr, next);
    }),
    fd_close: call((n: number) => {
      const f = fd(n);
      if (f.kind !== 'std') fds.delete(n);
    }),
    fd_fdstat_get: call((n: number, ptr: number) => {
      const f = fd(n);
      const dv = o.memory().checked(ptr, 24);
      const p = ptr >>> 0;
      new Uint8Array(dv.buffer, p, 24).fill(0);
      dv.setUint8(p, f.kind === 'std' ? FILETYPE.CHARACTER_DEVICE : f.kind === 'dir' ? FILETYPE.DIRECTORY : FILETYPE.REGULAR_FILE);
      const rights = f.kind === 'std' ? (f.n === 0 ? 0x2n : 0x40n) : f.kind === 'file' ? 0x2n | 0x4n | 0x20n | 0x200000n : 0x2000n | 0x40000n | 0x4000n;
      dv.setBigUint64(p + 8, rights, true);
      dv.setBigUint64(p + 16, f.kind === 'dir' ? 0x2n | 0x4n | 0x20n | 0x200000n | 0x2000n | 0x40000n : 0n, true);
    }),
    fd_filestat_get: call((n: number, ptr: number) => {
      const f = fd(n);
      if (f.kind === 'std') stat(ptr, FILETYPE.CHARACTER_DEVICE, 0n, 0n);
      else if (f.kind === 'file') stat(ptr, FILETYPE.REGULAR_FILE, BigInt(f.data.length), f.mtimeNs);
      else stat(ptr, ...statOf(fs.statSync(f.dir)));
    }),
    fd_prestat_get: call((n: number, ptr: number) => {
      const f = fd(n);
      if (f.kind !== 'dir' || f.preopen === undefined) fail(ERRNO.BADF);
      const dv = o.memory().checked(ptr, 8);
      dv.setUint32(ptr >>> 0, 0, true);
      dv.setUint32((ptr >>> 0) + 4, Buffer.byteLength(f.preopen), true);
    }),
    fd_prestat_dir_name: call((n: number, ptr: number, len: number) => {
      const f = fd(n);
      if (f.kind !== 'dir' || f.preopen === undefined) fail(ERRNO.BADF);
      const name = Buffer.from(f.preopen);
      if (len >>> 0 < name.length) fail(ERRNO.NAMETOOLONG);
      o.memory().write(ptr, name);
    }),
    path_open: call((dirFd: number, _dirflags: number, pathPtr: number, pathLen: number, oflags: number, rightsBase: bigint, _inh: bigint, fdflags: number, outPtr: number) => {
      if (oflags & OFLAGS_WRITE || (BigInt.asUintN(64, rightsBase) & RIGHTS_WRITE) !== 0n || fdflags & FDFLAGS_WRITE) fail(ERRNO.ROFS);
      const { full, st } = resolve(dirFd, pathPtr, pathLen);
      if (fds.size >= MAX_FDS) fail(ERRNO.MFILE);
      const base = fd(dirFd) as Extract<Fd, { kind: 'dir' }>;
      let entry: Fd;
      if (st.isDirectory()) entry = { kind: 'dir', dir: full, root: base.root };
      else {
        if (oflags & OFLAG_DIRECTORY) fail(ERRNO.NOTDIR);
        if (st.size > o.maxFileBytes) fail(ERRNO.FBIG);
        entry = { kind: 'file', data: readRegular(full, o.maxFileBytes), pos: 0, mtimeNs: BigInt(Math.round(st.mtimeMs)) * 1_000_000n };
      }
      let n = 3;
      while (fds.has(n)) n++;
      fds.set(n, entry);
      u32(outPtr, n);
    }),
    path_filestat_get: call((dirFd: number, _flags: number, pathPtr: number, pathLen: number, ptr: number) => {
      const { st } = resolve(dirFd, pathPtr, pathLen);
      stat(ptr, ...statOf(st));
    }),
    proc_exit: (code: number) => {
      throw new ProcExit(code >>> 0);
    },
    sched_yield: () => ERRNO.SUCCESS,
  };
}

function fail(errno: number): never {
  throw new WasiError(errno);
}

/**
 * Resolves a guest path under `dir`, staying inside `root`: relative, no `..`, no symlink on the
 * way, and only folders and regular files at the end. Checked component by component with lstat,
 * then once more with realpath.
 */
export function resolveInside(root: string, dir: string, rel: string): { full: string; st: fs.Stats } {
  if (rel.includes('\0')) fail(ERRNO.INVAL);
  if (rel.startsWith('/')) fail(ERRNO.NOTCAPABLE);
  const parts = rel.split('/').filter((p) => p !== '' && p !== '.');
  if (parts.includes('..')) fail(ERRNO.NOTCAPABLE);
  let full = dir;
  let st = lstat(full);
  for (const [i, part] of parts.entries()) {
    if (!st.isDirectory()) fail(ERRNO.NOTDIR);
    full = path.join(full, part);
    st = lstat(full);
    if (st.isSymbolicLink()) fail(ERRNO.LOOP);
    if (i < parts.length - 1 && !st.isDirectory()) fail(ERRNO.NOTDIR);
  }
  if (!st.isDirectory() && !st.isFile()) fail(ERRNO.ACCES);
  const real = fs.realpathSync(full);
  const realRoot = fs.realpathSync(root);
  if (real !== realRoot && !real.startsWith(realRoot + path.sep)) fail(ERRNO.NOTCAPABLE);
  return { full, st };
}

function lstat(p: string): fs.Stats {
  try {
    return fs.lstatSync(p);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return fail(code === 'ENOENT' ? ERRNO.NOENT : code === 'ENOTDIR' ? ERRNO.NOTDIR : code === 'EACCES' ? ERRNO.ACCES : ERRNO.IO);
  }
}

/** Reads a regular file without following a symlink swapped in after the check (O_NOFOLLOW). */
function readRegular(full: string, max: number): Buffer {
  const fdn = fs.openSync(full, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK);
  try {
    const st = fs.fstatSync(fdn);
    if (!st.isFile()) fail(ERRNO.ACCES);
    if (st.size > max) fail(ERRNO.FBIG);
    return fs.readFileSync(fdn);
  } finally {
    fs.closeSync(fdn);
  }
}
