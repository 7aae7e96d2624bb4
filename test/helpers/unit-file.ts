/**
 * Reads the [Service] settings of a systemd unit file that decide how the daemon runs as shipped
 * (user, groups, capabilities, umask, no_new_privs, the syscall filter), so the tests start the
 * daemon exactly the way images/systemd/openstarryd.service says and cannot drift from it.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';

export interface ServiceSettings {
  user: string;
  group: string;
  supplementaryGroups: string[];
  umask: number;
  ambientCaps: string[];
  boundingCaps: string[];
  noNewPrivileges: boolean;
  /** SystemCallFilter= lines in order, each a list of names and @groups, `~` kept on the first */
  syscallFilter: string[];
  syscallErrorNumber: string | undefined;
}

/** Every `Key=value` of the [Service] section, repeated keys in order; an empty value resets. */
export function serviceEntries(text: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let inService = false;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('[')) {
      inService = line === '[Service]';
      continue;
    }
    if (!inService || line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const eq = line.indexOf('=');
    if (eq < 0) continue;
    const key = line.slice(0, eq).trim();
    const value = line.slice(eq + 1).trim();
    if (value === '') out.set(key, []);
    else out.set(key, [...(out.get(key) ?? []), value]);
  }
  return out;
}

export function readServiceSettings(file: string): ServiceSettings {
  const e = serviceEntries(fs.readFileSync(file, 'utf8'));
  const words = (key: string): string[] => (e.get(key) ?? []).flatMap((v) => v.split(/\s+/)).filter(Boolean);
  const one = (key: string): string | undefined => e.get(key)?.at(-1);
  const user = one('User');
  if (!user) throw new Error(`${file}: no User=`);
  return {
    user,
    group: one('Group') ?? user,
    supplementaryGroups: words('SupplementaryGroups'),
    umask: parseInt(one('UMask') ?? '0022', 8),
    ambientCaps: words('AmbientCapabilities'),
    boundingCaps: words('CapabilityBoundingSet'),
    noNewPrivileges: one('NoNewPrivileges') === 'yes',
    syscallFilter: e.get('SystemCallFilter') ?? [],
    syscallErrorNumber: one('SystemCallErrorNumber'),
  };
}

/** The syscalls a group or name stands for, through `systemd-analyze syscall-filter` (nested groups expanded). */
export function expandSyscalls(item: string, cache = new Map<string, string[]>()): string[] {
  if (!item.startsWith('@')) return [item];
  const hit = cache.get(item);
  if (hit) return hit;
  const text = execFileSync('systemd-analyze', ['syscall-filter', item], { encoding: 'utf8' });
  const names = text
    .split('\n')
    .slice(1)
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'));
  const out = [...new Set(names.flatMap((n) => expandSyscalls(n, cache)))];
  cache.set(item, out);
  return out;
}

/**
 * systemd's rules for SystemCallFilter=: the first line decides the mode (allow-list unless it
 * starts with `~`); later lines add (plain) or remove (`~`) names. Returns the allow-list; a
 * deny-list first line is not what our unit uses and is refused.
 */
export function allowedSyscalls(lines: readonly string[]): string[] {
  if (lines.length === 0) throw new Error('no SystemCallFilter=');
  if (lines[0]?.startsWith('~')) throw new Error('a deny-list SystemCallFilter= is not supported by the test harness');
  const allowed = new Set<string>();
  const cache = new Map<string, string[]>();
  for (const line of lines) {
    const remove = line.startsWith('~');
    for (const item of (remove ? line.slice(1) : line).split(/\s+/).filter(Boolean)) {
      for (const name of expandSyscalls(item, cache)) {
        if (remove) allowed.delete(name);
        else allowed.add(name);
      }
    }
  }
  return [...allowed].sort();
}
