/**
 * Actuator commands (DESIGN §5): `on`, `off`, `toggle` for every actuator, and a duty cycle for
 * PWM outputs, written `{"duty": 0.4}` (an object, or that JSON as a string, which is what WASM
 * agents pass), `duty=0.4` or `40%`. Anything else is returned by name for the allow-list check to
 * refuse; a duty that is not a number in [0, 1] is refused here.
 */
import { HalError } from './errors';

export type ActuatorCommand = { name: 'on' | 'off' | 'toggle' } | { name: 'duty'; duty: number } | { name: string };

const MAX_TEXT = 256;
const NUMBER = String.raw`(-?\d+(?:\.\d+)?(?:e-?\d+)?)`;
const DUTY_TEXT = new RegExp(`^duty\\s*[=:]\\s*${NUMBER}(%?)$`, 'i');
const PERCENT = new RegExp(`^${NUMBER}%$`);

export function parseCommand(command: unknown, device: string): ActuatorCommand {
  if (typeof command === 'string') {
    const text = command.trim();
    if (text.length > MAX_TEXT) throw bad(device, `a command of ${text.length} characters`);
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        throw bad(device, `"${text.slice(0, 32)}" (not JSON)`);
      }
      return parseCommand(parsed, device);
    }
    const d = DUTY_TEXT.exec(text);
    if (d) return duty(Number(d[1]) / (d[2] === '%' ? 100 : 1), device);
    const p = PERCENT.exec(text);
    if (p) return duty(Number(p[1]) / 100, device);
    return { name: text };
  }
  if (command !== null && typeof command === 'object' && !Array.isArray(command)) {
    const keys = Object.keys(command);
    if (keys.length === 1 && keys[0] === 'duty') return duty((command as { duty: unknown }).duty, device);
    throw bad(device, `an object with ${keys.slice(0, 4).join(', ') || 'no keys'}`);
  }
  throw bad(device, command === null ? 'null' : typeof command);
}

function duty(v: unknown, device: string): ActuatorCommand {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0 || v > 1) {
    throw new HalError('HAL_E_COMMAND_NOT_ALLOWED', `${device}: a duty cycle is a number from 0 to 1 (or 0% to 100%), not ${JSON.stringify(v)?.slice(0, 32) ?? String(v)}`, { device });
  }
  return { name: 'duty', duty: v };
}

function bad(device: string, what: string): HalError {
  return new HalError('HAL_E_COMMAND_NOT_ALLOWED', `${device}: ${what} is not a command; use on, off, toggle, or {"duty": 0..1} for a PWM output`, { device });
}

/** how a command reads in audit entries and events */
export function commandText(c: ActuatorCommand): string {
  return 'duty' in c ? `duty=${c.duty}` : c.name;
}
