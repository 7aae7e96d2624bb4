/**
 * Debian's mosquitto for interop tests (DESIGN §11): on a Unix socket in a private folder, with a
 * password file and an ACL in which each device may write only its own subtree and read only its
 * own commands, and `ops` may command every device. Stops with the test file.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll } from 'vitest';
import { isRoot, waitFor } from './tmp';

export const ACL = `pattern write openstarry/v1/%u/status
pattern write openstarry/v1/%u/state/#
pattern write openstarry/v1/%u/evt/#
pattern write openstarry/v1/%u/tele/#
pattern write openstarry/v1/%u/pub/#
pattern write openstarry/v1/%u/cmd/res/#
pattern read openstarry/v1/%u/cmd/req/#
pattern read openstarry/collector/status

user ops
topic write openstarry/v1/+/cmd/req/#
topic read openstarry/v1/#
topic readwrite openstarry/collector/status
`;

export interface Mosquitto {
  url: string;
  socket: string;
  dir: string;
  /** stops the broker (its sessions and retained messages are gone: persistence is off) */
  stop(): Promise<void>;
  /** starts it again on the same socket */
  start(): Promise<void>;
}

/**
 * `users`: password users. `tls`: also a TLS listener on 127.0.0.1 that requires a client
 * certificate from `ca` and takes its CN as the username (so the same ACL applies); `url` is then
 * that listener's `mqtts://` address.
 */
export async function startMosquitto(users: Record<string, string>, tls?: { ca: string; cert: string; key: string; port: number }): Promise<Mosquitto> {
  // short: a Unix socket path is at most 107 bytes
  const dir = fs.mkdtempSync('/tmp/mq-');
  const pw = path.join(dir, 'pw');
  for (const [i, [user, pass]] of Object.entries(users).entries()) execFileSync('mosquitto_passwd', [...(i === 0 ? ['-c'] : []), '-b', pw, user, pass]);
  fs.writeFileSync(path.join(dir, 'acl'), ACL);
  const socket = path.join(dir, 's');
  const tlsListener = tls ? [`listener ${tls.port} 127.0.0.1`, `cafile ${tls.ca}`, `certfile ${tls.cert}`, `keyfile ${tls.key}`, 'require_certificate true', 'use_identity_as_username true'] : [];
  // per_listener_settings false: one password file and ACL for both listeners
  fs.writeFileSync(path.join(dir, 'conf'), [`listener 0 ${socket}`, ...tlsListener, 'allow_anonymous false', `password_file ${pw}`, `acl_file ${path.join(dir, 'acl')}`, 'persistence false', ...(isRoot ? ['user root'] : []), ''].join('\n'));
  let proc: ChildProcess | undefined;
  const start = async (): Promise<void> => {
    fs.rmSync(socket, { force: true });
    const p = spawn('mosquitto', ['-c', path.join(dir, 'conf')], { stdio: ['ignore', 'pipe', 'pipe'] });
    proc = p;
    let out = '';
    p.stderr?.on('data', (d: Buffer) => (out += String(d)));
    p.stdout?.on('data', (d: Buffer) => (out += String(d)));
    await waitFor('mosquitto listening', () => {
      if (p.exitCode !== null) throw new Error(`mosquitto exited: ${out}`);
      return fs.existsSync(socket);
    });
  };
  const stop = async (): Promise<void> => {
    const p = proc;
    proc = undefined;
    if (!p || p.exitCode !== null) return;
    const exited = new Promise((r) => p.once('exit', r));
    p.kill();
    await exited;
  };
  afterAll(async () => {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });
  await start();
  return { url: tls ? `mqtts://127.0.0.1:${tls.port}` : `unix://${socket}`, socket, dir, stop, start };
}
