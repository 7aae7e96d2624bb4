/**
 * Hardware-in-the-loop checks for a real Raspberry Pi (DESIGN §12.16): registered only when
 * OPENSTARRY_HIL=1, run with `npm run test:hil` on the board (as root or in the gpio/i2c groups).
 * The default test run does not collect this file (it is not *.test.ts), so these are never skips.
 *
 *   OPENSTARRY_HIL_LOOP=OUT:IN     two BCM lines wired together (e.g. 23:24), for GPIO out → in and edges
 *   OPENSTARRY_HIL_BME280=ADDR     a BME280 on i2c1 (0x76 or 0x77), for a chip-id read through i2c-bus
 *   OPENSTARRY_HIL_SERIAL_LOOP=1   TX (14) wired to RX (15), for a round trip on /dev/serial0
 *   OPENSTARRY_HIL_PWM=CHANNEL     dtoverlay=pwm-2chan loaded: the channel of the profile's pwm0 to drive
 *                                  (0 for GPIO18 on a Pi 4, 2 on a Pi 5), read back from sysfs
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SysfsGpio } from '../../hal/gpio/sysfs';
import { LinuxI2cBus } from '../../hal/i2c/linux';
import { boardModel, gpioChips, i2cDevice, pwmChip, serialDevice, SysRoot } from '../../hal/platform/index';
import { SysfsPwm } from '../../hal/pwm/sysfs';
import { detectProfile, loadProfile } from '../../hal/profile/load';
import { SerialportBackend } from '../../hal/serial/serialport';
import { REPO } from '../helpers/tmp';

const root = new SysRoot('/');
const boards = path.join(REPO, 'boards');

if (process.env.OPENSTARRY_HIL === '1') {
  describe('HIL: this Raspberry Pi', () => {
    const name = detectProfile(boardModel(root) ?? '', [boards]);
    const profile = name ? loadProfile(name, [boards]) : undefined;

    it('is a board a profile matches, with the GPIO chip that profile names', () => {
      expect(name, `no profile matches "${boardModel(root) ?? ''}"`).toBeDefined();
      const label = profile?.gpio.chips[0]?.label ?? '';
      expect(gpioChips(root).map((c) => c.label)).toContain(label);
    });

    const loop = /^(\d+):(\d+)$/.exec(process.env.OPENSTARRY_HIL_LOOP ?? '');
    it.runIf(loop)('drives an output and sees it, with edges, on the wired input', async () => {
      const gpio = new SysfsGpio({ root, chip: profile?.gpio.chips[0]?.label ?? '' });
      const out = await gpio.request(Number(loop?.[1]), { direction: 'out', initial: 0 });
      const input = await gpio.request(Number(loop?.[2]), { direction: 'in' });
      const edges: number[] = [];
      input.watch((v) => edges.push(v));
      await new Promise((r) => setTimeout(r, 100));
      for (const v of [1, 0, 1, 0] as const) {
        await out.write(v);
        await new Promise((r) => setTimeout(r, 50));
        expect(await input.read()).toBe(v);
      }
      expect(edges).toEqual([1, 0, 1, 0]);
      await gpio.close();
    });

    const bme = process.env.OPENSTARRY_HIL_BME280;
    it.runIf(bme)('reads the BME280 chip id over i2c1 through i2c-bus', async () => {
      const bus = new LinuxI2cBus('i2c1', () => i2cDevice(root, 'i2c1', 'dtparam=i2c_arm=on'));
      expect((await bus.readRegisters(Number(bme), 0xd0, 1))[0]).toBe(0x60);
      await bus.close();
    });

    it.runIf(process.env.OPENSTARRY_HIL_SERIAL_LOOP === '1')('round-trips bytes on /dev/serial0 with TX wired to RX', async () => {
      const link = await new SerialportBackend().open(serialDevice(root, 'serial0', 'enable_uart=1'), 115200);
      let got = '';
      link.onData((c) => (got += c.toString('latin1')));
      await link.write(Buffer.from('openstarry\n'));
      await new Promise((r) => setTimeout(r, 200));
      expect(got).toBe('openstarry\n');
      await link.close();
    });

    const pwm = process.env.OPENSTARRY_HIL_PWM;
    it.runIf(pwm)('drives a PWM channel of pwm0 and reads the period and duty back from sysfs', async () => {
      const node = profile?.buses.pwm0?.device ?? '';
      const ch = await new SysfsPwm({ root }).open(node, Number(pwm), 1000, 0.25);
      const dir = `${pwmChip(root, node)}/pwm${Number(pwm)}`;
      expect(root.readNumber(`${dir}/period`)).toBe(1_000_000);
      expect(root.readNumber(`${dir}/duty_cycle`)).toBe(250_000);
      await ch.set(0.5);
      expect(root.readNumber(`${dir}/duty_cycle`)).toBe(500_000);
      expect(root.readNumber(`${dir}/enable`)).toBe(1);
      await ch.release();
      expect(root.exists(dir)).toBe(false);
    });
  });
}
