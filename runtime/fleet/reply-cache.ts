/** Replies kept by (issuer, id) for 10 minutes, so a redelivered command is answered, not run twice. */
import type { CommandReply } from './command';

export class ReplyCache {
  private readonly items = new Map<string, { reply: CommandReply; until: number }>();

  constructor(
    private readonly ttlMs = 10 * 60_000,
    private readonly max = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  get(issuer: string, id: string): CommandReply | undefined {
    const hit = this.items.get(`${issuer}\0${id}`);
    return hit && hit.until > this.now() ? hit.reply : undefined;
  }

  put(issuer: string, id: string, reply: CommandReply): void {
    const now = this.now();
    for (const [k, v] of this.items) {
      if (v.until > now && this.items.size < this.max) break;
      this.items.delete(k);
    }
    this.items.set(`${issuer}\0${id}`, { reply, until: now + this.ttlMs });
  }
}
