/**
 * Docker agents through the real daemon and CLI against a private dockerd (issue 6): HAL by grant
 * over the agent socket, no host devices, OOM kills reported, image pinning, recovery after a
 * daemon kill -9 without orphans, and a socket that cannot be impersonated.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import crypto from 'node:crypto';
import type { AgentStatus } from '../../runtime/agents/supervisor';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { type RunningDaemon, startDaemon } from '../helpers/daemon';
import { type Dockerd, dockerRequirements, importImage, nodeRootfs, startDockerd } from '../helpers/dockerd';
import { describeWith } from '../helpers/system';
import { copyFixtureAgent, tmpDir, waitFor } from '../helpers/tmp';

/** a row of `ps --json` */
type Ps = AgentStatus;

let dk: Dockerd;
let d: RunningDaemon;
const daemons: RunningDaemon[] = [];

const lastWord = (s: string): string => s.trim().split(/\s+/).pop() ?? '';
const ps = async (daemon = d): Promise<Ps[]> => daemon.json<Ps[]>(['ps', '--all']);
const one = async (instance: string, daemon = d): Promise<Ps | undefined> => (await ps(daemon)).find((p) => p.instance === instance);
const logs = async (instance: string, daemon = d): Promise<string> => (await daemon.cli(['logs', instance, '-n', '500'])).stdout;

/** A copy of a fixture agent as a docker agent (the Node runner in the test node image), or a bare folder. */
function dockerAgent(id: string, runtime: Record<string, unknown>, extra: Record<string, unknown> = {}, from?: string): string {
  const dir = from ? copyFixtureAgent(from) : path.join(tmpDir('osd-dagent-'), id);
  fs.mkdirSync(dir, { recursive: true });
  const base = from ? (JSON.parse(fs.readFileSync(path.join(dir, 'agent.json'), 'utf8')) as Record<string, unknown>) : {};
  fs.writeFileSync(path.join(dir, 'agent.json'), JSON.stringify({ ...base, ...extra, identity: { id, name: id }, runtime }));
  return dir;
}

/** waitFor, failing with the instance's log and ps row so a slow or broken start says why. */
async function waitLog(instance: string, what: string, needle: string, daemon = d): Promise<string> {
  try {
    return await waitFor(what, async () => {
      const l = await logs(instance, daemon);
      return l.includes(needle) ? l : undefined;
    }, 90_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\nps: ${JSON.stringify(await one(instance, daemon))}\nlog:\n${await logs(instance, daemon)}\ndaemon:\n${daemon.output.slice(-20).join('\n')}`);
  }
}

const daemonConfig = (): Record<string, unknown> => ({ docker: { enabled: true, socket: dk.socket }, supervisor: { helloTimeoutMs: 20_000 } });

describeWith('docker agents through the daemon', dockerRequirements(), () => {
  beforeAll(async () => {
    dk = await startDockerd();
    importImage(dk, nodeRootfs(), 'osd-test/node:1');
    d = await startDaemon({ config: daemonConfig() });
    daemons.push(d);
    // the sim climate sensor has its first reading (agents read it in their init)
    await waitFor('a temperature reading', async () => (await d.cli(['hal', 'read', 'temperature'])).code === 0, 30_000);
  }, 180_000);
  afterAll(async () => {
    for (const x of daemons) await x.stop();
  });

  it('runs a Node agent in a container that reads a sim sensor over its socket and is denied an ungranted actuator', async () => {
    const thermo = dockerAgent('dthermo', { image: 'osd-test/node:1', entry: 'main.mjs' }, {}, 'thermo');
    const t = lastWord((await d.cli(['spawn', thermo])).stdout);
    const text = await waitLog(t, 'thermo in a container', 'fan on');
    expect(text).toMatch(/temperature [\d.]+ °C from climate/);
    expect(await one(t)).toMatchObject({ driver: 'docker', state: 'running' });
    expect((await one(t))?.osPid).toBeGreaterThan(0);
    const no = lastWord((await d.cli(['spawn', dockerAgent('dnogrant', { image: 'osd-test/node:1', entry: 'main.mjs' }, {}, 'nogrant')])).stdout);
    const noText = await waitLog(no, 'nogrant in a container', 'HAL actuate=');
    expect(noText).toContain('HAL read=HAL_E_DENIED');
    expect(noText).toContain('HAL actuate=HAL_E_DENIED');
    expect((await d.cli(['kill', t])).code).toBe(0);
    expect((await one(t))?.state).toBe('exited');
  }, 120_000);

  it('shows no host device, no network and a read-only root inside the container', async () => {
    const probe = dockerAgent('dprobe', { image: 'osd-test/node:1', entry: 'main.mjs' }, {
      env: { PROBE: 'ls /dev; echo NET $(ls /sys/class/net | wc -l); touch /x 2>&1 || echo ROOT-READONLY; touch /data/ok && echo DATA-WRITABLE; id' },
    }, 'dshell');
    const p = lastWord((await d.cli(['spawn', probe])).stdout);
    const text = await waitLog(p, 'probe output', 'DONE');
    const inside = new Set(text.split('\n').map((l) => l.replace(/^\S+ \S+ \S+ /, '').trim()));
    const standard = new Set(['console', 'core', 'fd', 'full', 'mqueue', 'null', 'ptmx', 'pts', 'random', 'shm', 'stderr', 'stdin', 'stdout', 'tty', 'urandom', 'zero']);
    const hostOnly = fs.readdirSync('/dev').filter((e) => !standard.has(e));
    expect(hostOnly.length).toBeGreaterThan(0);
    for (const dev of hostOnly) expect(inside.has(dev), `/dev/${dev} visible in the container`).toBe(false);
    expect(text).toContain('NET 1'); // only lo
    expect(text).toContain('ROOT-READONLY');
    expect(text).toContain('DATA-WRITABLE');
    expect(text).not.toMatch(/uid=0\(/);
    await d.cli(['kill', p, '--signal', 'KILL']);
  }, 120_000);

  it('reports an OOM kill as such', async () => {
    const hog = dockerAgent('dhog', { image: 'osd-test/node:1', entry: 'main.mjs' }, { env: { HOG: '1' }, limits: { memoryMb: 96 }, restart: { policy: 'no' } }, 'dshell');
    const h = lastWord((await d.cli(['spawn', hog])).stdout);
    const row = await waitFor('oom', async () => {
      const r = await one(h);
      return r && r.state !== 'running' && r.state !== 'starting' ? r : undefined;
    }, 60_000);
    expect(row.reason).toContain('oom: the container went over limits.memoryMb 96 MB');
    expect(await logs(h)).toMatch(/exited \(code null, signal SIGKILL, oom: /);
  }, 120_000);

  it('hands HUP, USR1 and USR2 to the Node agent\'s onSignal in its container; the same run goes on (issue 17)', async () => {
    const sigs = dockerAgent('dsigs', { image: 'osd-test/node:1', entry: 'main.mjs' }, { env: { SIGS_HANDLER: 'yes' } }, 'sigs');
    const id = lastWord((await d.cli(['spawn', sigs])).stdout);
    await waitLog(id, 'sigs up in a container', 'sigs up');
    const before = await waitFor('running', async () => ((await one(id))?.state === 'running' ? one(id) : undefined));
    for (const sig of ['HUP', 'USR1', 'USR2']) expect((await d.cli(['signal', id, sig])).code).toBe(0);
    await waitLog(id, 'the three signals seen', 'onSignal SIGUSR2');
    const text = await logs(id);
    expect(text).toContain('onSignal SIGHUP');
    expect(text).toContain('onSignal SIGUSR1');
    expect(await one(id)).toMatchObject({ state: 'running', restarts: 0, osPid: before?.osPid });
    expect(text).not.toContain('exited (');
    await d.cli(['kill', id, '--signal', 'KILL']);
  }, 120_000);

  it('pins the image id at agent add: retagging the image does not change what runs', async () => {
    const agent = dockerAgent('dpinned', { image: 'osd-test/pin:1', entry: 'main.mjs' }, { env: { PROBE: 'cat /etc/pin' } }, 'dshell');
    // two images under one tag, each the node image plus /etc/pin (docker commit: no registry needed)
    const pinned = (text: string): string => {
      dk.docker(['run', '--name', 'osd-pin-build', 'osd-test/node:1', 'sh', '-c', `echo ${text} > /etc/pin`]);
      const id = dk.docker(['commit', 'osd-pin-build', 'osd-test/pin:1']).trim();
      dk.docker(['rm', 'osd-pin-build']);
      return id;
    };
    const id1 = pinned('PIN-ONE');
    expect((await d.cli(['agent', 'add', agent])).code).toBe(0);
    pinned('PIN-TWO');
    const p = lastWord((await d.cli(['spawn', 'dpinned'])).stdout);
    await waitFor('pinned output', async () => (await logs(p)).includes('DONE'), 60_000);
    expect(await logs(p)).toContain('PIN-ONE');
    const container = dk.docker(['ps', '-q', '--filter', `label=org.openstarry.instance=${p}`]).trim();
    expect(id1.startsWith('sha256:')).toBe(true);
    expect(dk.docker(['inspect', '--format', '{{.Image}}', container]).trim()).toBe(id1);
    await d.cli(['kill', p, '--signal', 'KILL']);
    // a missing image is refused at add, naming it
    const missing = await d.cli(['agent', 'add', dockerAgent('dmissing', { image: 'osd-test/nope:9' })]);
    expect(missing.stderr).toMatch(/OSZ_E_IMAGE_MISSING[\s\S]*osd-test\/nope:9/);
  }, 120_000);

  it('refuses a connection that is not the agent on its socket, and keeps the agent', async () => {
    const a = lastWord((await d.cli(['spawn', dockerAgent('dsock', { image: 'osd-test/node:1', entry: 'main.mjs' }, {}, 'thermo')])).stdout);
    await waitFor('running', async () => (await one(a))?.state === 'running', 60_000);
    const sockPath = path.join(d.home, 'run/agents', crypto.createHash('sha256').update(a).digest('hex').slice(0, 16), 'agent.sock');
    expect(fs.existsSync(sockPath)).toBe(true);
    expect(fs.statSync(sockPath).mode & 0o077).toBe(0);
    const attempt = (line: string): Promise<string> =>
      new Promise((resolve) => {
        const s = net.connect(sockPath);
        let got = '';
        s.on('connect', () => s.write(line));
        s.on('data', (c) => (got += String(c)));
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
      });
    expect(await attempt(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { protocol: 1, instance: a, token: 'not-the-token' } })}\n`)).toBe('');
    expect(await attempt('{"jsonrpc":"2.0","id":1,"method":"hal.read","params":{"sensorType":"temperature"}}\n')).toBe('');
    expect(await attempt('not json at all\n')).toBe('');
    const text = await waitFor('refusals logged', async () => {
      const l = await logs(a);
      return (l.match(/refused a connection on the agent socket/g) ?? []).length >= 3 ? l : undefined;
    });
    expect(text).toContain('a connection while the agent is connected');
    expect((await one(a))?.state).toBe('running');
    // CPU and memory come from the container's stats
    const sampled = await waitFor('container stats', async () => {
      const r = (await d.json<Array<{ instance: string; rssBytes: number | null; cpuPercent: number | null }>>(['ps'])).find((p) => p.instance === a);
      return r && r.rssBytes !== null && r.rssBytes > 0 ? r : undefined;
    }, 30_000);
    expect(sampled.rssBytes).toBeGreaterThan(1024 * 1024);
    expect(sampled.cpuPercent).toBeGreaterThanOrEqual(0);
    await d.cli(['kill', a, '--signal', 'KILL']);
  }, 120_000);

  it('a rule-spawned container agent reads trigger.data.branch of the event that woke it (issue 17)', async () => {
    const dir = dockerAgent('dtreviewer', { image: 'osd-test/node:1', entry: 'main.mjs' }, { restart: { policy: 'no' } }, 'treviewer');
    expect((await d.cli(['agent', 'add', dir])).code).toBe(0);
    const rules = path.join(tmpDir('osd-dk-rules-'), 'orchestration.yaml');
    fs.writeFileSync(rules, 'rules:\n  - { id: review, on: "git:commit_pushed", if: "branch == \'main\'", action: "spawn(dtreviewer)" }\n');
    expect((await d.cli(['rules', 'apply', rules])).code).toBe(0);
    const push = await d.json<{ id: string }>(['events', 'emit', 'git:commit_pushed', '{"branch":"main","commit":"d0cker1"}']);
    const seen = await waitFor('the container agent reports', async () => {
      const all = await d.json<Array<{ causedBy?: string; data: Record<string, unknown> }>>(['events', 'tail', '--type', 'review:seen']);
      return all.find((e) => e.data.agent === 'dtreviewer');
    }, 90_000);
    expect(seen.data).toMatchObject({ trigger: push.id, type: 'git:commit_pushed', branch: 'main', commit: 'd0cker1' });
    expect(seen.causedBy).toBe(push.id);
    await d.cli(['kill', 'dtreviewer', '--signal', 'KILL']);
  }, 120_000);

  it('after kill -9 of the daemon, a restart finds its containers again and leaves no orphan', async () => {
    const home = path.join(tmpDir('osd-dk-crash-'), 'h');
    const first = await startDaemon({ home, config: daemonConfig() });
    const a = lastWord((await first.cli(['spawn', dockerAgent('dcrash', { image: 'osd-test/node:1', entry: 'main.mjs' }, { restart: { policy: 'always' } }, 'dshell')])).stdout);
    await waitFor('container up', () => dk.docker(['ps', '-q', '--filter', `label=org.openstarry.instance=${a}`]).trim().length > 0, 60_000);
    const before = dk.docker(['ps', '-aq', '--filter', `label=org.openstarry.instance=${a}`]).trim();
    await first.kill9();
    const again = await startDaemon({ home, config: daemonConfig() });
    daemons.push(again);
    const log = again.output.join('\n');
    expect(log).toMatch(/removing container \/openstarry-dcrash-\S+ left by an earlier run/);
    await waitFor('respawned', () => {
      const now = dk.docker(['ps', '-aq', '--filter', `label=org.openstarry.instance=${a}`]).trim().split('\n').filter(Boolean);
      return now.length === 1 && now[0] !== before;
    }, 60_000);
    expect((await one(a, again))?.state).toBe('running');
    await again.cli(['kill', a, '--signal', 'KILL']);
    await waitFor('no container left', () => dk.docker(['ps', '-aq', '--filter', `label=org.openstarry.instance=${a}`]).trim() === '', 60_000);
  }, 180_000);
});
