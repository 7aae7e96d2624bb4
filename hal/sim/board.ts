/** serialport's mock binding with a port per serial bus of the sim profile. */
function simBinding(): typeof MockBinding {
  for (const name of ['serial0']) MockBinding.createPort(name, { echo: false, record: false });
  return MockBinding;
}

/**
 * The simulated board behind `--board sim`: an I2C bus per profile bus with a register-level
 * BME280 at each bme280 device's address, GPIO lines, and a greenhouse whose climate drifts with
 * the time of day and answers the fan and heater relays, so agents see readings that change and
 * react to what they do.
 */
import { MockBinding } from '@serialport/binding-mock';
import { SimGpio } from '../gpio/sim';
import { SerialportBackend } from '../serial/serialport';
import type { HalBackends } from '../hal';
import { SimI2cBus } from '../i2c/sim';
import { RpicamProducer } from '../camera/rpicam';
import type { BoardProfile, CameraConfig } from '../profile/schema';
import { resolvePin } from '../profile/validate';
import { SimPwm } from '../pwm/sim';
import { Bme280Model, type Environment } from './bme280';

export class SimBoard implements HalBackends {
  readonly gpio: SimGpio;
  readonly pwm = new SimPwm();
  private readonly buses = new Map<string, SimI2cBus>();
  private readonly climates: Bme280Model[] = [];
  private timer: NodeJS.Timeout | undefined;
  private soilTimer: NodeJS.Timeout | undefined;
  /** soil moisture in %, dried by the day, reported by the simulated probe on serial0 */
  moisture = 48;
  readonly serial = new SerialportBackend(simBinding(), (_path, port) => {
    const device = port.port as { emitData?: (d: Buffer | string) => void } | undefined;
    this.soilTimer = setInterval(() => {
      this.moisture = Math.max(5, this.moisture - Math.random() * 0.05);
      device?.emitData?.(`moisture=${this.moisture.toFixed(1)} temp=${this.env.temperature.toFixed(1)}\r\n`);
    }, 1000);
    this.soilTimer.unref();
  });
  env: Environment = { temperature: 22, humidity: 55, pressure: 1013.25 };

  /** `cameraArgv`: how to run the fake rpicam-vid (dist/sim/fake-rpicam.mjs); no cameras without it */
  constructor(
    private readonly profile: BoardProfile,
    private readonly cameraArgv?: readonly string[],
  ) {
    this.gpio = new SimGpio(profile.gpio.chips.reduce((n, c) => n + c.lines, 0) || 28);
    for (const [name, bus] of Object.entries(profile.buses)) if (bus.kind === 'i2c') this.buses.set(name, new SimI2cBus(name));
    for (const d of profile.devices) {
      if (d.kind !== 'sensor' || d.driver !== 'bme280') continue;
      const model = new Bme280Model();
      model.setEnvironment(this.env);
      this.buses.get(d.bus ?? '')?.attach(d.address ?? 0x76, model);
      this.climates.push(model);
    }
  }

  i2c(bus: string): SimI2cBus {
    const b = this.buses.get(bus);
    if (!b) throw new Error(`sim board has no i2c bus ${bus}`);
    return b;
  }

  camera(config: CameraConfig): RpicamProducer | undefined {
    return this.cameraArgv ? new RpicamProducer({ argv: this.cameraArgv }, config) : undefined;
  }

  /** Starts the greenhouse clock: every `stepMs` the climate moves (and the models' registers follow). */
  startClimate(stepMs = 1000): void {
    this.timer = setInterval(() => this.step(stepMs / 1000), stepMs);
    this.timer.unref();
  }

  stopClimate(): void {
    if (this.timer) clearInterval(this.timer);
    if (this.soilTimer) clearInterval(this.soilTimer);
  }

  /** One step of the greenhouse: toward a daily outside swing, cooled by the fan, warmed by the heater. */
  step(seconds: number, at = new Date()): void {
    const hour = at.getHours() + at.getMinutes() / 60;
    const outside = 18 + 8 * Math.sin(((hour - 9) / 24) * 2 * Math.PI);
    const fan = this.relay('fan') === 1;
    const heater = this.relay('heater') === 1;
    const lamp = this.lampDuty();
    const e = this.env;
    e.temperature += ((outside - e.temperature) * 0.002 + (heater ? 0.02 : 0) + lamp * 0.005 - (fan ? 0.03 : 0)) * seconds;
    e.humidity = Math.min(95, Math.max(20, e.humidity + ((fan ? -0.02 : 0.01) + (Math.random() - 0.5) * 0.02) * seconds));
    e.pressure += (Math.random() - 0.5) * 0.01 * seconds;
    for (const m of this.climates) m.setEnvironment(e);
  }

  /** the grow lights' summed duty: lamps warm the greenhouse a little */
  private lampDuty(): number {
    let sum = 0;
    for (const d of this.profile.devices) {
      const bus = d.kind === 'actuator' && d.driver === 'pwm' ? this.profile.buses[d.bus ?? ''] : undefined;
      const s = bus && d.kind === 'actuator' ? this.pwm.stateOf(bus.device, d.channel ?? 0) : undefined;
      if (s?.enabled) sum += s.duty;
    }
    return sum;
  }

  private relay(id: string): number | undefined {
    const d = this.profile.devices.find((x) => x.id === id);
    if (!d || d.kind !== 'actuator' || d.pin === undefined) return undefined;
    const line = resolvePin(this.profile, d.pin);
    return line === undefined ? undefined : this.gpio.levelOf(line);
  }
}
