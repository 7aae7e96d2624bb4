/**
 * Opens the daemon's SQLite file (DESIGN §7): WAL, synchronous=NORMAL, foreign keys, numbered
 * migrations, and an integrity check at boot. A corrupt file is moved aside (never silently
 * reset) and a new one is rebuilt from whatever rows can still be read. Security tables (audit;
 * later nonces and counters) are written on a second connection with synchronous=FULL.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Database from 'better-sqlite3';
import { OszError } from '../errors';
import type { Logger } from '../log';
import { MIGRATIONS } from './migrations';

export type Db = Database.Database;

export interface OpenedStore {
  db: Db;
  /** same file, synchronous=FULL: for tables whose rows must survive power loss */
  secure: Db;
  /** set when a corrupt file was moved aside at this boot */
  recoveredFrom?: string;
  /** set when the file's filesystem is read-only: a private copy is served, every write refused */
  readOnly?: boolean;
  close(): void;
}

export function openStore(file: string, log: Logger): OpenedStore {
  if (isReadOnlyFs(path.dirname(file))) return openReadOnlyCopy(file, log);
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o750 });
  let recoveredFrom: string | undefined;
  let db = tryOpen(file);
  if (!db.ok) {
    recoveredFrom = moveAside(file);
    log.error('store', `database ${file} failed its integrity check (${db.reason}); moved it to ${recoveredFrom} and rebuilding from what can be read`);
    const fresh = openRaw(file);
    migrate(fresh);
    const salvaged = salvage(recoveredFrom, fresh);
    log.warn('store', `salvaged ${salvaged.rows} rows from ${recoveredFrom}${salvaged.failedTables.length ? `; unreadable tables: ${salvaged.failedTables.join(', ')}` : ''}`);
    db = { ok: true, db: fresh };
  }
  const main = db.db;
  migrate(main);
  const secure = openRaw(file);
  secure.pragma('synchronous = FULL');
  return {
    db: main,
    secure,
    ...(recoveredFrom ? { recoveredFrom } : {}),
    close() {
      secure.close();
      main.close();
    },
  };
}

function isReadOnlyFs(dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EROFS';
  }
}

/**
 * The SD card was remounted read-only (ext4 does that after I/O errors) and the daemon restarted:
 * SQLite cannot open a WAL database there, so the file and its WAL are copied to a private temp
 * folder and served from that copy with query_only on. Agents come back from the desired state;
 * every change is refused with OSZ_E_STORE_IO until the card is fixed.
 */
function openReadOnlyCopy(file: string, log: Logger): OpenedStore {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'openstarry-ro-'));
  const copy = path.join(dir, path.basename(file));
  for (const suffix of ['', '-wal']) if (fs.existsSync(file + suffix)) fs.copyFileSync(file + suffix, copy + suffix);
  log.error('store', `${path.dirname(file)} is on a read-only filesystem: serving a read-only copy of ${file}; changes are refused until it is writable again`);
  const db = openRaw(copy);
  migrate(db);
  db.pragma('query_only = ON');
  const secure = openRaw(copy);
  secure.pragma('query_only = ON');
  return {
    db,
    secure,
    readOnly: true,
    close() {
      secure.close();
      db.close();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

type OpenResult = { ok: true; db: Db } | { ok: false; reason: string };

function tryOpen(file: string): OpenResult {
  let db: Db | undefined;
  try {
    db = openRaw(file);
    const rows = db.pragma('integrity_check') as Array<{ integrity_check: string }>;
    const first = rows[0]?.integrity_check;
    if (first !== 'ok') {
      db.close();
      return { ok: false, reason: first ?? 'no answer' };
    }
    return { ok: true, db };
  } catch (err) {
    db?.close();
    const code = (err as { code?: string }).code;
    if (code === 'SQLITE_CORRUPT' || code === 'SQLITE_NOTADB') return { ok: false, reason: (err as Error).message };
    throw new OszError('OSZ_E_STORE_IO', `cannot open ${file}: ${(err as Error).message}`, { file, sqlite: code });
  }
}

function openRaw(file: string): Db {
  ownerOnly(file);
  const db = new Database(file);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('foreign_keys = ON');
  db.pragma('busy_timeout = 5000');
  return db;
}

/**
 * The database holds secrets and tokens, so it and its -wal / -shm are 0600 whatever the umask.
 * SQLite creates a new database 0644 (it fchmods to SQLITE_DEFAULT_FILE_PERMISSIONS, ignoring the
 * umask) and gives -wal and -shm the mode of the database file (os_unix.c findCreateFileMode):
 * so the file is created 0600 before SQLite sees it, and files an older daemon left wider are
 * narrowed before they are opened.
 */
export function ownerOnly(file: string): void {
  try {
    fs.closeSync(fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600));
  } catch {
    // unreadable or read-only: SQLite's own open reports it with a better message
  }
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      if ((fs.lstatSync(file + suffix).mode & 0o077) !== 0) fs.chmodSync(file + suffix, 0o600);
    } catch {
      /* absent, or a read-only mount that reports itself on first write */
    }
  }
}

export function migrate(db: Db): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > MIGRATIONS.length) {
    throw new OszError('OSZ_E_STORE_IO', `database schema version ${current} is newer than this daemon knows (${MIGRATIONS.length}); run a newer openstarryd`);
  }
  for (let v = current; v < MIGRATIONS.length; v++) {
    const sql = MIGRATIONS[v] ?? '';
    db.transaction(() => {
      db.exec(sql);
      db.pragma(`user_version = ${v + 1}`);
    })();
  }
}

function moveAside(file: string): string {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const target = `${file}.corrupt-${stamp}`;
  fs.renameSync(file, target);
  for (const suffix of ['-wal', '-shm']) {
    if (fs.existsSync(file + suffix)) fs.renameSync(file + suffix, target + suffix);
  }
  return target;
}

/** Copies every readable row of every known table from the damaged file into the new one. */
function salvage(damaged: string, into: Db): { rows: number; failedTables: string[] } {
  let rows = 0;
  const failedTables: string[] = [];
  let src: Db;
  try {
    src = new Database(damaged, { readonly: true, fileMustExist: true });
  } catch {
    return { rows: 0, failedTables: ['(whole file)'] };
  }
  const tables = (into.prepare(`SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`).all() as Array<{ name: string }>).map(
    (t) => t.name,
  );
  into.pragma('foreign_keys = OFF');
  for (const table of tables) {
    try {
      const cols = (into.prepare(`SELECT name FROM pragma_table_info(?)`).all(table) as Array<{ name: string }>).map((c) => c.name);
      const list = cols.map((c) => `"${c}"`).join(', ');
      const insert = into.prepare(`INSERT OR IGNORE INTO "${table}" (${list}) VALUES (${cols.map(() => '?').join(', ')})`);
      const read = src.prepare(`SELECT ${list} FROM "${table}"`).raw(true);
      // Rows read before a damaged page are kept: the catch sits inside the transaction.
      into.transaction(() => {
        try {
          for (const row of read.iterate()) {
            insert.run(...(row as unknown[]));
            rows++;
          }
        } catch {
          failedTables.push(table);
        }
      })();
    } catch {
      failedTables.push(table);
    }
  }
  into.pragma('foreign_keys = ON');
  src.close();
  return { rows, failedTables };
}
