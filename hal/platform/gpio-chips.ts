/**
 * GPIO chips found by label (DESIGN §5): the sysfs number of a line is the chip's base plus the
 * line, and the base moves between kernels (Pi 4: 512 with 6.6+; Pi 5: 571 for pinctrl-rp1), so
 * it is read from /sys/class/gpio/gpiochip*, never assumed.
 */
import { HalError } from '../errors';
import type { SysRoot } from './root';

export interface GpioChip {
  label: string;
  base: number;
  ngpio: number;
  /** e.g. gpiochip512 */
  name: string;
}

export function gpioChips(r: SysRoot): GpioChip[] {
  const out: GpioChip[] = [];
  for (const name of r.list('/sys/class/gpio')) {
    if (!name.startsWith('gpiochip')) continue;
    const dir = `/sys/class/gpio/${name}`;
    const label = r.read(`${dir}/label`);
    const base = r.readNumber(`${dir}/base`);
    const ngpio = r.readNumber(`${dir}/ngpio`);
    if (label !== undefined && base !== undefined && ngpio !== undefined) out.push({ label, base, ngpio, name });
  }
  return out;
}

/** The sysfs number of `line` on the chip labelled `label`. */
export function gpioNumber(chips: readonly GpioChip[], label: string, line: number): number {
  const chip = chips.find((c) => c.label === label);
  if (!chip) {
    throw new HalError('HAL_E_UNAVAILABLE', `no GPIO chip labelled "${label}" on this board (found: ${chips.map((c) => c.label).join(', ') || 'none'}); is this the right board profile?`, { chip: label });
  }
  if (!Number.isInteger(line) || line < 0 || line >= chip.ngpio) {
    throw new HalError('HAL_E_PROFILE', `GPIO line ${line} is outside ${label} (${chip.ngpio} lines)`, { chip: label, line });
  }
  return chip.base + line;
}
