import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { ControlClient } from '../../../../runtime/cli/client';
import { tokenPathFor } from '../../../../runtime/config/paths';
import { defineOp, streaming } from '../../../../runtime/control/op';
import type { OszError } from '../../../../runtime/errors';
import { ControlPlane } from '../../../../runtime/control/plane';
import type { ControlServices } from '../../../../runtime/control/services';
import { ControlSocketServer, type SocketServerOptions } from '../../../../runtime/control/socket-server';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir, waitFor } from '../../../helpers/tmp';

let server: ControlSocketServer | undefined;
let store: Store | undefined;
const opened: net.Socket[] = [];
afterEach(async () => {
  opened.splice(0).forEach((s) => s.destroy());
  await server?.stop();
  server = undefined;
  store?.close();
});

const TOKEN = 'secret-token';
const deep = (n: number): string => '['.repeat(n) + ']'.repeat(n);

async function start(opts: Partial<SocketServerOptions> = {}): Promise<{ socket: string }> {
  const dir = tmpDir('osd-sock-');
  store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const ops = [
    defineOp({ name: 'test.echo', summary: '', params: z.strictObject({ x: z.unknown() }), role: 'viewer', mutating: false, remote: false, handler: (p) => ({ x: p.x }) }),
    defineOp({
      name: 'test.ticks',
      summary: '',
      params: z.strictObject({}),
      role: 'viewer',
      mutating: false,
      remote: false,
      handler: () =>
        streaming<number>({ started: true }, (send) => {
          let n = 0;
          const t = setInterval(() => send(++n), 10);
          return () => clearInterval(t);
        }),
    }),
    // 64 KiB items as fast as timers go: a client that stops reading falls behind at once
    defineOp({
      name: 'test.flood',
      summary: '',
      params: z.strictObject({}),
      role: 'viewer',
      mutating: false,
      remote: false,
      handler: () =>
        streaming<string>(null, (send) => {
          const item = 'y'.repeat(64 * 1024);
          const t = setInterval(() => send(item), 1);
          return () => clearInterval(t);
        }),
    }),
  ];
  const plane = new ControlPlane(ops, { store, log: memoryLogger() } as unknown as ControlServices);
  const socket = path.join(dir, 'run', 'c.sock');
  server = new ControlSocketServer(
    plane,
    { path: socket, token: TOKEN, maxLineBytes: 64 * 1024, maxConnections: 4, maxUnauthenticated: 2, authTimeoutMs: 60_000, maxReplyBufferBytes: 64 * 1024, stallMs: 60_000, ...opts },
    memoryLogger(),
  );
  await server.start();
  fs.writeFileSync(tokenPathFor(socket), TOKEN);
  return { socket };
}

interface Session {
  sock: net.Socket;
  send(v: unknown): void;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<void>;
}

function session(socket: string): Session {
  const s = net.connect(socket);
  opened.push(s);
  const q: Array<Record<string, unknown>> = [];
  let buf = '';
  s.on('data', (c) => {
    buf += String(c);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      q.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  s.on('error', () => undefined);
  return {
    sock: s,
    send: (v) => void s.write(typeof v === 'string' ? v : JSON.stringify(v) + '\n'),
    next: () => waitFor('reply', () => q.shift(), 20_000, 5),
    closed: new Promise((r) => s.on('close', () => r())),
  };
}

async function authed(socket: string): Promise<Session> {
  const s = session(socket);
  s.send({ jsonrpc: '2.0', id: 'auth', method: 'auth', params: { token: TOKEN } });
  expect((await s.next()).result).toMatchObject({ ok: true });
  return s;
}

const codeOf = (m: Record<string, unknown>): string | undefined => (m.error as { data?: { code?: string } } | undefined)?.data?.code;

/** writes `line` until the socket stops taking it (or `total` bytes went); how much it got in */
async function writeUntilStuck(sock: net.Socket, line: string, total: number): Promise<number> {
  const chunk = Buffer.from(line.repeat(Math.ceil((64 * 1024) / line.length)));
  let sent = 0;
  while (sent < total && !sock.destroyed) {
    sent += chunk.length;
    if (!sock.write(chunk)) {
      const drained = await new Promise<boolean>((r) => {
        sock.once('drain', () => r(true)).once('close', () => r(false));
      });
      if (!drained) break;
    }
  }
  return sent;
}

/** reads what is left in a closed socket's receive buffer, as bytes */
async function drain(s: Session): Promise<number> {
  let bytes = 0;
  s.sock.removeAllListeners('data');
  s.sock.on('data', (c: Buffer) => (bytes += c.length));
  s.sock.resume();
  await s.closed;
  return bytes;
}

describe('control socket server', () => {
  it('audits wrong tokens and closes the connection after three', async () => {
    const { socket } = await start();
    const s = session(socket);
    for (let i = 1; i <= 3; i++) {
      s.send({ jsonrpc: '2.0', id: i, method: 'auth', params: { token: 'guess' } });
      expect(codeOf(await s.next())).toBe('OSZ_E_UNAUTHORIZED');
    }
    await s.closed;
    const denied = store?.audit.recent(10) ?? [];
    expect(denied).toHaveLength(3);
    expect(denied[0]).toMatchObject({ op: 'auth', outcome: 'denied', errorCode: 'OSZ_E_UNAUTHORIZED' });
  });

  it('streams with subscription ids and cancels on request; ignores notifications without replies', async () => {
    const { socket } = await start();
    const s = await authed(socket);
    s.send({ jsonrpc: '2.0', method: 'test.echo', params: { x: 1 } });
    s.send({ jsonrpc: '2.0', id: 2, method: 'test.echo', params: { x: 2 } });
    expect((await s.next()).result).toEqual({ x: 2 });
    s.send({ jsonrpc: '2.0', id: 3, method: 'test.ticks' });
    const first = await s.next();
    expect(first.result).toEqual({ subscription: '1', initial: { started: true } });
    const tick = await s.next();
    expect(tick).toMatchObject({ method: 'stream', params: { subscription: '1' } });
    s.send({ jsonrpc: '2.0', id: 4, method: 'stream.cancel', params: { subscription: '1' } });
    const cancelled = await waitFor('cancel reply', async () => {
      const m = await s.next();
      return m.id === 4 ? m : undefined;
    });
    expect(cancelled.result).toEqual({ cancelled: true });
  });

  it('answers an oversized line with OSZ_E_REQUEST_TOO_LARGE before closing', async () => {
    const { socket } = await start();
    const s = session(socket);
    s.send({ jsonrpc: '2.0', id: 1, method: 'auth', params: { token: 'x'.repeat(100_000) } });
    expect(codeOf(await s.next())).toBe('OSZ_E_REQUEST_TOO_LARGE');
    await s.closed;
  });
});

describe('control socket nesting depth', () => {
  it('refuses a 5,000-deep request with OSZ_E_TOO_DEEP for its id, and the connection keeps working', async () => {
    const { socket } = await start();
    const s = await authed(socket);
    s.send(`{"jsonrpc":"2.0","id":7,"method":"test.echo","params":{"x":${deep(5000)}}}\n`);
    const refused = await s.next();
    expect(refused.id).toBe(7);
    expect(codeOf(refused)).toBe('OSZ_E_TOO_DEEP');
    s.send({ jsonrpc: '2.0', id: 8, method: 'test.echo', params: { x: 1 } });
    expect(await s.next()).toMatchObject({ id: 8, result: { x: 1 } });
  });

  it('takes 64 levels (message included) and refuses 65, before authentication too', async () => {
    const { socket } = await start();
    const s = await authed(socket);
    // the message object and params are two levels; x holds the rest
    s.send(`{"jsonrpc":"2.0","id":1,"method":"test.echo","params":{"x":${deep(62)}}}\n`);
    expect(JSON.stringify((await s.next()).result)).toBe(`{"x":${deep(62)}}`);
    s.send(`{"jsonrpc":"2.0","id":2,"method":"test.echo","params":{"x":${deep(63)}}}\n`);
    expect(codeOf(await s.next())).toBe('OSZ_E_TOO_DEEP');
    const anon = session(socket);
    anon.send(`{"jsonrpc":"2.0","id":"a","method":"auth","params":{"token":${deep(5000)}}}\n`);
    expect(await anon.next()).toMatchObject({ id: 'a', error: { data: { code: 'OSZ_E_TOO_DEEP' } } });
  });
});

describe('control socket backpressure', () => {
  it('stops reading a client that never reads its replies, cuts it off, and keeps serving others', async () => {
    const { socket } = await start({ stallMs: 300 });
    const hog = await authed(socket);
    hog.sock.pause();
    const other = await authed(socket);
    // 8 MiB of `x\n` would be 4 million parse-error replies (~400 MB) if each were queued
    const sent = await writeUntilStuck(hog.sock, 'x\n', 8 * 1024 * 1024);
    await hog.closed;
    // the writes got stuck: the server stopped reading long before 8 MiB, and then cut it off
    expect(sent).toBeLessThan(8 * 1024 * 1024);
    other.send({ jsonrpc: '2.0', id: 1, method: 'test.echo', params: { x: 'still here' } });
    expect((await other.next()).result).toEqual({ x: 'still here' });
    await waitFor('hog gone on the server side', () => server?.connections === 1);
  });

  it('reads again once the client catches up, answering every request in order', async () => {
    const { socket } = await start({ stallMs: 60_000 });
    const s = await authed(socket);
    s.sock.pause();
    const n = 10_000;
    let lines = '';
    for (let i = 0; i < n; i++) lines += JSON.stringify({ jsonrpc: '2.0', id: i, method: 'test.echo', params: { x: 'z'.repeat(200) } }) + '\n';
    s.sock.write(lines);
    // ~2.5 MB of replies against a 64 KiB buffer: the server stops reading (our writes back up),
    // and must resume to answer all of them
    await waitFor('server stopped reading', () => s.sock.writableLength > 0);
    s.sock.resume();
    const ids: unknown[] = [];
    for (let i = 0; i < n; i++) ids.push((await s.next()).id);
    expect(ids).toEqual([...Array(n).keys()]);
  });

  it('cuts off a client that subscribes to a fast stream and stops reading, with bounded replies in flight', async () => {
    const { socket } = await start({ stallMs: 60_000 });
    const s = await authed(socket);
    s.send({ jsonrpc: '2.0', id: 1, method: 'test.flood' });
    expect((await s.next()).result).toMatchObject({ subscription: '1' });
    s.sock.pause();
    // cut off long before the 60 s stall: the stream pushed past twice the buffer
    await waitFor('cut off', () => server?.connections === 0);
    // what reached us: kernel buffers plus at most twice the 64 KiB buffer and one item
    expect(await drain(s)).toBeLessThan(4 * 1024 * 1024);
  });
});

describe('control socket admission', () => {
  it('closes the oldest unauthenticated connections past the cap with OSZ_E_DAEMON_BUSY; an authenticating client still gets in', async () => {
    const { socket } = await start({ maxUnauthenticated: 2, maxConnections: 4 });
    const idle = Array.from({ length: 6 }, () => session(socket));
    // the first four are the oldest: each is told why in one line, then closed
    for (const s of idle.slice(0, 4)) {
      expect(codeOf(await s.next())).toBe('OSZ_E_DAEMON_BUSY');
      await s.closed;
    }
    const cli = await authed(socket);
    cli.send({ jsonrpc: '2.0', id: 1, method: 'test.echo', params: { x: 1 } });
    expect((await cli.next()).result).toEqual({ x: 1 });
  });

  it('does not count authenticated clients against the unauthenticated cap, and refuses a newcomer only when all slots are authenticated', async () => {
    const { socket } = await start({ maxUnauthenticated: 2, maxConnections: 3 });
    await authed(socket);
    await authed(socket);
    const waitingOne = session(socket);
    await authed(socket);
    // three authenticated: the unauthenticated one made room when the third connected
    expect(codeOf(await waitingOne.next())).toBe('OSZ_E_DAEMON_BUSY');
    const late = session(socket);
    const refusal = await late.next();
    expect(codeOf(refusal)).toBe('OSZ_E_DAEMON_BUSY');
    expect((refusal.error as { message: string }).message).toContain('control.maxConnections 3');
    await late.closed;
  });

  it('closes a connection that does not authenticate within authTimeoutMs, telling it why', async () => {
    const { socket } = await start({ authTimeoutMs: 200 });
    const s = session(socket);
    const reply = await s.next();
    expect(codeOf(reply)).toBe('OSZ_E_UNAUTHORIZED');
    expect((reply.error as { message: string }).message).toContain('control.authTimeoutMs');
    await s.closed;
    const ok = await authed(socket);
    ok.send({ jsonrpc: '2.0', id: 1, method: 'test.echo', params: { x: 2 } });
    expect((await ok.next()).result).toEqual({ x: 2 });
  });

  it('gives the CLI client the daemon\'s reason: OSZ_E_DAEMON_BUSY, not OSZ_E_DAEMON_UNREACHABLE', async () => {
    const { socket } = await start({ maxConnections: 1 });
    const held = await ControlClient.connect(socket);
    try {
      const refused = await ControlClient.connect(socket).then(
        () => undefined,
        (err: unknown) => err as OszError,
      );
      expect(refused?.code).toBe('OSZ_E_DAEMON_BUSY');
      expect(refused?.message).toContain('control.maxConnections 1');
    } finally {
      held.close();
    }
    await waitFor('slot free', () => server?.connections === 0);
    const again = await ControlClient.connect(socket);
    expect(await again.call('test.echo', { x: 3 })).toEqual({ x: 3 });
    again.close();
  });
});
