/**
 * What one instance may send the daemon over its protocol channel (issue 16): two token buckets,
 * messages and bytes, each refilled at its rate per second and holding twice that (the burst),
 * from `supervisor.channel`. Unlike the output cap nothing is dropped: every message read is
 * handled and paid for, and once a bucket is overdrawn `charge` answers how long the channel
 * should not be read, so the agent blocks on its own writes and the daemon's work per agent stays
 * within the rates, whatever it sends (log lines, heartbeats, requests, responses nobody asked for).
 */

export interface ChannelRates {
  messagesPerSecond: number;
  bytesPerSecond: number;
}

/** supervisor.channel: the rates in, and what the daemon holds for an agent that does not read */
export interface ChannelLimits extends ChannelRates {
  unreadBytes: number;
}

/** never pause for longer: an agent that has gone quiet should not lag for its past */
const MAX_PAUSE_MS = 1000;

export class ChannelBudget {
  private messages: number;
  private bytes: number;
  private last: number;
  /** which bucket the last pause was for */
  over: 'messages' | 'bytes' | undefined;

  constructor(
    readonly rates: ChannelRates,
    private readonly now: () => number = () => performance.now(),
  ) {
    this.messages = 2 * rates.messagesPerSecond;
    this.bytes = 2 * rates.bytesPerSecond;
    this.last = now();
  }

  /** Pays for one message already read; how long to stop reading now (0: go on). */
  charge(bytes: number): number {
    this.refill();
    const r = this.rates;
    this.messages -= 1;
    // A line larger than the whole burst still costs at most one burst of debt.
    this.bytes = Math.max(-2 * r.bytesPerSecond, this.bytes - bytes);
    if (this.messages >= 0 && this.bytes >= 0) return 0;
    // Wait until both buckets hold half a second's worth again (so at least 500 ms): reading
    // resumes in runs, not one message per timer.
    const forMessages = ((r.messagesPerSecond / 2 - this.messages) / r.messagesPerSecond) * 1000;
    const forBytes = ((r.bytesPerSecond / 2 - this.bytes) / r.bytesPerSecond) * 1000;
    this.over = this.messages < 0 ? 'messages' : 'bytes';
    return Math.min(MAX_PAUSE_MS, Math.ceil(Math.max(forMessages, forBytes)));
  }

  private refill(): void {
    const t = this.now();
    const dt = Math.max(0, t - this.last) / 1000;
    this.last = t;
    this.messages = Math.min(2 * this.rates.messagesPerSecond, this.messages + dt * this.rates.messagesPerSecond);
    this.bytes = Math.min(2 * this.rates.bytesPerSecond, this.bytes + dt * this.rates.bytesPerSecond);
  }
}
