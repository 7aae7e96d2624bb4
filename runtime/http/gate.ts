/**
 * Who holds the HTTP listener's connections (issue 16), the way the control socket decides who
 * holds its own (runtime/control/socket-server.ts).
 *
 * A new connection is admitted provisionally, as anonymous: nothing can be known of it before its
 * headers are read. Once a request with the right token arrives on it (auth.ts `identify`), the
 * connection is vouched for and no longer counts against the anonymous caps. When a cap is reached
 * (`maxConnectionsPerClient` for the newcomer's address, `maxConnections` over all addresses), an
 * anonymous connection is closed to make room, never the newcomer: refusing the newest would let a
 * few idle sockets keep out the page, REST with the token and /healthz, which all send their
 * request at once. The one closed is, in this order: one already closing; the least recently
 * active of those with no request in progress (idle keep-alives, and sockets still in their
 * headers); then the oldest busy one. Connections with the token are never closed for anonymous
 * ones. `connectionCeiling` bounds them all, those with the token included (each costs an fd and
 * the kernel's and Node's buffers): at it, an anonymous connection still makes room; only when every
 * connection has the token is the newcomer answered 503 `OSZ_E_HTTP_BUSY`.
 *
 * A connection has GRACE_MS to send its first request before it can be closed so: when every
 * candidate is younger, the newcomer comes in over the cap and the excess is closed once the grace
 * has passed. The ceiling does not wait; at it any anonymous connection may go, the youngest last.
 *
 * A connection chosen to make room is told why where it can be: 503 `OSZ_E_HTTP_BUSY` before its
 * first request or in place of a response not yet started; a keep-alive between requests is
 * simply closed (RFC 9112 §9.6), a started response cut. It is closed in stages (limits.ts) and no
 * longer counts against the anonymous caps, but it does against the ceiling until it is gone.
 */
import type http from 'node:http';
import type net from 'node:net';
import { OszError } from '../errors';
import { answerBusy, closeInStages, type HttpLimits } from './limits';

export type Cap = 'perClient' | 'total' | 'ceiling';

interface Slot {
  socket: net.Socket;
  client: string;
  authed: boolean;
  /** the response in progress on it (Node answers a connection's requests one at a time) */
  res: http.ServerResponse | undefined;
  /** requests it has been answered */
  served: number;
  /** when it last became active or idle: a counter, so the order holds whatever the clock does */
  touched: number;
  /** closed here to make room: no longer counted against the anonymous caps while it closes */
  leaving: boolean;
  /** its grace is over (see GRACE_MS) */
  settled: boolean;
  grace: NodeJS.Timeout | undefined;
}

/**
 * How long a new connection has to send its first request before it can be closed for a newer one
 * under the anonymous caps. Without it a burst (a script with the token opening 20 connections at
 * once, or a flood racing the page) closed connections whose requests were already in the kernel,
 * unread: a caller sends at once, and its headers are read within a turn of the event loop. The
 * grace ends only after the daemon has also read its sockets once more (a poll phase after the
 * timer), so an event loop that was busy for longer does not eat it.
 */
export const GRACE_MS = 250;

export interface GateEvents {
  /** an anonymous connection was closed to make room under `cap` */
  evicted?(client: string, cap: Cap): void;
  /** a newcomer was answered 503: every connection has the token */
  refused?(client: string): void;
}

const gateOf = new WeakMap<net.Socket, ConnectionGate>();

/** Marks the connection a request with the right token arrived on (auth.ts); no-op for others. */
export function vouch(socket: net.Socket | null | undefined): void {
  if (socket) gateOf.get(socket)?.vouch(socket);
}

export class ConnectionGate {
  private readonly slots = new Map<net.Socket, Slot>();
  private readonly anonymousPer = new Map<string, number>();
  private anonymous = 0;
  private clock = 0;
  private trimTimer: NodeJS.Timeout | undefined;
  private readonly turnedAway = new WeakSet<net.Socket>();
  /** newcomers answered 503 since start (only at connectionCeiling, all with the token) */
  readonly refusals = { ceiling: 0 };
  /** anonymous connections closed to make room since start, by the cap that needed it */
  readonly evictions: Record<Cap, number> = { perClient: 0, total: 0, ceiling: 0 };

  constructor(
    private readonly limits: Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerClient' | 'connectionCeiling'>,
    private readonly events: GateEvents = {},
    /** GRACE_MS; tests of the order alone pass 0 */
    private readonly graceMs = GRACE_MS,
  ) {}

  /** open connections, those closing included */
  get open(): number {
    return this.slots.size;
  }

  /** open connections that no request with the token has arrived on */
  get openAnonymous(): number {
    return this.anonymous;
  }

  /** connections with a request being answered now */
  get serving(): number {
    let n = 0;
    for (const s of this.slots.values()) if (s.res !== undefined) n++;
    return n;
  }

  /** every connection it holds (for the write deadline, write-stall.ts) */
  sockets(): IterableIterator<net.Socket> {
    return this.slots.keys();
  }

  /** Counts a new socket in until it closes, making room if a cap is reached; false: answered 503. */
  admit(socket: net.Socket): boolean {
    const client = socket.remoteAddress ?? '?';
    const { connectionCeiling } = this.limits;
    this.enforce(client);
    if (!this.makeRoom('ceiling', () => this.slots.size >= connectionCeiling)) {
      this.refusals.ceiling++;
      this.turnedAway.add(socket);
      answerBusy(socket, `the daemon holds ${this.slots.size} HTTP connections, all with the token (http.connectionCeiling ${connectionCeiling}); try again when one has closed`);
      this.events.refused?.(client);
      return false;
    }
    const slot: Slot = { socket, client, authed: false, res: undefined, served: 0, touched: ++this.clock, leaving: false, settled: false, grace: undefined };
    // timers run before the poll phase that reads sockets; the immediate after it
    slot.grace = setTimeout(() => setImmediate(() => (slot.settled = true)), this.graceMs);
    slot.grace.unref();
    this.slots.set(socket, slot);
    this.count(client, +1);
    gateOf.set(socket, this);
    socket.once('close', () => this.release(socket));
    return true;
  }

  /**
   * Makes room under the anonymous caps for one more from `client` (or, with none, trims what is
   * over them), closing only connections past their GRACE_MS. What cannot be made room for yet
   * comes in over the cap, and is looked at again once the grace has passed.
   */
  private enforce(client?: string): void {
    const { maxConnections, maxConnectionsPerClient, connectionCeiling } = this.limits;
    const room = client === undefined ? 0 : 1;
    const perClient = (c: string): boolean => (this.anonymousPer.get(c) ?? 0) + room > maxConnectionsPerClient;
    // the newcomer's own address first: a flood from one address closes its own connections
    const addresses = client === undefined ? [...this.anonymousPer.keys()] : [client];
    let over = false;
    for (const c of addresses) over = !this.makeRoom('perClient', () => perClient(c), c) || over;
    over = !this.makeRoom('total', () => this.anonymous + room > Math.min(maxConnections, connectionCeiling)) || over;
    if (over && !this.trimTimer) {
      this.trimTimer = setTimeout(() => {
        this.trimTimer = undefined;
        this.enforce();
      }, this.graceMs);
      this.trimTimer.unref();
    }
  }

  /** a request with the token arrived on it: it no longer counts against the anonymous caps */
  vouch(socket: net.Socket): void {
    const slot = this.slots.get(socket);
    if (!slot || slot.authed) return;
    slot.authed = true;
    if (!slot.leaving) this.count(slot.client, -1);
  }

  /** a request on it is being answered (server.ts), until `res` closes */
  begin(socket: net.Socket, res: http.ServerResponse): void {
    const slot = this.slots.get(socket);
    if (!slot) return;
    slot.res = res;
    slot.touched = ++this.clock;
    res.once('close', () => {
      if (slot.res !== res) return;
      slot.res = undefined;
      slot.served++;
      slot.touched = ++this.clock;
    });
  }

  /** true for a socket that was answered 503 here: its requests must not be served */
  refused(socket: net.Socket | null): boolean {
    return socket !== null && this.turnedAway.has(socket);
  }

  /**
   * While `full()`: a connection already closing is destroyed at once (it holds nothing anyone
   * waits for); otherwise the next anonymous one in line is told and closed in stages. Under the
   * anonymous caps only connections past their grace are closed, and one so told stops counting
   * at once and closes within LINGER_MS; under the ceiling, which counts every socket, any
   * anonymous one may go, and is destroyed at once. false while `full()` and none is left to close.
   */
  private makeRoom(cap: Cap, full: () => boolean, client?: string): boolean {
    const ceiling = cap === 'ceiling';
    while (full()) {
      const victim = this.next(client, ceiling);
      if (!victim) return false;
      if (closing(victim.socket)) {
        victim.socket.destroy();
        this.release(victim.socket);
        continue;
      }
      this.evictions[cap]++;
      this.close(victim, evictionMessage(cap, victim.client, this.limits));
      this.events.evicted?.(victim.client, cap);
      if (ceiling) {
        victim.socket.destroy();
        this.release(victim.socket);
      }
    }
    return true;
  }

  /** the anonymous connection (of `client`, if given) to close first, in the order of docs/http.md */
  private next(client: string | undefined, ceiling: boolean): Slot | undefined {
    let best: Slot | undefined;
    let bestRank = Infinity;
    for (const s of this.slots.values()) {
      if (s.authed || (s.leaving && !ceiling) || (client !== undefined && s.client !== client)) continue;
      const r = rank(s);
      if (r === IN_GRACE && !ceiling) continue;
      if (r < bestRank || (r === bestRank && best !== undefined && s.touched < best.touched)) {
        best = s;
        bestRank = r;
      }
    }
    return best;
  }

  private close(slot: Slot, message: string): void {
    const { socket, res } = slot;
    this.turnedAway.add(socket);
    slot.leaving = true;
    if (!slot.authed) this.count(slot.client, -1);
    if (res === undefined && slot.served === 0) return answerBusy(socket, message);
    if (res === undefined) return closeInStages(socket);
    if (res.headersSent) return void socket.destroy();
    const body = JSON.stringify({ error: new OszError('OSZ_E_HTTP_BUSY', message).toJSON() });
    res.writeHead(503, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(body), Connection: 'close', 'Retry-After': '1' });
    res.end(body);
    closeInStages(socket);
  }

  private release(socket: net.Socket): void {
    const slot = this.slots.get(socket);
    if (!slot) return;
    clearTimeout(slot.grace);
    this.slots.delete(socket);
    if (!slot.authed && !slot.leaving) this.count(slot.client, -1);
  }

  private count(client: string, by: 1 | -1): void {
    this.anonymous += by;
    const n = (this.anonymousPer.get(client) ?? 0) + by;
    if (n > 0) this.anonymousPer.set(client, n);
    else this.anonymousPer.delete(client);
  }
}

/** closing already: our side has ended, or the socket is gone */
function closing(socket: net.Socket): boolean {
  return socket.destroyed || socket.writableEnded;
}

const IN_GRACE = 3;

/**
 * The eviction order: closing (0), then idle (1: no request in progress, least recently active
 * first), then busy (2: oldest first); last, and only at the ceiling, those still in their grace.
 */
function rank(s: Slot): number {
  if (closing(s.socket)) return 0;
  if (s.res !== undefined) return 2;
  if (s.served === 0 && !s.settled) return IN_GRACE;
  return 1;
}

function evictionMessage(cap: Cap, client: string, l: Pick<HttpLimits, 'maxConnections' | 'maxConnectionsPerClient' | 'connectionCeiling'>): string {
  const why =
    cap === 'perClient'
      ? `${client} holds ${l.maxConnectionsPerClient} HTTP connections without the token (http.maxConnectionsPerClient)`
      : cap === 'total'
        ? `${l.maxConnections} HTTP connections without the token are open (http.maxConnections)`
        : `the daemon holds ${l.connectionCeiling} HTTP connections (http.connectionCeiling)`;
  return `${why}; this one, the least recently active, is closed to make room. Requests with the token keep their connection`;
}
