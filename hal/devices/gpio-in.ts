/**
 * A GPIO input device (button, reed switch) with debounce: an edge counts only once the line has
 * held its new value for `debounceMs`; chatter inside that window is ignored.
 */
import type { GpioLine, Level } from '../gpio/gpio';

export class GpioInput {
  private value: Level = 0;
  private pending: NodeJS.Timeout | undefined;
  private readonly listeners = new Set<(v: Level) => void>();
  private stopWatch: (() => void) | undefined;

  constructor(
    private readonly line: GpioLine,
    private readonly debounceMs: number,
  ) {}

  async start(): Promise<void> {
    this.value = await this.line.read();
    this.stopWatch = this.line.watch((raw) => this.onEdge(raw));
  }

  get current(): Level {
    return this.value;
  }

  onChange(fn: (v: Level) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  async stop(): Promise<void> {
    if (this.pending) clearTimeout(this.pending);
    this.stopWatch?.();
    await this.line.release();
  }

  private onEdge(raw: Level): void {
    if (this.pending) clearTimeout(this.pending);
    const settle = (): void => {
      this.pending = undefined;
      void this.line.read().then((v) => {
        if (v === this.value) return;
        this.value = v;
        this.listeners.forEach((l) => l(v));
      });
    };
    if (this.debounceMs === 0) {
      if (raw !== this.value) {
        this.value = raw;
        this.listeners.forEach((l) => l(raw));
      }
      return;
    }
    this.pending = setTimeout(settle, this.debounceMs);
  }
}
