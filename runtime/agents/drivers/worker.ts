/**
 * The worker driver (DESIGN §3): worker-thread agents, never in the daemon's own process. Each
 * grant set (install copy, plugins, data dir, uid) gets its own agent-host process, sandboxed
 * exactly like a process agent plus `--allow-worker`; instances of that agent run in it as
 * workers with `resourceLimits`. Agents with different grants never share a host, because the
 * permission model is process-wide: a shared host would let one agent read the other's files.
 *
 * A worker has no OS signals: TERM/INT/HUP/USR1/USR2 are delivered as messages to the runner,
 * KILL terminates the worker, STOP/CONT are not supported (signal() returns false).
 *
 * Usage (issue 16): CPU and RSS are the host process's, read from /proc/<host pid> (utime +
 * stime, VmRSS), which count every thread of the host — the libuv pool, and any worker the agent
 * might start — and nothing the agent says. The host holds one agent's instances only, so its
 * figures are that agent's: each instance shows them, marked with how many instances share
 * them, and the limits apply to the host against the sum of its instances' (limits.ts).
 */
import type { ChildProcess } from 'node:child_process';
import type { Duplex } from 'node:stream';
import { OszError } from '../../errors';
import { type MessageChannel, streamChannel } from '../../rpc/stream-channel';
import { processStartTime } from '../../util/proc';
import type { UsageSample } from '../limits';
import type { Manifest } from '../manifest';
import { ProcSampler } from '../proc-sampler';
import type { AgentDriver, AgentExit, LaunchedAgent, LaunchSpec } from './driver';
import { emitOutput, type OutputFn } from './output';
import { refuseWithoutUid, sandboxArgv, spawnSandboxed, splitOutput } from './process';

export interface WorkerDriverOptions {
  /** dist/sdk/worker-host.mjs (or the daemon's copy of it, with runner.mjs beside it) */
  hostPath: string;
  separateUid: boolean;
  dockerEnabled?: boolean;
  /** why agents cannot get their own uid when they must: set, every launch is refused with it */
  uidRefusal?: string;
  setprivPath?: string;
  execPath?: string;
}

interface Route {
  messageFns: Array<(v: unknown, bytes: number) => void>;
  outputFns: OutputFn[];
  started: { resolve(): void; reject(e: Error): void };
  exit(e: AgentExit): void;
  gone: boolean;
  /** KILL was sent: what it still says is moot, and is not read slowly (its exit is behind it) */
  killed: boolean;
}

interface Host {
  key: string;
  child: ChildProcess;
  channel: MessageChannel;
  pid: number | null;
  startTime: number | null;
  routes: Map<string, Route>;
}

const HOST_EXIT_SIGNALS = new Set(['SIGTERM', 'SIGINT', 'SIGHUP', 'SIGUSR1', 'SIGUSR2']);

export class WorkerDriver implements AgentDriver {
  readonly name = 'worker' as const;
  private readonly hosts = new Map<string, Host>();
  private readonly sampler = new ProcSampler();

  constructor(private readonly opts: WorkerDriverOptions) {}

  check(_manifest: Manifest): void {
    refuseWithoutUid('worker', this.opts.uidRefusal);
    if (this.opts.dockerEnabled && !this.opts.separateUid) {
      throw new OszError('OSZ_E_DRIVER_REFUSED', 'worker agents are refused while the docker driver is enabled and agents do not run under their own uid (sandbox.shareUid; docs/security.md)');
    }
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    this.check(spec.manifest);
    if (this.opts.separateUid && spec.uid === undefined) throw new OszError('OSZ_E_DRIVER_REFUSED', `no uid was assigned to agent ${spec.agentId}`);
    const host = this.hosts.get(grantKey(spec)) ?? (await this.startHost(spec));
    let resolveExit!: (e: AgentExit) => void;
    const exited = new Promise<AgentExit>((r) => (resolveExit = r));
    let started!: Route['started'];
    const startedP = new Promise<void>((resolve, reject) => (started = { resolve, reject }));
    const route: Route = {
      messageFns: [],
      outputFns: [],
      started,
      gone: false,
      killed: false,
      exit: (e) => {
        if (route.gone) return;
        route.gone = true;
        host.routes.delete(spec.instanceId);
        route.started.reject(new OszError('OSZ_E_SPAWN_FAILED', `worker ${spec.instanceId} exited before it started`));
        resolveExit(e);
        if (host.routes.size === 0) this.closeHost(host);
      },
    };
    host.routes.set(spec.instanceId, route);
    host.channel.send({ c: 'start', instance: spec.instanceId, env: spec.env, memoryMb: spec.manifest.limits.memoryMb });
    await startedP;
    return {
      osPid: host.pid,
      osStartTime: host.startTime,
      channel: {
        send: (msg) => {
          if (!route.gone) host.channel.send({ w: spec.instanceId, m: msg });
        },
        onMessage: (fn) => void route.messageFns.push(fn),
        onInvalid: (fn) => void host.channel.onInvalid(fn),
        // The host carries this agent's instances only (one grant set), so holding the whole
        // host's channel holds no other agent; its instances wait together (issue 16).
        pause: (ms) => host.channel.pause(ms),
        // the host's channel, which carries only this agent's instances
        unread: () => host.channel.unread(),
      },
      exited,
      signal: (sig) => {
        if (route.gone || !(sig === 'SIGKILL' || HOST_EXIT_SIGNALS.has(sig))) return false;
        if (sig === 'SIGKILL') route.killed = true;
        host.channel.send({ c: 'signal', instance: spec.instanceId, signal: sig });
        return true;
      },
      onOutput: (fn) => void route.outputFns.push(fn),
      usage: () => this.hostUsage(host),
    };
  }

  private async startHost(spec: LaunchSpec): Promise<Host> {
    const argv = sandboxArgv({
      ...(this.opts.execPath ? { execPath: this.opts.execPath } : {}),
      ...(this.opts.setprivPath ? { setprivPath: this.opts.setprivPath } : {}),
      script: this.opts.hostPath,
      reads: [this.opts.hostPath.replace(/worker-host\.mjs$/, 'runner.mjs'), spec.installDir, spec.dataDir, ...spec.plugins.map((p) => p.path)],
      write: spec.dataDir,
      // No heap cap for the host: --max-old-space-size would override each worker's
      // resourceLimits. The host as a whole is held to its instances' limits through /proc.
      allowWorker: true,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    });
    // The host's own environment is minimal; each worker gets its instance's env from `start`.
    const child = await spawnSandboxed(argv, spec.installDir, { PATH: spec.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', HOME: spec.dataDir });
    const pid = child.pid ?? null;
    const host: Host = { key: grantKey(spec), child, channel: streamChannel(child.stdio[3] as Duplex, 1024 * 1024 + 4096), pid, startTime: pid ? processStartTime(pid) : null, routes: new Map() };
    this.hosts.set(host.key, host);
    host.channel.onMessage((v, bytes) => this.onHostMessage(host, v, bytes));
    // The host's own output (a crash of the host itself) goes to every instance it carries.
    splitOutput(child, (stream, line) => Math.max(0, ...[...host.routes.values()].map((r) => emitOutput(r.outputFns, stream, `[agent host] ${line}`))));
    child.once('exit', (code, signal) => {
      this.hosts.delete(host.key);
      if (pid) this.sampler.forget(pid);
      for (const r of [...host.routes.values()]) r.exit({ code, signal, reason: `agent host ${pid ?? '?'} exited` });
    });
    return host;
  }

  private onHostMessage(host: Host, v: unknown, bytes: number): void {
    const msg = v as { c?: string; w?: string; m?: unknown; instance?: string; code?: number | null; signal?: string | null; reason?: string; stream?: 'stdout' | 'stderr'; line?: string };
    const route = host.routes.get(msg.w ?? msg.instance ?? '');
    if (!route) return;
    if (msg.w !== undefined) {
      if (!route.killed) route.messageFns.forEach((f) => f(msg.m, bytes));
      return;
    }
    switch (msg.c) {
      case 'started':
        route.started.resolve();
        return;
      case 'out':
        // Capped by the instance log; when the cap is spent the host's channel is not read for a
        // while, so the host stops reading the worker's stdout and the worker's writes wait.
        if (!route.killed && (msg.stream === 'stdout' || msg.stream === 'stderr') && typeof msg.line === 'string') host.channel.pause(emitOutput(route.outputFns, msg.stream, msg.line));
        return;
      case 'exit':
        route.exit({ code: msg.code ?? null, signal: msg.signal ?? null, ...(msg.reason ? { reason: msg.reason } : {}) });
    }
  }

  /**
   * The host's figures from /proc, for each of its instances. The monitor asks once per instance
   * in one pass; the sampler answers a second ask within its window from the first.
   */
  private hostUsage(host: Host): UsageSample | undefined {
    if (host.pid === null) return undefined;
    const u = this.sampler.sample(host.pid);
    return u && { ...u, host: { pid: host.pid, instances: host.routes.size } };
  }

  /** The last worker of a host ended: closing the channel makes the host exit. */
  private closeHost(host: Host): void {
    this.hosts.delete(host.key);
    host.child.stdio[3]?.destroy();
    setTimeout(() => host.child.kill('SIGKILL'), 2000).unref();
  }
}

/** Agents whose grants differ never share a host. */
function grantKey(spec: LaunchSpec): string {
  return JSON.stringify([spec.installDir, spec.dataDir, spec.uid ?? null, spec.plugins.map((p) => p.path).sort(), spec.manifest.capabilities.network]);
}
