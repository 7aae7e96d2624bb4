/** The I2C bus contract (hal/i2c/i2c.ts), run against every backend. */
import { describe, expect, it } from 'vitest';
import type { I2cBus } from '../../hal/i2c/i2c';

export interface I2cHarness {
  bus: I2cBus;
  /** an address where a device with a writable register file answers */
  present: number;
  /** an address where nothing answers */
  absent: number;
}

export function describeI2cContract(name: string, factory: () => Promise<I2cHarness>): void {
  describe(`I2C bus contract: ${name}`, () => {
    it('writes registers and reads them back, exactly `length` bytes', async () => {
      const { bus, present } = await factory();
      await bus.writeRegister(present, 0x10, 0xab);
      await bus.writeRegister(present, 0x11, 0x1cd);
      const r = await bus.readRegisters(present, 0x10, 2);
      expect([...r]).toEqual([0xab, 0xcd]);
      expect((await bus.readRegisters(present, 0x10, 5)).length).toBe(5);
    });

    it('rejects with HAL_E_BUS_IO and EREMOTEIO when nothing answers', async () => {
      const { bus, absent } = await factory();
      await expect(bus.readRegisters(absent, 0, 1)).rejects.toMatchObject({ code: 'HAL_E_BUS_IO', details: { errno: 'EREMOTEIO' } });
    });

    it('keeps concurrent transfers whole and in order', async () => {
      const { bus, present } = await factory();
      await Promise.all(Array.from({ length: 20 }, (_, i) => bus.writeRegister(present, 0x20, i)));
      expect((await bus.readRegisters(present, 0x20, 1))[0]).toBe(19);
    });

    it('rejects every call after close', async () => {
      const { bus, present } = await factory();
      await bus.close();
      await expect(bus.readRegisters(present, 0, 1)).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
    });
  });
}
