/**
 * What one HTTP listener holds at most (issue 16): connections in total and per client address,
 * and how long headers and a body may take. A connection over a cap is answered 503
 * `OSZ_E_HTTP_BUSY` and closed at once: it never waits in a queue, so a flood of idle sockets
 * cannot make later clients wait behind it, and each address can take only its share.
 *
 * Connections are counted, not requests: a keep-alive connection or an open SSE stream holds its
 * slot until it closes. A client that has not sent its headers yet cannot be told apart from one
 * that will, so a caller with many addresses can still fill `maxConnections` until
 * `headersTimeoutMs` closes its sockets; `maxConnectionsPerClient` bounds what one address holds.
 */
import type net from 'node:net';
import { OszError } from '../errors';

export interface HttpLimits {
  maxConnections: number;
  maxConnectionsPerClient: number;
  headersTimeoutMs: number;
  /** an admitted request body (REST) must have arrived within this */
  bodyTimeoutMs: number;
}

/** the schema's defaults (runtime/config/schema.ts `http`), for servers built without config */
export const DEFAULT_LIMITS: HttpLimits = { maxConnections: 64, maxConnectionsPerClient: 16, headersTimeoutMs: 10_000, bodyTimeoutMs: 10_000 };

export class ConnectionGate {
  private total = 0;
  private readonly perClient = new Map<string, number>();
  private readonly turnedAway = new WeakSet<net.Socket>();
  /** connections refused since start, by the cap that refused them */
  readonly refusals = { total: 0, perClient: 0 };

  constructor(private readonly limits: Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerClient'>) {}

  get open(): number {
    return this.total;
  }

  /** Counts a new socket in until it closes, or answers it 503 and closes it. */
  admit(socket: net.Socket): boolean {
    const client = socket.remoteAddress ?? '?';
    const held = this.perClient.get(client) ?? 0;
    if (this.total >= this.limits.maxConnections) {
      this.refusals.total++;
      this.turnAway(socket, `the daemon holds ${this.limits.maxConnections} HTTP connections already (http.maxConnections)`);
      return false;
    }
    if (held >= this.limits.maxConnectionsPerClient) {
      this.refusals.perClient++;
      this.turnAway(socket, `${client} holds ${this.limits.maxConnectionsPerClient} HTTP connections already (http.maxConnectionsPerClient)`);
      return false;
    }
    this.total++;
    this.perClient.set(client, held + 1);
    socket.once('close', () => {
      this.total--;
      const left = (this.perClient.get(client) ?? 1) - 1;
      if (left > 0) this.perClient.set(client, left);
      else this.perClient.delete(client);
    });
    return true;
  }

  /** true for a socket that was answered 503 here: its requests must not be served */
  refused(socket: net.Socket | null): boolean {
    return socket !== null && this.turnedAway.has(socket);
  }

  private turnAway(socket: net.Socket, message: string): void {
    this.turnedAway.add(socket);
    const body = JSON.stringify({ error: new OszError('OSZ_E_HTTP_BUSY', message).toJSON() });
    // written before the request is read: clients read an early response
    socket.on('error', () => undefined);
    socket.write(`HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\nRetry-After: 1\r\n\r\n${body}`);
    closeInStages(socket);
  }
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
