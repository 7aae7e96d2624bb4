/**
 * The wasm driver (DESIGN §4): agents as WebAssembly sandboxes in cells. It checks the module
 * against ABI v1 again at every start (the install copy's hash was just verified), compiles it
 * once per content hash, places the instance in a cell, and hands the supervisor a channel that
 * speaks the same agent protocol as every other driver (the cell speaks it for the guest).
 *
 * Signals: TERM and INT call the guest's `stop` and end it; KILL drops it at once (terminating
 * its cell when it is mid-call); HUP, USR1 and USR2 arrive as `signal:<name>` events; STOP and
 * CONT are not supported. `agent.snapshot` is answered from the snapshot the guest last pushed
 * with `snapshot_set`, never by calling into a busy cell.
 */
import crypto from 'node:crypto';
import path from 'node:path';
import type { MirrorLayout } from '../../../../hal/mirror';
import { OszError } from '../../../errors';
import { HeldMessages } from '../../../rpc/held-messages';
import type { Manifest } from '../../manifest';
import type { AgentDriver, AgentExit, LaunchedAgent, LaunchSpec } from '../driver';
import { checkAbi, checkModule } from './abi';
import { checkCeilings, resolveCeilings, type WasmCeilings, type WasmCeilingsConfig, WasmMemoryBudget } from './ceilings';
import { CellPool, MAX_BACKLOG, type Route } from './cell-pool';
import { ModuleCache } from './engine';
import { checkWasmManifest } from './lazy';
import { memoryCeilingMb, readModule } from './module-file';
import type { GuestRates } from './protocol';
import { trapHandlerEnabled } from './trap-handler';

export interface WasmDriverOptions {
  /** dist/wasm-cell.mjs */
  cellPath: string;
  cellSize: number;
  watchdogMs: number;
  heartbeatMs: number;
  usageMs: number;
  rates: GuestRates;
  maxFileBytes: number;
  /** memory of guests that left a cell past which it is recycled (tests; default 16 MB) */
  recycleBytes?: number;
  /** what a manifest may ask for at most (wasm.maxMemoryMb, …; ceilings.ts) */
  ceilings: WasmCeilingsConfig;
  /** the device-wide memory total; one is made from ceilings.totalMemoryMb when not given */
  budget?: WasmMemoryBudget;
  /** the HAL's sensor mirror, and which of its types a set of sensor grants may read */
  mirror?: { layout: MirrorLayout; readable(grants: readonly string[]): string[] };
}

export interface WasmStats {
  cells: number;
  guests: number;
  restarts: number;
  /** cells ended or restarted to hand memory of guests that left back to the OS */
  recycled: number;
  modules: number;
  trapHandler: boolean;
  /** the running instances' limits.memoryMb together, and wasm.totalMemoryMb */
  memoryHeldMb: number;
  memoryTotalMb: number;
}

const EVENT_SIGNALS = new Set(['SIGHUP', 'SIGUSR1', 'SIGUSR2']);
const MAX_KEPT_SNAPSHOTS = 2000;

export class WasmDriver implements AgentDriver {
  readonly name = 'wasm' as const;
  readonly cache = new ModuleCache();
  private readonly pool: CellPool;
  /** the last snapshot of instances that ended, for `restore` when the supervisor restarts them */
  private readonly kept = new Map<string, string>();
  private readonly budget: WasmMemoryBudget;
  private readonly ceilings: WasmCeilings;

  constructor(private readonly opts: WasmDriverOptions) {
    this.ceilings = resolveCeilings(opts.ceilings);
    this.budget = opts.budget ?? new WasmMemoryBudget(this.ceilings.totalMemoryMb);
    this.pool = new CellPool({ cellPath: opts.cellPath, cellSize: opts.cellSize, watchdogMs: opts.watchdogMs, mirror: opts.mirror?.layout ?? null, aliveMs: opts.heartbeatMs, usageMs: opts.usageMs, ...(opts.recycleBytes ? { recycleBytes: opts.recycleBytes } : {}) });
  }

  check(manifest: Manifest): void {
    checkWasmManifest(manifest);
    checkCeilings(manifest, this.ceilings);
    this.budget.assertRoom(undefined, manifest.limits.memoryMb);
  }

  stats(): WasmStats {
    return { ...this.pool.stats(), modules: this.cache.size, trapHandler: trapHandlerEnabled(), memoryHeldMb: this.budget.usedMb, memoryTotalMb: this.budget.totalMb };
  }

  /** Ends every cell (the daemon is stopping; instances were stopped before). */
  close(): void {
    this.pool.close();
  }

  /** Whether the instance is inside a call right now (its cell's watch slot names it). */
  inCall(instance: string): boolean {
    return this.pool.inCall(instance);
  }

  /** One watchdog pass now (tests). */
  watchdogTick(): void {
    this.pool.tick();
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    checkWasmManifest(spec.manifest);
    checkCeilings(spec.manifest, this.ceilings);
    const rel = spec.manifest.runtime.module ?? '';
    const bytes = readModule(path.join(spec.installDir, rel), rel);
    // Held from here until the instance exits, before the first await (LazyWasmDriver holds it
    // already while it loads this driver); released at once when it never starts.
    if (!this.budget.holds(spec.instanceId)) this.budget.reserve(spec.instanceId, memoryCeilingMb(bytes, spec.manifest.limits.memoryMb, rel));
    try {
      return await this.start(spec, bytes);
    } catch (err) {
      this.budget.release(spec.instanceId);
      throw err;
    }
  }

  private async start(spec: LaunchSpec, bytes: Uint8Array): Promise<LaunchedAgent> {
    const rel = spec.manifest.runtime.module ?? '';
    const memoryMb = spec.manifest.limits.memoryMb;
    let compiled;
    try {
      compiled = await this.cache.get(bytes, () => checkModule(bytes, memoryMb, rel).info);
    } catch (err) {
      if (err instanceof OszError) throw err;
      throw new OszError('OSZ_E_SPAWN_FAILED', `${rel} does not compile: ${(err as Error).message}`);
    }
    const checked = checkAbi(compiled.info, memoryMb, rel);
    const grants = spec.manifest.capabilities;
    let resolveExit!: (e: AgentExit) => void;
    const exited = new Promise<AgentExit>((r) => (resolveExit = r));
    let added!: { resolve(): void; reject(e: Error): void };
    const addedP = new Promise<void>((resolve, reject) => (added = { resolve, reject }));
    // Until the session attaches (right after launch resolves), hold what the guest says.
    const messages = new HeldMessages();
    const outputFns: Array<(s: 'stdout' | 'stderr', l: string) => void> = [];
    const route: Route = {
      id: spec.instanceId,
      add: {
        i: spec.instanceId,
        module: compiled.module,
        memory: checked.memory,
        agentId: spec.agentId,
        token: spec.token,
        env: spec.env,
        args: [spec.agentId, ...spec.manifest.runtime.args],
        grants: {
          sensors: this.opts.mirror?.readable(grants.hal.sensors) ?? [],
          actuators: [...grants.hal.actuators],
          cameras: [...grants.hal.cameras],
          emit: [...grants.events.emit],
        },
        callTimeoutMs: spec.manifest.limits.callTimeoutMs,
        preopens: preopens(spec),
        maxFileBytes: this.opts.maxFileBytes,
        rates: this.opts.rates,
        trigger: spec.trigger ? JSON.stringify(spec.trigger) : null,
      },
      cell: undefined,
      slot: -1,
      snapshot: this.kept.get(spec.instanceId) ?? null,
      usage: undefined,
      gone: false,
      ready: false,
      backlog: 0,
      dropped: 0,
      onMessage: (m) => messages.emit(m),
      onOutput: (s, l) => outputFns.forEach((f) => f(s, l)),
      onAdded: () => added.resolve(),
      onExit: (e) => {
        // Released before `exited` resolves, so a restart of this instance finds its room free.
        this.budget.release(spec.instanceId);
        if (route.snapshot !== null) this.keep(spec.instanceId, route.snapshot);
        added.reject(new OszError('OSZ_E_SPAWN_FAILED', `wasm instance ${spec.instanceId} ended before it started: ${e.reason ?? `code ${e.code}`}`));
        resolveExit(e);
      },
    };
    this.pool.place(route, spec.manifest.runtime.isolation === 'dedicated');
    await addedP;
    return {
      osPid: null,
      osStartTime: null,
      channel: {
        send: (msg) => this.send(route, msg),
        onMessage: (fn) => messages.on(fn),
        onInvalid: () => undefined,
        // A cell's messages cannot be left unread (a MessagePort has no backpressure); the cell
        // bounds what a guest can post instead (wasm.logPerSecond / emitPerSecond, cell/rate.ts).
        pause: () => undefined,
        // the cell's port has no byte backlog the daemon holds; events past MAX_BACKLOG are dropped
        unread: () => 0,
      },
      exited,
      signal: (sig) => this.signal(route, sig),
      onOutput: (fn) => void outputFns.push(fn),
      usage: () => route.usage,
    };
  }

  private send(route: Route, msg: unknown): void {
    if (route.gone) return;
    const m = msg as { method?: string; id?: unknown };
    if (m.method === 'agent.snapshot' && m.id !== undefined && route.snapshot !== null) {
      const result = JSON.parse(route.snapshot) as unknown;
      queueMicrotask(() => route.onMessage({ jsonrpc: '2.0', id: m.id, result }));
      return;
    }
    // Events past the backlog are dropped (and counted); requests and responses always go.
    if (m.method === 'agent.event' && m.id === undefined && route.backlog >= MAX_BACKLOG) {
      route.dropped++;
      return;
    }
    route.cell?.post({ c: 'msg', i: route.id, m: msg });
  }

  private signal(route: Route, sig: NodeJS.Signals): boolean {
    if (route.gone) return false;
    if (sig === 'SIGKILL') this.pool.kill(route);
    else if (sig === 'SIGTERM' || sig === 'SIGINT') route.cell?.post({ c: 'term', i: route.id });
    else if (EVENT_SIGNALS.has(sig)) {
      const event = { v: 1, id: crypto.randomUUID(), type: `signal:${sig.slice(3).toLowerCase()}`, source: 'supervisor', time: new Date().toISOString(), data: {}, depth: 0 };
      route.cell?.post({ c: 'msg', i: route.id, m: { jsonrpc: '2.0', method: 'agent.event', params: { event } } });
    } else return false;
    return true;
  }

  private keep(instance: string, snapshot: string): void {
    this.kept.delete(instance);
    this.kept.set(instance, snapshot);
    if (this.kept.size > MAX_KEPT_SNAPSHOTS) {
      const oldest = this.kept.keys().next().value;
      if (oldest !== undefined) this.kept.delete(oldest);
    }
  }
}

/** The install copy as ".", and registered plugins outside it as "plugins/<name>". */
function preopens(spec: LaunchSpec): Array<{ name: string; dir: string }> {
  const out = [{ name: '.', dir: spec.installDir }];
  for (const p of spec.plugins) {
    if (p.path === spec.installDir || p.path.startsWith(spec.installDir + path.sep)) continue;
    out.push({ name: `plugins/${p.name}`, dir: p.path });
  }
  return out;
}

