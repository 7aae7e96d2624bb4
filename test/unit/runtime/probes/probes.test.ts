/** Probes against real local servers: down after failAfter failures, up once after, no flapping noise. */
import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { configSchema, type ProbeConfig } from '../../../../runtime/config/schema';
import { Probes } from '../../../../runtime/probes/probes';
import { SysRoot } from '../../../../hal/platform/root';
import { FIXTURES } from '../../../helpers/tmp';

const closers: Array<() => void> = [];
afterEach(() => closers.splice(0).forEach((c) => c()));

const probe = (p: Record<string, unknown>): ProbeConfig => configSchema.parse({ probes: [{ name: 'p', ...p }] }).probes[0] as ProbeConfig;

function harness(p: ProbeConfig, running: Record<string, number> = {}, root = new SysRoot('/')): { probes: Probes; events: Array<{ type: string; data: Record<string, unknown> }> } {
  const events: Array<{ type: string; data: Record<string, unknown> }> = [];
  const probes = new Probes([p], { root, running: (a) => running[a] ?? 0 }, (type, data) => void events.push({ type, data }));
  closers.push(() => probes.stop());
  return { probes, events };
}

describe('probes', () => {
  it('tcp: down after failAfter failures in a row, once; up at the first success after', async () => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as net.AddressInfo).port;
    const p = probe({ kind: 'tcp', host: '127.0.0.1', port, failAfter: 2, timeoutMs: 500 });
    const { probes, events } = harness(p);
    await probes.run(p);
    expect(events).toEqual([]);
    await new Promise<void>((r) => server.close(() => r()));
    await probes.run(p);
    expect(events).toEqual([]);
    await probes.run(p);
    await probes.run(p);
    expect(events).toEqual([{ type: 'alert:server_down', data: { probe: 'p', target: `127.0.0.1:${port}`, error: expect.stringContaining('ECONNREFUSED') as unknown, failures: 2 } }]);
    const again = net.createServer((s) => s.end());
    await new Promise<void>((r) => again.listen(port, '127.0.0.1', r));
    closers.push(() => again.close());
    await probes.run(p);
    expect(events.at(-1)).toEqual({ type: 'alert:server_up', data: { probe: 'p', target: `127.0.0.1:${port}` } });
    expect(probes.list()[0]).toMatchObject({ state: 'up', failures: 0 });
  });

  it('http: a status of 400 or more, or no answer in time, is down', async () => {
    let status = 200;
    let hang = false;
    const server = http.createServer((_q, res) => {
      if (!hang) res.writeHead(status).end();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    closers.push(() => server.closeAllConnections());
    closers.push(() => server.close());
    const port = (server.address() as net.AddressInfo).port;
    const p = probe({ kind: 'http', url: `http://127.0.0.1:${port}/health`, failAfter: 1, timeoutMs: 200 });
    const { probes, events } = harness(p);
    await probes.run(p);
    status = 503;
    await probes.run(p);
    expect(events.at(-1)).toMatchObject({ type: 'alert:server_down', data: { error: 'HTTP 503' } });
    status = 204;
    await probes.run(p);
    hang = true;
    await probes.run(p);
    expect(events.map((e) => e.type)).toEqual(['alert:server_down', 'alert:server_up', 'alert:server_down']);
    expect(events.at(-1)?.data.error).toBe('no answer within 200 ms');
  });

  it('agent, temperature and disk probes raise their own alerts', async () => {
    const a = probe({ kind: 'agent', agent: 'pump-ctl', failAfter: 1 });
    const running: Record<string, number> = { 'pump-ctl': 1 };
    const h = harness(a, running);
    await h.probes.run(a);
    running['pump-ctl'] = 0;
    await h.probes.run(a);
    expect(h.events).toEqual([{ type: 'alert:agent_down', data: { probe: 'p', target: 'pump-ctl', error: 'agent pump-ctl has no running instance', failures: 1 } }]);
    const t = probe({ kind: 'temperature', maxC: 40, failAfter: 1 });
    const hot = harness(t, {}, new SysRoot(`${FIXTURES}/boards/pi4`));
    await hot.probes.run(t);
    expect(hot.events[0]).toMatchObject({ type: 'alert:overheat', data: { error: expect.stringMatching(/^SoC at [\d.]+ °C, over 40 °C$/) as unknown } });
    const d = probe({ kind: 'disk', path: '/', minFreePercent: 100, failAfter: 1 });
    const full = harness(d);
    await full.probes.run(d);
    expect(full.events[0]).toMatchObject({ type: 'alert:disk_low', data: { target: '/' } });
  });

  it('refuses probe configs that do not say what to check', () => {
    expect(() => probe({ kind: 'tcp', host: 'db' })).toThrow(/port/);
    expect(() => probe({ kind: 'http', url: 'file:///etc/passwd' })).toThrow();
    expect(() => probe({ kind: 'smtp' })).toThrow();
    expect(() => probe({ kind: 'tcp', host: 'db', port: 5432, extra: 1 })).toThrow(/extra/);
  });
});
