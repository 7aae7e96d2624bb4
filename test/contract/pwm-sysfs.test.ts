/**
 * The sysfs PWM backend against Pi 4 and Pi 5 fixture trees and a fake kernel that keeps the real
 * one's rules: export makes pwmN with period 0; duty_cycle may never exceed period (EINVAL);
 * enable needs a period; exporting an exported channel is EBUSY. So the write order is checked,
 * including against the state a crashed run left behind.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { SysfsIo } from '../../hal/gpio/sysfs';
import { SysRoot } from '../../hal/platform/root';
import { SysfsPwm } from '../../hal/pwm/sysfs';
import { FIXTURES, tmpDir } from '../helpers/tmp';
import { describePwmContract } from './pwm.contract';

interface Channel {
  period: number;
  duty: number;
  enable: number;
}

class FakePwmKernel implements SysfsIo {
  readonly log: string[] = [];
  readonly channels = new Map<string, Channel>();

  constructor(readonly root: string) {}

  write(p: string, text: string): Promise<void> {
    const real = fs.realpathSync(path.dirname(p));
    const chipDir = /\/pwmchip\d+$/.test(real) ? real : path.dirname(real);
    const file = path.basename(p);
    this.log.push(`${path.basename(chipDir)}/${/\/pwmchip\d+$/.test(real) ? '' : `${path.basename(real)}/`}${file}=${text}`);
    const npwm = Number(fs.readFileSync(path.join(chipDir, 'npwm'), 'utf8'));
    if (file === 'export' || file === 'unexport') {
      const n = Number(text);
      if (!(n < npwm)) return Promise.reject(new Error('EINVAL'));
      const dir = path.join(chipDir, `pwm${n}`);
      const key = `${chipDir}/${n}`;
      if (file === 'export') {
        if (this.channels.has(key)) return Promise.reject(new Error('EBUSY'));
        fs.mkdirSync(dir);
        this.channels.set(key, { period: 0, duty: 0, enable: 0 });
        this.sync(dir, key);
      } else {
        fs.rmSync(dir, { recursive: true, force: true });
        this.channels.delete(key);
      }
      return Promise.resolve();
    }
    const key = `${chipDir}/${/pwm(\d+)$/.exec(real)?.[1]}`;
    const c = this.channels.get(key);
    if (!c) return Promise.reject(new Error(`ENOENT ${p}`));
    const v = Number(text);
    if (file === 'period') {
      if (v < c.duty) return Promise.reject(new Error('EINVAL: period below duty_cycle'));
      c.period = v;
    } else if (file === 'duty_cycle') {
      if (v > c.period) return Promise.reject(new Error('EINVAL: duty_cycle above period'));
      c.duty = v;
    } else if (file === 'enable') {
      if (v === 1 && c.period === 0) return Promise.reject(new Error('EINVAL: no period'));
      c.enable = v;
    }
    this.sync(real, key);
    return Promise.resolve();
  }

  private sync(dir: string, key: string): void {
    const c = this.channels.get(key);
    if (!c) return;
    for (const [f, v] of [['period', c.period], ['duty_cycle', c.duty], ['enable', c.enable]] as const) fs.writeFileSync(path.join(dir, f), `${v}\n`);
  }

  read(p: string): Promise<string> {
    return Promise.resolve(fs.readFileSync(p, 'utf8'));
  }

  exists(p: string): boolean {
    return fs.existsSync(p);
  }

  watchEdges(): () => void {
    return () => undefined;
  }

  /** a channel a previous run left exported, at `period` and `duty` ns */
  leave(chip: string, n: number, c: Channel): void {
    const chipDir = fs.realpathSync(path.join(this.root, 'sys/class/pwm', chip));
    fs.mkdirSync(path.join(chipDir, `pwm${n}`));
    this.channels.set(`${chipDir}/${n}`, c);
    this.sync(path.join(chipDir, `pwm${n}`), `${chipDir}/${n}`);
  }
}

function board(name: 'pi4' | 'pi5'): { pwm: SysfsPwm; kernel: FakePwmKernel; root: string } {
  const root = tmpDir('osd-pwm-');
  fs.cpSync(path.join(FIXTURES, 'boards', name), root, { recursive: true, verbatimSymlinks: true });
  const kernel = new FakePwmKernel(root);
  return { pwm: new SysfsPwm({ root: new SysRoot(root), io: kernel, configTxt: () => 'dtoverlay=pwm-2chan' }), kernel, root };
}

describePwmContract('sysfs (Pi 4 tree, fake kernel)', () => {
  const { pwm, kernel, root } = board('pi4');
  return Promise.resolve({
    pwm,
    chip: 'fe20c000.pwm',
    output: (n: number) => {
      const c = kernel.channels.get(`${fs.realpathSync(path.join(root, 'sys/class/pwm/pwmchip0'))}/${n}`);
      return Promise.resolve(c && { frequencyHz: Math.round(1e9 / c.period), duty: c.duty / c.period, enabled: c.enable === 1 });
    },
  });
});

describe('sysfs PWM sequence', () => {
  it('exports, then duty 0, period, duty, enable; on release duty 0, disable, unexport', async () => {
    const { pwm, kernel } = board('pi4');
    const ch = await pwm.open('fe20c000.pwm', 0, 1000, 0.5);
    await ch.set(0.75);
    await ch.release();
    expect(kernel.log).toEqual([
      'pwmchip0/export=0', 'pwmchip0/pwm0/duty_cycle=0', 'pwmchip0/pwm0/period=1000000', 'pwmchip0/pwm0/duty_cycle=500000', 'pwmchip0/pwm0/enable=1',
      'pwmchip0/pwm0/duty_cycle=750000',
      'pwmchip0/pwm0/duty_cycle=0', 'pwmchip0/pwm0/enable=0', 'pwmchip0/unexport=0',
    ]);
  });

  it('takes over a channel a crashed run left enabled at a long period and high duty', async () => {
    const { pwm, kernel } = board('pi5');
    kernel.leave('pwmchip2', 2, { period: 10_000_000, duty: 9_000_000, enable: 1 });
    const ch = await pwm.open('1f00098000.pwm', 2, 25_000);
    expect(ch.duty).toBe(0);
    expect(kernel.log[0]).toBe('pwmchip2/pwm2/duty_cycle=0');
    expect([...kernel.channels.values()]).toEqual([{ period: 40_000, duty: 0, enable: 1 }]);
  });

  it('finds the Pi 5 controller by node, not by number, and names what is missing', async () => {
    const { pwm, kernel } = board('pi5');
    await pwm.open('1f00098000.pwm', 3, 1000);
    expect(kernel.log[0]).toBe('pwmchip2/export=3');
    await expect(pwm.open('1f00098000.pwm', 4, 1000)).rejects.toMatchObject({ code: 'HAL_E_PROFILE', message: 'PWM controller 1f00098000.pwm has 4 channel(s); there is no channel 4' });
    await expect(pwm.open('fe20c000.pwm', 0, 1000)).rejects.toMatchObject({ code: 'HAL_E_UNAVAILABLE', message: expect.stringContaining('"dtoverlay=pwm-2chan"') as unknown });
  });
});
