// Native addons for the bundle's Node and architecture (DESIGN §12.14): the packages the bundle keeps
// outside esbuild's output, with their dependency closure copied from node_modules, and the addons
// that are not N-API prebuilt rebuilt with node-gyp against the bundled Node's headers, for arm64
// with Debian's aarch64 cross toolchain. Built addons are cached per package version, arch and Node.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { type Arch, renameOrDrop } from './node-runtime';

/** what the bundled daemon loads from node_modules at run time */
export const RUNTIME_PACKAGES = ['better-sqlite3', 'serialport', 'unix-dgram', 'i2c-bus'];
/** addons compiled per Node ABI and architecture (serialport's are N-API prebuilds for both) */
export const COMPILED = ['better-sqlite3', 'unix-dgram', 'i2c-bus'];

const NODE_GYP = ['/usr/lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js', path.join(path.dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js')];

interface Pkg {
  name: string;
  version: string;
  dependencies?: Record<string, string>;
  optionalDependencies?: Record<string, string>;
}

const readPkg = (dir: string): Pkg => JSON.parse(fs.readFileSync(path.join(dir, 'package.json'), 'utf8')) as Pkg;

/** needed only to install or compile, never at run time (prebuild-install pulls in twenty more) */
const BUILD_ONLY = new Set(['prebuild-install', 'nan', 'node-addon-api']);

/** the packages `roots` need, found the way Node resolves them from the top-level node_modules */
export function closure(root: string, roots: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name) || BUILD_ONLY.has(name)) return;
    const dir = path.join(root, 'node_modules', name);
    if (!fs.existsSync(path.join(dir, 'package.json'))) return; // an optional dependency not installed here
    seen.add(name);
    const p = readPkg(dir);
    for (const d of Object.keys({ ...p.dependencies, ...p.optionalDependencies })) visit(d);
  };
  roots.forEach(visit);
  return [...seen].sort();
}

/** top-level folders a bundle never needs: sources, tests, docs, build intermediates */
const SKIP = new Set(['deps', 'src', 'test', 'tests', 'docs', '.github', 'node_modules', 'binding.gyp.d']);

/** copies a package for `arch`: no sources or tests; of build/ only Release/*.node; of prebuilds/ only linux-<arch> */
export function copyPackage(from: string, to: string, arch: Arch): void {
  const prebuild = arch === 'arm64' ? 'linux-arm64' : 'linux-x64';
  fs.cpSync(from, to, {
    recursive: true,
    filter: (src) => {
      const parts = path.relative(from, src).split(path.sep);
      const [top = '', second, third] = parts;
      if (top === '') return true;
      if (SKIP.has(top)) return false;
      if (top === 'build') return parts.length === 1 || (second === 'Release' && (parts.length === 2 || (parts.length === 3 && (third ?? '').endsWith('.node'))));
      if (top === 'prebuilds') return parts.length === 1 || second === prebuild;
      return true;
    },
  });
}

function gyp(): string {
  const found = NODE_GYP.find((p) => fs.existsSync(p));
  if (!found) throw new Error('node-gyp not found (it ships with npm)');
  return found;
}

/** build/Release/*.node of `pkg` for `arch` against the headers in `nodeDir`, cached */
export function buildAddon(root: string, cache: string, pkg: string, arch: Arch, nodeDir: string, nodeVersion: string): string {
  const version = readPkg(path.join(root, 'node_modules', pkg)).version;
  const out = path.join(cache, 'addons', `${pkg.replace('/', '+')}-${version}-linux-${arch}-node${nodeVersion}`);
  if (fs.existsSync(path.join(out, 'done'))) return out;
  fs.mkdirSync(path.join(cache, 'work'), { recursive: true });
  const work = fs.mkdtempSync(path.join(cache, 'work', `${pkg.replace('/', '+')}-${arch}-`));
  fs.rmSync(work, { recursive: true });
  fs.cpSync(path.join(root, 'node_modules', pkg), work, { recursive: true, filter: (src) => !src.includes(`${path.sep}build${path.sep}`) && !src.endsWith(`${path.sep}build`) });
  // the package's own dependencies at build time (nan, bindings) resolve from the checkout
  fs.symlinkSync(path.join(root, 'node_modules'), path.join(work, 'node_modules'), 'dir');
  const cross = arch === 'arm64' && process.arch !== 'arm64' ? { CC: 'aarch64-linux-gnu-gcc', CXX: 'aarch64-linux-gnu-g++', LINK: 'aarch64-linux-gnu-g++', AR: 'aarch64-linux-gnu-ar' } : {};
  process.stderr.write(`bundle: building ${pkg}@${version} for linux-${arch}, Node ${nodeVersion}\n`);
  execFileSync(process.execPath, [gyp(), 'rebuild', `--arch=${arch}`, `--nodedir=${nodeDir}`, '-j', '2'], { cwd: work, env: { ...process.env, ...cross, npm_config_nodedir: nodeDir }, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.mkdirSync(path.dirname(out), { recursive: true });
  const staged = fs.mkdtempSync(`${out}.tmp-`);
  // the addon itself, not test fixtures (better-sqlite3 also builds test_extension.node), stripped
  for (const f of fs.readdirSync(path.join(work, 'build/Release')).filter((x) => x.endsWith('.node') && !x.startsWith('test_'))) {
    fs.copyFileSync(path.join(work, 'build/Release', f), path.join(staged, f));
    strip(arch, path.join(staged, f));
  }
  fs.writeFileSync(path.join(staged, 'done'), '');
  fs.rmSync(work, { recursive: true, force: true });
  renameOrDrop(staged, out);
  return out;
}

/** drops symbols and debug info (the official Node binary carries 20 MB of them) */
export function strip(arch: Arch, file: string): void {
  const tool = arch === 'arm64' && process.arch !== 'arm64' ? 'aarch64-linux-gnu-strip' : 'strip';
  execFileSync(tool, ['--strip-unneeded', file]);
}
