/**
 * The daemon's one HTTP server (DESIGN §9, §12.7), on `http.listen`. Features register routes;
 * this file owns what every route shares: the Host header check (an unknown Host is refused, so
 * DNS rebinding cannot reach the API from a browser), who holds a connection (gate.ts), the header
 * deadline and the write deadline (write-stall.ts), body limits and JSON errors. `/healthz` is liveness: it answers 200 while the process
 * serves, with each subsystem's state in the body.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { OszError } from '../errors';
import type { Logger } from '../log';
import { ConnectionGate } from './gate';
import { closeInStages, type HttpLimits, resolveLimits } from './limits';
import { WriteStallWatch } from './write-stall';

export type RouteHandler = (req: http.IncomingMessage, res: http.ServerResponse, url: URL) => void | Promise<void>;

export interface HttpServerOptions {
  listen: string;
  allowedHosts: readonly string[];
  /** false only for the LAN webhook listener: its requests are signed, and senders use their own Host names */
  checkHost?: boolean;
  /** connection caps and timeouts (config `http.*`); the schema's defaults when left out */
  limits?: Partial<HttpLimits>;
  /** gate.ts GRACE_MS unless given: tests of the eviction order alone pass 0 */
  connectionGraceMs?: number;
}

export class HttpServer {
  private server: http.Server | undefined;
  private readonly routes: Array<{ method: string; prefix: boolean; path: string; handler: RouteHandler }> = [];
  private allowed = new Set<string>();
  readonly limits: HttpLimits;
  readonly gate: ConnectionGate;
  readonly stalls: WriteStallWatch;
  address: string | undefined;
  private busy = { evicted: 0, refused: 0, cut: 0, loggedAt: 0 };

  constructor(
    private readonly opts: HttpServerOptions,
    private readonly log: Logger,
  ) {
    const { host, port } = splitHostPort(opts.listen);
    this.allowed = allowedHostSet(host, port, opts.allowedHosts);
    this.limits = resolveLimits(opts.limits);
    this.gate = new ConnectionGate(this.limits, {
      evicted: () => this.noteBusy('evicted'),
      refused: () => this.noteBusy('refused'),
    }, opts.connectionGraceMs);
    this.stalls = new WriteStallWatch(this.limits.writeStallMs, () => this.gate.sockets(), () => this.noteBusy('cut'));
  }

  /** the request handler, for tests that inject requests without a socket */
  readonly handle = (req: http.IncomingMessage, res: http.ServerResponse): void => void this.dispatch(req, res);

  /** Registers `handler` for `path` (exact) or for everything under it (`path/*`). */
  route(method: string, path: string, handler: RouteHandler): void {
    const prefix = path.endsWith('/*');
    this.routes.push({ method, prefix, path: prefix ? path.slice(0, -1) : path, handler });
  }

  async start(): Promise<void> {
    const { host, port } = splitHostPort(this.opts.listen);
    const { headersTimeoutMs } = this.limits;
    const server = http.createServer(
      {
        // Node answers 408 and closes a connection whose headers are late, but only looks every
        // connectionsCheckingInterval (30 s by default): look often enough for the configured time
        headersTimeout: headersTimeoutMs,
        connectionsCheckingInterval: Math.max(50, Math.min(1000, Math.floor(headersTimeoutMs / 4))),
        // bodies have their own deadlines (readBody); this only backs them up
        requestTimeout: headersTimeoutMs + 600_000,
        keepAliveTimeout: 5_000,
      },
      this.handle,
    );
    // after Node's own listener: a refused socket is answered and closed before its request is read
    server.on('connection', (socket) => void this.gate.admit(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const addr = server.address() as AddressInfo;
    const shown = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    this.address = `${shown}:${addr.port}`;
    this.allowed = allowedHostSet(host, addr.port, this.opts.allowedHosts);
    this.server = server;
    this.stalls.start();
  }

  async stop(): Promise<void> {
    this.stalls.stop();
    const s = this.server;
    if (!s) return;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // answered 503 already (limits.ts) and closing: nothing of it is served, its body is discarded
    if (this.gate.refused(req.socket)) return void req.resume();
    this.gate.begin(req.socket, res);
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Cache-Control', 'no-store');
    const host = (req.headers.host ?? '').toLowerCase();
    if (this.opts.checkHost !== false && !this.allowed.has(host)) {
      sendJson(res, 421, { error: { code: 'OSZ_E_FORBIDDEN', message: `unknown Host header "${host.slice(0, 100)}"; add it to http.allowedHosts` } });
      return;
    }
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://localhost');
    } catch {
      sendJson(res, 400, { error: { code: 'OSZ_E_INVALID_PARAMS', message: 'bad request URL' } });
      return;
    }
    const route = this.routes.find((r) => (r.prefix ? url.pathname.startsWith(r.path) : url.pathname === r.path) && (r.method === req.method || r.method === '*'));
    if (!route) {
      const pathKnown = this.routes.some((r) => (r.prefix ? url.pathname.startsWith(r.path) : url.pathname === r.path));
      sendJson(res, pathKnown ? 405 : 404, { error: { code: 'OSZ_E_UNKNOWN_OPERATION', message: `${req.method ?? '?'} ${url.pathname} is not served here` } });
      return;
    }
    try {
      await route.handler(req, res, url);
    } catch (err) {
      const e = err instanceof OszError ? err : new OszError('OSZ_E_INTERNAL', (err as Error).message);
      if (e.code === 'OSZ_E_INTERNAL') this.log.error('http', `${req.method ?? '?'} ${url.pathname}: ${(err as Error).stack ?? e.message}`);
      if (!res.headersSent) sendJson(res, 500, { error: e.toJSON() });
      else res.destroy();
    }
  }

  /** a flood is one warn line per 10 s with what it cost, not one per connection */
  private noteBusy(what: 'evicted' | 'refused' | 'cut'): void {
    const b = this.busy;
    b[what]++;
    const now = Date.now();
    if (now - b.loggedAt < BUSY_LOG_EVERY_MS) return;
    b.loggedAt = now;
    this.log.warn('http', `${this.address ?? this.opts.listen} busy: ${b.evicted} connection(s) without the token closed to make room, ${b.refused} refused at http.connectionCeiling, ${b.cut} response(s) cut for not being read within http.writeStallMs, so far (${this.gate.open} open, ${this.gate.openAnonymous} without the token)`);
  }
}

const BUSY_LOG_EVERY_MS = 10_000;

export function sendJson(res: http.ServerResponse, status: number, body: unknown): void {
  // answered already: the gate closed this connection to make room and said so in its place (gate.ts)
  if (res.headersSent) return;
  const text = JSON.stringify(body);
  // Answered before its body arrived (refused unauthenticated, too large, too slow, busy): the
  // connection closes once the answer is out, so the client cannot keep pushing the rest and
  // nothing waits to read it.
  if (bodyPending(res.req)) {
    res.setHeader('Connection', 'close');
    // Node ends such a connection with socket.destroySoon() once the answer is out: in stages instead
    const socket = res.socket;
    if (socket) socket.destroySoon = () => closeInStages(socket);
  }
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** true while a request has a body that has not all been read */
export function bodyPending(req: http.IncomingMessage | undefined): boolean {
  if (!req || req.complete) return false;
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export function splitHostPort(listen: string): { host: string; port: number } {
  const i = listen.lastIndexOf(':');
  const host = listen.slice(0, i).replace(/^\[|\]$/g, '');
  return { host, port: Number(listen.slice(i + 1)) };
}

/** Host header values accepted: the listen address, loopback names, and configured extras. */
function allowedHostSet(host: string, port: number, extra: readonly string[]): Set<string> {
  const names = new Set(['localhost', '127.0.0.1', '[::1]', host.includes(':') ? `[${host}]` : host, ...extra.map((h) => h.toLowerCase())]);
  const out = new Set<string>();
  for (const n of names) {
    out.add(n);
    out.add(`${n}:${port}`);
  }
  return out;
}
