/**
 * The supervisor: the set of instances, spawn / kill / signal / list, and reconciliation of
 * actual to desired state at start (DESIGN §3, §12.1). Desired state lives in SQLite, so after a
 * crash of an agent or of the daemon the same instances come back; an instance done by its policy
 * or a kill is desired stopped and never does (issue 17). Only the control plane calls
 * this; HTTP, MQTT, rules and the CLI reach it through the operation table.
 */
import crypto from 'node:crypto';
import type { EventBus } from '../bus/bus';
import { OszError } from '../errors';
import type { Logger } from '../log';
import type { AgentRecord } from '../store/agents-repo';
import type { InstanceRecord } from '../store/instances-repo';
import type { Store } from '../store/store';
import { processStartTime, bootId } from '../util/proc';
import { resumesAtBoot } from './backoff';
import { ProcSampler } from './proc-sampler';
import { RunningView } from './running-view';
import type { AgentDriver } from './drivers/driver';
import { AgentInstance, type InstanceDeps } from './instance';
import { validateSpawnEnv, type SpawnOptions } from './launch-spec';
import type { InstanceLogs, LogLine } from './logs';
import { driverOf, type Manifest, validateManifest } from './manifest';

export const SIGNALS = ['SIGTERM', 'SIGKILL', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2', 'SIGSTOP', 'SIGCONT'] as const;
export type AgentSignal = (typeof SIGNALS)[number];

export interface AgentStatus {
  instance: string;
  agent: string;
  name: string;
  driver: string;
  state: string;
  desired: 'running' | 'stopped';
  osPid: number | null;
  restarts: number;
  startedAt: number | null;
  uptimeMs: number | null;
  exitCode: number | null;
  exitSignal: string | null;
  reason: string | null;
  tokens: number;
  tokensLastHour: number;
  cpuPercent: number | null;
  rssBytes: number | null;
  createdAt: number;
}

export type SupervisorDeps = Omit<InstanceDeps, 'driver'> & { drivers: Map<string, AgentDriver> };

export class Supervisor {
  private readonly instances = new Map<string, AgentInstance>();
  /** running instances per installed agent, kept as instances change state (running-view.ts) */
  private readonly running = new RunningView(() => this.store.agents.ids());
  private readonly sampler = new ProcSampler();
  private sampleTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SupervisorDeps) {}

  private get store(): Store {
    return this.deps.store;
  }
  private get bus(): EventBus {
    return this.deps.bus;
  }
  private get log(): Logger {
    return this.deps.log;
  }
  get logs(): InstanceLogs {
    return this.deps.logs;
  }

  /**
   * Brings back every instance still desired running (DESIGN §12.1, issue 17): those a daemon stop
   * or crash interrupted. Instances done by their policy were set desired stopped when they ended;
   * a `no` instance cut by the stop is done now. Reaps agent processes left by a crash and prunes
   * exited instances past `supervisor.keepExited` per agent, with their log files.
   */
  async start(): Promise<void> {
    const boot = bootId();
    const resumed: Array<Promise<void>> = [];
    for (const rec of this.store.instances.desiredRunning()) {
      this.reapLeftover(rec, boot);
      const agent = this.store.agents.get(rec.agentId);
      if (!agent) continue;
      let manifest: Manifest;
      try {
        manifest = validateManifest(JSON.parse(agent.manifest), agent.id);
      } catch (err) {
        // A manifest this daemon version no longer accepts fails its instances, not the daemon;
        // the desired state stays, so a daemon that reads it again brings them back.
        this.notResumed(rec, 'failed', `stored manifest is invalid: ${(err as Error).message}`);
        this.log.error('supervisor', `cannot resume ${rec.id}: its stored manifest is invalid; re-add ${agent.id}`);
        continue;
      }
      if (!resumesAtBoot(manifest.restart.policy)) {
        this.bestEffort(() => this.store.instances.update(rec.id, { desired: 'stopped' }, Date.now()));
        this.notResumed(rec, 'exited', 'daemon restarted (policy no)');
        continue;
      }
      const inst = this.makeInstance(rec.id, rec.agentId, manifest, JSON.parse(rec.options) as SpawnOptions, rec.restarts);
      if (!inst) {
        this.notResumed(rec, 'failed', this.store.instances.get(rec.id)?.reason ?? 'driver unavailable');
        continue;
      }
      this.log.info('supervisor', `resuming ${rec.id} (${rec.agentId})`);
      resumed.push(inst.launch());
    }
    this.bestEffort(() => this.pruneAll());
    this.sampleTimer = setInterval(() => this.sampleUsage(), this.deps.supervisor.limits.sampleMs);
    await Promise.all(resumed);
  }

  /** An instance that does not come back: recorded, and said on the bus (rules end its run). */
  private notResumed(rec: InstanceRecord, state: 'exited' | 'failed', reason: string): void {
    if (state === 'failed' || rec.state !== 'failed') this.bestEffort(() => this.store.instances.update(rec.id, { state, reason }, Date.now()));
    const data = { instance: rec.id, agent: rec.agentId, reason };
    this.bus.emit(state === 'failed' ? { type: 'agent:failed', source: 'supervisor', data } : { type: 'agent:exited', source: 'supervisor', data: { ...data, code: null, signal: null, final: true } });
  }

  /** Exited instances past the cap, oldest first, per agent; their log files go with them. */
  private pruneAgent(agentId: string): void {
    this.forget(this.store.instances.pruneAgent(agentId, this.deps.supervisor.keepExited));
  }

  private pruneAll(): void {
    this.forget(this.store.instances.pruneAll(this.deps.supervisor.keepExited));
    this.logs.removeOrphans((id) => this.store.instances.get(id) !== undefined);
  }

  private forget(ids: readonly string[]): void {
    for (const id of ids) {
      this.instances.delete(id);
      this.logs.remove(id);
    }
  }

  /** One pass of the monitor over every live process-backed instance. */
  sampleUsage(): void {
    for (const inst of this.instances.values()) {
      const pid = inst.osPid;
      const fromDriver = inst.driverUsage();
      const u = fromDriver === undefined ? (pid !== null ? this.sampler.sample(pid) : undefined) : fromDriver;
      if (u) inst.onUsage(u);
    }
  }

  /**
   * Stops every live instance with its own grace period, keeping desired state for the next
   * start. Agents declare no dependencies, so "reverse dependency order" is reverse start order:
   * TERM goes to the newest first, and the grace periods run concurrently, so shutdown takes the
   * longest grace, not their sum (systemd's stop timeout must cover it).
   */
  async stop(): Promise<void> {
    if (this.sampleTimer) clearInterval(this.sampleTimer);
    const newestFirst = [...this.instances.values()].sort((a, b) => (b.startedAt ?? 0) - (a.startedAt ?? 0));
    await Promise.all(newestFirst.map((i) => i.stop('SIGTERM', undefined, { halting: true })));
  }

  async spawn(agentId: string, options: SpawnOptions = {}): Promise<{ instance: string; state: string; reason: string | null }> {
    const agent = this.store.agents.require(agentId);
    const manifest = validateManifest(JSON.parse(agent.manifest), agent.id);
    validateSpawnEnv(options.env);
    if (manifest.singleton) {
      const running = this.store.instances.byAgent(agentId).find((r) => r.desired === 'running' && r.state !== 'failed' && r.state !== 'exited');
      if (running) throw new OszError('OSZ_E_SINGLETON_RUNNING', `agent "${agentId}" is a singleton and instance ${running.id} is ${running.state}`, { instance: running.id });
    }
    const driver = this.driverFor(manifest);
    driver.check(manifest);
    const id = newInstanceId(agentId);
    this.store.instances.create(id, agentId, JSON.stringify(options), Date.now());
    const inst = this.makeInstance(id, agentId, manifest, options, 0);
    if (!inst) throw new OszError('OSZ_E_INTERNAL', `instance ${id} could not be created`);
    this.bus.emit({ type: 'agent:spawned', source: 'supervisor', data: { instance: id, agent: agentId }, ...(options.cause ? { cause: options.cause } : {}) });
    await inst.launch();
    return { instance: id, state: inst.state, reason: inst.reason };
  }

  /**
   * `agents.kill`: desired state → stopped, then TERM, grace, KILL (DESIGN §12.1). `target` is an
   * instance id, or an agent id for all of its instances.
   */
  async kill(target: string, signal: 'SIGTERM' | 'SIGKILL' = 'SIGTERM', graceMs?: number): Promise<{ killed: string[] }> {
    const recs = this.resolveTargets(target);
    const now = Date.now();
    for (const r of recs) this.store.instances.update(r.id, { desired: 'stopped' }, now);
    await Promise.all(
      recs.map(async (r) => {
        const inst = this.instances.get(r.id);
        if (inst) await inst.stop(signal, graceMs);
        else if (r.state !== 'exited' && r.state !== 'failed') {
          this.store.instances.update(r.id, { state: 'exited', reason: 'stopped' }, Date.now());
          this.bestEffort(() => this.pruneAgent(r.agentId));
        }
        this.bus.emit({ type: 'agent:killed', source: 'supervisor', data: { instance: r.id, agent: r.agentId, signal } });
      }),
    );
    return { killed: recs.map((r) => r.id) };
  }

  signal(instanceId: string, sig: string): { delivered: boolean } {
    if (!(SIGNALS as readonly string[]).includes(sig)) throw new OszError('OSZ_E_BAD_SIGNAL', `signal "${sig.slice(0, 32)}" is not one the daemon delivers`);
    const inst = this.instances.get(instanceId);
    if (!inst?.live) throw new OszError('OSZ_E_NO_SUCH_INSTANCE', `instance ${instanceId} is not running`, { instance: instanceId });
    return { delivered: inst.signal(sig as NodeJS.Signals) };
  }

  list(filter: { agent?: string; all?: boolean } = {}): AgentStatus[] {
    const recs = filter.agent ? this.store.instances.byAgent(filter.agent) : this.store.instances.list();
    const agents = new Map(this.store.agents.list().map((a) => [a.id, a]));
    return recs.filter((r) => filter.all || r.desired === 'running' || this.instances.get(r.id)?.live).map((r) => this.status(r, agents.get(r.agentId)));
  }

  get(instanceId: string): AgentInstance | undefined {
    return this.instances.get(instanceId);
  }

  /** Log lines of an instance, or of every instance of an agent. */
  logLines(target: string, limit: number): { instances: string[]; lines: LogLine[] } {
    const ids = this.logTargets(target);
    return { instances: ids, lines: this.logs.tail(ids, limit) };
  }

  logTargets(target: string): string[] {
    if (this.store.instances.get(target) || this.logs.has(target)) return [target];
    const byAgent = this.store.instances.byAgent(target).map((r) => r.id);
    if (byAgent.length === 0 && !this.store.agents.get(target)) throw new OszError('OSZ_E_NO_SUCH_INSTANCE', `no instance or agent "${target.slice(0, 128)}"`, { target });
    return byAgent;
  }

  /** Instances a rule spawned that are still desired running: the rules rebuild their runs from these (issue 17). */
  ruleInstances(): Array<{ instance: string; rule: string; cause: string; deadline?: number }> {
    const out: Array<{ instance: string; rule: string; cause: string; deadline?: number }> = [];
    for (const r of this.store.instances.desiredRunning()) {
      let o: SpawnOptions;
      try {
        o = JSON.parse(r.options) as SpawnOptions;
      } catch {
        continue;
      }
      if (!o.rule?.id) continue;
      out.push({ instance: r.id, rule: o.rule.id, cause: o.cause?.id ?? r.id, ...(typeof o.rule.deadline === 'number' ? { deadline: o.rule.deadline } : {}) });
    }
    return out;
  }

  /**
   * Running instances per installed agent, 0 for an agent with none, for rule conditions
   * (`agents['pump-ctl'] == 0` holds while it has none, issue 17).
   */
  runningByAgent(): Readonly<Record<string, number>> {
    return this.running.get();
  }

  /** Live instance count per agent: removal refuses agents that still run. */
  liveInstancesOf(agentId: string): string[] {
    return this.store.instances.byAgent(agentId).filter((r) => r.desired === 'running' || this.instances.get(r.id)?.live).map((r) => r.id);
  }

  /** Bookkeeping writes at start-up must not keep agents from coming back on a full or read-only disk. */
  private bestEffort(write: () => unknown): void {
    try {
      write();
    } catch (err) {
      this.log.error('supervisor', (err as Error).message);
    }
  }

  private resolveTargets(target: string): InstanceRecord[] {
    const one = this.store.instances.get(target);
    if (one) return [one];
    const recs = this.store.instances.byAgent(target).filter((r) => r.desired === 'running' || this.instances.get(r.id)?.live);
    if (recs.length === 0) throw new OszError('OSZ_E_NO_SUCH_INSTANCE', `no running instance or agent "${target.slice(0, 128)}"`, { target });
    return recs;
  }

  private status(r: InstanceRecord, agent: AgentRecord | undefined): AgentStatus {
    const inst = this.instances.get(r.id);
    const startedAt = inst?.state === 'running' ? inst.startedAt : null;
    return {
      instance: r.id,
      agent: r.agentId,
      name: agent?.name ?? r.agentId,
      driver: agent?.driver ?? '?',
      state: inst?.state ?? r.state,
      desired: r.desired,
      osPid: inst?.osPid ?? null,
      restarts: inst?.restarts ?? r.restarts,
      startedAt,
      uptimeMs: startedAt ? Date.now() - startedAt : null,
      exitCode: r.exitCode,
      exitSignal: r.exitSignal,
      reason: inst?.reason ?? r.reason,
      tokens: inst?.tokens ?? 0,
      tokensLastHour: inst?.tokensLastHour ?? 0,
      cpuPercent: inst?.usage ? Math.round(inst.usage.cpuPercent * 10) / 10 : null,
      rssBytes: inst?.usage?.rssBytes ?? null,
      createdAt: r.createdAt,
    };
  }

  private driverFor(manifest: Manifest): AgentDriver {
    const name = driverOf(manifest);
    const driver = this.deps.drivers.get(name);
    if (!driver) throw new OszError('OSZ_E_DRIVER_UNAVAILABLE', `the ${name} driver is not available in this daemon`, { driver: name });
    return driver;
  }

  private makeInstance(id: string, agentId: string, manifest: Manifest, options: SpawnOptions, restarts: number): AgentInstance | undefined {
    let driver: AgentDriver;
    try {
      driver = this.driverFor(manifest);
    } catch (err) {
      this.bestEffort(() => this.store.instances.update(id, { state: 'failed', reason: (err as Error).message }, Date.now()));
      return undefined;
    }
    const inst = new AgentInstance(
      id,
      agentId,
      manifest,
      options,
      { ...this.deps, driver, onDone: (_id, agent) => this.pruneAgent(agent), onState: (agent, from, to) => this.running.transition(agent, from, to) },
      restarts,
    );
    this.instances.set(id, inst);
    return inst;
  }

  /**
   * A process recorded for this instance that is still alive after a daemon crash: ours only if
   * its start time matches (pids are reused). Process agents cannot be re-attached (their channel
   * died with the daemon), so they are killed and respawned (DESIGN §12.16).
   */
  private reapLeftover(rec: InstanceRecord, boot: string): void {
    if (!rec.osPid || rec.osStartTime === null || rec.bootId !== boot) return;
    if (processStartTime(rec.osPid) !== rec.osStartTime) return;
    try {
      process.kill(rec.osPid, 'SIGKILL');
      this.log.warn('supervisor', `reaped leftover agent process ${rec.osPid} of ${rec.id}`);
    } catch {
      /* already gone */
    }
  }
}

function newInstanceId(agentId: string): string {
  return `${agentId}-${crypto.randomBytes(4).toString('hex')}`;
}
