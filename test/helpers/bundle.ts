/**
 * The device bundle as the image tests need it: built with scripts/bundle (addons and Node cached
 * in .bundle-cache/, safe for suites building at once) into a temporary folder, and unpacked.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { REPO, tmpDir } from './tmp';

export const BUNDLE_VERSION = (JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')) as { version: string }).version;
export const TSX = path.join(REPO, 'node_modules/.bin/tsx');

/** `tgz`: the tarball; `dir`: its openstarryd/ folder, unpacked */
export function buildBundle(arch: 'arm64' | 'x64'): { tgz: string; dir: string } {
  const out = tmpDir(`osd-bundle-${arch}-`);
  execFileSync(TSX, [path.join(REPO, 'scripts/bundle/index.ts'), '--arch', arch, '--out', out, '--cache', path.join(REPO, '.bundle-cache')], { stdio: ['ignore', 'pipe', 'pipe'] });
  const tgz = path.join(out, `openstarryd-${BUNDLE_VERSION}-linux-${arch}.tar.gz`);
  const dir = tmpDir(`osd-unpacked-${arch}-`);
  execFileSync('tar', ['xzf', tgz, '-C', dir]);
  return { tgz, dir: path.join(dir, 'openstarryd') };
}
