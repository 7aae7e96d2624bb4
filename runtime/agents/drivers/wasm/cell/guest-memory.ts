/**
 * Bounds-checked access to a guest's linear memory. Every pointer and length a guest hands a
 * host function is an untrusted i32: it is read as unsigned, checked against the memory's current
 * size (it changes when the guest grows it, so the buffer is fetched each time), and copied out;
 * the host never keeps a view into guest memory across calls.
 */
export class GuestMemoryError extends Error {}

const utf8 = new TextDecoder('utf-8');
const encoder = new TextEncoder();

export class GuestMemory {
  private buf: ArrayBuffer;
  private u8: Uint8Array;
  private dv: DataView;
  /** short names (sensor types, device ids) by a hash of their bytes: no string built per call */
  private readonly names = new Map<number, string>();

  constructor(readonly memory: WebAssembly.Memory) {
    this.buf = memory.buffer;
    this.u8 = new Uint8Array(this.buf);
    this.dv = new DataView(this.buf);
  }

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** The current buffer's views (a grow replaces the buffer). */
  private fresh(): Uint8Array {
    const b = this.memory.buffer;
    if (b !== this.buf) {
      this.buf = b;
      this.u8 = new Uint8Array(b);
      this.dv = new DataView(b);
    }
    return this.u8;
  }

  /** Checks [ptr, ptr+len) against the memory (and `max`); returns the start as unsigned. */
  private check(ptr: number, len: number, max = Number.MAX_SAFE_INTEGER): number {
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (l > max) throw new GuestMemoryError(`length ${l} is over ${max}`);
    const size = this.fresh().length;
    if (p + l > size) throw new GuestMemoryError(`[${p}, ${p + l}) is outside the guest's ${size}-byte memory`);
    return p;
  }

  /** A view of [ptr, ptr+len); throws GuestMemoryError when it is outside the memory or over max. */
  view(ptr: number, len: number, max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const p = this.check(ptr, len, max);
    return this.u8.subarray(p, p + (len >>> 0));
  }

  /** UTF-8 text at (ptr, len), at most `max` bytes. Short ASCII names come from a small cache. */
  text(ptr: number, len: number, max: number): string {
    const p = this.check(ptr, len, max);
    const l = len >>> 0;
    if (l > 32) return utf8.decode(this.u8.subarray(p, p + l));
    const u8 = this.u8;
    let h = 0x811c9dc5;
    for (let i = 0; i < l; i++) h = Math.imul(h ^ (u8[p + i] ?? 0), 16777619);
    h = (h ^ l) >>> 0;
    const hit = this.names.get(h);
    if (hit !== undefined && hit.length === l) {
      let same = true;
      for (let i = 0; i < l && same; i++) same = hit.charCodeAt(i) === u8[p + i];
      if (same) return hit;
    }
    const s = utf8.decode(u8.subarray(p, p + l));
    if (this.names.size < 256 && s.length === l) this.names.set(h, s);
    return s;
  }

  /** An AssemblyScript string (UTF-16, byte length in the header word before ptr), for env.abort. */
  asString(ptr: number, max = 4096): string {
    const p = ptr >>> 0;
    if (p === 0) return '';
    if (p < 4) throw new GuestMemoryError('string pointer inside the header');
    this.check(p - 4, 4);
    const len = this.dv.getUint32(p - 4, true);
    const bytes = this.view(p, Math.min(len, max * 2) & ~1);
    return Buffer.from(bytes).toString('utf16le');
  }

  write(ptr: number, bytes: Uint8Array): void {
    const p = this.check(ptr, bytes.length);
    this.u8.set(bytes, p);
  }

  /** Checks that [ptr, ptr+len) is inside the memory and returns a DataView over all of it. */
  checked(ptr: number, len: number): DataView {
    this.check(ptr, len);
    return this.dv;
  }

  static encode(s: string): Uint8Array {
    return encoder.encode(s);
  }
}
