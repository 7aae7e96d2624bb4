/**
 * Webhook signatures (DESIGN §12.7): HMAC-SHA256 over the raw body, checked before anything is
 * parsed, compared in constant time. GitHub sends `X-Hub-Signature-256: sha256=<hex>`, Gitea
 * `X-Gitea-Signature: <hex>`; the generic kind takes either header.
 */
import crypto from 'node:crypto';
import type http from 'node:http';

export type HookKind = 'github' | 'gitea' | 'generic';

export function signatureHeader(kind: HookKind, headers: http.IncomingHttpHeaders): string | undefined {
  const h = (name: string): string | undefined => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  const hub = h('x-hub-signature-256');
  const gitea = h('x-gitea-signature');
  if (kind === 'github') return hub;
  if (kind === 'gitea') return gitea;
  return hub ?? gitea;
}

export function verifySignature(secret: Buffer, body: Buffer, header: string | undefined): boolean {
  if (!header) return false;
  const hex = header.startsWith('sha256=') ? header.slice(7) : header;
  if (!/^[0-9a-f]{64}$/i.test(hex)) return false;
  const want = crypto.createHmac('sha256', secret).update(body).digest();
  return crypto.timingSafeEqual(want, Buffer.from(hex, 'hex'));
}

export function sign(secret: Buffer | string, body: Buffer | string): string {
  return `sha256=${crypto.createHmac('sha256', secret).update(body).digest('hex')}`;
}
