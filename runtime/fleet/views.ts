/**
 * What of each dashboard section goes over the air (DESIGN §8): the same shape, with the figures
 * that move all the time put into buckets (CPU to 5 points, memory to 4 MB, disk to 1 %, SoC
 * temperature to 2 °C) and clocks that tick by themselves (uptime) replaced by their start, so an
 * idle device's state does not change and is not re-sent. The link publishes a section only when
 * its view differs from the last one it published.
 *
 * Buckets alone flap: an agent idling at 2.4-2.6 % CPU crosses the 2.5 boundary every poll, and
 * with 20 agents one flapping figure re-sends the whole section (measured: 490 MB a month instead
 * of 11-22). So each figure keeps its last bucket until the raw value is ¾ of a step away from it
 * (hysteresis), per instance; the error stays under one step.
 */
import type { Section } from '../dashboard/model';

const MB = 1024 * 1024;

/** the last bucket of each figure, so a value sitting on a boundary does not flap */
export class Hysteresis {
  private readonly last = new Map<string, number>();
  private readonly seen = new Set<string>();

  bucket(key: string, v: number | null | undefined, step: number): number | null {
    if (v === null || v === undefined) return null;
    this.seen.add(key);
    const last = this.last.get(key);
    if (last !== undefined && Math.abs(v - last) < step * 0.75) return last;
    const b = Math.round(v / step) * step;
    this.last.set(key, b);
    return b;
  }

  /** forgets the figures of `prefix` not asked for since the last sweep (instances that are gone) */
  sweep(prefix: string): void {
    for (const k of this.last.keys()) if (k.startsWith(prefix) && !this.seen.has(k)) this.last.delete(k);
    for (const k of this.seen) if (k.startsWith(prefix)) this.seen.delete(k);
  }
}

/** the section as it goes over the air; pass the link's own Hysteresis to keep figures from flapping */
export function fleetView(s: Section, h: Hysteresis = new Hysteresis()): unknown {
  if (s.name === 'agents') {
    const value = s.value as { instances: Array<Record<string, unknown>> };
    const view = {
      instances: value.instances.map(({ uptimeMs, cpuPercent, rssBytes, snapshotAt: _at, tokens: _t, ...rest }) => {
        const id = `agents/${String(rest.instance)}/`;
        return {
          ...rest,
          startedAt: h.bucket(`${id}start`, typeof uptimeMs === 'number' ? s.at - uptimeMs : null, 1000),
          cpuPercent: h.bucket(`${id}cpu`, cpuPercent as number | null, 5),
          rssMb: h.bucket(`${id}rss`, rssBytes === null || rssBytes === undefined ? null : (rssBytes as number) / MB, 4),
        };
      }),
    };
    h.sweep('agents/');
    return view;
  }
  if (s.name === 'resources') {
    const r = s.value as { cpuPercent: number | null; memory: { totalBytes: number; availableBytes: number } | null; disk: { path: string; totalBytes: number; freeBytes: number } | null; socTempC: number | null; throttling: unknown; store: unknown };
    return {
      cpuPercent: h.bucket('resources/cpu', r.cpuPercent, 5),
      memory: r.memory && { totalMb: Math.round(r.memory.totalBytes / MB), availableMb: h.bucket('resources/mem', r.memory.availableBytes / MB, 4) },
      disk: r.disk && { path: r.disk.path, freePercent: h.bucket('resources/disk', (100 * r.disk.freeBytes) / Math.max(1, r.disk.totalBytes), 1) },
      socTempC: h.bucket('resources/soc', r.socTempC, 2),
      throttling: r.throttling,
      store: r.store,
    };
  }
  if (s.name === 'hal') {
    // readings move all the time and have their own telemetry; the state is the devices' status
    const h = s.value as { board: string; devices: Array<Record<string, unknown>> };
    return { board: h.board, devices: h.devices.map(({ channels: _c, detail, ...d }) => ({ ...d, ...(d.status !== 'ok' && detail ? { detail } : {}) })) };
  }
  if (s.name === 'fleet') {
    // the outbox depth moves with every event: in buckets of 100, so a backlog shows and a trickle does not
    const f = s.value as { state: string; broker: string | null; outbox: number };
    return { state: f.state, broker: f.broker, outbox: h.bucket('fleet/outbox', f.outbox, 100) };
  }
  if (s.name === 'rules') {
    const r = s.value as { etag: string | null; rules: Array<Record<string, unknown>>; timers: Record<string, number | null> };
    return { etag: r.etag, rules: r.rules.map(({ lastFiredAt: _l, waitingMs: _w, ...x }) => x), timers: r.timers };
  }
  return s.value;
}
