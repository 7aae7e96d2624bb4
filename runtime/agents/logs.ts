/**
 * Instance logs: a RAM ring per instance (what `logs` and `logs -f` read) plus a file per
 * instance under <home>/logs, rotated at `logs.maxBytes` keeping `logs.files` files. File writes
 * are batched (one append per instance every half second, DESIGN §7: SD wear) and a full or
 * read-only disk only loses file lines, never ring lines. Lines pass through the instance's
 * redactor first, so granted secret values never reach a ring, a file or a follower. An agent's
 * own lines (stdout, stderr, log calls) pass its output cap (output-cap.ts) first; what the cap
 * drops is counted and said in the log at most once a second. Files are 0640 whatever the umask.
 */
import fs from 'node:fs';
import path from 'node:path';
import { OutputCap, type OutputRates } from './output-cap';

export type LogStream = 'stdout' | 'stderr' | 'agent' | 'daemon';

export interface LogLine {
  ts: number;
  instance: string;
  stream: LogStream;
  level: 'debug' | 'info' | 'warn' | 'error';
  msg: string;
}

export const MAX_LOG_MSG_BYTES = 16 * 1024;
const MAX_RINGS = 500;

const LEVEL_ORDER = { debug: 10, info: 20, warn: 30, error: 40 } as const;

interface Ring {
  agentId: string;
  lines: LogLine[];
  secrets: string[];
  /** file text waiting for the next flush */
  pending: string[];
  /** size of the current file, once known */
  bytes: number | undefined;
  cap: OutputCap | undefined;
  /** the pending drop report, at most one a second */
  reportTimer: NodeJS.Timeout | undefined;
  lastReport: number;
}

const FLUSH_MS = 500;
/** `<agent id>-<8 hex>.log`, or a rotated `.log.<n>` of it */
const INSTANCE_LOG = /^([a-z][a-z0-9-]{0,62}-[0-9a-f]{8})\.log(?:\.\d{1,3})?$/;
const MAX_PENDING_LINES = 2000;

export interface LogOptions {
  dir: string;
  ringLines: number;
  maxBytes: number;
  files: number;
  /** logs.outputBytesPerSecond / logs.outputLinesPerSecond; absent: agent output is not capped */
  output?: OutputRates;
}

const REPORT_EVERY_MS = 1000;

export class InstanceLogs {
  private readonly rings = new Map<string, Ring>();
  private readonly followers = new Map<string, Set<(l: LogLine) => void>>();
  /** minimum level of agent-reported lines, by instance id or agent id (run-time adjustable) */
  private readonly levels = new Map<string, LogLine['level']>();
  private flushTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: LogOptions) {}

  /** Opens (or reopens after a restart) the log of an instance; secret values are masked. */
  open(instance: string, secrets: readonly string[], agentId = ''): void {
    const ring = this.rings.get(instance) ?? { agentId, lines: [], secrets: [], pending: [], bytes: undefined, cap: undefined, reportTimer: undefined, lastReport: 0 };
    if (this.opts.output) ring.cap ??= new OutputCap(this.opts.output);
    ring.agentId = agentId || ring.agentId;
    ring.secrets = secrets.filter((s) => s.length >= 4).sort((a, b) => b.length - a.length);
    this.rings.delete(instance);
    this.rings.set(instance, ring);
    this.evictOld();
  }

  /** Sets the minimum level of the lines an agent reports, for an instance or all of an agent's. */
  setLevel(target: string, level: LogLine['level']): void {
    this.levels.set(target, level);
  }

  levelOf(instance: string): LogLine['level'] {
    return this.levels.get(instance) ?? this.levels.get(this.rings.get(instance)?.agentId ?? '') ?? 'debug';
  }

  /**
   * Adds a line. An agent's line (any stream but 'daemon') is dropped when its cap is spent; the
   * answer is how many ms the caller should stop reading that agent's output (0: go on).
   */
  append(instance: string, stream: LogStream, level: LogLine['level'], msg: string): number {
    const ring = this.rings.get(instance);
    if (!ring) return 0;
    if (stream === 'agent' && LEVEL_ORDER[level] < LEVEL_ORDER[this.levelOf(instance)]) return 0;
    if (ring.cap && stream !== 'daemon') {
      if (!ring.cap.admit(Math.min(Buffer.byteLength(msg), MAX_LOG_MSG_BYTES))) {
        this.scheduleReport(instance, ring);
        return ring.cap.pauseMs();
      }
    }
    this.keep(instance, ring, stream, level, msg);
    return ring.cap && stream !== 'daemon' ? ring.cap.pauseMs() : 0;
  }

  private keep(instance: string, ring: Ring, stream: LogStream, level: LogLine['level'], msg: string): void {
    let text = msg.length > MAX_LOG_MSG_BYTES ? `${msg.slice(0, MAX_LOG_MSG_BYTES)}…[truncated]` : msg;
    for (const s of ring.secrets) text = text.split(s).join('***');
    const line: LogLine = { ts: Date.now(), instance, stream, level, msg: text };
    ring.lines.push(line);
    if (ring.lines.length > this.opts.ringLines) ring.lines.splice(0, ring.lines.length - this.opts.ringLines);
    ring.pending.push(`${new Date(line.ts).toISOString()} ${line.stream} ${line.level} ${line.msg}\n`);
    if (ring.pending.length > MAX_PENDING_LINES) ring.pending.splice(0, ring.pending.length - MAX_PENDING_LINES);
    this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_MS).unref();
    for (const f of this.followers.get(instance) ?? []) f(line);
    for (const f of this.followers.get('*') ?? []) f(line);
  }

  tail(instances: readonly string[], limit: number): LogLine[] {
    const all = instances.flatMap((i) => this.rings.get(i)?.lines ?? []);
    all.sort((a, b) => a.ts - b.ts);
    return limit > 0 ? all.slice(-limit) : [];
  }

  has(instance: string): boolean {
    return this.rings.has(instance);
  }

  /** Follows new lines of the given instances ('*' for all); returns the unsubscribe. */
  follow(instances: readonly string[], fn: (l: LogLine) => void): () => void {
    for (const i of instances) {
      const set = this.followers.get(i) ?? new Set();
      set.add(fn);
      this.followers.set(i, set);
    }
    return () => {
      for (const i of instances) this.followers.get(i)?.delete(fn);
    };
  }

  /** An instance ended: its drop count and pending lines go to its file now; its ring stays readable. */
  close(instance: string): void {
    const ring = this.rings.get(instance);
    if (!ring) return;
    this.report(instance, ring);
    this.flushRing(instance, ring);
  }

  /** A pruned instance (issue 17): its ring and its files (the current one and the rotated ones) go. */
  remove(instance: string): void {
    const ring = this.rings.get(instance);
    if (ring?.reportTimer) clearTimeout(ring.reportTimer);
    this.rings.delete(instance);
    this.followers.delete(instance);
    this.levels.delete(instance);
    const file = path.join(this.opts.dir, `${instance}.log`);
    try {
      fs.rmSync(file, { force: true });
      for (let n = 1; n < Math.max(this.opts.files, 2); n++) fs.rmSync(`${file}.${n}`, { force: true });
    } catch {
      /* a read-only disk keeps them; the next start tries again */
    }
  }

  /**
   * Removes instance log files whose instance no longer exists (pruned by an older daemon, or its
   * agent removed). Only names of the instance-id form are touched.
   */
  removeOrphans(exists: (instance: string) => boolean): void {
    let names: string[];
    try {
      names = fs.readdirSync(this.opts.dir);
    } catch {
      return;
    }
    for (const name of names) {
      const m = INSTANCE_LOG.exec(name);
      if (!m?.[1] || this.rings.has(m[1]) || exists(m[1])) continue;
      try {
        fs.rmSync(path.join(this.opts.dir, name), { force: true });
      } catch {
        /* as above */
      }
    }
  }

  private scheduleReport(instance: string, ring: Ring): void {
    if (ring.reportTimer) return;
    const wait = Math.max(0, ring.lastReport + REPORT_EVERY_MS - Date.now());
    ring.reportTimer = setTimeout(() => this.report(instance, ring), wait).unref();
  }

  private report(instance: string, ring: Ring): void {
    if (ring.reportTimer) clearTimeout(ring.reportTimer);
    ring.reportTimer = undefined;
    const msg = ring.cap?.takeReport();
    if (!msg || this.rings.get(instance) !== ring) return;
    ring.lastReport = Date.now();
    this.keep(instance, ring, 'daemon', 'warn', msg);
  }

  closeAll(): Promise<void> {
    this.flush();
    return Promise.resolve();
  }

  /** Writes every instance's pending lines: one append per instance, rotating as needed. */
  flush(): void {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    for (const [instance, ring] of this.rings) this.flushRing(instance, ring);
  }

  private flushRing(instance: string, ring: Ring): void {
    if (ring.pending.length === 0) return;
    const lines = ring.pending;
    ring.pending = [];
    const file = path.join(this.opts.dir, `${instance}.log`);
    try {
      fs.mkdirSync(this.opts.dir, { recursive: true, mode: 0o750 });
      ring.bytes ??= existingSize(file);
      // Usually one append; more only when this batch crosses the rotation size.
      let chunk: string[] = [];
      let chunkBytes = 0;
      for (const line of lines) {
        const n = Buffer.byteLength(line);
        if (ring.bytes + chunkBytes + n > this.opts.maxBytes && ring.bytes + chunkBytes > 0) {
          if (chunk.length) fs.appendFileSync(file, chunk.join(''), { mode: 0o640 });
          this.rotate(file);
          ring.bytes = 0;
          chunk = [];
          chunkBytes = 0;
        }
        chunk.push(line);
        chunkBytes += n;
      }
      if (chunk.length) fs.appendFileSync(file, chunk.join(''), { mode: 0o640 });
      ring.bytes += chunkBytes;
    } catch {
      // A full or read-only disk must not stop the agent: the ring still has the lines.
      ring.bytes = undefined;
    }
  }

  /** file → file.1 → … → file.<files-1>; the oldest beyond that is dropped (renames keep the 0640). */
  private rotate(file: string): void {
    const keep = this.opts.files;
    fs.rmSync(`${file}.${keep - 1}`, { force: true });
    for (let n = keep - 2; n >= 1; n--) if (fs.existsSync(`${file}.${n}`)) fs.renameSync(`${file}.${n}`, `${file}.${n + 1}`);
    if (keep > 1) fs.renameSync(file, `${file}.1`);
    else fs.rmSync(file, { force: true });
  }

  private evictOld(): void {
    while (this.rings.size > MAX_RINGS) {
      const oldest = this.rings.keys().next().value;
      if (oldest === undefined) return;
      this.close(oldest);
      this.rings.delete(oldest);
    }
  }
}

/** The size of an existing log file, narrowing one an older daemon left readable by others. */
function existingSize(file: string): number {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return 0;
  }
  if ((st.mode & 0o007) !== 0) fs.chmodSync(file, 0o640);
  return st.size;
}
