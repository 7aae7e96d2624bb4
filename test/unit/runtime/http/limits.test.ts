/**
 * The HTTP server's limits on a real socket (issue 16), with hostile raw clients: a POST without
 * the token is refused from its headers and cut off without its body being read; bodies without
 * the token are small; a stalled body and stalled headers are closed at their deadlines; at the
 * connection caps, in total and per client address, the newcomer is served and an older idle
 * connection closed (the order is gate.test.ts's).
 */
import http from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import type { HttpLimits } from '../../../../runtime/http/limits';
import { MAX_ANONYMOUS_BODY } from '../../../../runtime/http/rest';
import type { HttpServer } from '../../../../runtime/http/server';
import { closeAll, postHead, pushBody, rawClient, type RawClient, waitClosed } from '../../../helpers/raw-http';
import { type StatusServer, statusServer } from '../../../helpers/status-server';
import { waitFor } from '../../../helpers/tmp';

const TOKEN = 'limits-token-0123456789abcdef';
let running: StatusServer | undefined;
let server: HttpServer;
let addr = '';

async function serve(limits: Partial<HttpLimits>, grace?: number): Promise<void> {
  running = await statusServer(TOKEN, limits, grace);
  server = running.server;
  addr = running.addr;
}

/** an ordinary request through Node's client, from `from` */
function get(url: string, o: { token?: boolean; from?: string } = {}): Promise<{ status: number; body: string }> {
  const [host, port] = addr.split(':');
  return new Promise((resolve, reject) => {
    http
      .get({ host, port: Number(port), path: url, localAddress: o.from ?? '127.0.0.1', agent: false, headers: { host: addr, ...(o.token ? { authorization: `Bearer ${TOKEN}` } : {}) } }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      })
      .on('error', reject);
  });
}

afterEach(async () => {
  closeAll();
  await running?.stop();
  running = undefined;
});

describe('authentication before the body', () => {
  it('refuses a POST without the token to an operation above viewer from its headers, and closes it with the body unread', async () => {
    await serve({});
    // 2 MB declared, 64 KiB sent, then nothing: a server that read the body first would wait forever
    const c = await rawClient(addr, postHead(addr, '/api/v1/agents/spawn', { length: 2 * 1024 * 1024 }) + ' '.repeat(64 * 1024));
    await waitClosed('the server to close the stalled POST', [c]);
    expect([c.status(), c.code()]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
    expect(c.received()).toMatch(/\r\nConnection: close\r\n/i);
    // one that keeps pushing is cut off as well
    const pusher = await rawClient(addr, postHead(addr, '/api/v1/rules/apply', { length: 64 * 1024 * 1024 }));
    pushBody(pusher, 64 * 1024 * 1024);
    await waitClosed('the server to cut off the pushing POST', [pusher]);
    expect(pusher.status()).toBe(401);
    // requests with no token at all leave no audit rows (a flood would rotate the history away);
    // a wrong token is audited
    const denied = (): number => running!.store.audit.recent(10).filter((a) => a.outcome === 'denied' && a.errorCode === 'OSZ_E_UNAUTHORIZED').length;
    expect(denied()).toBe(0);
    const wrong = await rawClient(addr, postHead(addr, '/api/v1/agents/spawn', { length: 2, token: 'not-the-token' }) + '{}');
    await waitClosed('the wrong token', [wrong]);
    expect(wrong.status()).toBe(401);
    expect(denied()).toBe(1);
  });

  it('caps a body without the token at MAX_ANONYMOUS_BODY, declared or chunked, and takes a large one with the token', async () => {
    await serve({});
    const declared = await rawClient(addr, postHead(addr, '/api/v1/rules/test', { length: MAX_ANONYMOUS_BODY + 1 }));
    await waitClosed('the over-cap declared body', [declared]);
    expect([declared.status(), declared.code()]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
    const chunked = await rawClient(addr, postHead(addr, '/api/v1/rules/test', { extra: 'Transfer-Encoding: chunked' }));
    const chunk = ' '.repeat(16 * 1024);
    for (let i = 0; i < 6; i++) chunked.socket.write(`${chunk.length.toString(16)}\r\n${chunk}\r\n`);
    await waitClosed('the over-cap chunked body', [chunked]);
    expect([chunked.status(), chunked.code()]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
    // the same size with the token is read (and answered by the operation: not a rules file)
    const body = JSON.stringify({ rules: ' '.repeat(MAX_ANONYMOUS_BODY * 2) });
    const authed = await rawClient(addr, postHead(addr, '/api/v1/rules/test', { length: Buffer.byteLength(body), token: TOKEN }) + body);
    await waitFor('an answer to the authenticated body', () => authed.status());
    expect(authed.code()).not.toBe('OSZ_E_REQUEST_TOO_LARGE');
    expect(authed.code()).not.toBe('OSZ_E_UNAUTHORIZED');
  });

  it('closes an authenticated body that stalls past http.bodyTimeoutMs with 408', async () => {
    await serve({ bodyTimeoutMs: 200 });
    const c = await rawClient(addr, postHead(addr, '/api/v1/agents/spawn', { length: 1000, token: TOKEN }) + '{"agent":');
    await waitClosed('the stalled body to be closed', [c]);
    expect([c.status(), c.code()]).toEqual([408, 'OSZ_E_REQUEST_TIMEOUT']);
    expect((await get('/healthz')).status).toBe(200);
  });
});

describe('connection caps and header deadline', () => {
  it('a client over http.maxConnectionsPerClient is served: its address\'s oldest idle connection is answered 503 and closed; other addresses are untouched', async () => {
    await serve({ maxConnectionsPerClient: 3, maxConnections: 16 }, 0);
    // three connections that never send a byte hold the address's slots
    const idle: RawClient[] = [];
    for (let i = 0; i < 3; i++) idle.push(await rawClient(addr, '', '127.0.0.2'));
    const elsewhere = await rawClient(addr, '', '127.0.0.3');
    await waitFor('the idle connections counted', () => server.gate.open === 4);
    expect((await get('/healthz', { from: '127.0.0.2' })).status).toBe(200);
    await waitClosed('the oldest of the address closed', [idle[0] as RawClient]);
    expect([idle[0]?.status(), idle[0]?.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    expect(idle[0]?.received()).toContain('http.maxConnectionsPerClient');
    expect([idle[1], idle[2], elsewhere].some((c) => c?.closed())).toBe(false);
    expect(server.gate.evictions.perClient).toBe(1);
  });

  it('a connection over http.maxConnections is served, never queued: the oldest idle one of any address makes room', async () => {
    await serve({ maxConnectionsPerClient: 2, maxConnections: 4 }, 0);
    const idle: RawClient[] = [];
    for (const from of ['127.0.0.2', '127.0.0.2', '127.0.0.3', '127.0.0.3']) idle.push(await rawClient(addr, '', from));
    await waitFor('four connections counted', () => server.gate.open === 4);
    expect((await get('/healthz', { from: '127.0.0.4' })).status).toBe(200);
    await waitClosed('the oldest closed', [idle[0] as RawClient]);
    expect([idle[0]?.status(), idle[0]?.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
    expect(idle[0]?.received()).toContain('http.maxConnections');
    expect(idle.slice(1).some((c) => c.closed())).toBe(false);
  });

  it('closes a connection whose headers are not done within http.headersTimeoutMs', async () => {
    await serve({ headersTimeoutMs: 300 });
    const slow = await rawClient(addr, `GET /healthz HTTP/1.1\r\nHost: ${addr}\r\nX-Slow: `);
    // a byte now and then does not keep it open
    const drip = setInterval(() => slow.socket.write('a'), 50);
    try {
      await waitClosed('the slow-headers connection to be closed', [slow]);
    } finally {
      clearInterval(drip);
    }
    expect(slow.status()).toBe(408);
    await waitFor('its slot freed', () => server.gate.open === 0);
  });
});
