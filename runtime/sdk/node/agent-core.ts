/**
 * The agent side of the protocol, independent of transport: loads the agent module, says hello,
 * answers host calls with the module's handlers and gives it its AgentContext. The process runner
 * drives it over fd 3 with OS signals; a worker thread drives it over its MessagePort, with
 * signals delivered as messages by the agent host.
 */
import { pathToFileURL } from 'node:url';
import { OszError } from '../../errors';
import type { PeerHandlers, RpcPeer } from '../../rpc/peer';
import type { AgentContext, AgentDefinition, EventEnvelope, PluginMount, SensorReading } from './types';

export interface AgentTransport {
  /** builds the peer over this transport with the core's handlers */
  connect(handlers: PeerHandlers): RpcPeer;
  /** registers what to do on a signal (TERM, INT, HUP, USR1, USR2); a registered one no longer ends the process */
  onSignal(sig: string, fn: () => void): void;
  exit(code: number): void;
}

export function fatal(msg: string): never {
  process.stderr.write(`openstarry runner: ${msg}\n`);
  process.exit(70);
}

export async function runAgent(env: NodeJS.ProcessEnv, transport: AgentTransport): Promise<void> {
  const instance = env.OPENSTARRY_INSTANCE ?? fatal('OPENSTARRY_INSTANCE is not set');
  const token = env.OPENSTARRY_INSTANCE_TOKEN ?? fatal('OPENSTARRY_INSTANCE_TOKEN is not set');
  const entry = env.OPENSTARRY_ENTRY ?? fatal('OPENSTARRY_ENTRY is not set');
  const heartbeatMs = Number(env.OPENSTARRY_HEARTBEAT_MS ?? '5000');

  // The agent's module loads while hello travels: the host learns at once that the sandbox is up,
  // and an import error reaches it as the answer to agent.init instead of a silent exit. The error
  // is logged before anything can answer with it, so the log line is on the wire ahead of the
  // answer that makes the host end the process.
  let logLoadError: (msg: string) => void = () => undefined;
  const defP: Promise<AgentDefinition> = import(pathToFileURL(entry).href).then(
    (mod: { default?: AgentDefinition }) => {
      if (!mod.default) throw new OszError('OSZ_E_SPAWN_FAILED', `${entry} has no default export (export default { init, onEvent, snapshot, stop })`);
      return mod.default;
    },
  ).catch((err: unknown) => {
    logLoadError(`cannot load ${entry}: ${err instanceof Error ? err.message : String(err)}`);
    throw err;
  });
  defP.catch(() => undefined);
  let def: AgentDefinition = {};

  let plugins: PluginMount[] = [];
  let trigger: EventEnvelope | null = null;
  let stopping: Promise<void> | undefined;
  const peer = transport.connect({
    request: (method, params) => handle(method, params),
    notification: (method, params) => {
      if (method === 'agent.event') void handle(method, params).catch((err: unknown) => ctx.log.error(`onEvent failed: ${String(err)}`));
      // a signal the host cannot send as an OS signal (the process driver's USR1)
      else if (method === 'agent.signal') {
        const sig = (params as { signal?: unknown } | null)?.signal;
        const known = USER_SIGNALS.find((s) => s === sig);
        if (known) void deliverSignal(known);
      }
    },
  });
  const log = (level: string) => (msg: string) => peer.notify('log', { level, msg: String(msg) });
  logLoadError = log('error');
  const ctx: AgentContext = {
    agentId: env.OPENSTARRY_AGENT_ID ?? '',
    instance,
    home: env.OPENSTARRY_HOME ?? '',
    get plugins() {
      return plugins;
    },
    get trigger() {
      return trigger;
    },
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    emit: async (type, data) => void (await peer.call('bus.emit', { type, data: data ?? {} })),
    hal: {
      read: async (sensorType) => ((await peer.call('hal.read', { sensorType })) as SensorReading).value,
      reading: async (sensorType) => (await peer.call('hal.read', { sensorType })) as SensorReading,
      actuate: async (deviceId, command) => void (await peer.call('hal.actuate', { deviceId, command })),
      camera: async (deviceId) => {
        const r = (await peer.call('hal.camera', { deviceId })) as { jpeg: string; ts: number };
        return { jpeg: Buffer.from(r.jpeg, 'base64'), ts: r.ts };
      },
    },
    timers: {
      set: async (name, ms, opts) => void (await peer.call('timer.set', { name, ms, repeat: opts?.repeat === true })),
      clear: async (name) => void (await peer.call('timer.clear', { name })),
    },
    tokens: (n) => peer.notify('tokens', { n }),
  };

  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      try {
        def = await defP;
        await def.stop?.(ctx);
      } finally {
        setTimeout(() => transport.exit(0), 20);
      }
    })());

  async function handle(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>;
    def = await defP;
    switch (method) {
      case 'agent.init':
        plugins = Array.isArray(p.plugins) ? (p.plugins as PluginMount[]) : [];
        trigger = p.trigger !== null && typeof p.trigger === 'object' ? (p.trigger as EventEnvelope) : null;
        await def.init?.(ctx);
        return { ok: true };
      case 'agent.event':
        await def.onEvent?.(p.event as EventEnvelope, ctx);
        return null;
      case 'agent.snapshot':
        return (await def.snapshot?.(ctx)) ?? null;
      case 'agent.stop':
        await stop();
        return { ok: true };
      default:
        throw new OszError('OSZ_E_UNKNOWN_OPERATION', `unknown method ${method}`);
    }
  }

  // Only TERM and INT end an agent (KILL cannot be caught). HUP, USR1 and USR2 go to the agent's
  // onSignal, or are logged and ignored: they are registered before anything else, so a signal
  // that arrives while the module loads does not take the default action, which ends a process
  // (issue 17). They are handed over once hello is through and the module has loaded.
  transport.onSignal('SIGTERM', () => void stop());
  transport.onSignal('SIGINT', () => void stop());
  let helloDone!: () => void;
  const greeted = new Promise<void>((resolve) => (helloDone = resolve));
  for (const sig of USER_SIGNALS) transport.onSignal(sig, () => void deliverSignal(sig));
  async function deliverSignal(sig: (typeof USER_SIGNALS)[number]): Promise<void> {
    await greeted;
    const d = await defP.catch((): AgentDefinition => ({}));
    try {
      if (d.onSignal) await d.onSignal(sig, ctx);
      else ctx.log.info(`${sig} ignored: the agent has no onSignal`);
    } catch (err) {
      ctx.log.error(`onSignal failed: ${String(err)}`);
    }
  }

  await peer.call('hello', { protocol: 1, instance, token }, 15_000);
  helloDone();
  setInterval(() => peer.notify('heartbeat'), heartbeatMs);
  // Keep the process up on a load error: agent.init answers with it, so the host logs why.
  def = await defP.catch((): AgentDefinition => ({}));
}

/** the signals an agent is given to handle; the rest of the daemon's list end it or are refused */
export const USER_SIGNALS = ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const;
