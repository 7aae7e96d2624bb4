/**
 * The Node agent runner (dist/sdk/runner.mjs). Started by the process driver as a process, it
 * speaks the agent protocol on fd 3 and takes OS signals; in a container it speaks it on the
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
import { refuseNestedWorkers } from './no-nested-workers';

function processTransport(): AgentTransport {
  return {
    connect(handlers) {
      const sock = new net.Socket({ fd: 3, readable: true, writable: true });
      sock.on('close', () => process.exit(0));
      sock.on('error', () => process.exit(0));
      return ndjsonPeer(sock, handlers);
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

const agentSocket = process.env.OPENSTARRY_AGENT_SOCKET;
runAgent(process.env, !isMainThread ? workerTransport() : agentSocket ? socketTransport(agentSocket) : processTransport()).catch((err: unknown) =>
  fatal(err instanceof Error ? (err.stack ?? err.message) : String(err)),
);
