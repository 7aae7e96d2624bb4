/**
 * Starts the daemon the way the shipped unit does (images/systemd/openstarryd.service, as the SD
 * image and the .deb install it): its User= and Group= with its SupplementaryGroups=, its
 * AmbientCapabilities= and CapabilityBoundingSet=, NoNewPrivileges=, UMask=, and its
 * SystemCallFilter= expanded by `systemd-analyze syscall-filter` and loaded through libseccomp
 * (Debian's python3-seccomp), with SystemCallErrorNumber= as the answer to anything else. The
 * settings are read from the unit file itself, so the tests and the unit cannot drift.
 *
 * Not reproduced: the unit's mount fences (ProtectSystem=, PrivateTmp=, DevicePolicy=, …). They
 * only take more away, so what the sandbox suites show here holds under them too.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describeWith, hasCommand, type Requirement } from './system';
import { REPO } from './tmp';
import { allowedSyscalls, readServiceSettings, type ServiceSettings } from './unit-file';

export const UNIT_FILE = path.join(REPO, 'images/systemd/openstarryd.service');
const SECCOMP_EXEC = path.join(REPO, 'test/helpers/seccomp-exec.py');
const PYTHON = '/usr/bin/python3';

export function shippedRequirements(): Requirement[] {
  let seccomp = true;
  try {
    execFileSync(PYTHON, ['-c', 'import seccomp'], { stdio: 'ignore' });
  } catch {
    seccomp = false;
  }
  return [
    { ok: process.getuid?.() === 0, how: 'run the tests as root (as CI does): the unit is reproduced with setpriv, which needs it' },
    hasCommand('setpriv', 'util-linux'),
    hasCommand('systemd-analyze', 'systemd'),
    { ok: seccomp, how: 'install it: apt-get install python3-seccomp (scripts/setup-system.sh installs everything the tests use)' },
  ];
}

export function unitSettings(): ServiceSettings {
  return readServiceSettings(UNIT_FILE);
}

/** The unit's user, group and supplementary groups, created as the .deb's sysusers would if missing. */
export function ensureAccounts(s: ServiceSettings): { uid: number; gid: number } {
  for (const g of [s.group, ...s.supplementaryGroups]) {
    if (!exists('group', g)) execFileSync('groupadd', ['--system', g]);
  }
  if (!exists('passwd', s.user)) execFileSync('useradd', ['--system', '--gid', s.group, '--no-create-home', '--home-dir', '/nonexistent', '--shell', '/usr/sbin/nologin', s.user]);
  const [uid, gid] = execFileSync('id', ['-u', s.user], { encoding: 'utf8' }).trim().split(' ').concat(execFileSync('id', ['-g', s.user], { encoding: 'utf8' }).trim()).map(Number);
  return { uid: uid ?? -1, gid: gid ?? -1 };
}

function exists(db: 'group' | 'passwd', name: string): boolean {
  try {
    execFileSync('getent', [db, name], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const capName = (c: string): string => c.toLowerCase().replace(/^cap_/, '');

/**
 * The command line that runs `argv` as the unit would: `sh` sets the umask, setpriv the user,
 * groups, capabilities and no_new_privs, seccomp-exec.py the syscall filter (last, as systemd
 * applies it right before exec). The allow-list is written into `dir`.
 */
export function shippedArgv(s: ServiceSettings, argv: readonly string[], dir: string): string[] {
  const allowFile = path.join(dir, 'syscalls.allow');
  fs.writeFileSync(allowFile, allowedSyscalls(s.syscallFilter).join('\n') + '\n');
  fs.chmodSync(allowFile, 0o644);
  const caps = s.ambientCaps.map(capName);
  const bounding = s.boundingCaps.map(capName);
  const capList = (list: string[]): string => ['-all', ...list.map((c) => `+${c}`)].join(',');
  return [
    '/bin/sh',
    '-c',
    `umask ${s.umask.toString(8).padStart(4, '0')} && exec "$@"`,
    'sh',
    'setpriv',
    `--reuid=${s.user}`,
    `--regid=${s.group}`,
    s.supplementaryGroups.length ? `--groups=${s.supplementaryGroups.join(',')}` : '--clear-groups',
    `--inh-caps=${capList(caps)}`,
    `--ambient-caps=${capList(caps)}`,
    `--bounding-set=${capList(bounding)}`,
    ...(s.noNewPrivileges ? ['--no-new-privs'] : []),
    '--',
    PYTHON,
    SECCOMP_EXEC,
    allowFile,
    s.syscallErrorNumber ?? 'EPERM',
    '--',
    ...argv,
  ];
}

/** The environment systemd gives the unit: its Environment= and the user's own names. */
export function shippedEnv(s: ServiceSettings): NodeJS.ProcessEnv {
  return { PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8', HOME: '/nonexistent', USER: s.user, LOGNAME: s.user, NODE_ENV: 'production' };
}

/** A suite that runs the daemon as shipped: skipped with the reason where it cannot, a failure under OPENSTARRY_REQUIRE_ALL=1. */
export function describeShipped(name: string, body: () => void, extra: Requirement[] = []): void {
  describeWith(`${name} (the daemon as the systemd unit runs it)`, [...shippedRequirements(), ...extra], body);
}
