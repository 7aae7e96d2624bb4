/**
 * The GPIO contract (DESIGN §5): lines requested by number with a direction, pull and
 * active-low, as the Linux GPIO character device and sysfs offer them. Values are logical
 * (1 = active): the backend applies active-low. Implementations: the simulator (gpio/sim.ts) and,
 * on a Pi, `onoff` over sysfs with the chip's base found by label (issue 7).
 *
 * Obligations: a line can be requested once until released (HAL_E_BUSY otherwise); `watch`
 * reports every edge of an input with its logical value; writing an input rejects.
 */
export type Level = 0 | 1;

export interface LineOptions {
  direction: 'in' | 'out';
  pull?: 'up' | 'down' | 'none';
  activeLow?: boolean;
  /** an output's value when requested */
  initial?: Level;
}

export interface GpioLine {
  readonly line: number;
  read(): Promise<Level>;
  write(value: Level): Promise<void>;
  /** calls `fn` on every edge of an input; returns the function that stops watching */
  watch(fn: (value: Level) => void): () => void;
  release(): Promise<void>;
}

export interface GpioBackend {
  request(line: number, opts: LineOptions): Promise<GpioLine>;
  close(): Promise<void>;
}
