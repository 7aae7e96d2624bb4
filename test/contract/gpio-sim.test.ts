import { SimGpio } from '../../hal/gpio/sim';
import { describeGpioContract } from './gpio.contract';

describeGpioContract('sim', () => {
  const gpio = new SimGpio(28);
  return Promise.resolve({
    gpio,
    drive: (line, level) => Promise.resolve(gpio.drive(line, level)),
    level: (line) => Promise.resolve(gpio.levelOf(line)),
  });
});
