/**
 * Who keeps a connection when the HTTP caps are reached (runtime/http/gate.ts), on real sockets:
 * the newcomer is always admitted, and the anonymous connection closed for it is the one already
 * closing, then the least recently active idle one (never-sent, slow headers, keep-alive), then
 * the oldest busy one (a stream). Connections a request with the token came on are never closed
 * for anonymous ones; only when every slot of http.connectionCeiling has the token is a newcomer
 * refused 503. A new connection has GRACE_MS to send its request before it can be closed under the
 * anonymous caps (the order tests set it to 0), so a burst is served whole.
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpLimits } from '../../../../runtime/http/limits';
import type { HttpServer } from '../../../../runtime/http/server';
import { closeAll, postHead, rawClient, type RawClient, waitClosed } from '../../../helpers/raw-http';
import { type StatusServer, statusServer } from '../../../helpers/status-server';
import { waitFor } from '../../../helpers/tmp';

const TOKEN = 'gate-token-0123456789abcdef';
let running: StatusServer | undefined;
let server: HttpServer;
let addr = '';

async function serve(limits: Partial<HttpLimits>, grace?: number): Promise<void> {
  running = await statusServer(TOKEN, limits, grace);
  server = running.server;
  addr = running.addr;
}

const get = (url: string, withToken = false): string => `GET ${url} HTTP/1.1\r\nHost: ${addr}\r\n${withToken ? `Authorization: Bearer ${TOKEN}\r\n` : ''}\r\n`;

/** a keep-alive connection that has had one answer (with the token or without) and stays open */
async function keepAlive(from: string, withToken: boolean): Promise<RawClient> {
  const c = await rawClient(addr, get('/api/v1/daemon/status', withToken), from);
  await waitFor('its answer', () => /\r\n\r\n\{.*\}$/s.test(c.received()) || undefined);
  return c;
}

/** the responses a connection has had (a status line each) */
const answers = (c: RawClient): number => c.received().match(/HTTP\/1\.1 \d{3} /g)?.length ?? 0;

afterEach(async () => {
  closeAll();
  await running?.stop();
  running = undefined;
});

describe('the eviction order', () => {
  it('at an address cap: the least recently active idle connection first (never-sent, slow headers, keep-alive), then the oldest busy one; one with the token never', async () => {
    await serve({ maxConnectionsPerClient: 4, maxConnections: 64, headersTimeoutMs: 60_000 }, 0);
    const from = '127.0.0.2';
    const authed = await keepAlive(from, true);
    const silent = await rawClient(addr, '', from);
    const slowHeaders = await rawClient(addr, `GET /healthz HTTP/1.1\r\nHost: ${addr}\r\nX-Slow: `, from);
    const stream = await rawClient(addr, get('/api/v1/stream'), from);
    await waitFor('the anonymous stream open', () => stream.received().includes('event: dashboard'));
    const idleKeepAlive = await keepAlive(from, false);
    // four without the token, one with it: the address is at its cap, nothing closed yet
    expect(server.gate.openAnonymous).toBe(4);
    expect([authed, silent, slowHeaders, stream, idleKeepAlive].some((c) => c.closed())).toBe(false);

    const expectOrder = async (victim: RawClient, survivors: RawClient[]): Promise<RawClient> => {
      const newcomer = await rawClient(addr, get('/healthz'), from);
      await waitClosed('the next in line closed', [victim]);
      await waitFor('the newcomer served', () => newcomer.status());
      expect(newcomer.status()).toBe(200);
      expect(survivors.some((c) => c.closed())).toBe(false);
      return newcomer;
    };
    const n1 = await expectOrder(silent, [authed, slowHeaders, stream, idleKeepAlive]);
    expect([silent.status(), silent.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    expect(silent.received()).toContain('http.maxConnectionsPerClient');
    const n2 = await expectOrder(slowHeaders, [authed, stream, idleKeepAlive, n1]);
    expect([slowHeaders.status(), slowHeaders.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    // the keep-alive goes before the two newcomers, which were active after it; it is closed without a word
    const n3 = await expectOrder(idleKeepAlive, [authed, stream, n1, n2]);
    expect(answers(idleKeepAlive)).toBe(1);
    // the newcomers, now idle keep-alives, go before the busy stream, least recently active first
    const n4 = await expectOrder(n1, [authed, stream, n2, n3]);
    expect(answers(n1)).toBe(1);
    // three more streams, each closing the least recently active idle one: the address then holds busy streams only
    for (const idle of [n2, n3, n4]) {
      const s = await rawClient(addr, get('/api/v1/stream'), from);
      await waitClosed('the next idle one closed for a stream', [idle]);
      await waitFor('the stream open', () => s.received().includes('event: dashboard'));
    }
    expect(stream.closed()).toBe(false);
    // now the oldest busy one, the first stream, is cut for the newcomer
    await expectOrder(stream, [authed]);
    expect(stream.received()).toContain('event: dashboard');
    // the connection with the token outlived it all, and is still served
    expect(authed.closed()).toBe(false);
    authed.socket.write(get('/healthz', true));
    await waitFor('its second answer', () => answers(authed) === 2 || undefined);
    expect(server.gate.evictions.perClient).toBe(8);
  });

  it('at http.maxConnections, over every address: the least recently active anonymous connection anywhere; connections with the token are not counted', async () => {
    await serve({ maxConnectionsPerClient: 8, maxConnections: 3, connectionCeiling: 16 }, 0);
    const authed = [await keepAlive('127.0.0.2', true), await keepAlive('127.0.0.3', true)];
    const anon = [await rawClient(addr, '', '127.0.0.4'), await rawClient(addr, '', '127.0.0.5'), await rawClient(addr, '', '127.0.0.4')];
    await waitFor('five open, three without the token', () => server.gate.open === 5 && server.gate.openAnonymous === 3);
    const newcomer = await rawClient(addr, get('/healthz'), '127.0.0.6');
    await waitClosed('the oldest anonymous connection, on another address', [anon[0] as RawClient]);
    expect([anon[0]?.status(), anon[0]?.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    expect(anon[0]?.received()).toContain('http.maxConnections');
    await waitFor('the newcomer served', () => newcomer.status());
    expect(newcomer.status()).toBe(200);
    expect([...authed, anon[1], anon[2]].some((c) => c?.closed())).toBe(false);
    expect(server.gate.evictions.total).toBe(1);
  });

  it('at http.connectionCeiling: anonymous connections make room; when all have the token, the newcomer is refused 503 until one closes', async () => {
    await serve({ maxConnectionsPerClient: 8, maxConnections: 3, connectionCeiling: 4 }, 0);
    const authed = [await keepAlive('127.0.0.2', true), await keepAlive('127.0.0.2', true), await keepAlive('127.0.0.3', true)];
    const anon = await rawClient(addr, '', '127.0.0.4');
    await waitFor('four open', () => server.gate.open === 4);
    // the ceiling: the anonymous one is closed for the newcomer, which sends the token and stays
    const fourth = await keepAlive('127.0.0.5', true);
    await waitClosed('the anonymous connection closed at the ceiling', [anon]);
    expect(anon.code()).toBe('OSZ_E_HTTP_BUSY');
    expect(server.gate.evictions.ceiling).toBe(1);
    // four connections, all with the token: a fifth is refused, and they all stay
    const refused = await rawClient(addr, get('/healthz'), '127.0.0.6');
    await waitClosed('the newcomer refused', [refused]);
    expect([refused.status(), refused.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    expect(refused.received()).toContain('http.connectionCeiling');
    expect([...authed, fourth].some((c) => c.closed())).toBe(false);
    expect(server.gate.refusals.ceiling).toBe(1);
    authed[0]?.socket.destroy();
    await waitFor('the slot freed', () => server.gate.open === 3);
    const again = await rawClient(addr, get('/healthz'), '127.0.0.6');
    await waitFor('served again', () => again.status());
    expect(again.status()).toBe(200);
  });
});

describe('what the one closed is told', () => {
  it('a request whose answer has not started (its body still coming) is answered 503 in its place, and the handler\'s later answer goes nowhere', async () => {
    await serve({ maxConnectionsPerClient: 1 }, 0);
    const busy = await rawClient(addr, postHead(addr, '/api/v1/rules/test', { length: 1000 }) + '{"event":', '127.0.0.2');
    await waitFor('its request in progress', () => server.gate.serving === 1 || undefined);
    const newcomer = await rawClient(addr, get('/healthz'), '127.0.0.2');
    await waitFor('the newcomer served', () => newcomer.status());
    await waitClosed('the busy one closed', [busy]);
    expect([busy.status(), busy.code(), answers(busy)]).toEqual([503, 'OSZ_E_HTTP_BUSY', 1]);
    expect(newcomer.status()).toBe(200);
  });
});

describe('the grace of a new connection', () => {
  it('a burst of 24 requests with the token, and 24 without, from one address capped at 4: every one is served', async () => {
    await serve({ maxConnectionsPerClient: 4, maxConnections: 8 });
    for (const withToken of [true, false]) {
      const burst = await Promise.all(Array.from({ length: 24 }, () => rawClient(addr, get('/api/v1/daemon/status', withToken), '127.0.0.2')));
      await waitFor('an answer on each', () => burst.every((c) => c.status() !== undefined) || undefined);
      expect(new Set(burst.map((c) => c.status()))).toEqual(new Set([200]));
      // the keep-alives left over the cap are trimmed afterwards, silently: nobody was told 503
      await waitFor('the address back at its cap', () => server.gate.openAnonymous <= 4 || undefined);
      expect(burst.some((c) => c.received().includes('OSZ_E_HTTP_BUSY'))).toBe(false);
    }
  });

  it('connections that came in over the cap during the grace are trimmed once it has passed, the least recently active first', async () => {
    await serve({ maxConnectionsPerClient: 4, maxConnections: 8, headersTimeoutMs: 60_000 });
    const idle: RawClient[] = [];
    for (let i = 0; i < 6; i++) idle.push(await rawClient(addr, '', '127.0.0.2'));
    await waitClosed('the two oldest closed', idle.slice(0, 2));
    expect(idle.slice(0, 2).map((c) => c.code())).toEqual(['OSZ_E_HTTP_BUSY', 'OSZ_E_HTTP_BUSY']);
    expect(idle.slice(2).some((c) => c.closed())).toBe(false);
    await waitFor('four left', () => server.gate.open === 4 || undefined);
  });
});

describe('vouching', () => {
  it('a wrong token does not vouch for a connection: it stays anonymous and is closed for a newcomer', async () => {
    await serve({ maxConnectionsPerClient: 1 }, 0);
    const wrong = await rawClient(addr, `GET /api/v1/daemon/status HTTP/1.1\r\nHost: ${addr}\r\nAuthorization: Bearer not-the-token\r\n\r\n`, '127.0.0.2');
    await waitFor('its 401', () => wrong.status());
    expect(wrong.status()).toBe(401);
    const next = await rawClient(addr, get('/healthz'), '127.0.0.2');
    await waitClosed('the connection with the wrong token closed', [wrong]);
    await waitFor('the newcomer served', () => next.status());
    expect(next.status()).toBe(200);
  });

  it('an injected request (no socket of the gate) is answered as before', async () => {
    await serve({});
    const res = await new Promise<number>((resolve) => {
      const [host, port] = addr.split(':');
      http.get({ host, port: Number(port), path: '/api/v1/daemon/status', agent: false, headers: { host: addr, authorization: `Bearer ${TOKEN}` } }, (r) => {
        r.resume();
        resolve(r.statusCode ?? 0);
      });
    });
    expect(res).toBe(200);
    await waitFor('the connection counted with the token, then gone', () => server.gate.openAnonymous === 0);
  });
});
