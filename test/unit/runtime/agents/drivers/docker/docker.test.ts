/** The docker driver's pure parts and its socket, without an engine: confinement, parsers, hostile input. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { openAgentSocket } from '../../../../../../runtime/agents/drivers/docker/agent-socket';
import { containerBody, containerUser, isRootUser } from '../../../../../../runtime/agents/drivers/docker/container-spec';
import { exitOf } from '../../../../../../runtime/agents/drivers/docker/driver';
import { LogDemuxer } from '../../../../../../runtime/agents/drivers/docker/engine-client';
import { hostPathMapper, selfContainerId } from '../../../../../../runtime/agents/drivers/docker/host-paths';
import type { LaunchSpec } from '../../../../../../runtime/agents/drivers/driver';
import { validateManifest } from '../../../../../../runtime/agents/manifest';
import { tmpDir, waitFor } from '../../../../../helpers/tmp';

function spec(runtime: Record<string, unknown>, extra: Record<string, unknown> = {}): LaunchSpec {
  return {
    instanceId: 'a-1',
    agentId: 'a',
    token: 't',
    manifest: validateManifest({ identity: { id: 'a', name: 'a' }, runtime, ...extra }, 'a'),
    installDir: '/h/store/abc',
    dataDir: '/h/data/a',
    plugins: [
      { name: 'inside', path: '/h/store/abc/plugins/inside' },
      { name: 'shared', path: '/h/plugins/shared' },
    ],
    env: { LANG: 'C.UTF-8', OPENSTARRY_ENTRY: '/h/store/abc/main.mjs', OPENSTARRY_HOME: '/h/data/a' },
    heartbeatMs: 1000,
  };
}

const body = (s: LaunchSpec, hostPath = (p: string): string => p) =>
  containerBody({ spec: s, image: 'sha256:1', user: '61000:61000', socketDir: '/h/run/agents/x', sdkDir: '/h/sdk', homeLabel: 'L', network: 'bridge', hostPath }) as {
    Cmd?: string[];
    Env: string[];
    User: string;
    Labels: Record<string, string>;
    NetworkDisabled: boolean;
    HostConfig: Record<string, unknown> & { Binds: string[] };
  };

describe('container spec', () => {
  it('confines: no devices, no network, no capabilities, read-only root, limits, labels, only its mounts', () => {
    const b = body(spec({ image: 'x', entry: 'main.mjs' }, { limits: { memoryMb: 32, cpuPercent: 50, pids: 64 } }));
    expect(b.HostConfig).toMatchObject({
      NetworkMode: 'none',
      CapDrop: ['ALL'],
      SecurityOpt: ['no-new-privileges:true'],
      ReadonlyRootfs: true,
      Privileged: false,
      Devices: [],
      Memory: 32 * 1024 * 1024,
      MemorySwap: 32 * 1024 * 1024,
      NanoCpus: 500_000_000,
      PidsLimit: 64,
      RestartPolicy: { Name: 'no' },
    });
    expect(b.NetworkDisabled).toBe(true);
    expect(b.HostConfig.Binds).toEqual([
      '/h/run/agents/x:/run/openstarry:rw',
      '/h/store/abc:/opt/openstarry/agent:ro',
      '/h/sdk:/opt/openstarry/sdk:ro',
      '/h/data/a:/data:rw',
      '/h/plugins/shared:/opt/openstarry/plugins/shared:ro',
    ]);
    expect(b.HostConfig.Binds.some((x) => /^\/(dev|sys|proc)\b/.test(x))).toBe(false);
    expect(b.Cmd).toEqual(['node', '/opt/openstarry/sdk/runner.mjs']);
    expect(b.Env).toEqual(expect.arrayContaining(['OPENSTARRY_HOME=/data', 'OPENSTARRY_ENTRY=/opt/openstarry/agent/main.mjs', 'OPENSTARRY_AGENT_SOCKET=/run/openstarry/agent.sock']));
    expect(b.Labels).toEqual({ 'org.openstarry.home': 'L', 'org.openstarry.instance': 'a-1', 'org.openstarry.agent': 'a' });
  });

  it('joins the configured network only when granted, runs the given command, translates bind sources', () => {
    const b = body(spec({ image: 'x', command: ['/app/run', '--fast'], args: ['x'] }, { capabilities: { network: true } }), (p) => `/mnt/data${p}`);
    expect(b.HostConfig.NetworkMode).toBe('bridge');
    expect(b.NetworkDisabled).toBe(false);
    expect(b.Cmd).toEqual(['/app/run', '--fast', 'x']);
    expect(b.Env.some((e) => e.startsWith('OPENSTARRY_ENTRY='))).toBe(false);
    expect(b.HostConfig.Binds[0]).toBe('/mnt/data/h/run/agents/x:/run/openstarry:rw');
  });

  it('never runs as root', () => {
    for (const u of ['root', '0', '0:0', '000', 'root:wheel']) expect(isRootUser(u)).toBe(true);
    for (const u of ['1000', '61000:61000', 'app', 'nobody']) expect(isRootUser(u)).toBe(false);
    expect(containerUser(undefined, 61001, 0)).toBe('61001:61001');
    expect(containerUser(undefined, undefined, 0)).toBe('65534:65534');
    expect(containerUser('app', 61001, 0)).toBe('app');
  });

  it('manifest: image with entry is a Node agent in a container; image is refused for other drivers', () => {
    expect(validateManifest({ identity: { id: 'a', name: 'a' }, runtime: { image: 'x', entry: 'm.mjs' } }, 'a').runtime.image).toBe('x');
    expect(() => validateManifest({ identity: { id: 'a', name: 'a' }, runtime: { driver: 'process', image: 'x', entry: 'm.mjs' } }, 'a')).toThrow(/runtime.image is for the docker driver/);
    expect(() => validateManifest({ identity: { id: 'a', name: 'a' }, runtime: { image: 'x; rm -rf /' } }, 'a')).toThrow(/image reference/);
    expect(() => validateManifest({ identity: { id: 'a', name: 'a' }, runtime: { image: 'x', digest: 'sha256:zz' } }, 'a')).toThrow(/image id/);
  });
});

describe('engine results', () => {
  it('maps exit statuses: code, signal (128 + n), OOM', () => {
    expect(exitOf(0, false, 64)).toEqual({ code: 0, signal: null });
    expect(exitOf(3, false, 64)).toEqual({ code: 3, signal: null });
    expect(exitOf(137, false, 64)).toEqual({ code: null, signal: 'SIGKILL' });
    expect(exitOf(143, false, 64)).toEqual({ code: null, signal: 'SIGTERM' });
    expect(exitOf(137, true, 64).reason).toBe('oom: the container went over limits.memoryMb 64 MB and the kernel killed it');
  });

  it('demultiplexes log frames, split anywhere, and bounds a hostile frame', () => {
    const got: string[] = [];
    const d = new LogDemuxer((s, t) => got.push(`${s}:${t}`), 16);
    const frame = (kind: number, text: string, size = Buffer.byteLength(text)): Buffer => {
      const h = Buffer.alloc(8);
      h[0] = kind;
      h.writeUInt32BE(size, 4);
      return Buffer.concat([h, Buffer.from(text)]);
    };
    const all = Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')]);
    for (const b of all) d.feed(Buffer.from([b]));
    expect(got).toEqual(['stdout:out\n', 'stderr:err\n']);
    got.length = 0;
    // declares 2 GB: cut to 16 bytes, the rest dropped as it arrives, then framing resumes
    d.feed(Buffer.concat([frame(1, 'x'.repeat(40), 40), frame(1, 'ok\n')]));
    expect(got).toEqual([`stdout:${'x'.repeat(16)}`, 'stdout:ok\n']);
  });

  it('maps paths through the daemon container mounts (balena), and refuses paths on no volume', () => {
    const map = hostPathMapper([
      { Source: '/mnt/data/docker/volumes/home/_data', Destination: '/var/lib/openstarry' },
      { Source: '/mnt/data/docker/volumes/run/_data', Destination: '/var/lib/openstarry/run' },
    ]);
    expect(map('/var/lib/openstarry/data/a')).toBe('/mnt/data/docker/volumes/home/_data/data/a');
    expect(map('/var/lib/openstarry/run/agents/x')).toBe('/mnt/data/docker/volumes/run/_data/agents/x');
    expect(map('/var/lib/openstarry')).toBe('/mnt/data/docker/volumes/home/_data');
    expect(() => map('/usr/lib/openstarryd/dist/sdk')).toThrow(/not on a volume/);
    expect(() => map('/var/lib/openstarry-other/x')).toThrow(/not on a volume/);
    const proc = tmpDir('osd-proc-');
    fs.mkdirSync(path.join(proc, 'self'));
    const id = 'a'.repeat(64);
    fs.writeFileSync(path.join(proc, 'self/mountinfo'), `1 2 8:1 /var/lib/docker/containers/${id}/resolv.conf /etc/resolv.conf rw - ext4 /dev/sda1 rw\n`);
    expect(selfContainerId(proc)).toBe(id);
    fs.writeFileSync(path.join(proc, 'self/mountinfo'), '1 2 8:1 / / rw - ext4 /dev/sda1 rw\n');
    expect(selfContainerId(proc)).toBeUndefined();
  });
});

describe('agent socket', () => {
  it('binds only a connection whose first line is hello with the token; refuses the rest', async () => {
    const dir = path.join(fs.mkdtempSync('/tmp/osds-'), crypto.randomBytes(4).toString('hex'));
    const refused: string[] = [];
    const sock = await openAgentSocket(dir, 'good-token', { onRefused: (why) => refused.push(why) });
    const got: unknown[] = [];
    sock.channel.onMessage((m) => got.push(m));
    const file = path.join(dir, 'agent.sock');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
    const talk = (lines: Array<string | Buffer>, keep = false): Promise<{ s: net.Socket; data: string[]; closed: Promise<void> }> =>
      new Promise((resolve) => {
        const s = net.connect(file);
        const data: string[] = [];
        const closed = new Promise<void>((r) => s.on('close', () => r()));
        s.on('data', (c) => data.push(String(c)));
        s.on('error', () => undefined);
        s.on('connect', () => {
          for (const l of lines) s.write(l);
          if (!keep) s.end();
          resolve({ s, data, closed });
        });
      });
    const hello = (token: string): string => `${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { protocol: 1, instance: 'a', token } })}\n`;
    await (await talk(['{"jsonrpc":"2.0","method":"hal.read"}\n'])).closed;
    await (await talk([hello('bad-token')])).closed;
    await (await talk(['garbage\n'])).closed;
    await (await talk([Buffer.alloc(1024 * 1024 + 10, 0x61)])).closed;
    await waitFor('four refusals', () => refused.length >= 4);
    expect(got).toEqual([]);
    const agent = await talk([hello('good-token'), '{"jsonrpc":"2.0","method":"heartbeat"}\n'], true);
    await sock.connected;
    await waitFor('agent messages', () => got.length === 2);
    // while the agent is connected nobody else gets in, not even with the token
    await (await talk([hello('good-token')])).closed;
    await waitFor('refused second', () => refused.some((r) => r.includes('while the agent is connected')));
    sock.channel.send({ jsonrpc: '2.0', method: 'agent.event', params: {} });
    await waitFor('reply reaches the agent', () => agent.data.join('').includes('agent.event'));
    expect(sock.refused).toBe(5);
    sock.close();
    expect(fs.existsSync(dir)).toBe(false);
  });
});

describe('docker driver without an engine', () => {
  it('says which socket it could not reach, at start and at every spawn, and keeps trying', async () => {
    const { DockerDriver } = await import('../../../../../../runtime/agents/drivers/docker/driver');
    const logged: string[] = [];
    const dir = tmpDir('osd-nodocker-');
    const driver = new DockerDriver({ socketPath: path.join(dir, 'nope.sock'), runDir: dir, sdkDir: dir, homeLabel: 'x', network: 'bridge', pull: false, usageMs: 1000, log: (_l, m) => logged.push(m) });
    await driver.init();
    expect(driver.problem).toContain(`cannot reach the Docker engine at ${path.join(dir, 'nope.sock')}`);
    expect(logged[0]).toContain('docker: cannot reach');
    await expect(driver.launch(spec({ image: 'x', entry: 'main.mjs' }))).rejects.toMatchObject({ code: 'OSZ_E_DOCKER' });
    expect(logged.length).toBe(2);
  });
});

describe('agent socket before the session attaches', () => {
  it('holds a hello that arrives before anyone listens, and delivers it to the first listener', async () => {
    const dir = path.join(fs.mkdtempSync('/tmp/osds-'), 'early');
    const sock = await openAgentSocket(dir, 'tok');
    const s = net.connect(path.join(dir, 'agent.sock'));
    s.on('error', () => undefined);
    s.write(`${JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'hello', params: { token: 'tok' } })}\n`);
    await sock.connected;
    const got: unknown[] = [];
    sock.channel.onMessage((m) => got.push(m));
    expect(got).toEqual([{ jsonrpc: '2.0', id: 1, method: 'hello', params: { token: 'tok' } }]);
    s.destroy();
    sock.close();
  });
});

