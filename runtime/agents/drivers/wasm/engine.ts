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

export interface CompiledModule {
  sha256: string;
  module: WebAssembly.Module;
}

/** Compiled modules by content hash; an LRU of `max` entries (restarts and new instances hit it). */
export class ModuleCache {
  private readonly entries = new Map<string, Promise<WebAssembly.Module>>();
  hits = 0;
  misses = 0;

  constructor(private readonly max = 64) {}

  async get(bytes: Uint8Array): Promise<CompiledModule> {
    const sha256 = crypto.createHash('sha256').update(bytes).digest('hex');
    let p = this.entries.get(sha256);
    if (p) {
      this.hits++;
      this.entries.delete(sha256);
    } else {
      this.misses++;
      p = WebAssembly.compile(bytes);
      // A module that fails to compile is not cached.
      p.catch(() => this.entries.delete(sha256));
    }
    this.entries.set(sha256, p);
    while (this.entries.size > this.max) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
    return { sha256, module: await p };
  }

  get size(): number {
    return this.entries.size;
  }
}
