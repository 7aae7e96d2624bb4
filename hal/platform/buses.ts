/**
 * The board's identity and buses from the device tree and /dev (DESIGN §5): the model string,
 * the I2C adapter behind a device-tree alias (`i2c1` → /dev/i2c-N, matched through each adapter's
 * of_node), and the primary UART behind /dev/serial0.
 */
import { HalError } from '../errors';
import type { SysRoot } from './root';

export function boardModel(r: SysRoot): string | undefined {
  return r.read('/proc/device-tree/model');
}

/** /dev/i2c-N for a device-tree alias such as `i2c1`; HAL_E_UNAVAILABLE (with the config.txt hint) when absent. */
export function i2cDevice(r: SysRoot, alias: string, configTxt?: string): string {
  const hint = configTxt ? `; enable it with "${configTxt}" in /boot/firmware/config.txt and reboot` : '';
  const node = r.read(`/proc/device-tree/aliases/${alias}`);
  if (!node) throw new HalError('HAL_E_UNAVAILABLE', `the device tree has no alias "${alias}"${hint}`, { bus: alias });
  for (const adapter of r.list('/sys/bus/i2c/devices')) {
    if (!/^i2c-\d+$/.test(adapter)) continue;
    const target = r.resolveLink(`/sys/bus/i2c/devices/${adapter}/of_node`);
    if (target && (target === node || target.endsWith(`/base${node}`) || target.endsWith(node))) {
      const dev = `/dev/${adapter}`;
      // i2c-bus's scan() hides a missing device node: check it ourselves.
      if (!r.exists(dev)) throw new HalError('HAL_E_UNAVAILABLE', `${dev} is missing (is i2c-dev loaded?)${hint}`, { bus: alias });
      return dev;
    }
  }
  throw new HalError('HAL_E_UNAVAILABLE', `I2C bus "${alias}" (${node}) is not enabled${hint}`, { bus: alias });
}

/** The tty behind /dev/serial0 (or another serial alias link). */
export function serialDevice(r: SysRoot, name: string, configTxt?: string): string {
  const link = `/dev/${name}`;
  const target = r.resolveLink(link);
  if (target && r.exists(target)) return target;
  if (!target && r.exists(link)) return link;
  throw new HalError('HAL_E_UNAVAILABLE', `${link} is missing${configTxt ? `; enable the UART with "${configTxt}" in /boot/firmware/config.txt` : ''}`, { bus: name });
}


/**
 * The sysfs folder (`/sys/class/pwm/pwmchipN`) of the PWM controller at device-tree node `node`
 * (fe20c000.pwm on a Pi 4, 1f00098000.pwm on a Pi 5): N depends on probe order, so match each
 * chip's link into /sys/devices instead of trusting a number.
 */
export function pwmChip(r: SysRoot, node: string, configTxt?: string): string {
  for (const chip of r.list('/sys/class/pwm')) {
    if (!/^pwmchip\d+$/.test(chip)) continue;
    const target = r.resolveLink(`/sys/class/pwm/${chip}`);
    if (target?.split('/').includes(node)) return `/sys/class/pwm/${chip}`;
  }
  const hint = configTxt ? `; enable it with "${configTxt}" in /boot/firmware/config.txt and reboot` : '';
  throw new HalError('HAL_E_UNAVAILABLE', `PWM controller ${node} is not enabled${hint}`, { bus: node });
}
