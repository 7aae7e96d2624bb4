/**
 * Simulated GPIO: lines with electrical levels, pulls, active-low and edges. Tests and the sim
 * board drive inputs from outside (`drive`, `bounce`) and read what outputs show (`levelOf`).
 */
import { HalError } from '../errors';
import type { GpioBackend, GpioLine, Level, LineOptions } from './gpio';

interface LineState {
  opts: LineOptions;
  /** electrical level driven from outside (inputs) or by the output */
  driven: Level | undefined;
  watchers: Set<(v: Level) => void>;
}

export class SimGpio implements GpioBackend {
  private readonly lines = new Map<number, LineState>();
  /** levels applied to lines before or after they are requested */
  private readonly external = new Map<number, Level>();

  constructor(readonly lineCount = 28) {}

  request(line: number, opts: LineOptions): Promise<GpioLine> {
    if (line < 0 || line >= this.lineCount) return Promise.reject(new HalError('HAL_E_UNKNOWN_DEVICE', `gpio${line} does not exist on this chip (${this.lineCount} lines)`));
    if (this.lines.has(line)) return Promise.reject(new HalError('HAL_E_BUSY', `gpio${line} is already requested`));
    const state: LineState = { opts, driven: opts.direction === 'out' ? this.toElectrical(opts.initial ?? 0, opts) : this.external.get(line), watchers: new Set() };
    this.lines.set(line, state);
    let released = false;
    const check = (): void => {
      if (released) throw new HalError('HAL_E_BUS_IO', `gpio${line} was released`);
    };
    return Promise.resolve<GpioLine>({
      line,
      read: () => {
        check();
        return Promise.resolve(this.logical(state));
      },
      write: (value) => {
        check();
        if (state.opts.direction !== 'out') return Promise.reject(new HalError('HAL_E_COMMAND_NOT_ALLOWED', `gpio${line} is an input`));
        state.driven = this.toElectrical(value, state.opts);
        return Promise.resolve();
      },
      watch: (fn) => {
        state.watchers.add(fn);
        return () => state.watchers.delete(fn);
      },
      release: () => {
        released = true;
        this.lines.delete(line);
        return Promise.resolve();
      },
    });
  }

  close(): Promise<void> {
    this.lines.clear();
    return Promise.resolve();
  }

  /** Drives an input's electrical level from outside (a button, a sensor's interrupt line). */
  drive(line: number, level: Level): void {
    this.external.set(line, level);
    const s = this.lines.get(line);
    if (!s || s.opts.direction !== 'in') return;
    const before = this.logical(s);
    s.driven = level;
    const after = this.logical(s);
    if (after !== before) s.watchers.forEach((w) => w(after));
  }

  /** Stops driving an input: it floats to its pull. */
  float(line: number): void {
    this.external.delete(line);
    const s = this.lines.get(line);
    if (!s) return;
    const before = this.logical(s);
    s.driven = undefined;
    const after = this.logical(s);
    if (after !== before) s.watchers.forEach((w) => w(after));
  }

  /** The electrical level an output shows (what a relay or LED sees), or undefined. */
  levelOf(line: number): Level | undefined {
    const s = this.lines.get(line);
    return s?.opts.direction === 'out' ? s.driven : undefined;
  }

  private logical(s: LineState): Level {
    const pulled: Level = s.opts.pull === 'up' ? 1 : 0;
    const electrical = s.driven ?? pulled;
    return (s.opts.activeLow ? 1 - electrical : electrical) as Level;
  }

  private toElectrical(v: Level, o: LineOptions): Level {
    return (o.activeLow ? 1 - v : v) as Level;
  }
}
