/**
 * How the sim board plays a trace (hal/trace.ts): readings go into the HAL as if polled; a GPIO
 * input's edges drive its simulated line (electrical level from the logical one), so debouncing,
 * `hal:gpio.*` and `hal:sensor.*` events run exactly as they do live.
 */
import type { Hal } from '../hal';
import type { BoardProfile } from '../profile/schema';
import { resolvePin } from '../profile/validate';
import type { ReplayFeed } from '../trace';
import type { SimBoard } from './board';

export function simReplayFeed(hal: Hal, board: BoardProfile, sim: Pick<SimBoard, 'gpio'>): ReplayFeed {
  return {
    reading: (type, value) => hal.replayReading(type, value),
    edge: (deviceId, value) => {
      const d = board.devices.find((x) => x.id === deviceId);
      if (d?.kind !== 'sensor' || d.driver !== 'gpio-in' || !d.pin) return;
      const line = resolvePin(board, d.pin);
      if (line !== undefined) sim.gpio.drive(line, (d.activeLow ? 1 - value : value) as 0 | 1);
    },
  };
}
