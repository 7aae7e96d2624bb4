/** The WASI shim against a plain memory: what it serves, and everything it refuses. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { GuestMemory } from '../../../../../../runtime/agents/drivers/wasm/cell/guest-memory';
import { RateBucket } from '../../../../../../runtime/agents/drivers/wasm/cell/rate';
import { ERRNO, ProcExit, resolveInside, wasiImports } from '../../../../../../runtime/agents/drivers/wasm/cell/wasi';
import { tmpDir } from '../../../../../helpers/tmp';

type Fn = (...args: unknown[]) => number;

function setup(files: Record<string, string> = {}, maxFileBytes = 1024) {
  const root = tmpDir('osd-wasi-');
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
    fs.writeFileSync(path.join(root, name), text);
  }
  const memory = new WebAssembly.Memory({ initial: 1, maximum: 2 });
  const mem = new GuestMemory(memory);
  const out: string[] = [];
  const w = wasiImports({ memory: () => mem, args: ['agent', 'x'], env: { A: '1' }, preopens: [{ name: '.', dir: root }], maxFileBytes, output: (s, t) => out.push(`${s}:${t}`) }) as unknown as Record<string, Fn>;
  const put = (ptr: number, s: string): number => {
    const b = Buffer.from(s);
    mem.write(ptr, b);
    return b.length;
  };
  const dv = (): DataView => new DataView(memory.buffer);
  const open = (p: string, oflags = 0, rights = 2n, fdflags = 0): number => w.path_open?.(3, 0, 1000, put(1000, p), oflags, rights, 0n, fdflags, 2000) ?? -1;
  return { root, w, mem, out, put, dv, open, fn: (name: string) => w[name] as Fn };
}

describe('wasi shim', () => {
  it('serves args, environ, clocks, random and stdout/stderr', () => {
    const { fn, dv, mem, out, put } = setup();
    expect(fn('args_sizes_get')(0, 4)).toBe(0);
    expect([dv().getUint32(0, true), dv().getUint32(4, true)]).toEqual([2, 8]);
    expect(fn('args_get')(100, 200)).toBe(0);
    expect(Buffer.from(mem.view(200, 8)).toString()).toBe('agent\0x\0');
    expect(fn('environ_sizes_get')(0, 4)).toBe(0);
    expect(dv().getUint32(0, true)).toBe(1);
    expect(fn('clock_time_get')(0, 0n, 8)).toBe(0);
    expect(Number(dv().getBigUint64(8, true) / 1_000_000n)).toBeGreaterThan(Date.parse('2020-01-01'));
    expect(fn('clock_time_get')(9, 0n, 8)).toBe(ERRNO.INVAL);
    expect(fn('random_get')(300, 64)).toBe(0);
    expect(fn('random_get')(65500, 100)).toBe(ERRNO.FAULT);
    const n = put(400, 'hello\n');
    dv().setUint32(500, 400, true);
    dv().setUint32(504, n, true);
    expect(fn('fd_write')(1, 500, 1, 600)).toBe(0);
    expect(fn('fd_write')(2, 500, 1, 600)).toBe(0);
    expect(out).toEqual(['stdout:hello\n', 'stderr:hello\n']);
    expect(fn('fd_write')(0, 500, 1, 600)).toBe(ERRNO.BADF);
    expect(fn('fd_read')(0, 500, 1, 600)).toBe(0);
    expect(dv().getUint32(600, true)).toBe(0);
    expect(fn('sched_yield')()).toBe(0);
    expect(() => fn('proc_exit')(7)).toThrow(ProcExit);
  });

  it('names its preopen and reads files of the install copy, with seek and stat', () => {
    const { fn, dv, mem, open, root } = setup({ 'cfg/a.json': '{"x":1}' });
    expect(fn('fd_prestat_get')(3, 0)).toBe(0);
    expect(dv().getUint32(4, true)).toBe(1);
    expect(fn('fd_prestat_dir_name')(3, 8, 1)).toBe(0);
    expect(String.fromCharCode(dv().getUint8(8))).toBe('.');
    expect(fn('fd_prestat_get')(4, 0)).toBe(ERRNO.BADF);
    expect(open('cfg/a.json')).toBe(0);
    const fd = dv().getUint32(2000, true);
    dv().setUint32(500, 3000, true);
    dv().setUint32(504, 100, true);
    expect(fn('fd_read')(fd, 500, 1, 600)).toBe(0);
    expect(Buffer.from(mem.view(3000, dv().getUint32(600, true))).toString()).toBe('{"x":1}');
    expect(fn('fd_seek')(fd, 2n, 0, 700)).toBe(0);
    expect(fn('fd_seek')(fd, -10n, 0, 700)).toBe(ERRNO.INVAL);
    expect(fn('fd_filestat_get')(fd, 800)).toBe(0);
    expect(dv().getBigUint64(832, true)).toBe(7n);
    expect(fn('fd_write')(fd, 500, 1, 600)).toBe(ERRNO.BADF);
    expect(fn('fd_close')(fd)).toBe(0);
    expect(fn('fd_read')(fd, 500, 1, 600)).toBe(ERRNO.BADF);
    expect(fs.readFileSync(path.join(root, 'cfg/a.json'), 'utf8')).toBe('{"x":1}');
  });

  it('refuses writes, escapes, symlinks, special files, big files and too many open files', () => {
    const { open, root } = setup({ 'a.txt': 'a', 'big.bin': 'x'.repeat(2000) });
    fs.symlinkSync('/etc/passwd', path.join(root, 'link'));
    fs.mkdirSync(path.join(root, 'd'));
    fs.symlinkSync('/dev', path.join(root, 'd/dev'));
    execFileSync('mkfifo', [path.join(root, 'fifo')]);
    expect(open('a.txt', 1)).toBe(ERRNO.ROFS); // O_CREAT
    expect(open('a.txt', 8)).toBe(ERRNO.ROFS); // O_TRUNC
    expect(open('a.txt', 0, 64n)).toBe(ERRNO.ROFS); // fd_write right
    expect(open('a.txt', 0, 2n, 1)).toBe(ERRNO.ROFS); // APPEND
    expect(open('../etc/passwd')).toBe(ERRNO.NOTCAPABLE);
    expect(open('d/../../x')).toBe(ERRNO.NOTCAPABLE);
    expect(open('/etc/passwd')).toBe(ERRNO.NOTCAPABLE);
    expect(open('/dev/null')).toBe(ERRNO.NOTCAPABLE);
    expect(open('link')).toBe(ERRNO.LOOP);
    expect(open('d/dev/null')).toBe(ERRNO.LOOP);
    expect(open('fifo')).toBe(ERRNO.ACCES);
    expect(open('nope')).toBe(ERRNO.NOENT);
    expect(open('a.txt/x')).toBe(ERRNO.NOTDIR);
    expect(open('big.bin')).toBe(ERRNO.FBIG);
    expect(open('a\0b')).toBe(ERRNO.INVAL);
    let last = 0;
    for (let i = 0; i < 70 && last === 0; i++) last = open('a.txt');
    expect(last).toBe(ERRNO.MFILE);
  });

  it('resolves only inside the root, even from a folder opened inside it', () => {
    const root = tmpDir('osd-wasi-r-');
    fs.mkdirSync(path.join(root, 'sub'));
    fs.writeFileSync(path.join(root, 'sub/f'), 'f');
    expect(resolveInside(root, path.join(root, 'sub'), 'f').full).toBe(path.join(root, 'sub/f'));
    expect(() => resolveInside(root, path.join(root, 'sub'), '../sub/f')).toThrow();
    expect(resolveInside(root, root, './sub/./f').st.isFile()).toBe(true);
  });
});

describe('guest memory and rate buckets', () => {
  it('reads pointers as unsigned and refuses anything outside the memory', () => {
    const mem = new GuestMemory(new WebAssembly.Memory({ initial: 1, maximum: 1 }));
    expect(() => mem.view(-1, 4)).toThrow(/outside/);
    expect(() => mem.view(65530, 10)).toThrow(/outside/);
    expect(() => mem.view(0, 100, 10)).toThrow(/over 10/);
    expect(mem.view(65532, 4)).toHaveLength(4);
    expect(() => mem.asString(2)).toThrow(/header/);
    expect(mem.asString(0)).toBe('');
  });

  it('lets a burst of twice the rate through, then the rate, and counts drops', () => {
    let t = 0;
    const b = new RateBucket(10, () => t);
    let passed = 0;
    for (let i = 0; i < 100; i++) if (b.take()) passed++;
    expect(passed).toBe(20);
    expect(b.drain()).toBe(80);
    t += 1000;
    passed = 0;
    for (let i = 0; i < 100; i++) if (b.take()) passed++;
    expect(passed).toBe(10);
    expect(b.drain()).toBe(90);
    expect(b.drain()).toBe(0);
  });
});
