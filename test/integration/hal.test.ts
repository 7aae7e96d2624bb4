/** Agents reach hardware only through the HAL, by grant, on the sim board. */
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, waitFor } from '../helpers/tmp';
import fs from 'node:fs';
import Database from 'better-sqlite3';

interface Device {
  id: string;
  kind: string;
  state?: string;
  owner?: string | null;
  channels?: Record<string, { value: number | null; unit: string }>;
}

let d: RunningDaemon;
beforeAll(async () => {
  d = await startDaemon();
});
afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

const lastWord = (s: string): string => s.trim().split(/\s+/).pop() ?? '';
const fan = async (): Promise<Device | undefined> => (await d.json<{ devices: Device[] }>(['hal', 'ls'])).devices.find((x) => x.id === 'fan');

describe('HAL through the daemon', () => {
  it('lists the sim board and reads sensors as the operator', async () => {
    const ls = await d.cli(['hal', 'ls']);
    expect(ls.stdout).toMatch(/climate\s+sensor\s+bme280\s+ok\s+temperature [\d.]+ °C/);
    expect(ls.stdout).toMatch(/fan\s+actuator\s+gpio-out\s+ok\s+off \(on\|off\)/);
    const r = await d.json<{ value: number; unit: string }>(['hal', 'read', 'temperature']);
    expect(r.unit).toBe('°C');
    expect(r.value).toBeGreaterThan(-40);
    expect((await d.cli(['hal', 'read', 'radiation'])).stderr).toContain('HAL_E_UNKNOWN_DEVICE');
  });

  it('refuses an agent without grants (HAL_E_DENIED) and lets a granted one read and actuate', async () => {
    const no = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/nogrant')])).stdout);
    const noLog = await waitFor('nogrant done', async () => {
      const t = (await d.cli(['logs', no])).stdout;
      return t.includes('HAL actuate=') ? t : undefined;
    });
    expect(noLog).toContain('HAL read=HAL_E_DENIED');
    expect(noLog).toContain('HAL actuate=HAL_E_DENIED');

    const yes = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/thermo')])).stdout);
    await waitFor('thermo drove the fan', async () => (await d.cli(['logs', yes])).stdout.includes('fan on'));
    expect((await d.cli(['logs', yes])).stdout).toMatch(/temperature [\d.]+ °C from climate/);
    expect(await fan()).toMatchObject({ state: 'on', owner: yes });
  });

  it('names the owner when a second instance wants the same actuator, and returns it to its safe state when the owner dies', async () => {
    const owner = (await fan())?.owner ?? '';
    const dir = copyFixtureAgent('thermo');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.identity = { id: 'thermo-two', name: 'Second thermostat' };
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
    const second = lastWord((await d.cli(['spawn', dir])).stdout);
    const log = await waitFor('refused', async () => {
      const t = (await d.cli(['logs', second])).stdout;
      return t.includes('fan refused') ? t : undefined;
    });
    expect(log).toContain(`fan refused: HAL_E_NOT_OWNER fan is held by ${owner}`);
    expect((await d.cli(['signal', owner, 'KILL'])).code).toBe(0);
    await waitFor('fan back to its safe state', async () => (await fan())?.state === 'off');
    expect((await fan())?.owner).toBeNull();
  });

  it('serves worker agents the same way, by grant: readings, actuators and camera stills', async () => {
    const id = lastWord((await d.cli(['spawn', path.join(FIXTURES, 'agents/wthermo')])).stdout);
    // a camera still starts the fake rpicam-vid: on a loaded machine that can take a while
    const log = await waitFor('worker done', async () => {
      const t = (await d.cli(['logs', id])).stdout;
      return t.includes('worker fan') ? t : undefined;
    }, 45_000).catch(async (err: Error) => {
      throw new Error(`${err.message}; its log:\n${(await d.cli(['logs', id])).stdout}`);
    });
    expect(log).toMatch(/worker read [\d.]+ °C/);
    expect(log).toContain('worker led on');
    expect(log).toMatch(/worker still \d+ bytes, jpeg=true/);
    expect(log).toContain('worker fan HAL_E_DENIED');
    await d.cli(['kill', id]);
    await waitFor('led back to its safe state', async () => (await d.json<{ devices: Device[] }>(['hal', 'ls'])).devices.find((x) => x.id === 'led')?.state === 'off');
  }, 60_000);

  it('keeps sensor samples off the SD card but logs actuations', async () => {
    await new Promise((r) => setTimeout(r, 2500));
    const db = new Database(path.join(d.home, 'openstarry.db'), { readonly: true });
    const types = (db.prepare('SELECT type, COUNT(*) AS n FROM events GROUP BY type').all() as Array<{ type: string }>).map((r) => r.type);
    const audit = db.prepare("SELECT COUNT(*) AS n FROM audit WHERE op = 'hal.actuate'").get() as { n: number };
    db.close();
    expect(types.filter((t) => t.startsWith('hal:sensor.'))).toEqual([]);
    expect(types).toContain('hal:actuator.fan');
    expect(audit.n).toBeGreaterThan(0);
  });

  it('lets the operator switch an actuator, within its rules', async () => {
    expect((await d.cli(['hal', 'set', 'led', 'on'])).stdout).toContain('led is on');
    const bad = await d.cli(['hal', 'set', 'led', 'explode']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('HAL_E_COMMAND_NOT_ALLOWED');
    expect((await d.cli(['hal', 'set', 'led', 'off'])).code).toBe(0);
  });
});
