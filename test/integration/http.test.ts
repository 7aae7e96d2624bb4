/**
 * The daemon's HTTP server on a real socket: /healthz stays 200 with the fleet broker down and
 * says it is degraded; /metrics parses and shows running agents; REST spawns and kills with the
 * token; SSE delivers the agent's lifecycle events; a foreign Host (DNS rebinding) is refused.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { freePort } from '../helpers/ports';
import { FIXTURES, waitFor } from '../helpers/tmp';

let d: RunningDaemon;
let token = '';

function request(method: string, url: string, o: { body?: unknown; token?: boolean; host?: string } = {}): Promise<{ status: number; body: string; headers: http.IncomingHttpHeaders }> {
  const [hostname, port] = d.http.split(':');
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port: Number(port), method, path: url, headers: { host: o.host ?? d.http, ...(payload ? { 'content-type': 'application/json' } : {}), ...(o.token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, headers: res.headers }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

beforeAll(async () => {
  d = await startDaemon({ config: { fleet: { broker: `mqtt://127.0.0.1:${await freePort()}`, deviceId: 'http-test-1' }, dashboard: { pollMs: 1000 } } });
  token = fs.readFileSync(path.join(path.dirname(d.socket), 'control.token'), 'utf8').trim();
  expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents/devops-agent')])).code).toBe(0);
}, 60_000);

afterAll(() => d?.stop());

describe('HTTP on a real socket', () => {
  it('/healthz stays 200 with the broker down and reports the fleet link degraded', async () => {
    const r = await request('GET', '/healthz');
    expect(r.status).toBe(200);
    const body = JSON.parse(r.body) as { status: string; subsystems: Array<{ name: string; state: string; detail?: string }> };
    expect(body.status).toBe('degraded');
    expect(body.subsystems.find((s) => s.name === 'fleet')).toMatchObject({ state: 'degraded', detail: expect.stringMatching(/^(connecting|offline): mqtt:\/\/127\.0\.0\.1/) as unknown });
  });

  it('spawns and kills over REST with the token, while SSE streams the lifecycle, and /metrics shows the agent', async () => {
    const [hostname, port] = d.http.split(':');
    const events: string[] = [];
    const stream = http.get({ hostname, port: Number(port), path: '/api/v1/stream', headers: { host: d.http, authorization: `Bearer ${token}` } }, (res) => {
      expect(res.headers['content-type']).toMatch(/^text\/event-stream/);
      res.on('data', (c: Buffer) => events.push(c.toString()));
    });
    await waitFor('the dashboard on the stream', () => events.join('').includes('event: dashboard'));
    // without the token, refused from the headers (401), before the body is read
    const anon = await request('POST', '/api/v1/agents/spawn', { body: { agent: 'devops-agent' } });
    expect([anon.status, (JSON.parse(anon.body) as { error: { code: string } }).error.code]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
    const spawn = await request('POST', '/api/v1/agents/spawn', { body: { agent: 'devops-agent' }, token: true });
    expect(spawn.status).toBe(200);
    const { instance } = JSON.parse(spawn.body) as { instance: string };
    await waitFor('agent:started on the stream', () => events.join('').includes(`"type":"agent:started","source":"supervisor"`) && events.join('').includes(instance));
    await waitFor('the agent in /metrics', async () => {
      const m = parsePrometheusTextFormat((await request('GET', '/metrics')).body);
      return m.find((f) => f.name === 'openstarry_agent_up')?.metrics.some((x) => x.labels?.instance === instance && x.value === '1');
    });
    const metrics = new Map(parsePrometheusTextFormat((await request('GET', '/metrics')).body).map((f) => [f.name, f]));
    expect(metrics.get('openstarry_fleet_connected')?.metrics[0]?.value).toBe('0');
    expect(Number(metrics.get('openstarry_hal_reads_total')?.metrics.find((x) => x.labels?.device === 'climate')?.value)).toBeGreaterThan(0);
    const kill = await request('POST', '/api/v1/agents/kill', { body: { instance }, token: true });
    expect(kill.status).toBe(200);
    await waitFor('agent:killed on the stream', () => events.join('').includes('"type":"agent:killed"'));
    stream.destroy();
    const list = JSON.parse((await request('GET', `/api/v1/agents/list?agent=devops-agent&all=true`)).body) as Array<{ instance: string; state: string }>;
    expect(list.find((x) => x.instance === instance)?.state).not.toBe('running');
  });

  it('refuses a DNS-rebinding request (a foreign Host) on the real socket', async () => {
    for (const url of ['/', '/api/v1/agents/list', '/healthz']) {
      const r = await request('GET', url, { host: 'attacker.example' });
      expect([url, r.status]).toEqual([url, 421]);
    }
    const page = await request('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
  });
});
