/**
 * Every /sys, /proc and /dev lookup of the HAL goes through a root (DESIGN §5), so the same code
 * reads a real Pi and a fixture tree of one (test/fixtures/boards/). Reads never throw: a missing
 * file is `undefined`, which callers turn into a clear "not on this board" error.
 */
import fs from 'node:fs';
import path from 'node:path';

export class SysRoot {
  constructor(readonly root = '/') {}

  /** the real path of a system path under this root */
  path(p: string): string {
    return path.join(this.root, p);
  }

  /** file text without trailing NULs and whitespace (device-tree strings end in NUL) */
  read(p: string): string | undefined {
    try {
      return fs.readFileSync(this.path(p), 'utf8').replace(/\0+$/, '').trim();
    } catch {
      return undefined;
    }
  }

  readNumber(p: string): number | undefined {
    const t = this.read(p);
    const n = t === undefined || t === '' ? Number.NaN : Number(t);
    return Number.isFinite(n) ? n : undefined;
  }

  /** where a symlink points, as written */
  readlink(p: string): string | undefined {
    try {
      return fs.readlinkSync(this.path(p));
    } catch {
      return undefined;
    }
  }

  /** a symlink's target resolved as a system path (relative to the link's folder) */
  resolveLink(p: string): string | undefined {
    const target = this.readlink(p);
    return target === undefined ? undefined : path.isAbsolute(target) ? path.normalize(target) : path.join(path.dirname(p), target);
  }

  list(p: string): string[] {
    try {
      return fs.readdirSync(this.path(p)).sort();
    } catch {
      return [];
    }
  }

  exists(p: string): boolean {
    return fs.existsSync(this.path(p));
  }
}
