/**
 * The PWM contract (DESIGN §5): one output channel of a PWM controller, at a fixed frequency,
 * whose duty cycle is set as a fraction. Implementations: Linux sysfs PWM (`/sys/class/pwm`) on a
 * Pi, and a simulator that records what was set. One contract suite runs against each.
 *
 * Obligations: `open` leaves the channel enabled at duty 0 (or `initialDuty`); `set` takes a duty
 * in [0, 1] and resolves once the hardware has it; after `release()` the output is disabled and
 * `set` rejects with HAL_E_BUS_IO.
 */
export interface PwmChannel {
  /** `<chip>/<channel>`, for messages */
  readonly name: string;
  /** the duty cycle last set, in [0, 1] */
  readonly duty: number;
  set(duty: number): Promise<void>;
  release(): Promise<void>;
}

export interface PwmBackend {
  /** `chip` is the controller's device-tree node (e.g. fe20c000.pwm on a Pi 4) */
  open(chip: string, channel: number, frequencyHz: number, initialDuty?: number): Promise<PwmChannel>;
}
