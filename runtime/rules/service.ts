/**
 * Rules in the daemon: the active rule set from the store, the engine on the bus, and its actions
 * through the control plane under the caller `rules:<rule id>` (so they are checked and audited like
 * anyone's). At start, `<home>/orchestration.yaml` is imported when it changed since its last
 * import; a broken file is logged and the active set stays. `publish` actions go to the fleet outbox,
 * under the device's own `pub/<topic>` (docs/rules.md; issue 17).
 */
import fs from 'node:fs';
import type { EventBus } from '../bus/bus';
import type { EventEnvelope } from '../bus/envelope';
import type { Caller } from '../control/op';
import { OszError } from '../errors';
import type { Logger } from '../log';
import type { RulesRepo, StoredRuleSet } from '../store/rules-repo';
import type { RulePublish } from '../fleet/payloads';
import type { Step } from './action';
import type { World } from './condition';
import { type OwnedInstance, RuleEngine, type RuleStats, type Verdict } from './engine';
import { etagOf, loadRuleSet, type Rule, type RuleProblem, type RuleSet } from './load';
import { rebase } from './state';
import { CronTimers } from './cron-timers';
import { formatWarning } from './warning';

export interface RulesServiceDeps {
  repo: RulesRepo;
  bus: EventBus;
  log: Logger;
  /** the control plane */
  call(op: string, params: unknown, caller: Caller): Promise<unknown>;
  world(): Omit<World, 'now'>;
  /** live instances the rules spawned, from the store: their runs survive a restart (issue 17) */
  ruleInstances(): OwnedInstance[];
  bootId: string;
  /** `<home>/orchestration.yaml` */
  file: string;
  /** whether an agent id is installed (spawns of others are warned about, and their rules wait); cheap, asked per rule */
  installed(agent: string): boolean;
  maxActionsPerMinute?: number;
  /**
   * a publish action: queued in the fleet outbox after its cause, under `pub/<topic>`; throws
   * OSZ_E_FLEET_OFF on a device without a broker
   */
  publish(topic: string, message: RulePublish): void;
}

const START_ACTOR = 'daemon:start';

export class RulesService {
  readonly engine: RuleEngine;
  private set: RuleSet | undefined;
  private stored: StoredRuleSet | undefined;
  /** publish actions handed to the fleet outbox, since start */
  published = 0;
  private cron: CronTimers | undefined;
  private stopped = false;

  constructor(private readonly deps: RulesServiceDeps) {
    this.engine = new RuleEngine({
      runStep: (step, rule, cause, run) => this.runStep(step, rule, cause, run),
      world: () => ({ ...deps.world(), now: Date.now() }),
      emit: (type, data, cause) => void deps.bus.emit({ type, source: 'rules', data, cause }),
      log: { info: (m) => deps.log.info('rules', m), warn: (m) => deps.log.warn('rules', m) },
      ...(deps.maxActionsPerMinute ? { maxActionsPerMinute: deps.maxActionsPerMinute } : {}),
      // a cooldown that starts is written at once, not at the next periodic save: a kill -9 right
      // after a run must not let the rule fire again at once
      durable: () => this.saveState(),
    });
  }

  start(): void {
    const { repo, log } = this.deps;
    this.stored = repo.active();
    const saved = repo.loadState();
    const pending = saved ? rebase(saved, Date.now(), this.deps.bootId) : [];
    if (this.stored) {
      try {
        this.set = loadRuleSet(this.stored.source, this.stored.file);
        this.engine.load(this.set, pending);
        this.adoptRuns();
        this.startCron(this.set);
        const warnings = this.missingAgents(this.set);
        if (warnings.length) log.warn('rules', `the active rule set: ${warnings.map(formatWarning).join('; ')}`);
      } catch (err) {
        // a set stored by an older daemon that this one reads differently: say so, run none
        log.error('rules', `the stored rule set ${this.stored.etag} no longer loads: ${(err as Error).message}`);
      }
    }
    if (fs.existsSync(this.deps.file)) {
      try {
        // Imported when the file changed since it was last imported: a set applied since with
        // `rules apply` is not undone by a restart, and an edit of the file is picked up.
        const text = fs.readFileSync(this.deps.file, 'utf8');
        if (repo.lastEtagBy(START_ACTOR) === etagOf(text)) return this.listen();
        const r = this.apply(text, this.deps.file, START_ACTOR);
        if (r.changed) log.info('rules', `imported ${this.deps.file}: ${r.rules} rules, etag ${r.etag}`);
      } catch (err) {
        log.error('rules', (err as Error).message);
      }
    }
    this.listen();
  }

  private adoptRuns(): void {
    try {
      this.engine.adopt(this.deps.ruleInstances());
    } catch (err) {
      this.deps.log.error('rules', `the runs of rule-spawned instances could not be read: ${(err as Error).message}`);
    }
  }

  private listen(): void {
    this.deps.bus.on('rules', '**', (e) => this.engine.handle(e));
  }

  stop(): void {
    this.cron?.stop();
    this.saveState();
    // what was saved is what survives: later flushes (the store's own stop) must not overwrite it
    this.stopped = true;
    this.deps.bus.removeOwner('rules');
    this.engine.stop();
  }

  /**
   * Parses, stores in one transaction, then swaps the engine's rules. Throws OSZ_E_RULES with every
   * problem. With `ifMatch`, applies only over that etag (`none`: only when no set is active), so two
   * operators editing at once cannot silently undo each other (OSZ_E_ETAG_MISMATCH).
   */
  apply(source: string, file: string, actor: string, ifMatch?: string): { etag: string; rules: number; changed: boolean; previous?: string; warnings: RuleProblem[] } {
    const previous = this.stored?.etag;
    if (ifMatch !== undefined && ifMatch !== (previous ?? 'none')) {
      throw new OszError('OSZ_E_ETAG_MISMATCH', `the active rule set is ${previous ?? 'none'}, not ${ifMatch}`, { etag: previous ?? 'none' });
    }
    const set = loadRuleSet(source, file);
    const warnings = this.missingAgents(set);
    if (warnings.length) this.deps.log.warn('rules', `${file}: ${warnings.map(formatWarning).join('; ')}`);
    if (previous === set.etag) return { etag: set.etag, rules: set.rules.length, changed: false, warnings };
    this.stored = this.deps.repo.apply({ etag: set.etag, source, file, actor, rules: set.rules.map((r) => ({ id: r.id, on: r.on, ...(r.condition ? { condition: r.condition.source } : {}), action: r.actionText })) });
    const first = this.set === undefined;
    this.set = set;
    this.engine.load(set, this.engine.pending());
    // the first set of this daemon's life (imported at start, or applied to a daemon that had
    // none): the instances its rules spawned before are its runs
    if (first) this.adoptRuns();
    this.startCron(set);
    this.deps.bus.emit({ type: 'rules:applied', source: 'rules', data: { etag: set.etag, rules: set.rules.length, actor, ...(previous ? { previous } : {}) } });
    return { etag: set.etag, rules: set.rules.length, changed: true, ...(previous ? { previous } : {}), warnings };
  }

  /**
   * Spawns of agents that are not installed (issue 17): applied all the same — the agent may be
   * added later — but said at once, with the rule and where the spawn is written.
   */
  missingAgents(set: RuleSet | undefined = this.set): RuleProblem[] {
    return (set?.rules ?? []).flatMap((r) =>
      r.spawns.filter((sp) => !this.deps.installed(sp.agent)).map((sp) => ({ rule: r.id, ...(sp.line ? { line: sp.line, column: sp.column ?? 0 } : {}), message: `spawns agent "${sp.agent}", which is not installed; the rule waits for it (openstarryctl agent add)` })),
    );
  }

  private waitingFor(rule: Rule): string[] {
    return [...new Set(rule.spawns.map((sp) => sp.agent))].filter((a) => !this.deps.installed(a));
  }

  get(): { etag: string; source: string; file: string; actor: string; appliedAt: number } | undefined {
    const s = this.stored;
    return s && { etag: s.etag, source: s.source, file: s.file, actor: s.actor, appliedAt: s.appliedAt };
  }

  list(): { etag: string | undefined; rules: RuleStats[]; timers: Record<string, number | null>; published: number } {
    const byId = new Map((this.set?.rules ?? []).map((r) => [r.id, r]));
    const rules = this.engine.stats().map((st) => {
      const rule = byId.get(st.id);
      const waiting = rule ? this.waitingFor(rule) : [];
      return waiting.length ? { ...st, waitingFor: waiting } : st;
    });
    return { etag: this.stored?.etag, rules, timers: this.cron?.schedule() ?? {}, published: this.published };
  }

  private startCron(set: RuleSet): void {
    this.cron?.stop();
    this.cron = new CronTimers(set.timers, (name, scheduledFor) => void this.deps.bus.emit({ type: `cron:${name}`, source: 'cron', data: { name, scheduledFor: new Date(scheduledFor).toISOString() } }));
    this.cron.start();
  }

  /** The engine's dry run; a rule that would fire a spawn of an agent that is not installed says so. */
  test(e: EventEnvelope): Verdict[] {
    const byId = new Map((this.set?.rules ?? []).map((r) => [r.id, r]));
    return this.engine.test(e).map((v) => {
      const rule = byId.get(v.rule);
      const waiting = v.matches && rule ? this.waitingFor(rule) : [];
      return waiting.length ? { ...v, waitingFor: waiting } : v;
    });
  }

  saveState(): void {
    if (this.stopped) return;
    try {
      this.deps.repo.saveState({ savedAt: Date.now(), bootId: this.deps.bootId, pending: this.engine.pending() });
    } catch (err) {
      this.deps.log.warn('rules', `pending rule state not saved: ${(err as Error).message}`);
    }
  }

  private async runStep(step: Step, rule: Rule, cause: EventEnvelope, run: { deadline?: number } = {}): Promise<{ instance?: string } | void> {
    const caller: Caller = { actor: `rules:${rule.id}`, role: 'operator', transport: 'rules' };
    const call = (op: string, params: unknown, who: Caller): Promise<unknown> => this.deps.call(op, params, who);
    switch (step.kind) {
      case 'spawn': {
        const r = (await call('agents.spawn', { agent: step.agent, ...(step.env ? { env: step.env } : {}), cause: { id: cause.id, depth: cause.depth }, trigger: cause, ...(run.deadline !== undefined ? { deadline: run.deadline } : {}) }, caller)) as { instance?: string };
        return r.instance ? { instance: r.instance } : undefined;
      }
      case 'kill':
        await call('agents.kill', { instance: step.target }, caller);
        return;
      case 'signal':
        await call('agents.signal', { instance: step.target, signal: step.signal }, caller);
        return;
      case 'hal':
        // checked against the rule set's grants at import; checked again here in case the set changed
        if (!this.set?.grants.actuators.includes(step.device)) throw Object.assign(new Error(`rule ${rule.id} may not command ${step.device}`), { code: 'HAL_E_DENIED' });
        await call('hal.set', { device: step.device, command: typeof step.command === 'string' ? step.command : JSON.stringify(step.command) }, caller);
        return;
      case 'publish':
        this.deps.publish(step.topic, { v: 1, rule: rule.id, event: cause.id, type: cause.type, time: new Date().toISOString(), data: step.data ?? cause.data });
        this.published++;
        return;
      case 'delay':
        return;
    }
  }
}
