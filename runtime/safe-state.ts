/**
 * `openstarryd safe-state [--board B]` (DESIGN §12.16): drives every actuator of the board profile
 * to its safe state through the real backends, without a running daemon — what the systemd unit's
 * `ExecStopPost=` runs, so a crashed daemon never leaves a heater on. Lines stay exported and
 * driven (an unexport could let an output float). Exit 0 when every actuator is safe, 1 otherwise,
 * with one line per actuator either way.
 */
import { resolvePin } from '../hal/profile/validate';
import type { BoardProfile } from '../hal/profile/schema';
import type { GpioBackend } from '../hal/gpio/gpio';

export async function driveSafeState(board: BoardProfile, gpio: GpioBackend, out: (line: string) => void): Promise<number> {
  let failed = 0;
  for (const d of board.devices) {
    if (d.kind !== 'actuator') continue;
    try {
      const line = resolvePin(board, d.pin);
      if (line === undefined) throw new Error(`unknown pin ${d.pin}`);
      await gpio.request(line, { direction: 'out', activeLow: d.activeLow, initial: d.safeState === 'on' ? 1 : 0 });
      out(`${d.id}: ${d.safeState}`);
    } catch (err) {
      failed++;
      out(`${d.id}: NOT SAFE: ${(err as Error).message}`);
    }
  }
  return failed === 0 ? 0 : 1;
}
