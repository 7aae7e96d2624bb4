/**
 * One instance's life: launch through its driver, the protocol session, heartbeats, exit
 * handling with the restart policy and backoff, and stopping with TERM → grace → KILL
 * (DESIGN §3, §12.1). The supervisor owns the set of instances; this class owns one.
 */
import type { EventBus } from '../bus/bus';
import { OszError, toOszError } from '../errors';
import type { Logger } from '../log';
import type { Store } from '../store/store';
import type { InstanceState } from '../store/instances-repo';
import { bootId } from '../util/proc';
import { backoffDelay, maxRetriesOf, shouldRestart } from './backoff';
import type { ChannelLimits } from './channel-budget';
import type { AgentDriver, AgentExit, LaunchedAgent } from './drivers/driver';
import type { AgentHalPort } from './hal-port';
import type { Installer } from './install';
import { buildLaunchSpec, type SpawnOptions } from './launch-spec';
import type { InstanceLogs } from './logs';
import type { Manifest } from './manifest';
import { isHeapExhaustion, LimitWatch, type UsageSample } from './limits';
import { AgentSession } from './session';

export interface InstanceDeps {
  store: Store;
  bus: EventBus;
  log: Logger;
  logs: InstanceLogs;
  hal: AgentHalPort;
  installer: Installer;
  driver: AgentDriver;
  /** the instance is over for good (desired stopped, exited or failed): the supervisor prunes */
  onDone?: (instance: string, agentId: string) => void;
  /** every state change, for the supervisor's running view (running-view.ts) */
  onState?: (agentId: string, from: InstanceState | undefined, to: InstanceState) => void;
  dataRoot: string;
  separateUid: boolean;
  supervisor: {
    backoff: { initialMs: number; maxMs: number };
    healthyResetMs: number;
    heartbeatMs: number;
    missedHeartbeats: number;
    helloTimeoutMs: number;
    graceMs: number;
    /** exited instances kept per agent (issue 17) */
    keepExited: number;
    limits: { sampleMs: number; cpuGraceMs: number; rssOverheadMb: number };
    channel: ChannelLimits;
  };
}

export class AgentInstance {
  state: InstanceState = 'starting';
  /** restarts since the last healthy period (reset after healthyResetMs running) */
  private attempt = 0;
  restarts: number;
  startedAt: number | null = null;
  tokens = 0;
  /** the latest CPU / memory sample while running */
  usage: UsageSample | null = null;
  private readonly limits: LimitWatch;
  reason: string | null = null;
  private launched: LaunchedAgent | undefined;
  private session: AgentSession | undefined;
  private runId: number | undefined;
  private backoffTimer: NodeJS.Timeout | undefined;
  private healthyTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private lastHeartbeat = 0;
  private hostReason: string | undefined;
  private exitWaiters: Array<() => void> = [];
  /** set while the daemon shuts down: the run ends, the desired state stays for the next boot */
  private halting = false;
  /** set by stop(); a launch that completes afterwards is killed at once */
  private stopRequested = false;

  constructor(
    readonly id: string,
    readonly agentId: string,
    readonly manifest: Manifest,
    private readonly options: SpawnOptions,
    private readonly deps: InstanceDeps,
    restarts = 0,
  ) {
    this.restarts = restarts;
    const l = manifest.limits;
    this.limits = new LimitWatch({ memoryMb: l.memoryMb, cpuPercent: l.cpuPercent, tokensPerHour: l.tokensPerHour, ...deps.supervisor.limits });
  }

  /**
   * Usage the driver measures itself (workers: /proc of their shared host pid would be wrong):
   * undefined when the driver does not measure, null while it has no sample yet.
   */
  driverUsage(): UsageSample | null | undefined {
    const l = this.launched;
    if (!l?.usage) return undefined;
    return l.usage() ?? null;
  }

  get tokensLastHour(): number {
    return this.limits.tokensLastHour;
  }

  /** A resource sample from the monitor; a limit over its budget stops the agent. */
  onUsage(u: UsageSample, now = performance.now()): void {
    if (this.state !== 'running') return;
    this.usage = u;
    const why = this.limits.onSample(u, now);
    if (why) this.hostKill(why);
  }

  /** `{cause}` for bus.emit: the rule event this instance was spawned for, if any */
  private get cause(): { cause?: { id: string; depth: number } } {
    return this.options.cause ? { cause: this.options.cause } : {};
  }

  get osPid(): number | null {
    return this.launched?.osPid ?? null;
  }

  get live(): boolean {
    return this.launched !== undefined;
  }

  get desired(): 'running' | 'stopped' {
    return this.deps.store.instances.get(this.id)?.desired ?? 'stopped';
  }

  snapshot(timeoutMs?: number): Promise<unknown> {
    if (!this.session || this.state !== 'running') return Promise.reject(new OszError('OSZ_E_NO_SUCH_INSTANCE', `instance ${this.id} is not running`));
    return this.session.snapshot(timeoutMs);
  }

  /** Starts (or restarts) the agent; failures end in the exit path, never in a throw. */
  async launch(): Promise<void> {
    this.stopRequested = false;
    this.clearTimers();
    this.setState('starting', null);
    const d = this.deps;
    let secretValues: string[] = [];
    let launchedAgent: LaunchedAgent | undefined;
    try {
      const agent = d.store.agents.require(this.agentId);
      d.installer.verifyInstalled(agent.storePath, agent.hash);
      d.driver.check(this.manifest);
      const built = buildLaunchSpec({
        instanceId: this.id,
        agent,
        manifest: this.manifest,
        options: this.options,
        dataRoot: d.dataRoot,
        separateUid: d.separateUid,
        heartbeatMs: d.supervisor.heartbeatMs,
        plugins: d.store.plugins,
        secrets: d.store.secrets,
      });
      secretValues = built.secretValues;
      d.logs.open(this.id, secretValues, this.agentId);
      launchedAgent = this.launched = await d.driver.launch(built.spec);
      const launched = launchedAgent;
      if (this.stopRequested) {
        // stop() ran while the sandbox was being created: end it before it does anything.
        launched.signal('SIGKILL');
      }
      this.hostReason = undefined;
      this.recordStart(launched);
      d.logs.append(this.id, 'daemon', 'info', `started with driver ${d.driver.name}${launched.osPid ? `, pid ${launched.osPid}` : ''}`);
      this.session = new AgentSession(built.spec, launched, {
        bus: d.bus,
        hal: d.hal,
        logs: d.logs,
        ...this.cause,
        helloTimeoutMs: d.supervisor.helloTimeoutMs,
        channel: d.supervisor.channel,
        onViolation: (why) => this.hostKill(`protocol violation: ${why}`),
        onHeartbeat: () => {
          this.lastHeartbeat = performance.now();
        },
        // While the daemon holds the channel (issue 16) the agent's heartbeats wait behind what
        // it sent: not silence. A flood is still bounded by the budget and by limits.cpuPercent.
        onHeld: () => {
          this.lastHeartbeat = performance.now();
        },
        onTokens: (n) => {
          this.tokens += n;
          const why = this.limits.onTokens(n, Date.now());
          if (why) this.hostKill(why);
        },
      });
      launched.onOutput((stream, line) => {
        if (stream === 'stderr' && isHeapExhaustion(line) && !this.hostReason) {
          this.hostReason = `memory limit: V8 heap over limits.memoryMb ${this.manifest.limits.memoryMb} MB`;
        }
      });
      void launched.exited.then((exit) => this.onExit(launched, exit));
      await this.session.start();
      if (this.launched !== launched) return;
      this.startedAt = Date.now();
      this.lastHeartbeat = performance.now();
      this.setState('running', null);
      this.armHealthTimers();
      d.bus.emit({ type: 'agent:started', source: 'supervisor', ...this.cause, data: { instance: this.id, agent: this.agentId, pid: launched.osPid } });
    } catch (err) {
      const e = toOszError(err);
      d.logs.open(this.id, secretValues, this.agentId);
      d.logs.append(this.id, 'daemon', 'error', `start failed: ${e.code}: ${e.message}`);
      if (launchedAgent) {
        // The agent ran: its exit (now or after this kill) goes through the restart policy.
        if (this.launched === launchedAgent) this.hostKill(`start failed: ${e.message}`);
      } else {
        // Nothing is running: tampered store, missing secret, refused driver. Retrying cannot help,
        // except under `always`, which means always (issue 17): a driver that is not up yet at
        // boot (the Docker engine) is tried again with the backoff.
        const reason = `${e.code}: ${e.message}`;
        const policy = this.manifest.restart.policy;
        if ((policy === 'always' || policy === 'unless-stopped') && !this.stopRequested && this.desired === 'running' && this.attempt < maxRetriesOf(this.manifest.restart)) {
          this.scheduleRestart({ code: null, signal: null, reason: `start failed: ${reason}` });
        } else {
          this.fail(reason);
          this.done();
        }
        this.resolveExitWaiters();
      }
    }
  }

  /** Records the run; a full or read-only disk must not stop an agent that started. */
  private recordStart(launched: LaunchedAgent): void {
    try {
      this.runId = this.deps.store.instances.startRun(this.id, launched.osPid, Date.now());
      this.deps.store.instances.update(this.id, { osPid: launched.osPid, osStartTime: launched.osStartTime, bootId: bootId() }, Date.now());
    } catch (err) {
      this.runId = undefined;
      this.deps.log.error('supervisor', `could not record the start of ${this.id}: ${(err as Error).message}`);
    }
  }

  /** Delivers a signal and changes nothing else (DESIGN §12.1). */
  signal(sig: NodeJS.Signals): boolean {
    return this.launched?.signal(sig) ?? false;
  }

  /**
   * Stops the agent: TERM, wait the grace period, then KILL (or KILL at once). The caller decides
   * the desired state; this only ends the current run and cancels any pending restart.
   */
  async stop(signal: 'SIGTERM' | 'SIGKILL', graceMs?: number, opts: { halting?: boolean } = {}): Promise<void> {
    this.halting = opts.halting === true;
    this.stopRequested = true;
    this.clearTimers();
    const launched = this.launched;
    if (!launched) {
      if (this.state === 'backoff' || this.state === 'starting') {
        this.setState('exited', 'stopped');
        if (!this.halting) this.done();
      }
      return;
    }
    this.setState('stopping', null);
    const grace = graceMs ?? this.manifest.stop.graceMs ?? this.deps.supervisor.graceMs;
    if (signal === 'SIGKILL' || !launched.signal('SIGTERM')) launched.signal('SIGKILL');
    else {
      const t = setTimeout(() => {
        this.deps.logs.append(this.id, 'daemon', 'warn', `still running ${grace} ms after TERM: sending KILL`);
        launched.signal('SIGKILL');
      }, grace);
      void launched.exited.then(() => clearTimeout(t));
    }
    await launched.exited;
    await new Promise<void>((resolve) => (this.launched ? this.exitWaiters.push(resolve) : resolve()));
  }

  /** The host ends the run for a reason of its own (heartbeat, protocol, limit): counts as a failure. */
  private hostKill(reason: string): void {
    if (this.hostReason) return; // the first reason is the one that counts; the kill is on its way
    this.hostReason = reason;
    this.deps.logs.append(this.id, 'daemon', 'warn', `stopping: ${reason}`);
    this.launched?.signal('SIGKILL');
  }

  private onExit(launched: LaunchedAgent, raw: AgentExit): void {
    if (this.launched !== launched) return;
    const d = this.deps;
    const exit: AgentExit = { ...raw, ...(this.hostReason ? { reason: this.hostReason } : {}) };
    this.launched = undefined;
    this.usage = null;
    this.clearTimers();
    this.session?.dispose(new OszError('OSZ_E_SPAWN_FAILED', `instance ${this.id} exited`));
    this.session = undefined;
    void d.hal.releaseInstance(this.id).catch((err: unknown) => d.log.error('supervisor', `HAL release of ${this.id} failed: ${String(err)}`));
    const now = Date.now();
    const what = `exited (code ${exit.code}, signal ${exit.signal}${exit.reason ? `, ${exit.reason}` : ''})`;
    d.logs.append(this.id, 'daemon', exit.code === 0 && !exit.signal ? 'info' : 'warn', what);
    d.logs.close(this.id);
    try {
      if (this.runId !== undefined) d.store.instances.endRun(this.runId, { code: exit.code, signal: exit.signal, reason: exit.reason ?? null }, now);
      d.store.instances.update(this.id, { exitCode: exit.code, exitSignal: exit.signal, osPid: null, osStartTime: null }, now);
    } catch (err) {
      d.log.error('supervisor', `could not record the exit of ${this.id}: ${(err as Error).message}`);
    }
    const next = this.next(exit);
    // `final`: the instance will not run again (desired stopped now); false while it restarts or
    // waits for the next daemon start. Rules count a rule's runs by it (issue 17).
    d.bus.emit({ type: 'agent:exited', source: 'supervisor', ...this.cause, data: { instance: this.id, agent: this.agentId, code: exit.code, signal: exit.signal, reason: exit.reason ?? null, final: next !== 'restart' && next !== 'halt' } });
    this.afterExit(exit, next);
    this.resolveExitWaiters();
  }

  /** What the policy makes of an exit (DESIGN §12.1, issue 17). */
  private next(exit: AgentExit): 'halt' | 'stopped' | 'done' | 'failed' | 'restart' {
    if (this.halting) return 'halt';
    if (this.desired === 'stopped') return 'stopped';
    if (!shouldRestart(this.manifest.restart.policy, exit)) return 'done';
    return this.attempt >= maxRetriesOf(this.manifest.restart) ? 'failed' : 'restart';
  }

  private afterExit(exit: AgentExit, next: ReturnType<AgentInstance['next']>): void {
    switch (next) {
      case 'halt':
        // the run was cut by the daemon's stop: the desired state stays for the next start
        this.setState('exited', 'daemon stopped');
        return;
      case 'stopped':
        this.setState('exited', 'stopped');
        this.done();
        return;
      case 'done':
        // done by its policy: it must not come back at the next boot
        this.setDesiredStopped();
        this.setState('exited', exit.reason ?? null);
        this.done();
        return;
      case 'failed':
        this.fail(`gave up after ${this.attempt} restarts (last: code ${exit.code}, signal ${exit.signal}${exit.reason ? `, ${exit.reason}` : ''})`);
        this.done();
        return;
      case 'restart':
        this.scheduleRestart(exit);
    }
  }

  /** Failed for good: desired stopped, the reason kept, `agent:failed` emitted. */
  private fail(reason: string): void {
    const d = this.deps;
    this.reason = reason;
    this.setDesiredStopped();
    this.setState('failed', reason);
    d.logs.append(this.id, 'daemon', 'error', reason);
    d.bus.emit({ type: 'agent:failed', source: 'supervisor', ...this.cause, data: { instance: this.id, agent: this.agentId, reason } });
  }

  private scheduleRestart(exit: AgentExit): void {
    const d = this.deps;
    this.attempt++;
    this.restarts++;
    const b = this.manifest.restart.backoff;
    const delay = backoffDelay(this.attempt, b.initialMs ?? d.supervisor.backoff.initialMs, b.maxMs ?? d.supervisor.backoff.maxMs);
    this.setState('backoff', exit.reason ?? null);
    const max = maxRetriesOf(this.manifest.restart);
    d.logs.append(this.id, 'daemon', 'info', `restart ${this.attempt}${Number.isFinite(max) ? `/${max}` : ` (policy ${this.manifest.restart.policy}: no limit)`} in ${delay} ms`);
    this.backoffTimer = setTimeout(() => void this.launch(), delay);
  }

  private setDesiredStopped(): void {
    try {
      this.deps.store.instances.update(this.id, { desired: 'stopped' }, Date.now());
    } catch (err) {
      this.deps.log.error('supervisor', `could not record that ${this.id} is done: ${(err as Error).message}`);
    }
  }

  private done(): void {
    try {
      this.deps.onDone?.(this.id, this.agentId);
    } catch (err) {
      this.deps.log.error('supervisor', `pruning after ${this.id} failed: ${(err as Error).message}`);
    }
  }

  private armHealthTimers(): void {
    const s = this.deps.supervisor;
    this.healthyTimer = setTimeout(() => {
      this.attempt = 0;
    }, s.healthyResetMs);
    this.heartbeatTimer = setInterval(() => {
      const silentMs = performance.now() - this.lastHeartbeat;
      if (silentMs > s.heartbeatMs * s.missedHeartbeats) this.hostKill(`missed heartbeats (silent for ${Math.round(silentMs)} ms)`);
    }, s.heartbeatMs);
  }

  private clearTimers(): void {
    for (const t of [this.backoffTimer, this.healthyTimer, this.heartbeatTimer]) if (t) clearTimeout(t);
    this.backoffTimer = this.healthyTimer = this.heartbeatTimer = undefined;
  }

  private resolveExitWaiters(): void {
    const waiters = this.exitWaiters;
    this.exitWaiters = [];
    waiters.forEach((w) => w());
  }

  private setState(state: InstanceState, reason: string | null): void {
    const from = this.state;
    this.state = state;
    this.deps.onState?.(this.agentId, from, state);
    if (state !== 'failed') this.reason = reason;
    try {
      this.deps.store.instances.update(this.id, { state, restarts: this.restarts, reason: this.reason }, Date.now());
    } catch (err) {
      this.deps.log.error('supervisor', `could not record state ${state} of ${this.id}: ${(err as Error).message}`);
    }
  }
}
