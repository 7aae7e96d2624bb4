/**
 * GPIO on a real board through sysfs (DESIGN §5): the chip is found by label and the line number
 * computed as base + line (hal/platform), then the kernel's sequence — export, active_low,
 * direction (an output gets its initial level in the same write, glitch-free), edge — and
 * unexport on release. Values are logical: the kernel applies active_low.
 *
 * Every file operation goes through `SysfsIo`, so the sequence is tested against a fixture tree
 * with a fake kernel; the real one writes the files and watches edges with `epoll` (POLLPRI on the
 * value file, the way onoff does), loaded with import() only when an input is watched, falling
 * back to reading the value every 20 ms when the native module is missing. sysfs has no pull
 * resistors: they come from config.txt (`gpio=17=ip,pu`), and a requested pull is reported in
 * `warnings` so doctor can say so.
 */
import fs from 'node:fs';
import { HalError } from '../errors';
import { gpioChips, gpioNumber } from '../platform/gpio-chips';
import type { SysRoot } from '../platform/root';
import { waitWritable } from '../platform/wait-writable';
import type { GpioBackend, GpioLine, Level, LineOptions } from './gpio';

export interface SysfsIo {
  write(path: string, text: string): Promise<void>;
  read(path: string): Promise<string>;
  exists(path: string): boolean;
  /** calls `fn` after each edge the kernel signals on a value file; returns a stop function */
  watchEdges(valuePath: string, fn: () => void): () => void;
}

export interface SysfsGpioOptions {
  root: SysRoot;
  /** the chip's label, e.g. pinctrl-bcm2711 (Pi 4) or pinctrl-rp1 (Pi 5) */
  chip: string;
  io?: SysfsIo;
  /** how long to wait for udev to make a freshly exported line writable */
  exportTimeoutMs?: number;
}

export class SysfsGpio implements GpioBackend {
  private readonly io: SysfsIo;
  private readonly held = new Map<number, { release(): Promise<void> }>();
  /** what sysfs cannot do that the profile asked for (pulls) */
  readonly warnings: string[] = [];

  constructor(private readonly opts: SysfsGpioOptions) {
    this.io = opts.io ?? realSysfsIo();
  }

  /** the sysfs number of a chip line (base + line) */
  number(line: number): number {
    try {
      return gpioNumber(gpioChips(this.opts.root), this.opts.chip, line);
    } catch (err) {
      if (err instanceof HalError && err.code === 'HAL_E_PROFILE') throw new HalError('HAL_E_UNKNOWN_DEVICE', err.message, err.details);
      throw err;
    }
  }

  async request(line: number, o: LineOptions): Promise<GpioLine> {
    const n = this.number(line);
    if (this.held.has(line)) throw new HalError('HAL_E_BUSY', `gpio${line} is already requested`);
    const r = this.opts.root;
    const dir = `/sys/class/gpio/gpio${n}`;
    const file = (f: string): string => r.path(`${dir}/${f}`);
    this.held.set(line, { release: () => Promise.resolve() });
    try {
      if (!this.io.exists(file('value'))) await this.io.write(r.path('/sys/class/gpio/export'), String(n));
      await waitWritable(file('direction'), (p) => this.io.exists(p), this.opts.exportTimeoutMs ?? 2000, `gpio ${n}`, 'gpio');
      await this.io.write(file('active_low'), o.activeLow ? '1' : '0');
      if (o.direction === 'out') {
        const electrical = (o.initial ?? 0) === 1 ? !o.activeLow : Boolean(o.activeLow);
        await this.io.write(file('direction'), electrical ? 'high' : 'low');
      } else {
        await this.io.write(file('direction'), 'in');
        if (o.pull && o.pull !== 'none') this.warnings.push(`gpio${line}: sysfs cannot set a pull-${o.pull}; set it in config.txt (gpio=${line}=ip,p${o.pull === 'up' ? 'u' : 'd'})`);
      }
    } catch (err) {
      this.held.delete(line);
      throw err instanceof HalError ? err : new HalError('HAL_E_BUS_IO', `gpio${line} (sysfs ${n}): ${(err as Error).message}`);
    }
    const stops = new Set<() => void>();
    let released = false;
    const live = (): void => {
      if (released) throw new HalError('HAL_E_BUS_IO', `gpio${line} was released`);
    };
    const read = async (): Promise<Level> => ((await this.io.read(file('value'))).trim() === '1' ? 1 : 0);
    const handle: GpioLine = {
      line,
      read: () => {
        live();
        return read();
      },
      write: async (value) => {
        live();
        if (o.direction !== 'out') throw new HalError('HAL_E_COMMAND_NOT_ALLOWED', `gpio${line} is an input`);
        await this.io.write(file('value'), value ? '1' : '0');
      },
      watch: (fn) => {
        live();
        // the same value twice in a row is a spurious wake-up, not an edge
        let last: Level | undefined;
        const stop = this.io.watchEdges(file('value'), () => {
          void read().then((v) => {
            if (v !== last) fn(v);
            last = v;
          });
        });
        void this.io.write(file('edge'), 'both').catch(() => undefined);
        stops.add(stop);
        return () => {
          stop();
          stops.delete(stop);
        };
      },
      release: async () => {
        if (released) return;
        released = true;
        stops.forEach((s) => s());
        this.held.delete(line);
        await this.io.write(r.path('/sys/class/gpio/unexport'), String(n)).catch(() => undefined);
      },
    };
    this.held.set(line, handle);
    return handle;
  }

  async close(): Promise<void> {
    for (const h of [...this.held.values()]) await h.release();
  }
}

interface EpollCtor {
  new (cb: (err: Error | null, fd: number) => void): { add(fd: number, events: number): unknown; remove(fd: number): unknown; close(): unknown };
  EPOLLPRI: number;
}

/** The real files, with edges from epoll (POLLPRI on the value file), or polling without it. */
export function realSysfsIo(): SysfsIo {
  let epoll: Promise<EpollCtor | undefined> | undefined;
  return {
    write: (p, text) => fs.promises.writeFile(p, text),
    read: (p) => fs.promises.readFile(p, 'utf8'),
    exists: (p) => fs.existsSync(p),
    watchEdges(valuePath, fn) {
      let stopped = false;
      let stop = (): void => {
        stopped = true;
      };
      const moduleName = 'epoll'; // optional native package: not bundled, loaded only here
      epoll ??= import(moduleName).then(
        (m: { Epoll?: EpollCtor; default?: { Epoll?: EpollCtor } }) => m.Epoll ?? m.default?.Epoll,
        () => undefined,
      );
      void epoll.then((Epoll) => {
        if (stopped) return;
        if (Epoll) {
          const fd = fs.openSync(valuePath, 'r');
          const buf = Buffer.alloc(2);
          fs.readSync(fd, buf, 0, 2, 0); // clear the initial POLLPRI
          const poller = new Epoll((err) => {
            if (err) return;
            fs.readSync(fd, buf, 0, 2, 0);
            fn();
          });
          poller.add(fd, Epoll.EPOLLPRI);
          stop = () => {
            poller.remove(fd);
            poller.close();
            fs.closeSync(fd);
          };
        } else {
          let last = '';
          const t = setInterval(() => {
            const v = fs.readFileSync(valuePath, 'utf8');
            if (v !== last) fn();
            last = v;
          }, 20);
          stop = () => clearInterval(t);
        }
      });
      return () => stop();
    },
  };
}
