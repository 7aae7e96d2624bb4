// The Node runtime a bundle carries (DESIGN §10): the official binaries npm's registry publishes as
// node-linux-<arch> (the only network the build uses is the npm registry), unpacked once per
// version into the bundle cache. Its include/node headers are what addons are built against.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export type Arch = 'arm64' | 'x64';
/** an LTS line the bundle ships; better-sqlite3 ^12 supports it */
export const NODE_VERSION = '22.23.3';

export function nodeRuntime(cache: string, arch: Arch, version = NODE_VERSION): string {
  const dir = path.join(cache, `node-linux-${arch}-${version}`);
  if (fs.existsSync(path.join(dir, 'bin/node'))) return dir;
  fs.mkdirSync(cache, { recursive: true });
  const tgz = path.join(cache, `node-linux-${arch}-${version}.tgz`);
  // several builds may share the cache at once (parallel tests): each works in its own folder and
  // renames into place; whoever is second throws its copy away
  if (!fs.existsSync(tgz)) {
    process.stderr.write(`bundle: fetching node-linux-${arch}@${version} from the npm registry\n`);
    const dl = fs.mkdtempSync(path.join(cache, 'dl-'));
    execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', dl, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
    renameOrDrop(path.join(dl, path.basename(tgz)), tgz);
    fs.rmSync(dl, { recursive: true, force: true });
  }
  const tmp = fs.mkdtempSync(`${dir}.tmp-`);
  execFileSync('tar', ['xzf', tgz, '-C', tmp, '--strip-components=1']);
  renameOrDrop(tmp, dir);
  return dir;
}

/** moves `from` to `to` unless another build got there first (then `from` is removed) */
export function renameOrDrop(from: string, to: string): void {
  try {
    fs.renameSync(from, to);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw err;
    fs.rmSync(from, { recursive: true, force: true });
  }
}
