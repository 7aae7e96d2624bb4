/**
 * A small Docker Engine API client over its Unix socket with node:http (DESIGN §3, §12.13:
 * dockerode would pull in ≈ 26 MB with gRPC). Only what the docker driver uses: images, create,
 * start, wait, kill, inspect, logs, stats, list and remove. API errors keep the engine's message.
 */
import http from 'node:http';
import { OszError } from '../../../errors';

export interface EngineOptions {
  socketPath: string;
  /** API version prefix; 1.41 is Docker 20.10 (Debian 12) and balena-engine */
  apiVersion?: string;
}

export class EngineError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'EngineError';
  }
}

const MAX_JSON_BYTES = 16 * 1024 * 1024;

export class EngineClient {
  private readonly prefix: string;

  constructor(private readonly opts: EngineOptions) {
    this.prefix = `/v${opts.apiVersion ?? '1.41'}`;
  }

  /** A JSON request; resolves with the parsed body (or undefined for 204), rejects with EngineError. */
  async json<T = unknown>(method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
    const res = await this.request(method, path, body, timeoutMs);
    const text = await readAll(res, MAX_JSON_BYTES);
    if ((res.statusCode ?? 500) >= 400) throw new EngineError(res.statusCode ?? 500, engineMessage(text) || `${method} ${path}: HTTP ${res.statusCode}`);
    if (text.length === 0) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }

  /** A streaming response (logs, pulls); the caller consumes and destroys it. */
  async stream(method: string, path: string, body?: unknown): Promise<http.IncomingMessage> {
    const res = await this.request(method, path, body, 0);
    if ((res.statusCode ?? 500) >= 400) {
      const text = await readAll(res, 64 * 1024);
      throw new EngineError(res.statusCode ?? 500, engineMessage(text) || `${method} ${path}: HTTP ${res.statusCode}`);
    }
    return res;
  }

  private request(method: string, path: string, body: unknown, timeoutMs: number): Promise<http.IncomingMessage> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const req = http.request(
        {
          socketPath: this.opts.socketPath,
          path: `${this.prefix}${path}`,
          method,
          headers: { Host: 'docker', ...(payload ? { 'Content-Type': 'application/json', 'Content-Length': payload.length } : {}) },
        },
        resolve,
      );
      if (timeoutMs > 0) {
        req.setTimeout(timeoutMs, () => req.destroy(new OszError('OSZ_E_DOCKER', `the Docker engine did not answer ${method} ${path} within ${timeoutMs} ms`)));
      }
      req.on('error', (err: NodeJS.ErrnoException) => {
        if (err instanceof OszError) reject(err);
        else reject(new OszError('OSZ_E_DOCKER', `cannot reach the Docker engine at ${this.opts.socketPath}: ${err.code ?? err.message}`, { socket: this.opts.socketPath }));
      });
      req.end(payload);
    });
  }
}

function readAll(res: http.IncomingMessage, max: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    res.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        res.destroy();
        reject(new OszError('OSZ_E_DOCKER', `the Docker engine sent more than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    res.on('error', reject);
  });
}

function engineMessage(text: string): string {
  try {
    const m = (JSON.parse(text) as { message?: unknown }).message;
    return typeof m === 'string' ? m : text.slice(0, 500);
  } catch {
    return text.slice(0, 500);
  }
}

/**
 * Splits the engine's multiplexed log stream (8-byte frame headers: stream, 0, 0, 0, size BE32)
 * into text per stream. The engine splits long lines into frames of at most 16 KiB; a frame over
 * `maxFrame` is cut to that and the rest dropped, so a hostile container cannot grow the buffer.
 */
export class LogDemuxer {
  private buf: Buffer = Buffer.alloc(0);
  /** bytes of an oversized frame still to drop */
  private skip = 0;

  constructor(
    private readonly onData: (stream: 'stdout' | 'stderr', text: string) => void,
    private readonly maxFrame = 1024 * 1024,
  ) {}

  feed(chunk: Buffer): void {
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf.length >= 8 && this.skip === 0) {
      const stream = this.buf[0] === 2 ? 'stderr' : 'stdout';
      const size = this.buf.readUInt32BE(4);
      const want = Math.min(size, this.maxFrame);
      if (this.buf.length < 8 + want) return;
      this.onData(stream, this.buf.subarray(8, 8 + want).toString('utf8'));
      const rest = this.buf.length - 8 - want;
      const drop = size - want;
      if (drop > rest) {
        this.skip = drop - rest;
        this.buf = Buffer.alloc(0);
      } else {
        this.buf = this.buf.subarray(8 + want + drop);
      }
    }
  }
}
