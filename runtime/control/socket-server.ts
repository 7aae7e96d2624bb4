/**
 * JSON-RPC 2.0 over the control socket (DESIGN §12.2): NDJSON lines with a hard length cap, a
 * per-boot token presented with `auth` before anything else, -32601 for unknown methods, and
 * streams as `stream` notifications tied to a subscription id. A line over the cap is refused
 * and the connection closed; memory stays bounded and other clients keep being served.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { OszError } from '../errors';
import type { Logger } from '../log';
import { classify, errorResponse, type Id, type Message, RPC } from '../rpc/jsonrpc';
import { LineSplitter } from '../rpc/ndjson';
import { isStreaming } from './op';
import type { ControlPlane } from './plane';
import { tokensEqual } from './token';

export interface SocketServerOptions {
  path: string;
  token: string;
  maxLineBytes: number;
  maxConnections: number;
}

const MAX_AUTH_FAILURES = 3;
const MAX_STREAMS_PER_CONNECTION = 16;

export class ControlSocketServer {
  private server: net.Server | undefined;
  private readonly sockets = new Set<net.Socket>();

  constructor(
    private readonly plane: ControlPlane,
    private readonly opts: SocketServerOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    prepareSocketDir(path.dirname(this.opts.path));
    await removeStaleSocket(this.opts.path);
    const server = net.createServer((s) => this.onConnection(s));
    server.maxConnections = this.opts.maxConnections;
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

  get connections(): number {
    return this.sockets.size;
  }

  private onConnection(socket: net.Socket): void {
    this.sockets.add(socket);
    const streams = new Map<string, () => void>();
    let authed = false;
    let closing = false;
    let failures = 0;
    let nextSub = 1;
    const actor = `socket:${peerLabel(socket)}`;
    const send = (msg: Message): void => {
      if (!socket.destroyed) socket.write(JSON.stringify(msg) + '\n');
    };
    const cleanup = (): void => {
      streams.forEach((stop) => stop());
      streams.clear();
      this.sockets.delete(socket);
    };
    socket.on('close', cleanup);
    socket.on('error', () => socket.destroy());
    const splitter = new LineSplitter(this.opts.maxLineBytes, {
      oversize: (bytes) => {
        if (closing) return;
        closing = true;
        // Reply, half-close, and keep discarding input until the client hangs up (or 5 s pass),
        // so the client reads the reason instead of a reset.
        send(errorResponse(null, new OszError('OSZ_E_REQUEST_TOO_LARGE', `request line over ${this.opts.maxLineBytes} bytes (${bytes} seen); closing`)));
        this.log.warn('control', `${actor}: request line over ${this.opts.maxLineBytes} bytes, connection closed`);
        socket.end();
        setTimeout(() => socket.destroy(), 5000).unref();
      },
      line: (text) => {
        if (closing) return;
        let value: unknown;
        try {
          value = JSON.parse(text);
        } catch {
          send({ jsonrpc: '2.0', id: null, error: { code: RPC.PARSE_ERROR, message: 'parse error: each line must be one JSON-RPC object' } });
          return;
        }
        const c = classify(value);
        if (c.kind === 'invalid' || c.kind === 'response') {
          send({ jsonrpc: '2.0', id: c.kind === 'invalid' ? c.id : null, error: { code: RPC.INVALID_REQUEST, message: c.kind === 'invalid' ? c.reason : 'responses are not accepted here' } });
          return;
        }
        const { method, params } = c.msg;
        const id: Id | null = c.kind === 'request' ? c.msg.id : null;
        const reply = (msg: Message): void => {
          if (id !== null) send(msg);
        };
        if (method === 'auth') {
          const token = (params as { token?: unknown } | undefined)?.token;
          if (tokensEqual(token, this.opts.token)) {
            authed = true;
            reply({ jsonrpc: '2.0', id, result: { ok: true, role: 'admin' } });
          } else {
            failures++;
            reply(errorResponse(id, new OszError('OSZ_E_UNAUTHORIZED', 'wrong control token')));
            this.log.warn('control', `${actor}: wrong control token`);
            this.plane.recordDenied(actor, 'auth', 'OSZ_E_UNAUTHORIZED');
            if (failures >= MAX_AUTH_FAILURES) socket.destroySoon();
          }
          return;
        }
        if (!authed) {
          reply(errorResponse(id, new OszError('OSZ_E_UNAUTHORIZED', `authenticate with "auth" before calling ${method.slice(0, 64)}`)));
          return;
        }
        if (method === 'stream.cancel') {
          const raw = (params as { subscription?: unknown } | undefined)?.subscription;
          const sub = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
          streams.get(sub)?.();
          reply({ jsonrpc: '2.0', id, result: { cancelled: streams.delete(sub) } });
          return;
        }
        this.plane.call(method, params, { actor, role: 'admin', transport: 'socket' }).then(
          (result) => {
            if (!isStreaming(result)) return reply({ jsonrpc: '2.0', id, result: result ?? null });
            if (streams.size >= MAX_STREAMS_PER_CONNECTION) return reply(errorResponse(id, new OszError('OSZ_E_INVALID_PARAMS', `at most ${MAX_STREAMS_PER_CONNECTION} streams per connection`)));
            const subscription = String(nextSub++);
            reply({ jsonrpc: '2.0', id, result: { subscription, initial: result.initial } });
            streams.set(subscription, result.subscribe((data) => send({ jsonrpc: '2.0', method: 'stream', params: { subscription, data } })));
          },
          (err: unknown) => reply(errorResponse(id, err)),
        );
      },
    });
    socket.on('data', (chunk: Buffer) => splitter.push(chunk));
  }
}

function peerLabel(socket: net.Socket): string {
  // Node exposes no SO_PEERCRED; the fd number tells connections apart in the audit log.
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  return `fd${handle?.fd ?? '?'}`;
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
