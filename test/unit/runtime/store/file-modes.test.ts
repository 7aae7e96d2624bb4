import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { memoryLogger } from '../../../../runtime/log';
import { openStore } from '../../../../runtime/store/db';
import { tmpDir } from '../../../helpers/tmp';

const umask = process.umask();
afterEach(() => void process.umask(umask));

const modeOf = (f: string): string => (fs.statSync(f).mode & 0o777).toString(8);

describe('store file modes', () => {
  it('creates the database, -wal and -shm 0600 even under umask 000 (SQLite alone makes them 0644)', () => {
    process.umask(0);
    const file = path.join(tmpDir(), 'a.db');
    const s = openStore(file, memoryLogger());
    try {
      s.db.prepare("INSERT INTO secrets (name, value, updated_at) VALUES ('TOKEN', x'68756e7465723232', 1)").run();
      for (const suffix of ['', '-wal', '-shm']) expect(modeOf(file + suffix)).toBe('600');
    } finally {
      s.close();
    }
  });

  it('narrows a database and a -wal / -shm an older daemon left readable by others', () => {
    const file = path.join(tmpDir(), 'a.db');
    openStore(file, memoryLogger()).close();
    // an older daemon made them 0644 (a kill -9 leaves -wal and -shm behind; SQLite reuses them as they are)
    fs.chmodSync(file, 0o644);
    for (const suffix of ['-wal', '-shm']) fs.writeFileSync(file + suffix, '', { mode: 0o644 });
    const s = openStore(file, memoryLogger());
    try {
      for (const suffix of ['', '-wal', '-shm']) expect(modeOf(file + suffix)).toBe('600');
    } finally {
      s.close();
    }
  });
});
