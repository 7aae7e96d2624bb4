/**
 * `openstarryd safe-state [--board B]` (DESIGN §12.16): drives every actuator of the board profile
 * to its safe state through the real backends, without a running daemon — what the systemd unit's
 * `ExecStopPost=` runs, so a crashed daemon never leaves a heater on. Lines stay exported and
 * driven (an unexport could let an output float); PWM channels stay enabled at their safe duty. Exit 0 when every actuator is safe, 1 otherwise,
 * with one line per actuator either way.
 */
import { resolvePin } from '../hal/profile/validate';
import type { BoardProfile } from '../hal/profile/schema';
import type { HalBackends } from '../hal/hal';

export async function driveSafeState(board: BoardProfile, backends: Pick<HalBackends, 'gpio' | 'pwm'>, out: (line: string) => void): Promise<number> {
  let failed = 0;
  for (const d of board.devices) {
    if (d.kind !== 'actuator') continue;
    try {
      if (d.driver === 'pwm') {
        const bus = board.buses[d.bus ?? ''];
        if (!backends.pwm || !bus) throw new Error('no PWM backend on this board');
        await backends.pwm.open(bus.device, d.channel ?? 0, d.frequencyHz, d.safeState === 'on' ? d.onDuty : 0);
      } else {
        const line = resolvePin(board, d.pin ?? '');
        if (line === undefined) throw new Error(`unknown pin ${d.pin ?? '(none)'}`);
        await backends.gpio.request(line, { direction: 'out', activeLow: d.activeLow, initial: d.safeState === 'on' ? 1 : 0 });
      }
      out(`${d.id}: ${d.safeState}`);
    } catch (err) {
      failed++;
      out(`${d.id}: NOT SAFE: ${(err as Error).message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}
