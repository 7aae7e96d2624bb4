/**
 * A real Docker engine for the docker driver's tests (DESIGN §3): Debian's `dockerd` on a private
 * socket, data root and exec root, `--iptables=false --bridge=none`, stopped after the file. With
 * no registry reachable, images are made with `docker import` from root filesystems assembled
 * here: a static busybox, and the host's node with its shared libraries.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';

import { EngineClient } from '../../runtime/agents/drivers/docker/engine-client';
import { asRoot, hasCommand, type Requirement } from './system';
import { waitFor } from './tmp';

export const dockerRequirements = (): Requirement[] => [asRoot(), hasCommand('dockerd', 'docker.io'), hasCommand('docker', 'docker.io'), hasCommand('busybox', 'busybox-static')];

export interface Dockerd {
  socket: string;
  dir: string;
  client: EngineClient;
  docker(args: string[], input?: Buffer): string;
}

const started: Array<{ proc: ChildProcess; dir: string }> = [];

afterAll(async () => {
  for (const s of started.splice(0)) {
    s.proc.kill('SIGTERM');
    await new Promise((r) => {
      const t = setTimeout(() => {
        s.proc.kill('SIGKILL');
        r(undefined);
      }, 15_000);
      s.proc.once('exit', () => {
        clearTimeout(t);
        r(undefined);
      });
    });
    try {
      execFileSync('sh', ['-c', `umount -R ${s.dir}/exec ${s.dir}/data 2>/dev/null; rm -rf ${s.dir}`], { stdio: 'ignore' });
    } catch {
      /* leave it */
    }
  }
});

/** Starts a private dockerd (short paths: its sockets live under the exec root). */
export async function startDockerd(): Promise<Dockerd> {
  const dir = fs.mkdtempSync('/tmp/osdk-');
  const socket = path.join(dir, 'd.sock');
  const log = fs.openSync(path.join(dir, 'log'), 'a');
  const proc = spawn('dockerd', ['--host', `unix://${socket}`, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'pid'), '--iptables=false', '--bridge=none'], {
    stdio: ['ignore', log, log],
  });
  started.push({ proc, dir });
  const client = new EngineClient({ socketPath: socket });
  await waitFor(
    'dockerd',
    async () => {
      if (proc.exitCode !== null) throw new Error(`dockerd exited: ${fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-2000)}`);
      return client.json('GET', '/version', undefined, 2000).then(
        () => true,
        () => false,
      );
    },
    60_000,
    200,
  );
  return {
    socket,
    dir,
    client,
    docker: (args, input) => execFileSync('docker', ['-H', `unix://${socket}`, ...args], { encoding: 'utf8', ...(input ? { input } : {}), stdio: ['pipe', 'pipe', 'pipe'] }),
  };
}

/** A root filesystem with a static busybox and an /etc/passwd naming the agent uids. */
export function busyboxRootfs(): string {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'osd-rootfs-'));
  for (const d of ['bin', 'etc', 'tmp', 'data', 'run/openstarry', 'opt/openstarry', 'proc', 'sys', 'dev']) fs.mkdirSync(path.join(root, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin/busybox'));
  fs.chmodSync(path.join(root, 'bin/busybox'), 0o755);
  for (const a of ['sh', 'ls', 'cat', 'echo', 'sleep', 'id', 'head', 'dd', 'true', 'nc', 'stat', 'wc']) fs.symlinkSync('busybox', path.join(root, 'bin', a));
  fs.writeFileSync(path.join(root, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\nnobody:x:65534:65534::/:/bin/sh\n');
  fs.writeFileSync(path.join(root, 'etc/group'), 'root:x:0:\nnogroup:x:65534:\n');
  return root;
}

/** busybox plus the host's node binary and the shared libraries it links. */
export function nodeRootfs(): string {
  const root = busyboxRootfs();
  const node = fs.realpathSync(process.execPath);
  const libs = execFileSync('ldd', [node], { encoding: 'utf8' })
    .split('\n')
    .map((l) => /(\/\S+)\s+\(0x/.exec(l)?.[1])
    .filter((x): x is string => x !== undefined);
  for (const f of [node, ...libs]) {
    const dest = path.join(root, f === node ? 'usr/bin/node' : f);
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.copyFileSync(fs.realpathSync(f), dest);
    fs.chmodSync(dest, 0o755);
  }
  return root;
}

/** `docker import` of a root filesystem; returns the image id. */
export function importImage(d: Dockerd, rootfs: string, tag: string): string {
  const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 512 * 1024 * 1024 });
  return d.docker(['import', '-', tag], tar).trim();
}
