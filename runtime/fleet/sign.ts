/** The operator's side of a command (DESIGN §12.12): the body string, its signature, the request. */
import crypto from 'node:crypto';
import type { CommandRequest } from './command';
import { signBody } from './keys';

export interface CommandOptions {
  id?: string;
  /** the issuer's clock, strictly increasing per issuer; by default Date.now(), or one more than the last one this process made */
  ts?: number;
  /** valid for this long (default 60 s) */
  ttlMs?: number;
  nonce?: string;
  replyTo?: string;
}

let lastTs = 0;

export function makeCommand(issuer: string, key: crypto.KeyObject | string, device: string, op: string, params: Record<string, unknown> = {}, o: CommandOptions = {}): CommandRequest {
  // two commands in one millisecond must still count up, or the second is refused as a replay
  const ts = o.ts ?? (lastTs = Math.max(Date.now(), lastTs + 1));
  const body = JSON.stringify({ op, params, device, ts, exp: ts + (o.ttlMs ?? 60_000), nonce: o.nonce ?? crypto.randomBytes(12).toString('base64url'), ...(o.replyTo ? { replyTo: o.replyTo } : {}) });
  return { v: 1, id: o.id ?? crypto.randomUUID(), issuer, body, sig: signBody(body, key) };
}
