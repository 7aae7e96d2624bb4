/**
 * Host figures for the dashboard (DESIGN §12.8): CPU, memory, disk, SoC temperature and the
 * firmware's throttling flags, read through a SysRoot. CPU is a rate, so it takes two samples.
 */
import fs from 'node:fs';
import type { SysRoot } from './root';

export interface CpuTimes {
  idle: number;
  total: number;
}

export interface Throttling {
  raw: number;
  underVoltage: boolean;
  frequencyCapped: boolean;
  throttled: boolean;
  softTempLimit: boolean;
  /** the same four, at any time since boot */
  underVoltageOccurred: boolean;
  frequencyCappedOccurred: boolean;
  throttledOccurred: boolean;
  softTempLimitOccurred: boolean;
}

export interface HostFigures {
  cpuPercent: number | null;
  memory: { totalBytes: number; availableBytes: number } | null;
  disk: { path: string; totalBytes: number; freeBytes: number } | null;
  socTempC: number | null;
  throttling: Throttling | null;
}

export function cpuTimes(r: SysRoot): CpuTimes | undefined {
  const line = r.read('/proc/stat')?.split('\n').find((l) => l.startsWith('cpu '));
  if (!line) return undefined;
  const f = line.trim().split(/\s+/).slice(1).map(Number);
  if (f.length < 4 || f.some((x) => !Number.isFinite(x))) return undefined;
  const idle = (f[3] ?? 0) + (f[4] ?? 0); // idle + iowait
  return { idle, total: f.reduce((a, b) => a + b, 0) };
}

export function cpuPercent(a: CpuTimes, b: CpuTimes): number {
  const total = b.total - a.total;
  return total <= 0 ? 0 : Math.round(((total - (b.idle - a.idle)) / total) * 1000) / 10;
}

export function memory(r: SysRoot): HostFigures['memory'] {
  const text = r.read('/proc/meminfo');
  const kb = (k: string): number | undefined => {
    const m = new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(text ?? '');
    return m ? Number(m[1]) * 1024 : undefined;
  };
  const total = kb('MemTotal');
  const available = kb('MemAvailable');
  return total !== undefined && available !== undefined ? { totalBytes: total, availableBytes: available } : null;
}

export function socTemperature(r: SysRoot): number | null {
  const milli = r.readNumber('/sys/class/thermal/thermal_zone0/temp');
  return milli === undefined ? null : Math.round(milli / 100) / 10;
}

/** The firmware's get_throttled bits (the same as `vcgencmd get_throttled`). */
export function throttling(r: SysRoot): Throttling | null {
  const text = r.read('/sys/devices/platform/soc/soc:firmware/get_throttled');
  if (text === undefined) return null;
  const raw = Number.parseInt(text.replace(/^throttled=/, ''), 16);
  if (!Number.isFinite(raw)) return null;
  const bit = (n: number): boolean => (raw & (1 << n)) !== 0;
  return {
    raw,
    underVoltage: bit(0),
    frequencyCapped: bit(1),
    throttled: bit(2),
    softTempLimit: bit(3),
    underVoltageOccurred: bit(16),
    frequencyCappedOccurred: bit(17),
    throttledOccurred: bit(18),
    softTempLimitOccurred: bit(19),
  };
}

export function disk(p: string): HostFigures['disk'] {
  try {
    const s = fs.statfsSync(p);
    return { path: p, totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize };
  } catch {
    return null;
  }
}

/** A sampler: the first call has no CPU figure yet (a rate needs two samples). */
export function hostSampler(r: SysRoot, diskPath: string): () => HostFigures {
  let prev = cpuTimes(r);
  return () => {
    const now = cpuTimes(r);
    const cpu = prev && now ? cpuPercent(prev, now) : null;
    prev = now;
    return { cpuPercent: cpu, memory: memory(r), disk: disk(diskPath), socTempC: socTemperature(r), throttling: throttling(r) };
  };
}
