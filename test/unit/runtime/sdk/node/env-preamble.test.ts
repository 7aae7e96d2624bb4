import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readEnvPreamble } from '../../../../../runtime/sdk/node/env-preamble';

/** what the protocol reader gets after the preamble: every byte after the first newline, in order */
async function rest(s: PassThrough): Promise<string> {
  let text = '';
  s.on('data', (c: Buffer) => (text += c.toString()));
  s.resume();
  await new Promise<void>((r) => setImmediate(r));
  return text;
}

describe('readEnvPreamble', () => {
  it('reads the env line split over chunks and hands back what follows, in order', async () => {
    const s = new PassThrough();
    const p = readEnvPreamble(s);
    s.write('{"env":{"A":"1",');
    s.write('"B":"two"}}\n{"jsonrpc":"2.0"');
    s.write(',"id":1}\n');
    expect(await p).toEqual({ A: '1', B: 'two' });
    expect(await rest(s)).toBe('{"jsonrpc":"2.0","id":1}\n');
  });

  it('refuses a first line that is not {"env": {…}} of strings', async () => {
    for (const bad of ['[1]\n', '{"env":[]}\n', '{"env":{"A":1}}\n', 'not json\n', '{}\n']) {
      const s = new PassThrough();
      const p = readEnvPreamble(s);
      s.write(bad);
      await expect(p, bad).rejects.toThrow();
    }
  });

  it('refuses an endless line instead of buffering it', async () => {
    const s = new PassThrough();
    const p = readEnvPreamble(s);
    const chunk = Buffer.alloc(64 * 1024, 0x61);
    for (let i = 0; i < 17; i++) s.write(chunk);
    await expect(p).rejects.toThrow(/over 1048576 bytes/);
  });

  it('fails when the channel closes first', async () => {
    const s = new PassThrough();
    const p = readEnvPreamble(s);
    s.write('{"env":');
    s.destroy();
    await expect(p).rejects.toThrow(/closed before/);
  });
});
