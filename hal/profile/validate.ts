/**
 * Cross-field checks of a merged board profile (DESIGN §5): a pin used twice, a reserved pin, an
 * unknown alias or bus, a sensor type pointing nowhere, an interlock with a device that is not an
 * actuator. Every problem is reported, each with its path and a fix.
 */
import type { BoardProfile, DeviceConfig } from './schema';

export interface ProfileProblem {
  path: string;
  message: string;
  fix: string;
}

const GPIO = /^gpio(\d{1,4})$/;

/** The GPIO line a pin reference names: `gpioN`, or an alias of one (one level). */
export function resolvePin(profile: Pick<BoardProfile, 'aliases'>, ref: string): number | undefined {
  const target = GPIO.test(ref) ? ref : profile.aliases[ref];
  const m = target ? GPIO.exec(target) : null;
  return m ? Number(m[1]) : undefined;
}

export function validateProfile(p: BoardProfile): ProfileProblem[] {
  const problems: ProfileProblem[] = [];
  const ids = new Map<string, number>();
  const pins = new Map<number, string>();
  const reserved = new Set(p.gpio.reserved);
  const lines = p.gpio.chips.reduce((n, c) => n + c.lines, 0);
  const known = (o: Record<string, unknown>): string => Object.keys(o).join(', ') || 'none';

  for (const [alias, target] of Object.entries(p.aliases)) {
    if (!GPIO.test(target)) problems.push({ path: `aliases.${alias}`, message: `"${target}" is not a GPIO line`, fix: 'aliases name lines as gpioN' });
  }
  p.devices.forEach((d, i) => {
    const at = `devices[${i}] (${d.id})`;
    if (ids.has(d.id)) problems.push({ path: `${at}.id`, message: `device id "${d.id}" is used twice`, fix: 'give every device its own id' });
    ids.set(d.id, i);
    if ('pin' in d && d.pin !== undefined) checkPin(p, d, d.pin, at, { pins, reserved, lines, problems });
    if (d.kind === 'sensor') checkSensorWiring(p, d, at, problems, known);
    if (d.kind === 'actuator') checkActuatorWiring(p, d, at, problems, known);
  });
  p.devices.forEach((d, i) => {
    if (d.kind !== 'actuator') return;
    d.interlocks.forEach((l, j) => {
      const other = p.devices.find((x) => x.id === l.device);
      if (!other || other.kind !== 'actuator') {
        problems.push({ path: `devices[${i}] (${d.id}).interlocks[${j}].device`, message: `"${l.device}" is not an actuator of this board`, fix: `name one of: ${actuators(p.devices)}` });
      }
    });
  });
  for (const [type, ref] of Object.entries(p.sensorTypes)) {
    const [devId = '', ch] = ref.split('.');
    const dev = p.devices.find((x) => x.id === devId);
    if (!dev || dev.kind !== 'sensor') {
      problems.push({ path: `sensorTypes.${type}`, message: `"${devId}" is not a sensor of this board`, fix: `name one of: ${p.devices.filter((x) => x.kind === 'sensor').map((x) => x.id).join(', ') || 'none'}` });
    } else if ((ch ?? type) && !Object.hasOwn(dev.channels, ch ?? type)) {
      problems.push({ path: `sensorTypes.${type}`, message: `sensor "${devId}" has no channel "${ch ?? type}"`, fix: `use one of: ${known(dev.channels)}` });
    }
  }
  return problems;
}

function actuators(devices: readonly DeviceConfig[]): string {
  return devices.filter((x) => x.kind === 'actuator').map((x) => x.id).join(', ') || 'none';
}

function checkPin(
  p: BoardProfile,
  d: DeviceConfig,
  ref: string,
  at: string,
  ctx: { pins: Map<number, string>; reserved: Set<number>; lines: number; problems: ProfileProblem[] },
): void {
  const line = resolvePin(p, ref);
  if (line === undefined) {
    ctx.problems.push({ path: `${at}.pin`, message: `unknown pin or alias "${ref}"`, fix: `use gpioN or one of the aliases: ${Object.keys(p.aliases).join(', ') || 'none'}` });
    return;
  }
  if (ctx.reserved.has(line)) ctx.problems.push({ path: `${at}.pin`, message: `gpio${line} is reserved on this board`, fix: 'choose a free line (gpio.reserved lists the taken ones)' });
  if (ctx.lines > 0 && line >= ctx.lines) ctx.problems.push({ path: `${at}.pin`, message: `gpio${line} is beyond the board's ${ctx.lines} lines`, fix: 'check the line number' });
  const other = ctx.pins.get(line);
  if (other) ctx.problems.push({ path: `${at}.pin`, message: `gpio${line} is already used by "${other}"`, fix: 'every line drives one device' });
  ctx.pins.set(line, d.id);
}

function checkSensorWiring(p: BoardProfile, d: Extract<DeviceConfig, { kind: 'sensor' }>, at: string, problems: ProfileProblem[], known: (o: Record<string, unknown>) => string): void {
  const needBus = d.driver === 'bme280' ? 'i2c' : d.driver === 'serial-line' ? 'serial' : undefined;
  if (needBus) {
    const b = d.bus ? p.buses[d.bus] : undefined;
    if (!d.bus || !b) problems.push({ path: `${at}.bus`, message: `driver ${d.driver} needs a ${needBus} bus${d.bus ? `; "${d.bus}" is not defined` : ''}`, fix: `name one of the buses: ${known(p.buses)}` });
    else if (b.kind !== needBus) problems.push({ path: `${at}.bus`, message: `"${d.bus}" is a ${b.kind} bus; driver ${d.driver} needs ${needBus}`, fix: 'pick a bus of the right kind' });
  }
  if (d.driver === 'bme280' && d.address === undefined) problems.push({ path: `${at}.address`, message: 'an I2C sensor needs its address', fix: 'BME280 answers at 0x76 or 0x77' });
  if (d.driver === 'ds18b20' && d.w1 === undefined) problems.push({ path: `${at}.w1`, message: 'a DS18B20 needs its 1-Wire id', fix: 'ls /sys/bus/w1/devices/ on the board lists the probes (28-…)' });
  if (d.driver === 'gpio-in' && d.pin === undefined) problems.push({ path: `${at}.pin`, message: 'a GPIO input needs a pin', fix: 'set pin: gpioN or an alias' });
  if (Object.keys(d.channels).length === 0) problems.push({ path: `${at}.channels`, message: 'a sensor needs at least one channel', fix: 'list its channels with their units' });
}

function checkActuatorWiring(p: BoardProfile, d: Extract<DeviceConfig, { kind: 'actuator' }>, at: string, problems: ProfileProblem[], known: (o: Record<string, unknown>) => string): void {
  if (d.driver === 'gpio-out') {
    if (d.pin === undefined) problems.push({ path: `${at}.pin`, message: 'a GPIO output needs a pin', fix: 'set pin: gpioN or an alias' });
    if (d.commands.includes('duty')) problems.push({ path: `${at}.commands`, message: 'a GPIO output has no duty cycle', fix: 'use driver: pwm for a dimmable output, or drop "duty"' });
    return;
  }
  const b = d.bus ? p.buses[d.bus] : undefined;
  if (!d.bus || !b) problems.push({ path: `${at}.bus`, message: `driver pwm needs a pwm bus${d.bus ? `; "${d.bus}" is not defined` : ''}`, fix: `name one of the buses: ${known(p.buses)}` });
  else if (b.kind !== 'pwm') problems.push({ path: `${at}.bus`, message: `"${d.bus}" is a ${b.kind} bus; driver pwm needs pwm`, fix: 'pick a bus of kind pwm' });
  if (d.channel === undefined) problems.push({ path: `${at}.channel`, message: 'a PWM output needs its channel', fix: "channel: 0 or 1 on a Pi 4's PWM0 (GPIO18, GPIO19); 2 or 3 on a Pi 5" });
}
