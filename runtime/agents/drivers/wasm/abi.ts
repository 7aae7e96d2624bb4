/**
 * WASM ABI v2 (DESIGN §4, §12.10; docs/agent-abi.md): what a module may import and must export.
 * Checked at `agent add`, so a module that could reach anything outside the ABI is never
 * installed, and every refusal names the offending import or export. v2 is v1 plus the host
 * function `trigger` (issue 17): every v1 module is a v2 module.
 */
import { OszError } from '../../../errors';
import { readWasm, WasmFormatError, type WasmInfo } from './binary';

export const ABI_VERSION = 2;
export const MAX_MODULE_BYTES = 16 * 1024 * 1024;
const PAGE = 64 * 1024;

/** Host functions of module `openstarry`. */
export const OPENSTARRY_IMPORTS = ['log', 'emit', 'now_ms', 'hal_read', 'hal_actuate', 'camera_frame', 'timer_set', 'timer_clear', 'tokens', 'snapshot_set', 'trigger'] as const;
/** `env` imports AssemblyScript emits, plus the host-owned memory. */
export const ENV_IMPORTS = ['memory', 'abort', 'seed'] as const;
/** The WASI preview 1 calls our shim serves: clocks, random, fd 1/2, args/env, read-only files. */
export const WASI_IMPORTS = [
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get', 'clock_time_get', 'random_get',
  'fd_write', 'fd_read', 'fd_close', 'fd_seek', 'fd_fdstat_get', 'fd_filestat_get', 'fd_prestat_get', 'fd_prestat_dir_name',
  'path_open', 'path_filestat_get', 'proc_exit', 'sched_yield',
] as const;
export const REQUIRED_EXPORTS = ['alloc', 'init', 'on_event'] as const;
export const OPTIONAL_EXPORTS = ['snapshot', 'restore', 'stop'] as const;

export interface CheckedModule {
  info: WasmInfo;
  /** pages the host creates env.memory with, and its clamped maximum */
  memory: { initialPages: number; maximumPages: number };
}

/** Validates a module against the ABI and a memory cap in MB; throws OSZ_E_WASM_REFUSED naming the problem. */
export function checkModule(bytes: Uint8Array, memoryMb: number, source: string): CheckedModule {
  const refuse = (why: string, details: Record<string, unknown> = {}): never => {
    throw new OszError('OSZ_E_WASM_REFUSED', `${source}: ${why}`, { source, ...details });
  };
  if (bytes.length > MAX_MODULE_BYTES) refuse(`module is ${bytes.length} bytes; the limit is ${MAX_MODULE_BYTES}`);
  let info: WasmInfo;
  try {
    info = readWasm(bytes);
  } catch (err) {
    return refuse(err instanceof WasmFormatError ? err.message : 'unreadable module');
  }
  const checked = checkAbi(info, memoryMb, source);
  // Last, so the ABI refusals name what is wrong before the engine's generic "invalid".
  if (!WebAssembly.validate(bytes)) refuse('the module does not validate as WebAssembly');
  return checked;
}

/** The ABI and memory checks over what the binary reader found (a module already validated needs only these). */
export function checkAbi(info: WasmInfo, memoryMb: number, source: string): CheckedModule {
  const refuse = (why: string, details: Record<string, unknown> = {}): never => {
    throw new OszError('OSZ_E_WASM_REFUSED', `${source}: ${why}`, { source, ...details });
  };
  for (const imp of info.imports) {
    const allowed =
      (imp.module === 'openstarry' && imp.kind === 'func' && (OPENSTARRY_IMPORTS as readonly string[]).includes(imp.name)) ||
      (imp.module === 'env' && imp.name === 'memory' && imp.kind === 'memory') ||
      (imp.module === 'env' && imp.kind === 'func' && (imp.name === 'abort' || imp.name === 'seed')) ||
      (imp.module === 'wasi_snapshot_preview1' && imp.kind === 'func' && (WASI_IMPORTS as readonly string[]).includes(imp.name));
    if (!allowed) refuse(`imports ${imp.kind} "${imp.module}.${imp.name}", which is not part of ABI v${ABI_VERSION}`, { import: `${imp.module}.${imp.name}` });
  }
  if (info.memories.length > 0) refuse(`defines its own memory; ABI v${ABI_VERSION} modules import env.memory (AssemblyScript: --importMemory)`);
  const mem = info.imports.find((i) => i.kind === 'memory')?.limits;
  if (!mem) return refuse('does not import env.memory');
  if (mem.shared || mem.memory64) refuse(`imports a shared or 64-bit memory, which ABI v${ABI_VERSION} does not allow`);
  if (mem.max === undefined) refuse('memory declares no maximum; give one (AssemblyScript: --maximumMemory N)');
  const capPages = Math.floor((memoryMb * 1024 * 1024) / PAGE);
  if (mem.min > capPages) refuse(`memory starts at ${mem.min} pages (${(mem.min * PAGE) / 1048576} MB), over limits.memoryMb ${memoryMb}`, { pages: mem.min });
  for (const name of REQUIRED_EXPORTS) {
    if (!info.exports.some((e) => e.name === name && e.kind === 'func')) refuse(`does not export the function "${name}" that ABI v${ABI_VERSION} requires`, { export: name });
  }
  return { info, memory: { initialPages: mem.min, maximumPages: Math.min(mem.max ?? capPages, capPages) } };
}
