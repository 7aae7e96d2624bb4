import { SimI2cBus } from '../../hal/i2c/sim';
import { describeI2cContract } from './i2c.contract';

describeI2cContract('sim', () => {
  const bus = new SimI2cBus('i2c1');
  const regs = new Map<number, number>();
  bus.attach(0x40, { read: (r) => regs.get(r) ?? 0, write: (r, v) => void regs.set(r, v) });
  return Promise.resolve({ bus, present: 0x40, absent: 0x41 });
});
