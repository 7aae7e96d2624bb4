/**
 * CPU and memory of agent processes from /proc (DESIGN §3 "Monitor"): CPU % is the change in
 * utime + stime between two samples over the wall time between them; memory is VmRSS. Reads go
 * through an injectable /proc root so tests can use fixture trees.
 *
 * Several instances can share one pid (a worker agent host holds all of one agent's): the
 * monitor asks for each in the same pass, microseconds apart, and a CPU delta over microseconds is
 * noise (0, or one tick over nothing). A pid sampled again within COALESCE_MS gets the figures of
 * the first ask.
 */
import fs from 'node:fs';
import type { UsageSample } from './limits';

/** Linux reports CPU times in clock ticks; USER_HZ is 100 on every architecture Linux supports. */
const CLK_TCK = 100;
/** well under supervisor.limits.sampleMs (≥ 100 ms), well over one monitor pass */
const COALESCE_MS = 50;

export class ProcSampler {
  private readonly last = new Map<number, { ticks: number; at: number; sample: UsageSample }>();

  constructor(private readonly procRoot = '/proc') {}

  sample(pid: number, now = performance.now()): UsageSample | undefined {
    const prev = this.last.get(pid);
    if (prev && now >= prev.at && now - prev.at < COALESCE_MS) return prev.sample;
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
    const cpuPercent = prev && now > prev.at ? (((ticks - prev.ticks) / CLK_TCK) * 1000 * 100) / (now - prev.at) : 0;
    const sample = { cpuPercent: Math.max(0, cpuPercent), rssBytes: rssKb * 1024 };
    this.last.set(pid, { ticks, at: now, sample });
    return sample;
  }

  forget(pid: number): void {
    this.last.delete(pid);
  }
}
