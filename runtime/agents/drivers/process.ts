/**
 * The process driver (DESIGN §3, §12.6): each instance is a Node process running the SDK runner,
 * which imports the agent's entry from its read-only install copy.
 *
 * Sandbox: the Node permission model (read: runner, install copy, plugins, data dir; write: data
 * dir; no child processes, workers, addons or WASI), an explicit execPath/execArgv, an environment
 * built only from `spec.env` — of which setpriv and node start with only the names the daemon
 * sets (startEnv); the agent's own names arrive as the first line on fd 3 and the runner sets
 * them before it imports the agent (runtime/sdk/node/env-preamble.ts) — and a separate uid through `setpriv` with no groups, every
 * capability set empty and no_new_privs (runtime/sandbox.ts decides whether the daemon can; when
 * it cannot, these agents are refused). Node 20's permission model checks neither network, Unix
 * socket connects nor signals: the uid and the control token cover those.
 *
 * Signals: TERM, INT, KILL, HUP, USR2, STOP and CONT are OS signals; USR1 is sent as an
 * `agent.signal` notification on the channel (Node 20 swallows an OS SIGUSR1 under the permission
 * model). The runner hands HUP, USR1 and USR2 to the agent's onSignal, or logs and ignores them.
 *
 * Channel: NDJSON on fd 3 (a socketpair), not Node's IPC channel. Node's IPC reader buffers a
 * message without any limit, so a hostile agent could exhaust the daemon's memory with one
 * newline-free write; our framing caps lines at 1 MiB (the same framing containers use).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Duplex } from 'node:stream';
import { OszError } from '../../errors';
import { LineSplitter } from '../../rpc/ndjson';
import { nodeRunnerPath } from '../../util/package-root';
import { processStartTime } from '../../util/proc';
import { streamChannel } from '../../rpc/stream-channel';
import type { Manifest } from '../manifest';
import { agentPrivArgs } from '../../sandbox';
import type { AgentDriver, AgentExit, LaunchedAgent, LaunchSpec } from './driver';
import { emitOutput, type OutputFn } from './output';

export const MAX_OUTPUT_LINE_BYTES = 16 * 1024;

export interface ProcessDriverOptions {
  execPath?: string;
  runnerPath?: string;
  setprivPath?: string;
  /** docker driver enabled: process agents would share a uid able to reach docker.sock */
  dockerEnabled?: boolean;
  /** whether agents get their own uid (runtime/sandbox.ts: confirmed by a probe at start) */
  separateUid: boolean;
  /** why agents cannot get their own uid when they must: set, every launch is refused with it */
  uidRefusal?: string;
}

/** The permission-model flag this Node accepts: `--permission` (Node ≥ 22.13) or the experimental one. */
export function permissionFlag(): string {
  return process.allowedNodeEnvironmentFlags.has('--permission') ? '--permission' : '--experimental-permission';
}

export interface SandboxArgv {
  execPath?: string;
  setprivPath?: string;
  script: string;
  reads: readonly string[];
  write: string;
  /**
   * the V8 heap cap; the agent host passes none, because this flag overrides every worker's
   * resourceLimits (Node 20: a worker capped at 16 MB got the process's 64)
   */
  memoryMb?: number;
  /** the agent host needs workers; process agents never get them */
  allowWorker?: boolean;
  uid?: number;
}

/** The command line of a sandboxed Node process: permission model, optionally under setpriv. */
export function sandboxArgv(o: SandboxArgv): { file: string; args: string[] } {
  const execPath = o.execPath ?? process.execPath;
  const nodeArgs = [
    permissionFlag(),
    ...(process.allowedNodeEnvironmentFlags.has('--disable-warning') ? ['--disable-warning=ExperimentalWarning'] : []),
    ...[o.script, ...o.reads].map((p) => `--allow-fs-read=${p}`),
    `--allow-fs-write=${o.write}`,
    ...(o.allowWorker ? ['--allow-worker'] : []),
    ...(o.memoryMb !== undefined ? [`--max-old-space-size=${o.memoryMb}`] : []),
    o.script,
  ];
  if (o.uid === undefined) return { file: execPath, args: nodeArgs };
  return {
    file: o.setprivPath ?? '/usr/bin/setpriv',
    args: [...agentPrivArgs(o.uid), execPath, ...nodeArgs],
  };
}

/** Starts a sandboxed process with stdio piped and the NDJSON channel on fd 3. */
export async function spawnSandboxed(argv: { file: string; args: string[] }, cwd: string, env: Record<string, string>): Promise<ChildProcess> {
  if (!fs.existsSync(argv.file)) throw new OszError('OSZ_E_SPAWN_FAILED', `${argv.file} is missing${argv.file.endsWith('setpriv') ? ' (install util-linux)' : ''}`);
  const child = spawn(argv.file, argv.args, {
    cwd,
    env,
    stdio: ['ignore', 'pipe', 'pipe', 'pipe'],
    // Own process group: a Ctrl-C in the daemon's terminal reaches the daemon, which stops agents in order.
    detached: true,
  });
  await new Promise<void>((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', (err) => reject(new OszError('OSZ_E_SPAWN_FAILED', `cannot start ${argv.file}: ${err.message}`)));
  });
  return child;
}

/**
 * Splits a child's stdout and stderr into capped lines. When `fn` answers a pause (the instance's
 * output cap is spent), both pipes stop being read for that long: the pipe fills and the agent
 * blocks in write(2), instead of the daemon splitting and dropping a flood at full speed (a
 * 49 MiB/s writer cost ~80 % of a core before, issue 16). Lines already read are still counted.
 */
export function splitOutput(child: ChildProcess, fn: OutputFn): void {
  const pipes = [child.stdout, child.stderr].filter((p) => p !== null);
  let resume: NodeJS.Timeout | undefined;
  const pause = (ms: number): void => {
    if (ms <= 0 || resume) return;
    for (const p of pipes) p.pause();
    resume = setTimeout(() => {
      resume = undefined;
      for (const p of pipes) p.resume();
    }, ms).unref();
  };
  for (const stream of ['stdout', 'stderr'] as const) {
    const splitter = new LineSplitter(MAX_OUTPUT_LINE_BYTES, {
      line: (l) => pause(fn(stream, l) ?? 0),
      oversize: (n) => pause(fn(stream, `[line of ${n}+ bytes truncated]`) ?? 0),
    });
    child[stream]?.on('data', (c: Buffer) => splitter.push(c));
  }
}

export class ProcessDriver implements AgentDriver {
  readonly name = 'process' as const;

  constructor(private readonly opts: ProcessDriverOptions) {}

  check(_manifest: Manifest): void {
    refuseWithoutUid('process', this.opts.uidRefusal);
    if (this.opts.dockerEnabled && !this.opts.separateUid) {
      throw new OszError(
        'OSZ_E_DRIVER_REFUSED',
        'process agents are refused while the docker driver is enabled and agents do not run under their own uid (sandbox.shareUid: they could reach the Docker socket); give them their own uid (docs/security.md), or use the docker or wasm driver',
      );
    }
  }

  buildArgv(spec: LaunchSpec): { file: string; args: string[] } {
    return sandboxArgv({
      ...(this.opts.execPath ? { execPath: this.opts.execPath } : {}),
      ...(this.opts.setprivPath ? { setprivPath: this.opts.setprivPath } : {}),
      script: this.opts.runnerPath ?? nodeRunnerPath(),
      reads: [spec.installDir, spec.dataDir, ...spec.plugins.map((p) => p.path)],
      write: spec.dataDir,
      memoryMb: spec.manifest.limits.memoryMb,
      ...(spec.uid !== undefined ? { uid: spec.uid } : {}),
    });
  }

  async launch(spec: LaunchSpec): Promise<LaunchedAgent> {
    this.check(spec.manifest);
    if (this.opts.separateUid && spec.uid === undefined) throw new OszError('OSZ_E_DRIVER_REFUSED', `no uid was assigned to agent ${spec.agentId}`);
    const child = await spawnSandboxed(this.buildArgv(spec), spec.installDir, startEnv(spec.env));
    const pid = child.pid ?? null;
    const channel = streamChannel(child.stdio[3] as Duplex);
    channel.send({ env: spec.env });
    const outputFns: OutputFn[] = [];
    splitOutput(child, (stream, line) => emitOutput(outputFns, stream, line));
    let gone = false;
    const exited = new Promise<AgentExit>((resolve) => {
      child.once('exit', (code, signal) => {
        gone = true;
        // Give stdout/stderr a moment to drain their last lines, then report.
        const done = (): void => resolve({ code, signal });
        const t = setTimeout(done, 500);
        child.once('close', () => {
          clearTimeout(t);
          done();
        });
      });
    });
    return {
      osPid: pid,
      osStartTime: pid ? processStartTime(pid) : null,
      channel,
      exited,
      signal(sig) {
        if (gone || pid === null) return false;
        if (sig === 'SIGUSR1') {
          // Node keeps SIGUSR1 for its inspector, which the permission model turns off: an OS
          // SIGUSR1 never reaches the runner's listener. It goes over the channel (issue 17).
          channel.send({ jsonrpc: '2.0', method: 'agent.signal', params: { signal: sig } });
          return true;
        }
        try {
          process.kill(pid, sig);
          return true;
        } catch {
          return false;
        }
      },
      onOutput: (fn) => void outputFns.push(fn),
    };
  }
}

/**
 * What setpriv and node start with (issue 16): the names the daemon sets for every agent and an
 * agent may never set (runtime/agents/env-policy.ts), and the flag that tells the runner to read
 * the rest from fd 3. The env policy still refuses names that load code, for the runner's
 * `process.env` and for the programs an agent may run later.
 */
export const START_ENV_NAMES = ['PATH', 'HOME', 'LANG', 'TZ'] as const;

export function startEnv(env: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = { OPENSTARRY_ENV_FD: '3' };
  for (const k of START_ENV_NAMES) if (env[k] !== undefined) out[k] = env[k];
  return out;
}

/** Process and worker agents never run under the daemon's uid unless sandbox.shareUid says so. */
export function refuseWithoutUid(driver: 'process' | 'worker', refusal: string | undefined): void {
  if (refusal === undefined) return;
  throw new OszError('OSZ_E_NO_AGENT_UID', `${driver} agents are refused: the daemon cannot give them their own uid (${refusal})`, { driver });
}
