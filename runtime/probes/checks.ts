/** One check per probe kind: resolves when up, rejects with why when down. */
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type { ProbeConfig } from '../config/schema';
import { disk, socTemperature } from '../../hal/platform/host';
import type { SysRoot } from '../../hal/platform/root';

export interface CheckContext {
  root: SysRoot;
  /** running instances of an agent */
  running(agent: string): number;
}

export function check(p: ProbeConfig, ctx: CheckContext): Promise<void> {
  switch (p.kind) {
    case 'http':
      return httpCheck(p.url, p.timeoutMs);
    case 'tcp':
      return tcpCheck(p.host, p.port, p.timeoutMs);
    case 'disk': {
      const d = disk(p.path);
      if (!d) return Promise.reject(new Error(`cannot read ${p.path}`));
      const free = (100 * d.freeBytes) / Math.max(1, d.totalBytes);
      return free >= p.minFreePercent ? Promise.resolve() : Promise.reject(new Error(`${p.path} has ${free.toFixed(1)}% free, under ${p.minFreePercent}%`));
    }
    case 'temperature': {
      const t = socTemperature(ctx.root);
      if (t === null) return Promise.reject(new Error('no SoC temperature on this machine'));
      return t <= p.maxC ? Promise.resolve() : Promise.reject(new Error(`SoC at ${t} °C, over ${p.maxC} °C`));
    }
    case 'agent':
      return ctx.running(p.agent) > 0 ? Promise.resolve() : Promise.reject(new Error(`agent ${p.agent} has no running instance`));
  }
}

/** what the probe watches, for event data */
export function targetOf(p: ProbeConfig): string {
  return p.kind === 'http' ? p.url : p.kind === 'tcp' ? `${p.host}:${p.port}` : p.kind === 'disk' ? p.path : p.kind === 'agent' ? p.agent : 'soc';
}

function httpCheck(url: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith('https:') ? https : http;
    const req = lib.get(url, { timeout: timeoutMs, headers: { 'User-Agent': 'openstarryd-probe' } }, (res) => {
      res.resume();
      const status = res.statusCode ?? 0;
      if (status > 0 && status < 400) resolve();
      else reject(new Error(`HTTP ${status}`));
    });
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', (err) => reject(err));
  });
}

function tcpCheck(host: string, port: number, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port, timeout: timeoutMs });
    s.once('connect', () => {
      s.destroy();
      resolve();
    });
    s.once('timeout', () => s.destroy(new Error(`no connection within ${timeoutMs} ms`)));
    s.once('error', (err) => reject(err));
  });
}
