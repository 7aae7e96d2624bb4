import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { readOrCreateToken, writeToken } from '../../../../runtime/control/token';
import { tmpDir } from '../../../helpers/tmp';

const umask = process.umask();
afterEach(() => void process.umask(umask));

const modeOf = (f: string): string => (fs.statSync(f).mode & 0o777).toString(8);

describe('control tokens on disk', () => {
  it('writes the per-boot token 0640 under umask 000', () => {
    process.umask(0);
    const file = path.join(tmpDir(), 'control.token');
    const t = writeToken(file);
    expect(modeOf(file)).toBe('640');
    expect(fs.readFileSync(file, 'utf8').trim()).toBe(t);
  });

  it('narrows an existing http.tokenFile readable by others, keeping its token', () => {
    const file = path.join(tmpDir(), 'http.token');
    fs.writeFileSync(file, 'an-operator-made-token-0123456789\n', { mode: 0o644 });
    fs.chmodSync(file, 0o664);
    expect(readOrCreateToken(file)).toBe('an-operator-made-token-0123456789');
    expect(modeOf(file)).toBe('640');
    process.umask(0);
    const fresh = path.join(tmpDir(), 'new.token');
    readOrCreateToken(fresh);
    expect(modeOf(fresh)).toBe('640');
  });
});
