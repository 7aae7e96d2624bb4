import { SimPwm } from '../../hal/pwm/sim';
import { describePwmContract } from './pwm.contract';

describePwmContract('simulated controller', () => {
  const pwm = new SimPwm();
  return Promise.resolve({ pwm, chip: 'sim-pwm', output: (channel: number) => Promise.resolve(pwm.stateOf('sim-pwm', channel)) });
});
