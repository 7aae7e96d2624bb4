/**
 * Limit enforcement for one instance, as pure decisions over samples (DESIGN §3 "Monitor").
 * What each driver enforces and what it only measures is published in docs/limits.md.
 *
 * - memory: process agents get `--max-old-space-size = memoryMb` (V8 heap) plus this RSS
 *   watchdog at memoryMb + the runtime's own overhead, which catches Buffers and native memory
 *   the heap cap does not see;
 * - CPU: measured from /proc; an agent above cpuPercent for longer than the grace is stopped
 *   (a burst at start-up or a busy minute is fine, a spinner is not);
 * - tokens: reported by the agent, counted over a sliding hour, enforced by the host.
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
}

const HOUR_MS = 3_600_000;

export class LimitWatch {
  private overCpuSince: number | undefined;
  private readonly tokenLog: Array<{ at: number; n: number }> = [];
  private tokenSum = 0;

  constructor(private readonly s: LimitSettings) {}

  /** A reason to stop the agent, or undefined. */
  onSample(u: UsageSample, now: number): string | undefined {
    const rssLimit = (this.s.memoryMb + this.s.rssOverheadMb) * 1024 * 1024;
    if (u.rssBytes > rssLimit) {
      return `memory limit: RSS ${mb(u.rssBytes)} MB over ${mb(rssLimit)} MB (limits.memoryMb ${this.s.memoryMb} + ${this.s.rssOverheadMb} MB runtime)`;
    }
    if (u.cpuPercent > this.s.cpuPercent) {
      this.overCpuSince ??= now;
      if (now - this.overCpuSince >= this.s.cpuGraceMs) {
        return `cpu limit: ${Math.round(u.cpuPercent)}% for ${Math.round((now - this.overCpuSince) / 1000)} s, over limits.cpuPercent ${this.s.cpuPercent}%`;
      }
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
