/** The real I2C backend without a Pi: the bus is looked up first, and a missing package or bus is a clear HAL_E_UNAVAILABLE. */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HalError } from '../../../../hal/errors';
import { LinuxI2cBus } from '../../../../hal/i2c/linux';
import { piBackends } from '../../../../hal/pi/backends';
import { SysRoot } from '../../../../hal/platform/root';
import { loadProfile } from '../../../../hal/profile/load';
import { FIXTURES, REPO } from '../../../helpers/tmp';

describe('LinuxI2cBus', () => {
  it('fails with the lookup error, or says the optional package is missing; never hangs the queue', async () => {
    const bus = new LinuxI2cBus('i2c1', () => {
      throw new HalError('HAL_E_UNAVAILABLE', 'I2C bus "i2c1" (/soc/i2c@7e804000) is not enabled');
    });
    await expect(bus.readRegisters(0x76, 0xd0, 1)).rejects.toMatchObject({ code: 'HAL_E_UNAVAILABLE' });
    const onPi = piBackends(loadProfile('raspberrypi-4b', [path.join(REPO, 'boards')]), new SysRoot(path.join(FIXTURES, 'boards/pi4')));
    // the Pi 4 tree has /dev/i2c-1 behind the alias, this machine has not: with the (optional)
    // i2c-bus package the open fails on the missing node, without it the package is named
    await expect(onPi.i2c('i2c1').readRegisters(0x76, 0xd0, 1)).rejects.toMatchObject({ code: 'HAL_E_UNAVAILABLE', message: expect.stringMatching(/device node is missing|i2c-bus package is not installed/) as unknown });
    await expect(onPi.i2c('nope').writeRegister(0x76, 0xf4, 0)).rejects.toMatchObject({ code: 'HAL_E_PROFILE' });
    await bus.close();
    await expect(bus.writeRegister(0x76, 0xf4, 0)).rejects.toMatchObject({ message: expect.stringContaining('closed') as unknown });
  });
});
