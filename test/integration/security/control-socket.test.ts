/**
 * The control socket against hostile local clients, on the real daemon with its shipped limits
 * (control.maxReplyBufferBytes 4 MiB, maxUnauthenticated 8, maxConnections 64) and the real CLI.
 * Only authTimeoutMs is raised, so the idle connections are surely still held while the CLI,
 * a fresh Node process, starts up on a slow board.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped } from '../../helpers/shipped';
import { waitFor } from '../../helpers/tmp';

const AUTH_TIMEOUT_MS = 15_000;
let d: RunningDaemon;
const opened: net.Socket[] = [];

interface Raw {
  sock: net.Socket;
  lines: Array<Record<string, unknown>>;
  send(text: string): void;
  next(): Promise<Record<string, unknown>>;
  closed: Promise<void>;
  isClosed(): boolean;
}

function raw(): Raw {
  const sock = net.connect(d.socket);
  opened.push(sock);
  const lines: Array<Record<string, unknown>> = [];
  let buf = '';
  let closed = false;
  sock.on('data', (c) => {
    buf += String(c);
    let i;
    while ((i = buf.indexOf('\n')) >= 0) {
      lines.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
      buf = buf.slice(i + 1);
    }
  });
  sock.on('error', () => undefined);
  let read = 0;
  return {
    sock,
    lines,
    send: (text) => void sock.write(text),
    next: () => waitFor('socket reply', () => (read < lines.length ? lines[read++] : undefined), 30_000, 5),
    closed: new Promise((resolve) =>
      sock.on('close', () => {
        closed = true;
        resolve();
      }),
    ),
    isClosed: () => closed,
  };
}

const token = (): string => fs.readFileSync(path.join(path.dirname(d.socket), 'control.token'), 'utf8').trim();
const codeOf = (m: Record<string, unknown> | undefined): string | undefined => (m?.error as { data?: { code?: string } } | undefined)?.data?.code;
const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${d.proc.pid ?? 0}/status`, 'utf8'))?.[1] ?? 0) * 1024;

async function authed(): Promise<Raw> {
  const s = raw();
  s.send(`{"jsonrpc":"2.0","id":"auth","method":"auth","params":{"token":"${token()}"}}\n`);
  expect((await s.next()).result).toMatchObject({ ok: true });
  return s;
}

describeShipped('control socket under hostile clients', () => {
  beforeAll(async () => {
    d = await startDaemon({ asShipped: true, config: { control: { authTimeoutMs: AUTH_TIMEOUT_MS } } });
  });
  afterAll(async () => {
    opened.forEach((s) => s.destroy());
    if (d) expect(await d.stop()).toBe(0);
  });

  it('bounds the daemon when a client writes MiBs of requests and never reads, cuts it off, and the CLI keeps working', async () => {
    expect((await d.cli(['status'])).code).toBe(0);
    const before = rss();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rss())), 20);
    try {
      const hog = await authed();
      hog.sock.pause();
      // 16 MiB of `x\n`: 8 million parse-error replies if the daemon answered them all
      const chunk = Buffer.from('x\n'.repeat(32 * 1024));
      let sent = 0;
      const writing = (async () => {
        while (sent < 16 * 1024 * 1024 && !hog.isClosed()) {
          sent += chunk.length;
          if (!hog.sock.write(chunk)) await new Promise((r) => hog.sock.once('drain', r).once('close', r));
        }
      })();
      // the daemon stopped reading the hog: our writes back up
      await waitFor('the hog blocked', () => hog.sock.writableLength > 0 || hog.isClosed(), 60_000);
      const status = await d.cli(['status']);
      expect(status.code).toBe(0);
      expect((await fetch(`http://${d.http}/healthz`)).status).toBe(200);
      // stayed over its buffer past the stall limit: cut off
      await hog.closed;
      await writing;
      expect(sent).toBeLessThan(16 * 1024 * 1024);
    } finally {
      clearInterval(sampler);
    }
    // before the fix 3 MiB of requests took the daemon from 132 to 749 MB
    expect(peak - before).toBeLessThan(64 * 1024 * 1024);
    await waitFor('the cut-off logged', () => d.output.some((l) => l.includes('cut off: replies unread')));
    expect((await d.cli(['ps'])).code).toBe(0);
  });

  it('lets openstarryctl status through 64 idle unauthenticated connections, and closes those after the deadline', async () => {
    const idle = Array.from({ length: 64 }, () => raw());
    await Promise.all(idle.map((s) => new Promise((r) => (s.sock.readyState === 'open' ? r(null) : s.sock.once('connect', r).once('close', r)))));
    const status = await d.cli(['status']);
    expect(status.code).toBe(0);
    // the idle ones still held when the CLI got in (the deadline had not passed)
    expect(idle.filter((s) => !s.isClosed()).length).toBeGreaterThan(0);
    await Promise.all(idle.map((s) => s.closed));
    // each was told why before the close: room made for a newer one, or no auth in time
    const codes = idle.map((s) => codeOf(s.lines[0]));
    expect(codes.filter((c) => c === 'OSZ_E_DAEMON_BUSY').length).toBeGreaterThanOrEqual(56);
    expect(codes.filter((c) => c === 'OSZ_E_UNAUTHORIZED').length).toBeGreaterThan(0);
    expect(codes.every((c) => c === 'OSZ_E_DAEMON_BUSY' || c === 'OSZ_E_UNAUTHORIZED')).toBe(true);
    const late = idle.find((s) => codeOf(s.lines[0]) === 'OSZ_E_UNAUTHORIZED')?.lines[0]?.error as { message?: string } | undefined;
    expect(late?.message).toContain('control.authTimeoutMs');
  });

  it('answers 5,000-deep JSON with OSZ_E_TOO_DEEP, and the next request on the connection works', async () => {
    const s = await authed();
    const deep = '['.repeat(5000) + ']'.repeat(5000);
    s.send(`{"jsonrpc":"2.0","id":1,"method":"agents.list","params":{"x":${deep}}}\n`);
    const refused = await s.next();
    expect(refused).toMatchObject({ id: 1, error: { data: { code: 'OSZ_E_TOO_DEEP' } } });
    s.send('{"jsonrpc":"2.0","id":2,"method":"agents.list"}\n');
    const next = await s.next();
    expect(next.id).toBe(2);
    expect(next.error).toBeUndefined();
    s.sock.destroy();
  });
});
