/**
 * The HAL's backends on a real Raspberry Pi (DESIGN §5): GPIO over sysfs by chip label, I2C by
 * device-tree alias through i2c-bus, serial through serialport's native binding on the tty behind
 * the profile's device (`serial0` → /dev/serial0 → /dev/ttyS0), PWM through sysfs by controller
 * node, cameras through `rpicam-vid`.
 * Everything native is imported only when first used, and every lookup goes through a SysRoot.
 */
import { RpicamProducer } from '../camera/rpicam';
import { Ds18b20 } from '../devices/ds18b20';
import { HalError } from '../errors';
import type { GpioBackend } from '../gpio/gpio';
import { SysfsGpio } from '../gpio/sysfs';
import type { HalBackends } from '../hal';
import { LinuxI2cBus } from '../i2c/linux';
import { i2cDevice, serialDevice } from '../platform/buses';
import { SysRoot } from '../platform/root';
import type { BoardProfile } from '../profile/schema';
import { SerialportBackend } from '../serial/serialport';
import { SysfsPwm } from '../pwm/sysfs';

export function piBackends(profile: BoardProfile, root = new SysRoot('/'), opts: { cameraArgv?: readonly string[] } = {}): HalBackends & { gpioWarnings(): string[] } {
  const chip = profile.gpio.chips[0]?.label;
  const sysfs = chip ? new SysfsGpio({ root, chip }) : undefined;
  const gpio: GpioBackend = sysfs ?? {
    request: () => Promise.reject(new HalError('HAL_E_PROFILE', `board ${profile.name} names no GPIO chip (gpio.chips)`)),
    close: () => Promise.resolve(),
  };
  const serial = new SerialportBackend();
  return {
    gpio,
    gpioWarnings: () => sysfs?.warnings ?? [],
    i2c: (bus) => {
      const b = profile.buses[bus];
      return new LinuxI2cBus(bus, () => {
        if (!b || b.kind !== 'i2c') throw new HalError('HAL_E_PROFILE', `no I2C bus "${bus}" in board ${profile.name}`);
        return root.path(i2cDevice(root, b.device, b.configTxt));
      });
    },
    serial: {
      open: (device, baudRate) => {
        const b = Object.values(profile.buses).find((x) => x.kind === 'serial' && x.device === device);
        return serial.open(root.path(serialDevice(root, device, b?.configTxt)), baudRate);
      },
    },
    pwm: new SysfsPwm({ root, configTxt: (chip) => Object.values(profile.buses).find((x) => x.kind === 'pwm' && x.device === chip)?.configTxt }),
    oneWire: (id) => new Ds18b20(root, id),
    camera: (cfg) => new RpicamProducer({ argv: opts.cameraArgv ?? ['rpicam-vid'] }, { width: cfg.width, height: cfg.height, fps: cfg.fps }),
  };
}
