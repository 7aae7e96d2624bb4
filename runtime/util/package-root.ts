/**
 * The package's root folder, found from this module's own location, so the same code works from
 * source (runtime/…), from the bundle (dist/…) and from an installed image (/opt/openstarry/…).
 */
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

export function packageRoot(): string {
  if (cached) return cached;
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'openstarryd') return (cached = dir);
      } catch {
        /* keep looking */
      }
    }
    dir = path.dirname(dir);
  }
  throw new Error('cannot find the openstarryd package root');
}

/** The bundled Node agent runner (built by scripts/build.mjs). */
export function nodeRunnerPath(): string {
  return path.join(packageRoot(), 'dist', 'sdk', 'runner.mjs');
}

export function packageVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
