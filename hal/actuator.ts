/**
 * One actuator's safety (DESIGN §5): a lease (one owning instance), the command allow-list, a
 * minimum interval between commands, a max-on watchdog that returns it to its safe state, and
 * interlocks against other actuators. The facade calls these checks in order; every outcome is
 * audited there.
 */
import { HalError } from './errors';
import { commandText, type ActuatorCommand } from './command';
import type { ActuatorOutput, OnOff } from './devices/gpio-out';
import type { ActuatorConfig } from './profile/schema';

export class Actuator {
  owner: string | undefined;
  private lastCommandAt = -Infinity;
  private maxOnTimer: NodeJS.Timeout | undefined;

  constructor(
    readonly config: ActuatorConfig,
    private readonly output: ActuatorOutput,
    private readonly onMaxOn: (a: Actuator) => void,
  ) {}

  get id(): string {
    return this.config.id;
  }

  get state(): OnOff {
    return this.output.current;
  }

  /** PWM outputs: the duty cycle */
  get duty(): number | undefined {
    return this.output.duty;
  }

  /** Throws the first rule this command breaks, for an agent instance (`owner`) or the operator. */
  check(command: ActuatorCommand, owner: string | undefined, others: ReadonlyMap<string, Actuator>, now: number): void {
    if (!(this.config.commands as readonly string[]).includes(command.name)) {
      throw new HalError('HAL_E_COMMAND_NOT_ALLOWED', `${this.id} accepts ${this.config.commands.join(', ')}, not "${commandText(command).slice(0, 32)}"`, { device: this.id });
    }
    if (owner !== undefined && this.owner !== undefined && this.owner !== owner) {
      throw new HalError('HAL_E_NOT_OWNER', `${this.id} is held by ${this.owner}`, { device: this.id, owner: this.owner });
    }
    if (now - this.lastCommandAt < this.config.minIntervalMs) {
      throw new HalError('HAL_E_RATE_LIMIT', `${this.id} takes one command every ${this.config.minIntervalMs} ms; the last was ${Math.round(now - this.lastCommandAt)} ms ago`, { device: this.id });
    }
    const next = command.name === 'toggle' ? (this.state === 'on' ? 'off' : 'on') : 'duty' in command ? (command.duty > 0 ? 'on' : 'off') : command.name;
    for (const l of this.config.interlocks) {
      const other = others.get(l.device);
      if (other && other.state === l.state && l.forbid.includes(next)) {
        throw new HalError('HAL_E_INTERLOCK', `${this.id} cannot go ${next} while ${l.device} is ${l.state}`, { device: this.id, interlock: l.device });
      }
    }
  }

  async apply(command: ActuatorCommand, now: number): Promise<OnOff> {
    const state = await this.output.apply(command);
    this.lastCommandAt = now;
    this.armMaxOn();
    return state;
  }

  /** Back to the safe state, regardless of leases and intervals. */
  async toSafeState(): Promise<OnOff> {
    if (this.maxOnTimer) clearTimeout(this.maxOnTimer);
    this.maxOnTimer = undefined;
    return this.output.apply({ name: this.config.safeState });
  }

  async close(): Promise<void> {
    if (this.maxOnTimer) clearTimeout(this.maxOnTimer);
    await this.output.release();
  }

  private armMaxOn(): void {
    if (this.maxOnTimer) clearTimeout(this.maxOnTimer);
    this.maxOnTimer = undefined;
    if (this.config.maxOnMs > 0 && this.state === 'on') this.maxOnTimer = setTimeout(() => this.onMaxOn(this), this.config.maxOnMs);
  }
}
