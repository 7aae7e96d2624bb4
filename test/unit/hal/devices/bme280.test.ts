import { describe, expect, it } from 'vitest';
import { Bme280 } from '../../../../hal/devices/bme280';
import { HalError } from '../../../../hal/errors';
import { SimI2cBus } from '../../../../hal/i2c/sim';
import { Bme280Model, EXAMPLE_CALIBRATION } from '../../../../hal/sim/bme280';

async function rig(): Promise<{ bus: SimI2cBus; model: Bme280Model; sensor: Bme280 }> {
  const bus = new SimI2cBus('i2c1');
  const model = new Bme280Model(EXAMPLE_CALIBRATION);
  bus.attach(0x76, model);
  const sensor = new Bme280(bus, 0x76);
  await sensor.init();
  return { bus, model, sensor };
}

describe('BME280 driver on the simulated bus', () => {
  it("reproduces the datasheet's worked example: adc_T 519888 → 25.08 °C, adc_P 415148 → 100653.27 Pa", async () => {
    const { model, sensor } = await rig();
    model.setRaw(519888, 415148, 0x6000);
    const r = await sensor.read();
    expect(r.temperature).toBeCloseTo(25.08, 2);
    expect(r.pressure * 100).toBeCloseTo(100653.27, 1);
  });

  it('reads back an environment set on the model, through the real register path', async () => {
    const { model, sensor } = await rig();
    for (const env of [
      { temperature: 21.5, humidity: 55, pressure: 1013.2 },
      { temperature: -12.25, humidity: 90, pressure: 950 },
      { temperature: 38, humidity: 12.5, pressure: 1040 },
    ]) {
      model.setEnvironment(env);
      const r = await sensor.read();
      expect(r.temperature).toBeCloseTo(env.temperature, 1);
      expect(r.humidity).toBeCloseTo(env.humidity, 0);
      expect(r.pressure).toBeCloseTo(env.pressure, 0);
    }
  });

  it('reports a NACK, a wrong chip and no measurement yet with stable codes', async () => {
    const { bus, sensor, model } = await rig();
    model.setEnvironment({ temperature: 20, humidity: 50, pressure: 1000 });
    bus.failNext(0x76);
    await expect(sensor.read()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO', details: { errno: 'EREMOTEIO' } });
    await expect(sensor.read()).resolves.toBeDefined();
    // A slow device: transfers wait, stay whole, and keep their order on the bus.
    bus.setLatency(0x76, 20);
    const [a, b] = await Promise.all([sensor.read(), sensor.read()]);
    expect(a.temperature).toBeCloseTo(20, 1);
    expect(b).toEqual(a);
    bus.setLatency(0x76, 0);
    bus.stick(0x76, 0xd0, 0x58);
    await expect(new Bme280(bus, 0x76).init()).rejects.toThrow(/not a BME280/);
    const fresh = new SimI2cBus('i2c1');
    fresh.attach(0x76, new Bme280Model());
    const cold = new Bme280(fresh, 0x76);
    await expect(cold.read()).rejects.toBeInstanceOf(HalError);
    await expect(new Bme280(fresh, 0x77).init()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
  });
});
