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
 */
import type http from 'node:http';
import type { EventEnvelope } from '../bus/envelope';
import type { Dashboard, Section } from '../dashboard/model';
import { toOszError } from '../errors';
import { identify, sendError } from './auth';
import { publicDashboard, publicSection } from './redact';
import { type HttpServer, sendJson } from './server';

export interface StreamSources {
  dashboard(): Dashboard;
  watch(fn: (changed: readonly Section[]) => void): () => void;
  events(fn: (e: EventEnvelope) => void): () => void;
}

interface Client {
  res: http.ServerResponse;
  authed: boolean;
}

export const MAX_STREAM_CLIENTS = 64;
const MAX_BUFFERED = 1024 * 1024;
const HEARTBEAT_MS = 15_000;

export class SseHub {
  private readonly clients = new Set<Client>();
  private stopSources: Array<() => void> = [];
  private heartbeat: NodeJS.Timeout | undefined;

  constructor(
    private readonly sources: StreamSources,
    private readonly token: () => string,
  ) {}

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
    if (this.clients.size >= MAX_STREAM_CLIENTS) {
      sendJson(res, 503, { error: { code: 'OSZ_E_RATE_LIMITED', message: `at most ${MAX_STREAM_CLIENTS} streams at once` } });
      return;
    }
    res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', Connection: 'keep-alive', 'X-Accel-Buffering': 'no' });
    // small frames go out at once (an injected test response has no real socket)
    (res.socket as { setNoDelay?: (on: boolean) => void } | null)?.setNoDelay?.(true);
    const client: Client = { res, authed };
    const model = this.sources.dashboard();
    res.write(`retry: 3000\nevent: dashboard\ndata: ${JSON.stringify(authed ? model : publicDashboard(model))}\n\n`);
    this.clients.add(client);
    if (this.clients.size === 1) this.startSources();
    const close = (): void => {
      this.clients.delete(client);
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
    this.stopAll();
  }

  private startSources(): void {
    this.stopSources = [
      this.sources.watch((changed) => {
        for (const s of changed) this.broadcast('section', s, publicSection(s));
      }),
      this.sources.events((e) => this.broadcast('event', e, e)),
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

  private broadcast(event: string, full: unknown, open: unknown): void {
    const withToken = `event: ${event}\ndata: ${JSON.stringify(full)}\n\n`;
    this.write(withToken, open === full ? withToken : `event: ${event}\ndata: ${JSON.stringify(open)}\n\n`);
  }

  private write(withTokenText: string, openText: string): void {
    // encoded once, written to every client
    const withToken = Buffer.from(withTokenText);
    const open = openText === withTokenText ? withToken : Buffer.from(openText);
    for (const c of this.clients) {
      if (c.res.writableLength > MAX_BUFFERED) {
        c.res.destroy();
        continue;
      }
      c.res.write(c.authed ? withToken : open);
    }
  }
}
