/** Reading a request body with a cap: the raw bytes (webhook signatures are over them), or 413. */
import type http from 'node:http';
import { OszError } from '../errors';

export function readBody(req: http.IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      reject(new OszError('OSZ_E_REQUEST_TOO_LARGE', `the body is ${declared} bytes; at most ${maxBytes} are accepted`, { status: 413 }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > maxBytes) {
        reject(new OszError('OSZ_E_REQUEST_TOO_LARGE', `the body is over ${maxBytes} bytes`, { status: 413 }));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
