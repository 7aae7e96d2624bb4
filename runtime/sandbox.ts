/**
 * Decides how process and worker agents are confined on this host (docs/security.md): whether
 * they get their own uid through setpriv, and whether the folders they must read are reachable
 * under that uid.
 *
 * The decision follows from what the daemon can do, not from its uid: the systemd unit runs it
 * as the unprivileged `openstarry` user with ambient CAP_SETUID, CAP_SETGID, CAP_SETPCAP and
 * CAP_CHOWN, balena runs it as root in a container. Either way the plan is confirmed by a probe
 * at start: setpriv starts a program under an agent uid, and its /proc status must show that uid,
 * no groups, every capability set empty (bounding included) and no_new_privs. A syscall filter
 * that blocks capset, or a bounding set that cannot be dropped, fails the probe instead of
 * leaving agents with the daemon's capabilities.
 *
 * When agents cannot get their own uid, process and worker agents are refused, never silently
 * run as the daemon, unless `sandbox.shareUid` (a development switch; doctor fails on it) says so.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { OszError } from './errors';

/** Linux capability numbers (linux/capability.h) the daemon needs to hand agents their own uid. */
export const NEEDED_CAPS = { CAP_CHOWN: 0, CAP_KILL: 5, CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8 } as const;

export type SandboxMode = 'own-uid' | 'shared-uid' | 'refused';

export interface SandboxPlan {
  mode: SandboxMode;
  /** agents run under their own uid (the probe confirmed it) */
  separateUid: boolean;
  setprivPath: string | undefined;
  /** the daemon's own uid and effective capabilities, for doctor and status */
  daemon: { uid: number; caps: string[] };
  /** why agents do not get their own uid (empty when they do) */
  reason: string;
  warnings: string[];
}

export interface SandboxConfig {
  setpriv: 'auto' | 'on' | 'off';
  shareUid: boolean;
  /** a uid the probe runs as: the first one handed to agents */
  uidBase: number;
}

export interface SandboxHost {
  uid: number;
  /** CapEff of /proc/self/status, as a bigint */
  capEff: bigint;
  setprivPath: string | undefined;
  /** runs setpriv with these arguments and resolves with its stdout (the probe) */
  run(file: string, args: string[]): Promise<string>;
  /** chowns a scratch file to `uid` and back: the data-dir chown the daemon does at spawn */
  tryChown(uid: number): string | undefined;
}

const SETPRIV_CANDIDATES = ['/usr/bin/setpriv', '/bin/setpriv', '/usr/sbin/setpriv'];
const CAT_CANDIDATES = ['/usr/bin/cat', '/bin/cat'];

/** What the refusal says, wherever a process or worker agent is refused for want of a uid. */
export const NO_UID_FIX =
  'run the daemon as root, or as images/systemd/openstarryd.service does (User=openstarry with AmbientCapabilities=CAP_SETUID CAP_SETGID CAP_SETPCAP CAP_CHOWN CAP_KILL), with setpriv (util-linux) installed; use the wasm or docker driver; or, on a development machine only, set sandbox.shareUid: true';

export async function planSandbox(cfg: SandboxConfig, host: SandboxHost): Promise<SandboxPlan> {
  const daemon = { uid: host.uid, caps: capNames(host.capEff) };
  const warnings: string[] = [];
  const base = { setprivPath: host.setprivPath, daemon, warnings };
  const isRoot = host.uid === 0;
  if (cfg.setpriv === 'off') {
    if (!cfg.shareUid) throw new OszError('OSZ_E_CONFIG', 'sandbox.setpriv is "off": process and worker agents would run under the daemon\'s uid; that needs sandbox.shareUid: true (development only), or use "auto"', { key: 'sandbox.setpriv' });
    if (isRoot) throw new OszError('OSZ_E_CONFIG', 'sandbox.setpriv is "off" while the daemon runs as root: agents would run as root; use "auto"', { key: 'sandbox.setpriv' });
    warnings.push('sandbox.shareUid: process and worker agents run under the daemon\'s own uid (development only)');
    return { ...base, mode: 'shared-uid', separateUid: false, reason: 'sandbox.setpriv is "off"' };
  }
  const reason = await whyNoOwnUid(cfg, host);
  if (reason === undefined) return { ...base, mode: 'own-uid', separateUid: true, reason: '' };
  if (cfg.setpriv === 'on') throw new OszError('OSZ_E_CONFIG', `sandbox.setpriv is "on" but agents cannot get their own uid: ${reason}; ${NO_UID_FIX}`, { key: 'sandbox.setpriv' });
  if (cfg.shareUid && !isRoot) {
    warnings.push(`sandbox.shareUid: process and worker agents run under the daemon's own uid (development only): ${reason}`);
    return { ...base, mode: 'shared-uid', separateUid: false, reason };
  }
  warnings.push(`process and worker agents are refused: they cannot get their own uid (${reason}); ${NO_UID_FIX}`);
  return { ...base, mode: 'refused', separateUid: false, reason };
}

/** undefined when setpriv really gives an agent uid no groups and no capabilities; else why not. */
async function whyNoOwnUid(cfg: SandboxConfig, host: SandboxHost): Promise<string | undefined> {
  if (!host.setprivPath) return 'setpriv is missing (install util-linux)';
  if (host.uid !== 0) {
    const missing = Object.entries(NEEDED_CAPS)
      .filter(([, bit]) => (host.capEff & (1n << BigInt(bit))) === 0n)
      .map(([name]) => name);
    if (missing.length) return `the daemon (uid ${host.uid}) lacks ${missing.join(', ')}`;
  }
  const cat = CAT_CANDIDATES.find((p) => fs.existsSync(p)) ?? 'cat';
  let status: string;
  try {
    status = await host.run(host.setprivPath, [...agentPrivArgs(cfg.uidBase), cat, '/proc/self/status']);
  } catch (err) {
    return `setpriv could not start a program under uid ${cfg.uidBase}: ${firstLine((err as Error).message)}`;
  }
  const problem = statusProblem(status, cfg.uidBase);
  if (problem) return `setpriv left the agent ${problem}`;
  return host.tryChown(cfg.uidBase);
}

/** setpriv's options for an agent: its uid and gid, no groups, every capability set empty, no_new_privs. */
export function agentPrivArgs(uid: number): string[] {
  return [`--reuid=${uid}`, `--regid=${uid}`, '--clear-groups', '--inh-caps=-all', '--ambient-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

/** What is wrong with a /proc/<pid>/status of an agent that should run as `uid`, or undefined. */
export function statusProblem(status: string, uid: number): string | undefined {
  const field = (name: string): string => new RegExp(`^${name}:[ \\t]*(.*)$`, 'm').exec(status)?.[1]?.trim() ?? '';
  const ids = (name: string): number[] => field(name).split(/\s+/).filter(Boolean).map(Number);
  if (!ids('Uid').every((u) => u === uid) || ids('Uid').length !== 4) return `with uids ${field('Uid') || '?'} instead of ${uid}`;
  if (!ids('Gid').every((g) => g === uid) || ids('Gid').length !== 4) return `with gids ${field('Gid') || '?'} instead of ${uid}`;
  if (field('Groups') !== '') return `in groups ${field('Groups')}`;
  for (const set of ['CapInh', 'CapPrm', 'CapEff', 'CapBnd', 'CapAmb']) {
    const v = field(set);
    if (v === '' || BigInt(`0x${v}`) !== 0n) return `with capabilities (${set} ${v || '?'})`;
  }
  if (field('NoNewPrivs') !== '1') return 'without no_new_privs';
  return undefined;
}

export function capNames(caps: bigint): string[] {
  const known = Object.entries(NEEDED_CAPS);
  const out: string[] = [];
  for (let bit = 0; bit < 64; bit++) {
    if ((caps & (1n << BigInt(bit))) === 0n) continue;
    out.push(known.find(([, b]) => b === bit)?.[0] ?? `cap${bit}`);
  }
  return out;
}

/** The real host: this process's uid and capabilities, setpriv on disk, a scratch file in `scratchDir`. */
export function localSandboxHost(scratchDir: string): SandboxHost {
  const status = readSelfStatus();
  const cap = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return {
    uid: process.getuid?.() ?? -1,
    capEff: cap ? BigInt(`0x${cap}`) : 0n,
    setprivPath: SETPRIV_CANDIDATES.find((p) => fs.existsSync(p)),
    run: (file, args) =>
      new Promise((resolve, reject) => {
        execFile(file, args, { env: { PATH: '/usr/bin:/bin', LANG: 'C.UTF-8' }, timeout: 30_000, cwd: '/' }, (err, stdout, stderr) => {
          if (err) reject(new Error(`${String(stderr).trim() || err.message}`));
          else resolve(stdout);
        });
      }),
    tryChown(uid) {
      const probe = path.join(scratchDir, `.uid-probe-${process.pid}`);
      try {
        fs.mkdirSync(scratchDir, { recursive: true });
        fs.writeFileSync(probe, '', { mode: 0o600 });
        fs.chownSync(probe, uid, uid);
        return undefined;
      } catch (err) {
        // a read-only home (an SD card remounted after I/O errors): no data dir can be made or
        // handed over on it anyway, so there is nothing to probe; the setpriv probe above stands
        if ((err as NodeJS.ErrnoException).code === 'EROFS') return undefined;
        return `the daemon cannot hand an agent its data dir (chown: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}; it needs CAP_CHOWN and the chown syscalls)`;
      } finally {
        fs.rmSync(probe, { force: true });
      }
    },
  };
}

function readSelfStatus(): string {
  try {
    return fs.readFileSync('/proc/self/status', 'utf8');
  } catch {
    return '';
  }
}

const firstLine = (s: string): string => s.split('\n')[0] ?? s;

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
