/**
 * I2C on a real board through `i2c-bus` over /dev/i2c-N (DESIGN §5). The package is an optional
 * native dependency, imported only on the first call. The device node is found (and checked to
 * exist) by hal/platform first: i2c-bus's scan() hides a missing bus. Calls on one bus never
 * interleave: they are queued.
 */
import { HalError } from '../errors';
import type { I2cBus } from './i2c';

interface PromisifiedBus {
  readI2cBlock(address: number, command: number, length: number, buffer: Buffer): Promise<{ bytesRead: number; buffer: Buffer }>;
  writeByte(address: number, command: number, byte: number): Promise<void>;
  close(): Promise<void>;
}

export class LinuxI2cBus implements I2cBus {
  private bus: Promise<PromisifiedBus> | undefined;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;

  /** `device` resolves /dev/i2c-N (and throws HAL_E_UNAVAILABLE with the config.txt hint when absent) */
  constructor(
    readonly name: string,
    private readonly device: () => string,
  ) {}

  readRegisters(address: number, register: number, length: number): Promise<Buffer> {
    return this.run(async (b) => {
      const buf = Buffer.alloc(length);
      const { bytesRead } = await b.readI2cBlock(address, register, length, buf);
      if (bytesRead !== length) throw new HalError('HAL_E_BUS_IO', `${this.name}: 0x${address.toString(16)} returned ${bytesRead} of ${length} bytes`);
      return buf;
    });
  }

  writeRegister(address: number, register: number, value: number): Promise<void> {
    return this.run((b) => b.writeByte(address, register, value));
  }

  async close(): Promise<void> {
    this.closed = true;
    const b = this.bus;
    this.bus = undefined;
    if (b) await (await b.catch(() => undefined))?.close();
  }

  private run<T>(fn: (b: PromisifiedBus) => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new HalError('HAL_E_BUS_IO', `${this.name} is closed`));
    const next = this.queue.then(async () => {
      try {
        return await fn(await this.open());
      } catch (err) {
        if (err instanceof HalError) throw err;
        const e = err as NodeJS.ErrnoException;
        // no device node (i2c-dev not loaded, the bus gone): not a wiring fault
        if (e.code === 'ENOENT' || e.code === 'ENODEV') throw new HalError('HAL_E_UNAVAILABLE', `${this.name}: its device node is missing (${e.message}); is i2c-dev loaded?`, { bus: this.name, errno: e.code });
        throw new HalError('HAL_E_BUS_IO', `${this.name}: ${e.code ?? ''} ${e.message}`.trim(), { bus: this.name, errno: e.code });
      }
    });
    this.queue = next.catch(() => undefined);
    return next;
  }

  private open(): Promise<PromisifiedBus> {
    this.bus ??= (async () => {
      const dev = this.device();
      const n = Number(/i2c-(\d+)$/.exec(dev)?.[1]);
      const moduleName = 'i2c-bus'; // optional native package: not bundled, loaded only here
      type Open = (this: void, n: number) => Promise<PromisifiedBus>;
      type I2cBusModule = { openPromisified?: Open; default?: { openPromisified: Open } };
      let mod: I2cBusModule;
      try {
        mod = (await import(moduleName)) as I2cBusModule;
      } catch {
        throw new HalError('HAL_E_UNAVAILABLE', `${this.name}: the i2c-bus package is not installed (npm install i2c-bus on the board)`);
      }
      // CommonJS: its functions are named exports, or on `default`, depending on how it was loaded
      const open = mod.openPromisified ?? mod.default?.openPromisified;
      if (!open) throw new HalError('HAL_E_UNAVAILABLE', `${this.name}: the i2c-bus package has no openPromisified()`);
      return open(n);
    })();
    this.bus.catch(() => (this.bus = undefined));
    return this.bus;
  }
}
