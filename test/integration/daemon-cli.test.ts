/**
 * The walking skeleton end to end: the real bundled daemon and the real CLI, real agent
 * processes under the permission model (and their own uid when the tests run as root).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { copyFixtureAgent, FIXTURES, REPO, tmpDir, waitFor } from '../helpers/tmp';

interface Status {
  instance: string;
  agent: string;
  state: string;
  osPid: number | null;
  restarts: number;
  reason: string | null;
  exitCode: number | null;
  exitSignal: string | null;
  desired: string;
}

const fixture = (name: string): string => path.join(FIXTURES, 'agents', name);
const lastWord = (s: string): string => s.trim().split(/\s+/).pop() ?? '';

let d: RunningDaemon;

async function statusOf(id: string): Promise<Status | undefined> {
  return (await d.json<Status[]>(['ps', '--all'])).find((s) => s.instance === id);
}

async function waitState(id: string, state: string, timeoutMs = 20_000): Promise<Status> {
  return waitFor(`${id} to be ${state}`, async () => {
    const s = await statusOf(id);
    return s?.state === state ? s : undefined;
  }, timeoutMs);
}

async function logText(target: string): Promise<string> {
  const r = await d.cli(['logs', target, '-n', '1000']);
  return r.stdout;
}

beforeAll(async () => {
  d = await startDaemon({ config: { supervisor: { heartbeatMs: 200, missedHeartbeats: 3, graceMs: 2000 } } });
  const r = await d.cli(['secret', 'set', 'ECHO_SECRET'], { input: 's3cr3t-value\n' });
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  expect(await d.stop()).toBe(0);
});

describe('spawn, ps, logs, signal, kill', () => {
  it('spawns several instances of one agent from a path and prints the instance id last', async () => {
    const first = await d.cli(['spawn', fixture('echo')]);
    expect(first.code, first.stderr).toBe(0);
    const second = await d.cli(['spawn', 'echo']);
    expect(second.code, second.stderr).toBe(0);
    const ids = [lastWord(first.stdout), lastWord(second.stdout)];
    expect(ids[0]).not.toBe(ids[1]);
    for (const id of ids) await waitState(id, 'running');
    const ps = await d.cli(['ps']);
    expect(ps.stdout).toMatch(/INSTANCE\s+AGENT\s+DRIVER\s+STATE/);
    for (const id of ids) expect(ps.stdout).toContain(id);
    const rows = await d.json<Status[]>(['ps', 'echo']);
    expect(rows.filter((r) => r.state === 'running')).toHaveLength(2);
    expect(rows.every((r) => typeof r.osPid === 'number')).toBe(true);
  });

  it('collects agent log lines, stdout and stderr, with granted secrets redacted', async () => {
    const [row] = await d.json<Status[]>(['ps', 'echo']);
    const text = await waitFor('echo log', async () => {
      const t = await logText(row?.instance ?? '');
      return t.includes('event timer:beat') ? t : undefined;
    });
    expect(text).toContain('greeting=hello');
    expect(text).toContain('secret=***');
    expect(text).not.toContain('s3cr3t-value');
    expect(text).toContain('stdout stdout line');
    expect(text).toContain('stderr stderr line');
    const byAgent = await logText('echo');
    expect(byAgent.split('\n').filter((l) => l.includes('echo up as')).length).toBeGreaterThanOrEqual(2);
  });

  it('delivers a signal and changes nothing else', async () => {
    const [row] = await d.json<Status[]>(['ps', 'echo']);
    const id = row?.instance ?? '';
    const r = await d.cli(['signal', id, 'HUP']);
    expect(r.code, r.stderr).toBe(0);
    await waitFor('SIGHUP in log', async () => (await logText(id)).includes('got SIGHUP'));
    expect((await statusOf(id))?.state).toBe('running');
    const bad = await d.cli(['signal', id, 'SIGSEGV']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('OSZ_E_BAD_SIGNAL');
  });

  it('kills with TERM (the agent stops cleanly) and with KILL', async () => {
    const [a, b] = await d.json<Status[]>(['ps', 'echo']);
    const term = await d.cli(['kill', a?.instance ?? '']);
    expect(term.code, term.stderr).toBe(0);
    const sa = await waitState(a?.instance ?? '', 'exited');
    expect(sa.desired).toBe('stopped');
    expect(await logText(a?.instance ?? '')).toContain('echo stopping');
    const kill = await d.cli(['kill', '--signal', 'KILL', b?.instance ?? '']);
    expect(kill.code, kill.stderr).toBe(0);
    const sb = await waitState(b?.instance ?? '', 'exited');
    expect(sb.exitSignal).toBe('SIGKILL');
    expect((await d.json<Status[]>(['ps', 'echo'])).length).toBe(0);
  });

  it('follows logs with -f until interrupted', async () => {
    expect((await d.cli(['agent', 'add', fixture('echo')])).code).toBe(0);
    const child = spawn(process.execPath, [path.join(REPO, 'dist/openstarryctl.mjs'), '--home', d.home, 'logs', 'echo', '-f', '-n', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += String(c)));
    child.stderr.on('data', (c: Buffer) => (out += String(c)));
    await waitFor('follower attached', () => out.length >= 0 && child.pid !== undefined);
    await new Promise((r) => setTimeout(r, 300));
    const r = await d.cli(['spawn', 'echo']);
    const id = lastWord(r.stdout);
    await waitFor('followed lines', () => out.includes(`${id} info echo up as ${id}`) && out.includes('event timer:beat')).catch((err: Error) => {
      throw new Error(`${err.message}; follower printed:\n${out}`);
    });
    child.kill('SIGINT');
    await d.cli(['kill', id]);
  });

  it('reports an agent module that does not load, with the error, instead of a silent exit', async () => {
    const id = lastWord((await d.cli(['spawn', fixture('broken')])).stdout);
    const s = await waitState(id, 'exited');
    expect(s.reason).toMatch(/start failed: .*SyntaxError|start failed: .*Unexpected/);
    expect(await logText(id)).toMatch(/cannot load .*main\.mjs/);
  });

  it('fails spawn with exit 1 and the reason when an instance cannot start', async () => {
    const dir = copyFixtureAgent('singleton');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.identity = { id: 'needs-secret', name: 'Needs a secret' };
    m.secrets = ['NOT_SET_ANYWHERE'];
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
    const r = await d.cli(['spawn', dir]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('OSZ_E_NO_SUCH_SECRET');
    expect(r.stderr).toContain('NOT_SET_ANYWHERE');
  });

  it('refuses a second instance of a singleton, naming the running one', async () => {
    const first = await d.cli(['spawn', fixture('singleton')]);
    expect(first.code, first.stderr).toBe(0);
    const id = lastWord(first.stdout);
    const second = await d.cli(['spawn', 'singleton']);
    expect(second.code).toBe(1);
    expect(second.stderr).toContain('OSZ_E_SINGLETON_RUNNING');
    expect(second.stderr).toContain(id);
    await d.cli(['kill', id]);
    await waitState(id, 'exited');
    const again = await d.cli(['spawn', 'singleton']);
    expect(again.code, again.stderr).toBe(0);
    await d.cli(['kill', 'singleton']);
  });

  it('keeps a killed "always" agent stopped, using KILL after the grace period when TERM is ignored', async () => {
    const r = await d.cli(['spawn', fixture('stubborn')]);
    const id = lastWord(r.stdout);
    await waitState(id, 'running');
    const k = await d.cli(['kill', id]);
    expect(k.code, k.stderr).toBe(0);
    const s = await waitState(id, 'exited');
    expect(s.exitSignal).toBe('SIGKILL');
    const log = await logText(id);
    expect(log).toContain('ignoring TERM');
    expect(log).toContain('sending KILL');
    await new Promise((res) => setTimeout(res, 1000));
    const later = await statusOf(id);
    expect(later?.state).toBe('exited');
    expect(later?.restarts).toBe(0);
  });
});

describe('restart policy and health', () => {
  it('takes a crash loop through backoff to failed after maxRetries', async () => {
    const r = await d.cli(['spawn', fixture('crasher')]);
    const id = lastWord(r.stdout);
    const s = await waitState(id, 'failed');
    expect(s.restarts).toBe(2);
    expect(s.reason).toContain('gave up after 2 restarts');
    const log = await logText(id);
    expect(log).toContain('restart 1/2');
    expect(log).toContain('restart 2/2');
    expect(log.split('\n').filter((l) => l.includes('crashing on purpose'))).toHaveLength(3);
  });

  it('restarts an agent that stops heart-beating, then gives up', async () => {
    const r = await d.cli(['spawn', fixture('hang')]);
    const id = lastWord(r.stdout);
    const s = await waitState(id, 'failed');
    expect(s.restarts).toBe(1);
    expect(s.reason).toContain('missed heartbeats');
    const log = await logText(id);
    expect(log.split('\n').filter((l) => l.includes('stopping: missed heartbeats'))).toHaveLength(2);
    expect(log).toContain('restart 1/1');
  });
});

describe('sandbox', () => {
  it('refuses /dev, other files, child processes, workers, addons and the control socket to a process agent', async () => {
    const addon = path.join(REPO, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
    const r = await d.cli(['spawn', fixture('prober'), '--env', `CONTROL_SOCKET=${d.socket}`, '--env', `ADDON_PATH=${addon}`]);
    expect(r.code, r.stderr).toBe(0);
    const id = lastWord(r.stdout);
    const text = await waitFor('probe results', async () => {
      const t = await logText(id);
      return t.includes('PROBE done=yes') ? t : undefined;
    });
    const probes: Record<string, string | undefined> = Object.fromEntries([...text.matchAll(/PROBE (\w+)=(\S+)/g)].map((m) => [m[1] ?? '', m[2]]));
    expect(probes.dev_null).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.dev_ttyS0).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.etc_passwd).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.child_process).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.worker).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.addon).toBe('denied:ERR_DLOPEN_DISABLED');
    expect(probes.write_outside_home).toBe('denied:ERR_ACCESS_DENIED');
    expect(probes.write_home).toBe('ALLOWED');
    // As root the agent runs under its own uid and cannot even connect; otherwise it lacks the token.
    expect(probes.control_socket).toMatch(/^denied:(EACCES|OSZ_E_UNAUTHORIZED)$/);
    expect(probes.node_options_env).toBe('denied:ABSENT');
    expect(fs.existsSync('/tmp/openstarry-prober-escape')).toBe(false);
  });

  it('refuses a manifest env that would undo the sandbox, at agent add and at spawn', async () => {
    const dir = copyFixtureAgent('echo');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    manifest.identity = { id: 'escaper', name: 'Escaper' };
    manifest.env = { NODE_OPTIONS: '--allow-fs-read=* --allow-child-process' };
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(manifest));
    const add = await d.cli(['agent', 'add', dir]);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain('OSZ_E_ENV_REFUSED');
    expect(add.stderr).toContain('NODE_OPTIONS');
    const installed = await d.json<Array<{ id: string }>>(['agent', 'ls']);
    expect(installed.map((a) => a.id)).not.toContain('escaper');
    const spawn = await d.cli(['spawn', 'echo', '--env', 'NODE_OPTIONS=--allow-child-process']);
    expect(spawn.code).toBe(1);
    expect(spawn.stderr).toContain('OSZ_E_ENV_REFUSED');
  });

  it('refuses a symlink to /dev in an agent folder at add', async () => {
    const dir = copyFixtureAgent('singleton');
    fs.symlinkSync('/dev/ttyS0', path.join(dir, 'serial'));
    const add = await d.cli(['agent', 'add', dir]);
    expect(add.code).toBe(1);
    expect(add.stderr).toContain('OSZ_E_INSTALL_REFUSED');
    expect(add.stderr).toContain('symlink');
  });

  it('runs the installed copy: edits to the source folder after add change nothing', async () => {
    const dir = copyFixtureAgent('singleton');
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as { identity: { id: string } };
    manifest.identity.id = 'copied';
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(manifest));
    expect((await d.cli(['agent', 'add', dir])).code).toBe(0);
    fs.writeFileSync(path.join(dir, 'main.mjs'), "export default { init(ctx) { ctx.log.info('MODIFIED'); } };\n");
    const r = await d.cli(['spawn', 'copied']);
    const id = lastWord(r.stdout);
    const text = await waitFor('copied log', async () => {
      const t = await logText(id);
      return t.includes('the one') || t.includes('MODIFIED') ? t : undefined;
    });
    expect(text).toContain('the one');
    expect(text).not.toContain('MODIFIED');
    await d.cli(['kill', id]);
  });
});

describe('registry verbs', () => {
  it('adds, lists and removes plugins and agents, and records upgrades', async () => {
    const pluginDir = path.join(tmpDir('osd-plugin-'), 'p');
    fs.mkdirSync(pluginDir);
    fs.writeFileSync(path.join(pluginDir, 'package.json'), JSON.stringify({ name: 'shared-math', version: '1.2.3' }));
    fs.writeFileSync(path.join(pluginDir, 'index.mjs'), 'export const two = 2;\n');
    expect((await d.cli(['plugin', 'add', pluginDir])).code).toBe(0);
    expect((await d.json<Array<{ name: string; version: string }>>(['plugin', 'ls']))[0]).toMatchObject({ name: 'shared-math', version: '1.2.3' });
    const dir = copyFixtureAgent('singleton');
    const m = JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>;
    m.identity = { id: 'uses-plugin', name: 'Uses a plugin', version: '1.0.0' };
    m.plugins = [{ name: 'shared-math' }];
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
    expect((await d.cli(['agent', 'add', dir])).code).toBe(0);
    const inUse = await d.cli(['plugin', 'rm', 'shared-math']);
    expect(inUse.code).toBe(1);
    expect(inUse.stderr).toContain('OSZ_E_PLUGIN_IN_USE');
    m.identity = { id: 'uses-plugin', name: 'Uses a plugin', version: '1.1.0' };
    fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify(m));
    const up = await d.cli(['agent', 'add', dir]);
    expect(up.stdout).toContain('upgraded uses-plugin');
    const ls = await d.json<Array<{ id: string; version: string; upgrades: number }>>(['agent', 'ls']);
    expect(ls.find((a) => a.id === 'uses-plugin')).toMatchObject({ version: '1.1.0', upgrades: 1 });
    expect((await d.cli(['agent', 'rm', 'uses-plugin'])).code).toBe(0);
    expect((await d.cli(['plugin', 'rm', 'shared-math'])).code).toBe(0);
    const secrets = await d.cli(['secret', 'ls']);
    expect(secrets.stdout).toContain('ECHO_SECRET');
    expect(secrets.stdout).not.toContain('s3cr3t');
  });

  it('scaffolds a node agent that can be added and spawned', async () => {
    const parent = tmpDir('osd-new-');
    const r = await d.cli(['new', 'agent', 'my-agent', '--lang', 'node', '--dir', parent]);
    expect(r.code, r.stderr).toBe(0);
    const m = JSON.parse(fs.readFileSync(path.join(parent, 'my-agent/agent.json'), 'utf8')) as { identity: { id: string } };
    expect(m.identity.id).toBe('my-agent');
    const s = await d.cli(['spawn', path.join(parent, 'my-agent')]);
    expect(s.code, s.stderr).toBe(0);
    await waitState(lastWord(s.stdout), 'running');
    await d.cli(['kill', 'my-agent']);
  });
});

describe('hostile and malformed input on the control socket', () => {
  function rawSession(): { send(s: string): void; next(): Promise<Record<string, unknown>>; closed: Promise<void>; sock: net.Socket } {
    const sock = net.connect(d.socket);
    const queue: Array<Record<string, unknown>> = [];
    let buf = '';
    const waiters: Array<() => void> = [];
    sock.on('data', (c) => {
      buf += String(c);
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        queue.push(JSON.parse(buf.slice(0, i)) as Record<string, unknown>);
        buf = buf.slice(i + 1);
        waiters.splice(0).forEach((w) => w());
      }
    });
    sock.on('error', () => undefined);
    return {
      sock,
      send: (s) => void sock.write(s),
      next: () => waitFor('socket reply', () => queue.shift(), 20_000, 5),
      closed: new Promise((resolve) => sock.on('close', () => resolve())),
    };
  }
  const token = (): string => fs.readFileSync(path.join(path.dirname(d.socket), 'control.token'), 'utf8').trim();

  it('requires the token, answers -32601 for unknown methods and -32700 for garbage', async () => {
    const s = rawSession();
    s.send('{"jsonrpc":"2.0","id":1,"method":"agents.list"}\n');
    expect(((await s.next()).error as { data: { code: string } }).data.code).toBe('OSZ_E_UNAUTHORIZED');
    s.send(`{"jsonrpc":"2.0","id":2,"method":"auth","params":{"token":"${token()}"}}\n`);
    expect((await s.next()).result).toMatchObject({ ok: true });
    s.send('{"jsonrpc":"2.0","id":3,"method":"agents.lst"}\n');
    const unknown = await s.next();
    expect((unknown.error as { code: number; message: string }).code).toBe(-32601);
    expect((unknown.error as { message: string }).message).toContain('agents.list');
    s.send('this is not json\n');
    expect(((await s.next()).error as { code: number }).code).toBe(-32700);
    s.send('{"jsonrpc":"2.0","id":4,"method":"agents.kill","params":{"instance":42}}\n');
    expect(((await s.next()).error as { code: number }).code).toBe(-32602);
    s.sock.destroy();
  });

  it('bounds memory on a 64 MiB line without a newline and keeps serving others', async () => {
    const pid = d.proc.pid ?? 0;
    const rss = (): number => Number(/VmRSS:\s+(\d+)/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) * 1024;
    const before = rss();
    const s = rawSession();
    const chunk = Buffer.alloc(1024 * 1024, 'a');
    let reply: Record<string, unknown> | undefined;
    const replied = s.next().then((r) => (reply = r));
    for (let i = 0; i < 64 && !s.sock.destroyed; i++) {
      if (!s.sock.write(chunk)) await new Promise((r) => s.sock.once('drain', r).once('close', r));
    }
    await replied;
    await s.closed;
    expect((reply?.error as { data: { code: string } } | undefined)?.data.code).toBe('OSZ_E_REQUEST_TOO_LARGE');
    // The cap is 1 MiB: growth far below the 64 MiB sent shows the line was never buffered whole.
    expect(rss() - before).toBeLessThan(48 * 1024 * 1024);
    const ps = await d.cli(['ps']);
    expect(ps.code).toBe(0);
  });
});

describe('HTTP core', () => {
  it('serves /healthz with each subsystem and refuses unknown Host headers', async () => {
    const res = await fetch(`http://${d.http}/healthz`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { status: string; subsystems: Array<{ name: string; state: string }> };
    expect(body.subsystems.map((s) => s.name)).toEqual(expect.arrayContaining(['store', 'supervisor', 'control', 'http']));
    const port = d.http.split(':').pop();
    const rebinding = await new Promise<number>((resolve) => {
      const sock = net.connect(Number(port), '127.0.0.1', () => sock.write(`GET /healthz HTTP/1.1\r\nHost: evil.example:${port}\r\nConnection: close\r\n\r\n`));
      sock.once('data', (c) => {
        resolve(Number(/HTTP\/1.1 (\d+)/.exec(String(c))?.[1]));
        sock.destroy();
      });
    });
    expect(rebinding).toBe(421);
  });
});
