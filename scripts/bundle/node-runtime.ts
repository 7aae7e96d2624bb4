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
  if (!fs.existsSync(tgz)) {
    process.stderr.write(`bundle: fetching node-linux-${arch}@${version} from the npm registry\n`);
    execFileSync('npm', ['pack', `node-linux-${arch}@${version}`, '--pack-destination', cache, '--silent'], { stdio: ['ignore', 'ignore', 'inherit'] });
  }
  const tmp = `${dir}.tmp`;
  fs.rmSync(tmp, { recursive: true, force: true });
  fs.mkdirSync(tmp, { recursive: true });
  execFileSync('tar', ['xzf', tgz, '-C', tmp, '--strip-components=1']);
  fs.renameSync(tmp, dir);
  return dir;
}
