/**
 * Reading a request body under a size cap and a deadline: the raw bytes (webhook signatures are
 * over them), or 413 `OSZ_E_REQUEST_TOO_LARGE` / 408 `OSZ_E_REQUEST_TIMEOUT`. A refusal stops
 * keeping what arrives; the caller's answer then closes the connection (server.ts sendJson), so
 * neither a large body nor a slow one holds memory or a slot.
 */
import type http from 'node:http';
import { OszError } from '../errors';

export interface BodyLimits {
  maxBytes: number;
  /** the whole body must have arrived within this, counted from the call */
  timeoutMs: number;
  /** the config key to raise, named in the refusal */
  key?: string;
}

export function readBody(req: http.IncomingMessage, limits: BodyLimits): Promise<Buffer> {
  const { maxBytes, timeoutMs, key = 'the cap' } = limits;
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      reject(new OszError('OSZ_E_REQUEST_TOO_LARGE', `the body is ${declared} bytes; at most ${maxBytes} are accepted (${key})`, { status: 413 }));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const settle = (err: OszError | undefined): void => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      if (err) {
        chunks.length = 0;
        reject(err);
      } else resolve(Buffer.concat(chunks));
    };
    const timer = setTimeout(() => settle(new OszError('OSZ_E_REQUEST_TIMEOUT', `the body did not arrive within ${timeoutMs} ms`, { status: 408 })), timeoutMs);
    const onData = (c: Buffer): void => {
      size += c.length;
      if (size > maxBytes) return settle(new OszError('OSZ_E_REQUEST_TOO_LARGE', `the body is over ${maxBytes} bytes (${key})`, { status: 413 }));
      chunks.push(c);
    };
    const onEnd = (): void => settle(undefined);
    req.on('data', onData);
    req.on('end', onEnd);
    req.once('error', (e) => settle(new OszError('OSZ_E_INVALID_PARAMS', `the body could not be read: ${e.message}`)));
    // a client gone mid-body frees what waited for it at once, not at the deadline
    req.once('close', () => {
      if (!req.complete) settle(new OszError('OSZ_E_INVALID_PARAMS', 'the client went away before its body had arrived'));
    });
  });
}
