/** Instances in SQLite: the issue 17 migration of instances an older daemon left desired running, and per-agent pruning. */
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../../runtime/log';
import { openStore } from '../../../../runtime/store/db';
import { MIGRATIONS } from '../../../../runtime/store/migrations';
import { createStore } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

describe('instances repo', () => {
  it('migrates instances an older daemon kept desired running after they ended; a run cut by the daemon stop stays', () => {
    const file = path.join(tmpDir(), 'old.db');
    const fix = MIGRATIONS.findIndex((m) => m.includes("reason IS NOT 'daemon stopped'"));
    expect(fix).toBeGreaterThan(0);
    const raw = new Database(file);
    for (const sql of MIGRATIONS.slice(0, fix)) raw.exec(sql);
    raw.pragma(`user_version = ${fix}`);
    raw.prepare("INSERT INTO agents (id, name, hash, store_path, source_path, driver, manifest, installed_at, updated_at) VALUES ('a', 'a', 'h', '/s', '/s', 'process', '{}', 1, 1)").run();
    const add = raw.prepare("INSERT INTO instances (id, agent_id, desired, state, reason, created_at, updated_at) VALUES (?, 'a', 'running', ?, ?, 1, 1)");
    add.run('a-done0000', 'exited', null);
    add.run('a-fail0000', 'failed', 'gave up after 5 restarts');
    add.run('a-nopol000', 'exited', 'daemon restarted (policy no)');
    add.run('a-halt0000', 'exited', 'daemon stopped');
    add.run('a-crash000', 'running', null);
    raw.close();
    const s = openStore(file, memoryLogger());
    const desired = Object.fromEntries((s.db.prepare('SELECT id, desired FROM instances').all() as Array<{ id: string; desired: string }>).map((r) => [r.id, r.desired]));
    s.close();
    expect(desired).toEqual({ 'a-done0000': 'stopped', 'a-fail0000': 'stopped', 'a-nopol000': 'stopped', 'a-halt0000': 'running', 'a-crash000': 'running' });
  });

  it('prunes per agent, oldest first, only instances that are stopped and over', () => {
    const s = createStore(path.join(tmpDir(), 'p.db'), memoryLogger(), { keepEvents: 10 });
    for (const a of ['a', 'b']) s.db.prepare("INSERT INTO agents (id, name, hash, store_path, source_path, driver, manifest, installed_at, updated_at) VALUES (?, ?, 'h', '/s', '/s', 'process', '{}', 1, 1)").run(a, a);
    for (let i = 0; i < 5; i++) {
      s.instances.create(`a-${i}`, 'a', '{}', i);
      s.instances.update(`a-${i}`, { desired: 'stopped', state: i === 4 ? 'failed' : 'exited' }, 100 + i);
    }
    s.instances.create('a-live', 'a', '{}', 0);
    s.instances.create('a-stopping', 'a', '{}', 0);
    s.instances.update('a-stopping', { desired: 'stopped', state: 'stopping' }, 1);
    s.instances.create('b-0', 'b', '{}', 0);
    s.instances.update('b-0', { desired: 'stopped', state: 'exited' }, 1);
    expect(s.instances.pruneAgent('a', 2).sort()).toEqual(['a-0', 'a-1', 'a-2']);
    expect(s.instances.byAgent('a').map((r) => r.id).sort()).toEqual(['a-3', 'a-4', 'a-live', 'a-stopping']);
    expect(s.instances.pruneAll(1)).toEqual(['a-3']);
    expect(s.instances.get('b-0')).toBeDefined();
    s.close();
  });
});
