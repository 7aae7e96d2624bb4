/** The PWM contract (hal/pwm/pwm.ts), run against every backend with a way to see the output. */
import { describe, expect, it } from 'vitest';
import type { PwmBackend } from '../../hal/pwm/pwm';

export interface PwmHarness {
  pwm: PwmBackend;
  /** a controller of this board with at least two channels */
  chip: string;
  /** what the output of `channel` does now */
  output(channel: number): Promise<{ frequencyHz: number; duty: number; enabled: boolean } | undefined>;
}

export function describePwmContract(name: string, factory: () => Promise<PwmHarness>): void {
  describe(`PWM contract: ${name}`, () => {
    it('opens a channel enabled at its initial duty, at the frequency asked, and sets duty fractions', async () => {
      const h = await factory();
      const ch = await h.pwm.open(h.chip, 1, 25_000, 0.25);
      expect(ch.duty).toBe(0.25);
      expect(await h.output(1)).toEqual({ frequencyHz: 25_000, duty: 0.25, enabled: true });
      await ch.set(1);
      expect((await h.output(1))?.duty).toBe(1);
      await ch.set(0);
      expect(await h.output(1)).toMatchObject({ duty: 0, enabled: true });
      expect(ch.duty).toBe(0);
    });

    it('grants a channel once; release disables it, and a released channel refuses to be set', async () => {
      const h = await factory();
      const ch = await h.pwm.open(h.chip, 0, 1000);
      await expect(h.pwm.open(h.chip, 0, 1000)).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
      await ch.set(0.5);
      await ch.release();
      expect((await h.output(0))?.enabled ?? false).toBe(false);
      await expect(ch.set(0.5)).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
      const again = await h.pwm.open(h.chip, 0, 1000);
      expect(await h.output(0)).toMatchObject({ duty: 0, enabled: true });
      await again.release();
    });
  });
}
