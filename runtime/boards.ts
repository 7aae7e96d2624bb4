/**
 * Board profiles on disk: `boards/<name>.yaml` in the package, or in `<home>/boards/` for a
 * device's own. The daemon checks at start that the configured board exists, so a typo in
 * `--board` fails at once with the names it knows; the HAL (issue 4) loads and validates them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from './errors';
import { closest } from './util/suggest';
import { packageRoot } from './util/package-root';

export function boardDirs(home: string): string[] {
  return [path.join(home, 'boards'), path.join(packageRoot(), 'boards')];
}

export function knownBoards(dirs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const dir of dirs) {
    try {
      for (const f of fs.readdirSync(dir)) if (f.endsWith('.yaml')) names.add(f.slice(0, -5));
    } catch {
      /* a missing folder holds no boards */
    }
  }
  return [...names].sort();
}

/** The profile file of `board`, or OSZ_E_CONFIG naming the boards that exist. */
export function findBoard(board: string, dirs: readonly string[]): string {
  for (const dir of dirs) {
    const file = path.join(dir, `${board}.yaml`);
    if (fs.existsSync(file)) return file;
  }
  const known = knownBoards(dirs);
  const guess = closest(board, known);
  throw new OszError('OSZ_E_CONFIG', `unknown board "${board}"${guess ? `; did you mean "${guess}"?` : ''} (known: ${known.join(', ') || 'none'})`, { board, known });
}
