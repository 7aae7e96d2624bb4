/**
 * One control client's conversation (DESIGN §12.2): `auth` with the per-boot token first, within
 * `authTimeoutMs`; then JSON-RPC calls into the control plane, and streams as `stream`
 * notifications tied to a subscription id.
 *
 * What one client can cost the daemon is bounded: a request line by maxLineBytes, nesting by
 * MAX_MESSAGE_DEPTH, calls running at once by MAX_IN_FLIGHT, unread replies by the ReplyFlow. While
 * replies wait unread or too many calls run, the client's requests are simply not read (the
 * socket is paused, so the kernel's buffer fills and the client's writes block).
 */
import type net from 'node:net';
import { OszError } from '../errors';
import type { Logger } from '../log';
import { classify, errorResponse, type Id, type Message, RPC } from '../rpc/jsonrpc';
import { LineSplitter } from '../rpc/ndjson';
import { MAX_MESSAGE_DEPTH, parseLine } from '../rpc/parse-message';
import { isStreaming } from './op';
import type { ControlPlane } from './plane';
import { ReplyFlow } from './reply-flow';
import { tokensEqual } from './token';

export interface ConnectionOptions {
  token: string;
  maxLineBytes: number;
  authTimeoutMs: number;
  maxReplyBufferBytes: number;
  /** how long a client may leave more than maxReplyBufferBytes unread before it is cut off */
  stallMs: number;
}

export interface ConnectionEvents {
  authenticated(): void;
  closed(): void;
}

const MAX_AUTH_FAILURES = 3;
const MAX_STREAMS_PER_CONNECTION = 16;
/** calls of one client running at once; past this its next requests wait unread */
export const MAX_IN_FLIGHT = 32;
/** a closing client gets this long to read why before the socket is destroyed */
const CLOSE_GRACE_MS = 2000;

export class ControlConnection {
  private authed = false;
  private closing = false;
  private failures = 0;
  private nextSub = 1;
  private inFlight = 0;
  private readonly streams = new Map<string, () => void>();
  private readonly blocked = new Set<'replies' | 'calls'>();
  private readonly splitter: LineSplitter;
  private readonly flow: ReplyFlow;
  private readonly authTimer: NodeJS.Timeout;
  readonly actor: string;

  constructor(
    private readonly socket: net.Socket,
    private readonly plane: ControlPlane,
    private readonly opts: ConnectionOptions,
    private readonly log: Logger,
    private readonly events: ConnectionEvents,
  ) {
    this.actor = `socket:${peerLabel(socket)}`;
    this.flow = new ReplyFlow(socket, { maxBuffer: opts.maxReplyBufferBytes, stallMs: opts.stallMs }, {
      over: () => this.block('replies'),
      under: () => this.unblock('replies'),
      cutOff: (why) => this.log.warn('control', `${this.actor}: cut off: ${why}`),
    });
    this.splitter = new LineSplitter(opts.maxLineBytes, { line: (text) => this.onLine(text), oversize: (bytes) => this.onOversize(bytes) });
    this.authTimer = setTimeout(() => this.close(new OszError('OSZ_E_UNAUTHORIZED', `no "auth" within ${opts.authTimeoutMs} ms (control.authTimeoutMs); closing`)), opts.authTimeoutMs);
    this.authTimer.unref();
    socket.on('close', () => this.cleanup());
    socket.on('error', () => socket.destroy());
    socket.on('data', (chunk: Buffer) => {
      if (!this.closing) this.splitter.push(chunk);
    });
  }

  get isAuthenticated(): boolean {
    return this.authed;
  }

  /** Tells the client why in one coded line (id null), then closes; later input is discarded. */
  close(err: OszError): void {
    if (this.closing || this.socket.destroyed) return;
    this.closing = true;
    clearTimeout(this.authTimer);
    this.socket.end(JSON.stringify(errorResponse(null, err)) + '\n');
    // keep reading (and discarding) so the client reads the reason rather than a reset
    this.blocked.clear();
    this.socket.resume();
    setTimeout(() => this.socket.destroy(), CLOSE_GRACE_MS).unref();
  }

  destroy(): void {
    this.socket.destroy();
  }

  private send(msg: Message): void {
    this.flow.write(JSON.stringify(msg) + '\n');
  }

  private cleanup(): void {
    clearTimeout(this.authTimer);
    this.flow.dispose();
    this.streams.forEach((stop) => stop());
    this.streams.clear();
    this.events.closed();
  }

  private block(why: 'replies' | 'calls'): void {
    this.blocked.add(why);
    this.splitter.pause();
    this.socket.pause();
  }

  private unblock(why: 'replies' | 'calls'): void {
    this.blocked.delete(why);
    if (this.blocked.size > 0 || this.closing) return;
    // the held lines may block again; only a splitter still running lets the socket flow
    this.splitter.resume();
    if (!this.splitter.isPaused) this.socket.resume();
  }

  private onOversize(bytes: number): void {
    this.log.warn('control', `${this.actor}: request line over ${this.opts.maxLineBytes} bytes, connection closed`);
    this.close(new OszError('OSZ_E_REQUEST_TOO_LARGE', `request line over ${this.opts.maxLineBytes} bytes (${bytes} seen); closing`));
  }

  private onLine(text: string): void {
    if (this.closing) return;
    const parsed = parseLine(text, MAX_MESSAGE_DEPTH);
    if (!parsed.ok) {
      if (parsed.problem === 'too-deep') this.send(errorResponse(parsed.id, new OszError('OSZ_E_TOO_DEEP', `request nested deeper than ${MAX_MESSAGE_DEPTH} levels; refused`)));
      else this.send({ jsonrpc: '2.0', id: null, error: { code: RPC.PARSE_ERROR, message: 'parse error: each line must be one JSON-RPC object' } });
      return;
    }
    const c = classify(parsed.value);
    if (c.kind === 'invalid' || c.kind === 'response') {
      this.send({ jsonrpc: '2.0', id: c.kind === 'invalid' ? c.id : null, error: { code: RPC.INVALID_REQUEST, message: c.kind === 'invalid' ? c.reason : 'responses are not accepted here' } });
      return;
    }
    const id: Id | null = c.kind === 'request' ? c.msg.id : null;
    const reply = (msg: Message): void => {
      if (id !== null) this.send(msg);
    };
    const { method, params } = c.msg;
    if (method === 'auth') return this.auth(params, id, reply);
    if (!this.authed) return reply(errorResponse(id, new OszError('OSZ_E_UNAUTHORIZED', `authenticate with "auth" before calling ${method.slice(0, 64)}`)));
    if (method === 'stream.cancel') return this.cancel(params, id, reply);
    this.dispatch(method, params, id, reply);
  }

  private auth(params: unknown, id: Id | null, reply: (msg: Message) => void): void {
    const token = (params as { token?: unknown } | undefined)?.token;
    if (tokensEqual(token, this.opts.token)) {
      if (!this.authed) {
        this.authed = true;
        clearTimeout(this.authTimer);
        this.events.authenticated();
      }
      return reply({ jsonrpc: '2.0', id, result: { ok: true, role: 'admin' } });
    }
    this.failures++;
    reply(errorResponse(id, new OszError('OSZ_E_UNAUTHORIZED', 'wrong control token')));
    this.log.warn('control', `${this.actor}: wrong control token`);
    this.plane.recordDenied(this.actor, 'auth', 'OSZ_E_UNAUTHORIZED');
    if (this.failures >= MAX_AUTH_FAILURES) this.socket.destroySoon();
  }

  private cancel(params: unknown, id: Id | null, reply: (msg: Message) => void): void {
    const raw = (params as { subscription?: unknown } | undefined)?.subscription;
    const sub = typeof raw === 'string' || typeof raw === 'number' ? String(raw) : '';
    this.streams.get(sub)?.();
    reply({ jsonrpc: '2.0', id, result: { cancelled: this.streams.delete(sub) } });
  }

  private dispatch(method: string, params: unknown, id: Id | null, reply: (msg: Message) => void): void {
    if (++this.inFlight >= MAX_IN_FLIGHT) this.block('calls');
    const settled = (): void => {
      if (--this.inFlight < MAX_IN_FLIGHT) this.unblock('calls');
    };
    this.plane.call(method, params, { actor: this.actor, role: 'admin', transport: 'socket' }).then(
      (result) => {
        settled();
        if (!isStreaming(result)) return reply({ jsonrpc: '2.0', id, result: result ?? null });
        if (this.socket.destroyed) return;
        if (this.streams.size >= MAX_STREAMS_PER_CONNECTION) return reply(errorResponse(id, new OszError('OSZ_E_INVALID_PARAMS', `at most ${MAX_STREAMS_PER_CONNECTION} streams per connection`)));
        const subscription = String(this.nextSub++);
        reply({ jsonrpc: '2.0', id, result: { subscription, initial: result.initial } });
        this.streams.set(subscription, result.subscribe((data) => this.send({ jsonrpc: '2.0', method: 'stream', params: { subscription, data } })));
      },
      (err: unknown) => {
        settled();
        reply(errorResponse(id, err));
      },
    );
  }
}

function peerLabel(socket: net.Socket): string {
  // Node exposes no SO_PEERCRED; the fd number tells connections apart in the audit log.
  const handle = (socket as unknown as { _handle?: { fd?: number } })._handle;
  return `fd${handle?.fd ?? '?'}`;
}
