/**
 * The agent driver contract (DESIGN §3, §12.3). A driver knows how to start one agent instance
 * in its kind of sandbox and hands back a message channel and a way to signal it. Everything
 * else — the hello handshake, host operations, heartbeats, restart policy — is the same for every
 * driver and lives above this line (session.ts, supervisor.ts). One contract suite
 * (test/contract/driver.contract.ts) runs against every implementation.
 *
 * Obligations of an implementation:
 * - `launch` resolves once the sandbox exists, or rejects with OSZ_E_SPAWN_FAILED /
 *   OSZ_E_DRIVER_REFUSED; it never resolves for an agent it could not confine as documented.
 * - `exited` resolves exactly once, after the agent is gone and its resources are released; it
 *   never rejects. After it resolves, `signal` returns false and `channel.send` is a no-op.
 * - The channel delivers whole JSON values in order; oversized or unparsable lines are reported
 *   through `onInvalid` and dropped, never buffered without bound.
 * - The agent's environment is exactly `spec.env`: nothing of the daemon's own is inherited.
 */
import type { EventEnvelope } from '../../bus/envelope';
import type { MessageChannel } from '../../rpc/stream-channel';
import type { UsageSample } from '../limits';
import type { Manifest } from '../manifest';
import type { OutputFn } from './output';

export interface PluginMount {
  name: string;
  /** readable path as the agent sees it */
  path: string;
  config?: unknown;
}

export interface LaunchSpec {
  instanceId: string;
  agentId: string;
  /** per-instance secret the agent must present in `hello` */
  token: string;
  manifest: Manifest;
  /** the read-only install copy */
  installDir: string;
  /** the agent's writable data dir (OPENSTARRY_HOME) */
  dataDir: string;
  plugins: PluginMount[];
  /** the complete environment, already allow-listed, with the daemon's injected variables */
  env: Record<string, string>;
  /** start under this uid/gid with no groups or capabilities (process driver, root daemon) */
  uid?: number;
  heartbeatMs: number;
  /** the event a rule spawned the instance for (agent.init's `trigger`; runtime/agents/trigger.ts) */
  trigger?: EventEnvelope;
}

export interface AgentExit {
  code: number | null;
  signal: string | null;
  /** why the host thinks it ended, when it knows better than the exit status (e.g. "oom") */
  reason?: string;
}

/** Whole JSON values each way (runtime/rpc/stream-channel.ts for byte streams). */
export type AgentChannel = MessageChannel;

export interface LaunchedAgent {
  readonly osPid: number | null;
  /** process start time in clock ticks since boot (/proc/<pid>/stat field 22), to recognise the pid later */
  readonly osStartTime: number | null;
  readonly channel: AgentChannel;
  readonly exited: Promise<AgentExit>;
  /** delivers a signal; false when the agent is already gone */
  signal(sig: NodeJS.Signals): boolean;
  /**
   * stdout / stderr lines, already split and capped. `fn` may answer a pause in ms (the output
   * cap is spent, drivers/output.ts): a driver that can stop reading its source does so that long.
   */
  onOutput(fn: OutputFn): void;
  /**
   * the driver's own usage figures: a container's cgroup, a WASM guest's call time, or a worker's
   * host from /proc marked with how many instances share it (limits.ts holds them to the sum)
   */
  usage?(): UsageSample | undefined;
}

export interface AgentDriver {
  readonly name: 'process' | 'worker' | 'wasm' | 'docker' | 'fake';
  /** throws OSZ_E_DRIVER_REFUSED when this manifest cannot run safely under this driver here */
  check(manifest: Manifest): void;
  launch(spec: LaunchSpec): Promise<LaunchedAgent>;
}
