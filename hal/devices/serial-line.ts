/**
 * A line-based serial sensor (soil probes, particle counters, Arduino bridges): each line holds
 * `name=value` pairs (also `name: value` or `NAME value`), and the latest value of each channel
 * is kept. Lines are capped; a sensor that stops talking reports HAL_E_BUS_IO once its data is
 * older than `staleMs`.
 */
import { HalError } from '../errors';
import type { SerialLink } from '../serial/serial';

const MAX_LINE = 4096;
const PAIR = /([A-Za-z][A-Za-z0-9_]*)\s*[=: ]\s*(-?\d+(?:\.\d+)?)/g;

export class SerialLineSensor {
  private buf = '';
  private readonly latest = new Map<string, { value: number; at: number }>();
  lines = 0;
  /** when a line was last heard (undefined: never) */
  heardAt: number | undefined;

  constructor(
    private readonly link: SerialLink,
    private readonly channels: readonly string[],
    private readonly staleMs: number,
    private readonly now: () => number = Date.now,
  ) {
    link.onData((c) => this.push(c.toString('latin1')));
  }

  private push(text: string): void {
    this.buf += text;
    let nl: number;
    while ((nl = this.buf.search(/\r?\n/)) >= 0) {
      this.parse(this.buf.slice(0, nl));
      this.buf = this.buf.slice(this.buf[nl] === '\r' ? nl + 2 : nl + 1);
    }
    if (this.buf.length > MAX_LINE) this.buf = '';
  }

  private parse(line: string): void {
    this.lines++;
    this.heardAt = this.now();
    for (const m of line.matchAll(PAIR)) {
      const name = (m[1] ?? '').toLowerCase();
      if (this.channels.includes(name)) this.latest.set(name, { value: Number(m[2]), at: this.now() });
    }
  }

  /** The latest value of every channel heard from within `staleMs`. */
  read(): Record<string, number> {
    const out: Record<string, number> = {};
    const now = this.now();
    for (const [k, v] of this.latest) if (now - v.at <= this.staleMs) out[k] = v.value;
    if (Object.keys(out).length === 0) {
      // Nothing heard yet is "not ready" (a probe that boots slowly); silence after data is a fault.
      if (this.latest.size === 0) throw new HalError('HAL_E_BUSY', `no data from ${this.link.path} yet`, { path: this.link.path });
      throw new HalError('HAL_E_BUS_IO', `no data from ${this.link.path} in the last ${Math.round(this.staleMs / 1000)} s`, { path: this.link.path });
    }
    return out;
  }

  get path(): string {
    return this.link.path;
  }

  /** why its port went away, if it did */
  get lost(): string | undefined {
    return this.link.lost;
  }

  close(): Promise<void> {
    return this.link.close();
  }
}

/**
 * A line sensor whose port may be missing at start (a USB adapter not yet enumerated at boot, a
 * port another program holds) or go away later (unplugged) and come back: while it has no open
 * port, reads retry the open at most every `retryMs` and fail with HAL_E_BUS_IO saying why.
 */
export class ReopeningSerialLine {
  private sensor: SerialLineSensor | undefined;
  private why = '';
  private retryAt = 0;
  private closed = false;

  private constructor(
    private readonly path: string,
    private readonly make: () => Promise<SerialLineSensor>,
    private readonly now: () => number,
    private readonly retryMs: number,
    private readonly staleMs: number,
  ) {}

  /** Never throws for a port that cannot be opened: the first read says why, and it is retried. */
  static async open(path: string, open: () => Promise<SerialLink>, channels: readonly string[], staleMs: number, now: () => number = Date.now, retryMs = 5000): Promise<ReopeningSerialLine> {
    const line = new ReopeningSerialLine(path, async () => new SerialLineSensor(await open(), channels, staleMs, now), now, retryMs, staleMs);
    await line.reopen();
    return line;
  }

  async read(): Promise<Record<string, number>> {
    let lost = this.sensor?.lost;
    // a port that talked and then went silent for long is reopened too: an unplugged adapter does
    // not always error the old descriptor (a pty whose far end was replaced, a wedged USB bridge)
    const heard = this.sensor?.heardAt;
    if (lost === undefined && heard !== undefined && this.now() - heard > this.silentMs) lost = `silent for ${Math.round((this.now() - heard) / 1000)} s`;
    if (lost !== undefined) {
      await this.sensor?.close().catch(() => undefined);
      this.sensor = undefined;
      this.why = lost;
    }
    if (!this.sensor) {
      if (this.now() >= this.retryAt) await this.reopen();
      if (!this.sensor) throw new HalError('HAL_E_BUS_IO', `${this.path}: ${this.why}; retrying every ${Math.round(this.retryMs / 1000)} s`, { path: this.path });
    }
    return this.sensor.read();
  }

  /** how long a port that talked may be silent before it is reopened */
  private get silentMs(): number {
    return Math.max(this.retryMs, this.staleMs * 4);
  }

  private async reopen(): Promise<void> {
    this.retryAt = this.now() + this.retryMs;
    try {
      const sensor = await this.make();
      // closed while the port was opening (the HAL stopping): do not keep it open and locked
      if (this.closed) await sensor.close();
      else this.sensor = sensor;
    } catch (err) {
      this.why = (err as Error).message;
    }
  }

  close(): Promise<void> {
    this.closed = true;
    return this.sensor?.close() ?? Promise.resolve();
  }
}
