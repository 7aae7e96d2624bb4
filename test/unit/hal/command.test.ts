import { describe, expect, it } from 'vitest';
import { commandText, parseCommand } from '../../../hal/command';

describe('actuator commands', () => {
  it('reads on/off/toggle, and a duty as an object, its JSON, duty=x and a percentage', () => {
    expect(parseCommand('on', 'lamp')).toEqual({ name: 'on' });
    expect(parseCommand(' toggle ', 'lamp')).toEqual({ name: 'toggle' });
    expect(parseCommand({ duty: 0.4 }, 'lamp')).toEqual({ name: 'duty', duty: 0.4 });
    expect(parseCommand('{"duty": 1}', 'lamp')).toEqual({ name: 'duty', duty: 1 });
    expect(parseCommand('duty=0.25', 'lamp')).toEqual({ name: 'duty', duty: 0.25 });
    expect(parseCommand('DUTY: 30%', 'lamp')).toEqual({ name: 'duty', duty: 0.3 });
    expect(parseCommand('75%', 'lamp')).toEqual({ name: 'duty', duty: 0.75 });
    expect(commandText({ name: 'duty', duty: 0.5 })).toBe('duty=0.5');
    // an unknown word is left for the device's allow-list to refuse by name
    expect(parseCommand('explode', 'lamp')).toEqual({ name: 'explode' });
  });

  it.each([
    [{ duty: 1.5 }, /a duty cycle is a number from 0 to 1/],
    [{ duty: -0.1 }, /from 0 to 1/],
    [{ duty: '0.5' }, /not "0.5"/],
    ['{"duty": NaN}', /not JSON/],
    ['{"duty": 1e999}', /not null|from 0 to 1/],
    ['150%', /from 0 to 1/],
    [{ duty: 0.5, pin: 3 }, /an object with duty, pin is not a command/],
    [{ __proto__: { duty: 0.5 } }, /an object with no keys/],
    [['on'], /object is not a command/],
    [null, /null is not a command/],
    [42, /number is not a command/],
    ['on'.repeat(200), /a command of 400 characters/],
  ])('refuses %j with HAL_E_COMMAND_NOT_ALLOWED', (input, message) => {
    let err: unknown;
    try {
      parseCommand(input, 'lamp');
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'HAL_E_COMMAND_NOT_ALLOWED' });
    expect((err as Error).message).toMatch(message);
  });
});
