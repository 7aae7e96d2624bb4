/**
 * The per-boot control token (DESIGN §12.6, §12.16): written fresh at every start to
 * `control.token` beside the socket, mode 0640 in the daemon's group, and compared in constant
 * time. Agents never run in that group, so they cannot read it.
 */
import crypto from 'node:crypto';
import fs from 'node:fs';

export function writeToken(file: string): string {
  const token = crypto.randomBytes(32).toString('base64url');
  const tmp = `${file}.${process.pid}.tmp`;
  fs.rmSync(tmp, { force: true });
  fs.writeFileSync(tmp, token + '\n', { mode: 0o640, flag: 'wx' });
  fs.renameSync(tmp, file);
  return token;
}

export function readToken(file: string): string {
  return fs.readFileSync(file, 'utf8').trim();
}

export function tokensEqual(given: unknown, expected: string): boolean {
  if (typeof given !== 'string') return false;
  const a = crypto.createHash('sha256').update(given).digest();
  const b = crypto.createHash('sha256').update(expected).digest();
  return crypto.timingSafeEqual(a, b);
}

/** a token kept in its own file (`http.tokenFile`): read when it exists, else generated once (0640) */
export function readOrCreateToken(file: string): string {
  try {
    const t = readToken(file);
    if (t.length >= 16) {
      closeToOthers(file);
      return t;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return writeToken(file);
}

/** A token file left readable by others (an older daemon, a hand-made file) is narrowed to 0640 at most. */
function closeToOthers(file: string): void {
  const st = fs.statSync(file);
  if ((st.mode & 0o007) !== 0 && st.uid === process.getuid?.()) fs.chmodSync(file, st.mode & 0o750);
}
