/**
 * The HAL facade (DESIGN §5): the single owner of hardware. It serves the seed's interface —
 * getSensorData, controlActuator, getCameraStream — plus getSensorReading and list(), checks
 * every call against the caller's grants (deny by default), keeps actuators safe (leases,
 * allow-lists, intervals, max-on, interlocks, safe states) and audits every actuation and
 * denial. Sensors are polled at the profile's rates into a mirror of latest readings, so reads
 * never wait on a bus; each poll emits `hal:sensor.<type>`.
 */
import { Actuator } from './actuator';
import { Bme280 } from './devices/bme280';
import { GpioInput } from './devices/gpio-in';
import { GpioOutput, type ActuatorOutput } from './devices/gpio-out';
import { PwmOutput } from './devices/pwm-out';
import { commandText, parseCommand } from './command';
import type { PwmBackend } from './pwm/pwm';
import { ReopeningSerialLine } from './devices/serial-line';
import type { SerialBackend } from './serial/serial';
import { HalError } from './errors';
import type { GpioBackend } from './gpio/gpio';
import type { I2cBus } from './i2c/i2c';
import { actorOf, type AuditSink, type HalCaller, type HalEventSink } from './ports';
import { resolvePin } from './profile/validate';
import type { ActuatorConfig, BoardProfile, CameraConfig, SensorConfig } from './profile/schema';
import { CameraHub } from './camera/hub';
import { SensorMirror } from './mirror';
import type { RpicamProducer } from './camera/rpicam';
import { applyChannel, type SensorReading } from './reading';

export interface HalBackends {
  i2c(bus: string): I2cBus;
  gpio: GpioBackend;
  /** serial links, by bus device (e.g. `serial0`, or /dev/serial0 on a Pi) */
  serial?: SerialBackend;
  /** PWM channels, by controller (the pwm bus's device) and channel */
  pwm?: PwmBackend;
  /** DS18B20 probes on the 1-Wire bus, by id (real boards) */
  oneWire?(id: string): { read(): Promise<number> };
  /** the frame producer of a camera, when this board can run one */
  camera?(config: CameraConfig): RpicamProducer | undefined;
}

export interface CameraStill {
  deviceId: string;
  jpeg: Buffer;
  ts: number;
}

export interface HalDeviceInfo {
  id: string;
  kind: 'sensor' | 'actuator' | 'camera';
  driver: string;
  status: 'ok' | 'error' | 'unavailable';
  detail?: string;
  state?: string;
  /** PWM actuators: the duty cycle, in [0, 1] */
  duty?: number;
  owner?: string | null;
  commands?: string[];
  channels?: Record<string, { value: number | null; unit: string; ts: number | null }>;
}

interface SensorRuntime {
  config: SensorConfig;
  read?: () => Promise<Record<string, number>>;
  input?: GpioInput;
  close?: () => Promise<void>;
  timer?: NodeJS.Timeout;
  values: Map<string, { raw: number; ts: number }>;
  error?: string;
  unavailable?: string;
  /** fed from a trace instead of polled */
  replayed?: boolean;
  /** polls that gave a reading, and polls that failed (for /metrics) */
  reads: number;
  readErrors: number;
}

export class Hal {
  private readonly sensors = new Map<string, SensorRuntime>();
  private readonly actuators = new Map<string, Actuator>();
  private readonly cameras = new Map<string, CameraHub>();
  /** actuators that could not be opened, and why */
  private readonly unavailable = new Map<string, string>();
  private requests = 0;
  /** the latest reading of every sensor type, for in-process WASM cells (DESIGN §12.16) */
  readonly mirror: SensorMirror;

  constructor(
    readonly profile: BoardProfile,
    private readonly backends: HalBackends,
    private readonly audit: AuditSink,
    private readonly events: HalEventSink,
    private readonly now: () => number = Date.now,
  ) {
    this.mirror = new SensorMirror(Object.keys(profile.sensorTypes));
  }

  /** Opens devices, puts every actuator in its safe state, and starts polling. */
  async start(): Promise<void> {
    for (const d of this.profile.devices) {
      if (d.kind === 'actuator') {
        try {
          const a = new Actuator(d, await this.openOutput(d), (x) => void this.maxOnReached(x));
          this.actuators.set(d.id, a);
          this.audit.record({ ts: this.now(), actor: 'hal', op: 'safe-state', deviceId: d.id, outcome: 'ok', detail: { state: d.safeState, why: 'start' } });
        } catch (err) {
          // A missing line (wrong board, gpio group, kernel) makes this actuator unavailable, not the daemon.
          const e = err as { code?: string; message?: string };
          this.unavailable.set(d.id, e.message ?? String(err));
          this.audit.record({ ts: this.now(), actor: 'hal', op: 'safe-state', deviceId: d.id, outcome: 'error', code: e.code ?? 'HAL_E_BUS_IO', detail: { why: 'start', error: e.message } });
          this.events.emit('hal:error', { deviceId: d.id, error: e.message ?? String(err) });
        }
      } else if (d.kind === 'sensor') {
        this.sensors.set(d.id, await this.openSensor(d));
      } else {
        const producer = this.backends.camera?.(d);
        if (producer) this.cameras.set(d.id, new CameraHub(d.id, producer));
      }
    }
    for (const s of this.sensors.values()) if (s.read) this.schedule(s, 0);
  }

  async stop(): Promise<void> {
    for (const c of this.cameras.values()) c.stop();
    for (const s of this.sensors.values()) {
      if (s.timer) clearTimeout(s.timer);
      await s.input?.stop();
      await s.close?.();
    }
    for (const a of this.actuators.values()) {
      await this.safe(a, 'stop');
      await a.close();
    }
  }

  list(): HalDeviceInfo[] {
    return this.profile.devices.map((d): HalDeviceInfo => {
      if (d.kind === 'actuator') {
        const a = this.actuators.get(d.id);
        return { id: d.id, kind: 'actuator', driver: d.driver, status: a ? 'ok' : 'unavailable', ...(a ? {} : { detail: this.unavailable.get(d.id) ?? 'not available' }), state: a?.state ?? 'unknown', ...(a?.duty === undefined ? {} : { duty: a.duty }), owner: a?.owner ?? null, commands: [...d.commands] };
      }
      if (d.kind === 'camera') {
        const c = this.cameras.get(d.id);
        return c
          ? { id: d.id, kind: 'camera', driver: d.driver, status: 'ok', detail: `${d.width}x${d.height} @ ${d.fps} fps, ${c.readerCount} reader(s), ${c.frames} frames` }
          : { id: d.id, kind: 'camera', driver: d.driver, status: 'unavailable', detail: 'no camera backend on this board in this build' };
      }
      const s = this.sensors.get(d.id);
      const channels: NonNullable<HalDeviceInfo['channels']> = {};
      for (const [name, ch] of Object.entries(d.channels)) {
        const v = s?.values.get(name);
        channels[name] = { value: v ? applyChannel(v.raw, ch) : null, unit: ch.unit, ts: v?.ts ?? null };
      }
      const status = s?.unavailable ? 'unavailable' : s?.error ? 'error' : 'ok';
      return { id: d.id, kind: 'sensor', driver: d.driver, status, ...(s?.unavailable || s?.error ? { detail: s.unavailable ?? s.error } : {}), channels };
    });
  }

  /**
   * The mirror's sensor types a set of sensor grants may read: a type is readable when `type` or
   * `type@<its device>` is granted, as for getSensorReading (in-process WASM cells read the mirror).
   */
  mirrorReadable(grants: readonly string[]): string[] {
    return Object.entries(this.profile.sensorTypes)
      .filter(([type, ref]) => grants.includes(type) || grants.includes(`${type}@${ref.split('.')[0] ?? ''}`))
      .map(([type]) => type);
  }

  /** The seed's `getSensorData`: the value only. */
  async getSensorData(spec: string, caller: HalCaller): Promise<number> {
    return (await this.getSensorReading(spec, caller)).value;
  }

  /** `type` (the profile's default device for it) or `type@device`. */
  async getSensorReading(spec: string, caller: HalCaller): Promise<SensorReading> {
    const { type, deviceId, channel } = this.resolveSensor(spec);
    if (caller.kind === 'agent' && !caller.grants.sensors.includes(type) && !caller.grants.sensors.includes(`${type}@${deviceId}`)) {
      this.deny(caller, 'read', deviceId, `sensor "${type}"`);
    }
    const s = this.sensors.get(deviceId);
    if (!s || s.unavailable) throw new HalError('HAL_E_UNAVAILABLE', `${deviceId}: ${s?.unavailable ?? 'not available'}`, { device: deviceId });
    let v = s.values.get(channel);
    if (!v) {
      await this.poll(s);
      v = s.values.get(channel);
    }
    if (!v) {
      if (s.error) throw new HalError('HAL_E_BUS_IO', `${deviceId}: no reading (${s.error})`, { device: deviceId });
      throw new HalError('HAL_E_BUSY', `${deviceId}: no reading yet; try again shortly`, { device: deviceId });
    }
    // A device that keeps failing does not hand out its last good value as if it were current.
    if (s.error && this.now() - v.ts > s.config.pollMs * 3) {
      throw new HalError('HAL_E_BUS_IO', `${deviceId}: ${s.error} (last reading ${Math.round((this.now() - v.ts) / 1000)} s ago)`, { device: deviceId });
    }
    const ch = s.config.channels[channel];
    if (!ch) throw new HalError('HAL_E_UNKNOWN_DEVICE', `${deviceId} has no channel ${channel}`);
    return { value: applyChannel(v.raw, ch), unit: ch.unit, ts: v.ts, deviceId };
  }

  /** The seed's `controlActuator`. */
  async controlActuator(deviceId: string, command: unknown, caller: HalCaller): Promise<void> {
    const a = this.actuators.get(deviceId);
    const why = this.unavailable.get(deviceId);
    if (!a && why !== undefined) throw new HalError('HAL_E_UNAVAILABLE', `${deviceId}: ${why}`, { device: deviceId });
    if (!a) throw new HalError('HAL_E_UNKNOWN_DEVICE', `no actuator "${deviceId.slice(0, 64)}" on this board; \`openstarryctl hal ls\` lists them`, { device: deviceId });
    if (caller.kind === 'agent' && !caller.grants.actuators.includes(deviceId)) this.deny(caller, 'actuate', deviceId, `actuator "${deviceId}"`);
    const owner = caller.kind === 'agent' ? caller.instance : undefined;
    const now = this.now();
    let text = typeof command === 'string' ? command.slice(0, 64) : (JSON.stringify(command ?? null) ?? '').slice(0, 64);
    try {
      const cmd = parseCommand(command, deviceId);
      text = commandText(cmd);
      a.check(cmd, owner, this.actuators, now);
      if (owner !== undefined) a.owner ??= owner;
      const state = await a.apply(cmd, now);
      const duty = a.duty === undefined ? {} : { duty: a.duty };
      this.audit.record({ ts: now, actor: actorOf(caller), op: 'actuate', deviceId, outcome: 'ok', detail: { command: text, state, ...duty } });
      this.events.emit(`hal:actuator.${deviceId}`, { deviceId, state, ...duty, by: actorOf(caller) });
    } catch (err) {
      const code = (err as { code?: string }).code;
      this.audit.record({ ts: now, actor: actorOf(caller), op: 'actuate', deviceId, outcome: 'denied', ...(code ? { code } : {}), detail: { command: text } });
      throw err;
    }
  }

  /**
   * Non-blocking actuation for callers that must not wait (WASM cells, DESIGN §4): returns a
   * request id at once; the outcome arrives as a `hal:result` event with that id.
   */
  requestActuation(deviceId: string, command: unknown, caller: HalCaller): string {
    const requestId = `act-${++this.requests}`;
    this.controlActuator(deviceId, command, caller).then(
      () => this.events.emit('hal:result', { requestId, deviceId, ok: true, state: this.actuators.get(deviceId)?.state ?? null }),
      (err: unknown) => {
        const e = err as { code?: string; message?: string };
        this.events.emit('hal:result', { requestId, deviceId, ok: false, code: e.code ?? 'HAL_E_BUS_IO', message: e.message ?? String(err) });
      },
    );
    return requestId;
  }

  /** The seed's `getCameraStream`: whole JPEG frames; cancel the stream to stop reading. */
  getCameraStream(deviceId: string, caller: HalCaller): ReadableStream<Uint8Array> {
    return this.camera(deviceId, caller).open();
  }

  /** A still from the running stream (the camera starts for it when nobody is watching). */
  async getCameraStill(deviceId: string, caller: HalCaller, maxAgeMs = 2000): Promise<CameraStill> {
    const hub = this.camera(deviceId, caller);
    const now = this.now();
    if (hub.latest && hub.readerCount > 0 && now - hub.latestAt <= maxAgeMs) return { deviceId, jpeg: hub.latest, ts: hub.latestAt };
    const reader = hub.open().getReader();
    try {
      const { value } = await reader.read();
      if (!value) throw new HalError('HAL_E_BUS_IO', `camera ${deviceId} gave no frame`);
      return { deviceId, jpeg: Buffer.from(value), ts: this.now() };
    } finally {
      void reader.cancel();
    }
  }

  private camera(deviceId: string, caller: HalCaller): CameraHub {
    const d = this.profile.devices.find((x) => x.id === deviceId && x.kind === 'camera');
    if (!d) throw new HalError('HAL_E_UNKNOWN_DEVICE', `no camera "${deviceId.slice(0, 64)}" on this board`, { device: deviceId });
    if (caller.kind === 'agent' && !caller.grants.cameras.includes(deviceId)) this.deny(caller, 'read', deviceId, `camera "${deviceId}"`);
    const hub = this.cameras.get(deviceId);
    if (!hub) throw new HalError('HAL_E_UNAVAILABLE', `camera ${deviceId}: no camera backend on this board in this build`, { device: deviceId });
    return hub;
  }

  /** An instance ended: its actuators go back to their safe state and their leases are freed. */
  async releaseInstance(instance: string): Promise<void> {
    for (const a of this.actuators.values()) {
      if (a.owner !== instance) continue;
      a.owner = undefined;
      await this.safe(a, `owner ${instance} exited`);
    }
  }

  private deny(caller: HalCaller, op: 'read' | 'actuate', deviceId: string, what: string): never {
    this.audit.record({ ts: this.now(), actor: actorOf(caller), op, deviceId, outcome: 'denied', code: 'HAL_E_DENIED' });
    const who = caller.kind === 'agent' ? `agent ${caller.agentId}` : caller.actor;
    throw new HalError('HAL_E_DENIED', `${who} has no grant for ${what}`, { device: deviceId });
  }

  private async safe(a: Actuator, why: string): Promise<void> {
    try {
      const state = await a.toSafeState();
      this.audit.record({ ts: this.now(), actor: 'hal', op: 'safe-state', deviceId: a.id, outcome: 'ok', detail: { state, why } });
      this.events.emit(`hal:actuator.${a.id}`, { deviceId: a.id, state, ...(a.duty === undefined ? {} : { duty: a.duty }), by: 'hal', why });
    } catch (err) {
      this.audit.record({ ts: this.now(), actor: 'hal', op: 'safe-state', deviceId: a.id, outcome: 'error', detail: { why, error: (err as Error).message } });
    }
  }

  private async maxOnReached(a: Actuator): Promise<void> {
    await this.safe(a, `on longer than maxOnMs ${a.config.maxOnMs}`);
  }

  private resolveSensor(spec: string): { type: string; deviceId: string; channel: string } {
    const [type = '', explicit] = spec.split('@');
    if (explicit) {
      const d = this.profile.devices.find((x) => x.id === explicit && x.kind === 'sensor');
      if (!d || d.kind !== 'sensor' || !Object.hasOwn(d.channels, type)) throw new HalError('HAL_E_UNKNOWN_DEVICE', `no sensor type "${type}" on device "${explicit}"`, { spec });
      return { type, deviceId: explicit, channel: type };
    }
    const ref = this.profile.sensorTypes[type];
    if (!ref) throw new HalError('HAL_E_UNKNOWN_DEVICE', `no sensor type "${type.slice(0, 64)}" on this board; known: ${Object.keys(this.profile.sensorTypes).join(', ')}`, { spec });
    const [deviceId = '', channel] = ref.split('.');
    return { type, deviceId, channel: channel ?? type };
  }

  private pin(ref: string): number {
    const line = resolvePin(this.profile, ref);
    if (line === undefined) throw new HalError('HAL_E_PROFILE', `unknown pin ${ref}`);
    return line;
  }

  /** An actuator's output, already in its safe state. */
  private async openOutput(d: ActuatorConfig): Promise<ActuatorOutput> {
    if (d.driver === 'pwm') {
      const bus = this.profile.buses[d.bus ?? ''];
      if (!this.backends.pwm || !bus) throw new HalError('HAL_E_UNAVAILABLE', 'no PWM backend on this board');
      const channel = await this.backends.pwm.open(bus.device, d.channel ?? 0, d.frequencyHz, d.safeState === 'on' ? d.onDuty : 0);
      return new PwmOutput(channel, d.onDuty);
    }
    const line = await this.backends.gpio.request(this.pin(d.pin ?? ''), { direction: 'out', activeLow: d.activeLow, initial: d.safeState === 'on' ? 1 : 0 });
    return new GpioOutput(line, d.safeState);
  }

  private async openSensor(d: SensorConfig): Promise<SensorRuntime> {
    const s: SensorRuntime = { config: d, values: new Map(), reads: 0, readErrors: 0 };
    try {
      if (d.driver === 'bme280') {
        const chip = new Bme280(this.backends.i2c(d.bus ?? ''), d.address ?? 0x76);
        await chip.init();
        s.read = async () => ({ ...(await chip.read()) });
      } else if (d.driver === 'gpio-in') {
        const line = await this.backends.gpio.request(this.pin(d.pin ?? ''), { direction: 'in', pull: d.pull, activeLow: d.activeLow });
        s.input = new GpioInput(line, d.debounceMs);
        await s.input.start();
        const [channel = 'value'] = Object.keys(d.channels);
        s.values.set(channel, { raw: s.input.current, ts: this.now() });
        const lineName = `gpio${this.pin(d.pin ?? '')}`;
        const eventName = `hal:gpio.${Object.entries(this.profile.aliases).find(([, t]) => t === lineName)?.[0] ?? d.id}`;
        s.input.onChange((v) => {
          s.values.set(channel, { raw: v, ts: this.now() });
          this.events.emit(eventName, { deviceId: d.id, value: v });
          this.emitSensorTypes(d.id, s);
        });
      } else if (d.driver === 'ds18b20') {
        const probe = this.backends.oneWire?.(d.w1 ?? '');
        if (!probe) s.unavailable = 'no 1-Wire backend on this board';
        else {
          const [channel = 'temperature'] = Object.keys(d.channels);
          s.read = async () => ({ [channel]: await probe.read() });
        }
      } else if (d.driver === 'serial-line') {
        const bus = this.profile.buses[d.bus ?? ''];
        if (!this.backends.serial || !bus) {
          s.unavailable = 'no serial backend on this board';
        } else {
          const serial = this.backends.serial;
          const sensor = await ReopeningSerialLine.open(bus.device, () => serial.open(bus.device, bus.baudRate ?? 9600), Object.keys(d.channels), d.pollMs * 3, this.now);
          s.read = () => sensor.read();
          s.close = () => sensor.close();
        }
      } else {
        s.unavailable = `no driver for ${String((d as { driver: unknown }).driver)}`;
      }
    } catch (err) {
      // A bus or chip this board does not have (or has not enabled) is not a transient error.
      if ((err as { code?: string }).code === 'HAL_E_UNAVAILABLE') s.unavailable = (err as Error).message;
      else s.error = (err as Error).message;
    }
    return s;
  }

  /**
   * Replay (hal/trace.ts): `type`'s reading as if its device had just been polled — the mirror,
   * `hal:sensor.<type>` and reads all see it. The device is no longer polled live, so recorded and
   * live values never interleave.
   */
  replayReading(type: string, value: number): void {
    const ref = this.profile.sensorTypes[type];
    if (!ref) return;
    const [deviceId = '', channel = type] = ref.split('.');
    const s = this.sensors.get(deviceId);
    const ch = s?.config.channels[channel];
    // GPIO inputs are replayed by their edges (driving the line), not by their readings.
    if (!s || !ch || s.config.driver === 'gpio-in') return;
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    s.replayed = true;
    s.values.set(channel, { raw: ch.scale === 0 ? value : (value - ch.offset) / ch.scale, ts: this.now() });
    s.error = undefined;
    this.emitSensorTypes(deviceId, s, type);
  }

  private schedule(s: SensorRuntime, delay: number): void {
    if (s.replayed) return;
    s.timer = setTimeout(() => {
      void this.poll(s).finally(() => this.schedule(s, s.config.pollMs));
    }, delay);
  }

  /** per sensor device: polls that gave a reading and polls that failed, since the start */
  counters(): Array<{ deviceId: string; reads: number; errors: number }> {
    return [...this.sensors.values()].map((s) => ({ deviceId: s.config.id, reads: s.reads, errors: s.readErrors }));
  }

  private async poll(s: SensorRuntime): Promise<void> {
    if (!s.read) return;
    try {
      const raw = await s.read();
      s.reads++;
      const ts = this.now();
      for (const [k, v] of Object.entries(raw)) s.values.set(k, { raw: v, ts });
      s.error = undefined;
      this.emitSensorTypes(s.config.id, s);
    } catch (err) {
      // HAL_E_BUSY is "not ready yet" (no measurement, no line heard): neither a fault nor an event.
      if ((err as { code?: string }).code === 'HAL_E_BUSY') return;
      s.readErrors++;
      const first = s.error === undefined;
      s.error = (err as Error).message;
      if (first) this.events.emit('hal:error', { deviceId: s.config.id, error: s.error });
    }
  }

  private emitSensorTypes(deviceId: string, s: SensorRuntime, only?: string): void {
    for (const [type, ref] of Object.entries(this.profile.sensorTypes)) {
      if (only !== undefined && type !== only) continue;
      const [dev, channel = type] = ref.split('.');
      if (dev !== deviceId) continue;
      const v = s.values.get(channel);
      const ch = s.config.channels[channel];
      if (!v || !ch) continue;
      const value = applyChannel(v.raw, ch);
      this.mirror.write(type, value, v.ts);
      this.events.emit(`hal:sensor.${type}`, { value, unit: ch.unit, ts: v.ts, deviceId });
    }
  }
}
