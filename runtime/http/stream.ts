/**
 * `GET /api/v1/stream`: Server-Sent Events of the dashboard and the event bus (DESIGN §12.7,
 * §12.8), what the status page lives on. A client gets the whole dashboard first (`dashboard`),
 * then each changed section (`section`) and each bus event (`event`), and a comment every 15 s
 * so proxies and phones keep the connection. The page reads it with `fetch` so the token travels
 * in `Authorization`; without the token the agents' snapshots are left out.
 *
 * Fan-out: one dashboard watcher and one bus listener serve every client, and each message is
 * serialised once per audience (with and without the token). A client that stops reading is
 * dropped once 1 MiB waits for it, so one slow phone cannot grow the daemon's memory.
 *
 * Caps (issue 16): streams with the token and without it are counted apart, so anonymous ones
 * (`http.anonymousStreams`, a few) can never take the page's slot; and a stream without the token
 * carries no bus events unless `http.anonymousEvents` is set, or an agent's
 * `capabilities.events.subscribe` would mean nothing to any local process.
 */
import type http from 'node:http';
import type { EventEnvelope } from '../bus/envelope';
import type { Dashboard, Section } from '../dashboard/model';
import { OszError, toOszError } from '../errors';
import { identify, sendError } from './auth';
import { publicDashboard, publicSection } from './redact';
import type { HttpServer } from './server';

export interface StreamSources {
  dashboard(): Dashboard;
  watch(fn: (changed: readonly Section[]) => void): () => void;
  events(fn: (e: EventEnvelope) => void): () => void;
}

interface Client {
  res: http.ServerResponse;
  authed: boolean;
}

export interface StreamOptions {
  /** `http.anonymousStreams`: streams without the token at once (0: none) */
  anonymousStreams?: number;
  /** `http.anonymousEvents`: whether streams without the token carry bus events */
  anonymousEvents?: boolean;
}

/** streams with the token at once: the page in a few tabs and phones, never crowded out */
export const MAX_STREAM_CLIENTS = 64;
const ANONYMOUS_STREAMS = 4;
const MAX_BUFFERED = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

export class SseHub {
  private readonly clients = new Set<Client>();
  private stopSources: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | undefined;
  private anonymous = 0;
  private readonly maxAnonymous: number;
  private readonly anonymousEvents: boolean;

  constructor(
    private readonly sources: StreamSources,
    private readonly token: () => string,
    opts: StreamOptions = {},
  ) {
    this.maxAnonymous = opts.anonymousStreams ?? ANONYMOUS_STREAMS;
    this.anonymousEvents = opts.anonymousEvents ?? false;
  }

  register(server: HttpServer): void {
    server.route('GET', '/api/v1/stream', (req, res) => this.open(req, res));
  }

  get size(): number {
    return this.clients.size;
  }

  open(req: http.IncomingMessage, res: http.ServerResponse): void {
    let authed: boolean;
    try {
      authed = identify(req, this.token()).authed;
    } catch (err) {
      const e = toOszError(err);
      sendError(res, e);
      return;
    }
    const refusal = this.refusal(authed);
    if (refusal) {
      // the connection closes too: a refused stream must not keep its socket as an idle keep-alive
      res.setHeader('Connection', 'close');
      sendError(res, refusal);
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    // small frames go out at once (an injected test response has no real socket)
    (res.socket as { setNoDelay?: (on: boolean) => void } | null)?.setNoDelay?.(true);
    const client: Client = { res, authed };
    const model = this.sources.dashboard();
    res.write(`retry: 3000\nevent: dashboard\ndata: ${JSON.stringify(authed ? model : publicDashboard(model))}\n\n`);
    this.clients.add(client);
    if (!authed) this.anonymous++;
    if (this.clients.size === 1) this.startSources();
    const close = (): void => {
      if (!this.clients.delete(client)) return;
      if (!authed) this.anonymous--;
      if (this.clients.size === 0) this.stopAll();
    };
    // the response's close (finished, or the connection gone): a request's own close comes as soon
    // as its (empty) body has been read
    res.on('close', close);
  }

  /** ends every stream (daemon stop) */
  close(): void {
    for (const c of this.clients) c.res.end();
    this.clients.clear();
    this.anonymous = 0;
    this.stopAll();
  }

  /** streams without the token, open now */
  get anonymousSize(): number {
    return this.anonymous;
  }

  private refusal(authed: boolean): OszError | undefined {
    if (authed) return this.clients.size - this.anonymous >= MAX_STREAM_CLIENTS ? new OszError('OSZ_E_HTTP_BUSY', `at most ${MAX_STREAM_CLIENTS} streams with the token at once`, { status: 503 }) : undefined;
    if (this.maxAnonymous === 0) return new OszError('OSZ_E_UNAUTHORIZED', 'streams need the bearer token here (http.anonymousStreams is 0)', { status: 401 });
    if (this.anonymous >= this.maxAnonymous) return new OszError('OSZ_E_HTTP_BUSY', `at most ${this.maxAnonymous} streams without the token at once (http.anonymousStreams); send the token for your own slot`, { status: 503 });
    return undefined;
  }

  private startSources(): void {
    this.stopSources = [
      this.sources.watch((changed) => {
        for (const s of changed) this.broadcast('section', s, publicSection(s));
      }),
      // undefined: not for streams without the token
      this.sources.events((e) => {
        if (!this.anonymousEvents && this.clients.size === this.anonymous) return;
        this.broadcast('event', e, this.anonymousEvents ? e : undefined);
      }),
    ];
    this.heartbeat = setInterval(() => this.write(': ping\n\n', ': ping\n\n'), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  private stopAll(): void {
    this.stopSources.forEach((stop) => stop());
    this.stopSources = [];
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** `open` is what streams without the token get: undefined for nothing */
  private broadcast(event: string, full: unknown, open: unknown): void {
    const withToken = `event: ${event}\ndata: ${JSON.stringify(full)}\n\n`;
    this.write(withToken, open === undefined ? undefined : open === full ? withToken : `event: ${event}\ndata: ${JSON.stringify(open)}\n\n`);
  }

  private write(withTokenText: string, openText: string | undefined): void {
    // encoded once, written to every client
    const withToken = Buffer.from(withTokenText);
    const open = openText === undefined ? undefined : openText === withTokenText ? withToken : Buffer.from(openText);
    for (const c of this.clients) {
      const frame = c.authed ? withToken : open;
      if (!frame) continue;
      if (c.res.writableLength > MAX_BUFFERED) {
        c.res.destroy();
        continue;
      }
      c.res.write(frame);
    }
  }
}
