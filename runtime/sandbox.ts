/**
 * Decides how process agents are confined on this host (DESIGN §12.6): whether they get their own
 * uid through setpriv, and whether the folders they must read are reachable under that uid.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from './errors';

export interface SandboxPlan {
  separateUid: boolean;
  setprivPath: string | undefined;
  warnings: string[];
}

const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'];

export function planSandbox(mode: 'auto' | 'on' | 'off', isRoot: boolean): SandboxPlan {
  const setprivPath = SETPRIV_CANDIDATES.find((p) => fs.existsSync(p));
  const warnings: string[] = [];
  if (mode === 'off') {
    if (isRoot) warnings.push('sandbox.setpriv is off while the daemon runs as root: process agents run as root');
    return { separateUid: false, setprivPath, warnings };
  }
  if (mode === 'on' && !isRoot) throw new OszError('OSZ_E_CONFIG', 'sandbox.setpriv is "on" but the daemon is not root (it needs CAP_SETUID/CAP_SETGID); use "auto"');
  if (isRoot && !setprivPath) {
    if (mode === 'on') throw new OszError('OSZ_E_CONFIG', 'sandbox.setpriv is "on" but setpriv is missing: install util-linux');
    warnings.push('running as root without setpriv (util-linux): process agents would run as root, so they are refused');
  }
  return { separateUid: isRoot && setprivPath !== undefined, setprivPath, warnings };
}

/** Folders on the way to `target` that another uid cannot traverse (no o+x). */
export function untraversable(target: string): string[] {
  const out: string[] = [];
  for (let dir = path.dirname(path.resolve(target)); ; dir = path.dirname(dir)) {
    try {
      if ((fs.statSync(dir).mode & 0o001) === 0) out.push(dir);
    } catch {
      out.push(dir);
    }
    if (dir === path.dirname(dir)) break;
  }
  return out;
}
