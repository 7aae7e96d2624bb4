/**
 * The daemon's home on disk: its folders with the modes agents under their own uid need, and
 * the agent-side programs (runner, worker host) copied into it. A read-only home (an SD card
 * remounted read-only) is accepted when everything is already there.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { HomePaths } from './config/paths';
import type { Logger } from './log';
import { nodeRunnerPath } from './util/package-root';

/**
 * Copies the Node agent runner into the home (read-only), so agents under their own uid can read
 * it wherever the package itself is installed (a checkout under a 0700 home, say).
 */
export function installRunner(home: string, log: Logger): string {
  const srcDir = path.dirname(nodeRunnerPath());
  const destDir = path.join(home, 'lib');
  try {
    fs.mkdirSync(destDir, { recursive: true, mode: 0o755 });
    // explicit: the daemon's umask (the unit's UMask=0027) would take o+x away from agents
    fs.chmodSync(destDir, 0o755);
    for (const name of SDK_FILES) {
      const dest = path.join(destDir, name);
      const tmp = `${dest}.${process.pid}.tmp`;
      fs.rmSync(tmp, { force: true });
      fs.copyFileSync(path.join(srcDir, name), tmp);
      fs.chmodSync(tmp, 0o444);
      fs.renameSync(tmp, dest);
    }
    return path.join(destDir, 'runner.mjs');
  } catch (err) {
    if (!isReadOnly(err)) throw err;
    // A read-only home: the copies from the last boot still serve; else the package's own.
    const fallback = SDK_FILES.every((n) => fs.existsSync(path.join(destDir, n))) ? destDir : srcDir;
    log.warn('daemon', `cannot refresh ${destDir} (read-only filesystem); agents use ${fallback}`);
    return path.join(fallback, 'runner.mjs');
  }
}

/** The agent-side programs: the runner, and the agent host that runs it in worker threads. */
const SDK_FILES = ['runner.mjs', 'worker-host.mjs'] as const;

const isReadOnly = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'EROFS';

/** mkdir / chmod that accept a read-only filesystem when the folder is already there. */
function ensureDir(dir: string, mode: number): void {
  try {
    fs.mkdirSync(dir, { recursive: true, mode });
    const st = fs.statSync(dir);
    if (typeof process.getuid === 'function' && st.uid === process.getuid() && (st.mode & 0o777) !== mode) fs.chmodSync(dir, mode);
  } catch (err) {
    if (!isReadOnly(err) || !fs.existsSync(dir)) throw err;
  }
}

/** The home: 0711 so agents under their own uid can reach their data dir and the store, not list them. */
export function prepareHome(p: HomePaths): void {
  ensureDir(p.home, 0o711);
  for (const dir of [p.store, p.data]) ensureDir(dir, 0o711);
  ensureDir(p.logs, 0o750);
}
