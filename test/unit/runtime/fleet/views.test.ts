/** What goes over the air: figures that move all the time in buckets, ticking clocks replaced by their start. */
import { describe, expect, it } from 'vitest';
import type { Section } from '../../../../runtime/dashboard/model';
import { fleetView, Hysteresis } from '../../../../runtime/fleet/views';

const agents = (at: number, uptimeMs: number, cpu: number, rss: number): Section =>
  ({ name: 'agents', v: 1, rev: 1, at, value: { instances: [{ instance: 'a-1', agent: 'a', driver: 'wasm', state: 'running', restarts: 0, uptimeMs, cpuPercent: cpu, rssBytes: rss, reason: null, tokens: 12, snapshot: { n: 1 }, snapshotAt: at }] } });

describe('fleet views', () => {
  it('an idle agent looks the same round after round', () => {
    const a = JSON.stringify(fleetView(agents(1_000_000, 100_000, 0.4, 30 * 1048576)));
    const b = JSON.stringify(fleetView(agents(1_010_000, 110_000, 1.9, 31 * 1048576)));
    expect(b).toBe(a);
    expect(JSON.parse(a)).toEqual({ instances: [{ instance: 'a-1', agent: 'a', driver: 'wasm', state: 'running', restarts: 0, reason: null, snapshot: { n: 1 }, startedAt: 900_000, cpuPercent: 0, rssMb: 32 }] });
  });

  it('a real change still shows: CPU past a bucket, a new snapshot', () => {
    const a = JSON.stringify(fleetView(agents(1_000_000, 100_000, 0.4, 30 * 1048576)));
    expect(JSON.stringify(fleetView(agents(1_010_000, 110_000, 12, 30 * 1048576)))).not.toBe(a);
  });

  it('a figure sitting on a bucket boundary does not flap, and still follows a real move', () => {
    const h = new Hysteresis();
    const cpu = (v: number): unknown => (fleetView(agents(1_000_000, 100_000, v, 30 * 1048576), h) as { instances: Array<{ cpuPercent: number }> }).instances[0]?.cpuPercent;
    const seen = [2.4, 2.6, 2.4, 2.7, 2.3, 2.6].map(cpu);
    expect(new Set(seen).size).toBe(1);
    expect(cpu(9)).toBe(10);
    expect(cpu(7.6)).toBe(10);
    expect(cpu(0.5)).toBe(0);
    // without the link's memory, each round stands alone
    expect([2.4, 2.6].map((v) => (fleetView(agents(1_000_000, 100_000, v, 30 * 1048576)) as { instances: Array<{ cpuPercent: number }> }).instances[0]?.cpuPercent)).toEqual([0, 5]);
  });

  it('resources in buckets, HAL without readings, rules without their clocks', () => {
    const res = fleetView({ name: 'resources', v: 1, rev: 1, at: 0, value: { cpuPercent: 3.2, memory: { totalBytes: 4e9, availableBytes: 3.1e9 }, disk: { path: '/', totalBytes: 100, freeBytes: 41.4 }, socTempC: 47.3, throttling: null, store: { state: 'ok' } } });
    expect(res).toEqual({ cpuPercent: 5, memory: { totalMb: 3815, availableMb: 2956 }, disk: { path: '/', freePercent: 41 }, socTempC: 48, throttling: null, store: { state: 'ok' } });
    const hal = fleetView({ name: 'hal', v: 1, rev: 1, at: 0, value: { board: 'sim', devices: [{ id: 'climate', kind: 'sensor', status: 'ok', channels: { t: { value: 21.3 } } }, { id: 'soil', kind: 'sensor', status: 'error', detail: 'no data', channels: {} }] } });
    expect(hal).toEqual({ board: 'sim', devices: [{ id: 'climate', kind: 'sensor', status: 'ok' }, { id: 'soil', kind: 'sensor', status: 'error', detail: 'no data' }] });
  });
});
