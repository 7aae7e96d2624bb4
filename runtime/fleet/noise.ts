/**
 * What anonymous senders can make the link do with garbage (unparseable, unsigned, badly signed,
 * misdirected or oversized commands): count it, and log it at most once a minute per kind. The
 * first of a kind is logged at once (so a misconfigured issuer is visible); what follows within
 * the minute becomes one summary line with its count when the minute is over. Nothing of it
 * reaches the disk but those lines: the audit table only takes signed commands.
 */

export const NOISE_KINDS = ['oversize', 'unparseable', 'misdirected', 'unsigned', 'bad-signature'] as const;
export type NoiseKind = (typeof NOISE_KINDS)[number];

export const NOISE_LOG_EVERY_MS = 60_000;

interface KindState {
  lastLine: number;
  unlogged: number;
  latest: string;
  timer: NodeJS.Timeout | undefined;
}

export class NoiseLog {
  /** every refusal since start, per kind */
  readonly counts: Record<NoiseKind, number> = Object.fromEntries(NOISE_KINDS.map((k) => [k, 0])) as Record<NoiseKind, number>;
  private readonly kinds = new Map<NoiseKind, KindState>();

  constructor(
    private readonly warn: (m: string) => void,
    private readonly everyMs = NOISE_LOG_EVERY_MS,
  ) {}

  /** `what`: the refusal, for the log ("on <topic>: <code>: <message>") */
  note(kind: NoiseKind, what: string): void {
    this.counts[kind]++;
    const s = this.kinds.get(kind) ?? { lastLine: -Infinity, unlogged: 0, latest: '', timer: undefined };
    this.kinds.set(kind, s);
    s.unlogged++;
    s.latest = what;
    const wait = s.lastLine + this.everyMs - Date.now();
    if (wait <= 0) this.line(kind, s);
    else if (!s.timer) {
      s.timer = setTimeout(() => this.line(kind, s), wait);
      s.timer.unref();
    }
  }

  get total(): number {
    return NOISE_KINDS.reduce((n, k) => n + this.counts[k], 0);
  }

  /** drops the pending summaries (the link is stopping) */
  stop(): void {
    for (const s of this.kinds.values()) if (s.timer) clearTimeout(s.timer);
  }

  private line(kind: NoiseKind, s: KindState): void {
    if (s.timer) clearTimeout(s.timer);
    s.timer = undefined;
    const since = s.lastLine;
    s.lastLine = Date.now();
    const n = s.unlogged;
    s.unlogged = 0;
    if (since === -Infinity) this.warn(`refused a command (${kind}) ${s.latest}; more of this kind are counted and summed up at most once a minute`);
    else this.warn(`refused ${n} ${kind} command${n === 1 ? '' : 's'} in the last ${Math.round((s.lastLine - since) / 1000)} s (${this.counts[kind]} since start); the latest ${s.latest}`);
  }
}
