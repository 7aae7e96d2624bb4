/**
 * Every route of the daemon's HTTP server, injected without a socket (light-my-request): REST for
 * every operation of the table, auth failures, bad bodies, unknown agents, the SSE stream, /healthz,
 * /metrics (parsed with a Prometheus text parser), the page and its assets, and a foreign Host.
 */
import path from 'node:path';
import { inject } from 'light-my-request';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../runtime/bus/bus';
import { OPERATIONS } from '../../../../runtime/control/ops/index';
import { ControlPlane } from '../../../../runtime/control/plane';
import type { ControlServices, SubsystemHealth } from '../../../../runtime/control/services';
import type { Dashboard, Section } from '../../../../runtime/dashboard/model';
import type { Projector } from '../../../../runtime/dashboard/projector';
import { OszError } from '../../../../runtime/errors';
import { registerHealth } from '../../../../runtime/http/health';
import { MAX_REST_BODY } from '../../../../runtime/http/rest';
import { registerStatusRoutes } from '../../../../runtime/http/routes';
import { HttpServer } from '../../../../runtime/http/server';
import { MAX_STREAM_CLIENTS, type SseHub, type StreamOptions } from '../../../../runtime/http/stream';
import { memoryLogger } from '../../../../runtime/log';
import { createStore, type Store } from '../../../../runtime/store/store';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const TOKEN = 'test-token-0123456789abcdef';
const HOST = { host: '127.0.0.1:8470' };
const AUTH = { ...HOST, authorization: `Bearer ${TOKEN}` };

let store: Store;
let server: HttpServer;
let hub: SseHub;
let bus: EventBus;
let health: SubsystemHealth[];
let watchers: Array<(changed: readonly Section[]) => void>;
let model: Dashboard;
const spawned: string[] = [];

function agentsSection(snapshot: unknown): Section<'agents'> {
  return { name: 'agents', v: 1, rev: 3, at: 1000, value: { instances: [{ instance: 'thermo-1', agent: 'thermo', driver: 'wasm', state: 'running', restarts: 2, uptimeMs: 5000, cpuPercent: 1.5, rssBytes: 8 << 20, reason: null, tokens: 42, snapshot, snapshotAt: 900 }] } };
}

beforeEach(() => {
  store = createStore(path.join(tmpDir(), 'db'), memoryLogger(), { keepEvents: 10 });
  bus = new EventBus(memoryLogger());
  health = [{ name: 'store', state: 'ok' }];
  watchers = [];
  model = {
    device: { name: 'device', v: 1, rev: 1, at: 1000, value: { id: 'gh-1', board: 'sim', version: '0.1.0', node: 'v20', startedAt: 500 } },
    agents: agentsSection({ setpoint: 21 }),
    hal: { name: 'hal', v: 1, rev: 1, at: 1000, value: { board: 'sim', devices: [{ id: 'climate', kind: 'sensor', status: 'ok', channels: { t: { value: 21.5, unit: '°C', ts: 1 } } }] } },
    fleet: { name: 'fleet', v: 1, rev: 1, at: 1000, value: { state: 'offline', broker: 'mqtt://x', outbox: 7 } },
  };
  const projector = { get: (sections?: readonly string[]) => Object.fromEntries(Object.entries(model).filter(([k]) => !sections || sections.includes(k))) as Dashboard, watch: (fn: (c: readonly Section[]) => void) => (watchers.push(fn), () => (watchers = watchers.filter((w) => w !== fn))) } as unknown as Projector;
  const supervisor = {
    spawn: (agent: string) => {
      if (!store.agents.get(agent)) return Promise.reject(new OszError('OSZ_E_NO_SUCH_AGENT', `no agent "${agent}" is installed`));
      spawned.push(agent);
      return Promise.resolve({ instance: `${agent}-1`, state: 'starting' });
    },
    list: () => [],
    logLines: (target: string) => {
      throw new OszError('OSZ_E_NO_SUCH_INSTANCE', `no instance or agent "${target}"`);
    },
  };
  const services = { store, bus, supervisor, log: memoryLogger(), info: () => ({ version: 'test' }), health: () => health, dashboard: projector } as unknown as ControlServices;
  plane = new ControlPlane(OPERATIONS, services);
  mount(projector);
});

/** the server and its routes, with what a request without the token gets (http.anonymous*) */
function mount(projector: Projector, anonymous?: StreamOptions): void {
  server = new HttpServer({ listen: '127.0.0.1:8470', allowedHosts: ['gh-1.local'] }, memoryLogger());
  registerHealth(server, () => health, '0.1.0');
  hub = registerStatusRoutes(server, {
    plane,
    bus,
    token: () => TOKEN,
    dashboard: () => projector,
    rules: () => [{ id: 'cool', matched: 5, fired: 3, evalErrors: 1, running: 0 }],
    hal: () => [{ deviceId: 'climate', reads: 10, errors: 2 }],
    ...(anonymous ? { anonymous } : {}),
  });
  currentProjector = projector;
}
let plane: ControlPlane;
let currentProjector: Projector;

afterEach(() => {
  hub.close();
  store.close();
});

const call = (method: 'GET' | 'POST' | 'PUT' | 'DELETE', url: string, o: { headers?: Record<string, string>; payload?: string | Buffer } = {}) => inject(server.handle, { method, url, headers: { ...HOST, ...(o.payload !== undefined ? { 'content-type': 'application/json' } : {}), ...o.headers }, ...(o.payload !== undefined ? { payload: o.payload } : {}) });
const errorOf = (body: string): string | undefined => (JSON.parse(body) as { error?: { code: string } }).error?.code;

describe('REST over the operation table', () => {
  it('routes every operation at /api/v1/<area>/<verb>, validating params, with the role the token gives', async () => {
    for (const op of OPERATIONS) {
      const url = `/api/v1/${op.name.replace('.', '/')}`;
      const bad = JSON.stringify({ notAParam: 1 });
      const open = await call('POST', url, { payload: bad });
      // without the token a caller is a viewer: viewer operations get as far as their params; the
      // rest, and the event log (http.anonymousEvents is off), are refused 401 from the headers
      if (op.role === 'viewer' && op.name !== 'events.tail') expect([op.name, open.statusCode, errorOf(open.body)]).toEqual([op.name, 400, 'OSZ_E_INVALID_PARAMS']);
      else expect([op.name, open.statusCode, errorOf(open.body)]).toEqual([op.name, 401, 'OSZ_E_UNAUTHORIZED']);
      const authed = await call('POST', url, { payload: bad, headers: AUTH });
      expect([op.name, authed.statusCode, errorOf(authed.body)]).toEqual([op.name, 400, 'OSZ_E_INVALID_PARAMS']);
      // GET calls only what changes nothing
      if (op.mutating) expect([op.name, (await call('GET', url, { headers: AUTH })).statusCode]).toEqual([op.name, 405]);
    }
  });

  it('answers GET with typed query parameters, and POST with a JSON body', async () => {
    const list = await call('GET', '/api/v1/agents/list?all=true');
    expect(list.statusCode).toBe(200);
    expect(JSON.parse(list.body)).toEqual([]);
    const logs = await call('GET', '/api/v1/agents/logs?target=nobody&lines=5', { headers: AUTH });
    expect([logs.statusCode, errorOf(logs.body)]).toEqual([404, 'OSZ_E_NO_SUCH_INSTANCE']);
    expect((await call('GET', '/api/v1/agents/logs?target=nobody&lines=many', { headers: AUTH })).statusCode).toBe(400);
    const ping = await call('POST', '/api/v1/daemon/ping', { payload: '' });
    expect(JSON.parse(ping.body)).toMatchObject({ pong: true });
    expect(JSON.parse((await call('GET', '/api/v1/daemon/ping')).body)).toMatchObject({ pong: true });
  });

  it('refuses unknown agents, unknown operations, and other methods, with codes', async () => {
    const spawn = await call('POST', '/api/v1/agents/spawn', { payload: JSON.stringify({ agent: 'nope' }), headers: AUTH });
    expect([spawn.statusCode, errorOf(spawn.body)]).toEqual([404, 'OSZ_E_NO_SUCH_AGENT']);
    expect(spawned).toEqual([]);
    for (const url of ['/api/v1/agents/explode', '/api/v1/nothing', '/api/v1/', '/api/v1/agents/list/extra', '/api/v1/../../etc/passwd']) {
      const r = await call('GET', url);
      expect([url, r.statusCode, errorOf(r.body)]).toEqual([url, 404, 'OSZ_E_UNKNOWN_OPERATION']);
    }
    expect((await call('PUT', '/api/v1/agents/list', { payload: '{}' })).statusCode).toBe(405);
    expect((await call('DELETE', '/api/v1/agents/list')).statusCode).toBe(405);
  });

  it('refuses a wrong token outright (and audits it), never takes a token from the URL', async () => {
    for (const authorization of [`Bearer ${TOKEN}x`, 'Bearer ', `Basic ${TOKEN}`, `Bearer ${'A'.repeat(600)}`, 'Bearer a b']) {
      const r = await call('POST', '/api/v1/agents/list', { payload: '{}', headers: { authorization } });
      expect([authorization.slice(0, 20), r.statusCode, errorOf(r.body)]).toEqual([authorization.slice(0, 20), 401, 'OSZ_E_UNAUTHORIZED']);
    }
    expect(store.audit.recent(10).some((a) => a.outcome === 'denied' && a.errorCode === 'OSZ_E_UNAUTHORIZED')).toBe(true);
    const inUrl = await call('POST', `/api/v1/agents/spawn?token=${TOKEN}&access_token=${TOKEN}`, { payload: JSON.stringify({ agent: 'x' }) });
    expect([inUrl.statusCode, errorOf(inUrl.body)]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
    expect(spawned).toEqual([]);
  });

  it('validates request bodies: JSON only, capped, hostile input answered with a code', async () => {
    const url = '/api/v1/agents/spawn';
    const notJson = await call('POST', url, { payload: '{"agent": ', headers: AUTH });
    expect([notJson.statusCode, errorOf(notJson.body)]).toEqual([400, 'OSZ_E_INVALID_PARAMS']);
    const form = await inject(server.handle, { method: 'POST', url, headers: { ...AUTH, 'content-type': 'application/x-www-form-urlencoded' }, payload: 'agent=x' });
    expect(form.statusCode).toBe(415);
    const huge = await call('POST', url, { payload: Buffer.alloc(MAX_REST_BODY + 10, 0x20), headers: AUTH });
    expect([huge.statusCode, errorOf(huge.body)]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
    for (const payload of ['[]', 'null', '"x"', '12', JSON.stringify({ agent: 'x'.repeat(300) }), JSON.stringify({ agent: 'a', env: { PATH: '/evil' } }), '{"__proto__": {"role": "admin"}}']) {
      const r = await call('POST', url, { payload, headers: AUTH });
      // refused with a code: by the schema (400), or as an agent that is not installed (404)
      expect([payload.slice(0, 30), r.statusCode >= 400 && r.statusCode < 500, errorOf(r.body)?.startsWith('OSZ_E_')]).toEqual([payload.slice(0, 30), true, true]);
    }
    expect(spawned).toEqual([]);
  });

  it('leaves agents\' snapshots out of the dashboard without the token', async () => {
    const open = JSON.parse((await call('GET', '/api/v1/dashboard/get')).body) as Dashboard;
    expect(open.agents?.value.instances[0]).toMatchObject({ instance: 'thermo-1', snapshot: null, snapshotAt: null });
    const authed = JSON.parse((await call('GET', '/api/v1/dashboard/get', { headers: AUTH })).body) as Dashboard;
    expect(authed.agents?.value.instances[0]?.snapshot).toEqual({ setpoint: 21 });
    const some = JSON.parse((await call('GET', '/api/v1/dashboard/get?sections=device,hal')).body) as Dashboard;
    expect(Object.keys(some).sort()).toEqual(['device', 'hal']);
  });
});

describe('the stream', () => {
  const open = (headers: Record<string, string> = {}) => inject(server.handle, { method: 'GET', url: '/api/v1/stream', headers: { ...HOST, ...headers } });

  it('sends the dashboard, then changed sections and bus events, snapshots only with the token', async () => {
    const anon = open();
    const authed = open({ authorization: `Bearer ${TOKEN}` });
    await new Promise((r) => setTimeout(r, 20));
    expect(hub.size).toBe(2);
    model.agents = agentsSection({ setpoint: 23 });
    for (const w of watchers) w([model.agents]);
    bus.emit({ type: 'test:hello', source: 'test', data: { n: 1 } });
    hub.close();
    const [a, b] = await Promise.all([anon, authed]);
    expect(a.headers['content-type']).toMatch(/^text\/event-stream/);
    const events = (body: string): Array<{ event: string; data: unknown }> =>
      body
        .split('\n\n')
        .filter((x) => x.includes('data: '))
        .map((x) => ({ event: /event: (\S+)/.exec(x)?.[1] ?? '', data: JSON.parse(/data: (.*)/.exec(x)?.[1] ?? 'null') as unknown }));
    // without the token: no snapshots, and no bus events (http.anonymousEvents is off)
    expect(events(a.body).map((e) => e.event)).toEqual(['dashboard', 'section']);
    expect(events(b.body).map((e) => e.event)).toEqual(['dashboard', 'section', 'event']);
    expect(JSON.stringify(a.body)).not.toContain('setpoint');
    expect(a.body).not.toContain('test:hello');
    expect(events(b.body)[1]?.data).toMatchObject({ name: 'agents', value: { instances: [{ snapshot: { setpoint: 23 } }] } });
    expect(events(b.body)[2]?.data).toMatchObject({ v: 1, type: 'test:hello', data: { n: 1 } });
    // the last client gone, the hub stops listening
    expect(watchers).toEqual([]);
    expect(bus.listenerCount('http:stream')).toBe(0);
  });

  it('with http.anonymousEvents, streams and the event log without the token carry bus events', async () => {
    hub.close();
    mount(currentProjector, { anonymousEvents: true });
    const anon = open();
    await waitFor('the stream open', () => hub.size === 1);
    bus.emit({ type: 'test:open', source: 'test', data: {} });
    hub.close();
    expect((await anon).body).toContain('"type":"test:open"');
    expect((await call('GET', '/api/v1/events/tail?lines=5')).statusCode).toBe(200);
  });

  it('refuses a wrong token; streams without the token have their own small cap and never take a slot with it', async () => {
    const wrong = await open({ authorization: 'Bearer nope' });
    expect([wrong.statusCode, errorOf(wrong.body)]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
    hub.close();
    mount(currentProjector, { anonymousStreams: 2 });
    const held = [open(), open()];
    await waitFor('two anonymous streams', () => hub.anonymousSize === 2);
    // 64 more without the token are all turned away at once...
    const refused = await Promise.all(Array.from({ length: 64 }, () => open()));
    expect(new Set(refused.map((r) => `${r.statusCode} ${errorOf(r.body)}`))).toEqual(new Set(['503 OSZ_E_HTTP_BUSY']));
    expect(refused[0]?.headers.connection).toBe('close');
    // ...while every slot with the token is still free
    const authed = Array.from({ length: MAX_STREAM_CLIENTS }, () => open({ authorization: `Bearer ${TOKEN}` }));
    await waitFor('the authenticated streams', () => hub.size === MAX_STREAM_CLIENTS + 2);
    const extra = await open({ authorization: `Bearer ${TOKEN}` });
    expect([extra.statusCode, errorOf(extra.body)]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    hub.close();
    await Promise.all([...held, ...authed]);
    // none at all without the token: they are told to send it
    mount(currentProjector, { anonymousStreams: 0 });
    const none = await open();
    expect([none.statusCode, errorOf(none.body)]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
  });
});

describe('health, metrics, the page, Host', () => {
  it('/healthz stays 200 while something is only degraded, 503 when the daemon cannot serve', async () => {
    health = [{ name: 'store', state: 'ok' }, { name: 'fleet', state: 'degraded', detail: 'broker offline' }];
    const r = await call('GET', '/healthz');
    expect(r.statusCode).toBe(200);
    expect(JSON.parse(r.body)).toMatchObject({ status: 'degraded', subsystems: [{ name: 'store' }, { name: 'fleet', state: 'degraded' }] });
    health = [{ name: 'store', state: 'down', detail: 'read-only' }];
    expect((await call('GET', '/healthz')).statusCode).toBe(503);
  });

  it('/metrics is Prometheus text that a parser reads', async () => {
    const r = await call('GET', '/metrics');
    expect(r.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const families = new Map(parsePrometheusTextFormat(r.body).map((f) => [f.name, f]));
    expect(families.get('openstarry_agent_tokens_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '42', labels: { instance: 'thermo-1', agent: 'thermo', driver: 'wasm' } }] });
    expect(families.get('openstarry_agent_resident_memory_bytes')?.metrics[0]?.value).toBe(String(8 << 20));
    expect(families.get('openstarry_agent_restarts_total')?.metrics[0]?.value).toBe('2');
    expect(families.get('openstarry_rule_fired_total')?.metrics).toEqual([{ value: '3', labels: { rule: 'cool' } }]);
    expect(families.get('openstarry_hal_read_errors_total')?.metrics).toEqual([{ value: '2', labels: { device: 'climate' } }]);
    expect(families.get('openstarry_fleet_connected')?.metrics).toEqual([{ value: '0', labels: { state: 'offline' } }]);
    expect(families.get('openstarry_fleet_outbox_messages')?.metrics[0]?.value).toBe('7');
    expect(families.get('openstarry_process_resident_memory_bytes')?.type).toBe('GAUGE');
    expect(families.get('openstarry_http_connections')?.metrics).toEqual([{ value: '0' }]);
    expect(families.get('openstarry_http_anonymous_connections')?.metrics).toEqual([{ value: '0' }]);
    expect(families.get('openstarry_http_evicted_connections_total')?.metrics).toEqual([
      { value: '0', labels: { cap: 'per_client' } },
      { value: '0', labels: { cap: 'total' } },
      { value: '0', labels: { cap: 'ceiling' } },
    ]);
    expect(families.get('openstarry_http_refused_connections_total')?.metrics).toEqual([{ value: '0', labels: { cap: 'ceiling' } }]);
    expect(families.get('openstarry_http_stalled_responses_total')?.metrics).toEqual([{ value: '0' }]);
  });

  it('serves the page and its assets with a strict CSP, and nothing else from disk', async () => {
    const page = await call('GET', '/');
    expect(page.statusCode).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    expect(page.headers['content-security-policy']).toContain("script-src 'self'");
    expect(page.headers['x-frame-options']).toBe('DENY');
    expect(page.body).toContain('/assets/app.js');
    for (const f of ['app.js', 'style.css', 'uPlot.iife.min.js', 'uPlot.min.css', 'icon.svg']) expect([f, (await call('GET', `/assets/${f}`)).statusCode]).toEqual([f, 200]);
    for (const f of ['../../package.json', '..%2F..%2Fpackage.json', 'nope.js', '', '/etc/passwd']) expect([f, (await call('GET', `/assets/${f}`)).statusCode]).toEqual([f, 404]);
  });

  it('refuses a foreign Host (DNS rebinding) on every route, and accepts the configured ones', async () => {
    for (const url of ['/', '/api/v1/agents/list', '/api/v1/stream', '/metrics', '/healthz']) {
      const r = await inject(server.handle, { method: 'GET', url, headers: { host: 'evil.example:8470', authorization: `Bearer ${TOKEN}` } });
      expect([url, r.statusCode]).toEqual([url, 421]);
    }
    expect((await inject(server.handle, { method: 'GET', url: '/healthz', headers: { host: 'gh-1.local:8470' } })).statusCode).toBe(200);
    expect((await inject(server.handle, { method: 'GET', url: '/healthz', headers: { host: 'localhost:8470' } })).statusCode).toBe(200);
  });
});
