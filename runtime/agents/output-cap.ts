/**
 * The rate cap on one instance's output (stdout, stderr and log calls; issue 16): two token
 * buckets, bytes and lines, each refilled at its rate per second and holding twice that (the
 * burst). A line is kept only when both buckets can pay for it; the rest are dropped and counted,
 * and `pauseMs` tells a driver how long to stop reading the agent's pipe, so a flooding agent
 * blocks on its own writes instead of the daemon splitting and dropping its lines at full speed.
 */

export interface OutputRates {
  bytesPerSecond: number;
  linesPerSecond: number;
}

/** a driver never pauses for less (it would thrash) nor more (a quiet agent's lines would lag) */
const MIN_PAUSE_MS = 50;
const MAX_PAUSE_MS = 1000;

export class OutputCap {
  private bytes: number;
  private lines: number;
  private last: number;
  /** dropped since the last report */
  droppedLines = 0;
  droppedBytes = 0;
  /** which cap dropped them, for the report */
  private overBytes = false;
  private overLines = false;

  constructor(
    private readonly rates: OutputRates,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.bytes = 2 * rates.bytesPerSecond;
    this.lines = 2 * rates.linesPerSecond;
    this.last = now();
  }

  /** Takes the line's cost from both buckets, or counts it as dropped; true when it is kept. */
  admit(byteLength: number): boolean {
    this.refill();
    // A line longer than the whole burst still passes when the bucket is full, so it is not lost forever.
    const cost = Math.min(byteLength, 2 * this.rates.bytesPerSecond);
    if (this.bytes >= cost && this.lines >= 1) {
      this.bytes -= cost;
      this.lines -= 1;
      return true;
    }
    if (this.bytes < cost) this.overBytes = true;
    if (this.lines < 1) this.overLines = true;
    this.droppedLines++;
    this.droppedBytes += byteLength;
    return false;
  }

  /** How long a reader should stop: until both buckets are half full again; 0 while lines are kept. */
  pauseMs(): number {
    this.refill();
    const halfBytes = this.rates.bytesPerSecond;
    const halfLines = this.rates.linesPerSecond;
    if (this.bytes >= halfBytes / 16 && this.lines >= 1) return 0;
    const wait = Math.max(((halfBytes - this.bytes) / this.rates.bytesPerSecond) * 1000, ((halfLines - this.lines) / this.rates.linesPerSecond) * 1000);
    return Math.min(MAX_PAUSE_MS, Math.max(MIN_PAUSE_MS, Math.ceil(wait)));
  }

  /** The drop report since the last call ("dropped N lines / M bytes …"), or undefined when none. */
  takeReport(): string | undefined {
    if (this.droppedLines === 0) return undefined;
    const over = [this.overBytes ? 'logs.outputBytesPerSecond' : '', this.overLines ? 'logs.outputLinesPerSecond' : ''].filter(Boolean).join(' and ');
    const msg = `dropped ${this.droppedLines} lines / ${this.droppedBytes} bytes of output over ${over} (${this.rates.bytesPerSecond} bytes, ${this.rates.linesPerSecond} lines per second)`;
    this.droppedLines = 0;
    this.droppedBytes = 0;
    this.overBytes = false;
    this.overLines = false;
    return msg;
  }

  private refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.bytes = Math.min(2 * this.rates.bytesPerSecond, this.bytes + dt * this.rates.bytesPerSecond);
    this.lines = Math.min(2 * this.rates.linesPerSecond, this.lines + dt * this.rates.linesPerSecond);
  }
}
