/** Turns SQLite write failures (full disk, read-only mount, I/O error) into OSZ_E_STORE_IO. */
import { OszError } from '../errors';

const IO_CODES = new Set(['SQLITE_FULL', 'SQLITE_READONLY', 'SQLITE_IOERR', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_DBMOVED']);

export function guardWrite<T>(what: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    const code = (err as { code?: string }).code ?? '';
    if (IO_CODES.has(code) || code.startsWith('SQLITE_IOERR') || code.startsWith('SQLITE_READONLY')) {
      throw new OszError('OSZ_E_STORE_IO', `could not ${what}: ${(err as Error).message}`, { sqlite: code });
    }
    throw err;
  }
}
