/** A simulated PWM controller: channels keep what was set, for the sim board and the tests above it. */
import { HalError } from '../errors';
import type { PwmBackend, PwmChannel } from './pwm';

export interface SimPwmState {
  frequencyHz: number;
  duty: number;
  enabled: boolean;
}

export class SimPwm implements PwmBackend {
  private readonly channels = new Map<string, SimPwmState>();

  /** what the "hardware" of `chip`/`channel` is doing now */
  stateOf(chip: string, channel: number): SimPwmState | undefined {
    return this.channels.get(`${chip}/${channel}`);
  }

  open(chip: string, channel: number, frequencyHz: number, initialDuty = 0): Promise<PwmChannel> {
    const name = `${chip}/${channel}`;
    const held = this.channels.get(name);
    if (held?.enabled) return Promise.reject(new HalError('HAL_E_BUSY', `pwm ${name} is already in use`));
    const state: SimPwmState = { frequencyHz, duty: initialDuty, enabled: true };
    this.channels.set(name, state);
    let released = false;
    return Promise.resolve({
      name,
      get duty() {
        return state.duty;
      },
      set: (duty: number) => {
        if (released) return Promise.reject(new HalError('HAL_E_BUS_IO', `pwm ${name} was released`));
        state.duty = duty;
        return Promise.resolve();
      },
      release: () => {
        released = true;
        state.enabled = false;
        state.duty = 0;
        return Promise.resolve();
      },
    });
  }
}
