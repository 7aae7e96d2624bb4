/**
 * What of each dashboard section goes over the air (DESIGN §8): the same shape, with the figures
 * that move all the time put into buckets (CPU to 5 points, memory to 4 MB, disk to 1 %, SoC
 * temperature to 2 °C) and clocks that tick by themselves (uptime) replaced by their start, so an
 * idle device's state does not change and is not re-sent. The link publishes a section only when
 * its view differs from the last one it published.
 */
import type { Section } from '../dashboard/model';

const MB = 1024 * 1024;
const bucket = (v: number | null | undefined, step: number): number | null => (v === null || v === undefined ? null : Math.round(v / step) * step);

export function fleetView(s: Section): unknown {
  if (s.name === 'agents') {
    const value = s.value as { instances: Array<Record<string, unknown>> };
    return {
      instances: value.instances.map(({ uptimeMs, cpuPercent, rssBytes, snapshotAt: _at, ...rest }) => ({
        ...rest,
        startedAt: typeof uptimeMs === 'number' ? Math.round((s.at - uptimeMs) / 1000) * 1000 : null,
        cpuPercent: bucket(cpuPercent as number | null, 5),
        rssMb: rssBytes === null || rssBytes === undefined ? null : bucket((rssBytes as number) / MB, 4),
      })),
    };
  }
  if (s.name === 'resources') {
    const r = s.value as { cpuPercent: number | null; memory: { totalBytes: number; availableBytes: number } | null; disk: { path: string; totalBytes: number; freeBytes: number } | null; socTempC: number | null; throttling: unknown; store: unknown };
    return {
      cpuPercent: bucket(r.cpuPercent, 5),
      memory: r.memory && { totalMb: Math.round(r.memory.totalBytes / MB), availableMb: bucket(r.memory.availableBytes / MB, 4) },
      disk: r.disk && { path: r.disk.path, freePercent: bucket((100 * r.disk.freeBytes) / Math.max(1, r.disk.totalBytes), 1) },
      socTempC: bucket(r.socTempC, 2),
      throttling: r.throttling,
      store: r.store,
    };
  }
  if (s.name === 'hal') {
    // readings move all the time and have their own telemetry; the state is the devices' status
    const h = s.value as { board: string; devices: Array<Record<string, unknown>> };
    return { board: h.board, devices: h.devices.map(({ channels: _c, detail, ...d }) => ({ ...d, ...(d.status !== 'ok' && detail ? { detail } : {}) })) };
  }
  if (s.name === 'rules') {
    const r = s.value as { etag: string | null; rules: Array<Record<string, unknown>>; timers: Record<string, number | null> };
    return { etag: r.etag, rules: r.rules.map(({ lastFiredAt: _l, waitingMs: _w, ...x }) => x), timers: r.timers };
  }
  return s.value;
}
