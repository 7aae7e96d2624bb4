/**
 * Instance logs: a RAM ring per instance (what `logs` and `logs -f` read) plus an append-only
 * file per instance under <home>/logs, rotated at `logs.maxBytes` keeping `logs.files` files.
 * Lines pass through the instance's redactor first, so granted secret values never reach a
 * ring, a file or a follower.
 */
import fs from 'node:fs';
import path from 'node:path';

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
  file?: fs.WriteStream;
  bytes: number;
}

export interface LogOptions {
  dir: string;
  ringLines: number;
  maxBytes: number;
  files: number;
}

export class InstanceLogs {
  private readonly rings = new Map<string, Ring>();
  private readonly followers = new Map<string, Set<(l: LogLine) => void>>();
  /** minimum level of agent-reported lines, by instance id or agent id (run-time adjustable) */
  private readonly levels = new Map<string, LogLine['level']>();

  constructor(private readonly opts: LogOptions) {}

  /** Opens (or reopens after a restart) the log of an instance; secret values are masked. */
  open(instance: string, secrets: readonly string[], agentId = ''): void {
    const ring = this.rings.get(instance) ?? { agentId, lines: [], secrets: [], bytes: 0 };
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

  append(instance: string, stream: LogStream, level: LogLine['level'], msg: string): void {
    const ring = this.rings.get(instance);
    if (!ring) return;
    if (stream === 'agent' && LEVEL_ORDER[level] < LEVEL_ORDER[this.levelOf(instance)]) return;
    let text = msg.length > MAX_LOG_MSG_BYTES ? `${msg.slice(0, MAX_LOG_MSG_BYTES)}…[truncated]` : msg;
    for (const s of ring.secrets) text = text.split(s).join('***');
    const line: LogLine = { ts: Date.now(), instance, stream, level, msg: text };
    ring.lines.push(line);
    if (ring.lines.length > this.opts.ringLines) ring.lines.splice(0, ring.lines.length - this.opts.ringLines);
    this.writeFile(instance, ring, line);
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

  /** Closes the file of an instance that ended; its ring stays readable. */
  close(instance: string): void {
    const ring = this.rings.get(instance);
    ring?.file?.end();
    if (ring) delete ring.file;
  }

  closeAll(): Promise<void> {
    const closing = [...this.rings.values()].map(
      (r) =>
        new Promise<void>((resolve) => {
          if (!r.file) return resolve();
          r.file.end(resolve);
          delete r.file;
        }),
    );
    return Promise.all(closing).then(() => undefined);
  }

  private writeFile(instance: string, ring: Ring, line: LogLine): void {
    const text = `${new Date(line.ts).toISOString()} ${line.stream} ${line.level} ${line.msg}\n`;
    const file = path.join(this.opts.dir, `${instance}.log`);
    if (!ring.file) {
      try {
        fs.mkdirSync(this.opts.dir, { recursive: true, mode: 0o750 });
        ring.bytes = fs.existsSync(file) ? fs.statSync(file).size : 0;
        ring.file = fs.createWriteStream(file, { flags: 'a', mode: 0o640 });
        ring.file.on('error', () => delete ring.file);
      } catch {
        return; // a full or read-only disk must not stop the agent; the ring still has the line
      }
    }
    ring.bytes += Buffer.byteLength(text);
    ring.file.write(text);
    if (ring.bytes > this.opts.maxBytes) this.rotate(file, ring);
  }

  private rotate(file: string, ring: Ring): void {
    ring.file?.end();
    delete ring.file;
    ring.bytes = 0;
    try {
      for (let n = this.opts.files - 1; n >= 1; n--) if (fs.existsSync(`${file}.${n}`)) fs.renameSync(`${file}.${n}`, `${file}.${n + 1}`);
      if (this.opts.files > 1) fs.renameSync(file, `${file}.1`);
      else fs.rmSync(file, { force: true });
      fs.rmSync(`${file}.${this.opts.files}`, { force: true });
    } catch {
      /* rotation is best effort */
    }
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
