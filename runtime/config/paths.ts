/**
 * Where the daemon keeps things under its home, and the control socket's path rules
 * (DESIGN §12.5): Unix socket paths are limited to 107 bytes (sun_path is 108 with the NUL), so an
 * over-long derived path falls back to a short hashed name that the CLI derives the same way.
 */
import crypto from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { OszError } from '../errors';

export const MAX_SOCKET_PATH_BYTES = 107;

export interface HomePaths {
  home: string;
  db: string;
  securityDb: string;
  store: string;
  data: string;
  logs: string;
  run: string;
}

export function homePaths(home: string): HomePaths {
  return {
    home,
    db: path.join(home, 'openstarry.db'),
    securityDb: path.join(home, 'security.db'),
    store: path.join(home, 'store'),
    data: path.join(home, 'data'),
    logs: path.join(home, 'logs'),
    run: path.join(home, 'run'),
  };
}

/** The short fallback used when `<home>/run/control.sock` would exceed the limit. */
export function hashedSocketPath(home: string): string {
  const digest = crypto.createHash('sha256').update(home).digest('hex').slice(0, 12);
  return path.join(os.tmpdir(), `openstarry-${digest}`, 'control.sock');
}

/**
 * The control socket path: an explicit path must fit (it is an error otherwise); the default
 * `<home>/run/control.sock` falls back to the hashed name when it does not.
 */
export function controlSocketPath(home: string, explicit: string | undefined): string {
  if (explicit !== undefined) {
    const resolved = path.resolve(explicit);
    assertSocketPathFits(resolved);
    return resolved;
  }
  const preferred = path.join(home, 'run', 'control.sock');
  return fitsSocket(preferred) ? preferred : hashedSocketPath(home);
}

export function fitsSocket(p: string): boolean {
  return Buffer.byteLength(p) <= MAX_SOCKET_PATH_BYTES;
}

export function assertSocketPathFits(p: string): void {
  if (!fitsSocket(p)) {
    throw new OszError('OSZ_E_SOCKET_PATH', `socket path is ${Buffer.byteLength(p)} bytes, over the limit of ${MAX_SOCKET_PATH_BYTES}: ${p}`, {
      path: p,
    });
  }
}

/** The per-boot token lives beside the socket (DESIGN §12.16). */
export function tokenPathFor(socketPath: string): string {
  return path.join(path.dirname(socketPath), 'control.token');
}
