import fs from 'node:fs';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Installer } from '../../../../runtime/agents/install';
import { OszError } from '../../../../runtime/errors';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
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

function refusal(fn: () => unknown): OszError {
  try {
    fn();
  } catch (err) {
    if (err instanceof OszError) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

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
