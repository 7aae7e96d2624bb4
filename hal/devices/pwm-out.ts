/**
 * A PWM output device (a dimmable grow light, a fan's speed, a valve driver): `on` sets its
 * `onDuty`, `off` duty 0, `toggle` between them, and `duty` any fraction. It is "on" while its
 * duty is above 0, which is what interlocks and max-on see.
 */
import type { ActuatorCommand } from '../command';
import { HalError } from '../errors';
import type { PwmChannel } from '../pwm/pwm';
import type { ActuatorOutput, OnOff } from './gpio-out';

export class PwmOutput implements ActuatorOutput {
  constructor(
    private readonly channel: PwmChannel,
    private readonly onDuty: number,
  ) {}

  get duty(): number {
    return this.channel.duty;
  }

  get current(): OnOff {
    return this.channel.duty > 0 ? 'on' : 'off';
  }

  async apply(command: ActuatorCommand): Promise<OnOff> {
    const target = 'duty' in command ? command.duty : command.name === 'on' ? this.onDuty : command.name === 'off' ? 0 : command.name === 'toggle' ? (this.current === 'on' ? 0 : this.onDuty) : undefined;
    if (target === undefined) throw new HalError('HAL_E_COMMAND_NOT_ALLOWED', `pwm ${this.channel.name} takes on, off, toggle or a duty`);
    await this.channel.set(target);
    return this.current;
  }

  release(): Promise<void> {
    return this.channel.release();
  }
}
