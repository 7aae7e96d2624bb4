/**
 * PWM on a real board through sysfs (DESIGN §5): the controller is found by its device-tree node
 * (hal/platform), the channel exported, and then the order the kernel accepts whatever state a
 * previous run left — duty 0, period, duty, enable — so a period shorter than a stale duty never
 * fails with EINVAL. Release drives duty 0, disables and unexports. Every file operation goes
 * through `SysfsIo`, so the sequence is tested against a fixture tree with a fake kernel.
 */
import { HalError } from '../errors';
import { realSysfsIo, type SysfsIo } from '../gpio/sysfs';
import { pwmChip } from '../platform/buses';
import type { SysRoot } from '../platform/root';
import { waitWritable } from '../platform/wait-writable';
import type { PwmBackend, PwmChannel } from './pwm';

export interface SysfsPwmOptions {
  root: SysRoot;
  io?: SysfsIo;
  exportTimeoutMs?: number;
  /** the config.txt line that enables a controller, for the error when it is not enabled */
  configTxt?: (chip: string) => string | undefined;
}

export class SysfsPwm implements PwmBackend {
  private readonly io: SysfsIo;
  private readonly held = new Set<string>();

  constructor(private readonly opts: SysfsPwmOptions) {
    this.io = opts.io ?? realSysfsIo();
  }

  async open(chip: string, channel: number, frequencyHz: number, initialDuty = 0): Promise<PwmChannel> {
    const r = this.opts.root;
    const dir = pwmChip(r, chip, this.opts.configTxt?.(chip));
    const name = `${chip}/${channel}`;
    const npwm = r.readNumber(`${dir}/npwm`);
    if (npwm !== undefined && channel >= npwm) throw new HalError('HAL_E_PROFILE', `PWM controller ${chip} has ${npwm} channel(s); there is no channel ${channel}`);
    if (this.held.has(name)) throw new HalError('HAL_E_BUSY', `pwm ${name} is already in use`);
    const file = (f: string): string => r.path(`${dir}/pwm${channel}/${f}`);
    const periodNs = Math.max(1, Math.round(1e9 / frequencyHz));
    const dutyNs = (d: number): string => String(Math.round(periodNs * d));
    this.held.add(name);
    try {
      if (!this.io.exists(file('period'))) await this.io.write(r.path(`${dir}/export`), String(channel));
      await waitWritable(file('period'), (p) => this.io.exists(p), this.opts.exportTimeoutMs ?? 2000, `pwm ${name}`, 'gpio');
      await this.io.write(file('duty_cycle'), '0');
      await this.io.write(file('period'), String(periodNs));
      await this.io.write(file('duty_cycle'), dutyNs(initialDuty));
      await this.io.write(file('enable'), '1');
    } catch (err) {
      this.held.delete(name);
      throw err instanceof HalError ? err : new HalError('HAL_E_BUS_IO', `pwm ${name}: ${(err as Error).message}`);
    }
    let duty = initialDuty;
    let released = false;
    return {
      name,
      get duty() {
        return duty;
      },
      set: async (d) => {
        if (released) throw new HalError('HAL_E_BUS_IO', `pwm ${name} was released`);
        try {
          await this.io.write(file('duty_cycle'), dutyNs(d));
        } catch (err) {
          throw new HalError('HAL_E_BUS_IO', `pwm ${name}: ${(err as Error).message}`);
        }
        duty = d;
      },
      release: async () => {
        if (released) return;
        released = true;
        this.held.delete(name);
        for (const [f, v] of [['duty_cycle', '0'], ['enable', '0']] as const) await this.io.write(file(f), v).catch(() => undefined);
        await this.io.write(r.path(`${dir}/unexport`), String(channel)).catch(() => undefined);
      },
    };
  }
}
