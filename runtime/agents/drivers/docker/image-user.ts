/**
 * Who a container runs as (issue 16): never uid 0 and never gid 0, whichever way `runtime.user`
 * says it. `uid:gid` with both numeric and non-zero is safe from the text alone. Anything else
 * depends on the image: a name maps to a uid through its /etc/passwd (a user named "app" may be
 * uid 0), a group name through its /etc/group, and a user without a group gets the gid of its
 * passwd entry (0 when the uid has none) plus every group listing it as a member. So those are
 * resolved here exactly as the engine resolves them (moby/sys/user GetExecUser, which runc and
 * dockerd use), from the image's files read out of a created, never started container; a user
 * that cannot be resolved is refused, never guessed.
 */
import { OszError } from '../../../errors';

export interface ExecUser {
  uid: number;
  gid: number;
  /** supplementary groups the engine adds from /etc/group (only when no group was given) */
  groups: number[];
}

const NUMERIC = /^\d+$/;

function split(user: string): { user: string; group: string | undefined } {
  const i = user.indexOf(':');
  return i < 0 ? { user, group: undefined } : { user: user.slice(0, i), group: user.slice(i + 1) };
}

const isZero = (s: string): boolean => NUMERIC.test(s) && Number(s) === 0;

/** Root from the text alone: uid 0 or gid 0 however written (0, 000, root), in either half. */
export function isRootUser(user: string): boolean {
  const s = split(user);
  return isZero(s.user) || s.user === 'root' || (s.group !== undefined && (isZero(s.group) || s.group === 'root'));
}

/** Safe from the text alone: numeric uid and gid, both non-zero (no lookup, no supplementary groups). */
export function isPlainNumericUser(user: string): boolean {
  const s = split(user);
  return NUMERIC.test(s.user) && s.group !== undefined && NUMERIC.test(s.group) && !isRootUser(user);
}

interface Entry {
  name: string;
  id: number;
  /** passwd: the primary gid; group: unused */
  gid: number;
  members: string[];
}

function parse(file: string | undefined, kind: 'passwd' | 'group'): Entry[] {
  const out: Entry[] = [];
  for (const line of (file ?? '').split('\n')) {
    const f = line.trim().split(':');
    if (f.length < (kind === 'passwd' ? 4 : 3) || line.trim().startsWith('#')) continue;
    const id = Number(f[2]);
    if (!Number.isInteger(id) || id < 0) continue;
    out.push({ name: f[0] ?? '', id, gid: kind === 'passwd' ? Number(f[3]) : id, members: kind === 'group' ? (f[3] ?? '').split(',').filter(Boolean) : [] });
  }
  return out;
}

/**
 * The uid, gid and supplementary gids the engine runs `user` as in an image with these
 * /etc/passwd and /etc/group (undefined: the file is absent), or a refusal naming why.
 */
export function resolveExecUser(user: string, passwd: string | undefined, group: string | undefined): ExecUser | { error: string } {
  const s = split(user);
  if (s.user === '') return { error: 'an empty user name' };
  const numericUser = NUMERIC.test(s.user);
  const entry = parse(passwd, 'passwd').find((u) => (numericUser ? u.id === Number(s.user) : u.name === s.user));
  if (!entry && !numericUser) return { error: `user "${s.user}" is not in the image's /etc/passwd` };
  // the engine's default when the uid has no passwd entry is gid 0
  const out: ExecUser = { uid: entry ? entry.id : Number(s.user), gid: entry ? entry.gid : 0, groups: [] };
  const groups = parse(group, 'group');
  if (s.group !== undefined) {
    const numericGroup = NUMERIC.test(s.group);
    const g = groups.find((x) => (numericGroup ? x.id === Number(s.group) : x.name === s.group));
    if (!g && !numericGroup) return { error: `group "${s.group}" is not in the image's /etc/group` };
    out.gid = g ? g.id : Number(s.group);
  } else if (entry) {
    out.groups = groups.filter((g) => g.members.includes(entry.name)).map((g) => g.id);
  }
  return out;
}

/** Refuses a user that runs as uid 0, gid 0 or with group 0, naming what it resolved to. */
export function refuseRootExecUser(user: string, resolved: ExecUser | { error: string }, image: string): void {
  if ('error' in resolved) {
    throw new OszError('OSZ_E_DRIVER_REFUSED', `runtime.user "${user}" cannot be resolved in image ${image}: ${resolved.error}; give a numeric "uid:gid" (both non-zero)`, { user, image });
  }
  const root = resolved.uid === 0 ? 'uid 0' : resolved.gid === 0 ? 'gid 0' : resolved.groups.includes(0) ? 'supplementary group 0' : undefined;
  if (root) {
    throw new OszError('OSZ_E_DRIVER_REFUSED', `runtime.user "${user}" runs as ${root} in image ${image} (uid ${resolved.uid}, gid ${resolved.gid}${resolved.groups.length ? `, groups ${resolved.groups.join(',')}` : ''}); containers never run as root: give a numeric "uid:gid", both non-zero`, {
      user,
      image,
      ...resolved,
    });
  }
}

/** The one file of a `GET /containers/{id}/archive` tar stream (a regular file), or undefined. */
export function fileFromTar(tar: Buffer): string | undefined {
  if (tar.length < 512) return undefined;
  const type = String.fromCharCode(tar[156] ?? 0);
  if (type !== '0' && type !== '\0') return undefined;
  const size = parseInt(tar.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
  if (!Number.isFinite(size) || size < 0 || 512 + size > tar.length) return undefined;
  return tar.subarray(512, 512 + size).toString('utf8');
}
