/**
 * CPU and memory of agent processes from /proc (DESIGN §3 "Monitor"): CPU % is the change in
 * utime + stime between two samples over the wall time between them; memory is VmRSS. Reads go
 * through an injectable /proc root so tests can use fixture trees.
 */
import fs from 'node:fs';
import type { UsageSample } from './limits';

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every architecture Linux supports. */
const CLK_TCK = 100;

export class ProcSampler {
  private readonly last = new Map<number, { ticks: number; at: number }>();

  constructor(private readonly procRoot = '/proc') {}

  sample(pid: number, now = performance.now()): UsageSample | undefined {
    let stat: string;
    let status: string;
    try {
      stat = fs.readFileSync(`${this.procRoot}/${pid}/stat`, 'utf8');
      status = fs.readFileSync(`${this.procRoot}/${pid}/status`, 'utf8');
    } catch {
      this.last.delete(pid);
      return undefined;
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the command: field 3 is index 0, so utime (14) and stime (15) are indexes 11 and 12.
    const ticks = Number(fields[11]) + Number(fields[12]);
    const rssKb = Number(/VmRSS:\s+(\d+) kB/.exec(status)?.[1] ?? 0);
    const prev = this.last.get(pid);
    this.last.set(pid, { ticks, at: now });
    const cpuPercent = prev && now > prev.at ? (((ticks - prev.ticks) / CLK_TCK) * 1000 * 100) / (now - prev.at) : 0;
    return { cpuPercent: Math.max(0, cpuPercent), rssBytes: rssKb * 1024 };
  }

  forget(pid: number): void {
    this.last.delete(pid);
  }
}
