/**
 * A token bucket for what a guest can flood the daemon with (log lines, emitted events): `rate`
 * a second with a burst of twice that. Drops are counted so the cell can say how many it dropped.
 */
export class RateBucket {
  private tokens: number;
  private last: number;
  dropped = 0;

  constructor(
    private readonly rate: number,
    private readonly now: () => number,
  ) {
    this.tokens = rate * 2;
    this.last = now();
  }

  take(): boolean {
    const t = this.now();
    this.tokens = Math.min(this.rate * 2, this.tokens + ((t - this.last) / 1000) * this.rate);
    this.last = t;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.dropped++;
    return false;
  }

  /** Dropped since the last call. */
  drain(): number {
    const n = this.dropped;
    this.dropped = 0;
    return n;
  }
}
