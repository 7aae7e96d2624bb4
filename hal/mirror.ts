/**
 * The sensor mirror (DESIGN §4, §5): the latest reading of every sensor type in a
 * SharedArrayBuffer, written by the HAL on each poll and read without blocking by in-process WASM
 * cells (`hal_read`). A seqlock per slot keeps value and timestamp consistent: the writer makes
 * the sequence odd, writes, makes it even; a reader retries while it is odd or has changed.
 *
 * Layout: Int32 sequence per slot, then Float64 pairs [value, ts] per slot.
 */
export interface MirrorLayout {
  buffer: SharedArrayBuffer;
  types: readonly string[];
}

export class SensorMirror {
  readonly buffer: SharedArrayBuffer;
  private readonly seq: Int32Array;
  private readonly data: Float64Array;
  private readonly index = new Map<string, number>();

  constructor(readonly types: readonly string[]) {
    const n = Math.max(1, types.length);
    const seqBytes = Math.ceil((n * 4) / 8) * 8;
    this.buffer = new SharedArrayBuffer(seqBytes + n * 16);
    this.seq = new Int32Array(this.buffer, 0, n);
    this.data = new Float64Array(this.buffer, seqBytes, n * 2);
    types.forEach((t, i) => this.index.set(t, i));
    this.data.fill(Number.NaN);
  }

  layout(): MirrorLayout {
    return { buffer: this.buffer, types: this.types };
  }

  write(type: string, value: number, ts: number): void {
    const i = this.index.get(type);
    if (i === undefined) return;
    Atomics.add(this.seq, i, 1); // odd: writing
    this.data[i * 2] = value;
    this.data[i * 2 + 1] = ts;
    Atomics.add(this.seq, i, 1); // even: consistent
  }
}

export class MirrorReader {
  private readonly seq: Int32Array;
  private readonly data: Float64Array;
  private readonly index = new Map<string, number>();

  constructor(layout: MirrorLayout) {
    const n = Math.max(1, layout.types.length);
    const seqBytes = Math.ceil((n * 4) / 8) * 8;
    this.seq = new Int32Array(layout.buffer, 0, n);
    this.data = new Float64Array(layout.buffer, seqBytes, n * 2);
    layout.types.forEach((t, i) => this.index.set(t, i));
  }

  has(type: string): boolean {
    return this.index.has(type);
  }

  /** The latest reading of `type`, or undefined when it has none yet (or the type is unknown). */
  read(type: string): { value: number; ts: number } | undefined {
    const i = this.index.get(type);
    if (i === undefined) return undefined;
    for (let tries = 0; tries < 1000; tries++) {
      const before = Atomics.load(this.seq, i);
      if (before & 1) continue;
      const value = this.data[i * 2] ?? Number.NaN;
      const ts = this.data[i * 2 + 1] ?? Number.NaN;
      if (Atomics.load(this.seq, i) !== before) continue;
      return Number.isNaN(ts) ? undefined : { value, ts };
    }
    return undefined;
  }
}
