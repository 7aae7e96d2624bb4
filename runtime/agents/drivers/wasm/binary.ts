/**
 * Reads what the WASM driver must know about a module before it runs (DESIGN §4): its imports,
 * its declared memory limits (Node 20 cannot report them), and its exports. Core wasm binary
 * format (WebAssembly spec §5.5): magic, version, then sections of (id, LEB128 size, payload).
 * Every read is bounds-checked: a truncated or hostile binary is an error, never an exception.
 */

export interface Limits {
  min: number;
  max?: number;
  shared: boolean;
  memory64: boolean;
}

export interface WasmImport {
  module: string;
  name: string;
  kind: 'func' | 'table' | 'memory' | 'global' | 'tag';
  limits?: Limits;
}

export interface WasmInfo {
  imports: WasmImport[];
  /** memories the module defines itself */
  memories: Limits[];
  exports: Array<{ name: string; kind: WasmImport['kind'] }>;
}

export class WasmFormatError extends Error {}

const KINDS = ['func', 'table', 'memory', 'global', 'tag'] as const;

class Reader {
  pos = 0;
  constructor(private readonly b: Uint8Array) {}

  get done(): boolean {
    return this.pos >= this.b.length;
  }

  byte(): number {
    if (this.pos >= this.b.length) throw new WasmFormatError(`truncated at byte ${this.pos}`);
    return this.b[this.pos++] ?? 0;
  }

  u32(): number {
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 5; i++) {
      const byte = this.byte();
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return result >>> 0;
      shift += 7;
    }
    throw new WasmFormatError(`LEB128 longer than 5 bytes at ${this.pos}`);
  }

  /** 64-bit limits of memory64 modules: read as a number, precise enough for refusal */
  u64(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      const byte = this.byte();
      result += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return result;
      mul *= 128;
    }
    throw new WasmFormatError(`LEB128 longer than 10 bytes at ${this.pos}`);
  }

  name(): string {
    const len = this.u32();
    if (len > 1024) throw new WasmFormatError(`name of ${len} bytes at ${this.pos}`);
    if (this.pos + len > this.b.length) throw new WasmFormatError(`truncated name at ${this.pos}`);
    const s = Buffer.from(this.b.subarray(this.pos, this.pos + len)).toString('utf8');
    this.pos += len;
    return s;
  }

  skip(n: number): void {
    if (this.pos + n > this.b.length) throw new WasmFormatError(`truncated at byte ${this.pos}`);
    this.pos += n;
  }

  limits(): Limits {
    const flags = this.byte();
    if (flags > 0x07) throw new WasmFormatError(`unknown limits flags 0x${flags.toString(16)}`);
    const memory64 = (flags & 0x04) !== 0;
    const read = (): number => (memory64 ? this.u64() : this.u32());
    const min = read();
    const max = flags & 0x01 ? read() : undefined;
    return { min, ...(max !== undefined ? { max } : {}), shared: (flags & 0x02) !== 0, memory64 };
  }
}

export function readWasm(bytes: Uint8Array): WasmInfo {
  const r = new Reader(bytes);
  if (bytes.length < 8) throw new WasmFormatError('not a WebAssembly module (shorter than its header)');
  if (!(bytes[0] === 0x00 && bytes[1] === 0x61 && bytes[2] === 0x73 && bytes[3] === 0x6d)) throw new WasmFormatError('not a WebAssembly module (bad magic)');
  if (!(bytes[4] === 0x01 && bytes[5] === 0x00 && bytes[6] === 0x00 && bytes[7] === 0x00)) throw new WasmFormatError('not a core WebAssembly module version 1 (a component?)');
  r.pos = 8;
  const info: WasmInfo = { imports: [], memories: [], exports: [] };
  while (!r.done) {
    const id = r.byte();
    const size = r.u32();
    const end = r.pos + size;
    if (end > bytes.length) throw new WasmFormatError(`section ${id} runs past the end of the module`);
    if (id === 2) readImports(r, info);
    else if (id === 5) for (let n = r.u32(), i = 0; i < n; i++) info.memories.push(r.limits());
    else if (id === 7) readExports(r, info);
    r.pos = end;
  }
  return info;
}

function readImports(r: Reader, info: WasmInfo): void {
  const n = r.u32();
  if (n > 10_000) throw new WasmFormatError(`${n} imports`);
  for (let i = 0; i < n; i++) {
    const module = r.name();
    const name = r.name();
    const k = r.byte();
    const kind = KINDS[k];
    if (!kind) throw new WasmFormatError(`unknown import kind ${k}`);
    const imp: WasmImport = { module, name, kind };
    if (kind === 'func') r.u32();
    else if (kind === 'table') {
      r.byte();
      r.limits();
    } else if (kind === 'memory') imp.limits = r.limits();
    else if (kind === 'global') r.skip(2);
    else {
      r.byte();
      r.u32();
    }
    info.imports.push(imp);
  }
}

function readExports(r: Reader, info: WasmInfo): void {
  const n = r.u32();
  if (n > 10_000) throw new WasmFormatError(`${n} exports`);
  for (let i = 0; i < n; i++) {
    const name = r.name();
    const kind = KINDS[r.byte()];
    r.u32();
    if (!kind) throw new WasmFormatError('unknown export kind');
    info.exports.push({ name, kind });
  }
}
