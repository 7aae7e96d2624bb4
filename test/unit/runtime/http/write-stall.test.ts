/**
 * The write deadline (runtime/http/write-stall.ts): a response the client takes nothing of for
 * http.writeStallMs is cut with a reset, on a real socket; a client that takes some keeps it; a
 * socket with nothing waiting is never judged.
 */
import type net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { HttpServer } from '../../../../runtime/http/server';
import { WriteStallWatch } from '../../../../runtime/http/write-stall';
import { memoryLogger } from '../../../../runtime/log';
import { closeAll, rawClient } from '../../../helpers/raw-http';
import { waitFor } from '../../../helpers/tmp';

const BIG = 48 * 1024 * 1024;
let server: HttpServer | undefined;

afterEach(async () => {
  closeAll();
  await server?.stop();
  server = undefined;
});

async function serveBig(writeStallMs: number): Promise<string> {
  server = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [], limits: { writeStallMs } }, memoryLogger());
  const body = Buffer.alloc(BIG, 0x61);
  server.route('GET', '/big', (_req, res) => {
    res.writeHead(200, { 'Content-Type': 'application/octet-stream', 'Content-Length': BIG });
    res.end(body);
  });
  await server.start();
  return server.address ?? '';
}

describe('on a real socket', () => {
  it('cuts a client that never reads a large response with a reset: the rest is dropped, not delivered', async () => {
    const addr = await serveBig(300);
    const c = await rawClient(addr, `GET /big HTTP/1.1\r\nHost: ${addr}\r\n\r\n`);
    c.socket.pause();
    await waitFor('the stalled response cut', () => server?.stalls.cut === 1 || undefined);
    let got = 0;
    c.socket.on('data', (d: Buffer) => (got += d.length));
    c.socket.resume();
    await waitFor('the client sees the close', () => c.closed() || undefined);
    // a reset: only what already sat in the client's own receive queue arrives, not what the
    // daemon's kernel still held for it (a plain close would have delivered megabytes more)
    expect(got).toBeLessThan(BIG / 4);
    await waitFor('the socket gone from the gate', () => server?.gate.open === 0 || undefined);
  });

  it('keeps a client that reads in bursts with pauses shorter than the deadline, to the last byte', async () => {
    const addr = await serveBig(2000);
    const c = await rawClient(addr, `GET /big HTTP/1.1\r\nHost: ${addr}\r\n\r\n`);
    // read for a moment, pause, read again: each burst takes something
    const burst = setInterval(() => {
      c.socket.resume();
      setTimeout(() => c.socket.pause(), 5);
    }, 100);
    try {
      await waitFor('the whole body', () => c.received().length >= BIG || c.closed() || undefined, 60_000);
    } finally {
      clearInterval(burst);
    }
    expect(c.closed()).toBe(false);
    expect(c.received().length).toBeGreaterThanOrEqual(BIG);
    expect(server?.stalls.cut).toBe(0);
  }, 90_000);
});

/** a socket as the watch sees it, with what it has taken scripted */
function fakeSocket(): net.Socket & { unsent: number; taken: number; queue: number; resets: number } {
  const s = {
    unsent: 0,
    taken: 0,
    queue: 0,
    resets: 0,
    destroyed: false,
    get writableLength() {
      return s.unsent;
    },
    get bytesWritten() {
      return s.taken + s.unsent;
    },
    get _handle() {
      return { writeQueueSize: s.queue };
    },
    resetAndDestroy() {
      s.resets++;
      s.destroyed = true;
    },
  };
  return s as unknown as net.Socket & typeof s;
}

describe('the sweep', () => {
  it('judges only what waits: progress of either kind restarts the clock; the cut comes at the deadline with nothing taken', () => {
    const idle = fakeSocket();
    const slow = fakeSocket();
    const stuck = fakeSocket();
    const cuts: number[] = [];
    const watch = new WriteStallWatch(1000, () => [idle, slow, stuck], (_s, unsent) => cuts.push(unsent));
    slow.unsent = 5000;
    slow.queue = 4000;
    stuck.unsent = 9000;
    watch.sweep(0);
    // the slow one's single write is taken in pieces (libuv's queue shrinks); the stuck one only
    // gets more written to it (a stream), which is no progress
    slow.queue = 3000;
    stuck.unsent = 9100;
    watch.sweep(600);
    // a write of the slow one completes
    slow.unsent = 4000;
    slow.taken = 1000;
    watch.sweep(1200);
    expect([idle.resets, slow.resets, stuck.resets]).toEqual([0, 0, 1]);
    expect(cuts).toEqual([9100]);
    // the slow one then takes nothing more: cut a deadline after its last progress, not before
    watch.sweep(2100);
    expect(slow.resets).toBe(0);
    watch.sweep(2300);
    expect(slow.resets).toBe(1);
    expect(watch.cut).toBe(2);
  });
});
