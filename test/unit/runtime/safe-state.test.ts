/** openstarryd safe-state: each actuator of the profile driven to its safe state, and a clear line for any that cannot be. */
import fs from 'node:fs';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { SimGpio } from '../../../hal/gpio/sim';
import { SimPwm } from '../../../hal/pwm/sim';
import { loadProfile } from '../../../hal/profile/load';
import { driveSafeState } from '../../../runtime/safe-state';
import { REPO, tmpDir } from '../../helpers/tmp';

describe('safe-state', () => {
  it('drives every actuator to its safe state, active-low included', async () => {
    const board = loadProfile('sim', [path.join(REPO, 'boards')]);
    const gpio = new SimGpio(28);
    const pwm = new SimPwm();
    const lines: string[] = [];
    expect(await driveSafeState(board, { gpio, pwm }, (l) => lines.push(l))).toBe(0);
    expect(lines).toEqual(['fan: off', 'heater: off', 'led: off', 'grow_light: off']);
    expect(gpio.levelOf(27)).toBe(0);
    // a PWM output stays enabled at duty 0: driven low, not floating
    expect(pwm.stateOf('sim-pwm', 0)).toEqual({ frequencyHz: 1000, duty: 0, enabled: true });
  });

  it('runs without a daemon on a Pi profile and says which actuators it could not make safe', async () => {
    const home = tmpDir('osd-safe-');
    fs.mkdirSync(path.join(home, 'boards'));
    fs.writeFileSync(path.join(home, 'boards/relay-pi.yaml'), 'schema: openstarry.board/v1\nname: relay-pi\nextends: raspberrypi-5\ndevices:\n  - { id: pump, kind: actuator, driver: gpio-out, pin: gpio17, commands: [on, off], safeState: off }\n');
    const r = await new Promise<{ code: number | null; stdout: string }>((resolve) =>
      execFile(path.join(REPO, 'bin/openstarryd'), ['safe-state', '--home', home, '--board', 'relay-pi'], (err, stdout) => resolve({ code: err ? (err.code as number) : 0, stdout })),
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^pump: NOT SAFE: no GPIO chip labelled "pinctrl-rp1"/m);
  });
});
