/** /proc lookups for agent processes. Pids are reused, so a pid is only "ours" with its start time. */
import fs from 'node:fs';

/** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; null if gone. */
export function processStartTime(pid: number, procRoot = '/proc'): number | null {
  try {
    const stat = fs.readFileSync(`${procRoot}/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parentheses: split after the last ')'.
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const v = Number(rest[19]);
    return Number.isFinite(v) ? v : null;
  } catch {
    return null;
  }
}

export function bootId(procRoot = '/proc'): string {
  try {
    return fs.readFileSync(`${procRoot}/sys/kernel/random/boot_id`, 'utf8').trim();
  } catch {
    return 'unknown';
  }
}
