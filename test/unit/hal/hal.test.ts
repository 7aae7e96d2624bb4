/** The HAL facade on the sim board: grants, readings, leases, safety rules, audit. */
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { Hal } from '../../../hal/hal';
import { MirrorReader } from '../../../hal/mirror';
import type { HalAuditEntry, HalCaller } from '../../../hal/ports';
import { loadProfile } from '../../../hal/profile/load';
import { SimBoard } from '../../../hal/sim/board';
import { REPO } from '../../helpers/tmp';

const agent = (instance: string, sensors: string[] = [], actuators: string[] = []): HalCaller => ({ kind: 'agent', agentId: instance.split('-')[0] ?? instance, instance, grants: { sensors, actuators, cameras: [] } });
const operator: HalCaller = { kind: 'operator', actor: 'socket:fd1' };

let hal: Hal;
let board: SimBoard;
let audit: HalAuditEntry[];
let events: Array<{ type: string; data: Record<string, unknown> }>;

beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval', 'clearTimeout', 'clearInterval', 'Date'] });
  const profile = loadProfile('sim', [path.join(REPO, 'boards')]);
  board = new SimBoard(profile);
  audit = [];
  events = [];
  hal = new Hal(profile, board, { record: (e) => audit.push(e) }, { emit: (type, data) => events.push({ type, data }) });
  await hal.start();
});
afterEach(async () => {
  await hal.stop();
  vi.useRealTimers();
});

const pinOf = (alias: string): number => Number(/\d+/.exec(hal.profile.aliases[alias] ?? '')?.[0]);

describe('HAL facade', () => {
  it('starts every actuator in its safe state, audited', () => {
    expect(board.gpio.levelOf(pinOf('fan_relay'))).toBe(0);
    expect(audit.filter((a) => a.op === 'safe-state').map((a) => a.deviceId).sort()).toEqual(['fan', 'grow_light', 'heater', 'led']);
  });

  it('denies by default and audits the denial; with a grant it reads scaled, clamped, rounded values', async () => {
    await expect(hal.getSensorData('temperature', agent('greeny-1'))).rejects.toMatchObject({ code: 'HAL_E_DENIED' });
    expect(audit.at(-1)).toMatchObject({ actor: 'agent:greeny/greeny-1', op: 'read', outcome: 'denied', code: 'HAL_E_DENIED' });
    await vi.advanceTimersByTimeAsync(1);
    const r = await hal.getSensorReading('temperature', agent('greeny-1', ['temperature']));
    expect(r).toMatchObject({ unit: '°C', deviceId: 'climate' });
    expect(r.value).toBeCloseTo(22, 1);
    expect(Number.isInteger(r.value * 100)).toBe(true);
    expect(await hal.getSensorData('humidity@climate', agent('greeny-1', ['humidity@climate']))).toBeCloseTo(55, 0);
    await expect(hal.getSensorData('radiation', operator)).rejects.toMatchObject({ code: 'HAL_E_UNKNOWN_DEVICE' });
    await expect(hal.getSensorData('moisture', operator)).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
    expect(events.some((e) => e.type === 'hal:error')).toBe(false);
    // The simulated soil probe talks on serial0 (serialport's mock binding) once a second.
    await vi.advanceTimersByTimeAsync(6000);
    expect(await hal.getSensorData('moisture', operator)).toBeGreaterThan(40);
  });

  it('polls at the profile rate, emits hal:sensor events, and follows the greenhouse climate', async () => {
    await vi.advanceTimersByTimeAsync(3000);
    const temps = events.filter((e) => e.type === 'hal:sensor.temperature');
    expect(temps.length).toBeGreaterThanOrEqual(3);
    expect(new MirrorReader(hal.mirror.layout()).read('temperature')?.value).toBe(temps.at(-1)?.data.value);
    await hal.controlActuator('fan', 'on', operator);
    for (let i = 0; i < 600; i++) board.step(1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(await hal.getSensorData('temperature', operator)).toBeLessThan(20);
  });

  it('actuates with a grant, holds a lease per instance and names the owner to others', async () => {
    await expect(hal.controlActuator('fan', 'on', agent('a-1'))).rejects.toMatchObject({ code: 'HAL_E_DENIED' });
    await hal.controlActuator('led', 'on', agent('a-1', [], ['led']));
    expect(board.gpio.levelOf(pinOf('led0'))).toBe(1);
    await expect(hal.controlActuator('led', 'off', agent('b-2', [], ['led']))).rejects.toMatchObject({ code: 'HAL_E_NOT_OWNER', details: { owner: 'a-1' } });
    await expect(hal.controlActuator('led', 'blink', agent('a-1', [], ['led']))).rejects.toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED' });
    await hal.releaseInstance('a-1');
    expect(board.gpio.levelOf(pinOf('led0'))).toBe(0);
    await hal.controlActuator('led', 'toggle', agent('b-2', [], ['led']));
    expect(hal.list().find((d) => d.id === 'led')).toMatchObject({ state: 'on', owner: 'b-2' });
    expect(audit.filter((a) => a.op === 'actuate').map((a) => `${a.deviceId}:${a.outcome}`)).toEqual(['fan:denied', 'led:ok', 'led:denied', 'led:denied', 'led:ok']);
  });

  it('enforces the minimum interval, the max-on watchdog and interlocks', async () => {
    await hal.controlActuator('fan', 'on', operator);
    await expect(hal.controlActuator('fan', 'off', operator)).rejects.toMatchObject({ code: 'HAL_E_RATE_LIMIT' });
    await expect(hal.controlActuator('heater', 'on', operator)).rejects.toMatchObject({ code: 'HAL_E_INTERLOCK', details: { interlock: 'fan' } });
    await vi.advanceTimersByTimeAsync(2000);
    await hal.controlActuator('fan', 'off', operator);
    await hal.controlActuator('heater', 'on', operator);
    expect(board.gpio.levelOf(pinOf('heater_relay'))).toBe(1);
    await vi.advanceTimersByTimeAsync(600_000);
    expect(board.gpio.levelOf(pinOf('heater_relay'))).toBe(0);
    expect(audit.at(-1)).toMatchObject({ op: 'safe-state', deviceId: 'heater', detail: { why: 'on longer than maxOnMs 600000' } });
  });

  it('answers a non-blocking actuation with a hal:result event', async () => {
    const ok = hal.requestActuation('led', 'on', operator);
    const refused = hal.requestActuation('led', 'dance', operator);
    await vi.advanceTimersByTimeAsync(1);
    const results = events.filter((e) => e.type === 'hal:result').map((e) => e.data);
    expect(results).toHaveLength(2);
    expect(results).toEqual(
      expect.arrayContaining([
        { requestId: ok, deviceId: 'led', ok: true, state: 'on' },
        expect.objectContaining({ requestId: refused, deviceId: 'led', ok: false, code: 'HAL_E_COMMAND_NOT_ALLOWED' }),
      ]),
    );
  });

  it('rides out one failed read with the last value, but does not hand out a value from a device that keeps failing', async () => {
    await vi.advanceTimersByTimeAsync(1500);
    const before = await hal.getSensorData('temperature', operator);
    board.i2c('i2c1').failNext(0x76, 1);
    await vi.advanceTimersByTimeAsync(1000);
    expect(events.filter((e) => e.type === 'hal:error').map((e) => e.data.deviceId)).toEqual(['climate']);
    expect(await hal.getSensorData('temperature', operator)).toBeCloseTo(before, 0);
    board.i2c('i2c1').failNext(0x76, 1_000_000);
    await vi.advanceTimersByTimeAsync(5000);
    await expect(hal.getSensorData('temperature', operator)).rejects.toMatchObject({ code: 'HAL_E_BUS_IO', message: expect.stringMatching(/^climate: .* \(last reading \d+ s ago\)$/) as unknown });
    board.i2c('i2c1').failNext(0x76, 0);
    await vi.advanceTimersByTimeAsync(1500);
    expect(await hal.getSensorData('temperature', operator)).toBeCloseTo(before, 0);
  });

  it('dims a PWM grow light by duty cycle, reports the duty, and takes it to duty 0 at stop', async () => {
    const light = (): unknown => board.pwm.stateOf('sim-pwm', 0);
    expect(light()).toEqual({ frequencyHz: 1000, duty: 0, enabled: true });
    await hal.controlActuator('grow_light', 'on', operator);
    expect(light()).toMatchObject({ duty: 0.8 });
    await hal.controlActuator('grow_light', '{"duty":0.35}', agent('lamp-1', [], ['grow_light']));
    expect(light()).toMatchObject({ duty: 0.35 });
    expect(events.at(-1)).toEqual({ type: 'hal:actuator.grow_light', data: { deviceId: 'grow_light', state: 'on', duty: 0.35, by: 'agent:lamp/lamp-1' } });
    expect(audit.at(-1)).toMatchObject({ op: 'actuate', outcome: 'ok', detail: { command: 'duty=0.35', state: 'on', duty: 0.35 } });
    expect(hal.list().find((d) => d.id === 'grow_light')).toMatchObject({ driver: 'pwm', state: 'on', duty: 0.35, owner: 'lamp-1', commands: ['on', 'off', 'toggle', 'duty'] });
    await expect(hal.controlActuator('grow_light', { duty: 2 }, agent('lamp-1', [], ['grow_light']))).rejects.toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED' });
    expect(audit.at(-1)).toMatchObject({ outcome: 'denied', code: 'HAL_E_COMMAND_NOT_ALLOWED', detail: { command: '{"duty":2}' } });
    await expect(hal.controlActuator('fan', '50%', operator)).rejects.toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED', message: 'fan accepts on, off, not "duty=0.5"' });
    await hal.controlActuator('grow_light', 'toggle', agent('lamp-1', [], ['grow_light']));
    expect(light()).toMatchObject({ duty: 0 });
    await hal.controlActuator('grow_light', 'duty=0.5', operator);
    await hal.stop();
    expect(light()).toMatchObject({ duty: 0, enabled: false });
    hal = new Hal(hal.profile, new SimBoard(hal.profile), { record: () => undefined }, { emit: () => undefined });
    await hal.start();
  });

  it('returns actuators to their safe state at stop', async () => {
    await hal.controlActuator('led', 'on', operator);
    await hal.stop();
    expect(audit.at(-1)).toMatchObject({ op: 'safe-state', detail: { why: 'stop' } });
    hal = new Hal(hal.profile, new SimBoard(hal.profile), { record: () => undefined }, { emit: () => undefined });
    await hal.start();
  });

  it('reports a button press as hal:gpio and hal:sensor events after debounce', async () => {
    board.gpio.drive(pinOf('button0'), 0);
    await vi.advanceTimersByTimeAsync(40);
    expect(events.find((e) => e.type === 'hal:gpio.button0')?.data).toMatchObject({ value: 1 });
    expect(await hal.getSensorData('button', operator)).toBe(1);
  });
});

describe('HAL cameras', () => {
  it('serves stills and streams to granted callers only', async () => {
    vi.useRealTimers();
    const profile = hal.profile;
    const camHal = new Hal(profile, new SimBoard(profile, [process.execPath, path.join(REPO, 'dist/sim/fake-rpicam.mjs')]), { record: (e) => audit.push(e) }, { emit: () => undefined });
    await camHal.start();
    expect(() => camHal.getCameraStream('cam0', agent('c-1'))).toThrow(/no grant for camera "cam0"/);
    const still = await camHal.getCameraStill('cam0', { kind: 'agent', agentId: 'c', instance: 'c-1', grants: { sensors: [], actuators: [], cameras: ['cam0'] } });
    expect(still.jpeg.subarray(0, 2)).toEqual(Buffer.from([0xff, 0xd8]));
    const reader = camHal.getCameraStream('cam0', operator).getReader();
    const { value } = await reader.read();
    expect(Buffer.from(value ?? []).toString('latin1')).toContain('openstarry sim frame');
    await reader.cancel();
    expect(camHal.list().find((d) => d.id === 'cam0')).toMatchObject({ status: 'ok' });
    expect(() => camHal.getCameraStream('cam9', operator)).toThrow(/no camera "cam9"/);
    await camHal.stop();
  });
});
