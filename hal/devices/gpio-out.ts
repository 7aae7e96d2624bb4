/** A GPIO output device (relay, LED): on, off, toggle, written once against the GPIO contract. */
import type { GpioLine } from '../gpio/gpio';

export type OnOff = 'on' | 'off';

export class GpioOutput {
  private state: OnOff;

  constructor(
    private readonly line: GpioLine,
    initial: OnOff,
  ) {
    this.state = initial;
  }

  get current(): OnOff {
    return this.state;
  }

  async apply(command: 'on' | 'off' | 'toggle'): Promise<OnOff> {
    const next: OnOff = command === 'toggle' ? (this.state === 'on' ? 'off' : 'on') : command;
    await this.line.write(next === 'on' ? 1 : 0);
    this.state = next;
    return next;
  }

  release(): Promise<void> {
    return this.line.release();
  }
}
