/**
 * Turns SQLite write failures (full disk, read-only mount, I/O error) into OSZ_E_STORE_IO and
 * tells the daemon, which keeps agents running, reports the store as degraded and raises an
 * `alert:disk_full` / `alert:disk_readonly` / `alert:disk_io` event.
 */
import { OszError } from '../errors';

export type DiskProblem = 'full' | 'readonly' | 'io';

export function classifyIoError(code: string): DiskProblem | undefined {
  if (code === 'SQLITE_FULL') return 'full';
  if (code.startsWith('SQLITE_READONLY')) return 'readonly';
  if (code.startsWith('SQLITE_IOERR') || code === 'SQLITE_CANTOPEN') return 'io';
  return undefined;
}

export class WriteGuard {
  private readonly listeners: Array<(problem: DiskProblem, message: string) => void> = [];
  /** the last problem seen, cleared by the next successful write */
  problem: { kind: DiskProblem; message: string; since: number } | undefined;
  /** a problem that a successful write cannot clear (a store served read-only from a copy) */
  sticky = false;

  onProblem(fn: (problem: DiskProblem, message: string) => void): void {
    this.listeners.push(fn);
  }

  run<T>(what: string, fn: () => T): T {
    let result: T;
    try {
      result = fn();
    } catch (err) {
      const code = (err as { code?: string }).code ?? '';
      const kind = classifyIoError(code);
      if (!kind) throw err;
      const message = `could not ${what}: ${(err as Error).message}`;
      this.problem ??= { kind, message, since: Date.now() };
      this.problem.kind = kind;
      this.problem.message = message;
      this.listeners.forEach((l) => l(kind, message));
      throw new OszError('OSZ_E_STORE_IO', message, { sqlite: code, problem: kind });
    }
    if (this.problem && !this.sticky) this.problem = undefined;
    return result;
  }
}
