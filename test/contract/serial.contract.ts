/** The serial contract (hal/serial/serial.ts), run against every backend with a far end to talk to. */
import { describe, expect, it } from 'vitest';
import type { SerialLink } from '../../hal/serial/serial';
import { SerialLineSensor } from '../../hal/devices/serial-line';
import { waitFor } from '../helpers/tmp';

export interface SerialHarness {
  link: SerialLink;
  /** bytes the device sends to us */
  deviceSends(data: string): Promise<void>;
  /** everything the device has received from us so far */
  deviceReceived(): Promise<string>;
  /** the speed the port is set to now, as the OS (or the mock) has it */
  baudRate(): Promise<number>;
  cleanup(): Promise<void>;
}

export function describeSerialContract(name: string, factory: () => Promise<SerialHarness>): void {
  describe(`serial contract: ${name}`, () => {
    it('carries bytes both ways, in order', async () => {
      const h = await factory();
      let got = '';
      h.link.onData((c) => (got += c.toString('latin1')));
      await h.deviceSends('hello ');
      await h.deviceSends('world\n');
      await waitFor('bytes from the device', () => got === 'hello world\n', 5000);
      await h.link.write('PING\r\n');
      await waitFor('bytes to the device', async () => (await h.deviceReceived()).includes('PING\r\n'), 5000);
      await h.cleanup();
    });

    it('feeds the line sensor: split lines, noise and unknown keys', async () => {
      const h = await factory();
      const sensor = new SerialLineSensor(h.link, ['moisture', 'temp'], 60_000);
      expect(() => sensor.read()).toThrow(/no data from .* yet/);
      await h.deviceSends('boot banner v1.2\r\nmoist');
      await h.deviceSends('ure=41.5 temp: 19 foo=3\r\n');
      await waitFor('a reading', () => sensor.lines >= 2, 5000);
      expect(sensor.read()).toEqual({ moisture: 41.5, temp: 19 });
      await h.deviceSends(`${'x'.repeat(10_000)}\nMOISTURE 40\n`);
      await waitFor('next reading', () => (() => { try { return sensor.read().moisture === 40; } catch { return false; } })(), 5000);
      await h.cleanup();
    });

    it('changes the baud rate of the open port, keeps carrying bytes, and refuses a rate that is not one', async () => {
      const h = await factory();
      expect(await h.baudRate()).toBe(9600);
      await h.link.setBaudRate(115200);
      expect(await h.baudRate()).toBe(115200);
      let got = '';
      h.link.onData((c) => (got += c.toString('latin1')));
      await h.deviceSends('fast\n');
      await waitFor('bytes at the new speed', () => got === 'fast\n', 5000);
      await h.link.write('OK\n');
      await waitFor('bytes to the device at the new speed', async () => (await h.deviceReceived()).includes('OK\n'), 5000);
      for (const bad of [0, -9600, 9600.5, Number.NaN, 1e12]) await expect(h.link.setBaudRate(bad)).rejects.toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED' });
      expect(await h.baudRate()).toBe(115200);
      await h.link.close();
      await expect(h.link.setBaudRate(9600)).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
      await h.cleanup();
    });

    it('refuses writes after close', async () => {
      const h = await factory();
      await h.link.close();
      await expect(h.link.write('x')).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
      await h.cleanup();
    });
  });
}
