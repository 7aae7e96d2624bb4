// A reproducible tarball: entries sorted, one fixed mtime, owner root, no gzip timestamp, so the same
// tree gives the same bytes (and the same sha256) on every build.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

/** SOURCE_DATE_EPOCH when set (reproducible-builds.org), else the last commit's time, else 0 */
export function sourceDateEpoch(root: string): number {
  const env = Number(process.env.SOURCE_DATE_EPOCH);
  if (Number.isInteger(env) && env > 0) return env;
  try {
    return Number(execFileSync('git', ['-C', root, 'log', '-1', '--format=%ct'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim()) || 0;
  } catch {
    return 0;
  }
}

export function tarball(dir: string, file: string, epoch: number): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tar = execFileSync('tar', ['--sort=name', `--mtime=@${epoch}`, '--owner=0', '--group=0', '--numeric-owner', '--format=gnu', '-C', path.dirname(dir), '-cf', '-', path.basename(dir)], { maxBuffer: 1 << 30 });
  const gz = execFileSync('gzip', ['-n', '-9'], { input: tar, maxBuffer: 1 << 30 });
  fs.writeFileSync(file, gz);
}
