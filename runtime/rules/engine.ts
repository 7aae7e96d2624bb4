/**
 * The rule engine (DESIGN §6): every bus event is matched against the active rules; a match whose
 * condition holds goes through the rule's gates — depth, dedup, throttle, cooldown, `for`,
 * debounce, mode and rate — and then its steps run through the control plane (`runStep`). A run
 * ends when everything it spawned has exited; `timeout` kills what it spawned; `cooldown` counts
 * from the run's end. Durations use the monotonic clock; pending `for`/debounce timers, dedup
 * keys, cooldowns and throttles are kept in `state` so that a restart picks them up (see
 * state.ts), and a run's instances and its timeout's deadline are stored with the instances it
 * spawned, so `max` and `timeout` hold across restarts and crashes too (`adopt`, issue 17).
 */
import type { EventEnvelope } from '../bus/envelope';
import { describeSteps, type Step } from './action';
import { keyOf, variables, type World } from './condition';
import type { Rule, RuleSet } from './load';
import { matchesAny } from '../bus/pattern';
import type { PendingState } from './state';

export interface EngineDeps {
  /** runs one step; a spawn answers with the instance it started. `run.deadline`: the wall-clock
   * time the rule's timeout kills what the run spawned, stored with the instance (issue 17) */
  runStep(step: Step, rule: Rule, cause: EventEnvelope, run?: { deadline?: number }): Promise<{ instance?: string } | void>;
  world(): World;
  /** events of the engine itself: `rules:fired`, `rules:limited`, `rules:failed` */
  emit(type: string, data: Record<string, unknown>, cause: EventEnvelope): void;
  log: { info(msg: string): void; warn(msg: string): void };
  /** monotonic milliseconds */
  mono?: () => number;
  /** wall-clock milliseconds (for persisted deadlines and `now` in conditions) */
  wall?: () => number;
  /** actions all rules together may start per minute on this device (default 120) */
  maxActionsPerMinute?: number;
  /** called whenever pending timers or dedup keys change */
  persist?: (state: PendingState[]) => void;
  /** called when state that must survive a kill -9 at once changed (a cooldown started) */
  durable?: () => void;
}

export interface RuleStats {
  id: string;
  on: string[];
  action: string;
  enabled: boolean;
  matched: number;
  fired: number;
  suppressed: Record<string, number>;
  evalErrors: number;
  /** the latest condition error, until the condition evaluates again without one */
  lastEvalError?: string;
  /** the latest failed run (a step that failed, a timeout), until a later run succeeds */
  lastError?: string;
  running: number;
  queued: number;
  lastFiredAt?: number;
  /** a `for` or debounce timer waiting: ms until it fires */
  waitingMs?: number;
  /** dedup keys still inside their ttl */
  dedupKeys: number;
  /** agents the rule spawns that are not installed (set by the rules service) */
  waitingFor?: string[];
}

interface Run {
  instances: Set<string>;
  steps: boolean;
  timer?: NodeJS.Timeout;
  /** wall-clock ms when `timeout` kills it */
  deadline?: number;
  ended: boolean;
}

/** A live instance a rule spawned before a daemon restart, from the store (issue 17). */
export interface OwnedInstance {
  instance: string;
  rule: string;
  /** the id of the event its run was for: instances of one run share it */
  cause: string;
  deadline?: number;
}

interface RuleState {
  rule: Rule;
  stats: RuleStats;
  runs: Set<Run>;
  queue: EventEnvelope[];
  throttleUntil: number;
  cooldownUntil: number;
  dedup: Map<string, number>;
  forTimer?: { timer: NodeJS.Timeout; event: EventEnvelope; deadline: number };
  debounce?: { timer: NodeJS.Timeout; event: EventEnvelope; deadline: number };
  fires: number[];
  limitedAt: number;
}

/** Why a rule did or did not act on an event (`rules test`, stats). */
export interface Verdict {
  rule: string;
  matches: boolean;
  action?: string;
  reason: string;
  /** the condition or dedup key failed to evaluate: an error, not a suppression */
  error?: true;
  /** a rule that would fire: the agents it would spawn that are not installed, so the spawn would fail */
  waitingFor?: string[];
}

export class RuleEngine {
  private states = new Map<string, RuleState>();
  private readonly byInstance = new Map<string, { state: RuleState; run: Run }>();
  private readonly mono: () => number;
  private readonly wall: () => number;
  etag: string | undefined;
  private deviceFires: number[] = [];
  private deviceLimitedAt = -Infinity;
  private readonly maxPerMinute: number;

  constructor(private readonly deps: EngineDeps) {
    this.mono = deps.mono ?? (() => performance.now());
    this.wall = deps.wall ?? Date.now;
    this.maxPerMinute = deps.maxActionsPerMinute ?? 120;
  }

  /** Replaces the rules; a rule whose id stays keeps its counters, dedup keys and pending timers. */
  load(set: RuleSet, pending: readonly PendingState[] = []): void {
    const next = new Map<string, RuleState>();
    for (const rule of set.rules) {
      const old = this.states.get(rule.id);
      const st: RuleState = old
        ? { ...old, rule, stats: { ...old.stats, on: rule.on, action: describeSteps(rule.steps), enabled: rule.enabled } }
        : { rule, stats: { id: rule.id, on: rule.on, action: describeSteps(rule.steps), enabled: rule.enabled, matched: 0, fired: 0, suppressed: {}, evalErrors: 0, running: 0, queued: 0, dedupKeys: 0 }, runs: new Set(), queue: [], throttleUntil: 0, cooldownUntil: 0, dedup: new Map(), fires: [], limitedAt: -Infinity };
      next.set(rule.id, st);
    }
    for (const [id, st] of this.states) if (!next.has(id)) this.clearTimers(st);
    this.states = next;
    this.etag = set.etag;
    this.restore(pending);
  }

  stats(): RuleStats[] {
    const now = this.mono();
    return [...this.states.values()].map((s) => {
      const wait = s.forTimer ?? s.debounce;
      return { ...s.stats, running: s.runs.size, queued: s.queue.length, dedupKeys: [...s.dedup.values()].filter((u) => u > now).length, ...(wait ? { waitingMs: Math.max(0, Math.round(wait.deadline - now)) } : {}) };
    });
  }

  stop(): void {
    for (const st of this.states.values()) this.clearTimers(st);
  }

  /** The bus listener: every event, every rule. */
  handle(e: EventEnvelope): void {
    // A run ends when what it spawned is over for good: an exit the supervisor restarts from
    // (`final: false`) keeps it going, so `max` counts live instances (issue 17). Only the
    // supervisor's own events count: anyone may emit an `agent:exited`.
    if (e.source === 'supervisor' && ((e.type === 'agent:exited' && e.data.final !== false) || e.type === 'agent:failed')) this.instanceEnded(typeof e.data.instance === 'string' ? e.data.instance : '');
    // the condition variables (and the world: agents, device) are built once per event, and only if a rule needs them
    let vars: Record<string, unknown> | undefined;
    const varsOf = (): Record<string, unknown> => (vars ??= variables(e, this.worldNow()));
    for (const st of this.states.values()) {
      if (!st.rule.enabled || !matchesAny(st.rule.on, e.type)) continue;
      st.stats.matched++;
      const v = this.gate(st, e, false, varsOf);
      if (v.reason !== 'fires' && !v.error) {
        const kind = v.reason.slice(0, Math.max(0, v.reason.indexOf(':'))) || v.reason;
        st.stats.suppressed[kind] = (st.stats.suppressed[kind] ?? 0) + 1;
      }
    }
  }

  /** A dry run: what each rule would do with `e`, and why the others would not. Changes nothing. */
  test(e: EventEnvelope): Verdict[] {
    let vars: Record<string, unknown> | undefined;
    const varsOf = (): Record<string, unknown> => (vars ??= variables(e, this.worldNow()));
    return [...this.states.values()].map((st) => {
      if (!st.rule.enabled) return { rule: st.rule.id, matches: false, reason: 'disabled' };
      if (!matchesAny(st.rule.on, e.type)) return { rule: st.rule.id, matches: false, reason: `listens for ${st.rule.on.join(', ')}, not ${e.type}` };
      const v = this.gate(st, e, true, varsOf);
      return { ...v, ...(v.matches ? { action: describeSteps(st.rule.steps) } : {}) };
    });
  }

  private condition(st: RuleState, dry: boolean, varsOf: () => Record<string, unknown>): { ok: boolean; why?: string; error?: true } {
    if (!st.rule.condition) return { ok: true };
    try {
      const r = st.rule.condition.evaluate(varsOf());
      // an error shows until the condition evaluates again (issue 17); the count stays
      if (!dry) delete st.stats.lastEvalError;
      if (r === true) return { ok: true };
      // the explanation is only built for a dry run: on the bus, only the count is kept
      return { ok: false, why: dry ? `if: ${st.rule.condition.source} is ${keyOf(r)}` : 'if: false' };
    } catch (err) {
      // An evaluation error counts as false, and is counted and shown (DESIGN §6).
      const msg = (err as Error).message.split('\n')[0] ?? String(err);
      if (!dry) {
        st.stats.evalErrors++;
        st.stats.lastEvalError = msg;
      }
      return { ok: false, why: `if: ${st.rule.condition.source} failed: ${msg}`, error: true };
    }
  }

  private worldNow(): World {
    const w = this.deps.world();
    return { ...w, now: this.wall() };
  }

  /** Decides, and unless `dry`, acts. */
  private gate(st: RuleState, e: EventEnvelope, dry: boolean, varsOf: () => Record<string, unknown>): Verdict {
    const r = st.rule;
    const no = (reason: string): Verdict => ({ rule: r.id, matches: false, reason });
    if (e.depth > r.maxDepth) return no(`depth: the event is ${e.depth} rule actions deep (maxDepth ${r.maxDepth})`);
    const cond = this.condition(st, dry, varsOf);
    if (!cond.ok) {
      // a `for` rule whose condition stops holding starts over
      if (!dry && st.forTimer) this.cancelFor(st);
      return { ...no(cond.why ?? 'condition'), ...(cond.error ? { error: true as const } : {}) };
    }
    const now = this.mono();
    if (r.dedup) {
      let key: string;
      try {
        key = keyOf(r.dedup.key.evaluate(varsOf()));
      } catch (err) {
        // a key that cannot be computed is the rule's error, shown like a failing condition
        const msg = `dedup key ${r.dedup.key.source} failed: ${(err as Error).message.split('\n')[0] ?? ''}`;
        if (!dry) {
          st.stats.evalErrors++;
          st.stats.lastEvalError = msg;
        }
        return { ...no(`dedup: ${msg}`), error: true };
      }
      const until = st.dedup.get(key);
      if (until !== undefined && until > now) return no(`dedup: key ${key.slice(0, 60)} seen within ${r.dedup.ttl} ms`);
      if (!dry) {
        st.dedup.set(key, now + r.dedup.ttl);
        this.prune(st, now);
        this.save();
      }
    }
    if (now < st.cooldownUntil) return no(`cooldown: ${Math.ceil(st.cooldownUntil - now)} ms left`);
    if (r.throttle !== undefined && now < st.throttleUntil) return no(`throttle: ${Math.ceil(st.throttleUntil - now)} ms left`);
    if (r.for !== undefined) {
      if (dry) return { rule: r.id, matches: true, reason: `fires if the condition still holds after ${r.for} ms` };
      if (!st.forTimer) this.startFor(st, e, r.for);
      else st.forTimer.event = e;
      return no('for: waiting');
    }
    if (r.debounce !== undefined) {
      if (dry) return { rule: r.id, matches: true, reason: `fires after ${r.debounce} ms without another match` };
      this.startDebounce(st, e, r.debounce);
      return no('debounce: waiting');
    }
    if (dry) return { rule: r.id, matches: true, reason: this.modeNote(st) };
    if (r.throttle !== undefined) st.throttleUntil = now + r.throttle;
    return this.fire(st, e);
  }

  private modeNote(st: RuleState): string {
    const busy = st.runs.size > 0;
    if (!busy) return 'fires';
    return st.rule.mode === 'single' ? 'single: a run is still going, so it would be skipped' : st.rule.mode === 'restart' ? 'restart: the running one would be killed first' : st.rule.mode === 'queued' ? 'queued: it would wait for the running one' : 'fires (parallel)';
  }

  private fire(st: RuleState, e: EventEnvelope): Verdict {
    const r = st.rule;
    const no = (reason: string): Verdict => ({ rule: r.id, matches: false, reason });
    if (st.runs.size > 0) {
      if (r.mode === 'single') return no('single: a run is still going');
      if (r.mode === 'queued') {
        if (st.queue.length >= r.max) return no(`queued: ${r.max} events already wait`);
        st.queue.push(e);
        return no('queued: waiting for the running one');
      }
      if (r.mode === 'parallel' && st.runs.size >= r.max) return no(`parallel: ${r.max} runs already going`);
      if (r.mode === 'restart') for (const run of [...st.runs]) this.abort(st, run, 'restarted');
    }
    const now = this.mono();
    st.fires = st.fires.filter((t) => now - t < 60_000);
    if (st.fires.length >= r.maxPerMinute) {
      if (now - st.limitedAt > 60_000) {
        st.limitedAt = now;
        const why = `rule ${r.id} started ${r.maxPerMinute} actions in the last minute (maxPerMinute); further matches are dropped until the rate falls`;
        this.deps.log.warn(why);
        this.deps.emit('rules:limited', { rule: r.id, reason: why }, e);
      }
      return no(`rate: ${r.maxPerMinute} actions a minute`);
    }
    // and all rules together: a storm spread over many rules is stopped too
    this.deviceFires = this.deviceFires.filter((t) => now - t < 60_000);
    if (this.deviceFires.length >= this.maxPerMinute) {
      if (now - this.deviceLimitedAt > 60_000) {
        this.deviceLimitedAt = now;
        const why = `the rules started ${this.maxPerMinute} actions on this device in the last minute (rules.maxActionsPerMinute); further matches of any rule are dropped until the rate falls`;
        this.deps.log.warn(why);
        this.deps.emit('rules:limited', { rule: r.id, reason: why, device: true }, e);
      }
      return no(`rate: ${this.maxPerMinute} actions a minute on this device`);
    }
    this.deviceFires.push(now);
    st.fires.push(now);
    st.stats.fired++;
    st.stats.lastFiredAt = this.wall();
    const run: Run = { instances: new Set(), steps: true, ended: false, ...(r.timeout !== undefined ? { deadline: this.wall() + r.timeout } : {}) };
    st.runs.add(run);
    this.deps.emit('rules:fired', { rule: r.id, event: e.id, type: e.type, action: describeSteps(r.steps) }, e);
    if (r.timeout !== undefined) this.armTimeout(st, run, r.timeout);
    void this.execute(st, run, e);
    return { rule: r.id, matches: true, reason: 'fires' };
  }

  private async execute(st: RuleState, run: Run, e: EventEnvelope): Promise<void> {
    try {
      for (const step of st.rule.steps) {
        if (run.ended) return;
        if (step.kind === 'delay') {
          await new Promise((r) => setTimeout(r, step.ms));
          continue;
        }
        const out = await this.deps.runStep(step, st.rule, e, run.deadline !== undefined ? { deadline: run.deadline } : {});
        if (out?.instance) {
          run.instances.add(out.instance);
          this.byInstance.set(out.instance, { state: st, run });
        }
      }
      // every step ran: an earlier run's error no longer describes the rule (issue 17)
      delete st.stats.lastError;
    } catch (err) {
      const msg = (err as { message?: string }).message ?? String(err);
      st.stats.lastError = msg;
      this.deps.emit('rules:failed', { rule: st.rule.id, event: e.id, error: msg, code: (err as { code?: string }).code ?? 'OSZ_E_INTERNAL' }, e);
    }
    run.steps = false;
    if (run.instances.size === 0) this.endRun(st, run);
  }

  private armTimeout(st: RuleState, run: Run, ms: number): void {
    run.timer = setTimeout(() => this.abort(st, run, `timeout after ${st.rule.timeout ?? ms} ms`), Math.max(0, ms));
  }

  /**
   * Runs that were going when the daemon stopped or crashed, rebuilt from the instances the store
   * says a rule spawned and still wants running (issue 17): `max`, `single` and `restart` count
   * them, and their timeout fires at the deadline stored with them (at once if it passed).
   * Instances of rules no longer in the set are left alone.
   */
  adopt(owned: readonly OwnedInstance[]): void {
    const runs = new Map<string, Run>();
    for (const o of owned) {
      const st = this.states.get(o.rule);
      if (!st || this.byInstance.has(o.instance)) continue;
      const key = `${o.rule}\u0000${o.cause}`;
      let run = runs.get(key);
      if (!run) {
        run = { instances: new Set(), steps: false, ended: false, ...(o.deadline !== undefined ? { deadline: o.deadline } : {}) };
        runs.set(key, run);
        st.runs.add(run);
        // a clock that went back (a Pi without RTC before NTP) cannot stretch it past the timeout
        if (o.deadline !== undefined && st.rule.timeout !== undefined) this.armTimeout(st, run, Math.min(o.deadline - this.wall(), st.rule.timeout));
      }
      run.instances.add(o.instance);
      this.byInstance.set(o.instance, { state: st, run });
    }
  }

  private instanceEnded(instance: string): void {
    const hit = this.byInstance.get(instance);
    if (!hit) return;
    this.byInstance.delete(instance);
    hit.run.instances.delete(instance);
    if (hit.run.instances.size === 0 && !hit.run.steps) this.endRun(hit.state, hit.run);
  }

  private abort(st: RuleState, run: Run, why: string): void {
    if (run.ended) return;
    for (const instance of run.instances) {
      void this.deps.runStep({ kind: 'kill', target: instance }, st.rule, { v: 1, id: 'abort', type: 'rules:abort', source: 'rules', time: new Date(this.wall()).toISOString(), data: { why }, depth: 0 }).catch(() => undefined);
    }
    if (why.startsWith('timeout')) st.stats.lastError = `${why}: killed ${[...run.instances].join(', ') || 'nothing'}`;
    run.steps = false;
    this.endRun(st, run);
  }

  private endRun(st: RuleState, run: Run): void {
    if (run.ended) return;
    run.ended = true;
    if (run.timer) clearTimeout(run.timer);
    for (const i of run.instances) this.byInstance.delete(i);
    st.runs.delete(run);
    if (st.rule.cooldown !== undefined) {
      st.cooldownUntil = this.mono() + st.rule.cooldown;
      this.deps.durable?.();
    }
    const next = st.queue.shift();
    if (next && this.states.get(st.rule.id) === st) this.fire(st, next);
  }

  private startFor(st: RuleState, e: EventEnvelope, ms: number): void {
    const deadline = this.mono() + ms;
    st.forTimer = { event: e, deadline, timer: setTimeout(() => this.forElapsed(st), ms) };
    this.save();
  }

  private forElapsed(st: RuleState): void {
    const f = st.forTimer;
    st.forTimer = undefined;
    this.save();
    if (!f) return;
    if (st.rule.throttle !== undefined) st.throttleUntil = this.mono() + st.rule.throttle;
    this.fire(st, f.event);
  }

  private cancelFor(st: RuleState): void {
    if (st.forTimer) clearTimeout(st.forTimer.timer);
    st.forTimer = undefined;
    this.save();
  }

  private startDebounce(st: RuleState, e: EventEnvelope, ms: number): void {
    if (st.debounce) clearTimeout(st.debounce.timer);
    const deadline = this.mono() + ms;
    st.debounce = {
      event: e,
      deadline,
      timer: setTimeout(() => {
        const d = st.debounce;
        st.debounce = undefined;
        this.save();
        if (d) this.fire(st, d.event);
      }, ms),
    };
    this.save();
  }

  private prune(st: RuleState, now: number): void {
    for (const [k, until] of st.dedup) if (until <= now) st.dedup.delete(k);
    // a key storm must not grow memory without end: keep the newest 10 000
    while (st.dedup.size > 10_000) st.dedup.delete(st.dedup.keys().next().value as string);
  }

  private clearTimers(st: RuleState): void {
    if (st.forTimer) clearTimeout(st.forTimer.timer);
    if (st.debounce) clearTimeout(st.debounce.timer);
    for (const run of st.runs) if (run.timer) clearTimeout(run.timer);
    st.forTimer = undefined;
    st.debounce = undefined;
  }

  /** What must survive a restart, with deadlines as remaining time and wall time. */
  pending(): PendingState[] {
    const now = this.mono();
    const wall = this.wall();
    const out: PendingState[] = [];
    for (const st of this.states.values()) {
      const id = st.rule.id;
      if (st.forTimer) out.push({ rule: id, kind: 'for', key: '', remainingMs: Math.max(0, st.forTimer.deadline - now), wallDeadline: wall + Math.max(0, st.forTimer.deadline - now), event: st.forTimer.event });
      if (st.debounce) out.push({ rule: id, kind: 'debounce', key: '', remainingMs: Math.max(0, st.debounce.deadline - now), wallDeadline: wall + Math.max(0, st.debounce.deadline - now), event: st.debounce.event });
      for (const [key, until] of st.dedup) if (until > now) out.push({ rule: id, kind: 'dedup', key, remainingMs: until - now, wallDeadline: wall + (until - now) });
      for (const kind of ['cooldown', 'throttle'] as const) {
        const until = kind === 'cooldown' ? st.cooldownUntil : st.throttleUntil;
        if (until > now) out.push({ rule: id, kind, key: '', remainingMs: until - now, wallDeadline: wall + (until - now) });
      }
    }
    return out;
  }

  private save(): void {
    this.deps.persist?.(this.pending());
  }

  /** Pending state from before a restart, already re-based to remaining milliseconds (state.ts). */
  private restore(pending: readonly PendingState[]): void {
    const now = this.mono();
    for (const p of pending) {
      const st = this.states.get(p.rule);
      if (!st) continue;
      if (p.kind === 'dedup') {
        if (st.rule.dedup) st.dedup.set(p.key, now + p.remainingMs);
      } else if (p.kind === 'cooldown') {
        if (st.rule.cooldown !== undefined) st.cooldownUntil = Math.max(st.cooldownUntil, now + Math.min(p.remainingMs, st.rule.cooldown));
      } else if (p.kind === 'throttle') {
        if (st.rule.throttle !== undefined) st.throttleUntil = Math.max(st.throttleUntil, now + Math.min(p.remainingMs, st.rule.throttle));
      } else if (p.kind === 'for' && p.event && st.rule.for !== undefined && !st.forTimer) {
        this.startFor(st, p.event, p.remainingMs);
      } else if (p.kind === 'debounce' && p.event && st.rule.debounce !== undefined && !st.debounce) {
        this.startDebounce(st, p.event, p.remainingMs);
      }
    }
  }
}
