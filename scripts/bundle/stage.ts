// The bundle's tree (issue 11): what runs on a device, nothing else. `openstarryd/` holds the
// launchers, the bundled daemon and CLI with the status page, board profiles, example agents
// (with their built WASM), the unit files, the docs, Node itself and the native addons.
import fs from 'node:fs';
import path from 'node:path';
import { buildAddon, closure, COMPILED, copyPackage, RUNTIME_PACKAGES, strip } from './addons';
import { type Arch, nodeRuntime, NODE_VERSION } from './node-runtime';

export interface StageOptions {
  root: string;
  cache: string;
  arch: Arch;
  out: string;
  nodeVersion?: string;
}

export function stage(o: StageOptions): string {
  const nodeVersion = o.nodeVersion ?? NODE_VERSION;
  const dir = path.join(o.out, 'openstarryd');
  fs.rmSync(dir, { recursive: true, force: true });
  fs.mkdirSync(dir, { recursive: true });
  const copy = (rel: string, filter?: (src: string) => boolean): void => fs.cpSync(path.join(o.root, rel), path.join(dir, rel), { recursive: true, ...(filter ? { filter } : {}) });
  if (!fs.existsSync(path.join(o.root, 'dist/openstarryd.mjs')) || !fs.existsSync(path.join(o.root, 'dist/page/index.html'))) throw new Error('dist/ is not built: run `npm run build` first');
  copy('bin');
  copy('dist');
  copy('boards');
  copy('docs');
  copy('images/systemd');
  copy('examples', (src) => !src.includes(`${path.sep}node_modules`));
  for (const f of ['README.md', 'LICENSE']) if (fs.existsSync(path.join(o.root, f))) fs.copyFileSync(path.join(o.root, f), path.join(dir, f));
  const pkg = JSON.parse(fs.readFileSync(path.join(o.root, 'package.json'), 'utf8')) as { name: string; version: string; description?: string; license?: string };
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: pkg.name, version: pkg.version, description: pkg.description, license: pkg.license, type: 'module', private: true }, null, 2) + '\n');

  const node = nodeRuntime(o.cache, o.arch, nodeVersion);
  fs.mkdirSync(path.join(dir, 'node/bin'), { recursive: true });
  fs.copyFileSync(path.join(node, 'bin/node'), path.join(dir, 'node/bin/node'));
  fs.chmodSync(path.join(dir, 'node/bin/node'), 0o755);
  strip(o.arch, path.join(dir, 'node/bin/node'));
  fs.copyFileSync(path.join(node, 'LICENSE'), path.join(dir, 'node/LICENSE'));

  for (const name of closure(o.root, RUNTIME_PACKAGES)) copyPackage(path.join(o.root, 'node_modules', name), path.join(dir, 'node_modules', name), o.arch);
  for (const name of COMPILED) {
    if (!fs.existsSync(path.join(o.root, 'node_modules', name))) continue;
    const built = buildAddon(o.root, o.cache, name, o.arch, node, nodeVersion);
    const release = path.join(dir, 'node_modules', name, 'build/Release');
    fs.rmSync(release, { recursive: true, force: true });
    fs.mkdirSync(release, { recursive: true });
    for (const f of fs.readdirSync(built).filter((x) => x.endsWith('.node'))) fs.copyFileSync(path.join(built, f), path.join(release, f));
  }
  return dir;
}
