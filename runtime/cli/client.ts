/**
 * The CLI's control-socket client: connects, authenticates with the token beside the socket,
 * and makes JSON-RPC calls. Streams arrive as `stream` notifications for a subscription.
 */
import fs from 'node:fs';
import net from 'node:net';
import { tokenPathFor } from '../config/paths';
import { OszError } from '../errors';
import type { RpcPeer } from '../rpc/peer';
import { ndjsonPeer } from '../rpc/stream-channel';

/** A reply may list many instances or log lines; anything larger is a broken daemon. */
const MAX_REPLY_BYTES = 64 * 1024 * 1024;

export class ControlClient {
  private constructor(
    private readonly sock: net.Socket,
    private readonly peer: RpcPeer,
    private readonly streamFns: Map<string, (data: unknown) => void>,
  ) {}

  static async connect(socketPath: string, timeoutMs = 30_000): Promise<ControlClient> {
    let token: string;
    try {
      token = fs.readFileSync(tokenPathFor(socketPath), 'utf8').trim();
    } catch (err) {
      throw new OszError('OSZ_E_UNAUTHORIZED', `cannot read the control token ${tokenPathFor(socketPath)}: ${(err as Error).message} (run as the daemon's user or group)`);
    }
    const sock = net.connect(socketPath);
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', (err) => reject(connectError(socketPath, err)));
    });
    const streamFns = new Map<string, (data: unknown) => void>();
    // the daemon says why it closes a connection in one line answering no request (id null)
    let closedWhy: OszError | undefined;
    const peer = ndjsonPeer(
      sock,
      {
        notification: (method, params) => {
          if (method !== 'stream') return;
          const p = params as { subscription?: string; data?: unknown };
          streamFns.get(String(p.subscription))?.(p.data);
        },
        unsolicitedError: (err) => (closedWhy = err),
      },
      MAX_REPLY_BYTES,
    );
    // It answered the connect, so it runs: not OSZ_E_DAEMON_UNREACHABLE, whose hint says to start it.
    sock.on('close', () => peer.close(closedWhy ?? new OszError('OSZ_E_DAEMON_BUSY', `the daemon at ${socketPath} closed the connection without saying why (stopping, or cut off)`)));
    sock.on('error', () => undefined);
    const client = new ControlClient(sock, peer, streamFns);
    try {
      await peer.call('auth', { token }, timeoutMs);
    } catch (err) {
      sock.destroy();
      if (err instanceof OszError && err.code === 'OSZ_E_AGENT_TIMEOUT') throw new OszError('OSZ_E_DAEMON_BUSY', `the daemon at ${socketPath} accepted the connection but did not answer "auth" within ${timeoutMs} ms`);
      throw err;
    }
    return client;
  }

  call(method: string, params: unknown = {}, timeoutMs = 120_000): Promise<unknown> {
    return this.peer.call(method, params, timeoutMs);
  }

  /** Calls a streaming operation; `onItem` receives every item until `close()`. */
  async stream(method: string, params: unknown, onItem: (data: unknown) => void): Promise<unknown> {
    const res = (await this.peer.call(method, params)) as { subscription?: string; initial?: unknown };
    if (res.subscription) this.streamFns.set(res.subscription, onItem);
    return res.initial;
  }

  closed(): Promise<void> {
    return new Promise((resolve) => (this.sock.destroyed ? resolve() : this.sock.once('close', () => resolve())));
  }

  close(): void {
    this.sock.end();
    this.sock.destroy();
  }
}

/**
 * What a failed connect says about the daemon (connect(2) on a Unix socket): ENOENT, no socket;
 * ECONNREFUSED, a socket file nobody listens on (the daemon died without removing it); EAGAIN,
 * a daemon so busy its queue of unaccepted connections is full; EACCES, a socket we may not use.
 */
function connectError(socketPath: string, err: NodeJS.ErrnoException): OszError {
  if (err.code === 'EAGAIN') return new OszError('OSZ_E_DAEMON_BUSY', `the daemon at ${socketPath} is not accepting connections (its queue is full): ${err.message}`);
  if (err.code === 'EACCES' || err.code === 'EPERM') return new OszError('OSZ_E_UNAUTHORIZED', `may not connect to ${socketPath}: ${err.message} (run as the daemon's user or group)`);
  const why = err.code === 'ECONNREFUSED' ? 'no daemon listens on it (a stale socket file)' : err.message;
  return new OszError('OSZ_E_DAEMON_UNREACHABLE', `cannot connect to ${socketPath}: ${why}`);
}
