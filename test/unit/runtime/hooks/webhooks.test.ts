/**
 * Webhooks on a real HttpServer: signatures over the raw body, delivery ids, caps, hostile bodies;
 * and their own limits (issue 16) over both listeners: deliveries read at once, body size and time.
 */
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../../../runtime/bus/bus';
import type { EventEnvelope } from '../../../../runtime/bus/envelope';
import { Webhooks } from '../../../../runtime/hooks/webhooks';
import { sign, verifySignature } from '../../../../runtime/hooks/signature';
import { HttpServer } from '../../../../runtime/http/server';
import { memoryLogger } from '../../../../runtime/log';
import { closeAll, postHead, rawClient, waitClosed } from '../../../helpers/raw-http';
import { tmpDir, waitFor } from '../../../helpers/tmp';

const SECRET = 'sixteen-bytes-or-more-secret';
let server: HttpServer;
let log: ReturnType<typeof memoryLogger>;
const events: EventEnvelope[] = [];

function post(p: string, body: string | Buffer, headers: Record<string, string> = {}): Promise<{ status: number; json: Record<string, unknown> }> {
  const [host, port] = (server.address ?? '').split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: p, method: 'POST', headers: { 'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
      let t = '';
      res.on('data', (c: Buffer) => (t += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(t || '{}') as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

beforeAll(async () => {
  const dir = tmpDir('osd-wh-');
  fs.writeFileSync(path.join(dir, 's'), `${SECRET}\n`);
  fs.writeFileSync(path.join(dir, 'short'), 'abc\n');
  log = memoryLogger();
  const bus = new EventBus(log);
  bus.on('t', '**', (e) => events.push(e));
  const hooks = new Webhooks(
    {
      github: { kind: 'github', secretFile: path.join(dir, 's') },
      gitea: { kind: 'gitea', secretFile: path.join(dir, 's') },
      plant: { kind: 'generic', secretFile: path.join(dir, 's') },
      weak: { kind: 'generic', secretFile: path.join(dir, 'short') },
      gone: { kind: 'generic', secretFile: path.join(dir, 'missing') },
    },
    bus,
    log,
    { maxBodyBytes: 64 * 1024 },
  );
  expect(hooks.names).toEqual(['github', 'gitea', 'plant']);
  expect(log.lines.join('\n')).toMatch(/webhook source weak is off: .*shorter than 16 bytes/);
  expect(log.lines.join('\n')).toMatch(/webhook source gone is off: .*ENOENT/);
  server = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [] }, log);
  hooks.register(server);
  await server.start();
});
afterAll(() => server.stop());

describe('webhooks', () => {
  it('turns a Gitea push into git:commit_pushed with branch, commit, repo; tags and deletions say so', async () => {
    const body = JSON.stringify({ ref: 'refs/tags/v1.2', after: '0000', deleted: true, repository: { full_name: 'acme/gh' }, pusher: { login: 'bob' } });
    const r = await post('/hooks/gitea', body, { 'X-Gitea-Event': 'push', 'X-Gitea-Delivery': 'g-1', 'X-Gitea-Signature': sign(SECRET, body).slice(7) });
    expect(r.status).toBe(202);
    expect(events.at(-1)).toMatchObject({ type: 'git:commit_pushed', source: 'hook:gitea', data: { branch: null, tag: 'v1.2', deleted: true, repo: 'acme/gh', pusher: 'bob', delivery: 'g-1' } });
  });

  it('names other GitHub events hook:<source>.<event>, and a generic hook hook:<source>', async () => {
    const pr = JSON.stringify({ action: 'opened', repository: { full_name: 'acme/gh' } });
    expect((await post('/hooks/github', pr, { 'X-GitHub-Event': 'pull_request', 'X-GitHub-Delivery': 'h-1', 'X-Hub-Signature-256': sign(SECRET, pr) })).status).toBe(202);
    expect(events.at(-1)).toMatchObject({ type: 'hook:github.pull_request', data: { action: 'opened', repo: 'acme/gh' } });
    const generic = JSON.stringify({ moisture: 12 });
    expect((await post('/hooks/plant', generic, { 'X-Delivery-Id': 'p-1', 'X-Hub-Signature-256': sign(SECRET, generic) })).status).toBe(202);
    expect(events.at(-1)).toMatchObject({ type: 'hook:plant', data: { moisture: 12, delivery: 'p-1' } });
  });

  it('checks the signature over the raw bytes: re-serialised JSON, another secret, or a truncated digest fail', async () => {
    const body = '{"ref": "refs/heads/main"}';
    const headers = { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'h-2' };
    expect((await post('/hooks/github', body, { ...headers, 'X-Hub-Signature-256': sign(SECRET, JSON.stringify(JSON.parse(body))) })).status).toBe(401);
    expect((await post('/hooks/github', body, { ...headers, 'X-Hub-Signature-256': sign('another-secret-of-length', body) })).status).toBe(401);
    expect((await post('/hooks/github', body, { ...headers, 'X-Hub-Signature-256': sign(SECRET, body).slice(0, 40) })).status).toBe(401);
    expect((await post('/hooks/github', body, { ...headers, 'X-Gitea-Signature': sign(SECRET, body).slice(7) })).status).toBe(401);
    expect(verifySignature(Buffer.from(SECRET), Buffer.from(body), sign(SECRET, body))).toBe(true);
  });

  it('refuses replays, missing delivery ids, oversized, non-JSON and non-object bodies, without emitting', async () => {
    const before = events.length;
    const ok = JSON.stringify({ a: 1 });
    const h = (id: string, b: string | Buffer): Record<string, string> => ({ 'X-Delivery-Id': id, 'X-Hub-Signature-256': sign(SECRET, b) });
    expect((await post('/hooks/plant', ok, h('r-1', ok))).status).toBe(202);
    const replay = await post('/hooks/plant', ok, h('r-1', ok));
    expect(replay).toMatchObject({ status: 409, json: { error: { code: 'OSZ_E_HOOK_REFUSED', message: 'delivery r-1 was already received' } } });
    expect((await post('/hooks/plant', ok, { 'X-Hub-Signature-256': sign(SECRET, ok) })).status).toBe(400);
    expect((await post('/hooks/plant', ok, h('../../etc', ok))).status).toBe(400);
    const big = Buffer.alloc(100 * 1024, 'x');
    expect((await post('/hooks/plant', big, h('r-2', big))).status).toBe(413);
    expect((await post('/hooks/plant', 'not json', h('r-3', 'not json'))).status).toBe(400);
    expect((await post('/hooks/plant', '[1,2]', h('r-4', '[1,2]'))).json).toMatchObject({ error: { message: 'the body must be a JSON object' } });
    const proto = '{"__proto__": {"polluted": true}, "x": 1}';
    expect((await post('/hooks/plant', proto, h('r-5', proto))).status).toBe(202);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(events.length).toBe(before + 2);
    expect(log.lines.some((l) => l.includes(SECRET))).toBe(false);
  });

  it('the LAN listener takes any Host header; the main server refuses unknown ones', async () => {
    const lan = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [], checkHost: false }, log);
    const bus = new EventBus(log);
    new Webhooks({}, bus, log).register(lan);
    await lan.start();
    const ask = (addr: string, host: string): Promise<number> =>
      new Promise((resolve, reject) => {
        const [h, port] = addr.split(':');
        http.request({ host: h, port: Number(port), path: '/hooks/x', method: 'POST', headers: { Host: host, 'Content-Length': 2 } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        }).on('error', reject).end('{}');
      });
    expect(await ask(lan.address ?? '', 'hooks.example.com')).toBe(404);
    expect(await ask(server.address ?? '', 'hooks.example.com')).toBe(421);
    await lan.stop();
  });

  it('reads at most http.webhooks.maxConnections deliveries at once over both listeners, each under its size and time', async () => {
    const dir = tmpDir('osd-wh-lim-');
    fs.writeFileSync(path.join(dir, 's'), `${SECRET}\n`);
    const bus = new EventBus(log);
    const hooks = new Webhooks({ plant: { kind: 'generic', secretFile: path.join(dir, 's') } }, bus, log, { maxConnections: 2, maxBodyBytes: 4096, bodyTimeoutMs: 300 });
    const main = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [] }, log);
    const lan = new HttpServer({ listen: '127.0.0.1:0', allowedHosts: [], checkHost: false }, log);
    hooks.register(main);
    hooks.register(lan);
    await main.start();
    await lan.start();
    try {
      const a = main.address ?? '';
      const b = lan.address ?? '';
      // one stalled delivery on each listener: both slots taken, nothing signed yet
      const stalled = [await rawClient(a, postHead(a, '/hooks/plant', { length: 1000 }) + '{"x":'), await rawClient(b, postHead(b, '/hooks/plant', { length: 1000 }) + '{"x":')];
      await waitFor('both deliveries being read', () => hooks.active === 2);
      const busy = await rawClient(b, postHead(b, '/hooks/plant', { length: 1024 * 1024 }) + ' '.repeat(1024));
      await waitClosed('the delivery over the cap', [busy]);
      expect([busy.status(), busy.code()]).toEqual([503, 'OSZ_E_HTTP_BUSY']);
      // the stalled ones are answered 408 and closed at the body deadline, freeing their slots
      await waitClosed('the stalled deliveries', stalled);
      expect(stalled.map((c) => [c.status(), c.code()])).toEqual([
        [408, 'OSZ_E_REQUEST_TIMEOUT'],
        [408, 'OSZ_E_REQUEST_TIMEOUT'],
      ]);
      await waitFor('the slots freed', () => hooks.active === 0);
      // a body over maxBodyBytes without a declared length is answered 413, then cut off
      const chunked = await rawClient(a, postHead(a, '/hooks/plant', { extra: 'Transfer-Encoding: chunked' }));
      const piece = 'x'.repeat(1024);
      for (let i = 0; i < 8; i++) chunked.socket.write(`400\r\n${piece}\r\n`);
      await waitClosed('the oversized chunked delivery', [chunked]);
      expect([chunked.status(), chunked.code()]).toEqual([413, 'OSZ_E_REQUEST_TOO_LARGE']);
      // and a proper delivery still goes through
      const ok = JSON.stringify({ moisture: 3 });
      const [host, port] = b.split(':');
      const status = await new Promise<number>((resolve, reject) => {
        http
          .request({ host, port: Number(port), path: '/hooks/plant', method: 'POST', headers: { 'Content-Length': ok.length, 'X-Delivery-Id': 'lim-1', 'X-Hub-Signature-256': sign(SECRET, ok) } }, (res) => {
            res.resume();
            resolve(res.statusCode ?? 0);
          })
          .on('error', reject)
          .end(ok);
      });
      expect(status).toBe(202);
    } finally {
      closeAll();
      await lan.stop();
      await main.stop();
    }
  });
});
