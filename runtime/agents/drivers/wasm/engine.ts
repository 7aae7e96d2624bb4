/**
 * The engine seam (DESIGN §4): compile, instantiate, call, interrupt and memory stats, on Node's
 * V8 WebAssembly. Where each part lives, so a wasmtime binding could fill it later:
 * - compile: here, on the daemon's thread, cached per sha256 of the module's bytes; a compiled
 *   `WebAssembly.Module` crosses into cells by postMessage without recompiling;
 * - instantiate, call and memory stats: in the cell (cell/guest.ts), against a host-created
 *   `env.memory` whose maximum the host chose;
 * - interrupt: the watchdog terminates the cell's thread (cell-pool.ts); V8 has no cheaper
 *   per-instance interrupt that holds (DESIGN §4 measured `vm` timeouts at ≈ 94 µs a call).
 */
import crypto from 'node:crypto';
import type { WasmInfo } from './binary';

export interface CompiledModule {
  sha256: string;
  module: WebAssembly.Module;
  /** what the binary reader found when the module was first checked */
  info: WasmInfo;
}

interface Entry {
  info: WasmInfo;
  module: Promise<WebAssembly.Module>;
}

/**
 * Compiled modules by content hash; an LRU of `max` entries (restarts and new instances hit it).
 * `check` runs once per content hash, before compiling: the full ABI check and validation
 * (≈ 150 µs for a 23 KB agent) are not repeated for bytes that already passed them.
 */
export class ModuleCache {
  private readonly entries = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  constructor(private readonly max = 64) {}

  async get(bytes: Uint8Array, check: () => WasmInfo): Promise<CompiledModule> {
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    let e = this.entries.get(sha256);
    if (e) {
      this.hits++;
      this.entries.delete(sha256);
    } else {
      this.misses++;
      e = { info: check(), module: WebAssembly.compile(bytes) };
      // A module that fails to compile is not cached.
      e.module.catch(() => this.entries.delete(sha256));
    }
    this.entries.set(sha256, e);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return { sha256, module: await e.module, info: e.info };
  }

  get size(): number {
    return this.entries.size;
  }
}
