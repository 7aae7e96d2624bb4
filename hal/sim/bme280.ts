/**
 * A register-level BME280 (Bosch BST-BME280-DS002): chip id 0x60 at 0xD0, soft reset at 0xE0,
 * calibration at 0x88..0xA1 and 0xE1..0xE7, ctrl_hum/ctrl_meas/config, and the burst data
 * registers 0xF7..0xFE. Readings come from a wanted environment, turned into raw ADC values by
 * inverting the datasheet compensation, or from raw values set directly (the worked example).
 */
import type { I2cDeviceModel } from '../i2c/i2c';
import { type Bme280Calibration, compensateHumidity, compensatePressure, compensateTemperature, encodeCalibration } from '../devices/bme280-compensation';

/** Typical calibration of a real part (T and P from the datasheet's worked example). */
export const EXAMPLE_CALIBRATION: Bme280Calibration = {
  T1: 27504, T2: 26435, T3: -1000,
  P1: 36477, P2: -10685, P3: 3024, P4: 2855, P5: 140, P6: -7, P7: 15500, P8: -14600, P9: 6000,
  H1: 75, H2: 362, H3: 0, H4: 313, H5: 50, H6: 30,
};

export interface Environment {
  temperature: number;
  humidity: number;
  /** hPa */
  pressure: number;
}

export class Bme280Model implements I2cDeviceModel {
  private readonly regs = new Map<number, number>();
  private adc = { T: 0x80000, P: 0x80000, H: 0x8000 };

  constructor(private readonly cal: Bme280Calibration = EXAMPLE_CALIBRATION) {
    this.reset();
  }

  read(register: number): number {
    return this.regs.get(register) ?? 0;
  }

  write(register: number, value: number): void {
    if (register === 0xe0 && value === 0xb6) return this.reset();
    if ([0xf2, 0xf4, 0xf5].includes(register)) this.regs.set(register, value);
    if (register === 0xf4) this.latch();
  }

  /** Sets raw ADC values, as in the datasheet's worked example. */
  setRaw(adcT: number, adcP: number, adcH: number): void {
    this.adc = { T: adcT, P: adcP, H: adcH };
    this.latch();
  }

  /** Produces the raw values that the compensation maps to this environment. */
  setEnvironment(env: Environment): void {
    const T = bisect((x) => compensateTemperature(x, this.cal).celsius, env.temperature, 0, 0xfffff, true);
    const { tFine } = compensateTemperature(T, this.cal);
    const P = bisect((x) => compensatePressure(x, tFine, this.cal) / 100, env.pressure, 0, 0xfffff, false);
    const H = bisect((x) => compensateHumidity(x, tFine, this.cal), env.humidity, 0, 0xffff, true);
    this.setRaw(T, P, H);
  }

  /** Measurements appear in the data registers only in normal or forced mode (ctrl_meas[1:0]). */
  private latch(): void {
    const mode = (this.regs.get(0xf4) ?? 0) & 0x03;
    if (mode === 0) return;
    this.regs.set(0xf7, (this.adc.P >> 12) & 0xff);
    this.regs.set(0xf8, (this.adc.P >> 4) & 0xff);
    this.regs.set(0xf9, (this.adc.P & 0x0f) << 4);
    this.regs.set(0xfa, (this.adc.T >> 12) & 0xff);
    this.regs.set(0xfb, (this.adc.T >> 4) & 0xff);
    this.regs.set(0xfc, (this.adc.T & 0x0f) << 4);
    this.regs.set(0xfd, (this.adc.H >> 8) & 0xff);
    this.regs.set(0xfe, this.adc.H & 0xff);
  }

  private reset(): void {
    this.regs.clear();
    this.regs.set(0xd0, 0x60);
    for (const [r, v] of encodeCalibration(this.cal)) this.regs.set(r, v);
    // After reset the data registers hold the "skipped" values 0x80000 / 0x8000.
    this.regs.set(0xf7, 0x80);
    this.regs.set(0xfa, 0x80);
    this.regs.set(0xfd, 0x80);
  }

  /** Called by ctrl_meas writes through write(); exposed so a sim clock can refresh readings. */
  refresh(): void {
    this.latch();
  }
}

function bisect(f: (x: number) => number, target: number, lo: number, hi: number, increasing: boolean): number {
  for (let i = 0; i < 40 && lo < hi; i++) {
    const mid = Math.floor((lo + hi) / 2);
    const below = increasing ? f(mid) < target : f(mid) > target;
    if (below) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
