/**
 * The Node agent runner (dist/sdk/runner.mjs). Started by the process driver as a process, it
 * reads its environment from the first line on fd 3, then speaks the agent protocol there and
 * takes OS signals; in a container it speaks it on the
 * instance's Unix socket. Loaded by the agent host as a worker thread, it speaks over its
 * MessagePort, signals arrive as `{signal}` messages, and it refuses the agent nested workers
 * before the agent's module loads; it reports no usage (the daemon reads the host's from /proc).
 * Bundled with no imports outside Node: it runs under the permission model with read access
 * only to itself, the install copy, plugins and the data dir.
 */
import net from 'node:net';
import { isMainThread, parentPort } from 'node:worker_threads';
import { RpcPeer } from '../../rpc/peer';
import { ndjsonPeer } from '../../rpc/stream-channel';
import { type AgentTransport, fatal, runAgent } from './agent-core';
import { readEnvPreamble } from './env-preamble';
import { refuseNestedWorkers } from './no-nested-workers';

function processTransport(sock: net.Socket): AgentTransport {
  return {
    connect(handlers) {
      sock.on('close', () => process.exit(0));
      sock.on('error', () => process.exit(0));
      const peer = ndjsonPeer(sock, handlers);
      // paused by the environment preamble (env-preamble.ts); a no-op otherwise
      sock.resume();
      return peer;
    },
    onSignal: (sig, fn) => void process.on(sig as NodeJS.Signals, fn),
    exit: (code) => process.exit(code),
  };
}

/**
 * In a container (docker driver): NDJSON on the per-instance Unix socket the daemon bind-mounts at
 * OPENSTARRY_AGENT_SOCKET; OS signals arrive from `docker kill`. The socket closing ends the agent.
 */
function socketTransport(socketPath: string): AgentTransport {
  return {
    connect(handlers) {
      const sock = net.connect(socketPath);
      sock.on('close', () => process.exit(0));
      sock.on('error', (err) => fatal(`cannot use the agent socket ${socketPath}: ${err.message}`));
      return ndjsonPeer(sock, handlers);
    },
    onSignal: (sig, fn) => void process.on(sig as NodeJS.Signals, fn),
    exit: (code) => process.exit(code),
  };
}

/** Messages on the port: JSON-RPC objects, plus `{signal}` from the host. */
function workerTransport(): AgentTransport {
  const port = parentPort ?? fatal('no parent port');
  refuseNestedWorkers();
  const signals = new Map<string, () => void>();
  return {
    connect(handlers) {
      const peer = new RpcPeer((msg) => port.postMessage(msg), handlers);
      port.on('message', (m: unknown) => {
        const sig = (m as { signal?: unknown } | null)?.signal;
        if (typeof sig === 'string') signals.get(sig)?.();
        else peer.receive(m);
      });
      return peer;
    },
    onSignal: (sig, fn) => void signals.set(sig, fn),
    exit: (code) => process.exit(code),
  };
}

/**
 * A process agent started by the process driver gets its environment as the first line on fd 3
 * (OPENSTARRY_ENV_FD=3), set here before the agent's module is imported.
 */
async function transport(): Promise<AgentTransport> {
  if (!isMainThread) return workerTransport();
  const agentSocket = process.env.OPENSTARRY_AGENT_SOCKET;
  if (agentSocket) return socketTransport(agentSocket);
  const sock = new net.Socket({ fd: 3, readable: true, writable: true });
  if (process.env.OPENSTARRY_ENV_FD === '3') {
    const env = await readEnvPreamble(sock);
    delete process.env.OPENSTARRY_ENV_FD;
    Object.assign(process.env, env);
  }
  return processTransport(sock);
}

transport()
  .then((t) => runAgent(process.env, t))
  .catch((err: unknown) => fatal(err instanceof Error ? (err.stack ?? err.message) : String(err)));
