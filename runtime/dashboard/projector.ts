/**
 * The projector (DESIGN §12.8): the dashboard model's only writer. Every `intervalMs` it polls
 * the running agents for snapshots, reads the supervisor, monitor, HAL, rules and host figures,
 * and replaces each section whose content changed (bumping its revision). Watchers get the
 * changed sections; the latest snapshot of each agent is kept in SQLite, so the dashboard shows
 * it again after a restart.
 */
import type { StoredSnapshot } from '../store/snapshots-repo';
import type { AgentEntry, Dashboard, DashboardSections, Section, SectionName } from './model';
import { SECTIONS } from './model';
import { SnapshotPoller } from './snapshots';

export interface AgentRow {
  instance: string;
  agent: string;
  driver: string;
  state: string;
  restarts: number;
  uptimeMs: number | null;
  cpuPercent: number | null;
  rssBytes: number | null;
  reason: string | null;
  /** tokens the agent reported since the instance started */
  tokens: number;
}

export interface ProjectorSources {
  device(): DashboardSections['device'];
  resources(): DashboardSections['resources'];
  agents(): AgentRow[];
  hal(): DashboardSections['hal'];
  rules(): DashboardSections['rules'];
  fleet(): DashboardSections['fleet'];
  snapshot(instance: string, timeoutMs: number): Promise<unknown>;
  /** the store of snapshots, when there is one */
  snapshots?: { all(): StoredSnapshot[]; save(rows: readonly StoredSnapshot[]): number };
}

export interface ProjectorOptions {
  intervalMs?: number;
  snapshotTimeoutMs?: number;
  now?: () => number;
  onError?: (msg: string) => void;
}

export type Watcher = (changed: Section[]) => void;

export class Projector {
  private readonly model: Dashboard = {};
  private readonly text = new Map<SectionName, string>();
  private readonly watchers = new Set<Watcher>();
  private readonly poller: SnapshotPoller;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly sources: ProjectorSources,
    private readonly opts: ProjectorOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.poller = new SnapshotPoller((i, t) => sources.snapshot(i, t), opts.snapshotTimeoutMs ?? 2000, this.now);
  }

  start(): void {
    // snapshots from before a restart, until the agents answer again
    const stored = this.sources.snapshots?.all() ?? [];
    for (const s of stored) this.poller.seed(s.instance, { snapshot: s.snapshot, at: s.at });
    void this.project();
    this.timer = setInterval(() => void this.project(), this.opts.intervalMs ?? 10_000);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  get(sections: readonly SectionName[] = SECTIONS): Dashboard {
    const out: Dashboard = {};
    for (const name of sections) if (this.model[name]) (out as Record<string, unknown>)[name] = this.model[name];
    return out;
  }

  /** Calls `fn` with the sections that changed, after every round; returns the function that stops it. */
  watch(fn: Watcher): () => void {
    this.watchers.add(fn);
    return () => this.watchers.delete(fn);
  }

  /** One round; concurrent calls share the round in progress. */
  project(): Promise<void> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<void> {
    const rows = this.sources.agents();
    const live = rows.filter((r) => r.state === 'running').map((r) => r.instance);
    await this.poller.poll(live, rows.map((r) => r.instance));
    const agents: AgentEntry[] = rows.map((r) => {
      const s = this.poller.get(r.instance);
      return { ...r, snapshot: s?.snapshot ?? null, snapshotAt: s && s.at > 0 ? s.at : null, ...(s?.error ? { snapshotError: s.error } : {}) };
    });
    const read = <K extends SectionName>(name: K, fn: () => DashboardSections[K]): DashboardSections[K] | undefined => {
      try {
        return fn();
      } catch (err) {
        this.opts.onError?.(`dashboard section ${name}: ${(err as Error).message}`);
        return undefined;
      }
    };
    const next: Partial<DashboardSections> = {
      device: read('device', () => this.sources.device()),
      resources: read('resources', () => this.sources.resources()),
      agents: { instances: agents },
      hal: read('hal', () => this.sources.hal()),
      rules: read('rules', () => this.sources.rules()),
      fleet: read('fleet', () => this.sources.fleet()),
    };
    const changed: Section[] = [];
    const at = this.now();
    for (const name of SECTIONS) {
      const value = next[name];
      if (value === undefined) continue;
      const text = JSON.stringify(value);
      if (this.text.get(name) === text) continue;
      this.text.set(name, text);
      const section = { name, v: 1 as const, rev: (this.model[name]?.rev ?? 0) + 1, at, value } as Section;
      (this.model as Record<string, Section>)[name] = section;
      changed.push(section);
    }
    this.persist(agents);
    if (changed.length) for (const w of [...this.watchers]) w(changed);
  }

  private persist(agents: readonly AgentEntry[]): void {
    if (!this.sources.snapshots) return;
    const rows = agents.filter((a) => a.snapshot !== null && a.snapshotAt !== null).map((a) => ({ agent: a.agent, instance: a.instance, at: a.snapshotAt ?? 0, snapshot: a.snapshot }));
    try {
      this.sources.snapshots.save(rows);
    } catch (err) {
      this.opts.onError?.(`agent snapshots not stored: ${(err as Error).message}`);
    }
  }
}
