/**
 * The Node agent runner: the program the process driver starts. It speaks the agent protocol
 * (docs/agent-protocol.md) on fd 3 and calls the agent module's handlers. Bundled on its own into
 * dist/sdk/runner.mjs, with no imports outside Node, because it runs under the permission model
 * with read access only to itself, the install copy, plugins and the data dir.
 */
import net from 'node:net';
import { OszError } from '../../errors';
import { pathToFileURL } from 'node:url';
import { ndjsonPeer } from '../../rpc/stream-channel';
import type { AgentContext, AgentDefinition, EventEnvelope, PluginMount, SensorReading } from './types';

const env = process.env;

function fatal(msg: string): never {
  process.stderr.write(`openstarry runner: ${msg}\n`);
  process.exit(70);
}

async function main(): Promise<void> {
  const instance = env.OPENSTARRY_INSTANCE ?? fatal('OPENSTARRY_INSTANCE is not set');
  const token = env.OPENSTARRY_INSTANCE_TOKEN ?? fatal('OPENSTARRY_INSTANCE_TOKEN is not set');
  const entry = env.OPENSTARRY_ENTRY ?? fatal('OPENSTARRY_ENTRY is not set');
  const heartbeatMs = Number(env.OPENSTARRY_HEARTBEAT_MS ?? '5000');

  const mod = (await import(pathToFileURL(entry).href)) as { default?: AgentDefinition };
  const def: AgentDefinition = mod.default ?? fatal(`${entry} has no default export (export default { init, onEvent, snapshot, stop })`);

  const sock = new net.Socket({ fd: 3, readable: true, writable: true });
  const peer = ndjsonPeer(sock, {
    request: (method, params) => handle(method, params),
    notification: (method, params) => {
      if (method === 'agent.event') void handle(method, params).catch((err: unknown) => ctx.log.error(`onEvent failed: ${String(err)}`));
    },
  });
  sock.on('close', () => process.exit(0));
  sock.on('error', () => process.exit(0));

  let plugins: PluginMount[] = [];
  let stopping: Promise<void> | undefined;
  const log = (level: string) => (msg: string) => peer.notify('log', { level, msg: String(msg) });
  const ctx: AgentContext = {
    agentId: env.OPENSTARRY_AGENT_ID ?? '',
    instance,
    home: env.OPENSTARRY_HOME ?? '',
    get plugins() {
      return plugins;
    },
    log: { debug: log('debug'), info: log('info'), warn: log('warn'), error: log('error') },
    emit: async (type, data) => void (await peer.call('bus.emit', { type, data: data ?? {} })),
    hal: {
      read: async (sensorType) => ((await peer.call('hal.read', { sensorType })) as SensorReading).value,
      reading: async (sensorType) => (await peer.call('hal.read', { sensorType })) as SensorReading,
      actuate: async (deviceId, command) => void (await peer.call('hal.actuate', { deviceId, command })),
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
        await def.stop?.(ctx);
      } finally {
        setTimeout(() => process.exit(0), 20);
      }
    })());

  async function handle(method: string, params: unknown): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>;
    switch (method) {
      case 'agent.init':
        plugins = Array.isArray(p.plugins) ? (p.plugins as PluginMount[]) : [];
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

  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  if (def.onSignal) {
    for (const sig of ['SIGHUP', 'SIGUSR1', 'SIGUSR2'] as const) {
      process.on(sig, () => void Promise.resolve(def.onSignal?.(sig, ctx)).catch((err: unknown) => ctx.log.error(`onSignal failed: ${String(err)}`)));
    }
  }

  await peer.call('hello', { protocol: 1, instance, token }, 15_000);
  setInterval(() => peer.notify('heartbeat'), heartbeatMs);
}

main().catch((err: unknown) => fatal(err instanceof Error ? (err.stack ?? err.message) : String(err)));
