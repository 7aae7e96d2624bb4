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
  constructor(readonly memory: WebAssembly.Memory) {}

  get byteLength(): number {
    return this.memory.buffer.byteLength;
  }

  /** A view of [ptr, ptr+len); throws GuestMemoryError when it is outside the memory or over max. */
  view(ptr: number, len: number, max = Number.MAX_SAFE_INTEGER): Uint8Array {
    const p = ptr >>> 0;
    const l = len >>> 0;
    if (l > max) throw new GuestMemoryError(`length ${l} is over ${max}`);
    const buf = this.memory.buffer;
    if (p + l > buf.byteLength) throw new GuestMemoryError(`[${p}, ${p + l}) is outside the guest's ${buf.byteLength}-byte memory`);
    return new Uint8Array(buf, p, l);
  }

  /** UTF-8 text at (ptr, len), at most `max` bytes. */
  text(ptr: number, len: number, max: number): string {
    return utf8.decode(this.view(ptr, len, max));
  }

  /** An AssemblyScript string (UTF-16, byte length in the header word before ptr), for env.abort. */
  asString(ptr: number, max = 4096): string {
    const p = ptr >>> 0;
    if (p === 0) return '';
    if (p < 4) throw new GuestMemoryError('string pointer inside the header');
    const len = this.dataView().getUint32(p - 4, true);
    const bytes = this.view(p, Math.min(len, max * 2) & ~1);
    return Buffer.from(bytes).toString('utf16le');
  }

  write(ptr: number, bytes: Uint8Array): void {
    this.view(ptr, bytes.length).set(bytes);
  }

  dataView(): DataView {
    return new DataView(this.memory.buffer);
  }

  /** Checks that [ptr, ptr+len) is inside the memory and returns a DataView over all of it. */
  checked(ptr: number, len: number): DataView {
    this.view(ptr, len);
    return this.dataView();
  }

  static encode(s: string): Uint8Array {
    return encoder.encode(s);
  }
}
