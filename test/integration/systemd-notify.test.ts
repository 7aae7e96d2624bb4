/**
 * The daemon under a fake systemd: a datagram socket as NOTIFY_SOCKET (what systemd gives a
 * Type=notify unit) receives READY=1 once the daemon serves, WATCHDOG=1 while it runs (WATCHDOG_USEC
 * asks for it), and STOPPING=1 when it is told to stop, in that order.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startDaemon } from '../helpers/daemon';
import { tmpDir, waitFor } from '../helpers/tmp';

const dgram = createRequire(import.meta.url)('unix-dgram') as typeof import('unix-dgram');

describe('sd_notify', () => {
  const dir = tmpDir('osd-notify-');
  const socket = path.join(dir, 'notify');
  const got: string[] = [];
  const server = dgram.createSocket('unix_dgram', (msg) => got.push(msg.toString()));
  server.bind(socket);
  afterAll(() => server.close());

  it('sends READY=1 when serving, WATCHDOG=1 while running, STOPPING=1 on stop', async () => {
    expect(fs.existsSync(socket)).toBe(true);
    const d = await startDaemon({ env: { NOTIFY_SOCKET: socket, WATCHDOG_USEC: '600000' } });
    await waitFor('READY=1', () => got.some((m) => m.startsWith('READY=1')));
    const ready = got.find((m) => m.startsWith('READY=1')) ?? '';
    expect(ready).toContain(`MAINPID=${d.proc.pid ?? 0}`);
    expect(ready).toMatch(/STATUS=serving; http 127\.0\.0\.1:\d+/);
    await waitFor('two watchdog pings', () => got.filter((m) => m === 'WATCHDOG=1').length >= 2, 10_000);
    expect(await d.stop()).toBe(0);
    await waitFor('STOPPING=1', () => got.includes('STOPPING=1'));
    const order = got.filter((m) => m !== 'WATCHDOG=1').map((m) => m.split('\n')[0]);
    expect(order).toEqual(['READY=1', 'STOPPING=1']);
    // no ping before READY
    expect(got.indexOf(ready)).toBeLessThan(got.indexOf('WATCHDOG=1'));
  }, 60_000);

  it('runs normally without NOTIFY_SOCKET (off systemd)', async () => {
    const before = got.length;
    const d = await startDaemon();
    expect(await d.stop()).toBe(0);
    expect(got.length).toBe(before);
  }, 60_000);
});
