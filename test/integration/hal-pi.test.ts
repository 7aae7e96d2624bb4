/**
 * A daemon on a Raspberry Pi profile on a machine that is not one: the real backends load, every
 * device they cannot open is reported unavailable with the reason, nothing crashes, and commands
 * to such a device answer HAL_E_UNAVAILABLE.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { tmpDir } from '../helpers/tmp';

let d: RunningDaemon;

beforeAll(async () => {
  const home = path.join(tmpDir('osd-pi-home-'), 'h');
  fs.mkdirSync(path.join(home, 'boards'), { recursive: true });
  fs.writeFileSync(
    path.join(home, 'boards/greenhouse-pi.yaml'),
    [
      'schema: openstarry.board/v1',
      'name: greenhouse-pi',
      'extends: raspberrypi-4b',
      'aliases: { led0: gpio17 }',
      'devices:',
      '  - { id: climate, kind: sensor, driver: bme280, bus: i2c1, address: 0x76, pollMs: 1000, channels: { temperature: { unit: "°C" } } }',
      '  - { id: led, kind: actuator, driver: gpio-out, pin: led0, commands: [on, off], safeState: off }',
      'sensorTypes: { temperature: climate.temperature }',
      '',
    ].join('\n'),
  );
  d = await startDaemon({ home, config: { board: 'greenhouse-pi' } });
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

describe('a Pi profile without Pi hardware', () => {
  it('starts, and reports each device it cannot open with the reason', async () => {
    const ls = await d.json<{ devices: Array<{ id: string; status: string; detail?: string }> }>(['hal', 'ls']);
    const led = ls.devices.find((x) => x.id === 'led');
    const climate = ls.devices.find((x) => x.id === 'climate');
    expect(led).toMatchObject({ status: 'unavailable', detail: expect.stringContaining('no GPIO chip labelled "pinctrl-bcm2711"') as unknown });
    expect(climate?.status).toBe('unavailable');
    expect(climate?.detail).toContain('i2c1');
    const set = await d.cli(['hal', 'set', 'led', 'on']);
    expect(set.code).not.toBe(0);
    expect(set.stderr).toContain('HAL_E_UNAVAILABLE');
    const status = await d.json<{ health: Array<{ name: string; state: string; detail?: string }> }>(['status']);
    expect(status.health.find((h) => h.name === 'hal')).toMatchObject({ state: 'degraded' });
    expect(d.output.join('\n')).toMatch(/hal: led: no GPIO chip labelled/);
  });
});
