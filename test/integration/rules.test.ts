/**
 * The seed's two rules, verbatim, end to end with a real daemon: signed webhook pushes, a TCP probe
 * against a server that is then stopped, `rules test`, `rules ls`, `events tail`, and a broken
 * rules file that leaves the active set in place.
 */
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sign } from '../../runtime/hooks/signature';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { FIXTURES, tmpDir, waitFor } from '../helpers/tmp';

/** the seed spec's two rules, verbatim */
const SEED = fs.readFileSync(path.join(FIXTURES, 'rules/seed.yaml'), 'utf8');

const SECRET = 'a-webhook-secret-of-some-length';
let d: RunningDaemon;
let db: net.Server;
let dbPort: number;

interface Status {
  instance: string;
  agent: string;
  state: string;
}

function post(pathName: string, body: string, headers: Record<string, string>): Promise<{ status: number; body: string }> {
  const [host, port] = d.http.split(':');
  return new Promise((resolve, reject) => {
    const req = http.request({ host, port: Number(port), path: pathName, method: 'POST', headers: { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body), ...headers } }, (res) => {
      let text = '';
      res.on('data', (c: Buffer) => (text += c.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

const push = (branch: string, delivery: string, secret = SECRET): Promise<{ status: number; body: string }> => {
  const body = JSON.stringify({ ref: `refs/heads/${branch}`, after: 'c0ffee', repository: { full_name: 'acme/greenhouse' }, pusher: { name: 'ada' } });
  return post('/hooks/github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': delivery, 'X-Hub-Signature-256': sign(secret, body) });
};

const ps = (): Promise<Status[]> => d.json<Status[]>(['ps', '-a']);

beforeAll(async () => {
  db = net.createServer((s) => s.end());
  await new Promise<void>((r) => db.listen(0, '127.0.0.1', r));
  dbPort = (db.address() as net.AddressInfo).port;
  const secrets = tmpDir('osd-hooks-');
  fs.writeFileSync(path.join(secrets, 'github'), `${SECRET}\n`);
  const home = path.join(tmpDir('osd-rules-'), 'h');
  fs.mkdirSync(home, { recursive: true });
  fs.writeFileSync(path.join(home, 'orchestration.yaml'), SEED);
  d = await startDaemon({
    home,
    config: {
      hooks: { github: { kind: 'github', secretFile: path.join(secrets, 'github') } },
      probes: [{ name: 'db', kind: 'tcp', host: '127.0.0.1', port: dbPort, intervalMs: 1000, timeoutMs: 500, failAfter: 2 }],
    },
  });
  for (const a of ['code-reviewer-agent', 'devops-agent']) expect((await d.cli(['agent', 'add', path.join(FIXTURES, 'agents', a)])).code).toBe(0);
}, 60_000);

afterAll(async () => {
  await d?.stop();
  db?.close();
});

describe("the seed's rules, end to end", () => {
  it('imported orchestration.yaml from the home at start', async () => {
    const r = await d.json<{ etag: string; rules: Array<{ id: string; on: string[]; action: string }> }>(['rules', 'ls']);
    expect(r.rules.map((x) => [x.id, x.on[0], x.action])).toEqual([
      ['rule-1', 'git:commit_pushed', 'spawn code-reviewer-agent'],
      ['rule-2', 'alert:server_down', 'spawn devops-agent'],
    ]);
  });

  it('a signed push to main spawns the reviewer; to another branch it does not; unsigned, badly signed and replayed pushes are refused', async () => {
    expect((await push('feature/x', 'd-1')).status).toBe(202);
    const main = await push('main', 'd-2');
    expect(main.status).toBe(202);
    expect(JSON.parse(main.body)).toMatchObject({ type: 'git:commit_pushed' });
    await waitFor('the reviewer ran', async () => (await ps()).some((s) => s.agent === 'code-reviewer-agent'), 20_000);
    expect((await push('main', 'd-2')).status).toBe(409);
    expect((await push('main', 'd-3', 'not-the-secret-at-all-really')).status).toBe(401);
    const body = JSON.stringify({ ref: 'refs/heads/main' });
    expect((await post('/hooks/github', body, { 'X-GitHub-Event': 'push', 'X-GitHub-Delivery': 'd-4' })).status).toBe(401);
    expect((await post('/hooks/gitlab', body, {})).status).toBe(404);
    await waitFor('the reviewer finished', async () => (await ps()).filter((s) => s.agent === 'code-reviewer-agent').every((s) => s.state === 'exited'), 20_000);
    const reviewers = (await ps()).filter((s) => s.agent === 'code-reviewer-agent');
    expect(reviewers).toHaveLength(1);
    // the reviewer read the push that woke it from ctx.trigger (issue 17)
    const pushed = (await d.json<Array<{ id: string; data: Record<string, unknown> }>>(['events', 'tail', '--type', 'git:*'])).find((e) => e.data.branch === 'main');
    expect((await d.cli(['logs', reviewers[0]?.instance ?? '?'])).stdout).toContain(`acme/greenhouse main at c0ffee (trigger ${pushed?.id ?? '?'})`);
    const stats = await d.json<{ rules: Array<{ id: string; matched: number; fired: number; suppressed: Record<string, number> }> }>(['rules', 'ls']);
    expect(stats.rules[0]).toMatchObject({ matched: 2, fired: 1, suppressed: { if: 1 } });
    const events = await d.json<Array<{ type: string; data: Record<string, unknown> }>>(['events', 'tail', '--type', 'git:*']);
    expect(events.map((e) => e.data.branch)).toEqual(['feature/x', 'main']);
    expect(events[1]?.data).toMatchObject({ commit: 'c0ffee', repo: 'acme/greenhouse', delivery: 'd-2' });
  }, 60_000);

  it('a probe against a TCP server that stops raises alert:server_down, which spawns the devops agent', async () => {
    expect((await ps()).some((s) => s.agent === 'devops-agent')).toBe(false);
    await new Promise<void>((r) => db.close(() => r()));
    await waitFor('devops spawned', async () => (await ps()).some((s) => s.agent === 'devops-agent' && s.state === 'running'), 30_000);
    const alerts = await d.json<Array<{ type: string; data: Record<string, unknown> }>>(['events', 'tail', '--type', 'alert:server_*']);
    expect(alerts).toEqual([expect.objectContaining({ type: 'alert:server_down', data: expect.objectContaining({ probe: 'db', target: `127.0.0.1:${dbPort}` }) as unknown })]);
  }, 60_000);

  it('rules test explains, without acting, which rules an event would fire', async () => {
    const file = path.join(tmpDir('osd-evt-'), 'push.json');
    fs.writeFileSync(file, JSON.stringify({ type: 'git:commit_pushed', branch: 'dev' }));
    const r = await d.cli(['rules', 'test', file]);
    expect(r.stdout).toContain("no      rule-1: if: branch == 'main' is false");
    expect(r.stdout).toContain('no      rule-2: listens for alert:server_down, not git:commit_pushed');
    fs.writeFileSync(file, JSON.stringify({ type: 'git:commit_pushed', branch: 'main' }));
    expect((await d.cli(['rules', 'test', file])).stdout).toContain('FIRES   rule-1: spawn code-reviewer-agent');
    expect((await ps()).filter((s) => s.agent === 'code-reviewer-agent')).toHaveLength(1);
  });

  it('refuses a broken rules file with every problem, keeps the active set, and applies a good one', async () => {
    const before = await d.json<{ etag: string }>(['rules', 'get']);
    const bad = path.join(tmpDir('osd-bad-'), 'bad.yaml');
    fs.writeFileSync(bad, 'rules:\n  - on: "git:commit_pushed"\n    if: "branch =="\n    action: "spawn(x)"\n  - on: "x:y"\n    action: "rm(-rf)"\n');
    const r = await d.cli(['rules', 'apply', bad]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('OSZ_E_RULES');
    expect(r.stderr).toMatch(/rule rule-1 \(line 3:9\): if: /);
    expect(r.stderr).toMatch(/rule rule-2 \(line 6:13\): action: unknown action "rm"/);
    expect((await d.json<{ etag: string }>(['rules', 'get'])).etag).toBe(before.etag);
    const good = path.join(tmpDir('osd-good-'), 'good.yaml');
    fs.writeFileSync(good, SEED.replace("'main'", "'release'"));
    const applied = await d.cli(['rules', 'apply', good]);
    expect(applied.stdout).toMatch(/^applied 2 rules, etag [0-9a-f]{16}$/m);
    expect((await d.json<{ source: string }>(['rules', 'get'])).source).toContain("branch == 'release'");
  });

  it('stops a rule storm at the causal depth limit, and says why', async () => {
    const storm = path.join(tmpDir('osd-storm-'), 'storm.yaml');
    fs.writeFileSync(storm, 'rules:\n  - id: storm\n    on: ["test:storm", "agent:exited"]\n    if: "event.type == \'test:storm\' || agent == \'code-reviewer-agent\'"\n    mode: parallel\n    maxDepth: 3\n    action: "spawn(code-reviewer-agent)"\n');
    expect((await d.cli(['rules', 'apply', storm])).code).toBe(0);
    const before = (await ps()).filter((s) => s.agent === 'code-reviewer-agent').length;
    const forged = await d.cli(['events', 'emit', 'agent:exited', '{"agent":"code-reviewer-agent"}']);
    expect(forged.stderr).toContain('OSZ_E_FORBIDDEN');
    expect((await d.cli(['events', 'emit', 'test:storm'])).code).toBe(0);
    await waitFor('the chain stopped', async () => {
      const r = await d.json<{ rules: Array<{ suppressed: Record<string, number> }> }>(['rules', 'ls']);
      return (r.rules[0]?.suppressed.depth ?? 0) >= 1;
    }, 30_000);
    await new Promise((r) => setTimeout(r, 1000));
    // the events at depth 0 (emitted) to 3 each spawned one; the exit at depth 4 was ignored
    expect((await ps()).filter((s) => s.agent === 'code-reviewer-agent').length - before).toBe(4);
    const exits = await d.json<Array<{ depth: number; data: { agent?: string } }>>(['events', 'tail', '--type', 'agent:exited']);
    expect(exits.filter((e) => e.data.agent === 'code-reviewer-agent').map((e) => e.depth).slice(-4)).toEqual([1, 2, 3, 4]);
  }, 60_000);

  it('keeps a pending for timer and dedup keys across a daemon restart', async () => {
    const file = path.join(tmpDir('osd-for-'), 'for.yaml');
    fs.writeFileSync(file, 'rules:\n  - { id: slow, on: "test:hot", for: 10m, action: "spawn(devops-agent)" }\n  - { id: once, on: "test:page", dedup: { key: "host", ttl: 1h }, action: "kill(nobody)" }\n');
    expect((await d.cli(['rules', 'apply', file])).code).toBe(0);
    expect((await d.cli(['events', 'emit', 'test:hot'])).code).toBe(0);
    expect((await d.cli(['events', 'emit', 'test:page', '{"host":"db"}'])).code).toBe(0);
    const before = await d.json<{ rules: Array<{ id: string; waitingMs?: number; dedupKeys: number }> }>(['rules', 'ls']);
    expect(before.rules[0]?.waitingMs).toBeGreaterThan(590_000);
    expect(before.rules[1]?.dedupKeys).toBe(1);
    expect(await d.stop()).toBe(0);
    d = await startDaemon({ home: d.home });
    const after = await d.json<{ rules: Array<{ id: string; waitingMs?: number; dedupKeys: number }> }>(['rules', 'ls']);
    expect(after.rules[0]?.waitingMs).toBeGreaterThan(500_000);
    expect(after.rules[0]?.waitingMs).toBeLessThanOrEqual(before.rules[0]?.waitingMs ?? 0);
    expect(after.rules[1]?.dedupKeys).toBe(1);
    expect((await d.cli(['events', 'emit', 'test:page', '{"host":"db"}'])).code).toBe(0);
    const r = await d.json<{ rules: Array<{ suppressed: Record<string, number> }> }>(['rules', 'ls']);
    expect(r.rules[1]?.suppressed.dedup).toBe(1);
  }, 60_000);

  it('warns at apply and in a dry run about a rule that spawns an agent that is not installed, and lists it as waiting for it', async () => {
    const file = path.join(tmpDir('osd-missing-'), 'missing.yaml');
    fs.writeFileSync(file, `${SEED}  - id: lint
    on: "git:commit_pushed"
    action:
      steps:
        - { delay: 1s }
        - { spawn: linter-agent }
`);
    const applied = await d.cli(['rules', 'apply', file]);
    expect(applied.code, applied.stderr).toBe(0);
    expect(applied.stdout).toMatch(/^applied 3 rules, etag [0-9a-f]{16}$/m);
    expect(applied.stderr).toContain('warning: rule lint (line 14:20): spawns agent "linter-agent", which is not installed; the rule waits for it');
    // the seed's agents are installed: no warning for them
    expect(applied.stderr.match(/warning:/g)).toHaveLength(1);
    const ls = await d.cli(['rules', 'ls']);
    expect(ls.stdout).toMatch(/lint .*waiting for agent linter-agent/);
    expect(ls.stdout.split('\n').find((l) => l.startsWith('rule-1'))).not.toContain('waiting');
    const event = path.join(tmpDir('osd-evt-'), 'push.json');
    fs.writeFileSync(event, JSON.stringify({ type: 'git:commit_pushed', branch: 'dev' }));
    const t = await d.cli(['rules', 'test', event]);
    expect(t.stdout).toContain('FIRES   lint: wait 1000 ms, then spawn linter-agent (waiting for agent linter-agent: not installed, so the spawn would fail)');
    expect(t.stderr).toContain('warning: rule lint (line 14:20): spawns agent "linter-agent"');
    // installed, the warning and the waiting go
    const dir = path.join(tmpDir('osd-linter-'), 'linter-agent');
    fs.cpSync(path.join(FIXTURES, 'agents', 'code-reviewer-agent'), dir, { recursive: true });
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ identity: { id: 'linter-agent', name: 'linter' }, runtime: { entry: 'main.mjs' }, restart: { policy: 'no' } }));
    expect((await d.cli(['agent', 'add', dir])).code).toBe(0);
    expect((await d.cli(['rules', 'ls'])).stdout).not.toContain('waiting for agent');
    const again = await d.cli(['rules', 'test', event]);
    expect(again.stdout).toMatch(/FIRES {3}lint: wait 1000 ms, then spawn linter-agent$/m);
    expect(again.stderr).toBe('');
  }, 60_000);
});
