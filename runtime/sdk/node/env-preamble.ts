/**
 * The first line on a process agent's fd 3 (issue 16): `{"env": {NAME: value, …}}`, the agent's
 * environment. The process driver starts setpriv and node with a fixed environment (PATH, HOME,
 * LANG, TZ: names only the daemon sets), so nothing an agent declares is read by the dynamic
 * loader, glibc, OpenSSL or Node while they start — before the permission model exists. The runner
 * sets these names in `process.env` before it imports the agent's code; the rest of the stream is
 * the agent protocol, handed back unread.
 */
import type { Readable } from 'node:stream';

/** the daemon's channel cap (runtime/rpc/stream-channel.ts MAX_AGENT_LINE_BYTES) */
const MAX_PREAMBLE_BYTES = 1024 * 1024;

export function readEnvPreamble(sock: Readable): Promise<Record<string, string>> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (err: Error | undefined, env?: Record<string, string>): void => {
      sock.off('data', onData);
      sock.off('close', onClose);
      if (err) reject(err);
      else resolve(env ?? {});
    };
    const onClose = (): void => done(new Error('fd 3 closed before the environment arrived'));
    const onData = (c: Buffer): void => {
      const nl = c.indexOf(10);
      if (nl < 0) {
        chunks.push(c);
        size += c.length;
        if (size > MAX_PREAMBLE_BYTES) done(new Error(`the environment line on fd 3 is over ${MAX_PREAMBLE_BYTES} bytes`));
        return;
      }
      chunks.push(c.subarray(0, nl));
      // Hold the stream until the protocol reader is attached, and give it back what follows the line.
      sock.pause();
      const rest = c.subarray(nl + 1);
      if (rest.length > 0) sock.unshift(rest);
      try {
        done(undefined, parseEnv(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
      }
    };
    sock.on('data', onData);
    sock.once('close', onClose);
  });
}

function parseEnv(line: string): Record<string, string> {
  const v = JSON.parse(line) as { env?: unknown };
  const env = v?.env;
  if (env === null || typeof env !== 'object' || Array.isArray(env)) throw new Error('the first line on fd 3 must be {"env": {…}}');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(env)) {
    if (typeof val !== 'string') throw new Error(`env ${k} is not a string`);
    out[k] = val;
  }
  return out;
}
