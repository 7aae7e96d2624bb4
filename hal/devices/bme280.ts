/**
 * BME280 driver, written once against the I2C contract (DESIGN §5): checks the chip id, reads the
 * factory calibration, puts the sensor in normal mode (x1 oversampling, 1 s standby) and turns
 * one burst read of 0xF7..0xFE into °C, %RH and hPa with the datasheet compensation.
 */
import { HalError } from '../errors';
import type { I2cBus } from '../i2c/i2c';
import { type Bme280Calibration, compensateHumidity, compensatePressure, compensateTemperature, decodeCalibration } from './bme280-compensation';

export const BME280_CHIP_ID = 0x60;

export interface Bme280Reading {
  temperature: number;
  humidity: number;
  /** hPa */
  pressure: number;
}

export class Bme280 {
  private cal: Bme280Calibration | undefined;

  constructor(
    private readonly bus: I2cBus,
    private readonly address: number,
  ) {}

  async init(): Promise<void> {
    const id = (await this.bus.readRegisters(this.address, 0xd0, 1))[0];
    if (id !== BME280_CHIP_ID) {
      throw new HalError('HAL_E_BUS_IO', `device at 0x${this.address.toString(16)} on ${this.bus.name} answers chip id 0x${(id ?? 0).toString(16)}, not a BME280 (0x60)`, { address: this.address });
    }
    this.cal = decodeCalibration(await this.bus.readRegisters(this.address, 0x88, 26), await this.bus.readRegisters(this.address, 0xe1, 7));
    await this.bus.writeRegister(this.address, 0xf2, 0x01); // ctrl_hum: humidity x1 (takes effect with ctrl_meas)
    await this.bus.writeRegister(this.address, 0xf5, 0xa0); // config: standby 1000 ms, filter off
    await this.bus.writeRegister(this.address, 0xf4, 0x27); // ctrl_meas: T x1, P x1, normal mode
  }

  async read(): Promise<Bme280Reading> {
    const cal = this.cal;
    if (!cal) throw new HalError('HAL_E_BUSY', 'BME280 is not initialised');
    const d = await this.bus.readRegisters(this.address, 0xf7, 8);
    const adcP = ((d[0] ?? 0) << 12) | ((d[1] ?? 0) << 4) | ((d[2] ?? 0) >> 4);
    const adcT = ((d[3] ?? 0) << 12) | ((d[4] ?? 0) << 4) | ((d[5] ?? 0) >> 4);
    const adcH = ((d[6] ?? 0) << 8) | (d[7] ?? 0);
    if (adcT === 0x80000) throw new HalError('HAL_E_BUSY', 'BME280 has no measurement yet');
    const { celsius, tFine } = compensateTemperature(adcT, cal);
    return { temperature: celsius, pressure: compensatePressure(adcP, tFine, cal) / 100, humidity: compensateHumidity(adcH, tFine, cal) };
  }
}
