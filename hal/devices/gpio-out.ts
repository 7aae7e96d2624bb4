/** A GPIO output device (relay, LED): on, off, toggle, written once against the GPIO contract. */
import type { ActuatorCommand } from '../command';
import { HalError } from '../errors';
import type { GpioLine } from '../gpio/gpio';

export type OnOff = 'on' | 'off';

/** What an actuator drives: a GPIO line or a PWM channel. */
export interface ActuatorOutput {
  readonly current: OnOff;
  /** PWM outputs: the duty cycle, in [0, 1] */
  readonly duty?: number;
  apply(command: ActuatorCommand): Promise<OnOff>;
  release(): Promise<void>;
}

export class GpioOutput implements ActuatorOutput {
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

  async apply(command: ActuatorCommand): Promise<OnOff> {
    if (command.name !== 'on' && command.name !== 'off' && command.name !== 'toggle') throw new HalError('HAL_E_COMMAND_NOT_ALLOWED', `gpio${this.line.line} takes on, off or toggle`);
    const next: OnOff = command.name === 'toggle' ? (this.state === 'on' ? 'off' : 'on') : command.name;
    await this.line.write(next === 'on' ? 1 : 0);
    this.state = next;
    return next;
  }

  release(): Promise<void> {
    return this.line.release();
  }
}
