// Small measuring helpers for the bench: child RSS, medians, waiting for a line.
import { type ChildProcess, spawn } from 'node:child_process';
import fs from 'node:fs';
import type { AgentDriver, LaunchSpec } from '../../runtime/agents/drivers/driver';
import { RpcPeer } from '../../runtime/rpc/peer';

export function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

/** Unique set size: the pages only this process holds (Private_Clean + Private_Dirty). */
export function ussOf(pid: number): number {
  const t = fs.readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(t)?.[1] ?? 0);
  return (kb('Private_Clean') + kb('Private_Dirty')) * 1024;
}

export function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

/** the p-th percentile (nearest rank) */
export function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Starts a process and resolves once a line of its output matches. */
export function startUntil(cmd: string, args: string[], match: RegExp, env: NodeJS.ProcessEnv = process.env): Promise<{ proc: ChildProcess; line: string }> {
  return new Promise((resolve, reject) => {
    const proc = spawn(cmd, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let buf = '';
    const onData = (d: Buffer): void => {
      buf += String(d);
      const line = buf.split('\n').find((l) => match.test(l));
      if (line) resolve({ proc, line });
    };
    proc.stdout?.on('data', onData);
    proc.stderr?.on('data', onData);
    proc.once('exit', (code) => reject(new Error(`${cmd} exited ${code} before ${match}:\n${buf}`)));
  });
}

/** Launches an agent through a driver and times it until its `hello`; then kills it. */
export async function spawnToHelloMs(driver: AgentDriver, spec: LaunchSpec): Promise<number> {
  const t0 = performance.now();
  const launched = await driver.launch(spec);
  await new Promise<void>((resolve) => {
    const peer = new RpcPeer((m) => launched.channel.send(m), {
      request: (method) => {
        if (method === 'hello') resolve();
        return { ok: true };
      },
    });
    launched.channel.onMessage((v) => peer.receive(v));
  });
  const ms = performance.now() - t0;
  launched.signal('SIGKILL');
  await launched.exited;
  return ms;
}
