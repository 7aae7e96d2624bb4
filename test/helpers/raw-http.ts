/**
 * Hostile HTTP clients on raw sockets: ones that stall in their headers, declare a body and never
 * finish it, or connect from another loopback address (127.0.0.0/8 all reaches 127.0.0.1 on
 * Linux, so per-address caps can be tested on one host). Each records what the server answered
 * and whether the server closed it; `closeAll` ends every socket a test opened.
 */
import net from 'node:net';
import { waitFor } from './tmp';

export interface RawClient {
  socket: net.Socket;
  /** everything the server sent */
  received(): string;
  /** the status code of the first response, once one arrived */
  status(): number | undefined;
  /** the JSON error code of the first response, if it had one */
  code(): string | undefined;
  /** true once the server closed the connection (or it failed) */
  closed(): boolean;
}

const open = new Set<net.Socket>();

/** connects to `address` ("127.0.0.1:8470") from `from` and writes `head` */
export async function rawClient(address: string, head: string | Buffer, from = '127.0.0.1'): Promise<RawClient> {
  const i = address.lastIndexOf(':');
  const socket = net.connect({ host: address.slice(0, i), port: Number(address.slice(i + 1)), localAddress: from });
  open.add(socket);
  let data = '';
  let closed = false;
  socket.on('data', (c: Buffer) => (data += c.toString('latin1')));
  socket.on('error', () => (closed = true));
  socket.on('close', () => {
    closed = true;
    open.delete(socket);
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  if (head.length > 0) socket.write(head);
  return {
    socket,
    received: () => data,
    status: () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      return m ? Number(m[1]) : undefined;
    },
    code: () => /"code":"([A-Z_]+)"/.exec(data)?.[1],
    closed: () => closed,
  };
}

/** keeps writing `total` bytes of body in 64 KiB pieces as fast as the kernel takes them */
export function pushBody(c: RawClient, total: number): void {
  const piece = Buffer.alloc(64 * 1024, 0x20);
  let left = total;
  const more = (): void => {
    while (left > 0 && !c.socket.destroyed) {
      const n = Math.min(left, piece.length);
      left -= n;
      if (!c.socket.write(piece.subarray(0, n))) return void c.socket.once('drain', more);
    }
  };
  more();
}

export function postHead(address: string, path: string, o: { length?: number; token?: string; type?: string; extra?: string } = {}): string {
  const lines = [`POST ${path} HTTP/1.1`, `Host: ${address}`, `Content-Type: ${o.type ?? 'application/json'}`];
  if (o.length !== undefined) lines.push(`Content-Length: ${o.length}`);
  if (o.token) lines.push(`Authorization: Bearer ${o.token}`);
  if (o.extra) lines.push(o.extra);
  return `${lines.join('\r\n')}\r\n\r\n`;
}

export function waitClosed(what: string, clients: readonly RawClient[], timeoutMs = 30_000): Promise<true> {
  return waitFor(what, () => clients.every((c) => c.closed()) || undefined, timeoutMs);
}

export function closeAll(): void {
  for (const s of open) s.destroy();
  open.clear();
}

export interface Flood {
  /** every connection the flood opened, those closed included */
  all: RawClient[];
  /** connections open now */
  live(): number;
  /** stops refilling and closes what is still open */
  stop(): void;
}

/**
 * Holds `perSource` connections open from each of `sources` and opens a new one whenever one is
 * closed, as a hostile local process would. Even-numbered ones never send a byte; odd-numbered
 * ones send a request line and then drip a header byte every 200 ms, never finishing.
 */
export async function holdFlood(address: string, sources: readonly string[], perSource: number): Promise<Flood> {
  const all: RawClient[] = [];
  let stopped = false;
  const drips = new Set<NodeJS.Timeout>();
  const open = async (from: string, n: number): Promise<void> => {
    if (stopped) return;
    const slow = n % 2 === 1;
    const c = await rawClient(address, slow ? `GET /healthz HTTP/1.1\r\nHost: ${address}\r\nX-Slow: ` : '', from).catch(() => undefined);
    if (!c) return void setTimeout(() => void open(from, n), 50);
    all.push(c);
    let drip: NodeJS.Timeout | undefined;
    if (slow) {
      drip = setInterval(() => c.socket.write('a'), 200);
      drips.add(drip);
    }
    c.socket.once('close', () => {
      if (drip) {
        clearInterval(drip);
        drips.delete(drip);
      }
      // a closed connection is replaced at once
      if (!stopped) setImmediate(() => void open(from, n));
    });
  };
  let n = 0;
  for (const from of sources) for (let i = 0; i < perSource; i++) await open(from, n++);
  return {
    all,
    live: () => all.filter((c) => !c.closed()).length,
    stop: () => {
      stopped = true;
      drips.forEach((d) => clearInterval(d));
      drips.clear();
      for (const c of all) c.socket.destroy();
    },
  };
}
