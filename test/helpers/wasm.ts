/**
 * WebAssembly test agents written in text format (wabt): a prelude with the ABI imports and a
 * growing one-buffer `alloc`, and a helper that writes an agent folder (agent.json + agent.wasm).
 */
import fs from 'node:fs';
import path from 'node:path';
import wabtInit from 'wabt';
import { tmpDir } from './tmp';

let wabt: Awaited<ReturnType<typeof wabtInit>> | undefined;

export async function wat(text: string): Promise<Uint8Array> {
  wabt ??= await wabtInit();
  const mod = wabt.parseWat('agent.wat', text, { memory64: true, threads: true });
  try {
    return new Uint8Array(mod.toBinary({}).buffer);
  } finally {
    mod.destroy();
  }
}

/** Imports and `alloc` (one buffer at 1024, memory grown to fit); strings go below 1024. */
export function prelude(memory = '1 16', imports = '', alloc?: string): string {
  return `
  (import "env" "memory" (memory $m ${memory}))
  ${imports}
  (import "openstarry" "log" (func $log (param i32 i32 i32)))
  (import "openstarry" "emit" (func $emit (param i32 i32 i32 i32) (result i32)))
  (import "openstarry" "snapshot_set" (func $snapshot_set (param i32 i32) (result i32)))
  (import "openstarry" "timer_set" (func $timer_set (param i32 i32 i32 i32) (result i32)))
  (import "openstarry" "hal_read" (func $hal_read (param i32 i32 i32) (result i32)))
  (import "openstarry" "hal_actuate" (func $hal_actuate (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_write" (func $fd_write (param i32 i32 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "proc_exit" (func $proc_exit (param i32)))
  ${alloc ?? `(func (export "alloc") (param $len i32) (result i32)
    (block $ok (loop $grow
      (br_if $ok (i32.le_u (i32.add (i32.const 1024) (local.get $len)) (i32.mul (memory.size) (i32.const 65536))))
      (if (i32.eq (memory.grow (i32.const 1)) (i32.const -1)) (then unreachable))
      (br $grow)))
    (i32.const 1024))`}`;
}

/** An agent that logs every event it gets and emits it back as `wasm:echo`. */
export const ECHO_BODY = `
  (data (i32.const 16) "wasm:echo")
  (func (export "init"))
  (func (export "on_event") (param $p i32) (param $l i32)
    (call $log (i32.const 1) (local.get $p) (local.get $l))
    (drop (call $emit (i32.const 16) (i32.const 9) (local.get $p) (local.get $l))))`;

export interface WasmAgentOptions {
  id: string;
  body: string;
  memory?: string;
  /** extra imports (they must come before the prelude's functions) */
  imports?: string;
  /** replaces the prelude's alloc */
  alloc?: string;
  manifest?: Record<string, unknown>;
  files?: Record<string, string>;
}

/** Writes an agent folder with agent.wasm built from `prelude() + body`; returns its path. */
export async function wasmAgent(o: WasmAgentOptions): Promise<string> {
  const dir = path.join(tmpDir(`osd-wasm-${o.id}-`), o.id);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'agent.wasm'), await wat(`(module ${prelude(o.memory, o.imports, o.alloc)} ${o.body})`));
  const manifest = { identity: { id: o.id, name: o.id }, runtime: { module: 'agent.wasm' }, ...o.manifest };
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(manifest));
  for (const [name, text] of Object.entries(o.files ?? {})) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
