/**
 * The sysfs GPIO backend against a Pi 4 fixture tree and a fake kernel that does what the real
 * one does on writes to export / unexport / direction / value / edge (files appear, levels and
 * edges follow), so the contract and the exact write sequence are checked without a Pi.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Level } from '../../hal/gpio/gpio';
import { SysfsGpio, type SysfsIo } from '../../hal/gpio/sysfs';
import { SysRoot } from '../../hal/platform/root';
import { FIXTURES, tmpDir } from '../helpers/tmp';
import { describeGpioContract } from './gpio.contract';

interface KLine {
  activeLow: boolean;
  out: boolean;
  edge: string;
  watchers: Set<() => void>;
}

class FakeKernel implements SysfsIo {
  readonly log: string[] = [];
  private readonly raw = new Map<number, Level>();
  private readonly lines = new Map<number, KLine>();

  constructor(
    readonly root: string,
    /** pulls set in config.txt: the level of an undriven input */
    private readonly pulls = new Map<number, Level>(),
  ) {}

  private dir(n: number): string {
    return path.join(this.root, `sys/class/gpio/gpio${n}`);
  }

  private sync(n: number): void {
    const l = this.lines.get(n);
    if (!l) return;
    const raw = this.raw.get(n) ?? this.pulls.get(n) ?? 0;
    fs.writeFileSync(path.join(this.dir(n), 'value'), `${l.activeLow ? 1 - raw : raw}\n`);
  }

  write(p: string, text: string): Promise<void> {
    const rel = path.relative(path.join(this.root, 'sys/class/gpio'), p);
    this.log.push(`${rel}=${text}`);
    if (rel === 'export') {
      const n = Number(text);
      fs.mkdirSync(this.dir(n));
      for (const [f, v] of [['direction', 'in'], ['value', '0'], ['active_low', '0'], ['edge', 'none']]) fs.writeFileSync(path.join(this.dir(n), f ?? ''), `${v}\n`);
      this.lines.set(n, { activeLow: false, out: false, edge: 'none', watchers: new Set() });
      this.sync(n);
      return Promise.resolve();
    }
    if (rel === 'unexport') {
      const n = Number(text);
      fs.rmSync(this.dir(n), { recursive: true });
      this.lines.delete(n);
      this.raw.delete(n);
      return Promise.resolve();
    }
    const m = /^gpio(\d+)\/(\w+)$/.exec(rel);
    const n = Number(m?.[1]);
    const l = this.lines.get(n);
    if (!m || !l) return Promise.reject(new Error(`ENOENT ${p}`));
    if (m[2] === 'active_low') l.activeLow = text === '1';
    if (m[2] === 'direction') {
      l.out = text !== 'in';
      if (text === 'high' || text === 'low') this.raw.set(n, text === 'high' ? 1 : 0);
    }
    if (m[2] === 'value') {
      if (!l.out) return Promise.reject(new Error('EPERM: write to an input'));
      this.raw.set(n, (text === '1') !== l.activeLow ? 1 : 0);
    }
    if (m[2] === 'edge') l.edge = text;
    this.sync(n);
    return Promise.resolve();
  }

  read(p: string): Promise<string> {
    // sysfs reads do not wait on a disk: answer at once, as the kernel does
    return Promise.resolve(fs.readFileSync(p, 'utf8'));
  }

  exists(p: string): boolean {
    return fs.existsSync(p);
  }

  watchEdges(valuePath: string, fn: () => void): () => void {
    const n = Number(/gpio(\d+)\/value$/.exec(valuePath)?.[1]);
    const l = this.lines.get(n);
    l?.watchers.add(fn);
    return () => l?.watchers.delete(fn);
  }

  /** an electrical level applied to an input from outside */
  drive(n: number, level: Level): void {
    this.raw.set(n, level);
    this.sync(n);
    const l = this.lines.get(n);
    if (l && l.edge === 'both') l.watchers.forEach((f) => f());
  }

  level(n: number): Level | undefined {
    return this.lines.has(n) ? (this.raw.get(n) ?? this.pulls.get(n) ?? 0) : undefined;
  }
}

function pi4(pulls = new Map<number, Level>()): { gpio: SysfsGpio; kernel: FakeKernel } {
  const root = tmpDir('osd-sysfs-');
  fs.cpSync(path.join(FIXTURES, 'boards/pi4'), root, { recursive: true, verbatimSymlinks: true });
  const kernel = new FakeKernel(root, pulls);
  return { gpio: new SysfsGpio({ root: new SysRoot(root), chip: 'pinctrl-bcm2711', io: kernel }), kernel };
}

describeGpioContract('sysfs (Pi 4 tree, fake kernel)', () => {
  // line 8 has a pull-up from config.txt, as the contract's button expects
  const { gpio, kernel } = pi4(new Map([[520, 1]]));
  const settle = (): Promise<void> => new Promise((r) => setTimeout(r, 5));
  return Promise.resolve({
    gpio,
    drive: async (line, level) => {
      kernel.drive(gpio.number(line), level);
      await settle();
    },
    level: (line) => Promise.resolve(kernel.level(gpio.number(line))),
  });
});

describe('sysfs GPIO sequence', () => {
  it('exports base + line, sets active_low, then direction with the initial level, and unexports on release', async () => {
    const { gpio, kernel } = pi4();
    const led = await gpio.request(17, { direction: 'out', initial: 1 });
    const fan = await gpio.request(27, { direction: 'out', activeLow: true, initial: 0 });
    await led.write(0);
    await led.release();
    await fan.release();
    expect(kernel.log).toEqual([
      'export=529', 'gpio529/active_low=0', 'gpio529/direction=high',
      'export=539', 'gpio539/active_low=1', 'gpio539/direction=high',
      'gpio529/value=0', 'unexport=529', 'unexport=539',
    ]);
  });

  it('says what sysfs cannot do (pulls) and which chip is missing', async () => {
    const { gpio } = pi4();
    await gpio.request(22, { direction: 'in', pull: 'up', activeLow: true });
    expect(gpio.warnings).toEqual(['gpio22: sysfs cannot set a pull-up; set it in config.txt (gpio=22=ip,pu)']);
    const wrong = new SysfsGpio({ root: new SysRoot(path.join(FIXTURES, 'boards/pi4')), chip: 'pinctrl-rp1', io: new FakeKernel('/nonexistent') });
    await expect(wrong.request(17, { direction: 'out' })).rejects.toMatchObject({ code: 'HAL_E_UNAVAILABLE', message: expect.stringContaining('no GPIO chip labelled "pinctrl-rp1"') as unknown });
  });
});
