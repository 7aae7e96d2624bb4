/** Scaling, clamping and rounding of a channel, applied once in the facade (DESIGN §5). */
import type { ChannelConfig } from './profile/schema';

export interface SensorReading {
  value: number;
  unit: string;
  /** Unix ms when the value was read */
  ts: number;
  deviceId: string;
}

export function applyChannel(raw: number, ch: ChannelConfig): number {
  let v = raw * ch.scale + ch.offset;
  if (ch.min !== undefined) v = Math.max(ch.min, v);
  if (ch.max !== undefined) v = Math.min(ch.max, v);
  const f = 10 ** ch.decimals;
  return Math.round(v * f) / f;
}
