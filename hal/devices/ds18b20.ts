/**
 * DS18B20 temperature probes on the 1-Wire bus, through the kernel's w1 sysfs (DESIGN §5; enable
 * with `dtoverlay=w1-gpio` in config.txt). Each probe is /sys/bus/w1/devices/28-xxxxxxxxxxxx/:
 * newer kernels give `temperature` in milli-°C; every kernel gives `w1_slave`, two lines whose
 * first ends in `YES` when the CRC matched and whose second ends in `t=<milli-°C>`. A CRC failure
 * is HAL_E_BUS_IO (retried at the next poll); 85 °C with a good CRC is the power-on value, not a
 * measurement, and reads as "not ready".
 */
import { HalError } from '../errors';
import fs from 'node:fs';
import type { SysRoot } from '../platform/root';

const ID = /^28-[0-9a-f]{12}$/;

export class Ds18b20 {
  constructor(
    private readonly root: SysRoot,
    readonly id: string,
  ) {
    if (!ID.test(id)) throw new HalError('HAL_E_PROFILE', `"${id}" is not a DS18B20 1-Wire id (28-xxxxxxxxxxxx)`);
  }

  /**
   * The probe's temperature in °C. Read asynchronously: on a real bus the kernel takes ≈ 750 ms to
   * answer (a conversion), which must not stall the daemon's thread.
   */
  async read(): Promise<number> {
    const dir = `/sys/bus/w1/devices/${this.id}`;
    if (!this.root.exists(dir)) {
      throw new HalError('HAL_E_UNAVAILABLE', `1-Wire probe ${this.id} is not on the bus (wiring, the 4.7 kΩ pull-up, or "dtoverlay=w1-gpio" in config.txt)`, { device: this.id });
    }
    const direct = Number((await readText(this.root.path(`${dir}/temperature`))) ?? Number.NaN);
    if (Number.isFinite(direct)) return this.check(direct);
    const text = (await readText(this.root.path(`${dir}/w1_slave`))) ?? '';
    const [crc = '', data = ''] = text.split('\n');
    if (!/\bYES\s*$/.test(crc)) throw new HalError('HAL_E_BUS_IO', `1-Wire probe ${this.id}: CRC check failed`, { device: this.id });
    const m = /t=(-?\d+)\s*$/.exec(data);
    if (!m) throw new HalError('HAL_E_BUS_IO', `1-Wire probe ${this.id}: no reading in w1_slave`, { device: this.id });
    return this.check(Number(m[1]));
  }

  private check(milli: number): number {
    if (milli === 85_000) throw new HalError('HAL_E_BUSY', `1-Wire probe ${this.id} reports its power-on value; no conversion yet`, { device: this.id });
    if (milli < -55_000 || milli > 125_000) throw new HalError('HAL_E_BUS_IO', `1-Wire probe ${this.id}: ${milli / 1000} °C is outside the sensor's range`, { device: this.id });
    return milli / 1000;
  }
}

async function readText(p: string): Promise<string | undefined> {
  try {
    const t = (await fs.promises.readFile(p, 'utf8')).trim();
    return t === '' ? undefined : t;
  } catch {
    return undefined;
  }
}
