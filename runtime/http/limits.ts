/**
 * What one HTTP listener holds at most (issue 16), and how it closes what it refuses. The caps
 * themselves are enforced by the ConnectionGate (gate.ts), the write deadline by the
 * WriteStallWatch (write-stall.ts); header and body deadlines by Node and body.ts.
 */
import type net from 'node:net';
import { OszError } from '../errors';

export interface HttpLimits {
  /** connections without the token (yet), from all addresses */
  maxConnections: number;
  /** connections without the token (yet), from one address */
  maxConnectionsPerClient: number;
  /** every connection, those with the token included: the listener's share of the fds and memory */
  connectionCeiling: number;
  headersTimeoutMs: number;
  /** an admitted request body (REST) must have arrived within this */
  bodyTimeoutMs: number;
  /** a response whose unsent bytes the client has not taken any of for this long is cut */
  writeStallMs: number;
}

/** the schema's defaults (runtime/config/schema.ts `http`), for servers built without config */
export const DEFAULT_LIMITS: HttpLimits = {
  maxConnections: 64,
  maxConnectionsPerClient: 16,
  connectionCeiling: 256,
  headersTimeoutMs: 10_000,
  bodyTimeoutMs: 10_000,
  writeStallMs: 30_000,
};

/** the limits a server runs with: what config gave, the defaults for the rest */
export function resolveLimits(given: Partial<HttpLimits> = {}): HttpLimits {
  const out = { ...DEFAULT_LIMITS };
  for (const key of Object.keys(DEFAULT_LIMITS) as Array<keyof HttpLimits>) out[key] = given[key] ?? DEFAULT_LIMITS[key];
  return out;
}

/**
 * Answers a connection 503 `OSZ_E_HTTP_BUSY` on the raw socket and closes it in stages. Written
 * before (or without) its request being read: clients read an early response.
 */
export function answerBusy(socket: net.Socket, message: string): void {
  const body = JSON.stringify({ error: new OszError('OSZ_E_HTTP_BUSY', message).toJSON() });
  socket.on('error', () => undefined);
  socket.write(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n${body}`);
  closeInStages(socket);
}

/** how long a refused connection is still drained after its answer (nothing read is kept) */
export const LINGER_MS = 1000;
const lingering = new WeakSet<net.Socket>();

/**
 * Closes a connection whose client may still be sending (RFC 9112 §9.6): our side first, then the
 * rest once the client closes its side or LINGER_MS has passed. Closing at once with unread input
 * makes the kernel send a reset, and a client still writing then loses the answer it was sent (a
 * 401 that never arrives is retried, not understood). What arrives meanwhile is discarded unread.
 */
export function closeInStages(socket: net.Socket): void {
  if (lingering.has(socket) || socket.destroyed) return;
  lingering.add(socket);
  socket.end();
  // Node's HTTP server resumes a socket it has paused unless it is marked `_paused` (its own flag
  // for holding a socket paused), and it would drain the rest of the body into the parser
  (socket as net.Socket & { _paused?: boolean })._paused = true;
  socket.pause();
  const timer = setTimeout(() => socket.destroy(), LINGER_MS);
  timer.unref();
  socket.once('end', () => socket.destroy());
  socket.once('close', () => clearTimeout(timer));
}
