/**
 * Finds the daemon's control socket (DESIGN §12.5): --socket, OPENSTARRY_SOCKET, the socket of
 * --home (or OPENSTARRYD_HOME), /run/openstarry/control.sock, the root daemon's default home,
 * ~/.openstarry/run/control.sock — the first that exists wins, and a failure lists every path tried.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { controlSocketPath } from '../config/paths';
import { OszError } from '../errors';

export interface DiscoverOptions {
  socket?: string;
  home?: string;
  env: NodeJS.ProcessEnv;
  homedir?: string;
}

export function socketCandidates(o: DiscoverOptions): Array<{ path: string; from: string }> {
  const out: Array<{ path: string; from: string }> = [];
  if (o.socket) return [{ path: path.resolve(o.socket), from: '--socket' }];
  if (o.env.OPENSTARRY_SOCKET) return [{ path: path.resolve(o.env.OPENSTARRY_SOCKET), from: 'OPENSTARRY_SOCKET' }];
  const home = o.home ?? o.env.OPENSTARRYD_HOME;
  if (home) out.push({ path: controlSocketPath(path.resolve(home), undefined), from: o.home ? '--home' : 'OPENSTARRYD_HOME' });
  out.push({ path: '/run/openstarry/control.sock', from: 'system default' });
  out.push({ path: controlSocketPath('/var/lib/openstarry', undefined), from: 'root daemon default home' });
  out.push({ path: controlSocketPath(path.join(o.homedir ?? os.homedir(), '.openstarry'), undefined), from: 'user default home' });
  return out;
}

export function discoverSocket(o: DiscoverOptions): string {
  const candidates = socketCandidates(o);
  const found = candidates.find((c) => {
    try {
      return fs.statSync(c.path).isSocket();
    } catch {
      return false;
    }
  });
  if (found) return found.path;
  throw new OszError('OSZ_E_DAEMON_UNREACHABLE', `no daemon control socket found; tried:\n${candidates.map((c) => `  ${c.path} (${c.from})`).join('\n')}`, {
    tried: candidates.map((c) => c.path),
  });
}
