import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../../runtime/log';
import { MIGRATIONS } from '../../../../runtime/store/migrations';
import { openStore } from '../../../../runtime/store/db';
import { createStore } from '../../../../runtime/store/store';
import { tmpDir } from '../../../helpers/tmp';

describe('store', () => {
  it('migrates from empty to the latest version with WAL and STRICT tables, and reopens', () => {
    const file = path.join(tmpDir(), 'a.db');
    const s = openStore(file, memoryLogger());
    expect(s.db.pragma('user_version', { simple: true })).toBe(MIGRATIONS.length);
    expect(s.db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(s.db.pragma('foreign_keys', { simple: true })).toBe(1);
    expect(s.secure.pragma('synchronous', { simple: true })).toBe(2);
    expect(s.db.pragma('synchronous', { simple: true })).toBe(1);
    expect(() => s.db.prepare("INSERT INTO secrets (name, value, updated_at) VALUES ('X', x'00', 'soon')").run()).toThrow(/cannot store TEXT value in INTEGER column/);
    s.db.prepare("INSERT INTO meta (key, value) VALUES ('k', 'v')").run();
    s.close();
    const again = openStore(file, memoryLogger());
    expect(again.db.prepare("SELECT value FROM meta WHERE key = 'k'").get()).toEqual({ value: 'v' });
    expect(again.recoveredFrom).toBeUndefined();
    again.close();
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('refuses a database from a newer daemon', () => {
    const file = path.join(tmpDir(), 'new.db');
    const raw = new Database(file);
    raw.pragma(`user_version = ${MIGRATIONS.length + 5}`);
    raw.close();
    expect(() => openStore(file, memoryLogger())).toThrow(/newer than this daemon/);
  });

  it('moves a corrupt file aside with a clear log line and salvages readable rows', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'c.db');
    const s = createStore(file, memoryLogger(), { keepEvents: 10 });
    s.secrets.set('KEEP_ME', 'value', 1);
    for (let i = 0; i < 2000; i++) s.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?)').run(`k${i}`, 'x'.repeat(200));
    s.db.pragma('wal_checkpoint(TRUNCATE)');
    s.close();
    // Damage pages in the middle of the file, past the schema page.
    const fd = fs.openSync(file, 'r+');
    const size = fs.fstatSync(fd).size;
    fs.writeSync(fd, Buffer.alloc(4096 * 6, 0xff), 0, 4096 * 6, Math.floor(size / 2 / 4096) * 4096);
    fs.closeSync(fd);
    const log = memoryLogger();
    const reopened = createStore(file, log, { keepEvents: 10 });
    expect(reopened.recoveredFrom).toMatch(/c\.db\.corrupt-/);
    expect(fs.existsSync(reopened.recoveredFrom ?? '')).toBe(true);
    expect(log.lines.join('\n')).toContain('failed its integrity check');
    expect(log.lines.join('\n')).toMatch(/salvaged \d+ rows/);
    expect(reopened.db.pragma('integrity_check', { simple: true })).toBe('ok');
    expect(reopened.secrets.resolve(['KEEP_ME'])).toEqual({ KEEP_ME: 'value' });
    reopened.close();
  });

  it('treats a file that is not a database as corrupt, never silently resetting it', () => {
    const dir = tmpDir();
    const file = path.join(dir, 'x.db');
    fs.writeFileSync(file, 'this is not sqlite at all'.repeat(100));
    const log = memoryLogger();
    const s = openStore(file, log);
    expect(s.recoveredFrom).toBeDefined();
    expect(fs.readFileSync(s.recoveredFrom ?? '', 'utf8')).toContain('this is not sqlite');
    s.close();
  });

  it('bounds the event log and writes it in batches', () => {
    const s = createStore(path.join(tmpDir(), 'e.db'), memoryLogger(), { keepEvents: 5 });
    for (let i = 0; i < 12; i++) s.journal.record({ v: 1, id: `e${i}`, type: 'test:tick', source: 't', time: new Date().toISOString(), data: { i }, depth: 0 });
    expect(s.events.recent(100)).toEqual([]);
    s.journal.flush();
    expect(s.journal.commits).toBe(1);
    expect(s.events.recent(100).map((e) => e.id)).toEqual(['e7', 'e8', 'e9', 'e10', 'e11']);
    s.journal.flush();
    expect(s.journal.commits).toBe(1);
    s.close();
  });
});
