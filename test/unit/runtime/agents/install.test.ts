import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Installer } from '../../../../runtime/agents/install';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { refusalOf as refusal } from '../../../helpers/refusal';
import { copyFixtureAgent, tmpDir } from '../../../helpers/tmp';

let store: Store;
let installer: Installer;
let storeDir: string;

beforeEach(() => {
  const dir = tmpDir('osd-inst-');
  store = createStore(path.join(dir, 'db.sqlite'), memoryLogger(), { keepEvents: 100 });
  storeDir = path.join(dir, 'store');
  installer = new Installer(store, storeDir, { base: 61000, count: 3 });
});
afterEach(() => store.close());


describe('installer', () => {
  it('copies an agent read-only into <store>/<sha256>/ and records it with a uid', () => {
    const src = copyFixtureAgent('echo');
    const res = installer.addAgent(src);
    expect(res.hash).toMatch(/^[0-9a-f]{64}$/);
    const rec = store.agents.require('echo');
    expect(rec.storePath).toBe(path.join(storeDir, res.hash));
    expect(rec.uid).toBe(61000);
    expect(fs.readFileSync(path.join(rec.storePath, 'main.mjs'), 'utf8')).toBe(fs.readFileSync(path.join(src, 'main.mjs'), 'utf8'));
    expect(fs.statSync(path.join(rec.storePath, 'main.mjs')).mode & 0o777).toBe(0o444);
    expect(fs.statSync(rec.storePath).mode & 0o777).toBe(0o555);
    expect(() => installer.verifyInstalled(rec.storePath, rec.hash)).not.toThrow();
  });

  it('accepts the agent.json path itself, and records re-adding as an upgrade', () => {
    const src = copyFixtureAgent('echo');
    const first = installer.addAgent(path.join(src, 'agent.json'));
    fs.appendFileSync(path.join(src, 'main.mjs'), '// v2\n');
    const second = installer.addAgent(src);
    expect(second.upgradedFrom).toBe(first.hash);
    expect(store.agents.history('echo').map((h) => h.hash)).toEqual([first.hash, second.hash]);
    expect(fs.existsSync(path.join(storeDir, first.hash))).toBe(false);
    expect(installer.addAgent(src).upgradedFrom).toBeUndefined();
  });

  it('does not change what runs when the source changes, and detects tampering with the copy', () => {
    const src = copyFixtureAgent('echo');
    const { hash } = installer.addAgent(src);
    fs.writeFileSync(path.join(src, 'main.mjs'), 'changed');
    const rec = store.agents.require('echo');
    expect(() => installer.verifyInstalled(rec.storePath, hash)).not.toThrow();
    fs.chmodSync(rec.storePath, 0o755);
    fs.chmodSync(path.join(rec.storePath, 'main.mjs'), 0o644);
    fs.writeFileSync(path.join(rec.storePath, 'main.mjs'), 'tampered');
    expect(refusal(() => installer.verifyInstalled(rec.storePath, hash)).code).toBe('OSZ_E_STORE_TAMPERED');
  });

  it('refuses symlinks, hard links, FIFOs and sockets with a clear code', async () => {
    const withLink = copyFixtureAgent('echo');
    fs.symlinkSync('/dev/ttyS0', path.join(withLink, 'serial'));
    const e1 = refusal(() => installer.addAgent(withLink));
    expect(e1.code).toBe('OSZ_E_INSTALL_REFUSED');
    expect(e1.message).toContain('symlink');

    const withHard = copyFixtureAgent('echo');
    fs.linkSync(path.join(withHard, 'main.mjs'), path.join(withHard, 'copy.mjs'));
    expect(refusal(() => installer.addAgent(withHard)).message).toContain('hard link');

    const withFifo = copyFixtureAgent('echo');
    execFileSync('mkfifo', [path.join(withFifo, 'pipe')]);
    expect(refusal(() => installer.addAgent(withFifo)).message).toContain('FIFO');

    const withSock = copyFixtureAgent('echo');
    const server = net.createServer().listen(path.join(withSock, 's.sock'));
    await new Promise((r) => server.once('listening', r));
    expect(refusal(() => installer.addAgent(withSock)).message).toContain('socket');
    server.close();

    const linkedFolder = path.join(tmpDir(), 'agent-link');
    fs.symlinkSync(copyFixtureAgent('echo'), linkedFolder);
    expect(refusal(() => installer.addAgent(linkedFolder)).code).toBe('OSZ_E_INSTALL_REFUSED');
    expect(store.agents.list()).toHaveLength(0);
  });

  it('refuses a missing agent.json, a missing entry, and an unknown plugin', () => {
    const empty = tmpDir();
    expect(refusal(() => installer.addAgent(empty)).message).toContain('agent.json');
    const noEntry = copyFixtureAgent('echo');
    fs.rmSync(path.join(noEntry, 'main.mjs'));
    expect(refusal(() => installer.addAgent(noEntry)).message).toContain('main.mjs');
    const withPlugin = copyFixtureAgent('singleton');
    const m = JSON.parse(fs.readFileSync(path.join(withPlugin, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.plugins = [{ name: 'not-registered' }];
    fs.writeFileSync(path.join(withPlugin, 'agent.json'), JSON.stringify(m));
    expect(refusal(() => installer.addAgent(withPlugin)).code).toBe('OSZ_E_NO_SUCH_PLUGIN');
  });

  it('runs out of uids with a clear error rather than sharing one', () => {
    for (const id of ['a1', 'a2', 'a3', 'a4']) {
      const dir = copyFixtureAgent('singleton');
      const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as { identity: { id: string } };
      m.identity.id = id;
      fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
      if (id === 'a4') expect(refusal(() => installer.addAgent(dir)).message).toContain('uidCount');
      else installer.addAgent(dir);
    }
    expect(new Set(store.agents.list().map((a) => a.uid)).size).toBe(3);
  });

  it('registers plugins by package name and refuses removing one in use', () => {
    const dir = path.join(tmpDir(), 'plug');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'pid-tables', version: '2.0.0' }));
    fs.writeFileSync(path.join(dir, 'index.mjs'), 'export {}');
    expect(installer.addPlugin(dir)).toMatchObject({ name: 'pid-tables', version: '2.0.0' });
    const agent = copyFixtureAgent('singleton');
    const m = JSON.parse(fs.readFileSync(path.join(agent, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.plugins = [{ name: 'pid-tables' }];
    fs.writeFileSync(path.join(agent, 'agent.json'), JSON.stringify(m));
    installer.addAgent(agent);
    expect(refusal(() => installer.removePlugin('pid-tables')).code).toBe('OSZ_E_PLUGIN_IN_USE');
    installer.removeAgent('singleton');
    installer.removePlugin('pid-tables');
    expect(fs.readdirSync(storeDir)).toEqual([]);
  });
});

const storeEntries = (): string[] => (fs.existsSync(storeDir) ? fs.readdirSync(storeDir) : []);

describe('installer: modes', () => {
  it('refuses a plugin file kept from others (0600) instead of copying it 0444, and installs nothing', () => {
    const dir = tmpDir('osd-plugin-');
    fs.writeFileSync(path.join(dir, 'index.js'), 'export const x = 1;\n');
    fs.writeFileSync(path.join(dir, 'key.pem'), 'PRIVATE\n', { mode: 0o600 });
    fs.chmodSync(path.join(dir, 'key.pem'), 0o600);
    const e = refusal(() => installer.addPlugin(dir, 'keys'));
    expect(e.code).toBe('OSZ_E_INSTALL_PRIVATE');
    expect(e.message).toContain(path.join(dir, 'key.pem'));
    expect(e.message).toContain('0600');
    expect(e.details).toMatchObject({ path: 'key.pem', mode: '0600' });
    expect(storeEntries()).toEqual([]);
    expect(store.plugins.list()).toEqual([]);
    // the operator's fix, as the message says: agents may read it
    fs.chmodSync(path.join(dir, 'key.pem'), 0o644);
    const ok = installer.addPlugin(dir, 'keys');
    expect((fs.statSync(path.join(storeDir, ok.hash, 'key.pem')).mode & 0o777).toString(8)).toBe('444');
  });

  it('refuses an agent folder holding a file only its owner may read (a 0640 .env)', () => {
    const src = copyFixtureAgent('echo');
    fs.writeFileSync(path.join(src, '.env'), 'TOKEN=hunter22\n', { mode: 0o640 });
    fs.chmodSync(path.join(src, '.env'), 0o640);
    expect(refusal(() => installer.addAgent(src)).code).toBe('OSZ_E_INSTALL_PRIVATE');
    expect(storeEntries()).toEqual([]);
    expect(() => store.agents.require('echo')).toThrow(/echo/);
  });

  it('keeps the store traversable by agent uids when the umask would take o+x away', () => {
    const umask = process.umask(0o027);
    try {
      const res = installer.addAgent(copyFixtureAgent('echo'));
      expect((fs.statSync(storeDir).mode & 0o777).toString(8)).toBe('711');
      expect((fs.statSync(path.join(storeDir, res.hash)).mode & 0o777).toString(8)).toBe('555');
    } finally {
      process.umask(umask);
    }
  });
});
