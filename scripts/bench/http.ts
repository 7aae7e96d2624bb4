// HTTP figures for `npm run bench` (issue 10): the bundled daemon's RSS while the status page is
// open (its files fetched, one SSE stream live) beside the same daemon without it (the issue's
// ceiling: +10 MB); and an event's fan-out over SSE to 50 clients beside one client.
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { ControlClient } from '../../runtime/cli/client';
import { median, rssOf, sleep, startUntil } from './measure';
import type { Add } from './wasm';

const MB = 1024 * 1024;

function get(addr: string, url: string, token: string): Promise<string> {
  const [hostname, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ hostname, port: Number(port), path: url, headers: { host: addr, authorization: `Bearer ${token}` } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve(body));
      })
      .on('error', reject);
  });
}

/** an SSE client that calls `onEvent` with each bus event's `data.n` */
function streamClient(addr: string, token: string, onEvent: (n: number) => void): Promise<http.ClientRequest> {
  const [hostname, port] = addr.split(':');
  return new Promise((resolve) => {
    const req = http.get({ hostname, port: Number(port), path: '/api/v1/stream', headers: { host: addr, authorization: `Bearer ${token}` } }, (res) => {
      let buf = '';
      res.on('data', (c: Buffer) => {
        buf += c.toString();
        let i;
        while ((i = buf.indexOf('\n\n')) >= 0) {
          const block = buf.slice(0, i);
          buf = buf.slice(i + 2);
          const m = /^event: event\ndata: (.*)$/s.exec(block);
          if (m) {
            const e = JSON.parse(m[1] ?? '{}') as { type: string; data: { n?: number } };
            if (e.type === 'bench:fanout' && typeof e.data.n === 'number') onEvent(e.data.n);
          }
        }
      });
      resolve(req);
    });
  });
}

export async function httpBench(root: string, work: string, add: Add): Promise<void> {
  const home = path.join(work, 'http');
  fs.mkdirSync(home, { recursive: true });
  const daemon = await startUntil(path.join(root, 'bin/openstarryd'), ['--home', home, '--http', '127.0.0.1:0'], /daemon: ready/);
  const socket = /control socket (\S+),/.exec(daemon.line)?.[1] ?? '';
  const addr = /http (\S+),/.exec(daemon.line)?.[1] ?? '';
  const token = fs.readFileSync(path.join(path.dirname(socket), 'control.token'), 'utf8').trim();
  const client = await ControlClient.connect(socket);
  const pid = daemon.proc.pid ?? 0;

  await sleep(4000);
  const before: number[] = [];
  for (let i = 0; i < 5; i++) {
    before.push(rssOf(pid));
    await sleep(400);
  }
  // the page as a browser loads it, then its stream, live for a while (the sim board's readings change every second)
  for (const f of ['/', '/assets/app.js', '/assets/style.css', '/assets/uPlot.iife.min.js', '/assets/uPlot.min.css', '/api/v1/agents/installed']) await get(addr, f, token);
  const page = await streamClient(addr, token, () => undefined);
  await sleep(8000);
  const during: number[] = [];
  for (let i = 0; i < 5; i++) {
    during.push(rssOf(pid));
    await sleep(400);
  }
  page.destroy();
  const base = median(before) / MB;
  add('daemon RSS with the status page open and SSE streaming vs without (ceiling: +10 MB)', median(during) / MB, 'MB', base, null, Math.round((base + 10) * 100) / 100);

  // fan-out: one event to N clients, timed from the emit call until every client has it
  const fanout = async (n: number): Promise<number> => {
    const waiting = new Map<number, { left: number; done: () => void }>();
    const clients = await Promise.all(
      Array.from({ length: n }, () =>
        streamClient(addr, token, (k) => {
          const w = waiting.get(k);
          if (w && --w.left === 0) w.done();
        }),
      ),
    );
    await sleep(500);
    const xs: number[] = [];
    for (let k = 0; k < 100; k++) {
      const t0 = performance.now();
      const all = new Promise<void>((done) => waiting.set(k, { left: n, done }));
      await client.call('events.emit', { type: 'bench:fanout', data: { n: k } });
      await all;
      xs.push(performance.now() - t0);
    }
    clients.forEach((c) => c.destroy());
    await sleep(300);
    return median(xs);
  };
  const one = await fanout(1);
  const fifty = await fanout(50);
  // no budget in the issue: the 50 readers share this bench's one process, so their parsing is in the figure too
  add('SSE fan-out of one event to 50 clients vs to 1 client (emit to last delivery)', fifty, 'ms', one, null);

  client.close();
  daemon.proc.kill('SIGTERM');
  await new Promise((r) => daemon.proc.once('exit', r));
}
