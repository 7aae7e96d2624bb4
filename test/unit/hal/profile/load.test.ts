import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { HalError } from '../../../../hal/errors';
import { detectProfile, loadProfile } from '../../../../hal/profile/load';
import { REPO, tmpDir } from '../../../helpers/tmp';

const BOARDS = path.join(REPO, 'boards');

/** A folder with the shipped boards plus `name.yaml` holding `text`. */
function withProfile(name: string, text: string): string[] {
  const dir = tmpDir('osd-board-');
  fs.writeFileSync(path.join(dir, `${name}.yaml`), text);
  return [dir, BOARDS];
}

function problems(name: string, text: string): string {
  try {
    loadProfile(name, withProfile(name, text));
  } catch (err) {
    expect(err).toBeInstanceOf(HalError);
    expect((err as HalError).code).toBe('HAL_E_PROFILE');
    return (err as Error).message;
  }
  throw new Error('expected a refusal');
}

const greenhouse = (devices: string, extra = ''): string => `schema: openstarry.board/v1
name: gh
extends: sim
${extra}
devices:
${devices}
`;

describe('board profiles', () => {
  it('loads every shipped profile', () => {
    for (const f of fs.readdirSync(BOARDS).filter((x) => x.endsWith('.yaml'))) {
      const p = loadProfile(f.slice(0, -5), [BOARDS]);
      expect(p.schema).toBe('openstarry.board/v1');
    }
    const sim = loadProfile('sim', [BOARDS]);
    expect(sim.devices.map((d) => d.id)).toEqual(['climate', 'soil', 'button', 'fan', 'heater', 'led', 'grow_light', 'cam0']);
    expect(sim.sensorTypes.temperature).toBe('climate.temperature');
  });

  it('merges extends: devices by id, maps by key, the child wins', () => {
    const p = loadProfile(
      'gh',
      withProfile(
        'gh',
        greenhouse(
          `  - { id: led, kind: actuator, driver: gpio-out, pin: gpio5, commands: [on, off] }
  - { id: pump, kind: actuator, driver: gpio-out, pin: gpio6, commands: [on, off], maxOnMs: 60000 }`,
          'aliases:\n  pump_relay: gpio6',
        ),
      ),
    );
    expect(p.devices.find((d) => d.id === 'led')).toMatchObject({ pin: 'gpio5', commands: ['on', 'off'] });
    expect(p.devices.find((d) => d.id === 'pump')).toMatchObject({ maxOnMs: 60000 });
    expect(p.devices.find((d) => d.id === 'climate')).toBeDefined();
    expect(p.aliases).toMatchObject({ led0: 'gpio17', pump_relay: 'gpio6' });
    expect(p.extends).toBe('sim');
  });

  it('detects Raspberry Pi boards from the device-tree model', () => {
    expect(detectProfile('Raspberry Pi 5 Model B Rev 1.0\u0000', [BOARDS])).toBe('raspberrypi-5');
    expect(detectProfile('Raspberry Pi Compute Module 4 Rev 1.1', [BOARDS])).toBe('raspberrypi-cm4');
    expect(detectProfile('Some Other Board', [BOARDS])).toBeUndefined();
  });

  it('refuses a pin used twice, a reserved pin and an unknown alias, naming the file, path and fix', () => {
    const msg = problems(
      'gh',
      greenhouse(`  - { id: pump, kind: actuator, driver: gpio-out, pin: gpio27, commands: [on] }
  - { id: valve, kind: actuator, driver: gpio-out, pin: gpio14, commands: [on] }
  - { id: horn, kind: actuator, driver: gpio-out, pin: horn_relay, commands: [on] }`),
    );
    expect(msg).toContain('gh.yaml: invalid board profile');
    expect(msg).toContain('devices[8] (pump).pin: gpio27 is already used by "fan"');
    expect(msg).toContain('devices[9] (valve).pin: gpio14 is reserved on this board');
    expect(msg).toContain('devices[10] (horn).pin: unknown pin or alias "horn_relay"; fix: use gpioN or one of the aliases: led0, button0, heater_relay, fan_relay');
  });

  it('refuses wiring and references that point nowhere', () => {
    const msg = problems(
      'gh',
      greenhouse(
        `  - { id: probe, kind: sensor, driver: bme280, bus: uart0, channels: { t: { unit: C } } }
  - { id: probe2, kind: sensor, driver: bme280, bus: i2c9, address: 0x77, channels: { t: { unit: C } } }
  - { id: siren, kind: actuator, driver: gpio-out, pin: gpio5, commands: [on], interlocks: [{ device: climate, state: on, forbid: [on] }] }`,
        'sensorTypes:\n  wind: anemometer\n  dew: climate.dewpoint',
      ),
    );
    expect(msg).toContain('devices[8] (probe).bus: "uart0" is a serial bus; driver bme280 needs i2c');
    expect(msg).toContain('devices[8] (probe).address: an I2C sensor needs its address');
    expect(msg).toContain('devices[9] (probe2).bus: driver bme280 needs a i2c bus; "i2c9" is not defined');
    expect(msg).toContain('interlocks[0].device: "climate" is not an actuator');
    expect(msg).toContain('sensorTypes.wind: "anemometer" is not a sensor');
    expect(msg).toContain('sensorTypes.dew: sensor "climate" has no channel "dewpoint"');
  });

  it('refuses a PWM output without its controller or channel, and a duty command on a plain GPIO output', () => {
    const msg = problems(
      'gh',
      greenhouse(
        `  - { id: dimmer, kind: actuator, driver: pwm, bus: uart0, commands: [on, duty] }
  - { id: lamp, kind: actuator, driver: pwm, commands: [duty] }
  - { id: relay, kind: actuator, driver: gpio-out, pin: gpio5, commands: [on, duty] }
  - { id: nopin, kind: actuator, driver: gpio-out, commands: [on] }`,
      ),
    );
    expect(msg).toContain('(dimmer).bus: "uart0" is a serial bus; driver pwm needs pwm');
    expect(msg).toContain('(dimmer).channel: a PWM output needs its channel');
    expect(msg).toContain('(lamp).bus: driver pwm needs a pwm bus; fix: name one of the buses: i2c1, uart0, pwm0');
    expect(msg).toContain('(relay).commands: a GPIO output has no duty cycle');
    expect(msg).toContain('(nopin).pin: a GPIO output needs a pin');
  });

  it('refuses malformed, hostile and inconsistent files', () => {
    expect(problems('gh', 'schema: [unclosed\n')).toMatch(/line \d+/);
    expect(problems('gh', '- a list\n')).toContain('must hold a mapping');
    expect(problems('gh', 'schema: openstarry.board/v1\nname: gh\n__proto__: { x: 1 }\n')).toContain('__proto__');
    expect(problems('gh', 'schema: openstarry.board/v1\nname: other\n')).toContain('does not match the file name');
    expect(problems('gh', 'schema: openstarry.board/v2\nname: gh\n')).toContain('schema');
    expect(problems('gh', 'schema: openstarry.board/v1\nname: gh\ndevise: []\n')).toContain('devise');
    expect(problems('gh', `schema: openstarry.board/v1\nname: gh\ndescription: "${'x'.repeat(300 * 1024)}"\n`)).toContain('limit');
    const dir = tmpDir('osd-board-');
    fs.writeFileSync(path.join(dir, 'a.yaml'), 'schema: openstarry.board/v1\nname: a\nextends: b\n');
    fs.writeFileSync(path.join(dir, 'b.yaml'), 'schema: openstarry.board/v1\nname: b\nextends: a\n');
    expect(() => loadProfile('a', [dir])).toThrow(/cycle/);
    expect(() => loadProfile('nope', [dir])).toThrow(/no board profile "nope"/);
    expect(() => loadProfile('../etc/passwd', [dir])).toThrow(/not a valid profile name/);
  });
});
