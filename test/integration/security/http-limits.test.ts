/**
 * Nothing anonymous exhausts the real daemon over HTTP (issue 16), on real sockets against the
 * bundled daemon: 200 stalled unauthenticated POSTs of 2 MB leave its RSS bounded while a request
 * with the token is served; 64 anonymous SSE streams do not keep the page's authenticated stream
 * out; a flood of idle and slow-header connections past the caps, from one address or four, and
 * refilled as they close, locks out neither REST with the token, the page, /healthz nor an open
 * stream with the token; a client that never reads a large reply is cut and the memory the reply
 * held is given back; slow headers are closed; a webhook body over its cap is 413; and anonymous reads
 * carry no bus events. Each test closes every socket it opened (raw-http closeAll), pass or fail.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { sign } from '../../../runtime/hooks/signature';
import { type RunningDaemon, startDaemon } from '../../helpers/daemon';
import { describeShipped, ensureAccounts, unitSettings } from '../../helpers/shipped';
import { closeAll, type Flood, holdFlood, postHead, pushBody, rawClient, type RawClient, waitClosed } from '../../helpers/raw-http';
import { tmpDir, waitFor } from '../../helpers/tmp';

const SECRET = 'integration-webhook-secret-0123';
const PER_CLIENT = 16;
const TOTAL = 64;
const WRITE_STALL_MS = 1500;
let d: RunningDaemon;
let token = '';
let pid = 0;

/** the node process serving the daemon: the launcher execs it, but a wrapper (sh, setpriv) may sit above */
function daemonPid(top: number): number {
  const queue = [top];
  while (queue.length > 0) {
    const p = queue.shift() ?? 0;
    const cmd = fs.readFileSync(`/proc/${p}/cmdline`, 'utf8');
    if (cmd.includes('openstarryd.mjs')) return p;
    const children = fs.readFileSync(`/proc/${p}/task/${p}/children`, 'utf8').trim();
    queue.push(...children.split(/\s+/).filter(Boolean).map(Number));
  }
  throw new Error(`no openstarryd.mjs process under pid ${top}`);
}

function rssBytes(): number {
  const kb = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb) * 1024;
}

function request(method: string, url: string, o: { body?: unknown; token?: boolean; from?: string } = {}): Promise<{ status: number; body: string }> {
  const [hostname, port] = d.http.split(':');
  const payload = o.body === undefined ? undefined : JSON.stringify(o.body);
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port: Number(port), method, path: url, agent: false, localAddress: o.from ?? '127.0.0.1', headers: { host: d.http, ...(payload ? { 'content-type': 'application/json' } : {}), ...(o.token ? { authorization: `Bearer ${token}` } : {}) } }, (res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end(payload);
  });
}

const streamHead = (withToken: boolean): string => `GET /api/v1/stream HTTP/1.1\r\nHost: ${d.http}\r\n${withToken ? `Authorization: Bearer ${token}\r\n` : ''}\r\n`;



describeShipped('HTTP under hostile load, on the real daemon', () => {
beforeAll(async () => {
  const dir = tmpDir('osd-httplim-');
  fs.writeFileSync(path.join(dir, 'plant.secret'), `${SECRET}\n`, { mode: 0o600 });
  // the daemon's own user reads its secrets (the unit's LoadCredential= hands them over so)
  const { uid, gid } = ensureAccounts(unitSettings());
  fs.chownSync(path.join(dir, 'plant.secret'), uid, gid);
  d = await startDaemon({
    asShipped: true,
    config: {
      http: { listen: '127.0.0.1:0', maxConnections: TOTAL, maxConnectionsPerClient: PER_CLIENT, headersTimeoutMs: 1500, bodyTimeoutMs: 5000, writeStallMs: WRITE_STALL_MS, anonymousStreams: 4, webhooks: { maxBodyBytes: 4096, maxConnections: 4, bodyTimeoutMs: 2000 } },
      hooks: { plant: { kind: 'generic', secretFile: path.join(dir, 'plant.secret') } },
    },
  });
  token = fs.readFileSync(path.join(path.dirname(d.socket), 'control.token'), 'utf8').trim();
  pid = daemonPid(d.proc.pid ?? 0);
}, 60_000);
let flood: Flood | undefined;
afterEach(() => {
  flood?.stop();
  flood = undefined;
  closeAll();
});
afterAll(() => d?.stop());

  it('200 stalled unauthenticated POSTs of 2 MB: RSS stays bounded, each is refused and closed, and a request with the token is served meanwhile', async () => {
    // settle, then the baseline
    expect((await request('GET', '/healthz')).status).toBe(200);
    const before = rssBytes();
    let peak = before;
    const sampler = setInterval(() => (peak = Math.max(peak, rssBytes())), 20);
    const flood: RawClient[] = [];
    try {
      // from three addresses: 3 x 16 connections at most, so 127.0.0.1 always has room
      for (let i = 0; i < 200; i++) {
        const from = `127.0.0.${2 + (i % 3)}`;
        const head = postHead(d.http, i % 2 === 0 ? '/api/v1/agents/spawn' : '/api/v1/rules/apply', { length: 2 * 1024 * 1024 });
        const c = await rawClient(d.http, head, from);
        // half push the whole 2 MB as fast as they can, half send 64 KiB and stall
        if (i % 2 === 0) pushBody(c, 2 * 1024 * 1024);
        else c.socket.write(Buffer.alloc(64 * 1024, 0x20));
        flood.push(c);
      }
      // with the flood on the wire, a request with the token is served
      const authed = await request('POST', '/api/v1/agents/list', { body: { all: true }, token: true });
      expect(authed.status).toBe(200);
      await waitClosed('the daemon to close every flood connection', flood, 60_000);
    } finally {
      clearInterval(sampler);
    }
    const statuses = new Map<string, number>();
    for (const c of flood) statuses.set(`${c.status() ?? 'none'} ${c.code() ?? ''}`, (statuses.get(`${c.status() ?? 'none'} ${c.code() ?? ''}`) ?? 0) + 1);
    // each was refused from its headers, or turned away at the connection cap
    for (const key of statuses.keys()) expect(['401 OSZ_E_UNAUTHORIZED', '503 OSZ_E_HTTP_BUSY']).toContain(key);
    expect(statuses.get('401 OSZ_E_UNAUTHORIZED') ?? 0).toBeGreaterThanOrEqual(PER_CLIENT);
    const grown = peak - before;
    console.log(`flood: RSS ${(before / 2 ** 20).toFixed(1)} MB -> peak ${(peak / 2 ** 20).toFixed(1)} MB (+${(grown / 2 ** 20).toFixed(1)} MB); answers ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(grown).toBeLessThan(40 * 2 ** 20);
    expect((await request('GET', '/healthz')).status).toBe(200);
    // the refused connections each close within a second of their answer (limits.ts closeInStages)
    await waitFor('the flood connections released', async () => {
      const m = await request('GET', '/metrics');
      return m.status === 200 && Number(/^openstarry_http_connections (\d+)$/m.exec(m.body)?.[1]) <= 1;
    });
  }, 120_000);

  it('64 anonymous SSE streams held open do not keep the authenticated page stream out', async () => {
    const anon: RawClient[] = [];
    // four addresses, 16 each: within the per-client cap, so each is the stream cap's to answer
    for (let i = 0; i < 64; i++) anon.push(await rawClient(d.http, streamHead(false), `127.0.0.${5 + (i % 4)}`));
    await waitFor('an answer on every anonymous stream', () => anon.every((c) => c.status() !== undefined));
    const open = anon.filter((c) => c.status() === 200);
    expect(open.length).toBe(4);
    expect(open.every((c) => c.received().includes('event: dashboard'))).toBe(true);
    const refused = anon.filter((c) => c.status() !== 200);
    expect(new Set(refused.map((c) => `${c.status()} ${c.code()}`))).toEqual(new Set(['503 OSZ_E_HTTP_BUSY']));
    await waitClosed('the refused streams closed', refused);
    expect(open.some((c) => c.closed())).toBe(false);
    // the page's stream, with the token, while the four anonymous ones stay open
    const page = await rawClient(d.http, streamHead(true));
    await waitFor('the authenticated stream', () => page.received().includes('event: dashboard'));
    expect(page.status()).toBe(200);
    // a bus event reaches the page's stream; the event log is not read without the token
    expect((await request('POST', '/api/v1/events/emit', { body: { type: 'test:limits', data: { n: 1 } }, token: true })).status).toBe(200);
    await waitFor('the event on the authenticated stream', () => page.received().includes('"type":"test:limits"'));
    const tail = await request('GET', '/api/v1/events/tail?lines=50');
    expect([tail.status, (JSON.parse(tail.body) as { error?: { code: string } }).error?.code]).toEqual([401, 'OSZ_E_UNAUTHORIZED']);
    expect((await request('GET', '/api/v1/events/tail?lines=50', { token: true })).body).toContain('test:limits');
  }, 60_000);

  it('one address holds at most http.maxConnectionsPerClient connections without the token: those over it are answered 503 and closed, the oldest first, and the address is served', async () => {
    const idle: RawClient[] = [];
    for (let i = 0; i < PER_CLIENT + 8; i++) idle.push(await rawClient(d.http, '', '127.0.0.9'));
    // a newcomer gets a moment to send its request (runtime/http/gate.ts GRACE_MS): the excess is closed after it
    await waitClosed('the eight oldest of the address closed', idle.slice(0, 8));
    expect(new Set(idle.slice(0, 8).map((c) => `${c.status()} ${c.code()}`))).toEqual(new Set(['503 OSZ_E_HTTP_BUSY']));
    expect(idle.slice(8).some((c) => c.closed())).toBe(false);
    expect((await request('GET', '/healthz', { from: '127.0.0.9' })).status).toBe(200);
    // the others are then closed at the header deadline
    await waitClosed('the idle connections closed at the header deadline', idle);
    expect(idle.slice(8).filter((c) => c.status() === 408).length).toBeGreaterThanOrEqual(PER_CLIENT - 1);
  }, 60_000);

  const floods: Array<[string, string[], number]> = [
    ['from 127.0.0.1, past http.maxConnectionsPerClient', ['127.0.0.1'], PER_CLIENT + 8],
    ['spread over 127.0.0.2-127.0.0.5, past http.maxConnections', ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5'], TOTAL / 4 + 4],
  ];
  it.each(floods)('a flood of idle and slow-header connections %s, refilled as they close: REST with the token, the page, /healthz and an open stream with the token are all served', async (_what, sources, perSource) => {
    // the page's stream with the token, open before the flood
    const page = await rawClient(d.http, streamHead(true));
    await waitFor('the authenticated stream', () => page.received().includes('event: dashboard'));
    flood = await holdFlood(d.http, sources, perSource);
    const opened = sources.length * perSource;
    // past the caps: the flood's oldest connections have been closed to make room, and replaced
    await waitFor('the flood at the caps, closing its own oldest', () => (flood && flood.all.length >= opened + 8 ? true : undefined), 30_000);
    const from = sources[0] ?? '127.0.0.1';
    for (const client of ['127.0.0.1', from]) {
      // (a) REST with the token, from the flooded address too
      const rest = await request('POST', '/api/v1/agents/list', { body: { all: true }, token: true, from: client });
      expect([client, rest.status]).toEqual([client, 200]);
      // (b) the page and its script
      const index = await request('GET', '/', { from: client });
      expect([index.status, index.body.includes('/assets/app.js')]).toEqual([200, true]);
      expect((await request('GET', '/assets/app.js', { from: client })).status).toBe(200);
      // (c) /healthz
      const health = await request('GET', '/healthz', { from: client });
      expect([health.status, (JSON.parse(health.body) as { status: string }).status]).toEqual([200, 'ok']);
    }
    // (d) the stream with the token is still open, and carries what happens now
    expect(page.closed()).toBe(false);
    expect((await request('POST', '/api/v1/events/emit', { body: { type: 'test:flood', data: { sources: sources.length } }, token: true })).status).toBe(200);
    await waitFor('the event on the stream opened before the flood', () => page.received().includes('"type":"test:flood"'));
    // what the flood's own closed connections were told: 503 at a cap, or 408 at the header deadline
    const told = new Set(flood.all.filter((c) => c.closed()).map((c) => `${c.status() ?? 'none'} ${c.code() ?? ''}`.trim()));
    for (const t of told) expect(['503 OSZ_E_HTTP_BUSY', '408', 'none']).toContain(t);
    expect(told.has('503 OSZ_E_HTTP_BUSY')).toBe(true);
    const m = await request('GET', '/metrics');
    console.log(`flood ${sources.join(',')}: ${flood.all.length} connections opened, ${flood.live()} open now; answers ${[...told].join(', ')}; ${/^openstarry_http_evicted_connections_total\{cap="per_client"\} (\d+)$/m.exec(m.body)?.[1]} closed at the address cap, ${/^openstarry_http_evicted_connections_total\{cap="total"\} (\d+)$/m.exec(m.body)?.[1]} at the total cap so far`);
  }, 120_000);

  it('a client that never reads a large reply is cut at http.writeStallMs, and the memory the reply held is given back', async () => {
    // about 38 MB of events, then one reply carrying them all to a client that reads nothing
    const pad = 'x'.repeat(62 * 1024);
    for (let i = 0; i < 600; i += 20) {
      const batch = Array.from({ length: 20 }, (_, j) => request('POST', '/api/v1/events/emit', { body: { type: 'test:bulk', data: { n: i + j, pad } }, token: true }));
      for (const r of await Promise.all(batch)) expect(r.status).toBe(200);
    }
    expect((await request('GET', '/healthz')).status).toBe(200);
    const stalledSoFar = async (): Promise<number> => Number(/^openstarry_http_stalled_responses_total (\d+)$/m.exec((await request('GET', '/metrics')).body)?.[1]);
    const cutBefore = await stalledSoFar();
    const before = rssBytes();
    // RSS every 20 ms, with when it was read
    const samples: Array<[number, number]> = [];
    const sampler = setInterval(() => samples.push([performance.now(), rssBytes()]), 20);
    const reader = await rawClient(d.http, `GET /api/v1/events/tail?lines=600&type=test:bulk HTTP/1.1\r\nHost: ${d.http}\r\nAuthorization: Bearer ${token}\r\n\r\n`);
    reader.socket.pause();
    // the last look at the counter before it moved: the cut came after it
    let lookedAt = 0;
    let lastLook = 0;
    try {
      await waitFor('the reply cut for not being read', async () => {
        lastLook = lookedAt;
        lookedAt = performance.now();
        return (await stalledSoFar()) > cutBefore ? true : undefined;
      }, 60_000);
    } finally {
      clearInterval(sampler);
    }
    const held = samples.filter(([t]) => t < lastLook).at(-1)?.[1] ?? 0;
    const peak = Math.max(...samples.map(([, rss]) => rss));
    // what it had been sent: the head and what sat in its own receive queue, then the reset
    let got = 0;
    reader.socket.on('data', (c: Buffer) => (got += c.length));
    reader.socket.resume();
    await waitClosed('the never-reading client closed by the daemon', [reader]);
    const declared = Number(/\r\ncontent-length: (\d+)\r\n/i.exec(reader.received())?.[1]);
    expect(declared).toBeGreaterThan(600 * pad.length);
    expect(got).toBeLessThan(declared / 4);
    // the reply waited in the daemon until the cut, and leaves its memory with it
    expect(held - before).toBeGreaterThan(declared);
    const after = await waitFor('the reply\'s bytes given back', () => {
      const now = rssBytes();
      return now < held - 0.75 * declared ? now : undefined;
    }, 30_000);
    console.log(`never-reading client of a ${(declared / 2 ** 20).toFixed(1)} MB reply: RSS ${(before / 2 ** 20).toFixed(1)} MB before, peak ${(peak / 2 ** 20).toFixed(1)} MB, ${(held / 2 ** 20).toFixed(1)} MB held until the cut, ${(after / 2 ** 20).toFixed(1)} MB after it; it received ${(got / 2 ** 10).toFixed(0)} KiB`);
  }, 180_000);

  it('closes a connection whose headers are still unfinished at http.headersTimeoutMs', async () => {
    const slow = await rawClient(d.http, `GET /healthz HTTP/1.1\r\nHost: ${d.http}\r\nX-Slow: `);
    const drip = setInterval(() => slow.socket.write('a'), 100);
    try {
      await waitClosed('the slow-headers connection closed', [slow]);
    } finally {
      clearInterval(drip);
    }
    expect(slow.status()).toBe(408);
  }, 60_000);

  it('answers a webhook body over http.webhooks.maxBodyBytes 413, declared or not, and takes one under it', async () => {
    const big = JSON.stringify({ pad: 'x'.repeat(8000) });
    const declared = await rawClient(d.http, postHead(d.http, '/hooks/plant', { length: big.length, extra: `X-Delivery-Id: big-1\r\nX-Hub-Signature-256: ${sign(SECRET, big)}` }) + big);
    await waitClosed('the oversized webhook closed', [declared]);
    expect([declared.status(), declared.code()]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
    const chunked = await rawClient(d.http, postHead(d.http, '/hooks/plant', { extra: `Transfer-Encoding: chunked\r\nX-Delivery-Id: big-2\r\nX-Hub-Signature-256: ${sign(SECRET, big)}` }));
    chunked.socket.write(`${big.length.toString(16)}\r\n${big}\r\n0\r\n\r\n`);
    await waitClosed('the oversized chunked webhook closed', [chunked]);
    expect([chunked.status(), chunked.code()]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
    const small = JSON.stringify({ moisture: 12 });
    const ok = await rawClient(d.http, postHead(d.http, '/hooks/plant', { length: small.length, extra: `X-Delivery-Id: ok-1\r\nX-Hub-Signature-256: ${sign(SECRET, small)}` }) + small);
    await waitFor('the webhook accepted', () => ok.status());
    expect(ok.status()).toBe(202);
  }, 60_000);
});
