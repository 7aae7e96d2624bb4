/**
 * Suites that need something from the system (a Debian package, root) register through here:
 * without it they skip with a line saying how to enable them; with OPENSTARRY_REQUIRE_ALL=1 (CI)
 * the missing requirement is a failure instead, so nothing is silently skipped there.
 */
import { execFileSync } from 'node:child_process';
import { describe, it } from 'vitest';

export interface Requirement {
  ok: boolean;
  /** how to get it, e.g. "apt-get install socat" or "run the tests as root" */
  how: string;
}

export function hasCommand(cmd: string, pkg: string): Requirement {
  let ok = true;
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  } catch {
    ok = false;
  }
  return { ok, how: `install it: apt-get install ${pkg} (scripts/setup-system.sh installs everything the tests use)` };
}

export const asRoot = (): Requirement => ({ ok: process.getuid?.() === 0, how: 'run the tests as root (as CI does)' });

export function describeWith(name: string, reqs: Requirement[], body: () => void): void {
  const missing = reqs.filter((r) => !r.ok);
  if (missing.length === 0) {
    describe(name, body);
  } else if (process.env.OPENSTARRY_REQUIRE_ALL === '1') {
    describe(name, () => {
      it('has what it needs (OPENSTARRY_REQUIRE_ALL=1)', () => {
        throw new Error(`missing: ${missing.map((m) => m.how).join('; ')}`);
      });
    });
  } else {
    describe.skip(`${name} [skipped: ${missing.map((m) => m.how).join('; ')}]`, body);
  }
}
