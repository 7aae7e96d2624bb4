/**
 * The wasm driver with real cells, below the supervisor: hostile host-function arguments, traps
 * and aborts, KILL mid-call with a cell-mate's messages replayed, snapshots kept for restarts,
 * signals, isolation and the compile cache.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { REPO, waitFor } from '../../../../../helpers/tmp';
import { ECHO_BODY, wasmAgent } from '../../../../../helpers/wasm';
import { EMITS, event, newDriver, run } from './harness';

describe('wasm driver', () => {
  it('answers hostile host-function arguments with negative results, never a crash', async () => {
    const folder = await wasmAgent({
      id: 'whostile',
      body: `
        (func (export "init")
          ;; pointers past the end of memory, lengths of 2 GB, a negative pointer
          (call $log (i32.const 1) (i32.const 65530) (i32.const 100))
          (call $log (i32.const 1) (i32.const 65000) (i32.const 0x7fffffff))
          (call $log (i32.const 1) (i32.const -8) (i32.const 4))
          (if (i32.ne (call $emit (i32.const 65530) (i32.const 100) (i32.const 0) (i32.const 0)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $hal_read (i32.const 0) (i32.const 0x7fffffff) (i32.const 0)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $snapshot_set (i32.const 0) (i32.const 0x10000000)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $timer_set (i32.const 0) (i32.const 0) (i32.const 100) (i32.const 1)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $fd_write (i32.const 1) (i32.const 65535) (i32.const 1) (i32.const 0)) (i32.const 21)) (then unreachable))
          (if (i32.ne (call $fd_write (i32.const 9) (i32.const 0) (i32.const 0) (i32.const 0)) (i32.const 8)) (then unreachable))
          (call $log (i32.const 1) (i32.const 16) (i32.const 8)))
        (data (i32.const 16) "survived")
        (func (export "on_event") (param i32 i32))`,
    });
    const r = await run(newDriver(), folder);
    await waitFor('log', () => r.logs.includes('survived'));
    expect(r.logs).toEqual(['survived']);
  });

  it('copies out the trigger (ABI v2) only into memory the guest owns, and answers 0 without one', async () => {
    const folder = await wasmAgent({
      id: 'wtrigger',
      imports: '(import "openstarry" "trigger" (func $trigger (param i32 i32) (result i32)))',
      body: `
        (global $n (mut i32) (i32.const 0))
        (func (export "init")
          (global.set $n (call $trigger (i32.const 0) (i32.const 0)))
          (if (i32.eqz (global.get $n)) (then (call $log (i32.const 1) (i32.const 16) (i32.const 4)) (return)))
          ;; too small a buffer: nothing written, the length needed
          (if (i32.ne (call $trigger (i32.const 2048) (i32.const 3)) (global.get $n)) (then unreachable))
          (if (i32.ne (i32.load8_u (i32.const 2048)) (i32.const 0)) (then unreachable))
          ;; past the end of memory, and a negative pointer
          (if (i32.ne (call $trigger (i32.const 65530) (global.get $n)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $trigger (i32.const -8) (i32.const 0x7fffffff)) (i32.const -1)) (then unreachable))
          (if (i32.ne (call $trigger (i32.const 2048) (global.get $n)) (global.get $n)) (then unreachable))
          (call $log (i32.const 1) (i32.const 2048) (global.get $n)))
        (data (i32.const 16) "none")
        (func (export "on_event") (param i32 i32))`,
    });
    const d = newDriver();
    const trigger = { v: 1 as const, id: 'e-1', type: 'git:commit_pushed', source: 'hook:github', time: new Date(0).toISOString(), data: { branch: 'main', note: 'ünïcode' }, depth: 0 };
    const woken = await run(d, folder, undefined, { trigger });
    await waitFor('trigger log', () => woken.logs.length > 0);
    expect(JSON.parse(woken.logs[0] ?? '')).toEqual(trigger);
    const plain = await run(d, folder);
    await waitFor('none log', () => plain.logs.length > 0);
    expect(plain.logs).toEqual(['none']);
  });

  it('ends a guest whose alloc points outside its memory, and reports aborts with their message', async () => {
    const d = newDriver();
    const bad = await wasmAgent({ id: 'wbadalloc', alloc: '(func (export "alloc") (param i32) (result i32) i32.const 0x7fffff00)', body: `(func (export "init")) (func (export "on_event") (param i32 i32))` });
    const r = await run(d, bad);
    r.agent.channel.send(event('x:y'));
    expect((await r.agent.exited).reason).toMatch(/^trap: the agent's alloc returned memory outside its memory/);

    const abort = await wasmAgent({
      id: 'wabort',
      imports: '(import "env" "abort" (func $abort (param i32 i32 i32 i32)))',
      // an AssemblyScript string: byte length in the word before the characters (UTF-16)
      body: `(data (i32.const 60) "\\08\\00\\00\\00b\\00o\\00o\\00m\\00") (data (i32.const 92) "\\04\\00\\00\\00a\\00s\\00")
        (func (export "init")) (func (export "on_event") (param i32 i32) (call $abort (i32.const 64) (i32.const 96) (i32.const 7) (i32.const 3)))`,
    });
    const a = await run(d, abort);
    a.agent.channel.send(event('x:y'));
    expect(await a.agent.exited).toEqual({ code: 1, signal: null, reason: 'abort: boom at as:7:3' });
  });

  it('KILL while a guest is mid-call restarts its cell; the cell-mate gets the messages the old cell had not processed', async () => {
    const d = newDriver();
    const spin = await wasmAgent({ id: 'wspin2', body: `(func (export "init")) (func (export "on_event") (param i32 i32) (loop $l (br $l)))`, manifest: { limits: { callTimeoutMs: 60_000 } } });
    const echo = await wasmAgent({ id: 'wecho2', body: ECHO_BODY, manifest: EMITS });
    const mate = await run(d, echo);
    const spinner = await run(d, spin);
    expect(d.stats().cells).toBe(1);
    spinner.agent.channel.send(event('go:spin'));
    await waitFor('spinning', () => d.inCall(spinner.instance));
    // the cell is busy: these wait in its queue
    for (let i = 0; i < 5; i++) mate.agent.channel.send(event('x:queued', { i }));
    expect(spinner.agent.signal('SIGKILL')).toBe(true);
    expect(await spinner.agent.exited).toEqual({ code: null, signal: 'SIGKILL' });
    await waitFor('replayed', () => mate.emits.length === 5);
    expect(mate.emits.map((e) => (e.data as { data: { i: number } }).data.i)).toEqual([0, 1, 2, 3, 4]);
    expect(mate.out.join('\n')).toContain('cell restarted because instance');
    expect(d.stats().restarts).toBe(1);
  });

  it('answers agent.snapshot from the pushed snapshot and restores it when the same instance starts again', async () => {
    const d = newDriver();
    const folder = await wasmAgent({
      id: 'wsnap',
      body: `
        (global $restored (mut i32) (i32.const 0))
        (data (i32.const 16) "{\\"n\\":41}") (data (i32.const 32) "restored")
        (func (export "init") (drop (call $snapshot_set (i32.const 16) (i32.const 8))))
        (func (export "restore") (param $p i32) (param $l i32) (call $log (i32.const 1) (i32.const 32) (i32.const 8)) (call $log (i32.const 1) (local.get $p) (local.get $l)))
        (func (export "on_event") (param i32 i32) (call $proc_exit (i32.const 0)))`,
    });
    const first = await run(d, folder, 'wsnap-1');
    await waitFor('snapshot pushed', async () => JSON.stringify(await first.peer.call('agent.snapshot', undefined, 1000)) === '{"n":41}');
    first.agent.channel.send(event('x:end'));
    expect(await first.agent.exited).toEqual({ code: 0, signal: null });
    const again = await run(d, folder, 'wsnap-1');
    await waitFor('restored', () => again.logs.length === 2);
    expect(again.logs).toEqual(['restored', '{"n":41}']);
  });

  it('delivers HUP as an event, refuses STOP, ends on TERM with code 0, and reports call time and memory', async () => {
    const d = newDriver();
    const r = await run(d, await wasmAgent({ id: 'wsig', body: ECHO_BODY, manifest: EMITS }));
    expect(r.agent.signal('SIGHUP')).toBe(true);
    await waitFor('signal event', () => r.emits.some((e) => (e.data as { type?: string }).type === 'signal:hup'));
    expect(r.agent.signal('SIGSTOP')).toBe(false);
    await waitFor('usage', () => r.agent.usage?.() !== undefined);
    expect(r.agent.usage?.()).toMatchObject({ rssBytes: 65536 });
    expect(r.agent.signal('SIGTERM')).toBe(true);
    expect(await r.agent.exited).toEqual({ code: 0, signal: null });
    expect(r.agent.signal('SIGKILL')).toBe(false);
  });

  it('gives dedicated agents a cell of their own and compiles a module once', async () => {
    const d = newDriver();
    const shared = await wasmAgent({ id: 'wsh', body: ECHO_BODY });
    const dedicated = await wasmAgent({ id: 'wded', body: ECHO_BODY, manifest: { runtime: { module: 'agent.wasm', isolation: 'dedicated' } } });
    await run(d, shared);
    await run(d, shared);
    await run(d, dedicated);
    await run(d, dedicated);
    // the same bytes: one compiled module for both agents
    expect(d.stats()).toMatchObject({ cells: 3, guests: 4, modules: 1 });
    expect(d.cache.hits).toBe(3);
  });

  it('refuses a module that changed into something outside the ABI after install', async () => {
    const d = newDriver();
    const folder = await wasmAgent({ id: 'wswap', body: ECHO_BODY });
    fs.writeFileSync(path.join(folder, 'agent.wasm'), Buffer.from('\0asm\x01\0\0\0garbage'));
    await expect(run(d, folder)).rejects.toMatchObject({ code: 'OSZ_E_WASM_REFUSED' });
  });

  it("the AssemblyScript SDK's JSON reader survives malformed and hostile text", async () => {
    const r = await run(newDriver(), path.join(REPO, 'test/fixtures/agents/wjson'));
    await waitFor('json cases', () => r.logs.includes('done'));
    expect(r.logs).toEqual([
      'type=hal:sensor.temperature value=21.5 unit=°C q=say "hi" t=1',
      'nested=[1,{"b":"}"}]',
      'missing=<null>',
      'notanumber=NaN',
      'unterminated=<null>',
      'truncated=<null>',
      'garbage=<null>',
      'empty=<null>',
      'notobject=<null>',
      'nocolon=<null>',
      'escapes=3',
      'deep=<null>',
      'long=7',
      'roundtrip={"s":"he said \\"\\\\\\n","n":1.5,"i":-3,"b":false,"nan":null}',
      'done',
    ]);
  });

  it('bounds the events waiting for a slow guest: the excess is dropped, counted and said in its log', async () => {
    const slow = await wasmAgent({
      id: 'wslow',
      body: `(func (export "init")) (func (export "on_event") (param i32 i32) (local $n i32)
        (loop $l (local.set $n (i32.add (local.get $n) (i32.const 1))) (br_if $l (i32.lt_u (local.get $n) (i32.const 2000000)))))`,
    });
    const r = await run(newDriver(), slow);
    for (let i = 0; i < 3000; i++) r.agent.channel.send(event('x:flood', { i }));
    const line = await waitFor('drop report', () => r.out.find((l) => l.includes('not keeping up')));
    expect(Number(/dropped (\d+) event/.exec(line)?.[1])).toBeGreaterThanOrEqual(1000);
    r.agent.signal('SIGKILL');
    await r.agent.exited;
  });

  it('keeps sending heartbeats for cell-mates while one guest is in a long call within its budget', async () => {
    const d = newDriver();
    const mate = await run(d, await wasmAgent({ id: 'wmate', body: ECHO_BODY }));
    const long = await run(d, await wasmAgent({
      id: 'wlong',
      body: `(func (export "init")) (func (export "on_event") (param i32 i32) (loop $l (br $l)))`,
      manifest: { limits: { callTimeoutMs: 30_000 } },
    }));
    await waitFor('mate ready', () => mate.heartbeats > 0);
    long.agent.channel.send(event('x:work'));
    await waitFor('in its long call', () => d.inCall(long.instance));
    const before = mate.heartbeats;
    await new Promise((r) => setTimeout(r, 700));
    expect(mate.heartbeats - before).toBeGreaterThanOrEqual(2);
    // still mid-call: the KILL takes its cell down and the mate is re-hosted
    long.agent.signal('SIGKILL');
    await long.agent.exited;
    expect(d.stats().restarts).toBe(1);
  });
});
