/** The GPIO contract (hal/gpio/gpio.ts), run against every backend with a way to drive inputs. */
import { describe, expect, it } from 'vitest';
import type { GpioBackend, Level } from '../../hal/gpio/gpio';

export interface GpioHarness {
  gpio: GpioBackend;
  /** drives the electrical level of an input line from outside */
  drive(line: number, level: Level): Promise<void>;
  /** the electrical level an output shows */
  level(line: number): Promise<Level | undefined>;
}

export function describeGpioContract(name: string, factory: () => Promise<GpioHarness>): void {
  describe(`GPIO contract: ${name}`, () => {
    it('writes outputs, honouring active-low, and refuses writing inputs', async () => {
      const h = await factory();
      const out = await h.gpio.request(5, { direction: 'out', initial: 0 });
      await out.write(1);
      expect(await h.level(5)).toBe(1);
      const inverted = await h.gpio.request(6, { direction: 'out', activeLow: true, initial: 0 });
      expect(await h.level(6)).toBe(1);
      await inverted.write(1);
      expect(await h.level(6)).toBe(0);
      const input = await h.gpio.request(7, { direction: 'in' });
      await expect(input.write(1)).rejects.toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED' });
    });

    it('reads inputs with pulls and active-low, and reports each edge', async () => {
      const h = await factory();
      const button = await h.gpio.request(8, { direction: 'in', pull: 'up', activeLow: true });
      expect(await button.read()).toBe(0);
      const edges: Level[] = [];
      button.watch((v) => edges.push(v));
      await h.drive(8, 0);
      await h.drive(8, 1);
      expect(edges).toEqual([1, 0]);
    });

    it('grants a line once until it is released', async () => {
      const h = await factory();
      const a = await h.gpio.request(9, { direction: 'out' });
      await expect(h.gpio.request(9, { direction: 'out' })).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
      await a.release();
      await expect(h.gpio.request(9, { direction: 'out' })).resolves.toBeDefined();
      await expect(h.gpio.request(999, { direction: 'out' })).rejects.toMatchObject({ code: 'HAL_E_UNKNOWN_DEVICE' });
    });
  });
}
