import fs from 'node:fs';
import path from 'node:path';
import wabtInit from 'wabt';
import { beforeAll, describe, expect, it } from 'vitest';
import { checkModule } from '../../../../../../runtime/agents/drivers/wasm/abi';
import { readWasm } from '../../../../../../runtime/agents/drivers/wasm/binary';
import { Installer } from '../../../../../../runtime/agents/install';
import { OszError } from '../../../../../../runtime/errors';
import { memoryLogger } from '../../../../../../runtime/log';
import { createStore } from '../../../../../../runtime/store/store';
import { tmpDir } from '../../../../../helpers/tmp';

let wat: (text: string) => Uint8Array;
beforeAll(async () => {
  const wabt = await wabtInit();
  wat = (text) => new Uint8Array(wabt.parseWat('t.wat', text, { memory64: true, threads: true }).toBinary({}).buffer);
});

const agent = (imports: string, exports = '(func (export "alloc") (param i32) (result i32) i32.const 0) (func (export "init")) (func (export "on_event") (param i32 i32))') => `(module ${imports} ${exports})`;
const MEM = '(import "env" "memory" (memory 1 16))';

function refusal(bytes: Uint8Array, cap = 16): string {
  try {
    checkModule(bytes, cap, 'agent.wasm');
  } catch (err) {
    expect(err).toBeInstanceOf(OszError);
    expect((err as OszError).code).toBe('OSZ_E_WASM_REFUSED');
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

describe('wasm binary reader', () => {
  it('reads imports with memory limits and exports', () => {
    const info = readWasm(wat(agent(`${MEM} (import "openstarry" "log" (func (param i32 i32 i32))) (import "env" "abort" (func (param i32 i32 i32 i32)))`)));
    expect(info.imports).toEqual([
      { module: 'env', name: 'memory', kind: 'memory', limits: { min: 1, max: 16, shared: false, memory64: false } },
      { module: 'openstarry', name: 'log', kind: 'func' },
      { module: 'env', name: 'abort', kind: 'func' },
    ]);
    expect(info.exports.map((e) => e.name)).toEqual(['alloc', 'init', 'on_event']);
  });
});

describe('ABI v1 check', () => {
  it('accepts an ABI v1 agent and clamps its memory maximum to the cap', () => {
    const ok = checkModule(wat(agent(`(import "env" "memory" (memory 2 65536)) (import "openstarry" "hal_read" (func (param i32 i32) (result f64)))`)), 4, 'a.wasm');
    expect(ok.memory).toEqual({ initialPages: 2, maximumPages: 64 });
  });

  it('refuses imports outside the ABI, naming them', () => {
    expect(refusal(wat(agent(`${MEM} (import "env" "fd_open" (func))`)))).toContain('"env.fd_open"');
    expect(refusal(wat(agent(`${MEM} (import "wasi_snapshot_preview1" "sock_accept" (func))`)))).toContain('"wasi_snapshot_preview1.sock_accept"');
    expect(refusal(wat(agent(`${MEM} (import "openstarry" "spawn_shell" (func))`)))).toContain('openstarry.spawn_shell');
    expect(refusal(wat(agent(`${MEM} (import "openstarry" "log" (global i32))`)))).toContain('global "openstarry.log"');
  });

  it('refuses memories without a maximum, over the cap, shared, 64-bit, or defined by the module', () => {
    expect(refusal(wat(agent('(import "env" "memory" (memory 1))')))).toContain('no maximum');
    expect(refusal(wat(agent('(import "env" "memory" (memory 300 400))')), 16)).toContain('over limits.memoryMb 16');
    expect(refusal(wat(agent('(import "env" "memory" (memory 1 2 shared))')))).toContain('shared or 64-bit');
    expect(refusal(wat(agent('(import "env" "memory" (memory i64 1 2))')))).toContain('shared or 64-bit');
    expect(refusal(wat(agent('(memory 1 2)')))).toContain('defines its own memory');
    expect(refusal(wat(agent('')))).toContain('does not import env.memory');
  });

  it('requires alloc, init and on_event', () => {
    expect(refusal(wat(agent(MEM, '(func (export "init"))')))).toContain('"alloc"');
  });

  it('refuses malformed, truncated, oversized and non-core binaries', () => {
    const good = wat(agent(MEM));
    expect(refusal(new Uint8Array([1, 2, 3]))).toContain('shorter than its header');
    expect(refusal(Buffer.from('this is not wasm at all'))).toContain('bad magic');
    expect(refusal(good.subarray(0, good.length - 5))).toMatch(/truncated|past the end|does not validate/);
    const component = Uint8Array.from(good);
    component[4] = 0x0d;
    component[6] = 0x01;
    expect(refusal(component)).toContain('a component?');
    expect(refusal(new Uint8Array(50 * 1024 * 1024))).toContain('the limit is');
    const lying = Uint8Array.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0, 2, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    expect(refusal(lying)).toContain('past the end');
  });

  it('is enforced at agent add, before anything is copied', () => {
    const dir = path.join(tmpDir('osd-wasm-'), 'wasm-agent');
    fs.mkdirSync(dir);
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ identity: { id: 'blinker', name: 'Blinker' }, runtime: { module: 'blinker.wasm' }, limits: { memoryMb: 4 } }));
    fs.writeFileSync(path.join(dir, 'blinker.wasm'), wat(agent(`${MEM} (import "env" "system" (func))`)));
    const home = tmpDir('osd-wasm-home-');
    const store = createStore(path.join(home, 'db'), memoryLogger(), { keepEvents: 10 });
    const installer = new Installer(store, path.join(home, 'store'), { base: 61000, count: 10 });
    expect(() => installer.addAgent(dir)).toThrow(/blinker\.wasm: imports func "env\.system"/);
    fs.writeFileSync(path.join(dir, 'blinker.wasm'), wat(agent(MEM)));
    expect(installer.addAgent(dir).driver).toBe('wasm');
    store.close();
  });
});
