/** DS18B20 over w1 sysfs: both kernel formats, CRC failures, power-on value, missing probes; and through the HAL with the Pi backends. */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ds18b20 } from '../../../../hal/devices/ds18b20';
import { Hal } from '../../../../hal/hal';
import { piBackends } from '../../../../hal/pi/backends';
import { SysRoot } from '../../../../hal/platform/root';
import { loadProfile } from '../../../../hal/profile/load';
import { FIXTURES, REPO, tmpDir } from '../../../helpers/tmp';

function tree(probes: Record<string, Record<string, string>>): SysRoot {
  const root = tmpDir('osd-w1-');
  fs.cpSync(path.join(FIXTURES, 'boards/pi4'), root, { recursive: true, verbatimSymlinks: true });
  for (const [id, files] of Object.entries(probes)) {
    fs.mkdirSync(path.join(root, 'sys/bus/w1/devices', id), { recursive: true });
    for (const [f, text] of Object.entries(files)) fs.writeFileSync(path.join(root, 'sys/bus/w1/devices', id, f), text);
  }
  return new SysRoot(root);
}

const slave = (crc: 'YES' | 'NO', milli: number): string => `72 01 4b 46 7f ff 0e 10 57 : crc=57 ${crc}\n72 01 4b 46 7f ff 0e 10 57 t=${milli}\n`;

describe('DS18B20', () => {
  it('reads w1_slave and the newer temperature file, and refuses what is not a reading', async () => {
    const r = tree({
      '28-0316a2794bff': { w1_slave: slave('YES', 21437) },
      '28-0316a2794c00': { temperature: '-10125\n', w1_slave: slave('YES', 1) },
      '28-0316a2794c01': { w1_slave: slave('NO', 21437) },
      '28-0316a2794c02': { w1_slave: slave('YES', 85000) },
      '28-0316a2794c03': { w1_slave: 'garbage' },
      '28-0316a2794c04': { temperature: '999999\n' },
    });
    expect(await new Ds18b20(r, '28-0316a2794bff').read()).toBe(21.437);
    expect(await new Ds18b20(r, '28-0316a2794c00').read()).toBe(-10.125);
    await expect(new Ds18b20(r, '28-0316a2794c01').read()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO', message: expect.stringContaining('CRC') as unknown });
    await expect(new Ds18b20(r, '28-0316a2794c02').read()).rejects.toMatchObject({ code: 'HAL_E_BUSY' });
    await expect(new Ds18b20(r, '28-0316a2794c03').read()).rejects.toMatchObject({ code: 'HAL_E_BUS_IO' });
    await expect(new Ds18b20(r, '28-0316a2794c04').read()).rejects.toMatchObject({ message: expect.stringContaining('outside the sensor') as unknown });
    await expect(new Ds18b20(r, '28-0316a2794fff').read()).rejects.toMatchObject({ code: 'HAL_E_UNAVAILABLE', message: expect.stringContaining('dtoverlay=w1-gpio') as unknown });
    expect(() => new Ds18b20(r, '../../etc')).toThrow(/not a DS18B20 1-Wire id/);
  });

  it('serves a probe through the HAL with the real-board backends on a Pi 4 tree', async () => {
    const boardsDir = tmpDir('osd-w1-boards-');
    fs.writeFileSync(
      path.join(boardsDir, 'soil-pi.yaml'),
      'schema: openstarry.board/v1\nname: soil-pi\nextends: raspberrypi-4b\ndevices:\n  - { id: soil-temp, kind: sensor, driver: ds18b20, w1: 28-0316a2794bff, pollMs: 50, channels: { temperature: { unit: "°C", decimals: 1 } } }\nsensorTypes: { soil_temperature: soil-temp.temperature }\n',
    );
    const board = loadProfile('soil-pi', [boardsDir, path.join(REPO, 'boards')]);
    const root = tree({ '28-0316a2794bff': { w1_slave: slave('YES', 18562) } });
    const events: string[] = [];
    const hal = new Hal(board, piBackends(board, root), { record: () => undefined }, { emit: (type, data) => events.push(`${type}=${String(data.value)}`) });
    await hal.start();
    const reading = await hal.getSensorReading('soil_temperature', { kind: 'operator', actor: 'test' });
    expect(reading).toMatchObject({ value: 18.6, unit: '°C', deviceId: 'soil-temp' });
    await new Promise((r) => setTimeout(r, 120));
    expect(events).toContain('hal:sensor.soil_temperature=18.6');
    expect(hal.mirror.layout().types).toEqual(['soil_temperature']);
    await hal.stop();
  });

  it('a profile names the probe', () => {
    const boardsDir = tmpDir('osd-w1-bad-');
    fs.writeFileSync(path.join(boardsDir, 'bad.yaml'), 'schema: openstarry.board/v1\nname: bad\nextends: raspberrypi-4b\ndevices:\n  - { id: t, kind: sensor, driver: ds18b20, channels: { temperature: { unit: "°C" } } }\n');
    expect(() => loadProfile('bad', [boardsDir, path.join(REPO, 'boards')])).toThrow(/a DS18B20 needs its 1-Wire id/);
  });
});
