/** The HAL's platform layer against synthetic Pi 4 and Pi 5 system trees (test/fixtures/boards/). */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HalError } from '../../../../hal/errors';
import { boardModel, cpuPercent, cpuTimes, gpioChips, gpioNumber, hostSampler, i2cDevice, memory, pwmChip, serialDevice, socTemperature, SysRoot, throttling } from '../../../../hal/platform/index';
import { detectProfile, loadProfile } from '../../../../hal/profile/load';
import { FIXTURES, REPO, tmpDir } from '../../../helpers/tmp';

const BOARDS = path.join(REPO, 'boards');
const pi4 = new SysRoot(path.join(FIXTURES, 'boards/pi4'));
const pi5 = new SysRoot(path.join(FIXTURES, 'boards/pi5'));

const errorOf = (fn: () => unknown): HalError => {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(HalError);
    return err as HalError;
  }
  throw new Error('expected a HalError');
};

describe('platform on a Pi 4 and a Pi 5 tree', () => {
  it('detects the board from the device-tree model, and every Pi profile loads', () => {
    expect(detectProfile(boardModel(pi4) ?? '', [BOARDS])).toBe('raspberrypi-4b');
    expect(detectProfile(boardModel(pi5) ?? '', [BOARDS])).toBe('raspberrypi-5');
    for (const b of ['raspberrypi-4b', 'raspberrypi-5', 'raspberrypi-zero-2w', 'raspberrypi-cm4']) {
      expect(loadProfile(b, [BOARDS]).name).toBe(b);
    }
  });

  it('finds GPIO chips by label: GPIO17 is 529 on a Pi 4 and 588 on a Pi 5', () => {
    expect(gpioNumber(gpioChips(pi4), 'pinctrl-bcm2711', 17)).toBe(529);
    expect(gpioNumber(gpioChips(pi5), 'pinctrl-rp1', 17)).toBe(588);
    expect(gpioChips(pi5).map((c) => c.label)).toContain('gpio-brcmstb@107d508500');
    expect(errorOf(() => gpioNumber(gpioChips(pi5), 'pinctrl-bcm2711', 17)).message).toMatch(/no GPIO chip labelled "pinctrl-bcm2711".*pinctrl-rp1/);
    expect(errorOf(() => gpioNumber(gpioChips(pi4), 'pinctrl-bcm2711', 58)).code).toBe('HAL_E_PROFILE');
    expect(gpioChips(new SysRoot(tmpDir('osd-empty-')))).toEqual([]);
  });

  it('finds the PWM controller by its device-tree node, whatever pwmchip number it probed as', () => {
    expect(pwmChip(pi4, loadProfile('raspberrypi-4b', [BOARDS]).buses.pwm0?.device ?? '')).toBe('/sys/class/pwm/pwmchip0');
    expect(pwmChip(pi5, loadProfile('raspberrypi-5', [BOARDS]).buses.pwm0?.device ?? '')).toBe('/sys/class/pwm/pwmchip2');
    const e = errorOf(() => pwmChip(pi4, '3f20c000.pwm', 'dtoverlay=pwm-2chan'));
    expect(e.code).toBe('HAL_E_UNAVAILABLE');
    expect(e.message).toBe('PWM controller 3f20c000.pwm is not enabled; enable it with "dtoverlay=pwm-2chan" in /boot/firmware/config.txt and reboot');
  });

  it('finds the I2C adapter behind the device-tree alias and the UART behind /dev/serial0', () => {
    expect(i2cDevice(pi4, 'i2c1')).toBe('/dev/i2c-1');
    expect(i2cDevice(pi5, 'i2c1')).toBe('/dev/i2c-1');
    expect(serialDevice(pi4, 'serial0')).toBe('/dev/ttyS0');
    expect(serialDevice(pi5, 'serial0')).toBe('/dev/ttyAMA0');
    const e = errorOf(() => i2cDevice(pi4, 'i2c3', 'dtoverlay=i2c3'));
    expect(e.code).toBe('HAL_E_UNAVAILABLE');
    expect(e.message).toContain('enable it with "dtoverlay=i2c3"');
    expect(errorOf(() => serialDevice(pi4, 'serial1', 'enable_uart=1')).message).toContain('enable_uart=1');
  });

  it('says when the adapter exists but its /dev node does not (i2c-bus would hide it)', () => {
    const root = tmpDir('osd-pi-');
    fs.cpSync(path.join(FIXTURES, 'boards/pi4'), root, { recursive: true, verbatimSymlinks: true });
    fs.rmSync(path.join(root, 'dev/i2c-1'));
    expect(errorOf(() => i2cDevice(new SysRoot(root), 'i2c1')).message).toContain('/dev/i2c-1 is missing');
  });

  it('reads host figures: memory, SoC temperature, throttling, CPU from two samples', () => {
    expect(memory(pi4)).toEqual({ totalBytes: 3884096 * 1024, availableBytes: 3432860 * 1024 });
    expect(socTemperature(pi4)).toBe(48.9);
    expect(socTemperature(pi5)).toBe(52.3);
    expect(throttling(pi4)).toMatchObject({ raw: 0, underVoltage: false, throttledOccurred: false });
    expect(throttling(pi5)).toMatchObject({ raw: 0x50000, underVoltage: false, underVoltageOccurred: true, throttledOccurred: true, softTempLimitOccurred: false });
    const a = cpuTimes(pi4);
    expect(a).toBeDefined();
    expect(cpuPercent({ idle: 100, total: 200 }, { idle: 150, total: 400 })).toBe(75);
    expect(cpuPercent({ idle: 100, total: 200 }, { idle: 100, total: 200 })).toBe(0);
    const sample = hostSampler(pi4, REPO);
    const s = sample();
    expect(s.cpuPercent).toBe(0);
    expect(s.disk?.totalBytes).toBeGreaterThan(0);
    const none = hostSampler(new SysRoot(tmpDir('osd-none-')), '/nonexistent')();
    expect(none).toEqual({ cpuPercent: null, memory: null, disk: null, socTempC: null, throttling: null });
  });

  it('reads the real host the same way', () => {
    const real = new SysRoot('/');
    expect(cpuTimes(real)?.total).toBeGreaterThan(0);
    expect(memory(real)?.totalBytes).toBeGreaterThan(0);
  });
});
