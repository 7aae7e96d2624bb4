/**
 * The rule engine, loaded on first need (DESIGN §12.13: a daemon idles for months). A daemon with
 * no rule set and no `<home>/orchestration.yaml` never loads the engine or the CEL library; it is
 * loaded at start when either exists, and otherwise by the first `rules.apply` or `rules.test`.
 * Listings of a daemon without rules answer without loading anything.
 */
import fs from 'node:fs';
import type { EventEnvelope } from '../bus/envelope';
import type { RuleStats, Verdict } from './engine';
import type { RuleProblem } from './load';
import type { RulesService, RulesServiceDeps } from './service';

export interface RulesListing {
  etag: string | undefined;
  rules: RuleStats[];
  timers: Record<string, number | null>;
  /** publish actions handed to the fleet outbox since start */
  published: number;
}

export class LazyRules {
  private service: RulesService | undefined;
  private loading: Promise<RulesService> | undefined;
  private stopped = false;

  constructor(private readonly deps: RulesServiceDeps) {}

  /** loaded now only when there is something to run */
  async start(): Promise<void> {
    if (this.deps.repo.active() || fs.existsSync(this.deps.file)) await this.load();
  }

  stop(): void {
    this.stopped = true;
    this.service?.stop();
  }

  saveState(): void {
    this.service?.saveState();
  }

  get loaded(): boolean {
    return this.service !== undefined;
  }

  async apply(source: string, file: string, actor: string, ifMatch?: string): Promise<ReturnType<RulesService['apply']>> {
    return (await this.load()).apply(source, file, actor, ifMatch);
  }

  get(): ReturnType<RulesService['get']> {
    return this.service?.get();
  }

  list(): RulesListing {
    return this.service?.list() ?? { etag: undefined, rules: [], timers: {}, published: 0 };
  }

  async test(e: EventEnvelope): Promise<Verdict[]> {
    return (await this.load()).test(e);
  }

  /** spawns in the active set of agents that are not installed, with where they are written */
  warnings(): RuleProblem[] {
    return this.service?.missingAgents() ?? [];
  }

  private load(): Promise<RulesService> {
    this.loading ??= import('./service').then(({ RulesService: Service }) => {
      const s = new Service(this.deps);
      if (!this.stopped) s.start();
      this.service = s;
      return s;
    });
    return this.loading;
  }
}
