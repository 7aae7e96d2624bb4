/**
 * The control socket (DESIGN §12.2): JSON-RPC 2.0 over NDJSON, one ControlConnection per client.
 *
 * This file decides who gets a connection. Node's own `server.maxConnections` closes the newest
 * connection without a word, so 64 connections that never authenticate locked every
 * `openstarryctl` out. Instead the server counts for itself: connections that have not
 * authenticated yet are held to `maxUnauthenticated` and `authTimeoutMs`, and never take the
 * room of authenticated ones. When they are at their cap, the *oldest* is closed to make room:
 * refusing the newest would let a few idle connections keep the real CLI, which authenticates at
 * once, out for good. Only when `maxConnections` clients have all authenticated is a newcomer
 * refused. Every refusal is one coded line (OSZ_E_DAEMON_BUSY) before the close, so the CLI can
 * say the daemon is busy rather than not running.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { OszError } from '../errors';
import type { Logger } from '../log';
import { errorResponse } from '../rpc/jsonrpc';
import { type ConnectionOptions, ControlConnection } from './connection';
import type { ControlPlane } from './plane';

export interface SocketServerOptions extends Omit<ConnectionOptions, 'stallMs'> {
  path: string;
  maxConnections: number;
  maxUnauthenticated: number;
  /** default 5 s */
  stallMs?: number;
}

const REFUSAL_LOG_EVERY_MS = 10_000;

export class ControlSocketServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();
  /** not authenticated yet, oldest first (a Set keeps insertion order) */
  private readonly waiting = new Set<ControlConnection>();
  private readonly authenticated = new Set<ControlConnection>();
  private refusals = 0;
  private lastRefusalLog = 0;

  constructor(
    private readonly plane: ControlPlane,
    private readonly opts: SocketServerOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    prepareSocketDir(path.dirname(this.opts.path));
    await removeStaleSocket(this.opts.path);
    const server = net.createServer((s) => this.onConnection(s));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    fs.chmodSync(this.opts.path, 0o660);
    this.server = server;
  }

  async stop(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    fs.rmSync(this.opts.path, { force: true });
  }

  /** open sockets, those being closed included */
  get connections(): number {
    return this.sockets.size;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    const { maxConnections, maxUnauthenticated } = this.opts;
    if (this.authenticated.size >= maxConnections) {
      this.refuse(socket, `${this.authenticated.size} authenticated clients are connected (control.maxConnections ${maxConnections}); try again when one has left`);
      return;
    }
    const room = Math.min(maxUnauthenticated, maxConnections - this.authenticated.size);
    for (const oldest of this.waiting) {
      if (this.waiting.size < room) break;
      this.waiting.delete(oldest);
      oldest.close(new OszError('OSZ_E_DAEMON_BUSY', `too many connections waiting to authenticate (control.maxUnauthenticated ${maxUnauthenticated}); this one, the oldest, is closed`));
      this.noteRefusal();
    }
    const conn: ControlConnection = new ControlConnection(socket, this.plane, { ...this.opts, stallMs: this.opts.stallMs ?? 5000 }, this.log, {
      authenticated: () => {
        this.waiting.delete(conn);
        this.authenticated.add(conn);
      },
      closed: () => {
        this.waiting.delete(conn);
        this.authenticated.delete(conn);
      },
    });
    this.waiting.add(conn);
  }

  /** one coded line, then the close; what the client sends meanwhile is discarded */
  private refuse(socket: net.Socket, message: string): void {
    socket.on('error', () => socket.destroy());
    socket.end(JSON.stringify(errorResponse(null, new OszError('OSZ_E_DAEMON_BUSY', message))) + '\n');
    socket.resume();
    setTimeout(() => socket.destroy(), 2000).unref();
    this.noteRefusal();
  }

  /** a flood of refusals is one log line per 10 s, not one per connection */
  private noteRefusal(): void {
    this.refusals++;
    const now = Date.now();
    if (now - this.lastRefusalLog < REFUSAL_LOG_EVERY_MS) return;
    this.lastRefusalLog = now;
    this.log.warn('control', `control socket busy: ${this.refusals} connection(s) refused or closed so far (${this.waiting.size} waiting to authenticate, ${this.authenticated.size} authenticated)`);
  }
}

/** The socket's folder: created 0750, and refused if it is a symlink or writable by others. */
export function prepareSocketDir(dir: string): void {
  fs.mkdirSync(dir, { recursive: true, mode: 0o750 });
  const st = fs.lstatSync(dir);
  if (st.isSymbolicLink() || !st.isDirectory()) throw new OszError('OSZ_E_SOCKET_PATH', `${dir} must be a real folder, not a symlink`);
  if (typeof process.getuid === 'function' && st.uid !== process.getuid()) throw new OszError('OSZ_E_SOCKET_PATH', `${dir} is owned by uid ${st.uid}, not by the daemon`);
  if ((st.mode & 0o022) !== 0) fs.chmodSync(dir, 0o750);
}

/** A socket file left by a crashed daemon is removed; a live daemon on it is an error. */
async function removeStaleSocket(p: string): Promise<void> {
  if (!fs.existsSync(p)) return;
  const alive = await new Promise<boolean>((resolve) => {
    const c = net.connect(p);
    c.once('connect', () => {
      c.destroy();
      resolve(true);
    });
    c.once('error', () => resolve(false));
  });
  if (alive) throw new OszError('OSZ_E_SOCKET_PATH', `another daemon is already serving ${p}; stop it, or give this one another --home or --socket`);
  fs.rmSync(p, { force: true });
}
