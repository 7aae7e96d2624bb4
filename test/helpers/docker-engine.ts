/**
 * A private Docker engine and test images, without the test runner (the bench uses these too):
 * Debian's `dockerd` on its own socket, data root and exec root, `--iptables=false
 * --bridge=none`; images made with `docker import` from root filesystems assembled here (a static
 * busybox; the host's node with its shared libraries), since no registry is reachable.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { EngineClient } from '../../runtime/agents/drivers/docker/engine-client';

export interface Dockerd {
  socket: string;
  dir: string;
  client: EngineClient;
  proc: ChildProcess;
  docker(args: string[], input?: Buffer): string;
  stop(): Promise<void>;
}

/** Starts a private dockerd (short paths: its sockets live under the exec root). */
export async function launchDockerd(): Promise<Dockerd> {
  const dir = fs.mkdtempSync('/tmp/osdk-');
  const socket = path.join(dir, 'd.sock');
  const log = fs.openSync(path.join(dir, 'log'), 'a');
  const proc = spawn('dockerd', ['--host', `unix://${socket}`, '--data-root', path.join(dir, 'data'), '--exec-root', path.join(dir, 'exec'), '--pidfile', path.join(dir, 'pid'), '--iptables=false', '--bridge=none'], {
    stdio: ['ignore', log, log],
  });
  const client = new EngineClient({ socketPath: socket });
  // (no waitFor from ./tmp here: that module registers test hooks, and the bench uses this file)
  for (const until = Date.now() + 60_000; ; ) {
    if (proc.exitCode !== null) throw new Error(`dockerd exited: ${fs.readFileSync(path.join(dir, 'log'), 'utf8').slice(-2000)}`);
    const up = await client.json('GET', '/version', undefined, 2000).then(
      () => true,
      () => false,
    );
    if (up) break;
    if (Date.now() > until) throw new Error(`dockerd did not answer on ${socket} within 60 s`);
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    socket,
    dir,
    client,
    proc,
    stop: async () => {
      proc.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          proc.kill('SIGKILL');
          r(undefined);
        }, 15_000);
        proc.once('exit', () => {
          clearTimeout(t);
          r(undefined);
        });
      });
      try {
        execFileSync('sh', ['-c', `umount -R ${dir}/exec ${dir}/data 2>/dev/null; rm -rf ${dir}`], { stdio: 'ignore' });
      } catch {
        /* leave it */
      }
    },
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
export function importImage(d: Pick<Dockerd, 'docker'>, rootfs: string, tag: string): string {
  const tar = execFileSync('tar', ['-C', rootfs, '-c', '.'], { maxBuffer: 512 * 1024 * 1024 });
  return d.docker(['import', '-', tag], tar).trim();
}
