/**
 * One WASM agent instance inside a cell: its linear memory (created here, with the host's
 * maximum), its ABI v1 host functions, and the agent protocol it speaks on its behalf. Every
 * call into the guest goes through `invoke`, which marks the watchdog slot and turns a trap,
 * an abort or `proc_exit` into the instance's exit; nothing a guest does throws past it.
 *
 * What a guest's host calls post to the daemon's main thread is bounded (issue 16): log lines and
 * requests by the rate buckets, `tokens` and `snapshot_set` coalesced (posted when the call ends,
 * or at most every COALESCE_MS during a long one), the host's own notes at most one a second past
 * the first 20. A guest looping on any host function costs its cell, not the daemon.
 */
import crypto from 'node:crypto';
import type { MirrorReader } from '../../../../../hal/mirror';
import type { AddGuest, FromCell } from '../protocol';
import { GuestMemory, GuestMemoryError } from './guest-memory';
import { type HostContext, hostFunctions, type Pending } from './host-functions';
import { RateBucket } from './rate';
import { ProcExit, wasiImports } from './wasi';

export interface CellContext {
  post(m: FromCell): void;
  mirror: MirrorReader | null;
  /** marks the start of a call in the watchdog slot */
  enter(slot: number, budgetMs: number): void;
  /** clears the slot; returns the call's duration in ms */
  leave(): number;
  now(): number;
  /** the guest is gone from the cell; `bytes` is the linear memory it had, now garbage */
  removed(id: string, bytes: number): void;
}

interface Exports {
  alloc(len: number): number;
  init(): void;
  on_event(ptr: number, len: number): void;
  snapshot?: () => void;
  restore?: (ptr: number, len: number) => void;
  stop?: () => void;
}

class GuestAbort extends Error {}

const MAX_LINE = 16 * 1024;
/** during a long call, coalesced posts (tokens, snapshot) go out at most this often */
const COALESCE_MS = 200;
/** notes past the first 20 go out at most this often */
const NOTE_EVERY_MS = 1000;

export class Guest {
  readonly id: string;
  readonly slot: number;
  inited = false;
  dead = false;
  /** call time since the last usage report */
  cpuMs = 0;
  private exports!: Exports;
  private mem!: GuestMemory;
  private snapshotJson: string | null;
  private readonly pending = new Map<string, Pending>();
  private nextRequest = 1;
  private nextRpc = 1;
  private readonly logBucket: RateBucket;
  private readonly emitBucket: RateBucket;
  private readonly partial = { stdout: '', stderr: '' };
  private notes = 0;
  private lastNoteAt = -Infinity;
  private notesSkipped = 0;
  /** tokens reported and a snapshot pushed, not posted yet */
  private unpostedTokens = 0;
  private unpostedSnapshot: string | undefined;
  private lastCoalescedAt = -Infinity;

  constructor(
    private readonly spec: AddGuest,
    private readonly ctx: CellContext,
  ) {
    this.id = spec.i;
    this.slot = spec.slot;
    this.snapshotJson = spec.snapshot;
    this.logBucket = new RateBucket(spec.rates.logPerSecond, () => ctx.now());
    this.emitBucket = new RateBucket(spec.rates.emitPerSecond, () => ctx.now());
  }

  get memoryBytes(): number {
    // mem is unset when the memory could not be reserved
    return this.dead || (this.mem as GuestMemory | undefined) === undefined ? 0 : this.mem.byteLength;
  }

  /** Instantiates (running the module's start function under the watchdog), then says hello or resumes. */
  start(): void {
    let memory: WebAssembly.Memory;
    try {
      memory = new WebAssembly.Memory({ initial: this.spec.memory.initialPages, maximum: this.spec.memory.maximumPages });
    } catch (err) {
      this.exit(1, null, `could not reserve the agent's memory (${(err as Error).message}); on boards with a small address space run the daemon with wasm.trapHandler off (bin/openstarryd does)`);
      return;
    }
    this.mem = new GuestMemory(memory);
    const imports = { openstarry: hostFunctions(this.hostContext()), env: { memory, abort: this.abort, seed: () => crypto.randomBytes(6).readUIntBE(0, 6) }, wasi_snapshot_preview1: this.wasi() };
    const ok = this.invoke(() => {
      const instance = new WebAssembly.Instance(this.spec.module, imports);
      this.exports = instance.exports as unknown as Exports;
    });
    if (!ok) return;
    this.ctx.post({ c: 'added', i: this.id });
    if (!this.spec.resume) this.request('hello', { protocol: 1, instance: this.id, token: this.spec.token }, { kind: 'note', what: 'hello' }, 'h');
    // init runs at once, pipelined behind hello (the token came from the driver, so hello cannot
    // be refused); the host's agent.init is then answered without another call into the guest.
    this.initAndRestore();
  }

  /** A JSON-RPC object from the host side of the agent protocol. */
  receive(m: unknown): void {
    if (this.dead || m === null || typeof m !== 'object') return;
    const msg = m as { id?: string | number; method?: string; params?: Record<string, unknown>; result?: unknown; error?: { code?: unknown; message?: unknown; data?: { code?: unknown } } };
    if (msg.method === undefined) {
      this.onResponse(String(msg.id), msg.result, msg.error);
      return;
    }
    switch (msg.method) {
      case 'agent.init':
        this.respond(msg.id, { ok: true });
        return;
      case 'agent.event':
        if (this.inited) this.deliver(JSON.stringify(msg.params?.event ?? null));
        return;
      case 'agent.snapshot':
        if (this.exports.snapshot && !this.invoke(() => this.exports.snapshot?.())) return;
        this.respond(msg.id, this.snapshotJson === null ? null : (JSON.parse(this.snapshotJson) as unknown));
        return;
      case 'agent.stop':
        this.term();
        return;
      default:
        if (msg.id !== undefined) this.post({ jsonrpc: '2.0', id: msg.id, error: { code: -32601, message: `unknown method ${String(msg.method).slice(0, 64)}` } });
    }
  }

  /** TERM: `stop` when exported, then gone with code 0. */
  term(): void {
    if (this.dead) return;
    if (this.inited && this.exports.stop && !this.invoke(() => this.exports.stop?.())) return;
    this.exit(0, null);
  }

  exit(code: number | null, signal: string | null, reason?: string): void {
    if (this.dead) return;
    const bytes = this.memoryBytes;
    this.dead = true;
    for (const stream of ['stdout', 'stderr'] as const) if (this.partial[stream]) this.line(stream, this.partial[stream], true);
    this.postCoalesced();
    this.ctx.post({ c: 'exit', i: this.id, code, signal, ...(reason ? { reason } : {}) });
    this.ctx.removed(this.id, bytes);
  }

  /** Says how many log lines and events the rate limits dropped since the last call, if any. */
  reportDrops(): void {
    const logs = this.logBucket.drain();
    const emits = this.emitBucket.drain();
    if (logs + emits === 0 || this.dead) return;
    const r = this.spec.rates;
    this.ctx.post({ c: 'out', i: this.id, stream: 'stderr', line: `openstarryd: rate limit: dropped ${logs} log line(s) and ${emits} event(s) (limits: ${r.logPerSecond} lines/s, ${r.emitPerSecond} events/s)` });
  }

  private initAndRestore(): void {
    if (!this.invoke(() => this.exports.init())) return;
    const snap = this.snapshotJson;
    if (snap !== null && this.exports.restore) {
      const bytes = GuestMemory.encode(snap);
      if (!this.invoke(() => this.exports.restore?.(...this.place(bytes)))) return;
    }
    this.inited = true;
    // Now, not at the cell's next periodic report: a guest whose first call spins (within its
    // budget) would otherwise get no heartbeats and be stopped for silence before its timeout.
    this.ctx.post({ c: 'alive', i: [this.id] });
  }

  private deliver(json: string): void {
    const bytes = GuestMemory.encode(json);
    this.invoke(() => this.exports.on_event(...this.place(bytes)));
  }

  /** Copies bytes into guest memory through its `alloc`; a bad pointer is the guest's fault. */
  private place(bytes: Uint8Array): [number, number] {
    const ptr = this.exports.alloc(bytes.length);
    this.mem.write(ptr, bytes);
    return [ptr, bytes.length];
  }

  /** Runs one call into the guest under the watchdog; false when it ended the instance. */
  private invoke(fn: () => void): boolean {
    if (this.dead) return false;
    this.ctx.enter(this.slot, this.spec.callTimeoutMs);
    try {
      fn();
      return true;
    } catch (err) {
      this.onGuestError(err);
      return false;
    } finally {
      this.cpuMs += this.ctx.leave();
      this.postCoalesced();
    }
  }

  /** Posts what `tokens` and `snapshot_set` gathered: one message each, whatever the call count. */
  private postCoalesced(): void {
    this.lastCoalescedAt = this.ctx.now();
    if (this.unpostedTokens > 0) this.post({ jsonrpc: '2.0', method: 'tokens', params: { n: this.unpostedTokens } });
    this.unpostedTokens = 0;
    const json = this.unpostedSnapshot;
    this.unpostedSnapshot = undefined;
    if (json !== undefined) this.ctx.post({ c: 'snap', i: this.id, json });
  }

  /** Inside a long call: post now if the last coalesced post is old enough. */
  private maybePostCoalesced(): void {
    if (this.ctx.now() - this.lastCoalescedAt >= COALESCE_MS) this.postCoalesced();
  }

  private onGuestError(err: unknown): void {
    if (err instanceof ProcExit) this.exit(err.code, null);
    else if (err instanceof GuestAbort) this.exit(1, null, `abort: ${err.message}`);
    else if (err instanceof WebAssembly.RuntimeError) this.exit(1, null, `trap: ${err.message}`);
    else if (err instanceof RangeError && /call stack/i.test(err.message)) this.exit(1, null, 'trap: call stack exhausted');
    else if (err instanceof GuestMemoryError) this.exit(1, null, `trap: the agent's alloc returned memory outside its memory (${err.message})`);
    else if (err instanceof WebAssembly.LinkError || err instanceof WebAssembly.CompileError) this.exit(1, null, `link: ${err.message}`);
    else this.exit(1, null, `host error: ${err instanceof Error ? err.message : String(err)}`);
  }

  private readonly abort = (msg: number, file: number, line: number, col: number): never => {
    let text: string;
    try {
      text = `${this.mem.asString(msg)} at ${this.mem.asString(file)}:${line >>> 0}:${col >>> 0}`;
    } catch {
      text = `abort at line ${line >>> 0}`;
    }
    throw new GuestAbort(text);
  };

  private post(m: unknown): void {
    this.ctx.post({ c: 'msg', i: this.id, m });
  }

  private respond(id: string | number | undefined, result: unknown): void {
    if (id !== undefined) this.post({ jsonrpc: '2.0', id, result });
  }

  private request(method: string, params: unknown, pending: Pending, id = `r${this.nextRpc++}`): void {
    this.pending.set(id, pending);
    this.post({ jsonrpc: '2.0', id, method, params });
  }

  private onResponse(id: string, result: unknown, error: { code?: unknown; message?: unknown; data?: { code?: unknown } } | undefined): void {
    const p = this.pending.get(id);
    if (!p) return;
    this.pending.delete(id);
    const code = typeof error?.data?.code === 'string' ? error.data.code : error ? 'OSZ_E_INTERNAL' : undefined;
    const message = typeof error?.message === 'string' ? error.message.slice(0, 512) : undefined;
    if (p.kind === 'audit') return;
    if (p.kind === 'note') {
      if (error) this.note(`${p.what} failed: ${code}: ${message}`);
      return;
    }
    if (!this.inited) return;
    const data: Record<string, unknown> = { requestId: p.requestId, deviceId: p.deviceId, ok: !error };
    if (error) Object.assign(data, { code, message });
    else if (p.camera) Object.assign(data, result as Record<string, unknown>);
    else Object.assign(data, { state: (result as { state?: unknown } | null)?.state ?? null });
    this.deliver(JSON.stringify({ v: 1, id: crypto.randomUUID(), type: 'hal:result', source: 'hal', time: new Date().toISOString(), data, depth: 0 }));
  }

  /** A line from the host about this guest, in its log (the first 20, then at most one a second). */
  private note(text: string): void {
    this.notes++;
    const now = this.ctx.now();
    if (this.notes > 20 && now - this.lastNoteAt < NOTE_EVERY_MS) {
      this.notesSkipped++;
      return;
    }
    this.lastNoteAt = now;
    const skipped = this.notesSkipped > 0 ? ` (${this.notesSkipped} more such lines skipped)` : '';
    this.notesSkipped = 0;
    this.ctx.post({ c: 'out', i: this.id, stream: 'stderr', line: `openstarryd: ${text}${skipped}` });
  }

  private output(stream: 'stdout' | 'stderr', text: string): void {
    let buf = this.partial[stream] + text;
    let nl: number;
    while ((nl = buf.indexOf('\n')) >= 0) {
      this.line(stream, buf.slice(0, nl), false);
      buf = buf.slice(nl + 1);
    }
    while (buf.length > MAX_LINE) {
      this.line(stream, buf.slice(0, MAX_LINE), false);
      buf = buf.slice(MAX_LINE);
    }
    this.partial[stream] = buf;
  }

  private line(stream: 'stdout' | 'stderr', line: string, force: boolean): void {
    if (force || this.logBucket.take()) this.ctx.post({ c: 'out', i: this.id, stream, line });
  }

  /** What the ABI's host functions may touch of this guest. */
  private hostContext(): HostContext {
    return {
      grants: this.spec.grants,
      mirror: this.ctx.mirror,
      memory: () => this.mem,
      post: (m) => this.post(m),
      request: (method, params, pending) => this.request(method, params, pending),
      note: (text) => this.note(text),
      logBucket: this.logBucket,
      emitBucket: this.emitBucket,
      pendingCount: () => this.pending.size,
      nextRequestId: () => {
        const id = this.nextRequest++;
        if (this.nextRequest > 0x7fffffff) this.nextRequest = 1;
        return id;
      },
      trigger: this.spec.trigger === null ? null : GuestMemory.encode(this.spec.trigger),
      setSnapshot: (json) => {
        this.snapshotJson = json;
        this.unpostedSnapshot = json;
        this.maybePostCoalesced();
      },
      tokens: (n) => {
        this.unpostedTokens = Math.min(Number.MAX_SAFE_INTEGER, this.unpostedTokens + n);
        this.maybePostCoalesced();
      },
    };
  }

  private wasi(): Record<string, (...args: never[]) => unknown> {
    const s = this.spec;
    return wasiImports({
      memory: () => this.mem,
      args: s.args,
      env: s.env,
      preopens: s.preopens,
      maxFileBytes: s.maxFileBytes,
      output: (stream, text) => this.output(stream, text),
    });
  }
}
