/**
 * A simulated I2C bus: register-level device models at addresses, with fault injection
 * (a device that NACKs, latency, a register stuck at a value) for the tests of everything above.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HalError } from '../errors';
import type { I2cBus, I2cDeviceModel } from './i2c';

interface Faults {
  nack?: number;
  latencyMs?: number;
  stuck?: Map<number, number>;
}

export class SimI2cBus implements I2cBus {
  private readonly devices = new Map<number, I2cDeviceModel>();
  private readonly faults = new Map<number, Faults>();
  private closed = false;
  private queue: Promise<unknown> = Promise.resolve();

  constructor(readonly name: string) {}

  attach(address: number, model: I2cDeviceModel): void {
    this.devices.set(address, model);
  }

  /** The next `count` transfers to `address` fail as a NACK (EREMOTEIO). */
  failNext(address: number, count = 1): void {
    this.fault(address).nack = count;
  }

  setLatency(address: number, ms: number): void {
    this.fault(address).latencyMs = ms;
  }

  /** `register` of `address` always reads `value` (a stuck sensor). */
  stick(address: number, register: number, value: number | undefined): void {
    const f = this.fault(address);
    f.stuck ??= new Map();
    if (value === undefined) f.stuck.delete(register);
    else f.stuck.set(register, value & 0xff);
  }

  readRegisters(address: number, register: number, length: number): Promise<Buffer> {
    return this.serialise(async () => {
      const dev = await this.target(address);
      const out = Buffer.alloc(length);
      const stuck = this.faults.get(address)?.stuck;
      for (let i = 0; i < length; i++) out[i] = stuck?.get(register + i) ?? dev.read(register + i) & 0xff;
      return out;
    });
  }

  writeRegister(address: number, register: number, value: number): Promise<void> {
    return this.serialise(async () => {
      (await this.target(address)).write(register, value & 0xff);
    });
  }

  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }

  private fault(address: number): Faults {
    const f = this.faults.get(address) ?? {};
    this.faults.set(address, f);
    return f;
  }

  private async target(address: number): Promise<I2cDeviceModel> {
    if (this.closed) throw new HalError('HAL_E_BUS_IO', `${this.name} is closed`, { errno: 'EBADF' });
    const f = this.faults.get(address);
    if (f?.latencyMs) await sleep(f.latencyMs);
    const dev = this.devices.get(address);
    if (!dev || (f?.nack ?? 0) > 0) {
      if (f?.nack) f.nack--;
      throw new HalError('HAL_E_BUS_IO', `${this.name}: no answer from 0x${address.toString(16)} (EREMOTEIO)`, { errno: 'EREMOTEIO', address });
    }
    return dev;
  }

  private serialise<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }
}
