/**
 * `POST /hooks/<source>` (DESIGN §6, §12.7): the raw body is read under a cap, its HMAC checked
 * against the source's secret before it is parsed, the delivery id checked against the ones seen
 * within the replay window, and only then does it become an event on the bus. Answers: 202 with
 * the event id once the event is on disk (issue 17: the sender may forget it then), 401 bad or
 * missing signature, 404 unknown source, 409 replay, 413 too large, 400 not a usable payload,
 * 503 `OSZ_E_STORE_IO` when the disk refused it (the sender retries; the delivery id is not kept). Refusals are logged without the body or the signature.
 *
 * The signature covers the raw body, so a webhook cannot be authenticated before its body is read
 * as REST is (issue 16). What an unsigned sender can hold is bounded instead: at most
 * `http.webhooks.maxConnections` deliveries are read at once over both listeners (the main one and
 * `hooks.listen`), the rest answered 503 `OSZ_E_HTTP_BUSY` unread; a body is at most
 * `maxBodyBytes` (413) and must arrive within `bodyTimeoutMs` (408), and either refusal closes the
 * connection.
 */
import fs from 'node:fs';
import type http from 'node:http';
import type { EventBus } from '../bus/bus';
import type { Logger } from '../log';
import { readBody } from '../http/body';
import { type HttpServer, sendJson } from '../http/server';
import { OszError, toOszError } from '../errors';
import { statusOf } from '../http/auth';
import { deliveryId, hookEvent } from './payload';
import { type HookKind, signatureHeader, verifySignature } from './signature';

export interface HookSourceConfig {
  secretFile: string;
  kind: HookKind;
}

/** named as config `http.webhooks` names them, so the daemon hands that object over */
export interface WebhookOptions {
  maxBodyBytes?: number;
  bodyTimeoutMs?: number;
  /** deliveries being read or answered at once, over every listener */
  maxConnections?: number;
  replayTtlMs?: number;
  now?: () => number;
  /** resolves once what the bus delivered so far is on disk (the event journal's durable()) */
  durable?: () => Promise<void>;
}

const MAX_SEEN = 10_000;

export class Webhooks {
  private readonly sources = new Map<string, { kind: HookKind; secret: Buffer }>();
  private readonly seen = new Map<string, number>();
  private readonly maxBytes: number;
  private readonly bodyTimeoutMs: number;
  private readonly maxInFlight: number;
  private inFlight = 0;
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly durable: () => Promise<void>;
  readonly counts = { accepted: 0, refused: 0 };

  constructor(
    config: Record<string, HookSourceConfig>,
    private readonly bus: EventBus,
    private readonly log: Logger,
    opts: WebhookOptions = {},
  ) {
    this.maxBytes = opts.maxBodyBytes ?? 1024 * 1024;
    this.bodyTimeoutMs = opts.bodyTimeoutMs ?? 10_000;
    this.maxInFlight = opts.maxConnections ?? 8;
    this.ttl = opts.replayTtlMs ?? 24 * 3_600_000;
    this.now = opts.now ?? Date.now;
    this.durable = opts.durable ?? (() => Promise.resolve());
    for (const [name, c] of Object.entries(config)) {
      try {
        const secret = Buffer.from(fs.readFileSync(c.secretFile, 'utf8').trim());
        if (secret.length < 16) throw new Error('the secret is shorter than 16 bytes');
        this.sources.set(name, { kind: c.kind, secret });
      } catch (err) {
        log.error('hooks', `webhook source ${name} is off: ${c.secretFile}: ${(err as Error).message}`);
      }
    }
  }

  get names(): string[] {
    return [...this.sources.keys()];
  }

  register(server: HttpServer): void {
    server.route('POST', '/hooks/*', (req, res, url) => this.handle(req, res, url));
  }

  /** deliveries being read or answered now */
  get active(): number {
    return this.inFlight;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const name = safeDecode(url.pathname.slice('/hooks/'.length));
    const refuse = (status: number, code: 'OSZ_E_HOOK_REFUSED' | 'OSZ_E_REQUEST_TOO_LARGE' | 'OSZ_E_REQUEST_TIMEOUT' | 'OSZ_E_HTTP_BUSY' | 'OSZ_E_INVALID_PARAMS', message: string): void => {
      this.counts.refused++;
      this.log.warn('hooks', `refused a webhook for ${name.slice(0, 64)} from ${req.socket.remoteAddress ?? '?'}: ${message}`);
      sendJson(res, status, { error: new OszError(code, message).toJSON() });
    };
    if (this.inFlight >= this.maxInFlight) return refuse(503, 'OSZ_E_HTTP_BUSY', `${this.maxInFlight} webhook deliveries are being read already (http.webhooks.maxConnections)`);
    const source = this.sources.get(name);
    if (!source) return refuse(404, 'OSZ_E_HOOK_REFUSED', `no webhook source "${name.slice(0, 64)}" (configure hooks.<source>.secretFile)`);
    // held until the answer is out or the client is gone, whichever comes first
    this.inFlight++;
    res.once('close', () => this.inFlight--);
    let body: Buffer;
    try {
      body = await readBody(req, { maxBytes: this.maxBytes, timeoutMs: this.bodyTimeoutMs, key: 'http.webhooks.maxBodyBytes' });
    } catch (err) {
      const e = toOszError(err);
      return refuse(statusOf(e.code, e.details), e.code === 'OSZ_E_REQUEST_TOO_LARGE' || e.code === 'OSZ_E_REQUEST_TIMEOUT' ? e.code : 'OSZ_E_INVALID_PARAMS', e.message);
    }
    if (!verifySignature(source.secret, body, signatureHeader(source.kind, req.headers))) return refuse(401, 'OSZ_E_HOOK_REFUSED', 'missing or wrong signature');
    const delivery = deliveryId(source.kind, req.headers);
    if (!delivery) return refuse(400, 'OSZ_E_HOOK_REFUSED', 'no delivery id header (X-GitHub-Delivery, X-Gitea-Delivery or X-Delivery-Id)');
    const key = `${name}\0${delivery}`;
    const now = this.now();
    const until = this.seen.get(key);
    if (until !== undefined && until > now) return refuse(409, 'OSZ_E_HOOK_REFUSED', `delivery ${delivery} was already received`);
    let parsed: unknown;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      return refuse(400, 'OSZ_E_HOOK_REFUSED', 'the body is not JSON');
    }
    const event = hookEvent(name, source.kind, req.headers, parsed);
    if (typeof event === 'string') return refuse(400, 'OSZ_E_HOOK_REFUSED', event);
    this.remember(key, now);
    const e = this.bus.emit({ type: event.type, source: `hook:${name}`, data: { ...event.data, delivery } });
    try {
      await this.durable();
    } catch (err) {
      // not acknowledged: a redelivery must be taken (it may run the rules again: at least once)
      this.seen.delete(key);
      this.counts.refused++;
      this.log.error('hooks', `webhook ${e.id} from ${name.slice(0, 64)} not on disk: ${(err as Error).message}`);
      return sendJson(res, 503, { error: toOszError(err).toJSON() });
    }
    this.counts.accepted++;
    sendJson(res, 202, { event: e.id, type: e.type });
  }

  private remember(key: string, now: number): void {
    for (const [k, until] of this.seen) {
      if (until > now && this.seen.size < MAX_SEEN) break;
      this.seen.delete(k);
    }
    this.seen.set(key, now + this.ttl);
  }
}

/** a source name from the path; a malformed escape names no source (404), it does not throw */
function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
