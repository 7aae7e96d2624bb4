/**
 * The docker driver (DESIGN §3 "Docker driver", §12): agents as containers through the Docker
 * Engine API on its Unix socket (`docker.socket`; balena-engine's on balenaOS). Confinement is in
 * container-spec.ts; the agent protocol runs over a per-instance socket (agent-socket.ts).
 *
 * Lifecycle: the supervisor keeps restart policies (containers get Docker's "no"); TERM and KILL
 * are `docker kill` with that signal; the exit code comes from the engine's wait, a kill by signal
 * (128 + n) is reported as that signal, and an OOM kill as `oom: …`. Output streams into the
 * instance log; CPU and memory come from the container's stats. The container is removed after
 * it exits. At start, containers this daemon left behind (a crash, a kill -9) are found by label
 * and removed, and the supervisor starts their instances afresh: the protocol session (timers,
 * subscriptions) lived in the dead daemon and cannot be resumed.
 */
import crypto from 'node:crypto';
import { constants } from 'node:os';
import path from 'node:path';
import { OszError } from '../../../errors';
import type { UsageSample } from '../../limits';
import type { Manifest } from '../../manifest';
import type { AgentDriver, AgentExit, LaunchedAgent, LaunchSpec } from '../driver';
import { emitOutput, type OutputFn } from '../output';
import { openAgentSocket } from './agent-socket';
import { containerBody, containerName, containerUser, LABEL_HOME } from './container-spec';
import { type ExecUser, fileFromTar, isPlainNumericUser, isRootUser, refuseRootExecUser, resolveExecUser } from './image-user';
import { EngineClient, EngineError, LogDemuxer } from './engine-client';
import { hostPathMapper, type Mount, selfContainerId } from './host-paths';

export interface DockerDriverOptions {
  socketPath: string;
  /** where per-instance socket directories are made (the daemon's run dir) */
  runDir: string;
  /** the folder holding runner.mjs, mounted read-only into containers */
  sdkDir: string;
  /** identifies this daemon's containers on the engine (a hash of its home) */
  homeLabel: string;
  /** the network a `capabilities.network` grant joins */
  network: string;
  /** pull a missing image (a registry is reachable) instead of refusing */
  pull: boolean;
  usageMs: number;
  log?(level: 'info' | 'warn' | 'error', msg: string): void;
}

interface ContainerState {
  ExitCode?: number;
  OOMKilled?: boolean;
  Pid?: number;
  Running?: boolean;
}

const MAX_LINE = 16 * 1024;

export class DockerDriver implements AgentDriver {
  readonly name = 'docker' as const;
  readonly client: EngineClient;
  private hostPath: (p: string) => string = (p) => path.resolve(p);
  /** why the engine is not usable, when it is not */
  problem: string | undefined;

  constructor(private readonly opts: DockerDriverOptions) {
    this.client = new EngineClient({ socketPath: opts.socketPath });
  }

  /** Checks the engine, learns host paths when the daemon runs in a container, removes leftovers. */
  async init(): Promise<void> {
    try {
      await this.client.json('GET', '/version', undefined, 5000);
      const self = selfContainerId();
      if (self) {
        const info = await this.client.json<{ Mounts?: Mount[] }>('GET', `/containers/${self}/json`);
        this.hostPath = hostPathMapper(info.Mounts ?? []);
      }
      await this.removeLeftovers();
      this.problem = undefined;
    } catch (err) {
      this.problem = (err as Error).message;
      this.opts.log?.('error', `docker: ${this.problem}`);
    }
  }

  check(manifest: Manifest): void {
    if (!manifest.runtime.image) throw new OszError('OSZ_E_DRIVER_REFUSED', 'the docker driver needs runtime.image');
    if (manifest.runtime.user !== undefined && isRootUser(manifest.runtime.user)) {
      throw new OszError('OSZ_E_DRIVER_REFUSED', `runtime.user "${manifest.runtime.user}" is root (uid or gid 0); containers never run as root: give a numeric "uid:gid", both non-zero`, { user: manifest.runtime.user });
    }
  }

  /**
   * `agents.add`: refuses a runtime.user that runs as uid or gid 0 in this image, resolving names
   * (and a uid without a gid) against the image's /etc/passwd and /etc/group in a container that
   * is created for that and removed, never started.
   */
  async checkUser(user: string, image: string): Promise<void> {
    if (isRootUser(user)) refuseRootExecUser(user, { uid: 0, gid: 0, groups: [] }, image);
    if (isPlainNumericUser(user)) return;
    const body = { Image: image, Entrypoint: ['/openstarry-never-started'], NetworkDisabled: true, Labels: { [LABEL_HOME]: this.opts.homeLabel } };
    const id = (await this.client.json<{ Id: string }>('POST', '/containers/create', body)).Id;
    try {
      refuseRootExecUser(user, await this.execUserIn(id, user), image);
    } finally {
      await this.remove(id);
    }
  }

  /** How the engine will resolve `user` in a created container, from its /etc/passwd and /etc/group. */
  private async execUserIn(id: string, user: string): Promise<ExecUser | { error: string }> {
    const [passwd, group] = await Promise.all(['/etc/passwd', '/etc/group'].map((f) => this.fileIn(id, f)));
    return resolveExecUser(user, passwd, group);
  }

  /** A regular file of a container's filesystem (at most 1 MiB), or undefined when it is not there. */
  private async fileIn(id: string, file: string): Promise<string | undefined> {
    let res;
    try {
      res = await this.client.stream('GET', `/containers/${id}/archive?path=${encodeURIComponent(file)}`);
    } catch (err) {
      if (err instanceof EngineError && err.status === 404) return undefined;
      throw err;
    }
    const chunks: Buffer[] = [];
    let n = 0;
    for await (const c of res as AsyncIterable<Buffer>) {
      n += c.length;
      if (n > 1024 * 1024 + 1024) {
        res.destroy();
        return '';
      }
      chunks.push(c);
    }
    return fileFromTar(Buffer.concat(chunks));
  }

  /** The image id of a reference, pulling it when allowed; OSZ_E_IMAGE_MISSING names it otherwise. */
  async imageId(ref: string): Promise<string> {
    try {
      return (await this.client.json<{ Id: string }>('GET', `/images/${encodeURIComponent(ref)}/json`)).Id;
    } catch (err) {
      if (!(err instanceof EngineError) || err.status !== 404) throw err;
    }
    if (!this.opts.pull) {
      throw new OszError('OSZ_E_IMAGE_MISSING', `image "${ref}" is not on the Docker engine at ${this.opts.socketPath}, and docker.pull is off`, { image: ref });
    }
    const [name, tag] = splitRef(ref);
    const res = await this.client.stream('POST', `/images/create?fromImage=${encodeURIComponent(name)}&tag=${encodeURIComponent(tag)}`);
    let last = '';
    for await (const chunk of res) last = String(chunk).trim().split('\n').pop() ?? last;
    if (/"error"/.test(last)) throw new OszError('OSZ_E_IMAGE_MISSING', `pulling "${ref}" failed: ${last.slice(0, 300)}`, { image: ref });
    return (await this.client.json<{ Id: string }>('GET', `/images/${encodeURIComponent(ref)}/json`)).Id;
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    this.check(spec.manifest);
    // The engine was down when the daemon started: try again now (host paths, leftovers).
    if (this.problem) await this.init();
    if (this.problem) throw new OszError('OSZ_E_DOCKER', this.problem, { socket: this.opts.socketPath });
    const m = spec.manifest;
    const image = m.runtime.digest ?? (await this.imageId(m.runtime.image ?? ''));
    const user = containerUser(m.runtime.user, spec.uid, process.getuid?.() ?? 0);
    const numericUid = /^\d+/.test(user) ? Number(user.split(':')[0]) : undefined;
    const outputFns: OutputFn[] = [];
    const socketDir = path.join(this.opts.runDir, 'agents', crypto.createHash('sha256').update(spec.instanceId).digest('hex').slice(0, 16));
    const sock = await openAgentSocket(socketDir, spec.token, {
      ...(numericUid !== undefined && process.getuid?.() === 0 ? { uid: numericUid } : {}),
      onRefused: (why) => outputFns.forEach((f) => f('stderr', `openstarryd: refused a connection on the agent socket: ${why}`)),
    });
    let id: string;
    try {
      await this.client.json('DELETE', `/containers/${containerName(spec.instanceId)}?force=1`).catch(() => undefined);
      const body = containerBody({ spec, image, user, socketDir, sdkDir: this.opts.sdkDir, homeLabel: this.opts.homeLabel, network: this.opts.network, hostPath: this.hostPath });
      id = (await this.client.json<{ Id: string }>('POST', `/containers/create?name=${encodeURIComponent(containerName(spec.instanceId))}`, body)).Id;
    } catch (err) {
      sock.close();
      throw new OszError('OSZ_E_SPAWN_FAILED', `docker create failed: ${(err as Error).message}`);
    }
    // Created, not started: a user that resolves to uid or gid 0 in this image never runs (issue 16).
    if (isRootUser(user) || !isPlainNumericUser(user)) {
      try {
        refuseRootExecUser(user, isRootUser(user) ? { uid: 0, gid: 0, groups: [] } : await this.execUserIn(id, user), image);
      } catch (err) {
        sock.close();
        await this.remove(id);
        throw err;
      }
    }
    // Wait is asked before start, so an exit in the first millisecond is not missed.
    const waited = this.client.json<{ StatusCode: number }>('POST', `/containers/${id}/wait?condition=next-exit`, undefined, 0);
    let state: ContainerState;
    try {
      await this.client.json('POST', `/containers/${id}/start`);
      state = (await this.client.json<{ State: ContainerState }>('GET', `/containers/${id}/json`)).State;
    } catch (err) {
      sock.close();
      await this.remove(id);
      throw new OszError('OSZ_E_SPAWN_FAILED', `docker start failed: ${(err as Error).message}`);
    }
    let gone = false;
    let usage: UsageSample | undefined;
    const stopLogs = this.followLogs(id, (s, l) => emitOutput(outputFns, s, l));
    const stopStats = this.pollStats(id, (u) => (usage = u));
    const exited = waited
      .catch(() => ({ StatusCode: -1 }))
      .then(async (w): Promise<AgentExit> => {
        gone = true;
        stopStats();
        const after = await this.client.json<{ State: ContainerState }>('GET', `/containers/${id}/json`).catch(() => undefined);
        // Let the last log lines arrive before the stream goes.
        await new Promise((r) => setTimeout(r, 100));
        stopLogs();
        sock.close();
        await this.remove(id);
        return exitOf(w.StatusCode, after?.State.OOMKilled === true, m.limits.memoryMb);
      });
    return {
      osPid: state.Pid && state.Pid > 0 ? state.Pid : null,
      // Not recorded for the boot-time reaper: the container, not the pid, is what gets cleaned up.
      osStartTime: null,
      channel: sock.channel,
      exited,
      signal: (sig) => {
        if (gone) return false;
        void this.client.json('POST', `/containers/${id}/kill?signal=${sig}`).catch(() => undefined);
        return true;
      },
      onOutput: (fn) => void outputFns.push(fn),
      usage: () => usage,
    };
  }

  /** Removes containers labelled as this daemon's (left by a crash); returns how many. */
  async removeLeftovers(): Promise<number> {
    const filters = encodeURIComponent(JSON.stringify({ label: [`${LABEL_HOME}=${this.opts.homeLabel}`] }));
    const list = await this.client.json<Array<{ Id: string; Names?: string[] }>>('GET', `/containers/json?all=1&filters=${filters}`);
    for (const c of list) {
      this.opts.log?.('warn', `docker: removing container ${c.Names?.[0] ?? c.Id.slice(0, 12)} left by an earlier run`);
      await this.remove(c.Id);
    }
    return list.length;
  }

  private async remove(id: string): Promise<void> {
    await this.client.json('DELETE', `/containers/${id}?force=1&v=1`).catch(() => undefined);
  }

  /**
   * Streams the container's stdout/stderr as lines; returns a stop function. A pause answered by
   * `onLine` (the output cap is spent) stops reading the engine's log stream that long: the engine
   * then buffers (json-file, capped at 1 MB by LogConfig) instead of the daemon burning a core.
   */
  private followLogs(id: string, onLine: OutputFn): () => void {
    const partial = { stdout: '', stderr: '' };
    let pauseMs = 0;
    const line = (s: 'stdout' | 'stderr', l: string): void => void (pauseMs = Math.max(pauseMs, onLine(s, l) ?? 0));
    const demux = new LogDemuxer((stream, text) => {
      let buf = partial[stream] + text;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        line(stream, buf.slice(0, nl));
        buf = buf.slice(nl + 1);
      }
      if (buf.length > MAX_LINE) {
        line(stream, buf.slice(0, MAX_LINE));
        buf = '';
      }
      partial[stream] = buf;
    });
    let stream: { destroy(): void } | undefined;
    let stopped = false;
    void this.client
      .stream('GET', `/containers/${id}/logs?follow=1&stdout=1&stderr=1`)
      .then((res) => {
        stream = res;
        if (stopped) res.destroy();
        res.on('data', (c: Buffer) => {
          demux.feed(c);
          if (pauseMs <= 0 || res.isPaused()) return;
          res.pause();
          setTimeout(() => res.resume(), pauseMs).unref();
          pauseMs = 0;
        });
        res.on('error', () => undefined);
      })
      .catch(() => undefined);
    return () => {
      stopped = true;
      for (const s of ['stdout', 'stderr'] as const) if (partial[s]) line(s, partial[s]);
      stream?.destroy();
    };
  }

  /** CPU% and memory from the engine's one-shot stats every usageMs; returns a stop function. */
  private pollStats(id: string, onSample: (u: UsageSample) => void): () => void {
    let prev: { cpu: number; system: number } | undefined;
    const timer = setInterval(() => {
      void this.client
        .json<Stats>('GET', `/containers/${id}/stats?stream=false&one-shot=true`, undefined, 10_000)
        .then((s) => {
          const cpu = s.cpu_stats?.cpu_usage?.total_usage ?? 0;
          const system = s.cpu_stats?.system_cpu_usage ?? 0;
          const cpus = s.cpu_stats?.online_cpus ?? 1;
          const mem = s.memory_stats;
          const rss = Math.max(0, (mem?.usage ?? 0) - (mem?.stats?.cache ?? mem?.stats?.inactive_file ?? 0));
          if (prev && system > prev.system) onSample({ cpuPercent: ((cpu - prev.cpu) / (system - prev.system)) * cpus * 100, rssBytes: rss });
          prev = { cpu, system };
        })
        .catch(() => undefined);
    }, this.opts.usageMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

interface Stats {
  cpu_stats?: { cpu_usage?: { total_usage?: number }; system_cpu_usage?: number; online_cpus?: number };
  memory_stats?: { usage?: number; stats?: { cache?: number; inactive_file?: number } };
}

/** The engine's status code as an agent exit: 128 + n is signal n; an OOM kill says so. */
export function exitOf(status: number, oomKilled: boolean, memoryMb: number): AgentExit {
  if (oomKilled) return { code: null, signal: 'SIGKILL', reason: `oom: the container went over limits.memoryMb ${memoryMb} MB and the kernel killed it` };
  if (status > 128 && status < 128 + 65) {
    const name = Object.entries(constants.signals).find(([, n]) => n === status - 128)?.[0];
    if (name) return { code: null, signal: name };
  }
  if (status < 0) return { code: null, signal: null, reason: 'the Docker engine lost the container' };
  return { code: status, signal: null };
}

function splitRef(ref: string): [string, string] {
  const at = ref.indexOf('@');
  if (at >= 0) return [ref.slice(0, at), ref.slice(at + 1)];
  const colon = ref.lastIndexOf(':');
  return colon > ref.lastIndexOf('/') ? [ref.slice(0, colon), ref.slice(colon + 1)] : [ref, 'latest'];
}
