/** Temporary folders for tests, removed after the test file (read-only store copies included). */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { removeTree } from '../../runtime/agents/tree';

const made: string[] = [];

export function tmpDir(prefix = 'osd-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  // Agents run under their own uid when the tests run as root: they must be able to traverse.
  fs.chmodSync(dir, 0o755);
  made.push(dir);
  return dir;
}

afterAll(() => {
  for (const dir of made.splice(0)) {
    try {
      removeTree(dir);
    } catch {
      /* leave it for the OS */
    }
  }
});

export const REPO = path.resolve(import.meta.dirname, '../..');
export const FIXTURES = path.join(REPO, 'test/fixtures');
export const isRoot = process.getuid?.() === 0;

/** Copies a fixture agent into a fresh folder the test may change. */
export function copyFixtureAgent(name: string, into = tmpDir('osd-agent-')): string {
  const dest = path.join(into, name);
  fs.cpSync(path.join(FIXTURES, 'agents', name), dest, { recursive: true });
  return dest;
}

export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs = 20_000, everyMs = 50): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
