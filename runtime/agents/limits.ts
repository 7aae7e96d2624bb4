/**
 * Limit enforcement for one instance, as pure decisions over samples (DESIGN §3 "Monitor").
 * What each driver enforces and what it only measures is published in docs/limits.md.
 *
 * - memory: process agents get `--max-old-space-size = memoryMb` (V8 heap) plus this RSS
 *   watchdog at memoryMb + the runtime's own overhead, which catches Buffers and native memory
 *   the heap cap does not see;
 * - CPU: measured from /proc; an agent above cpuPercent for longer than the grace is stopped
 *   (a burst at start-up or a busy minute is fine, a spinner is not);
 * - tokens: reported by the agent, counted over a sliding hour, enforced by the host;
 * - worker agents: the samples are their agent host's process (every thread in it, from /proc),
 *   which holds all instances of one agent; the host as a whole is held to the sum of its
 *   instances' limits, so every instance in it sees the same figures and the same verdict (the
 *   OS cannot say which worker of a process used the CPU or the native memory).
 */
export interface LimitSettings {
  memoryMb: number;
  cpuPercent: number;
  tokensPerHour: number;
  /** RSS the Node runtime itself needs on top of the heap cap */
  rssOverheadMb: number;
  cpuGraceMs: number;
}

export interface UsageSample {
  cpuPercent: number;
  rssBytes: number;
  /** set when these are a worker agent host's figures, shared by `instances` instances */
  host?: { pid: number; instances: number };
}

/**
 * RSS a worker costs the host on top of its heap cap: its own isolate, young generation (up to
 * 4 MB a semi-space), code and the runner. Measured on x64 Node 20 with a worker filling its old
 * generation to the cap: 10 MB over a 16 MB cap, 11 over 32, 17 over 64; an idle runner worker
 * adds 8-10 MB. The host's own runtime (one Node process, 42 MB) is
 * supervisor.limits.rssOverheadMb, counted once.
 */
export const WORKER_RSS_OVERHEAD_MB = 24;

const HOUR_MS = 3_600_000;

export class LimitWatch {
  private overCpuSince: number | undefined;
  private readonly tokenLog: Array<{ at: number; n: number }> = [];
  private tokenSum = 0;

  constructor(private readonly s: LimitSettings) {}

  /** A reason to stop the agent, or undefined. */
  onSample(u: UsageSample, now: number): string | undefined {
    return u.host ? this.onHostSample(u, u.host, now) : this.onProcessSample(u, now);
  }

  private onProcessSample(u: UsageSample, now: number): string | undefined {
    const rssLimit = (this.s.memoryMb + this.s.rssOverheadMb) * 1024 * 1024;
    if (u.rssBytes > rssLimit) {
      return `memory limit: RSS ${mb(u.rssBytes)} MB over ${mb(rssLimit)} MB (limits.memoryMb ${this.s.memoryMb} + ${this.s.rssOverheadMb} MB runtime)`;
    }
    const over = this.cpuOver(u.cpuPercent, this.s.cpuPercent, now);
    return over === undefined ? undefined : `cpu limit: ${Math.round(u.cpuPercent)}% for ${over} s, over limits.cpuPercent ${this.s.cpuPercent}%`;
  }

  /** A worker agent host: n instances' limits summed, the runtime's overhead counted once. */
  private onHostSample(u: UsageSample, host: { pid: number; instances: number }, now: number): string | undefined {
    const n = Math.max(1, host.instances);
    const each = n === 1 ? '' : `${n} x `;
    const rssLimit = (n * (this.s.memoryMb + WORKER_RSS_OVERHEAD_MB) + this.s.rssOverheadMb) * 1024 * 1024;
    if (u.rssBytes > rssLimit) {
      return `memory limit: agent host ${host.pid} RSS ${mb(u.rssBytes)} MB over ${mb(rssLimit)} MB (${each}(limits.memoryMb ${this.s.memoryMb} + ${WORKER_RSS_OVERHEAD_MB} MB worker) + ${this.s.rssOverheadMb} MB runtime)`;
    }
    const over = this.cpuOver(u.cpuPercent, n * this.s.cpuPercent, now);
    return over === undefined ? undefined : `cpu limit: agent host ${host.pid} at ${Math.round(u.cpuPercent)}% for ${over} s, over ${each}limits.cpuPercent ${this.s.cpuPercent}%`;
  }

  /** Seconds continuously over `limit` once that passes the grace, else undefined. */
  private cpuOver(cpuPercent: number, limit: number, now: number): number | undefined {
    if (cpuPercent > limit) {
      this.overCpuSince ??= now;
      if (now - this.overCpuSince >= this.s.cpuGraceMs) return Math.round((now - this.overCpuSince) / 1000);
    } else {
      this.overCpuSince = undefined;
    }
    return undefined;
  }

  /** Counts reported tokens; a reason to stop the agent once the hour's budget is spent. */
  onTokens(n: number, now: number): string | undefined {
    this.tokenLog.push({ at: now, n });
    this.tokenSum += n;
    while (this.tokenLog.length > 0 && (this.tokenLog[0]?.at ?? now) <= now - HOUR_MS) this.tokenSum -= this.tokenLog.shift()?.n ?? 0;
    if (this.s.tokensPerHour > 0 && this.tokenSum > this.s.tokensPerHour) {
      return `token limit: ${this.tokenSum} tokens in the last hour, over limits.tokensPerHour ${this.s.tokensPerHour}`;
    }
    return undefined;
  }

  get tokensLastHour(): number {
    return this.tokenSum;
  }
}

const mb = (bytes: number): number => Math.round(bytes / 1024 / 1024);

/** The V8 heap cap was hit: the process aborts, and its last stderr lines say so. */
export function isHeapExhaustion(line: string): boolean {
  return /Reached heap limit|JavaScript heap out of memory|Allocation failed - JavaScript heap/i.test(line);
}
