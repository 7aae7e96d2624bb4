/**
 * Built-in probes (DESIGN §6): HTTP and TCP checks of the services a device depends on, its disk,
 * its SoC temperature, and that an agent runs. Each probe runs on its interval; after `failAfter`
 * failures in a row it raises the down event once (`alert:server_down`, `alert:disk_low`,
 * `alert:overheat`, `alert:agent_down`), and the first success after that the up event. A probe
 * never raises an up event for a target it has not seen down.
 */
import type { ProbeConfig } from '../config/schema';
import { check, type CheckContext, targetOf } from './checks';

const EVENTS: Record<ProbeConfig['kind'], [down: string, up: string]> = {
  http: ['alert:server_down', 'alert:server_up'],
  tcp: ['alert:server_down', 'alert:server_up'],
  disk: ['alert:disk_low', 'alert:disk_ok'],
  temperature: ['alert:overheat', 'alert:temperature_ok'],
  agent: ['alert:agent_down', 'alert:agent_up'],
};

export interface ProbeStatus {
  name: string;
  kind: ProbeConfig['kind'];
  target: string;
  state: 'unknown' | 'up' | 'down';
  failures: number;
  lastError?: string;
  lastCheckAt?: number;
}

export class Probes {
  private readonly status = new Map<string, ProbeStatus>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(
    private readonly probes: readonly ProbeConfig[],
    private readonly ctx: CheckContext,
    private readonly emit: (type: string, data: Record<string, unknown>) => void,
  ) {
    for (const p of probes) this.status.set(p.name, { name: p.name, kind: p.kind, target: targetOf(p), state: 'unknown', failures: 0 });
  }

  start(): void {
    for (const p of this.probes) this.schedule(p, 0);
  }

  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  list(): ProbeStatus[] {
    return [...this.status.values()].map((s) => ({ ...s }));
  }

  /** Runs one probe now (also what its timer does). */
  async run(p: ProbeConfig): Promise<void> {
    const s = this.status.get(p.name);
    if (!s) return;
    const [down, up] = EVENTS[p.kind];
    try {
      await check(p, this.ctx);
      const was = s.state;
      s.failures = 0;
      s.state = 'up';
      delete s.lastError;
      if (was === 'down') this.emit(up, { probe: p.name, target: s.target });
    } catch (err) {
      s.failures++;
      s.lastError = (err as Error).message;
      if (s.failures >= p.failAfter && s.state !== 'down') {
        s.state = 'down';
        this.emit(down, { probe: p.name, target: s.target, error: s.lastError, failures: s.failures });
      }
    } finally {
      s.lastCheckAt = Date.now();
    }
  }

  private schedule(p: ProbeConfig, delay: number): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void this.run(p).finally(() => this.schedule(p, p.intervalMs));
    }, delay);
    t.unref();
    this.timers.add(t);
  }
}
