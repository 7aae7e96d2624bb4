/** bin/openstarryd: which node flags it execs with, from env, config file and address space (DESIGN §12.16). */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, tmpDir } from '../../helpers/tmp';

/** Runs the launcher with a stand-in node that prints the flags it was given. */
function flags(args: string[], env: Record<string, string> = {}, ulimitV?: number): string[] {
  const dir = tmpDir('osd-launcher-');
  const fake = path.join(dir, 'node');
  fs.writeFileSync(fake, '#!/bin/sh\nfor a in "$@"; do case "$a" in --*) echo "$a";; esac; done\n', { mode: 0o755 });
  const launcher = path.join(REPO, 'bin/openstarryd');
  const cmd = ulimitV === undefined ? [launcher, ...args] : ['/bin/sh', '-c', `ulimit -v ${ulimitV} && exec "$0" "$@"`, launcher, ...args];
  const out = execFileSync(cmd[0] ?? launcher, cmd.slice(1), { encoding: 'utf8', env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, OPENSTARRY_NODE: fake, ...env } });
  return out.split('\n').filter((l) => l.startsWith('--'));
}

const arm64 = process.arch === 'arm64';

describe('bin/openstarryd', () => {
  it('passes --disable-wasm-trap-handler from the env, the config file, or auto under ulimit -v', () => {
    const home = tmpDir('osd-launcher-home-');
    expect(flags(['--home', home], { OPENSTARRYD_WASM__TRAP_HANDLER: 'off' })).toContain('--disable-wasm-trap-handler');
    expect(flags(['--home', home], { OPENSTARRYD_WASM__TRAP_HANDLER: 'on' })).not.toContain('--disable-wasm-trap-handler');
    fs.writeFileSync(path.join(home, 'openstarryd.yaml'), 'wasm:\n  cellSize: 8\n  trapHandler: "off"   # small address space\n');
    expect(flags(['--home', home])).toContain('--disable-wasm-trap-handler');
    const cfg = path.join(home, 'other.yaml');
    fs.writeFileSync(cfg, 'wasm:\n  trapHandler: on\n');
    expect(flags(['--home', home, '--config', cfg], {}, 512 * 1024 * 1024)).not.toContain('--disable-wasm-trap-handler');
    expect(flags([`--config=${cfg}`], { OPENSTARRYD_WASM__TRAP_HANDLER: 'off' })).toContain('--disable-wasm-trap-handler');
    const empty = tmpDir('osd-launcher-empty-');
    expect(flags(['--home', empty], {}, 512 * 1024 * 1024)).toContain('--disable-wasm-trap-handler');
    if (!arm64) expect(flags(['--home', empty])).not.toContain('--disable-wasm-trap-handler');
    expect(flags(['--home', empty])).toEqual(expect.arrayContaining(['--max-semi-space-size=1', '--v8-pool-size=2']));
  });
});
