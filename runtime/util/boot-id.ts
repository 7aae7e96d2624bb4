/** The kernel's id of this boot (DESIGN §12.11), to tell a daemon restart from a reboot. */
import crypto from 'node:crypto';
import fs from 'node:fs';

let cached: string | undefined;

export function bootId(file = '/proc/sys/kernel/random/boot_id'): string {
  if (cached !== undefined) return cached;
  try {
    cached = fs.readFileSync(file, 'utf8').trim() || crypto.randomUUID();
  } catch {
    // no /proc (not Linux): every start counts as a new boot, which only makes re-basing cautious
    cached = crypto.randomUUID();
  }
  return cached;
}
