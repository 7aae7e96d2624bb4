/**
 * Holds a reader still for a while (issue 16): `pause(ms)` calls `stop` once and `start` when the
 * longest pause asked for has run out. An agent channel uses it so that a flooding agent blocks in
 * its own write(2) while the daemon reads nothing, instead of the daemon parsing at full speed.
 */
export class ReadPause {
  private timer: NodeJS.Timeout | undefined;
  private until = 0;

  constructor(
    private readonly stop: () => void,
    private readonly start: () => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get paused(): boolean {
    return this.timer !== undefined;
  }

  /** Stops for at least `ms`; a longer pause already running is kept. */
  pause(ms: number): void {
    if (!(ms > 0)) return;
    const until = this.now() + ms;
    if (this.timer) {
      if (until <= this.until) return;
      clearTimeout(this.timer);
    } else {
      this.stop();
    }
    this.until = until;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.start();
    }, ms).unref();
  }

  /** Ends a pause early without starting the reader (it is going away). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }
}
