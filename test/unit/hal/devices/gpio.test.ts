import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { GpioInput } from '../../../../hal/devices/gpio-in';
import { GpioOutput } from '../../../../hal/devices/gpio-out';
import { SimGpio } from '../../../../hal/gpio/sim';

beforeEach(() => vi.useFakeTimers());
afterEach(() => vi.useRealTimers());

describe('GPIO devices', () => {
  it('switches an output on, off and toggles it', async () => {
    const gpio = new SimGpio();
    const relay = new GpioOutput(await gpio.request(27, { direction: 'out', initial: 0 }), 'off');
    expect(await relay.apply({ name: 'on' })).toBe('on');
    expect(gpio.levelOf(27)).toBe(1);
    expect(await relay.apply({ name: 'toggle' })).toBe('off');
    expect(gpio.levelOf(27)).toBe(0);
  });

  it('debounces a chattering button: one change per settled press', async () => {
    const gpio = new SimGpio();
    const button = new GpioInput(await gpio.request(22, { direction: 'in', pull: 'up', activeLow: true }), 30);
    await button.start();
    const changes: number[] = [];
    button.onChange((v) => changes.push(v));
    for (const level of [0, 1, 0, 1, 0] as const) {
      gpio.drive(22, level);
      await vi.advanceTimersByTimeAsync(5);
    }
    expect(changes).toEqual([]);
    await vi.advanceTimersByTimeAsync(40);
    expect(changes).toEqual([1]);
    expect(button.current).toBe(1);
    gpio.drive(22, 1);
    gpio.drive(22, 0);
    await vi.advanceTimersByTimeAsync(40);
    expect(changes).toEqual([1]);
    gpio.drive(22, 1);
    await vi.advanceTimersByTimeAsync(40);
    expect(changes).toEqual([1, 0]);
    await button.stop();
  });
});
