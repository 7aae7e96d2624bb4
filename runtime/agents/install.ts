/**
 * `agents.add` / `plugins.add`: copy a folder into `<home>/store/<sha256>/` read-only and record
 * it (DESIGN §12.9). Instances run only from that copy, after `verifyInstalled` re-checks the
 * hash, so edits to the source folder after `add` never change what runs. Re-adding an agent id
 * is a recorded upgrade.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from '../errors';
import type { Store } from '../store/store';
import { driverOf, type Manifest, MAX_MANIFEST_BYTES, parseManifest } from './manifest';
import { checkModule, MAX_MODULE_BYTES } from './drivers/wasm/abi';
import { copyTree, hashTree, removeTree, walkTree } from './tree';

export interface InstallResult {
  id: string;
  hash: string;
  version: string | null;
  driver: string;
  upgradedFrom?: string;
}

export class Installer {
  constructor(
    private readonly store: Store,
    private readonly storeDir: string,
    private readonly uidRange: { base: number; count: number },
    private readonly now: () => number = Date.now,
  ) {}

  /** The validated manifest of an agent folder (or agent.json), without installing anything. */
  readManifest(source: string): Manifest {
    const manifestFile = path.join(resolveAgentFolder(source), 'agent.json');
    return parseManifest(readManifestText(manifestFile), manifestFile);
  }

  /**
   * `source` is a folder holding agent.json, or the agent.json file itself. `imageDigest` (docker
   * agents) is recorded as runtime.digest in the stored manifest, so what runs is that image.
   */
  addAgent(source: string, opts: { imageDigest?: string } = {}): InstallResult {
    const folder = resolveAgentFolder(source);
    const manifestFile = path.join(folder, 'agent.json');
    const manifest = parseManifest(readManifestText(manifestFile), manifestFile);
    if (opts.imageDigest && !manifest.runtime.digest) manifest.runtime.digest = opts.imageDigest;
    this.checkPlugins(manifest, folder);
    const entryRel = manifest.runtime.entry ?? manifest.runtime.module;
    const entries = walkTree(folder);
    if (entryRel && !entries.some((e) => e.kind === 'file' && e.rel === path.posix.normalize(entryRel))) {
      throw new OszError('OSZ_E_MANIFEST', `${manifestFile}: runtime entry "${entryRel}" is not a file in the agent folder`, { path: entryRel });
    }
    if (manifest.runtime.module) {
      // A module outside ABI v1 is never installed (DESIGN §4): checked here, before the copy.
      const file = path.join(folder, manifest.runtime.module);
      const rel = path.relative(folder, file);
      const size = fs.statSync(file).size;
      if (size > MAX_MODULE_BYTES) throw new OszError('OSZ_E_WASM_REFUSED', `${rel}: module is ${size} bytes; the limit is ${MAX_MODULE_BYTES}`, { source: rel });
      checkModule(fs.readFileSync(file), manifest.limits.memoryMb, rel);
    }
    const { hash, dest } = this.materialise(folder, entries);
    const res = this.store.agents.upsert(
      {
        id: manifest.identity.id,
        name: manifest.identity.name,
        version: manifest.identity.version ?? null,
        hash,
        storePath: dest,
        sourcePath: folder,
        driver: driverOf(manifest),
        manifest: JSON.stringify(manifest),
      },
      this.uidRange,
      this.now(),
    );
    this.collectGarbage();
    return {
      id: manifest.identity.id,
      hash,
      version: manifest.identity.version ?? null,
      driver: driverOf(manifest),
      ...(res.previousHash && res.previousHash !== hash ? { upgradedFrom: res.previousHash } : {}),
    };
  }

  addPlugin(source: string, name?: string): { name: string; hash: string; version: string | null } {
    const folder = path.resolve(source);
    const pkg = readPackageJson(folder);
    const pluginName = name ?? pkg.name ?? path.basename(folder);
    if (!/^[a-z0-9@][a-z0-9@/._-]{0,127}$/.test(pluginName)) {
      throw new OszError('OSZ_E_INVALID_PARAMS', `plugin name "${pluginName.slice(0, 140)}" is not allowed: use lower-case letters, digits, @ / . _ -`);
    }
    const entries = walkTree(folder);
    const { hash, dest } = this.materialise(folder, entries);
    this.store.plugins.upsert({ name: pluginName, version: pkg.version ?? null, hash, storePath: dest, sourcePath: folder }, this.now());
    this.collectGarbage();
    return { name: pluginName, hash, version: pkg.version ?? null };
  }

  removePlugin(name: string): void {
    this.store.plugins.require(name);
    const users = this.store.agents.list().filter((a) => (JSON.parse(a.manifest) as Manifest).plugins.some((p) => p.name === name && !p.path));
    if (users.length > 0) throw new OszError('OSZ_E_PLUGIN_IN_USE', `plugin "${name}" is used by ${users.map((u) => u.id).join(', ')}`, { agents: users.map((u) => u.id) });
    this.store.plugins.remove(name);
    this.collectGarbage();
  }

  removeAgent(id: string): void {
    this.store.agents.require(id);
    this.store.agents.remove(id);
    this.collectGarbage();
  }

  /** Re-hashes an installed copy before it runs; a mismatch means someone changed the store. */
  verifyInstalled(storePath: string, expectedHash: string): void {
    const actual = hashTree(storePath, walkTree(storePath));
    if (actual !== expectedHash) {
      throw new OszError('OSZ_E_STORE_TAMPERED', `installed copy ${storePath} has hash ${actual.slice(0, 12)}…, expected ${expectedHash.slice(0, 12)}…`, {
        path: storePath,
      });
    }
  }

  private checkPlugins(manifest: Manifest, folder: string): void {
    for (const p of manifest.plugins) {
      if (p.path) {
        const abs = path.resolve(folder, p.path);
        if (!fs.existsSync(abs)) throw new OszError('OSZ_E_MANIFEST', `plugin "${p.name}": path ${p.path} does not exist in ${folder}`, { plugin: p.name });
      } else {
        this.store.plugins.require(p.name);
      }
    }
  }

  private materialise(folder: string, entries: ReturnType<typeof walkTree>): { hash: string; dest: string } {
    refusePrivateFiles(folder, entries);
    const hash = hashTree(folder, entries);
    fs.mkdirSync(this.storeDir, { recursive: true, mode: 0o711 });
    // mkdir's mode is narrowed by the umask (0027 under the unit): agent uids must traverse the store.
    if ((fs.statSync(this.storeDir).mode & 0o001) === 0) fs.chmodSync(this.storeDir, 0o711);
    const dest = path.join(this.storeDir, hash);
    if (fs.existsSync(dest)) {
      // Same content already installed (or a half-finished copy left by a crash): verify it.
      try {
        this.verifyInstalled(dest, hash);
        return { hash, dest };
      } catch {
        removeTree(dest);
      }
    }
    const tmp = path.join(this.storeDir, `.tmp-${crypto.randomBytes(6).toString('hex')}`);
    try {
      copyTree(folder, tmp, entries);
      // The source may have changed while copying: the copy is what counts, so hash it again.
      const copied = hashTree(tmp, walkTree(tmp));
      if (copied !== hash) throw new OszError('OSZ_E_INSTALL_REFUSED', `${folder} changed while it was being installed; try again`);
      fs.renameSync(tmp, dest);
    } finally {
      removeTree(tmp);
    }
    return { hash, dest };
  }

  /** Removes store folders no agent or plugin references any more (and stale temp copies). */
  collectGarbage(): void {
    if (!fs.existsSync(this.storeDir)) return;
    const keep = new Set([...this.store.agents.hashesInUse(), ...this.store.plugins.hashesInUse()]);
    for (const name of fs.readdirSync(this.storeDir)) if (!keep.has(name)) removeTree(path.join(this.storeDir, name));
  }
}

/**
 * The store's copies are 0444 so that agents under their own uid can read them; copying a file
 * its owner kept from others (a 0600 key, say) would hand it to every agent on the device. Such
 * a file is refused, naming it, instead of being widened (issue 16): the operator chmods it o+r
 * if agents may read it, or moves it out of the folder.
 */
export function refusePrivateFiles(folder: string, entries: ReturnType<typeof walkTree>): void {
  for (const e of entries) {
    if (e.kind !== 'file') continue;
    const mode = fs.lstatSync(path.join(folder, e.rel)).mode & 0o777;
    if ((mode & 0o004) === 0) {
      throw new OszError(
        'OSZ_E_INSTALL_PRIVATE',
        `${path.join(folder, e.rel)} is mode ${mode.toString(8).padStart(4, '0')}, not readable by others; installed copies are readable by every agent uid, so installing it would widen it: chmod o+r it if agents may read it, or move it out of ${folder}`,
        { path: e.rel, mode: mode.toString(8).padStart(4, '0') },
      );
    }
  }
}

function resolveAgentFolder(source: string): string {
  const abs = path.resolve(source);
  let st: fs.Stats;
  try {
    st = fs.lstatSync(abs);
  } catch {
    throw new OszError('OSZ_E_MANIFEST', `${abs} does not exist`, { path: abs });
  }
  if (st.isSymbolicLink()) throw new OszError('OSZ_E_INSTALL_REFUSED', `${abs} is a symlink; give the real folder`, { path: abs, kind: 'symlink' });
  if (st.isFile() && path.basename(abs) === 'agent.json') return path.dirname(abs);
  if (st.isDirectory()) return abs;
  throw new OszError('OSZ_E_MANIFEST', `${abs} is neither an agent folder nor an agent.json`, { path: abs });
}

function readManifestText(file: string): string {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch {
    throw new OszError('OSZ_E_MANIFEST', `${file} is missing: an agent folder needs an agent.json (scaffold one with \`openstarryctl new agent <name>\`)`, { path: file });
  }
  if (!st.isFile()) throw new OszError('OSZ_E_INSTALL_REFUSED', `${file} is not a regular file`, { path: file });
  if (st.size > MAX_MANIFEST_BYTES) throw new OszError('OSZ_E_MANIFEST', `${file} is ${st.size} bytes; the limit is ${MAX_MANIFEST_BYTES}`, { path: file });
  return fs.readFileSync(file, 'utf8');
}

function readPackageJson(folder: string): { name?: string; version?: string } {
  const file = path.join(folder, 'package.json');
  if (!fs.existsSync(file)) return {};
  try {
    const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: unknown; version?: unknown };
    return {
      ...(typeof pkg.name === 'string' ? { name: pkg.name } : {}),
      ...(typeof pkg.version === 'string' ? { version: pkg.version } : {}),
    };
  } catch {
    return {};
  }
}
