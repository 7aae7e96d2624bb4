/**
 * Board profiles, schema `openstarry.board/v1` (DESIGN §5): board facts as data. A profile names
 * the board (`match` against /proc/device-tree/model), its GPIO chips by label, reserved lines,
 * named buses with the config.txt line each needs, pin aliases, and devices (sensors, actuators,
 * cameras) with their channels. `sensorTypes` says which device answers `getSensorData(type)`.
 */
import * as z from 'zod';

const id = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'ids are lower-case words: letters, digits, _ and -');
/** `gpio17` or an alias from `aliases` */
const pinRef = z.string().regex(/^[a-z][a-z0-9_-]{0,62}$/, 'a pin is gpioN or an alias');

const channel = z.strictObject({
  unit: z.string().max(16),
  scale: z.number().default(1).describe('value = raw * scale + offset'),
  offset: z.number().default(0),
  min: z.number().optional().describe('readings are clamped to [min, max]'),
  max: z.number().optional(),
  decimals: z.number().int().min(0).max(6).default(2),
});

const interlock = z.strictObject({
  device: id.describe('another actuator'),
  state: z.string().max(32).describe('while that actuator is in this state…'),
  forbid: z.array(z.string().max(32)).min(1).describe('…these commands are refused'),
});

const base = {
  id,
  description: z.string().max(200).optional(),
};

export const sensorDevice = z.strictObject({
  ...base,
  kind: z.literal('sensor'),
  driver: z.enum(['bme280', 'gpio-in', 'serial-line', 'ds18b20']),
  bus: id.optional(),
  w1: z.string().regex(/^28-[0-9a-f]{12}$/, 'a DS18B20 1-Wire id like 28-0316a2794bff').optional().describe('ds18b20: the probe id under /sys/bus/w1/devices'),
  address: z.number().int().min(0x03).max(0x77).optional().describe('I2C address'),
  pin: pinRef.optional(),
  pull: z.enum(['up', 'down', 'none']).default('none'),
  activeLow: z.boolean().default(false),
  debounceMs: z.number().int().min(0).max(10_000).default(0),
  pollMs: z.number().int().min(10).max(3_600_000).default(1000),
  channels: z.record(id, channel),
});

export const actuatorDevice = z.strictObject({
  ...base,
  kind: z.literal('actuator'),
  driver: z.enum(['gpio-out', 'pwm']),
  pin: pinRef.optional().describe('gpio-out: the line it drives; pwm: the line the PWM function is on (reserved for it)'),
  activeLow: z.boolean().default(false),
  bus: id.optional().describe('pwm: a bus of kind pwm (the controller)'),
  channel: z.number().int().min(0).max(15).optional().describe("pwm: the controller's channel"),
  frequencyHz: z.number().min(0.1).max(50_000_000).default(1000).describe('pwm: the output frequency'),
  onDuty: z.number().min(0).max(1).default(1).describe('pwm: the duty cycle that "on" sets'),
  commands: z.array(z.enum(['on', 'off', 'toggle', 'duty'])).min(1).describe('the allow-list of commands (duty: pwm only)'),
  safeState: z.enum(['on', 'off']).default('off').describe('applied at HAL start, when its owner exits, and at stop'),
  minIntervalMs: z.number().int().min(0).max(86_400_000).default(0).describe('refuse commands closer together than this'),
  maxOnMs: z.number().int().min(0).max(86_400_000).default(0).describe('turn off after this long on (0 = no limit)'),
  interlocks: z.array(interlock).max(16).default([]),
});

export const cameraDevice = z.strictObject({
  ...base,
  kind: z.literal('camera'),
  driver: z.enum(['rpicam', 'sim-camera']),
  width: z.number().int().min(16).max(8192).default(640),
  height: z.number().int().min(16).max(8192).default(480),
  fps: z.number().int().min(1).max(120).default(10),
});

export const deviceSchema = z.discriminatedUnion('kind', [sensorDevice, actuatorDevice, cameraDevice]);

const bus = z.strictObject({
  kind: z.enum(['i2c', 'serial', 'pwm']),
  /** device-tree alias or device path (i2c, serial), or the PWM controller's device-tree node (pwm): resolved by the platform layer */
  device: z.string().max(256),
  baudRate: z.number().int().min(50).max(4_000_000).optional(),
  configTxt: z.string().max(200).optional().describe('the config.txt line that enables this bus'),
});

export const profileSchema = z.strictObject({
  schema: z.literal('openstarry.board/v1'),
  name: id,
  description: z.string().max(200).optional(),
  extends: id.optional(),
  match: z.strictObject({ model: z.array(z.string().max(200)).min(1) }).optional(),
  gpio: z
    .strictObject({
      chips: z.array(z.strictObject({ label: z.string().max(64), lines: z.number().int().min(1).max(1024) })).default([]),
      reserved: z.array(z.number().int().min(0).max(1023)).default([]),
    })
    .prefault({}),
  buses: z.record(id, bus).default({}),
  aliases: z.record(id, pinRef).default({}),
  devices: z.array(deviceSchema).max(256).default([]),
  sensorTypes: z.record(id, z.string().regex(/^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)?$/, 'a sensor type maps to "device" or "device.channel"')).default({}),
});

export type BoardProfile = z.infer<typeof profileSchema>;
export type DeviceConfig = z.infer<typeof deviceSchema>;
export type SensorConfig = z.infer<typeof sensorDevice>;
export type ActuatorConfig = z.infer<typeof actuatorDevice>;
export type CameraConfig = z.infer<typeof cameraDevice>;
export type ChannelConfig = z.infer<typeof channel>;
