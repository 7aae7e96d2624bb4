/**
 * One WASM agent instance inside a cell: its linear memory (created here, with the host's
 * maximum), its ABI v1 host functions, and the agent protocol it speaks on its behalf. Every
 * call into the guest goes through `invoke`, which marks the watchdog slot and turns a trap,
 * an abort or `proc_exit` into the instance's exit; nothing a guest does throws past it.
 */
import crypto from 'node:crypto';
import type { MirrorReader } from '../../../../../hal/mirror';
import { EVENT_TYPE, MAX_EVENT_DATA_BYTES } from '../../../../bus/limits';
import { matchesAny } from '../../../../bus/pattern';
import { MAX_TIMER_MS, MIN_TIMER_MS, TIMER_NAME } from '../../../timers';
import { ABI_ERRORS, type AddGuest, type FromCell } from '../protocol';
import { GuestMemory, GuestMemoryError } from './guest-memory';
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
  /** the guest is gone from the cell */
  removed(id: string): void;
}

interface Exports {
  alloc(len: number): number;
  init(): void;
  on_event(ptr: number, len: number): void;
  snapshot?: () => void;
  restore?: (ptr: number, len: number) => void;
  stop?: () => void;
}

/** hal: answered to the guest as hal:result; note: a failure goes to its log; audit: only for the HAL's audit trail. */
type Pending = { kind: 'hal'; requestId: number; deviceId: string; camera: boolean } | { kind: 'note'; what: string } | { kind: 'audit' };

class GuestAbort extends Error {}

const MAX_LOG_BYTES = 16 * 1024;
const MAX_SNAPSHOT_BYTES = 64 * 1024;
const MAX_LINE = 16 * 1024;
const MAX_PENDING = 256;
const LEVELS = ['debug', 'info', 'warn', 'error'] as const;
const E = ABI_ERRORS;

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
    return this.dead ? 0 : this.mem.byteLength;
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
    const imports = { openstarry: this.hostFunctions(), env: { memory, abort: this.abort, seed: () => crypto.randomBytes(6).readUIntBE(0, 6) }, wasi_snapshot_preview1: this.wasi() };
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
    this.dead = true;
    for (const stream of ['stdout', 'stderr'] as const) if (this.partial[stream]) this.line(stream, this.partial[stream], true);
    this.ctx.post({ c: 'exit', i: this.id, code, signal, ...(reason ? { reason } : {}) });
    this.ctx.removed(this.id);
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
    }
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

  /** A line from the host about this guest, in its log (the first 20, then every 100th). */
  private note(text: string): void {
    this.notes++;
    if (this.notes <= 20 || this.notes % 100 === 0) this.ctx.post({ c: 'out', i: this.id, stream: 'stderr', line: `openstarryd: ${text}` });
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

  /** ABI v1 module `openstarry` (docs/agent-abi.md). Never throws: bad input is a negative result. */
  private hostFunctions(): Record<string, (...args: never[]) => unknown> {
    const g = this.spec.grants;
    const text = (ptr: number, len: number, max: number): string | undefined => {
      try {
        return len >>> 0 > max ? undefined : this.mem.text(ptr, len, max);
      } catch {
        return undefined;
      }
    };
    const halRequest = (method: 'hal.actuate' | 'hal.camera', deviceId: string, params: Record<string, unknown>): number => {
      if (this.pending.size >= MAX_PENDING || !this.emitBucket.take()) return E.OSZ_E_RATE_LIMITED;
      const requestId = this.nextRequest++;
      if (this.nextRequest > 0x7fffffff) this.nextRequest = 1;
      this.request(method, { deviceId, ...params }, { kind: 'hal', requestId, deviceId, camera: method === 'hal.camera' });
      return requestId;
    };
    return {
      log: (level: number, ptr: number, len: number): void => {
        const msg = text(ptr, Math.min(len >>> 0, MAX_LOG_BYTES), MAX_LOG_BYTES);
        if (msg === undefined || !this.logBucket.take()) return;
        this.post({ jsonrpc: '2.0', method: 'log', params: { level: LEVELS[level] ?? 'info', msg } });
      },
      emit: (typePtr: number, typeLen: number, dataPtr: number, dataLen: number): number => {
        const type = text(typePtr, typeLen, 200);
        if (type === undefined || !EVENT_TYPE.test(type)) return E.OSZ_E_INVALID_PARAMS;
        if (!matchesAny(g.emit, type)) {
          this.note(`emit "${type}" refused: add it to capabilities.events.emit`);
          return E.OSZ_E_FORBIDDEN;
        }
        const json = dataLen >>> 0 === 0 ? '{}' : text(dataPtr, dataLen, MAX_EVENT_DATA_BYTES);
        if (json === undefined) return E.OSZ_E_INVALID_PARAMS;
        let data: unknown;
        try {
          data = JSON.parse(json);
        } catch {
          return E.OSZ_E_INVALID_PARAMS;
        }
        if (data === null || typeof data !== 'object' || Array.isArray(data)) return E.OSZ_E_INVALID_PARAMS;
        if (!this.emitBucket.take()) return E.OSZ_E_RATE_LIMITED;
        this.request('bus.emit', { type, data }, { kind: 'note', what: `emit ${type}` });
        return 0;
      },
      now_ms: (): number => Date.now(),
      hal_read: (typePtr: number, typeLen: number, outPtr: number): number => {
        const type = text(typePtr, typeLen, 128);
        if (type === undefined) return E.OSZ_E_INVALID_PARAMS;
        const mirror = this.ctx.mirror;
        if (!mirror) return E.HAL_E_UNAVAILABLE;
        if (!mirror.has(type)) return E.HAL_E_UNKNOWN_DEVICE;
        if (!g.sensors.includes(type)) {
          this.note(`hal_read "${type}" denied: grant it in capabilities.hal.sensors`);
          return E.HAL_E_DENIED;
        }
        const r = mirror.read(type);
        if (!r) return E.HAL_E_BUSY;
        try {
          const dv = this.mem.checked(outPtr, 16);
          dv.setFloat64(outPtr >>> 0, r.value, true);
          dv.setFloat64((outPtr >>> 0) + 8, r.ts, true);
        } catch {
          return E.OSZ_E_INVALID_PARAMS;
        }
        return 0;
      },
      hal_actuate: (devPtr: number, devLen: number, cmdPtr: number, cmdLen: number): number => {
        const deviceId = text(devPtr, devLen, 128);
        const command = text(cmdPtr, cmdLen, 256);
        if (!deviceId || command === undefined) return E.OSZ_E_INVALID_PARAMS;
        // A denial still goes to the HAL, which audits it; the guest learns it at once.
        if (!g.actuators.includes(deviceId)) {
          if (this.pending.size < MAX_PENDING && this.emitBucket.take()) this.request('hal.actuate', { deviceId, command }, { kind: 'audit' });
          return E.HAL_E_DENIED;
        }
        return halRequest('hal.actuate', deviceId, { command });
      },
      camera_frame: (devPtr: number, devLen: number): number => {
        const deviceId = text(devPtr, devLen, 128);
        if (!deviceId) return E.OSZ_E_INVALID_PARAMS;
        if (!g.cameras.includes(deviceId)) return E.HAL_E_DENIED;
        return halRequest('hal.camera', deviceId, {});
      },
      timer_set: (namePtr: number, nameLen: number, ms: number, repeat: number): number => {
        const name = text(namePtr, nameLen, 64);
        if (name === undefined || !TIMER_NAME.test(name)) return E.OSZ_E_INVALID_PARAMS;
        if (ms < MIN_TIMER_MS || ms > MAX_TIMER_MS) return E.OSZ_E_TIMER_LIMIT;
        this.request('timer.set', { name, ms, repeat: repeat !== 0 }, { kind: 'note', what: `timer_set ${name}` });
        return 0;
      },
      timer_clear: (namePtr: number, nameLen: number): number => {
        const name = text(namePtr, nameLen, 64);
        if (name === undefined || !TIMER_NAME.test(name)) return E.OSZ_E_INVALID_PARAMS;
        this.request('timer.clear', { name }, { kind: 'note', what: `timer_clear ${name}` });
        return 0;
      },
      tokens: (n: number): void => {
        if (n > 0) this.post({ jsonrpc: '2.0', method: 'tokens', params: { n: n >>> 0 } });
      },
      snapshot_set: (ptr: number, len: number): number => {
        const json = text(ptr, len, MAX_SNAPSHOT_BYTES);
        if (json === undefined) return E.OSZ_E_INVALID_PARAMS;
        try {
          JSON.parse(json);
        } catch {
          return E.OSZ_E_INVALID_PARAMS;
        }
        this.snapshotJson = json;
        this.ctx.post({ c: 'snap', i: this.id, json });
        return 0;
      },
    };
  }
}
