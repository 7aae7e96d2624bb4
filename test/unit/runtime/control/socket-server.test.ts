import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { defineOp, streaming } from '../../../../runtime/control/op';
import { ControlPlane } from '../../../../runtime/control/plane';
import type { ControlServices } from '../../../../runtime/control/services';
import { ControlSocketServer } from '../../../../runtime/control/socket-server';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir, waitFor } from '../../../helpers/tmp';

let server: ControlSocketServer | undefined;
let store: Store | undefined;
afterEach(async () => {
  await server?.stop();
  store?.close();
});

async function start(): Promise<{ socket: string }> {
  const dir = tmpDir('osd-sock-');
  store = createStore(path.join(dir, 'db'), memoryLogger(), { keepEvents: 10 });
  const ticks: Array<(n: number) => void> = [];
  const ops = [
    defineOp({ name: 'test.echo', summary: '', params: z.strictObject({ x: z.number() }), role: 'viewer', mutating: false, remote: false, handler: (p) => ({ x: p.x }) }),
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
          ticks.push(send);
          return () => clearInterval(t);
        }),
    }),
  ];
  const plane = new ControlPlane(ops, { store, log: memoryLogger() } as unknown as ControlServices);
  const socket = path.join(dir, 'run', 'c.sock');
  server = new ControlSocketServer(plane, { path: socket, token: 'secret-token', maxLineBytes: 4096, maxConnections: 4 }, memoryLogger());
  await server.start();
  return { socket };
}

function session(socket: string): { send(v: unknown): void; next(): Promise<Record<string, unknown>>; closed: Promise<void> } {
  const s = net.connect(socket);
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
  return { send: (v) => void s.write(JSON.stringify(v) + '\n'), next: () => waitFor('reply', () => q.shift(), 5000, 5), closed: new Promise((r) => s.on('close', () => r())) };
}

describe('control socket server', () => {
  it('audits wrong tokens and closes the connection after three', async () => {
    const { socket } = await start();
    const s = session(socket);
    for (let i = 1; i <= 3; i++) {
      s.send({ jsonrpc: '2.0', id: i, method: 'auth', params: { token: 'guess' } });
      expect(((await s.next()).error as { data: { code: string } }).data.code).toBe('OSZ_E_UNAUTHORIZED');
    }
    await s.closed;
    const denied = store?.audit.recent(10) ?? [];
    expect(denied).toHaveLength(3);
    expect(denied[0]).toMatchObject({ op: 'auth', outcome: 'denied', errorCode: 'OSZ_E_UNAUTHORIZED' });
  });

  it('streams with subscription ids and cancels on request; ignores notifications without replies', async () => {
    const { socket } = await start();
    const s = session(socket);
    s.send({ jsonrpc: '2.0', id: 1, method: 'auth', params: { token: 'secret-token' } });
    await s.next();
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
    s.send({ jsonrpc: '2.0', id: 1, method: 'auth', params: { token: 'x'.repeat(10_000) } });
    const reply = await s.next();
    expect((reply.error as { data: { code: string } }).data.code).toBe('OSZ_E_REQUEST_TOO_LARGE');
    await s.closed;
  });
});
